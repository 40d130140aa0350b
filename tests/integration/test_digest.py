"""Reconciliation and the daily digest against a real hub, the fake Slack and the real CLI."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from bot.sandbox.fake_slack import FakeSlack
from bot.slack import blocks
from bot.slack.messenger import RATE_LIMIT_RETRIES
from bot.store.models import AuditEvent, DigestMessage, ExternalShare, GrantRow
from tests.support.app import BOT_TOKEN, RunningApp, block_action, run_cli, start_app
from tests.support.hub import RunningHub

pytestmark = pytest.mark.integration


@pytest.fixture
def digest_env(linked_env: dict[str, str]) -> dict[str, str]:
    # The app's own schedule is off: only `sharebot digest --now` sends, when a test says so.
    return {**linked_env, "SHAREBOT_DIGEST_TIME": "off"}


@pytest.fixture
def digest_app(digest_env: dict[str, str], tmp_path: Path) -> Iterator[RunningApp]:
    running = start_app(digest_env, tmp_path)
    try:
        yield running
    finally:
        running.stop()
        log = running.log()
        for secret in ("code=", BOT_TOKEN, digest_env["JUPYTERHUB_API_TOKEN"]):
            assert secret not in log, f"{secret[:12]}... appears in sharebot's log"


def direct_share(hub: RunningHub, owner: str, user: str, server: str = "") -> None:
    """Share as the hub's own API does it, without sharebot."""
    with hub.client(hub.admin_token) as client:
        response = client.post(f"shares/{owner}/{server}", json={"user": user})
        assert response.status_code == 200, response.text


def remove_share(hub: RunningHub, owner: str, user: str, server: str = "") -> None:
    with hub.client(hub.admin_token) as client:
        response = client.patch(f"shares/{owner}/{server}", json={"user": user})
        assert response.status_code == 200, response.text


def share_users(hub: RunningHub, owner: str, server: str = "") -> set[str]:
    return {s["user"]["name"] for s in hub.shares(owner, server) if s.get("user")}


