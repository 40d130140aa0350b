"""Small asyncio helpers shared by the background jobs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence


async def bounded(limit: int, jobs: Sequence[Callable[[], Awaitable[None]]]) -> None:
    """Run ``jobs`` with at most ``limit`` in flight: a fixed pool of workers taking them in
    order. An exception stops only the worker that met it (the others finish the list)
    and is raised once every worker has stopped; jobs catch what they can handle."""
    pending = list(reversed(jobs))

    async def worker() -> None:
        while pending:
            await pending.pop()()

    results = await asyncio.gather(
        *(worker() for _ in range(min(limit, len(jobs)))), return_exceptions=True
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
