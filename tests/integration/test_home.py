"""The Home tab, Leave, reminders and Extend, against the real hub and the fake Slack API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from bot.sandbox.fake_slack import FakeSlack
from bot.slack import blocks
from bot.slack import home_view as home
from bot.store.models import AuditEvent, GrantRow
from tests.support.app import RunningApp, block_action, run_cli
from tests.support.home import accepted_share, click_home, home_button, open_home
from tests.support.hub import RunningHub
from tests.support.stories import grants, share, share_users

pytestmark = pytest.mark.integration


def audit_actions(db: Engine, grant_id: int) -> list[str]:
    with Session(db) as session:
        return [
            e.action
            for e in session.query(AuditEvent)
            .filter(AuditEvent.grant_id == grant_id)
            .order_by(AuditEvent.id)
        ]


def test_home_opened_then_refreshed_after_a_share(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    open_home(app, "UOWNER")
    view = slack.wait_for_home("UOWNER", "You are not sharing any server right now.")
    assert "Linked to JupyterHub user `owner`" in str(view["blocks"])
    assert view["type"] == "home"

    share(app, slack, "UOWNER", "<@UALICE|alice> 1h")
    [row] = grants(db)
    # refreshed without the person opening the tab again, for both people concerned
    view = slack.wait_for_home("UOWNER", "<@UALICE> on `owner`'s default server: invited")
    home_button(view, home.REVOKE_ACTION, str(row.id))
    theirs = slack.wait_for_home("UALICE", "from <@UOWNER>: invited")
    home_button(theirs, home.LEAVE_ACTION, str(row.id))
    assert len(view["blocks"]) <= home.MAX_BLOCKS


def test_revoke_from_home_only_by_the_owner(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    row = accepted_share(app, slack, clean_hub, db, "<@UALICE|alice> 1h")
    view = slack.wait_for_home("UOWNER", "active until")

    for intruder in ("UCAROL", "UALICE"):
        click_home(app, intruder, view, home.REVOKE_ACTION, str(row.id))
        slack.wait_for_dm(intruder, "Only the person who shared the server can revoke")
    assert share_users(clean_hub) == {"alice"}
    assert grants(db)[0].state == "active"

    click_home(app, "UOWNER", view, home.REVOKE_ACTION, str(row.id))
    slack.wait_for_dm("UALICE", "<@UOWNER> ended your access")
    slack.wait_for_dm("UOWNER", "revoked access for <@UALICE>")
    assert share_users(clean_hub) == set()
    assert grants(db)[0].state == "revoked"
    slack.wait_for_home("UOWNER", "You are not sharing any server right now.")
    slack.wait_for_home("UALICE", "Nobody is sharing a server with you right now.")


def test_leave_from_home_only_by_the_recipient(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    row = accepted_share(app, slack, clean_hub, db, "<@UALICE|alice> 1h")
    view = slack.wait_for_home("UALICE", "from <@UOWNER>: active until")

    click_home(app, "UOWNER", view, home.LEAVE_ACTION, str(row.id))
    slack.wait_for_dm("UOWNER", "Only the person the server was shared with can leave")
    assert share_users(clean_hub) == {"alice"}

    click_home(app, "UALICE", view, home.LEAVE_ACTION, str(row.id))
    slack.wait_for_dm("UALICE", "You left `owner`'s default server")
    slack.wait_for_dm("UOWNER", "<@UALICE> left your share")
    assert share_users(clean_hub) == set()
    assert grants(db)[0].state == "revoked"
    assert "left" in audit_actions(db, row.id)
    slack.wait_for_home("UALICE", "Nobody is sharing a server with you right now.")


def test_reminder_once_then_extend_by_the_owner_only(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    row = accepted_share(app, slack, clean_hub, db, "<@UALICE|alice> 2d")
    soon = datetime.now(UTC) + timedelta(minutes=30)
    with Session(db) as session, session.begin():
        session.execute(
            update(GrantRow)
            .where(GrantRow.id == row.id)
            .values(expires_at=soon, remind_at=soon - timedelta(hours=1))  # its reminder is due
        )

    reminder = slack.wait_for_dm("UOWNER", ":hourglass_flowing_sand:", timeout=20)
    assert "Extend it by 2d" in reminder["text"]
    slack.wait_for_dm("UALICE", "Save your work", timeout=20)
    # another pass (a second process, as a second replica or cron would) reminds nobody again
    done = run_cli(app.env, "sweep", "--once")
    assert done.returncode == 0, done.stderr
    for user in ("UOWNER", "UALICE"):
        assert len([m for m in slack.dms_to(user) if ":hourglass" in m["text"]]) == 1
    assert audit_actions(db, row.id).count("reminded") == 1

    block_id, value = next(
        (b["block_id"], e["value"])
        for b in reminder["blocks"]
        for e in b.get("elements") or []
        if e.get("action_id") == blocks.EXTEND_ACTION
    )

    def click_extend(user: str) -> str:
        url = slack.new_response_url()
        payload = block_action(user, blocks.EXTEND_ACTION, url, value=value, block_id=block_id)
        assert app.interact(payload).status_code == 200
        return str(slack.wait_for(lambda: slack.responses(url), timeout=20)[0]["text"])

    assert "Only the person who shared" in click_extend("UALICE")
    assert grants(db)[0].expires_at == soon  # unchanged

    assert click_extend("UOWNER").startswith("Extended")
    [extended] = grants(db)
    assert extended.expires_at == soon + timedelta(days=2)
    assert extended.reminded_at is None
    slack.wait_for_dm("UALICE", "<@UOWNER> extended your access")
    assert "already extended" in click_extend("UOWNER")  # a double click extends once
    assert grants(db)[0].expires_at == extended.expires_at
    assert audit_actions(db, row.id).count("extended") == 1
