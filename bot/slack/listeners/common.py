"""What every listener shares: the services it calls, answering a person, the work slots.

Every listener is split the way Bolt's lazy listeners are: an ``ack`` function that only
answers Slack (a usage error or help for a bad command, an empty 200 otherwise), and a
``lazy`` function that does the work afterwards. The app runs with
``process_before_response=True``, so the acknowledgement goes out as soon as the ``ack``
function returns; where the lazy part runs is the lazy listener runner's choice
(:mod:`bot.web.handoff`): a task in this process, or the worker process.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond

from bot.app.decisions import DecisionService
from bot.app.digest import DigestService
from bot.app.flags import FlagService
from bot.app.home import HomeService
from bot.app.linking import LinkingService
from bot.app.replays import Replays
from bot.app.sharing import Sharing
from bot.clock import utcnow
from bot.errors import SharebotError
from bot.slack import texts
from bot.slack.messenger import SlackMessenger
from bot.slack.replies import reply

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    sharing: Sharing
    decisions: DecisionService
    linking: LinkingService
    digest: DigestService
    flags: FlagService
    home: HomeService
    messenger: SlackMessenger
    replays: Replays


async def tell(
    services: Services, body: dict[str, Any], respond: AsyncRespond | None, text: str
) -> None:
    """Answer a click only the clicker sees: ephemerally in the conversation, or by DM for
    clicks on the Home tab (Slack gives those no response_url)."""
    if body.get("response_url") and respond is not None:
        await respond(text=text, response_type="ephemeral", replace_original=False)
    else:
        await services.messenger.notify(body["user"]["id"], text)


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


async def answer(what: str, work: Awaitable[object]) -> str:
    """The text for the person: the outcome in words, an error's, or a generic failure.

    Runs ``work`` when one of the process's :data:`WORK_AT_ONCE` slots is free."""
    async with _work_slots():
        try:
            return reply(await work)
        except SharebotError as err:
            log.info("%s refused: %s", what, err)
            return reply(err)
        except Exception:
            log.exception("%s failed", what)
            return texts.internal_error()


Work = Callable[..., Awaitable[None]]


class UnreadableClick(ValueError):
    """A signed click whose button carries nothing sharebot made (a forged or mangled
    value): it is acknowledged, logged once at INFO, and does nothing."""


def once(services: Services, work: Work) -> Work:
    """``work`` (a lazy listener) done once per Slack invocation: a signed command or click
    replayed within Slack's 5 minutes is acknowledged and does nothing, on any replica
    (:mod:`bot.app.replays`). Checked here, after the acknowledgement, so that it costs the
    acknowledgement nothing. ``work`` takes the request's ``body`` (or ``command``); Bolt
    reads the arguments to pass from ``work`` itself (``inspect.unwrap``), so the wrapper
    keeps its name and signature."""
    parameters = inspect.signature(work).parameters
    key = "command" if "command" in parameters else "body"
    if key not in parameters:
        raise TypeError(f"{work.__name__} must take body (or command) to be done once")

    @functools.wraps(work)
    async def first_time_only(**kwargs: Any) -> None:
        body = kwargs[key]
        trigger = body.get("trigger_id") if isinstance(body, dict) else None
        if await services.replays.first(trigger, work.__name__, utcnow()):
            try:
                await work(**kwargs)
            except UnreadableClick as err:
                log.info("ignored a click sharebot never made (%s): %s", work.__name__, err)

    return first_time_only


async def ack_only(ack: AsyncAck) -> None:
    """The acknowledgement of a click or event whose work is done afterwards (``lazy``)."""
    await ack()


async def done(outcome: object) -> object:
    return outcome
