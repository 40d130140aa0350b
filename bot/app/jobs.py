"""Periodic work. Safe to run twice or on two replicas: every step is a guarded transition."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.app.digest import DigestReport, DigestService
from bot.app.digest import from_runtime as digest_service
from bot.app.sharing import SweepReport
from bot.clock import utcnow
from bot.runtime import Runtime

log = logging.getLogger(__name__)


async def sweep_once(runtime: Runtime, clock: Callable[[], datetime]) -> SweepReport:
    now = clock()
    report = await runtime.service.sweep(now)
    report.expired_requests = await runtime.decisions.expire_overdue(now)
    notices = await runtime.notices.deliver_due(clock())
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


async def sweep_forever(runtime: Runtime, interval: float, clock: Callable[[], datetime]) -> None:
    """Run a pass every ``interval`` seconds until cancelled; a failed pass is logged."""
    await _every(runtime, "sweep", interval, lambda: sweep_once(runtime, clock))


async def _every(
    runtime: Runtime, job: str, interval: float, step: Callable[[], Awaitable[object]]
) -> None:
    """Run ``step`` every ``interval`` seconds until cancelled, recording each success
    (metrics ``job``); a failure is logged and the next run comes as planned."""
    while True:
        try:
            await step()
            runtime.metrics.job_succeeded(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s job failed; the next run is in %.0fs", job, interval)
        await asyncio.sleep(interval)


async def digest_once(digest: DigestService, clock: Callable[[], datetime]) -> DigestReport | None:
    """Reconcile when it is time to, and send today's digest once it is due."""
    now = clock()
    report = await digest.run_if_due(now)
    if report is None:
        await digest.reconcile_if_due(now)
    else:
        log.info(
            "digest of %s: %d sent, %d already sent, %d failed",
            report.day,
            report.sent,
            report.already_sent,
            report.failed,
        )
    return report


async def digest_forever(
    runtime: Runtime, digest: DigestService, interval: float, clock: Callable[[], datetime]
) -> None:
    """Check every ``interval`` seconds whether to reconcile or send the digest."""
    await _every(runtime, "digest", interval, lambda: digest_once(digest, clock))


def start_jobs(runtime: Runtime) -> list[asyncio.Task[None]]:
    """The sweep and the digest, forever, as tasks of the running loop."""
    interval = runtime.settings.sweep_interval
    return [
        asyncio.create_task(sweep_forever(runtime, interval, utcnow)),
        asyncio.create_task(digest_forever(runtime, digest_service(runtime), interval, utcnow)),
    ]
