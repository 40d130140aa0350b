"""Thin Bolt listeners: ack fast, parse, call the service, render.

Every listener is split the way Bolt's lazy listeners are: an ``ack`` function that only
answers Slack (a usage error or help for a bad command, an empty 200 otherwise), and a
``lazy`` function that does the work afterwards. The app runs with
``process_before_response=True``, so the acknowledgement goes out as soon as the ``ack``
function returns; where the lazy part runs is the lazy listener runner's choice
(:mod:`bot.web.handoff`): a task in this process, or the worker process.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest, AsyncRespond
from slack_bolt.response import BoltResponse

from bot.app.decisions import DecisionService
from bot.app.digest import DigestService
from bot.app.linking import LinkingService
from bot.app.sharing import ShareService
from bot.clock import utcnow
from bot.domain import commands
from bot.domain.durations import format_duration
from bot.errors import CommandError, SharebotError
from bot.slack import blocks, texts
from bot.slack import home_view as home

log = logging.getLogger(__name__)

COMMAND = "/share-server"


@dataclass(frozen=True)
class Services:
    shares: ShareService
    linking: LinkingService
    decisions: DecisionService


async def tell(
    services: Services, body: dict[str, Any], respond: AsyncRespond | None, text: str
) -> None:
    """Answer a click only the clicker sees: ephemerally in the conversation, or by DM for
    clicks on the Home tab (Slack gives those no response_url)."""
    if body.get("response_url") and respond is not None:
        await respond(text=text, response_type="ephemeral", replace_original=False)
    else:
        await services.shares.messenger.notify(body["user"]["id"], text)


#: Commands and clicks worked on at once by one process; the others wait their turn (each
#: has been acknowledged already). A burst of commands then leaves the event loop's queue
#: short, so the next acks are not stuck behind hundreds of half-done shares.
WORK_AT_ONCE = 16
_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _work_slots() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slots = _SLOTS.get(loop)
    if slots is None:
        slots = _SLOTS[loop] = asyncio.Semaphore(WORK_AT_ONCE)
    return slots


async def answer(what: str, work: Awaitable[str]) -> str:
    """The text for the person: the result, an error's user message, or a generic failure.

    Runs ``work`` when one of the process's :data:`WORK_AT_ONCE` slots is free."""
    async with _work_slots():
        try:
            return await work
        except SharebotError as err:
            log.info("%s refused: %s", what, err)
            return err.user_message
        except Exception:
            log.exception("%s failed", what)
            return texts.internal_error()


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


