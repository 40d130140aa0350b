"""The pure parts of the edges: Slack's headers before the body, the shape Bolt relies on,
requests from another workspace or app, bearer tokens, and the body limit's framing."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack import shape
from bot.slack.identity import Workspace, foreign
from bot.web.app import malformed, unsigned_why
from bot.web.auth import bearer_ok

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "no X-Slack-Signature header"),
        ({"x-slack-signature": "v0=1"}, "no X-Slack-Request-Timestamp header"),
        ({"x-slack-signature": "v0=1", "x-slack-request-timestamp": "1e9"}, "not a number"),
        ({"x-slack-signature": "v0=1", "x-slack-request-timestamp": "-5"}, "not a number"),
        ({"x-slack-signature": "v0=1", "x-slack-request-timestamp": "١٢٣"}, "not a number"),
        ({"x-slack-signature": "v0=1", "x-slack-request-timestamp": "9" * 40}, "not a number"),
        ({"x-slack-signature": "v0=1", "x-slack-request-timestamp": str(int(NOW) - 301)}, "5 min"),
        ({"x-slack-signature": "v0=1", "x-slack-request-timestamp": str(int(NOW) + 301)}, "5 min"),
    ],
)
def test_requests_that_cannot_be_slacks_are_told_by_their_headers(
    headers: dict[str, str], why: str
) -> None:
    found = unsigned_why(headers, NOW)
    assert found is not None and why in found


def test_fresh_headers_are_read_on() -> None:
    headers = {"x-slack-signature": "v0=1", "x-slack-request-timestamp": str(int(NOW) - 299)}
    assert unsigned_why(headers, NOW) is None


@pytest.mark.parametrize(
    "body",
    [
        {"type": "view_submission", "view": None},
        {"type": "view_submission", "view": {"callback_id": "x"}},  # no view type
        {"type": "view_submission", "view": {"type": "modal", "callback_id": 3}},
        {"type": "block_actions", "actions": []},
        {"type": "block_actions", "actions": [{"value": "1"}]},
        {"type": "block_actions", "actions": [1]},
        {"type": "event_callback", "event": "app_home_opened"},
        {"type": "event_callback", "event": {"user": "U1"}},
        {"type": "event_callback", "event": {"type": "message", "message": 1}},
        {"type": 7},
        {"team": ["T1"]},
        {"user": {"id": 5}},
        {"authorizations": [None]},
        {"type": "shortcut"},
    ],
)
def test_shapes_bolt_cannot_handle_are_named(body: dict[str, Any]) -> None:
    assert shape.problem(body) is not None


@pytest.mark.parametrize(
    "body",
    [
        {"command": "/share-server", "text": "help", "team_id": "T1", "user_id": "U1"},
        {"type": "block_actions", "actions": [{"action_id": "a"}], "team": {"id": "T1"}},
        {"type": "view_submission", "view": {"type": "modal", "callback_id": "c"}},
        {"type": "event_callback", "event": {"type": "app_home_opened", "user": "U1"}},
        {"type": "url_verification", "challenge": "x"},
        {},
    ],
)
def test_shapes_slack_sends_pass(body: dict[str, Any]) -> None:
    assert shape.problem(body) is None


def test_bodies_bolt_could_not_read_are_malformed() -> None:
    assert malformed(b"\xff\xfe", None) == "the body is not UTF-8"
    assert malformed(b"payload=%7B", "application/x-www-form-urlencoded") is not None
    assert malformed(b"[1, 2]", "application/json") is not None
    assert malformed(b"{" * 5000, "application/json") is not None
    assert malformed(b"text=help&command=%2Fshare-server", None) is None
    # The log line names the kind, never odd values.
    odd = b'{"type": {"x": "\\n<!channel>"}}'
    assert malformed(odd, "application/json") == "request: type is not a string"


OURS = Workspace("T1", "A1")


@pytest.mark.parametrize(
    ("team", "body", "why"),
    [
        ("T2", {"api_app_id": "A1"}, "team T2"),
        ("T1", {"api_app_id": "A2"}, "app A2"),
        ("T1\n<!here>", {}, "team T1here"),
        ("T1", {"api_app_id": "A1"}, None),
        (None, {}, None),  # names neither: left to the listeners
        ("T1", {"api_app_id": 5}, None),
        (True, {}, "team ?"),  # a signed fuzz's `authorizations: [{"team_id": true}]`
    ],
)
def test_requests_naming_another_team_or_app_are_foreign(
    team: Any, body: dict[str, Any], why: str | None
) -> None:
    assert foreign(body, team, OURS) == why


def test_without_an_app_id_from_slack_only_the_team_is_compared() -> None:
    assert foreign({"api_app_id": "A9"}, "T1", Workspace("T1", None)) is None


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("Bearer tok-0123456789abcdef", True),
        ("bearer tok-0123456789abcdef", True),
        ("Bearer tok-0123456789abcde", False),
        ("Bearer tok-0123456789abcdefg", False),
        ("Basic tok-0123456789abcdef", False),
        ("tok-0123456789abcdef", False),
        ("", False),
        (None, False),
    ],
)
def test_bearer_tokens_are_compared_whole(header: str | None, ok: bool) -> None:
    assert bearer_ok(header, "tok-0123456789abcdef") is ok
