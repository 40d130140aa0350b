"""Reminders for every share, Ask for more time, Extend on the Home tab and Share again,
against the real hub, the app over HTTP and the Slack stand-in. Time is driven through the
database (a reminder time or a deadline moved to the past), never by sleeping."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.sandbox.fake_slack import FakeSlack
from bot.slack import blocks
from tests.support.app import RunningApp, block_action
from tests.support.home import accepted_share, open_home
from tests.support.hub import RunningHub
from tests.support.stories import (
    accept_url_in,
    click,
    grants,
    move_deadline_to_the_past,
    share,
    share_users,
)

pytestmark = pytest.mark.integration


def row_of(db: Engine, grant_id: int) -> Any:
    [row] = [r for r in grants(db) if r.id == grant_id]
    return row


def test_a_short_share_is_reminded_the_recipient_asks_for_more_time_the_owner_approves(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    row = accepted_share(app, slack, clean_hub, db, "<@UALICE> 30m")
    end = row.expires_at
    assert row.remind_at == end - timedelta(minutes=5)  # a tenth of 30m is less than 5m
    move_deadline_to_the_past(db, row.id, "remind_at")
    reminder = slack.wait_for_dm("UALICE", "Save your work", timeout=20)
    slack.wait_for_dm("UOWNER", "Need more time", timeout=20)

    # only the recipient may ask
    assert "Only the person the server was shared with" in click(
        app, slack, "UBOB", reminder, blocks.MORE_TIME_ACTION
    )
    asked = click(app, slack, "UALICE", reminder, blocks.MORE_TIME_ACTION)
    assert "Asked <@UOWNER> for 30m more" in asked
    ask = slack.wait_for_dm("UOWNER", "asks for more time")
    assert "already asked" in click(app, slack, "UALICE", reminder, blocks.MORE_TIME_ACTION)

    answer = click(app, slack, "UOWNER", ask, blocks.APPROVE_ACTION)
    assert "Approved by <@UOWNER>" in answer
    told = slack.wait_for_dm("UALICE", "Your request for", timeout=20)
    assert "Approved" in told["text"]
    slack.wait_for_dm("UALICE", "extended your access", timeout=20)
    extended = row_of(db, row.id)
    assert extended.state == "active" and extended.expires_at == end + timedelta(minutes=30)
    assert extended.reminded_at is None and extended.remind_at > end - timedelta(minutes=5)

    # a pass after the extension reminds again of the new end, and the access stays
    move_deadline_to_the_past(db, row.id, "remind_at")
    slack.wait_for(
        lambda: len([m for m in slack.dms_to("UALICE") if "Save your work" in m["text"]]) == 2,
        timeout=20,
    )
    assert row_of(db, row.id).state == "active"
    assert share_users(clean_hub) == {"alice"}  # the hub still gives access

    move_deadline_to_the_past(db, row.id)  # the new end comes
    slack.wait_for_dm("UALICE", "has ended", timeout=20)
    assert share_users(clean_hub) == set()


def home_actions_button(view: dict[str, Any], action_id: str) -> tuple[str, str]:
    for block in view["blocks"]:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return str(block["block_id"]), str(element["value"])
    raise AssertionError(f"no {action_id} in the Home tab")


def test_extend_from_the_home_tab(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    row = accepted_share(app, slack, clean_hub, db, "<@UALICE> 1h")
    open_home(app, "UOWNER")
    view = slack.wait_for_home("UOWNER", "Extend by 1h")
    block_id, value = home_actions_button(view, blocks.EXTEND_ACTION)
    assert blocks.extend_target(value) == (
        row.id,
        int(row.expires_at.replace(tzinfo=UTC).timestamp()),
    )

    payload = block_action("UOWNER", blocks.EXTEND_ACTION, "", value=value, block_id=block_id)
    del payload["response_url"], payload["channel"]  # Slack sends none for the Home tab
    payload["container"] = {"type": "view", "view_id": view["id"]}
    payload["view"] = {"id": view["id"], "type": "home", "blocks": view["blocks"]}
    assert app.interact(payload).status_code == 200
    slack.wait_for_dm("UOWNER", "Extended: <@UALICE> keeps access", timeout=20)
    slack.wait_for_dm("UALICE", "extended your access", timeout=20)
    assert row_of(db, row.id).expires_at == row.expires_at + timedelta(hours=1)
    slack.wait_for_home("UOWNER", "Extend by 1h")  # refreshed, with the new deadline's button
    assert share_users(clean_hub) == {"alice"}


def test_share_again_from_the_end_dm(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    row = accepted_share(app, slack, clean_hub, db, "<@UALICE> 1h")
    move_deadline_to_the_past(db, row.id)
    ended = slack.wait_for_dm("UOWNER", "has ended", timeout=20)
    assert share_users(clean_hub) == set()

    assert "Only the person who shared" in click(
        app, slack, "UBOB", ended, blocks.SHARE_AGAIN_ACTION
    )
    answer = click(app, slack, "UOWNER", ended, blocks.SHARE_AGAIN_ACTION)
    assert "<@UALICE>" in answer and "for 1h from when they accept" in answer
    again = [g for g in grants(db) if g.id != row.id]
    assert len(again) == 1 and again[0].state == "invited" and again[0].duration_seconds == 3600

    def second_invitation() -> dict[str, Any] | None:
        found = [m for m in slack.dms_to("UALICE") if "shared `owner`" in m["text"]]
        return found[1] if len(found) >= 2 else None

    url = accept_url_in(slack.wait_for(second_invitation, timeout=20))
    assert clean_hub.accept_share("alice", url).status_code == 302
    assert "already has an open share" in click(
        app, slack, "UOWNER", ended, blocks.SHARE_AGAIN_ACTION
    )
    assert len(grants(db)) == 2
    share(app, slack, "UOWNER", "revoke <@UALICE>")
