"""The buttons of grants: Extend (the owner's reminder and the Home tab), Ask for more time
(the recipient's reminder), Share again (the owner's end-of-share DM), Revoke and Leave
(the Home tab), Revoke and "I shared it: keep" (access a link may have given someone
else), the accept link (a link button: Slack still sends the click, which is only
acknowledged), and the pages and filter of the admins' All shares (their Revoke is the
owner's button)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncRespond

from bot.app.outcomes import Reason, Refusal
from bot.clock import utcnow
from bot.slack import blocks
from bot.slack import home_view as home
from bot.slack.listeners.common import (
    Services,
    UnreadableClick,
    ack_only,
    answer,
    done,
    once,
    tell,
)


def register(app: AsyncApp, services: Services) -> None:
    app.action(blocks.ACCEPT_ACTION)(ack_only)

    async def extend(body: dict[str, Any], respond: AsyncRespond) -> None:
        clicker, grant_id, deadline = _deadline_click(body, "an Extend button")
        work = services.decisions.extend(grant_id, deadline, clicker, utcnow())
        await tell(services, body, respond, await answer(f"extend by {clicker}", work))

    app.action(blocks.EXTEND_ACTION)(ack=ack_only, lazy=[once(services, extend)])

    async def more_time(body: dict[str, Any], respond: AsyncRespond) -> None:
        clicker, grant_id, deadline = _deadline_click(body, "an Ask for more time button")
        work = services.decisions.ask_more_time(grant_id, deadline, clicker, utcnow())
        await tell(services, body, respond, await answer(f"more time asked by {clicker}", work))

    app.action(blocks.MORE_TIME_ACTION)(ack=ack_only, lazy=[once(services, more_time)])

    async def share_again(body: dict[str, Any], respond: AsyncRespond) -> None:
        clicker, grant_id = _grant_click(body)
        work = services.decisions.share_again(grant_id, clicker, utcnow())
        await tell(services, body, respond, await answer(f"share again by {clicker}", work))

    app.action(blocks.SHARE_AGAIN_ACTION)(ack=ack_only, lazy=[once(services, share_again)])

    async def home_revoke(body: dict[str, Any], respond: AsyncRespond) -> None:
        clicker, grant_id = _grant_click(body)
        work = services.sharing.revoke_grant(grant_id, clicker, utcnow())
        await tell(services, body, respond, await answer(f"revoke by {clicker}", work))

    app.action(home.REVOKE_ACTION)(ack=ack_only, lazy=[once(services, home_revoke)])

    async def home_leave(body: dict[str, Any], respond: AsyncRespond) -> None:
        clicker, grant_id = _grant_click(body)
        work = services.sharing.leave(grant_id, clicker, utcnow())
        await tell(services, body, respond, await answer(f"leave by {clicker}", work))

    app.action(home.LEAVE_ACTION)(ack=ack_only, lazy=[once(services, home_leave)])

    async def all_shares(body: dict[str, Any], respond: AsyncRespond) -> None:
        clicker = body["user"]["id"]
        action = body["actions"][0]
        value = (action.get("selected_option") or {}).get("value") or action.get("value")
        where = home.where_of(value if isinstance(value, str) else None)
        if where is None:
            raise UnreadableClick("an All shares click without a page or filter")
        refused = await services.home.show_all_shares(clicker, where)
        if refused is not None:
            await tell(
                services, body, respond, await answer(f"all shares by {clicker}", done(refused))
            )

    for action_id in (
        home.ALL_PREVIOUS_ACTION,
        home.ALL_NEXT_ACTION,
        home.ALL_OWNERS_ACTION,
        home.ALL_FILTER_ACTION,
    ):
        app.action(action_id)(ack=ack_only, lazy=[once(services, all_shares)])

    async def flag_decided(body: dict[str, Any], respond: AsyncRespond) -> None:
        clicker = body["user"]["id"]
        action = body["actions"][0]
        flag_id = blocks.flag_id_of(action.get("value"))
        keep = action.get("action_id") == blocks.FLAG_KEEP_ACTION
        work = (
            services.flags.decide(flag_id, clicker, keep, utcnow())
            if flag_id is not None
            else done(Refusal(Reason.FLAG_NOT_YOURS))
        )
        await tell(services, body, respond, await answer(f"access decision by {clicker}", work))

    app.action(blocks.FLAG_REVOKE_ACTION)(ack=ack_only, lazy=[once(services, flag_decided)])
    app.action(blocks.FLAG_KEEP_ACTION)(ack=ack_only, lazy=[once(services, flag_decided)])


def _grant_click(body: dict[str, Any]) -> tuple[str, int]:
    grant_id = home.grant_id_of(body["actions"][0].get("value"))
    if grant_id is None:
        raise UnreadableClick("a Home button without a grant id")
    return body["user"]["id"], grant_id


def _deadline_click(body: dict[str, Any], what: str) -> tuple[str, int, int]:
    """Who clicked, which grant, and the deadline the button was shown with."""
    target = blocks.extend_target(body["actions"][0].get("value"))
    if target is None:
        raise UnreadableClick(f"{what} without a grant id")
    grant_id, deadline = target
    return body["user"]["id"], grant_id, deadline