def register(
    app: AsyncApp,
    services: Services,
    *,
    max_duration: timedelta,
    allow_until_revoked: bool = False,
) -> None:
    max_text = format_duration(max_duration)

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

    def parse(command: dict[str, Any]) -> commands.Command:
        return commands.parse_command(
            command.get("text", ""),
            max_duration=max_duration,
            allow_until_revoked=allow_until_revoked,
        )

    async def share_ack(ack: AsyncAck, command: dict[str, Any]) -> None:
        """Usage errors and help are the acknowledgement itself; the rest is acked empty."""
        try:
            cmd = parse(command)
        except CommandError as err:
            await ack(response_type="ephemeral", text=texts.with_usage(err.user_message, max_text))
            return
        if isinstance(cmd, commands.Help):
            await ack(response_type="ephemeral", text=texts.usage(max_text))
            return
        await ack()

    async def share_server(command: dict[str, Any], respond: AsyncRespond) -> None:
        try:
            cmd = parse(command)
        except CommandError:
            return  # answered by the acknowledgement
        if isinstance(cmd, commands.Help):
            return
        caller = command["user_id"]
        text = await answer(f"/share-server from {caller}", run(services, caller, cmd))
        await respond(text=text, response_type="ephemeral", replace_original=False)

    app.command(COMMAND)(ack=share_ack, lazy=[share_server])

    # A link button opens the browser; Slack still sends the click, which we only ack.
    app.action(blocks.ACCEPT_ACTION)(ack_only)

    async def approve(body: dict[str, Any], respond: AsyncRespond) -> None:
        clicker, decision_id, _ = _click(body)
        text = await answer(
            f"approval by {clicker}", services.decisions.approve(decision_id, clicker, utcnow())
        )
        await tell(services, body, respond, text)

    app.action(blocks.APPROVE_ACTION)(ack=ack_only, lazy=[approve])

    async def approve_for(body: dict[str, Any], respond: AsyncRespond) -> None:
        clicker, decision_id, action = _click(body)
        seconds = str((action.get("selected_option") or {}).get("value") or "")
        duration = timedelta(seconds=int(seconds)) if seconds.isdigit() else None
        work = services.decisions.approve(decision_id, clicker, utcnow(), duration)
        text = await answer(f"approval by {clicker}", work)
        await tell(services, body, respond, text)

    app.action(blocks.APPROVE_FOR_ACTION)(ack=ack_only, lazy=[approve_for])

    async def deny(body: dict[str, Any], respond: AsyncRespond, client: Any) -> None:
        clicker, decision_id, _ = _click(body)
        refusal = await answer(
            f"deny by {clicker}",
            _none_as_empty(services.decisions.can_decide(decision_id, clicker)),
        )
        if refusal:
            await tell(services, body, respond, refusal)
            return
        await client.views_open(
            trigger_id=body["trigger_id"], view=blocks.deny_modal(decision_id).to_dict()
        )

    app.action(blocks.DENY_ACTION)(ack=ack_only, lazy=[deny])

    async def deny_submitted(body: dict[str, Any], view: dict[str, Any]) -> None:
        clicker = body["user"]["id"]
        decision_id = int(view["private_metadata"])
        values = view.get("state", {}).get("values", {})
        note = (
            values.get(blocks.DENY_REASON_BLOCK, {}).get(blocks.DENY_REASON_INPUT, {}).get("value")
        )
        text = await answer(
            f"deny by {clicker}",
            services.decisions.deny(decision_id, clicker, note or "", utcnow()),
        )
        log.info("deny of decision %s by %s: %s", decision_id, clicker, text[:80])

    app.view(blocks.DENY_MODAL)(ack=ack_only, lazy=[deny_submitted])

    async def cancel(body: dict[str, Any], respond: AsyncRespond) -> None:
        clicker, decision_id, _ = _click(body)
        text = await answer(
            f"cancel by {clicker}", services.decisions.cancel(decision_id, clicker, utcnow())
        )
        await tell(services, body, respond, text)

    app.action(blocks.CANCEL_ACTION)(ack=ack_only, lazy=[cancel])

    async def extend(body: dict[str, Any], respond: AsyncRespond) -> None:
        clicker = body["user"]["id"]
        target = blocks.extend_target(body["actions"][0].get("value"))
        if target is None:
            raise ValueError("an Extend button without a grant id")
        grant_id, deadline = target
        work = services.decisions.extend(grant_id, deadline, clicker, utcnow())
        await tell(services, body, respond, await answer(f"extend by {clicker}", work))

    app.action(blocks.EXTEND_ACTION)(ack=ack_only, lazy=[extend])

    async def home_revoke(body: dict[str, Any], respond: AsyncRespond) -> None:
        clicker, grant_id = _grant_click(body)
        work = services.shares.revoke_grant(grant_id, clicker, utcnow())
        await tell(services, body, respond, await answer(f"revoke by {clicker}", work))

    app.action(home.REVOKE_ACTION)(ack=ack_only, lazy=[home_revoke])

    async def home_leave(body: dict[str, Any], respond: AsyncRespond) -> None:
        clicker, grant_id = _grant_click(body)
        work = services.shares.leave(grant_id, clicker, utcnow())
        await tell(services, body, respond, await answer(f"leave by {clicker}", work))

    app.action(home.LEAVE_ACTION)(ack=ack_only, lazy=[home_leave])

    async def flag_decided(body: dict[str, Any], respond: AsyncRespond) -> None:
        clicker = body["user"]["id"]
        action = body["actions"][0]
        flag_id = blocks.flag_id_of(action.get("value"))
        keep = action.get("action_id") == blocks.FLAG_KEEP_ACTION
        work = (
            services.shares.decide_flag(flag_id, clicker, keep, utcnow())
            if flag_id is not None
            else _text(texts.flag_not_yours())
        )
        await tell(services, body, respond, await answer(f"access decision by {clicker}", work))

    app.action(blocks.FLAG_REVOKE_ACTION)(ack=ack_only, lazy=[flag_decided])
    app.action(blocks.FLAG_KEEP_ACTION)(ack=ack_only, lazy=[flag_decided])

    async def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            await services.shares.home.refresh(str(event["user"]))

    app.event("app_home_opened")(ack=ack_only, lazy=[home_opened])


