"""Events: the Home tab opened, and Slack's retries of events (acknowledged, not redone)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.slack.listeners.common import Services, ack_only

log = logging.getLogger(__name__)


def is_redelivery(headers: Mapping[str, Sequence[str]]) -> bool:
    """True for a Slack retry of an event we already received (Bolt's lower-cased headers).

    Only the Events API retries (slash commands and interactivity never do: a person clicks
    again instead, and each click is a guarded state change). Slack retries up to three
    times when the first delivery failed, saying why in ``X-Slack-Retry-Reason``. For
    ``http_timeout`` the first delivery reached us: Bolt acks an event before its listener
    runs, so that delivery's work is under way (on this replica or another) and the retry
    must not repeat it. Other reasons (``connection_failed``, ``http_error``, ...) mean the
    first delivery may never have been handled, so the retry is handled like a first one;
    our event listeners are idempotent (the Home tab republishes the current state).

    No "seen event ids" set: it would live in one process and miss retries that reach
    another replica; the retry headers say all we need, statelessly.
    """
    if not headers.get("x-slack-retry-num"):
        return False
    return next_value(headers, "x-slack-retry-reason") == "http_timeout"


def next_value(headers: Mapping[str, Sequence[str]], name: str) -> str:
    return next(iter(headers.get(name) or ()), "")


def register(app: AsyncApp, services: Services) -> None:
    @app.middleware
    async def acknowledge_redeliveries(
        req: AsyncBoltRequest, next_: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse:
        # Runs after Bolt's signature check: a forged retry still gets 401.
        if is_redelivery(req.headers):
            retry = next_value(req.headers, "x-slack-retry-num")
            log.info("Slack retry %s of an event already received: acknowledged, not redone", retry)
            return BoltResponse(status=200, body="")
        return await next_()

    async def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            await services.home.refresh(str(event["user"]))

    app.event("app_home_opened")(ack=ack_only, lazy=[home_opened])
