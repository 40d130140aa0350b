"""Delivering the outbox: right after the state change that wrote a notice, then by the
background pass until Slack takes it or it is given up.

:meth:`NoticeService.deliver` is the first try, made by the code that committed the change
(so the latency of a notice stays that of a DM), or, for a pass's revocations, once they
are all done (:meth:`NoticeService.after`: no revocation waits for Slack, nor shares the
CPU with its DMs), renewing the lease first; :meth:`NoticeService.deliver_due` runs after
each sweep. A notice given up is surfaced: a WARNING, the counter
``sharebot_notices_given_up_total`` (``on_given_up``) and, when ``admin_channel`` is set,
a post there naming the person and the notice's key (not its text).

:func:`keep_undelivered` is the messenger's ``on_undelivered`` hook for notices sent
outside the outbox (the messenger knows no database). A retry goes through
``messenger.dm``, not ``notify``, so a failed retry is recorded on its row instead of
being queued a second time. Logs name the notice and the user id, never the text.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.aio import bounded
from bot.app.messages import NoticeGivenUp, Rendered
from bot.app.ports import Say
from bot.clock import utcnow
from bot.domain.outbox import gives_up, is_permanent, next_attempt
from bot.errors import SlackDeliveryError
from bot.store.outbox import Notice, Outbox

log = logging.getLogger(__name__)

#: How long a claimed notice is left to its sender before another may try it (covers the
#: Slack client's time-out and retries several times over).
LEASE = timedelta(minutes=5)

#: Slack errors after which the rest of a pass is left for later: Slack is not answering
#: (None) or asks us to slow down.
_STOP_PASS = frozenset({None, "ratelimited"})


#: Told of a notice Slack did not take (whom, the text, why): the messenger's
#: ``on_undelivered`` (bot.slack.messenger), which knows no database.
UndeliveredHook = Callable[[str, str, SlackDeliveryError], Awaitable[None]]

#: Hands notices over for a later first try (:meth:`NoticeService.after`): their keys and
#: when they were leased to the caller.
Later = Callable[[list[str], datetime], None]


def keep_undelivered(outbox: Outbox, clock: Callable[[], datetime] = utcnow) -> UndeliveredHook:
    """The hook that stores a notice Slack did not take (off the event loop)."""

    async def keep(user_id: str, text: str, error: SlackDeliveryError) -> None:
        notice = await asyncio.to_thread(outbox.add, user_id, text, str(error), clock())
        log.info("notice:%d to %s kept; next try at %s", notice.id, user_id, notice.next_attempt_at)

    return keep


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    given_up: int = 0


class NoticeService:
    def __init__(
        self,
        outbox: Outbox,
        say: Say,
        *,
        lease: timedelta = LEASE,
        admin_channel: str | None = None,
        on_given_up: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.outbox = outbox
        self.clock = clock  # a renewed lease (deliver_leased) counts from the wall clock
        self.say = say
        self.lease = lease
        self.admin_channel = admin_channel
        self._on_given_up = on_given_up

    async def deliver(self, keys: list[str], now: datetime) -> DeliveryReport:
        """The first try of the notices just enqueued under ``keys``, leased to the caller
        (``enqueue(..., lease=self.lease)``): no claim to take, one write for all that went
        out. Never raises: what fails stays in the outbox for the sweep."""
        report = DeliveryReport()
        if not keys:
            return report
        try:
            sent: list[int] = []
            for notice in await asyncio.to_thread(self.outbox.pending_with_keys, keys):
                try:
                    await self.say.send(notice.slack_user_id, Rendered(notice.text, notice.blocks))
                except SlackDeliveryError as err:
                    await self._not_delivered(notice, err, now, report)
                    continue
                sent.append(notice.id)
                log.info("notice:%d to %s delivered", notice.id, notice.slack_user_id)
            if sent:
                report.sent += await asyncio.to_thread(self.outbox.sent_many, sent, now)
        except Exception:
            log.exception("outbox: first delivery of %s failed; the sweep will retry", keys)
        return report

    async def deliver_leased(self, keys: list[str], leased_at: datetime) -> DeliveryReport:
        """:meth:`deliver` made some time after the notices were leased to the caller (at
        ``leased_at``): the lease is renewed first, guarded by its end, so that a notice
        whose lease ran out and that another sender claimed meanwhile is left to it (a
        notice is sent once per lease). Never raises."""
        held = leased_at + self.lease
        try:
            mine = await asyncio.to_thread(
                self.outbox.renew, keys, held, max(held, self.clock() + self.lease)
            )
        except Exception:
            log.exception("outbox: could not renew the lease of %s; the sweep will retry", keys)
            return DeliveryReport()
        return await self.deliver(mine, leased_at)

    @asynccontextmanager
    async def after(self, width: int, batch: int = 50) -> AsyncIterator[Later]:
        """Collect the notices handed to the :data:`Later` yielded; on leaving, make their
        first tries, ``width`` batches of at most ``batch`` at once (one renewal, one read
        and one write a batch). When the caller fails or is cancelled nothing is tried:
        the outbox retries them once their lease has run out."""
        collected: dict[datetime, list[str]] = {}
        yield lambda keys, leased_at: collected.setdefault(leased_at, []).extend(keys)
        jobs = [
            functools.partial(self._deliver_batch, keys[i : i + batch], leased_at)
            for leased_at, keys in collected.items()
            for i in range(0, len(keys), batch)
        ]
        await bounded(width, jobs)

    async def _deliver_batch(self, keys: list[str], leased_at: datetime) -> None:
        await self.deliver_leased(keys, leased_at)

    async def deliver_due(
        self, now: datetime, limit: int = 100, *, keys: list[str] | None = None
    ) -> DeliveryReport:
        """Try every notice due at ``now`` once; safe on several replicas (claims)."""
        report = DeliveryReport()
        for due in await asyncio.to_thread(self.outbox.due, now, limit, keys=keys):
            notice = await asyncio.to_thread(self.outbox.claim, due.id, now, self.lease)
            if notice is None:
                continue  # another replica has it, or it was sent meanwhile
            try:
                await self.say.send(notice.slack_user_id, Rendered(notice.text, notice.blocks))
            except SlackDeliveryError as err:
                await self._not_delivered(notice, err, now, report)
                if err.code in _STOP_PASS:
                    break
                continue
            await asyncio.to_thread(self.outbox.sent, notice.id, now)
            report.sent += 1
            log.info("notice:%d to %s delivered", notice.id, notice.slack_user_id)
        return report

    async def _not_delivered(
        self, notice: Notice, err: SlackDeliveryError, now: datetime, report: DeliveryReport
    ) -> None:
        """Record a failed try: the next one after a backoff, or give up (and tell)."""
        attempts = notice.attempts + 1
        code = err.code or "Slack not reached"
        if is_permanent(err.code) or gives_up(notice.created_at, attempts, now):
            await asyncio.to_thread(self.outbox.give_up, notice.id, str(err), now)
            report.given_up += 1
            log.warning(
                "notice:%d (%s) to %s given up after %d tries: %s",
                notice.id,
                notice.key or "no key",
                notice.slack_user_id,
                attempts,
                code,
            )
            await self._surface(notice.slack_user_id, notice.key, attempts, code)
        else:
            retry_at = next_attempt(attempts, now, err.retry_after)
            await asyncio.to_thread(self.outbox.failed, notice.id, str(err), now, retry_at)
            report.failed += 1
            log.warning(
                "notice:%d to %s not delivered (try %d): %s; next try at %s",
                notice.id,
                notice.slack_user_id,
                attempts,
                code,
                retry_at,
            )

    async def _surface(self, user_id: str, key: str | None, attempts: int, error: str) -> None:
        """Tell the metrics and the admin channel of a notice given up."""
        if self._on_given_up is not None:
            self._on_given_up()
        if self.admin_channel is None:
            return
        try:
            await self.say.post(self.admin_channel, NoticeGivenUp(user_id, key, attempts, error))
        except SlackDeliveryError as err:
            log.warning("the admin channel was not told of a notice given up: %s", err)
