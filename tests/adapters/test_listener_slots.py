"""Commands and clicks are worked on a few at a time per process (acks are not held up)."""

from __future__ import annotations

import asyncio

import pytest

from bot.slack.listeners import common as listeners


async def test_work_beyond_the_slots_waits_its_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listeners, "WORK_AT_ONCE", 2)
    gate = asyncio.Event()
    started: list[int] = []

    async def work(i: int) -> str:
        started.append(i)
        await gate.wait()
        return f"done {i}"

    tasks = [asyncio.create_task(listeners.answer(f"job {i}", work(i))) for i in range(3)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert started == [0, 1]  # the third waits for a slot
    gate.set()
    assert await asyncio.wait_for(asyncio.gather(*tasks), timeout=5) == [
        "done 0",
        "done 1",
        "done 2",
    ]