async def ack_only(ack: AsyncAck) -> None:
    """The acknowledgement of a click or event whose work is done afterwards (``lazy``)."""
    await ack()


def _grant_click(body: dict[str, Any]) -> tuple[str, int]:
    grant_id = home.grant_id_of(body["actions"][0].get("value"))
    if grant_id is None:
        raise ValueError("a Home button without a grant id")
    return body["user"]["id"], grant_id


def _click(body: dict[str, Any]) -> tuple[str, int, dict[str, Any]]:
    """Who clicked, which decision (the only thing a button carries), and the action."""
    action = body["actions"][0]
    decision_id = blocks.decision_id_of(action.get("block_id"), action.get("value"))
    if decision_id is None:
        raise ValueError("a decision button without a decision id")
    return body["user"]["id"], decision_id, action


def next_value(headers: Mapping[str, Sequence[str]], name: str) -> str:
    return next(iter(headers.get(name) or ()), "")


async def _none_as_empty(work: Awaitable[str | None]) -> str:
    return (await work) or ""


async def run(services: Services, caller: str, cmd: commands.Command) -> str:
    now = utcnow()
    if isinstance(cmd, commands.Share):
        return await services.decisions.share_or_hold(caller, cmd, now)
    if isinstance(cmd, commands.Request):
        return await services.decisions.request(caller, cmd, now)
    if isinstance(cmd, commands.ListShares):
        return await services.shares.list_shares(caller)
    if isinstance(cmd, commands.Revoke):
        return await services.shares.revoke(caller, cmd, now)
    if isinstance(cmd, commands.LinkAccount):
        return await services.linking.issue(caller, now)
    if isinstance(cmd, commands.UnlinkAccount):
        return await services.linking.unlink(caller, now)
    if isinstance(cmd, commands.WhoAmI):
        return await services.linking.whoami(caller)
    raise AssertionError(f"unhandled command {cmd!r}")


def register_digest(app: AsyncApp, digest: DigestService) -> None:
    """The digest's buttons: Revoke, Keep, Revoke all stale (only for the digest's owner)."""

    def button(action_id: str, what: str, op: Callable[[int, str, str], Awaitable[str]]) -> None:
        """``op(message id, item ref, clicker)`` does the work and returns the reply."""

        async def clicked(body: dict[str, Any], respond: AsyncRespond) -> None:
            action = body["actions"][0]
            clicker = body["user"]["id"]
            message_id = blocks.digest_message_id(action.get("block_id"))
            work = (
                op(message_id, str(action.get("value") or ""), clicker)
                if message_id is not None
                else _text(texts.digest_unknown_item())
            )
            text = await answer(f"{what} by {clicker}", work)
            await respond(text=text, response_type="ephemeral", replace_original=False)

        app.action(action_id)(ack=ack_only, lazy=[clicked])

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


async def _text(text: str) -> str:
    return text
