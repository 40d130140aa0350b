"""``bot.aio.started``: work started at once, awaited in the block or not at all."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from bot.aio import started


async def test_the_work_runs_while_the_block_does_and_its_result_is_there_to_await() -> None:
    ran = asyncio.Event()

    async def work() -> int:
        ran.set()
        return 7

    async with started(work()) as future:
        await asyncio.wait_for(ran.wait(), 5)  # under way before anyone awaits it
        assert await future == 7
        assert await future == 7  # a future: awaited as often as needed


async def test_work_nobody_awaited_is_cancelled_and_its_error_collected() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    forever = asyncio.Event()

    async def hangs() -> None:
        await forever.wait()

    async def fails() -> None:
        raise RuntimeError("nobody asked")

    async with started(hangs()) as pending:
        pass
    assert pending.cancelled()
    async with started(fails()) as failed:
        await asyncio.sleep(0)
    assert failed.done()  # (not asked for its error here: started() collected it)
    del failed
    gc.collect()
    assert reported == []  # no "Task exception was never retrieved"
