"""The pure core of reconciliation and the digest: schedule, staleness, classification."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.digest import (
    EVERY_DAY,
    WEEKDAYS,
    ItemKind,
    Reason,
    Schedule,
    StaleRules,
    Status,
    due_day,
    external_reasons,
    external_status,
    grant_reasons,
    grant_status,
    local_day,
    next_digest,
    parse_clock,
    parse_days,
    parse_ref,
    stale_items,
    summary,
)
from bot.domain.grants import Grant, GrantState
from bot.domain.reconcile import ExternalShare, HubShare, ShareKind, plan
from tests.support.factories import NOW, make_grant

BERLIN = ZoneInfo("Europe/Berlin")
RULES = StaleRules(stale_after=timedelta(days=7))


def grant(**changes: object) -> Grant:
    return make_grant(**{"accepted_at": NOW - timedelta(hours=1), **changes})


def external(**changes: object) -> ExternalShare:
    base = ExternalShare(
        id=7,
        owner_hub="owner",
        server="",
        kind=ShareKind.USER,
        name="bob",
        scopes=(),
        hub_created_at=NOW - timedelta(days=10),
        first_seen=NOW - timedelta(days=1),
        last_seen=NOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# -- schedule ---------------------------------------------------------------------------


def test_parse_clock() -> None:
    assert parse_clock("09:00") == time(9, 0)
    assert parse_clock(" 7:30 ") == time(7, 30)
    assert parse_clock("off") is None
    for bad in ("9", "24:00", "09:60", "nine"):
        with pytest.raises(ValueError, match="HH:MM"):
            parse_clock(bad)


def test_parse_days() -> None:
    assert parse_days("mon-fri") == WEEKDAYS
    assert parse_days("daily") == EVERY_DAY
    assert parse_days("mon,wed,fri") == frozenset({0, 2, 4})
    assert parse_days("sat-mon") == frozenset({5, 6, 0})  # ranges wrap around the week
    assert parse_days("Monday-Tuesday") == frozenset({0, 1})
    for bad in ("", "mon-", "funday", "mon-tue-wed"):
        with pytest.raises(ValueError, match="mon-fri"):
            parse_days(bad)


def test_due_day_respects_time_zone_time_and_weekdays() -> None:
    schedule = Schedule(time(9, 0), WEEKDAYS, BERLIN)
    # 07:59 UTC is 08:59 in Berlin (winter): not yet
    assert due_day(schedule, datetime(2026, 11, 26, 7, 59, tzinfo=UTC)) is None
    assert due_day(schedule, datetime(2026, 11, 26, 8, 0, tzinfo=UTC)) == date(2026, 11, 26)
    # late in the evening UTC is already Friday in Berlin, but before Friday's 09:00
    assert due_day(schedule, datetime(2026, 11, 26, 23, 30, tzinfo=UTC)) is None
    new_york = replace(schedule, tz=ZoneInfo("America/New_York"))
    assert due_day(new_york, datetime(2026, 11, 26, 13, 59, tzinfo=UTC)) is None
    assert due_day(new_york, datetime(2026, 11, 27, 3, 0, tzinfo=UTC)) == date(2026, 11, 26)
    # Saturday: never on weekdays-only
    assert due_day(schedule, datetime(2026, 11, 28, 10, 0, tzinfo=UTC)) is None
    assert due_day(replace(schedule, days=EVERY_DAY), datetime(2026, 11, 28, 10, 0, tzinfo=UTC))
    assert due_day(replace(schedule, at=None), NOW) is None


def test_next_digest() -> None:
    schedule = Schedule(time(9, 0), WEEKDAYS, BERLIN)
    friday_morning = datetime(2026, 11, 27, 9, 0, tzinfo=BERLIN)
    assert next_digest(schedule, NOW) == friday_morning  # Thursday's has passed
    # after Friday's: the next is Monday
    assert next_digest(schedule, datetime(2026, 11, 27, 12, 0, tzinfo=UTC)) == datetime(
        2026, 11, 30, 9, 0, tzinfo=BERLIN
    )
    assert next_digest(replace(schedule, at=None), NOW) is None
    assert local_day(schedule, datetime(2026, 11, 26, 23, 30, tzinfo=UTC)) == date(2026, 11, 27)


# -- staleness --------------------------------------------------------------------------


def test_a_grant_with_an_end_is_not_stale() -> None:
    assert grant_reasons(grant(), NOW, RULES) == ()


def test_a_grant_without_an_end_is_stale_unless_snoozed() -> None:
    forever = grant(duration=None, expires_at=None)
    assert grant_reasons(forever, NOW, RULES) == (Reason.NO_END,)
    assert grant_reasons(replace(forever, snoozed_until=NOW + timedelta(days=1)), NOW, RULES) == ()
    # a snooze that ran out no longer counts
    assert grant_reasons(replace(forever, snoozed_until=NOW), NOW, RULES) == (Reason.NO_END,)


def test_failing_revocation_is_stale_after_some_attempts() -> None:
    ending = grant(state=GrantState.ENDING, revoke_attempts=2)
    assert grant_reasons(ending, NOW, RULES) == ()
    assert grant_reasons(replace(ending, revoke_attempts=3), NOW, RULES) == (Reason.REVOKE_FAILING,)


def test_inactivity_only_when_enabled_known_and_old_enough() -> None:
    old = grant(accepted_at=NOW - timedelta(days=9), expires_at=NOW + timedelta(days=1))
    idle = NOW - timedelta(days=8)
    assert grant_reasons(old, NOW, RULES, idle) == ()  # off by default
    rules = replace(RULES, inactivity=True)
    assert grant_reasons(old, NOW, rules, idle) == (Reason.INACTIVE,)
    assert grant_reasons(old, NOW, rules, None) == ()  # unknown activity is not inactivity
    assert grant_reasons(old, NOW, rules, NOW - timedelta(days=1)) == ()
    young = replace(old, accepted_at=NOW - timedelta(days=1))
    assert grant_reasons(young, NOW, rules, idle) == ()


def test_external_shares_are_stale_when_old() -> None:
    assert external_reasons(external(), NOW, RULES) == (Reason.EXTERNAL,)
    assert external_reasons(external(hub_created_at=NOW - timedelta(days=6)), NOW, RULES) == ()
    # without the hub's date, age counts from when sharebot first saw it
    unknown = external(hub_created_at=None, first_seen=NOW - timedelta(days=8))
    assert external_reasons(unknown, NOW, RULES) == (Reason.EXTERNAL,)
    assert external_reasons(external(snoozed_until=NOW + timedelta(hours=1)), NOW, RULES) == ()
    assert external_reasons(external(gone_at=NOW), NOW, RULES) == ()
    assert external_reasons(external(revoked_at=NOW), NOW, RULES) == ()
    rules = replace(RULES, inactivity=True)
    assert external_reasons(external(), NOW, rules, NOW - timedelta(days=30)) == (
        Reason.EXTERNAL,
        Reason.INACTIVE,
    )


def test_stale_items_are_sorted_oldest_first_with_activity() -> None:
    forever = grant(id=3, duration=None, expires_at=None, accepted_at=NOW - timedelta(days=2))
    group = external(id=9, kind=ShareKind.GROUP, name="team", hub_created_at=NOW - timedelta(30))
    items = stale_items(
        [grant(), forever],
        [external(), group],
        NOW,
        RULES,
        {"alice": NOW - timedelta(hours=3), "bob": None},
    )
    assert [item.ref for item in items] == ["external:9", "external:7", "grant:3"]
    assert items[1].who == "bob" and not items[1].who_is_group
    assert items[0].who_is_group
    assert items[2].last_activity == NOW - timedelta(hours=3)
    assert items[2].slack_id == "UALICE"


def test_refs() -> None:
    assert parse_ref("grant:12") == (ItemKind.GRANT, 12)
    assert parse_ref("external:3") == (ItemKind.EXTERNAL, 3)
    for bad in (None, "", "grant:", "grant:x", "other:1", "12"):
        assert parse_ref(bad) is None


def test_summary_counts_and_oldest() -> None:
    items = stale_items([], [external(), external(id=8, name="carol")], NOW, RULES)
    counts, oldest = summary({"owner": items, "dave": [], "erin": items[:1]}, top=2)
    assert [(c.owner_hub, c.count) for c in counts] == [("owner", 2), ("erin", 1)]
    assert len(oldest) == 2


# -- reconciliation ---------------------------------------------------------------------


def share(name: str, server: str = "", kind: ShareKind = ShareKind.USER) -> HubShare:
    return HubShare(server, kind, name, (), NOW - timedelta(days=1))


def test_active_grant_without_its_share_was_revoked_in_the_hub() -> None:
    active = grant(id=1)
    other_server = grant(id=2, server="gpu")
    result = plan("owner", [active, other_server], [share("alice", "gpu")], [])
    assert result.revoked_in_hub == [active]
    assert result.external == []


def test_invited_and_ending_grants_are_left_to_the_sweep() -> None:
    invited = grant(state=GrantState.INVITED, accepted_at=None, accepted_hub_user=None)
    ending = grant(id=2, state=GrantState.ENDING)
    result = plan("owner", [invited, ending], [], [])
    assert result.revoked_in_hub == []


def test_the_holder_counts_not_only_the_recipient() -> None:
    misused = grant(accepted_hub_user="mallory")
    assert plan("owner", [misused], [share("mallory")], []).revoked_in_hub == []
    assert plan("owner", [misused], [share("alice")], []).revoked_in_hub == [misused]


def test_shares_our_grants_do_not_explain_are_external() -> None:
    ours = grant()
    invited = grant(id=2, state=GrantState.INVITED, recipient_hub="carol", accepted_hub_user=None)
    ended = grant(id=3, state=GrantState.EXPIRED, recipient_hub="dave", accepted_hub_user="dave")
    shares = [
        share("alice"),  # our active grant
        share("carol"),  # an invited grant about to be noticed by the sweep
        share("dave"),  # our grant ended but the share stayed (prior access)
        share("bob"),  # made directly in the hub
        share("alice", "gpu"),  # same person, another server
        share("alice", kind=ShareKind.GROUP),  # a group is never ours
    ]
    result = plan("owner", [ours, invited, ended], shares, [])
    assert [(s.server, s.kind, s.name) for s in result.external] == [
        ("", ShareKind.USER, "dave"),
        ("", ShareKind.USER, "bob"),
        ("gpu", ShareKind.USER, "alice"),
        ("", ShareKind.GROUP, "alice"),
    ]


def test_other_owners_grants_are_ignored() -> None:
    theirs = grant(owner_hub="someone")
    result = plan("owner", [theirs], [share("alice")], [])
    assert result.revoked_in_hub == []
    assert [s.name for s in result.external] == ["alice"]


def test_recorded_externals_missing_in_the_hub_are_gone() -> None:
    still = external(id=1, name="bob")
    missing = external(id=2, name="carol")
    already_gone = external(id=3, name="dave", gone_at=NOW)
    result = plan("owner", [], [share("bob")], [still, missing, already_gone])
    assert result.gone == [missing]


def test_status_after_clicks() -> None:
    assert grant_status(None, NOW) == (Status.GONE, None)
    assert grant_status(grant(), NOW) == (Status.OPEN, None)
    until = NOW + timedelta(days=7)
    assert grant_status(grant(snoozed_until=until), NOW) == (Status.KEPT, until)
    assert grant_status(grant(snoozed_until=until), until) == (Status.OPEN, None)
    ended = grant(state=GrantState.REVOKED, ended_at=NOW)
    assert grant_status(ended, NOW) == (Status.REVOKED, NOW)
    assert external_status(external(), NOW) == (Status.OPEN, None)
    assert external_status(external(revoked_at=NOW), NOW) == (Status.REVOKED, NOW)
    assert external_status(external(gone_at=NOW), NOW) == (Status.GONE, NOW)
    assert external_status(external(snoozed_until=until), NOW) == (Status.KEPT, until)
    assert external_status(None, NOW) == (Status.GONE, None)
