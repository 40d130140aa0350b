"""The background pass: end what is due, settle withdrawals, judge used links, watch
codes the hub has not confirmed gone, settle flags, recover interrupted invitations,
remind.

Each part runs whatever became of the others: a hub answer that cannot be read for one
server, or a server that cannot be reached, delays nothing else, and ending what is due
comes first (and again after an acceptance seen late, which may be due already). Home
tabs are refreshed once each at the end of the pass, not after every grant.

Ending what is due: the due grants are marked ending in a few writes (one per
``mark_batch``, the first one small), and ``concurrency`` slots end them as each batch is
written, each doing the hub's work and the write that records the end with its notices
(and lets its claim go); the end DMs are first tried once every slot is done (in
batches, ``concurrency`` at once), so a revocation never waits for Slack's answers to the
ones before it, nor shares the CPU with them (one grant due: its DMs go out right after
its end, as before).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bot.aio import bounded
from bot.app.codes import Codes
from bot.app.endings import Endings, db
from bot.app.flags import FlagService
from bot.app.messages import Audience, Reminder
from bot.app.recovery import Recovery
from bot.domain.grants import (
    UNACCEPTED_STATES,
    EndReason,
    Grant,
    GrantState,
    invitation_unconfirmed,
    is_due_to_expire,
    reminder_due,
)
from bot.errors import HubError, SharebotError, SlackDeliveryError

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    accepted: int = 0
    lapsed: int = 0
    ended: int = 0
    failures: int = 0
    expired_requests: int = 0
    reminded: int = 0
    recovered: int = 0  # interrupted invitations sent again (or closed) by this pass


class Sweep:
    def __init__(
        self,
        *,
        endings: Endings,
        codes: Codes,
        flags: FlagService,
        recovery: Recovery,
        concurrency: int = 10,
    ) -> None:
        self.endings = endings
        self.codes = codes
        self.flags = flags
        self.recovery = recovery
        self.grants = endings.grants
        # Grants ended at once by a pass (SHAREBOT_SWEEP_CONCURRENCY): revocations overlap
        # each other's hub and Slack calls instead of queueing one by one.
        self.concurrency = concurrency
        # Due grants marked ending in one write (a transaction's length stays bounded).
        self.mark_batch = 200

    async def run(self, now: datetime) -> SweepReport:
        report = SweepReport()
        parts: tuple[Callable[[datetime, SweepReport], Awaitable[None]], ...] = (
            self._end_due,
            self._settle_withdrawals,
            self._check_invitations,
            self._watch_codes,
            self._settle_flags,
            self._remind,
        )
        with self.endings.homes_at_the_end() as homes:
            try:
                for part in parts:
                    try:
                        await part(now, report)
                    except Exception:  # one part's surprise must not stop the others
                        report.failures += 1
                        log.exception("sweep: %s failed; the next pass tries again", part.__name__)
                if report.accepted:  # an acceptance seen late may be due already
                    await self._end_due(now, report)
                    # and its end may have taken scopes a pending flag named
                    await self._settle_flags(now, report)
            finally:
                refresh = self.endings.home.refresh
                await bounded(
                    self.concurrency, [functools.partial(refresh, s) for s in sorted(homes)]
                )
        return report

    async def _end_due(self, now: datetime, report: SweepReport) -> None:
        due = await db(self.grants.due, now, remind=False)
        expiring = [g for g in due.to_end if is_due_to_expire(g, now)]
        # what is ending already (a revoke the hub has not confirmed, a pass stopped halfway)
        left = await db(self.grants.grants, states=[GrantState.ENDING])
        if not expiring and not left:
            return
        queue: asyncio.Queue[Grant | None] = asyncio.Queue()
        handed: set[int] = set()

        def hand(grant: Grant) -> None:
            if grant.id not in handed:
                handed.add(grant.id)
                queue.put_nowait(grant)

        for grant in left:
            hand(grant)

        async def mark() -> None:
            """Mark the due grants ending, a batch a write, each batch handed to the slots
            as soon as it is written (the first one small, so that they start at once).
            Then whatever else is ending: what another replica marked meanwhile (its
            slots and ours split it by the claims: none is done twice)."""
            try:
                start = 0
                while start < len(expiring):
                    size = self.mark_batch if start else min(self.mark_batch, self.concurrency)
                    batch = expiring[start : start + size]
                    start += size
                    for ending in await self.endings.start_endings(
                        batch, EndReason.EXPIRED, "expire", now
                    ):
                        log.info("%s reached its deadline", ending.label)
                        hand(ending)
                if expiring:
                    for grant in await db(self.grants.grants, states=[GrantState.ENDING]):
                        hand(grant)
            finally:
                for _ in range(self.concurrency):
                    queue.put_nowait(None)  # each slot stops once the queue is empty

        async def finish(grant: Grant) -> None:
            try:
                async with self.endings.claimed(grant) as mine:
                    if mine is None:
                        return
                    if await self.endings.finish_claimed(mine, now):
                        report.ended += 1
                        return
            except Exception:  # one grant's surprise must not stop the others' revocation
                log.exception("%s: ending failed; the next pass tries again", grant.label)
            report.failures += 1

        async def slot() -> None:
            while (grant := await queue.get()) is not None:
                await finish(grant)

        # The slots do the hub's work only: the end DMs go out once every slot is done,
        # not before a slot takes its next grant (each is in the outbox with its end).
        async with self.endings.notices_after(self.concurrency):
            results = await asyncio.gather(
                mark(), *(slot() for _ in range(self.concurrency)), return_exceptions=True
            )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _settle_withdrawals(self, now: datetime, report: SweepReport) -> None:
        for grant in await db(self.grants.grants, states=[GrantState.WITHDRAWING]):
            try:
                if not await self.codes.settle_withdrawal_claimed(grant, now):
                    report.failures += 1
            except Exception:
                report.failures += 1
                log.exception("%s: withdrawal failed; the next pass tries again", grant.label)

    async def _check_invitations(self, now: datetime, report: SweepReport) -> None:
        invited = await db(self.grants.grants, states=[GrantState.INVITED])
        for grant in [g for g in invited if invitation_unconfirmed(g)]:
            # Held by a live worker (being sent now) unless its writer died: then it is ours.
            async with self.endings.claimed(grant) as mine:
                if mine is None or not invitation_unconfirmed(mine):
                    continue
                try:
                    if await self.recovery.recover(mine, now):
                        report.recovered += 1
                except HubError as err:
                    report.failures += 1
                    log.warning("%s: cannot recover the invitation yet: %s", grant.label, err)
        by_server: dict[tuple[str, str], list[Grant]] = defaultdict(list)
        for grant in [g for g in invited if not invitation_unconfirmed(g)]:
            by_server[(grant.owner_hub, grant.server)].append(grant)
        for (owner, server), grants in by_server.items():
            try:
                await self._check_claimed(owner, server, grants, now, report)
            except SharebotError as err:
                report.failures += 1
                log.warning("cannot check invitations of %s/%s: %s", owner, server, err)
            except Exception:
                report.failures += 1
                log.exception("checking the invitations of %s/%s failed", owner, server)

    async def _check_claimed(
        self, owner: str, server: str, grants: list[Grant], now: datetime, report: SweepReport
    ) -> None:
        """Check the invitations to one server that no other replica is checking."""
        claimed: dict[int, str] = {}  # grant id -> claim token
        fresh: list[Grant] = []
        try:
            for grant in grants:
                claim = await self.endings.claim(grant)
                if claim is not None:
                    claimed[grant.id] = claim[0]
                    fresh.append(claim[1])
            mine = [g for g in fresh if g.state is GrantState.INVITED]
            if mine:
                accepted, lapsed = await self.codes.check(owner, server, mine, now)
                report.accepted += accepted
                report.lapsed += lapsed
        finally:
            for grant_id, token in claimed.items():
                await db(self.grants.release, grant_id, token)

    async def _watch_codes(self, now: datetime, report: SweepReport) -> None:
        """Codes of accepted or closed grants the hub has not confirmed gone."""
        watched = [
            g
            for g in await db(self.grants.watched)
            if g.state not in UNACCEPTED_STATES and not invitation_unconfirmed(g)
        ]
        by_server: dict[tuple[str, str], list[Grant]] = defaultdict(list)
        for grant in watched:
            by_server[(grant.owner_hub, grant.server)].append(grant)
        for (owner, server), grants in by_server.items():
            try:
                await self.codes.watch(owner, server, grants, now)
            except SharebotError as err:
                report.failures += 1
                log.warning("cannot check the codes of %s/%s: %s", owner, server, err)

    async def _settle_flags(self, now: datetime, report: SweepReport) -> None:
        report.failures += await self.flags.settle_all(now)

    async def _remind(self, now: datetime, report: SweepReport) -> None:
        """Tell owner (with Extend) and recipient (with Ask for more time) of grants whose
        reminder time came (:func:`bot.domain.grants.remind_at`) that they end soon, once.

        ``reminded_at`` is set by a guarded update before anything is sent, so two passes
        or two replicas never remind twice (a failed DM is not retried).
        """
        if self.endings.reminders is None:  # SHAREBOT_REMIND_FRACTION=off
            return
        due = await db(self.grants.due, now)
        say = self.endings.say
        for grant in due.to_remind:
            if not reminder_due(grant, now):
                continue
            marked = await db(self.grants.mark_reminded, grant, now=now)
            if marked is None:
                continue
            log.info("%s ends at %s: reminding", grant.label, grant.expires_at)
            try:
                await say.dm(grant.owner_slack_id, Reminder(marked, Audience.OWNER))
            except SlackDeliveryError as err:
                log.warning("%s: reminder to the owner not delivered: %s", grant.label, err)
            try:  # with its blocks: the recipient's has Ask for more time
                await say.dm(grant.recipient_slack_id, Reminder(marked, Audience.RECIPIENT))
            except SlackDeliveryError as err:
                log.warning("%s: reminder to the recipient not delivered: %s", grant.label, err)
            report.reminded += 1
