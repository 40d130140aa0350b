"""Migrations match the models, and state changes are guarded."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import Engine, text

from bot.domain.grants import GrantState, InvalidTransition, RecipientKind
from bot.errors import SchemaError
from bot.store.audit import AuditLog
from bot.store.db import alembic_config, ensure_schema
from bot.store.decisions import Decisions
from bot.store.grants import Grants
from bot.store.links import Links
from tests.support.factories import add_active, new_grant

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_models_match_migrations(engine: Engine) -> None:
    # `alembic check` raises when autogenerate would produce any operation.
    command.check(alembic_config(engine))


def test_downgrade_and_upgrade_again(engine: Engine) -> None:
    command.downgrade(alembic_config(engine), "base")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 0
    command.upgrade(alembic_config(engine), "head")
    ensure_schema(engine)


def test_unknown_revision_is_refused(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'abc'"))
    with pytest.raises(SchemaError, match="sharebot migrate"):
        ensure_schema(engine)


def test_times_round_trip_as_aware_utc(engine: Engine) -> None:
    repo = Grants(engine)
    grant = repo.add_grant(new_grant(), now=NOW)
    stored = repo.get(grant.id)
    assert stored is not None
    assert stored.created_at == NOW and stored.created_at.tzinfo is UTC
    assert stored.code_expires_at == NOW + timedelta(days=1)


def test_guarded_transition_has_one_winner(engine: Engine) -> None:
    repo = Grants(engine)
    grant = repo.add_grant(new_grant(), now=NOW)
    first = repo.transition(grant, GrantState.ACTIVE, now=NOW, action="accept")
    second = repo.transition(grant, GrantState.WITHDRAWING, now=NOW, action="withdraw")
    assert first is not None and first.state is GrantState.ACTIVE
    assert second is None  # the stale copy lost
    assert repo.get(grant.id).state is GrantState.ACTIVE  # type: ignore[union-attr]
    with pytest.raises(InvalidTransition):
        repo.transition(first, GrantState.INVITED, now=NOW, action="bad")
    actions = [a.action for a in AuditLog(engine).audit_log(grant_id=grant.id)]
    assert actions == ["invite", "accept"]


def test_links_are_one_to_one(engine: Engine) -> None:
    repo = Links(engine)
    assert repo.link("U1", "alice", method="admin", by="t", now=NOW) is None
    replaced = repo.link("U1", "bob", method="admin", by="t", now=NOW)
    assert replaced is not None and replaced.hub_user == "alice"
    repo.link("U2", "bob", method="admin", by="t", now=NOW)  # bob moves to U2
    assert repo.hub_users(["U1", "U2"]) == {"U2": "bob"}
    assert repo.slack_user_for("bob") == "U2"
    assert repo.unlink("U2", by="t", now=NOW) is not None
    assert repo.hub_users(["U2"]) == {}
    assert [a.action for a in AuditLog(engine).audit_log()] == ["link", "link", "link", "unlink"]


def test_one_worker_at_a_time_claims_a_grant(engine: Engine) -> None:
    repo = Grants(engine)
    grant = repo.add_grant(new_grant(), now=NOW)
    ttl = timedelta(minutes=5)
    assert repo.claim(grant.id, "replica-a", now=NOW, ttl=ttl)
    assert not repo.claim(grant.id, "replica-b", now=NOW, ttl=ttl)
    assert repo.claim(grant.id, "replica-a", now=NOW, ttl=ttl)  # its own claim: renewed
    repo.release(grant.id, "replica-b")  # not b's to release
    assert not repo.claim(grant.id, "replica-b", now=NOW + timedelta(minutes=1), ttl=ttl)
    repo.release(grant.id, "replica-a")
    assert repo.claim(grant.id, "replica-b", now=NOW, ttl=ttl)
    # A replica that died while holding it: its claim runs out and another takes over.
    assert repo.claim(grant.id, "replica-a", now=NOW + ttl + timedelta(seconds=1), ttl=ttl)


def test_one_pending_extension_per_grant_even_when_clicked_at_once(engine: Engine) -> None:
    grant = Grants(engine).add_grant(new_grant(), now=NOW)
    decisions = Decisions(engine)
    opened: list[object] = []
    barrier = threading.Barrier(4)

    def click() -> None:
        barrier.wait()
        opened.append(
            decisions.add_extension(
                grant_id=grant.id,
                requester_slack_id="UOWNER",
                owner_slack_id="UOWNER",
                owner_hub="owner",
                server="",
                recipients=("UALICE",),
                duration=timedelta(hours=1),
                extras=(),
                reason="",
                now=NOW,
                ttl=timedelta(hours=1),
            )
        )

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    winners = [d for d in opened if d is not None]
    assert len(opened) == 4 and len(winners) == 1
    [pending] = decisions.pending()
    assert pending.grant_id == grant.id


def test_due_work_is_what_has_ended_or_whose_reminder_time_came(engine: Engine) -> None:
    repo = Grants(engine)
    ended = add_active(repo, "a", NOW - timedelta(seconds=1), remind_at=NOW - timedelta(hours=1))
    at_deadline = add_active(repo, "b", NOW)
    soon = add_active(repo, "c", NOW + timedelta(minutes=30), remind_at=NOW)
    add_active(
        repo, "d", NOW + timedelta(minutes=30), remind_at=NOW, reminded_at=NOW
    )  # reminded already
    add_active(
        repo, "e", NOW + timedelta(minutes=3), remind_at=NOW + timedelta(seconds=1)
    )  # not yet
    add_active(repo, "g", NOW + timedelta(minutes=3))  # no reminder (reminders off)
    closed = add_active(repo, "f", NOW - timedelta(hours=1))
    repo.transition(repo.get(closed), GrantState.ENDING, now=NOW, action="revoke")  # type: ignore[arg-type]

    due = repo.due(NOW)
    assert [g.id for g in due.to_end] == [ended, at_deadline]
    assert [g.id for g in due.to_remind] == [soon]
    assert repo.due(NOW, remind=False).to_remind == []


def test_due_work_is_found_through_the_deadline_index(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("reads SQLite's query plan")
    with engine.connect() as connection:
        plan = " ".join(
            str(row[-1])
            for row in connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT * FROM grants WHERE state = 'active'"
                " AND expires_at <= '2026-11-26 12:00:00'"
            )
        )
    assert "ix_grants_state_expires" in plan and "expires_at<" in plan, plan


def test_active_grants_for_a_holder_of_one_server(engine: Engine) -> None:
    repo = Grants(engine)
    mine = add_active(repo, "alice", NOW + timedelta(hours=1))
    add_active(repo, "bob", NOW + timedelta(hours=1))
    by_link = add_active(repo, "carol", NOW + timedelta(hours=1), accepted_hub_user="alice")
    add_active(repo, "alice", NOW + timedelta(hours=1), accepted_hub_user="dave")
    found = repo.for_holder("owner", "", "alice")
    assert sorted(g.id for g in found) == [mine, by_link]
    assert repo.for_holder("owner", "gpu", "alice") == []
    invited = repo.add_grant(new_grant(), now=NOW)
    found = repo.for_holder("owner", "", "alice", states=[GrantState.INVITED])
    assert [g.id for g in found] == [invited.id]


def test_newest_grants_of_an_owner_and_how_many_there_are(engine: Engine) -> None:
    repo = Grants(engine)
    ids = [
        repo.add_grant(new_grant(recipient_hub=f"r{i}"), now=NOW + timedelta(minutes=i)).id
        for i in range(5)
    ]
    repo.add_grant(new_grant(owner_hub="other"), now=NOW)
    newest, total = repo.newest_grants(states=[GrantState.INVITED], limit=2, owner_hub="owner")
    assert [g.id for g in newest] == [ids[4], ids[3]] and total == 5
    newest, total = repo.newest_grants(states=[GrantState.ACTIVE], limit=2, recipient_hub="alice")
    assert newest == [] and total == 0


def test_a_listing_shows_what_the_full_read_has_of_each_open_share(engine: Engine) -> None:
    repo = Grants(engine)
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    invited = repo.add_grant(new_grant(), now=now)
    active_id = add_active(repo, "bob", now + timedelta(hours=1))
    group = repo.add_grant(
        new_grant(
            recipient_hub="physics", recipient_slack_id="", recipient_kind=RecipientKind.GROUP
        ),
        now=now,
    )
    closed = repo.add_grant(new_grant(recipient_hub="carol"), now=now)
    assert repo.transition(closed, GrantState.LAPSED, now=now, action="lapse") is not None
    repo.add_grant(new_grant(owner_hub="someone-else"), now=now)
    open_states = [GrantState.INVITED, GrantState.ACTIVE, GrantState.ENDING]
    listed = repo.listing(owner_hub="owner", states=open_states)
    full = repo.grants(states=open_states, owner_hub="owner")
    assert [g.id for g in listed] == [invited.id, active_id, group.id] == [g.id for g in full]
    shown = ["state", "owner_hub", "server", "recipient_slack_id", "recipient_hub", "duration"]
    shown += ["created_at", "code_expires_at", "expires_at", "recipient_kind", "for_group"]
    for slim, whole in zip(listed, full, strict=True):
        assert {f: getattr(slim, f) for f in shown} == {f: getattr(whole, f) for f in shown}
    assert listed[2].for_group and not listed[0].for_group
