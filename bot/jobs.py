"""Periodic work. Safe to run twice or on two replicas: every step is a guarded transition."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from bot.service import ShareService, SweepReport

log = logging.getLogger(__name__)


async def sweep_once(service: ShareService, clock: Callable[[], datetime]) -> SweepReport:
    report = await service.sweep(clock())
    if report.accepted or report.lapsed or report.ended or report.failures:
        log.info(
            "sweep: %d accepted, %d lapsed, %d ended, %d failures",
            report.accepted,
            report.lapsed,
            report.ended,
            report.failures,
        )
    return report


async def sweep_forever(
    service: ShareService, interval: float, clock: Callable[[], datetime]
) -> None:
    """Run a pass every ``interval`` seconds until cancelled; a failed pass is logged."""
    while True:
        try:
            await sweep_once(service, clock)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background pass failed; the next one runs in %.0fs", interval)
        await asyncio.sleep(interval)
