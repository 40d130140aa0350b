"""Periodic work: the background pass (with decisions due and the outbox) and the digest
(with reconciliation). Safe to run twice or on two replicas: every step is a guarded
transition."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bot.app.decisions import DecisionService
from bot.app.digest import DigestReport, DigestService
from bot.app.notices import NoticeService
from bot.app.reconcile import Reconciler
from bot.app.replays import Replays
from bot.app.sweep import Sweep, SweepReport
from bot.clock import utcnow

log = logging.getLogger(__name__)


@dataclass
class Jobs:
    sweep: Sweep
    decisions: DecisionService
    notices: NoticeService
    digest: DigestService
    reconciler: Reconciler
    interval: float  # SHAREBOT_SWEEP_INTERVAL, seconds
    on_success: Callable[[str], None] = lambda job: None  # metrics: the job's last success
    clock: Callable[[], datetime] = utcnow
    replays: Replays | None = None  # trigger ids of old invocations are pruned by the pass

    async def sweep_once(self) -> SweepReport:
        now = self.clock()
        report = await self.sweep.run(now)
        report.expired_requests = await self.decisions.expire_overdue(now)
        if self.replays is not None:
            await self.replays.prune(now)
        notices = await self.notices.deliver_due(self.clock())
        if notices.sent or notices.failed or notices.given_up:
            log.info(
                "outbox: %d notices delivered, %d failed again, %d given up",
                notices.sent,
                notices.failed,
                notices.given_up,
            )
        if report.accepted or report.lapsed or report.ended or report.failures:
            log.info(
                "sweep: %d accepted, %d lapsed, %d ended, %d failures, %d requests expired",
                report.accepted,
                report.lapsed,
                report.ended,
                report.failures,
                report.expired_requests,
            )
        return report

    async def digest_once(self) -> DigestReport | None:
        """Reconcile when it is time to, and send today's digest once it is due."""
        now = self.clock()
        report = await self.digest.run_if_due(now)
        if report is None:
            await self.reconciler.reconcile_if_due(now)
        else:
            log.info(
                "digest of %s: %d sent, %d already sent, %d failed",
                report.day,
                report.sent,
                report.already_sent,
                report.failed,
            )
        return report

    async def every(
        self,
        job: str,
        step: Callable[[], Awaitable[object]],
        pause: Callable[[], Awaitable[float]] | None = None,
    ) -> None:
        """Run ``step`` every ``interval`` seconds (or after ``pause()`` seconds, when given)
        until cancelled, recording each success; a failure is logged and the next run comes
        as planned."""
        while True:
            try:
                await step()
                self.on_success(job)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s job failed; the next run is in %.0fs", job, self.interval)
            await asyncio.sleep(await pause() if pause is not None else self.interval)

    async def until_next_pass(self) -> float:
        """Seconds until the next background pass: the interval, or less when a grant's
        deadline comes sooner (a share ends on time, not up to an interval late)."""
        try:
            deadline = await asyncio.to_thread(self.sweep.grants.next_deadline)
        except Exception:  # the pass itself reports database trouble
            log.debug("next deadline unknown; the pass comes after the interval", exc_info=True)
            return self.interval
        return next_pause(self.clock(), deadline, self.interval)

    def start(self) -> list[asyncio.Task[None]]:
        """The background pass and the digest, forever, as tasks of the running loop."""
        return [
            asyncio.create_task(self.every("sweep", self.sweep_once, self.until_next_pass)),
            asyncio.create_task(self.every("digest", self.digest_once)),
        ]


#: A pass woken for a deadline comes this much after it, so that the deadline has passed
#: on every replica's clock by then.
DEADLINE_SLACK = 0.05
#: The shortest pause: a deadline already past (a grant another replica holds, say) must
#: not make the pass spin.
MIN_PAUSE = 0.5


def next_pause(now: datetime, deadline: datetime | None, interval: float) -> float:
    """How long the background pass sleeps: ``interval``, or until just after the next
    deadline when that is sooner (at least :data:`MIN_PAUSE`)."""
    if deadline is None:
        return interval
    until = (deadline - now).total_seconds() + DEADLINE_SLACK
    return min(interval, max(MIN_PAUSE, until))
