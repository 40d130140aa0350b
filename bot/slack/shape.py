"""The shape Bolt relies on in a request, checked before Bolt sees it.

Bolt indexes into the payloads Slack sends (``body["view"]["type"]``,
``body["actions"][0]["action_id"]``, ``body["event"]["type"]``, ...) and answers 500, with
a traceback in the log, when a field is missing or of another type. Slack never sends such
requests, but a signed one is let in: this says what is wrong with it, so that the web app
answers 400 with one line instead (found by tests/integration/test_fuzz_http.py).

Only the structure Bolt and the listeners index is checked, not Slack's whole schema.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.request.internals import parse_body

#: Fields that are objects (or ids, for the ones Slack sends either way) wherever they are.
_OBJECTS = ("view", "container", "message", "workflow_step", "state")
_OBJECTS_OR_IDS = ("team", "user", "channel", "enterprise")
_LISTS_OF_OBJECTS = ("actions", "authorizations", "response_urls")

#: Interaction types whose ``callback_id`` Bolt indexes.
_WITH_CALLBACK_ID = (
    "shortcut",
    "message_action",
    "interactive_message",
    "dialog_submission",
    "dialog_cancellation",
    "dialog_suggestion",
    "workflow_step_edit",
)


def parse(body: str, content_type: str | None) -> dict[str, Any] | None:
    """The request as Bolt will read it, or None when Bolt could not read it as an object."""
    try:
        parsed = parse_body(body, content_type)
    except (ValueError, RecursionError):  # not JSON (json.JSONDecodeError is a ValueError)
        return None
    return parsed if isinstance(parsed, dict) else None


def problem(body: dict[str, Any]) -> str | None:
    """What in ``body`` Bolt could not handle, or None."""
    kind = body.get("type")
    if kind is not None and not isinstance(kind, str):
        return "type is not a string"
    found = _containers(body)
    if found is not None:
        return found
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return "an event_callback without an event type"
        found = _containers(event)
        if found is not None:
            return f"event: {found}"
        for key in ("message", "previous_message", "item"):
            if key in event and not isinstance(event[key], dict | None):
                return f"event.{key} is not an object"
    elif kind in ("view_submission", "view_closed"):
        view = body.get("view")
        if not isinstance(view, dict):
            return f"a {kind} without a view"
        if not isinstance(view.get("type"), str) or not isinstance(view.get("callback_id"), str):
            return f"a {kind} whose view has no type or callback_id"
        if "private_metadata" in view and not isinstance(view["private_metadata"], str):
            return "view.private_metadata is not a string"
        state = view.get("state")
        if state is not None and not (
            isinstance(state, dict) and isinstance(state.get("values", {}), dict)
        ):
            return "view.state.values is not an object"
    elif kind == "block_actions":
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions:
            return "block_actions without actions"
        for action in actions:
            if not isinstance(action.get("action_id"), str):
                return "an action without an action_id"
    elif kind == "block_suggestion":
        if not isinstance(body.get("action_id"), str):
            return "a block_suggestion without an action_id"
    elif kind in _WITH_CALLBACK_ID and not isinstance(body.get("callback_id"), str):
        return f"a {kind} without a callback_id"
    return None


def _containers(body: dict[str, Any]) -> str | None:
    for key in _OBJECTS:
        if key in body and not isinstance(body[key], dict | None):
            return f"{key} is not an object"
    for key in _OBJECTS_OR_IDS:
        value = body.get(key)
        if value is not None and not isinstance(value, dict | str):
            return f"{key} is neither an object nor an id"
        if isinstance(value, dict):
            for field, item in value.items():
                if field.endswith("id") and item is not None and not isinstance(item, str):
                    return f"{key}.{field} is not a string"
    for key in _LISTS_OF_OBJECTS:
        value = body.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(item, dict) for item in value)
        ):
            return f"{key} is not a list of objects"
    return None


def describe(body: dict[str, Any]) -> str:
    """A short, safe name for a request in a log line (its type or command, no values)."""
    name = body.get("type") or body.get("command")
    if not isinstance(name, str) or not name.isascii() or not name.isprintable():
        return "request"
    return json.dumps(name[:40])
