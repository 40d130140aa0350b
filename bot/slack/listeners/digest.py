"""The digest's buttons: Revoke, Keep, Revoke all stale (only for the digest's owner)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncRespond

from bot.app.outcomes import Reason, Refusal
from bot.clock import utcnow
from bot.slack import blocks
from bot.slack.listeners.common import Services, ack_only, answer, done, once


def register(app: AsyncApp, services: Services) -> None:
    digest = services.digest

    def button(action_id: str, what: str, op: Callable[[int, str, str], Awaitable[object]]) -> None:
        """``op(message id, item ref, clicker)`` does the work and returns the outcome."""

        async def clicked(body: dict[str, Any], respond: AsyncRespond) -> None:
            action = body["actions"][0]
            clicker = body["user"]["id"]
            message_id = blocks.digest_message_id(action.get("block_id"))
            work = (
                op(message_id, str(action.get("value") or ""), clicker)
                if message_id is not None
                else done(Refusal(Reason.DIGEST_UNKNOWN_ITEM))
            )
            text = await answer(f"{what} by {clicker}", work)
            await respond(text=text, response_type="ephemeral", replace_original=False)

        app.action(action_id)(ack=ack_only, lazy=[once(services, clicked)])

    button(
        blocks.DIGEST_REVOKE_ACTION,
        "digest revoke",
        lambda message, ref, clicker: digest.revoke(message, ref, clicker, utcnow()),
    )
    button(
        blocks.DIGEST_KEEP_ACTION,
        "digest keep",
        lambda message, ref, clicker: digest.keep(message, ref, clicker, utcnow()),
    )
    button(
        blocks.DIGEST_REVOKE_ALL_ACTION,
        "digest revoke all",
        lambda message, _ref, clicker: digest.revoke_all(message, clicker, utcnow()),
    )
