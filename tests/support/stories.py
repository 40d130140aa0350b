"""What the integration stories do and look at: commands and clicks sent to the running
app, the DMs the Slack stand-in received, the hub's shares, the database's grants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.slack_client import RunningApp, block_action
from bot.store.models import GrantRow
from tests.support.hub import RunningHub


def accept_url_in(message: dict[str, Any]) -> str:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("url"):
                return str(element["url"])
    raise AssertionError(f"no link button in {message}")


def share_users(hub: RunningHub, owner: str = "owner", server: str = "") -> set[str]:
    return {s["user"]["name"] for s in hub.shares(owner, server) if s.get("user")}


def scopes_of(hub: RunningHub, user: str, owner: str = "owner", server: str = "") -> set[str]:
    """What ``user`` holds on the server, as the hub lists it (nothing: an empty set)."""
    for item in hub.shares(owner, server):
        if (item.get("user") or {}).get("name") == user:
            return set(item["scopes"])
    return set()


def direct_share(
    hub: RunningHub,
    owner: str,
    user: str,
    server: str = "",
    scopes: list[str] | None = None,
) -> None:
    """Share as the hub's own API does it, without sharebot (the owner, in the hub)."""
    body: dict[str, Any] = {"user": user}
    if scopes is not None:
        body["scopes"] = scopes
    with hub.client(hub.admin_token) as client:
        response = client.post(f"shares/{owner}/{server}", json=body)
        assert response.status_code == 200, response.text


def grants(db: Engine) -> list[GrantRow]:
    with Session(db) as session:
        return list(session.scalars(select(GrantRow).order_by(GrantRow.id)))


def move_deadline_to_the_past(db: Engine, grant_id: int, column: str = "expires_at") -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    with Session(db) as session, session.begin():
        session.execute(update(GrantRow).where(GrantRow.id == grant_id).values({column: past}))


def share(app: RunningApp, slack: FakeSlack, user: str, text: str) -> str:
    """Send the command, check the quick empty ack, and return the ephemeral reply."""
    url = slack.new_response_url()
    ack = app.command(user, text, url)
    assert ack.status_code == 200, ack.text
    reply = slack.wait_for(lambda: slack.responses(url), timeout=20)
    assert reply[0]["response_type"] == "ephemeral"
    return str(reply[0]["text"])


def button_block(message: dict[str, Any], action_id: str) -> tuple[str, str | None]:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return str(block["block_id"]), element.get("value")
    raise AssertionError(f"no {action_id} in {message}")


def click(
    app: RunningApp,
    slack: FakeSlack,
    user: str,
    message: dict[str, Any],
    action_id: str,
    selected: str | None = None,
) -> str:
    """Click a button (or pick an option) of a posted message; return the ephemeral answer."""
    block_id, value = button_block(message, action_id)
    url = slack.new_response_url()
    payload = block_action(user, action_id, url, value=value, block_id=block_id, selected=selected)
    response = app.interact(payload)
    assert response.status_code == 200, response.text
    return str(slack.wait_for(lambda: slack.responses(url), timeout=20)[0]["text"])
