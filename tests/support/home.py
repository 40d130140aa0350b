"""The Home tab in the integration tests: open it, find and click its buttons, and a share
from owner to alice that alice accepted on the real hub."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from bot.sandbox.fake_slack import FakeSlack
from bot.store.models import GrantRow
from tests.support.app import RunningApp, block_action
from tests.support.hub import RunningHub
from tests.support.stories import accept_url_in, grants, share


def open_home(app: RunningApp, user: str) -> None:
    response = app.event({"type": "app_home_opened", "user": user, "channel": "D" + user})
    assert response.status_code == 200, response.text


def home_button(view: dict[str, Any], action_id: str, value: str) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = view["blocks"]
    for block in blocks:
        accessory = block.get("accessory") or {}
        if accessory.get("action_id") == action_id and accessory.get("value") == value:
            return block
    raise AssertionError(f"no {action_id} for {value} in the Home tab")


def click_home(
    app: RunningApp, user: str, view: dict[str, Any], action_id: str, value: str
) -> None:
    """A click on the Home tab: Slack sends no response_url for those."""
    block = home_button(view, action_id, value)
    payload = block_action(user, action_id, "", value=value, block_id=block["block_id"])
    del payload["response_url"], payload["channel"]
    payload["container"] = {"type": "view", "view_id": view["id"]}
    payload["view"] = {"id": view["id"], "type": "home", "blocks": view["blocks"]}
    response = app.interact(payload)
    assert response.status_code == 200, response.text


def accepted_share(
    app: RunningApp, slack: FakeSlack, hub: RunningHub, db: Engine, text: str
) -> GrantRow:
    share(app, slack, "UOWNER", text)
    url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
    assert hub.accept_share("alice", url).status_code == 302
    slack.wait_for_dm("UOWNER", "accepted", timeout=20)
    [row] = grants(db)
    assert row.state == "active"
    return row
