"""The buttons of requests and approvals: Approve, Approve for less, Deny (with its
reason dialog), Cancel. A button carries only the decision's id; who may click is the use
case's to say."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncRespond

from bot.clock import utcnow
from bot.domain.ids import MAX_SECONDS, number_of
from bot.slack import blocks
from bot.slack.listeners.common import Services, UnreadableClick, ack_only, answer, once, tell
from bot.slack.replies import reply

log = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    decisions = services.decisions

    async def approve(body: dict[str, Any], respond: AsyncRespond) -> None:
        clicker, decision_id, _ = _click(body)
        text = await answer(
            f"approval by {clicker}", decisions.approve(decision_id, clicker, utcnow())
        )
        await tell(services, body, respond, text)

    app.action(blocks.APPROVE_ACTION)(ack=ack_only, lazy=[once(services, approve)])

    async def approve_for(body: dict[str, Any], respond: AsyncRespond) -> None:
        clicker, decision_id, action = _click(body)
        seconds = str((action.get("selected_option") or {}).get("value") or "")
        count = number_of(seconds, limit=MAX_SECONDS)
        duration = None if count is None else timedelta(seconds=count)
        work = decisions.approve(decision_id, clicker, utcnow(), duration)
        text = await answer(f"approval by {clicker}", work)
        await tell(services, body, respond, text)

    app.action(blocks.APPROVE_FOR_ACTION)(ack=ack_only, lazy=[once(services, approve_for)])

    async def deny(body: dict[str, Any], respond: AsyncRespond, client: Any) -> None:
        clicker, decision_id, _ = _click(body)
        refusal = await decisions.can_decide(decision_id, clicker)
        if refusal is not None:
            await tell(services, body, respond, reply(refusal))
            return
        await client.views_open(
            trigger_id=body["trigger_id"], view=blocks.deny_modal(decision_id).to_dict()
        )

    app.action(blocks.DENY_ACTION)(ack=ack_only, lazy=[once(services, deny)])

    async def deny_submitted(body: dict[str, Any], view: dict[str, Any]) -> None:
        clicker = body["user"]["id"]
        decision_id = int(view["private_metadata"])
        values = view.get("state", {}).get("values", {})
        note = (
            values.get(blocks.DENY_REASON_BLOCK, {}).get(blocks.DENY_REASON_INPUT, {}).get("value")
        )
        text = await answer(
            f"deny by {clicker}", decisions.deny(decision_id, clicker, note or "", utcnow())
        )
        log.info("deny of decision %s by %s: %s", decision_id, clicker, text[:80])

    app.view(blocks.DENY_MODAL)(ack=ack_only, lazy=[once(services, deny_submitted)])

    async def cancel(body: dict[str, Any], respond: AsyncRespond) -> None:
        clicker, decision_id, _ = _click(body)
        text = await answer(
            f"cancel by {clicker}", decisions.cancel(decision_id, clicker, utcnow())
        )
        await tell(services, body, respond, text)

    app.action(blocks.CANCEL_ACTION)(ack=ack_only, lazy=[once(services, cancel)])


def _click(body: dict[str, Any]) -> tuple[str, int, dict[str, Any]]:
    """Who clicked, which decision (the only thing a button carries), and the action."""
    action = body["actions"][0]
    decision_id = blocks.decision_id_of(action.get("block_id"), action.get("value"))
    if decision_id is None:
        raise UnreadableClick("a decision button without a decision id")
    return body["user"]["id"], decision_id, action