def digest(env: dict[str, str], *extra: str) -> str:
    done = run_cli(env, "digest", "--now", *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    for secret in ("code=", BOT_TOKEN, env["JUPYTERHUB_API_TOKEN"]):
        assert secret not in done.stderr
    return done.stdout


def age_external_shares(db: Engine, days: int = 30) -> None:
    """Time travel: every recorded external share is ``days`` old."""
    past = datetime.now(UTC) - timedelta(days=days)
    with Session(db) as session, session.begin():
        session.execute(update(ExternalShare).values(hub_created_at=past, first_seen=past))


def audit_actions(db: Engine, grant_id: int | None = None) -> list[str]:
    with Session(db) as session:
        query = select(AuditEvent.action).order_by(AuditEvent.id)
        if grant_id is not None:
            query = query.where(AuditEvent.grant_id == grant_id)
        return list(session.scalars(query))


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Every button of a message, with the block id it sits in."""
    found = []
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("type") == "button":
                found.append({**element, "block_id": block.get("block_id")})
    return found


def click(app: RunningApp, slack: FakeSlack, user: str, button: dict[str, Any]) -> str:
    url = slack.new_response_url()
    payload = block_action(
        user, button["action_id"], url, value=button["value"], block_id=button["block_id"]
    )
    assert app.interact(payload).status_code == 200
    [reply] = slack.wait_for(lambda: slack.responses(url), timeout=20)
    return str(reply["text"])


def test_external_share_is_reported_and_revoked_from_its_button(
    digest_app: RunningApp,
    digest_env: dict[str, str],
    slack: FakeSlack,
    clean_hub: RunningHub,
    db: Engine,
) -> None:
    hub = clean_hub
    direct_share(hub, "owner", "bob")
    assert "0 failures" in digest(digest_env, "--reconcile-only")
    with Session(db) as session:
        [row] = session.scalars(select(ExternalShare))
        assert (row.owner_hub, row.server, row.kind, row.name) == ("owner", "", "user", "bob")
        assert row.hub_created_at is not None  # the hub's own date
    assert "0 sent" in digest(digest_env)  # not stale yet: a fresh share
    assert slack.dms_to("UOWNER") == []

    age_external_shares(db)
    with httpx.Client(base_url=hub.public_url, follow_redirects=False, timeout=10) as http:
        hub.login(http, "bob")
        assert http.get("/hub/home").status_code == 200  # the hub notes bob's activity
    assert "1 sent" in digest(digest_env)
    [dm] = slack.dms_to("UOWNER")
    text = str(dm["blocks"])
    assert "bob" in text and "not made with sharebot" in text
    assert "last active <!date^" in text, text[:3000]  # read with read:users:activity
    revoke = next(b for b in buttons(dm) if b["action_id"] == blocks.DIGEST_REVOKE_ACTION)
    assert revoke["value"] == f"external:{row.id}"

    # Only the owner may act on it.
    assert "only the owner" in click(digest_app, slack, "UALICE", revoke)
    assert share_users(hub, "owner") == {"bob"}

    answer = click(digest_app, slack, "UOWNER", revoke)
    assert "revoked access for `bob`" in answer
    assert share_users(hub, "owner") == set()
    [update_call] = slack.calls("chat.update")
    assert "Revoked" in str(update_call.params["blocks"])
    assert not [b for b in buttons(update_call.params) if b["value"] == revoke["value"]]
    assert "external_revoked" in audit_actions(db)

    # A second click changes nothing.
    assert "already" in click(digest_app, slack, "UOWNER", revoke)


def test_share_revoked_in_the_hub_is_closed_and_never_revoked_again(
    digest_app: RunningApp,
    digest_env: dict[str, str],
    slack: FakeSlack,
    clean_hub: RunningHub,
    db: Engine,
) -> None:
    hub = clean_hub
    url = slack.new_response_url()
    assert digest_app.command("UOWNER", "<@UALICE|alice> 1h", url).status_code == 200
    invitation = slack.wait_for_dm("UALICE", "shared", timeout=20)
    accept = next(b["url"] for b in buttons(invitation) if b.get("url"))
    assert hub.accept_share("alice", accept).status_code == 302
    slack.wait_for_dm("UOWNER", "accepted", timeout=20)
    with Session(db) as session:
        [grant] = session.scalars(select(GrantRow))
        assert grant.state == "active"

    remove_share(hub, "owner", "alice")  # an admin removes it in the hub
    assert "1 grants revoked in the hub" in digest(digest_env, "--reconcile-only")
    with Session(db) as session:
        closed = session.get(GrantRow, grant.id)
        assert closed is not None and closed.state == "revoked"
        assert closed.end_reason == "revoked"
    assert audit_actions(db, grant.id)[-1] == "revoked_in_hub"

    # The owner shares again directly in the hub; the old grant's deadline passes. A sweep
    # must not touch it: the grant is closed, so nothing revokes alice's new share.
    direct_share(hub, "owner", "alice")
    with Session(db) as session, session.begin():
        session.execute(
            update(GrantRow)
            .where(GrantRow.id == grant.id)
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    swept = run_cli(digest_env, "sweep", "--once")
    assert swept.returncode == 0, swept.stderr
    assert share_users(hub, "owner") == {"alice"}
    assert audit_actions(db, grant.id)[-1] == "revoked_in_hub"
    assert not any("ended" in str(m.get("text")) for m in slack.dms_to("UALICE"))
    # ... and the new share is reported as external (not made with sharebot)
    digest(digest_env, "--reconcile-only")
    with Session(db) as session:
        assert [r.name for r in session.scalars(select(ExternalShare))] == ["alice"]


def test_one_digest_per_owner_when_run_twice_and_from_two_processes(
    digest_env: dict[str, str], slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    hub = clean_hub
    env = {**digest_env, "SHAREBOT_ADMIN_CHANNEL": "C0ADMIN"}
    direct_share(hub, "owner", "bob")
    direct_share(hub, "alice", "carol")
    digest(env, "--reconcile-only")
    age_external_shares(db)

    command = [sys.executable, "-m", "bot.cli", "digest", "--now"]
    both = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=90) for process in both]
    assert [p.returncode for p in both] == [0, 0], outputs
    assert "2 already sent today" in digest(env)  # and a third time, later

    assert len(slack.dms_to("UOWNER")) == 1
    assert len(slack.dms_to("UALICE")) == 1
    assert len(slack.messages("C0ADMIN")) == 1
    summary = str(slack.messages("C0ADMIN")[0]["blocks"])
    assert "`owner`: 1" in summary and "`alice`: 1" in summary
    with Session(db) as session:
        rows = list(session.scalars(select(DigestMessage)))
        assert sorted((r.kind, r.owner_hub, r.state) for r in rows) == [
            ("admin", "", "sent"),
            ("owner", "alice", "sent"),
            ("owner", "owner", "sent"),
        ]


def test_rate_limited_slack_still_gets_exactly_one_digest_per_owner(
    digest_env: dict[str, str], slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    hub = clean_hub
    direct_share(hub, "owner", "bob")
    direct_share(hub, "bob", "carol")
    digest(digest_env, "--reconcile-only")
    age_external_shares(db)
    # More 429s in a row than the Slack client's own waits: the digest waits and sends again.
    times = RATE_LIMIT_RETRIES + 3
    slack.fail_next("chat.postMessage", status=429, retry_after=0, times=times)

    assert "2 sent" in digest(digest_env)
    rate_limited = [c for c in slack.calls("chat.postMessage") if c.failed]
    assert len(rate_limited) == times
    assert len(slack.dms_to("UOWNER")) == 1
    assert len(slack.dms_to("UBOB")) == 1


def test_until_revoked_share_has_no_end_and_is_in_the_digest_until_kept(
    digest_env: dict[str, str], slack: FakeSlack, clean_hub: RunningHub, db: Engine, tmp_path: Path
) -> None:
    hub = clean_hub
    refused = start_app(digest_env, tmp_path)
    try:
        ack = refused.command("UOWNER", "<@UALICE|alice> until-revoked", slack.new_response_url())
        assert ack.status_code == 200 and "not enabled" in ack.json()["text"]  # the quick ack
    finally:
        refused.stop()

    env = {**digest_env, "SHAREBOT_ALLOW_UNTIL_REVOKED": "true"}
    app = start_app(env, tmp_path)
    try:
        url = slack.new_response_url()
        assert app.command("UOWNER", "<@UALICE|alice> until-revoked", url).status_code == 200
        [reply] = slack.wait_for(lambda: slack.responses(url), timeout=20)
        assert "until you revoke it" in reply["text"]
        invitation = slack.wait_for_dm("UALICE", "until revoked", timeout=20)
        accept = next(b["url"] for b in buttons(invitation) if b.get("url"))
        assert hub.accept_share("alice", accept).status_code == 302
        slack.wait_for_dm("UOWNER", "until you revoke it", timeout=20)
        with Session(db) as session:
            [grant] = session.scalars(select(GrantRow))
            assert grant.state == "active" and grant.expires_at is None
            assert grant.duration_seconds is None

        assert "1 sent" in digest(env)
        dm = slack.wait_for_dm("UOWNER", "Daily digest")
        assert "has no end date" in str(dm["blocks"])
        keep = next(b for b in buttons(dm) if b["action_id"] == blocks.DIGEST_KEEP_ACTION)
        assert keep["value"] == f"grant:{grant.id}"
        assert "won't be in your digest" in click(app, slack, "UOWNER", keep)
        [update_call] = slack.calls("chat.update")
        assert "Kept" in str(update_call.params["blocks"])
        with Session(db) as session:
            kept = session.get(GrantRow, grant.id)
            assert kept is not None and kept.snoozed_until is not None
            assert kept.state == "active"  # kept, not touched
        assert share_users(hub, "owner") == {"alice"}
        assert "kept" in audit_actions(db, grant.id)
    finally:
        app.stop()
