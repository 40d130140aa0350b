"""The forms, as a person uses them through Slack: a signed shortcut (or Home button) to the
running app, the modal the stand-in recorded, a signed submission of it, the answer read."""

from __future__ import annotations

import time
from typing import Any

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.slack_client import (
    RunningApp,
    block_action,
    message_action,
    shortcut,
    submit_view,
    view_action,
)
from bot.slack import forms


def open_by_shortcut(
    app: RunningApp, slack: FakeSlack, user: str, callback_id: str, modal: str
) -> dict[str, Any]:
    """Send the global shortcut ``callback_id``; wait for the modal to become ``modal``."""
    before = _opened(slack)
    response = app.interact(shortcut(user, callback_id))
    assert response.status_code == 200, response.text
    return new_modal(slack, modal, before)


def open_from_home(
    app: RunningApp, slack: FakeSlack, user: str, action_id: str, modal: str
) -> dict[str, Any]:
    """Click the Home tab's button ``action_id``; wait for the modal ``modal``."""
    payload = block_action(user, action_id, slack.new_response_url(), block_id="home-forms")
    payload.pop("response_url")  # Slack gives Home tab clicks none
    payload["container"] = {"type": "view", "view_id": "VHOME"}
    before = _opened(slack)
    response = app.interact(payload)
    assert response.status_code == 200, response.text
    return new_modal(slack, modal, before)


def open_on_message(
    app: RunningApp, slack: FakeSlack, user: str, message: dict[str, Any]
) -> dict[str, Any]:
    """The message shortcut "Share my server with the author" on ``message``."""
    payload = message_action(user, forms.AUTHOR_SHORTCUT, message, slack.new_response_url())
    before = _opened(slack)
    response = app.interact(payload)
    assert response.status_code == 200, response.text
    return new_modal(slack, forms.SHARE_MODAL, before)


def _opened(slack: FakeSlack) -> set[str]:
    return {str(v["id"]) for v in slack.modals()}


def new_modal(slack: FakeSlack, callback_id: str, before: set[str]) -> dict[str, Any]:
    """Wait for a modal opened since ``before`` (the ids then) to become ``callback_id``."""

    def find() -> dict[str, Any] | None:
        found = [v for v in slack.modals(callback_id) if v["id"] not in before]
        return found[-1] if found else None

    return slack.wait_for(find, timeout=20, message=f"a new modal {callback_id!r}")


def pick_owner(
    app: RunningApp, slack: FakeSlack, user: str, view: dict[str, Any], owner: str
) -> dict[str, Any]:
    """Pick ``owner`` in the request form; wait for the form to list the owner's servers."""
    payload = view_action(
        user,
        view,
        forms.OWNER_ACTION,
        forms.OWNER_BLOCK,
        {"type": "users_select", "selected_user": owner},
    )
    response = app.interact(payload)
    assert response.status_code == 200, response.text

    def updated() -> dict[str, Any] | None:
        now = [v for v in slack.modals(forms.REQUEST_MODAL) if v["id"] == view["id"]]
        return now[0] if now and block(now[0], forms.SERVER_BLOCK) is not None else None

    return slack.wait_for(updated, timeout=20, message="the request form with servers")


def wait_for_log(app: RunningApp, text: str, timeout: float = 20.0) -> None:
    """Poll the app's log (with a deadline) until it has ``text``."""
    deadline = time.monotonic() + timeout
    while text not in app.log():
        assert time.monotonic() < deadline, f"{text!r} not in sharebot's log:\n{app.log()}"
        time.sleep(0.05)


def submit(app: RunningApp, user: str, view: dict[str, Any], values: dict[str, Any]) -> Any:
    """Submit ``view`` with ``values``: the acknowledgement's JSON (None when empty: the
    form closed)."""
    response = app.interact(submit_view(user, view, values))
    assert response.status_code == 200, response.text
    return response.json() if response.content else None


def block(view: dict[str, Any], block_id: str) -> dict[str, Any] | None:
    return next((b for b in view.get("blocks", []) if b.get("block_id") == block_id), None)


def share_values(
    people: list[str],
    *,
    server: str = "0",
    choice: str | None = "1h",
    typed: str | None = None,
    manage: bool = False,
    note: str | None = None,
    path: str | None = None,
) -> dict[str, Any]:
    """``state.values`` of a filled-in "Share my server" form."""
    values = _durations(choice, typed)
    values[forms.PEOPLE_BLOCK] = {
        forms.PEOPLE_ACTION: {"type": "multi_users_select", "selected_users": people}
    }
    values[forms.SERVER_BLOCK] = {forms.SERVER_ACTION: _option(server)}
    values[forms.MANAGE_BLOCK] = {
        forms.MANAGE_ACTION: {
            "type": "checkboxes",
            "selected_options": [{"value": "manage"}] if manage else [],
        }
    }
    values[forms.NOTE_BLOCK] = {forms.NOTE_ACTION: {"type": "plain_text_input", "value": note}}
    values[forms.PATH_BLOCK] = {forms.PATH_ACTION: {"type": "plain_text_input", "value": path}}
    return values


def request_values(
    owner: str, *, server: str = "0", choice: str | None = "1h", reason: str | None = None
) -> dict[str, Any]:
    values = _durations(choice, None)
    values[forms.OWNER_BLOCK] = {
        forms.OWNER_ACTION: {"type": "users_select", "selected_user": owner}
    }
    values[forms.SERVER_BLOCK] = {forms.SERVER_ACTION: _option(server)}
    values[forms.REASON_BLOCK] = {
        forms.REASON_ACTION: {"type": "plain_text_input", "value": reason}
    }
    return values


def _durations(choice: str | None, typed: str | None) -> dict[str, Any]:
    return {
        forms.DURATION_BLOCK: {
            forms.DURATION_ACTION: _option(choice) if choice else {"type": "static_select"}
        },
        forms.TYPED_BLOCK: {forms.TYPED_ACTION: {"type": "plain_text_input", "value": typed}},
    }


def _option(value: str) -> dict[str, Any]:
    return {
        "type": "static_select",
        "selected_option": {"value": value, "text": {"type": "plain_text", "text": value}},
    }
