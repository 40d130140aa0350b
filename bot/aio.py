"""Small asyncio helpers shared by the background jobs and the processes' lifespans."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")


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


class KeptTasks:
    """Tasks kept until they finish (asyncio holds only weak references to tasks), and
    waited for when the process stops."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[None]] = set()

    def start(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel(self) -> None:
        """Stop the tasks under way (work that another part takes up again anyway)."""
        await cancel_all([t for t in self._tasks if isinstance(t, asyncio.Task)])

    async def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for the tasks under way; returns how many are left."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        return len(self._tasks)


async def cancel_all(tasks: Iterable[asyncio.Task[None]]) -> None:
    """Cancel ``tasks`` and wait until each has stopped."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def started(work: Awaitable[T]) -> AsyncIterator[asyncio.Future[T]]:
    """``work`` started at once, as a future to await (any number of times) in the block;
    cancelled when the block ends without it done, and its end (or error) collected, so
    that a result nobody needed leaves no warning behind."""
    task = asyncio.ensure_future(work)
    try:
        yield task
    finally:
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
