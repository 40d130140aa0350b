"""A signed click whose button value sharebot never made is acknowledged and ignored: one
INFO line, no error, no work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import datetime
from typing import Any, cast

import pytest

from bot.slack.listeners.common import Services, UnreadableClick, once


async def _run(work: Awaitable[None]) -> None:
    await work


class _Replays:
    async def first(self, trigger: str | None, what: str, now: datetime) -> bool:
        return True


def test_an_unreadable_click_is_ignored_quietly(caplog: pytest.LogCaptureFixture) -> None:
    services = cast(Services, type("S", (), {"replays": _Replays()})())
    done: list[str] = []

    async def extend(body: dict[str, Any]) -> None:
        raise UnreadableClick("an Extend button without a grant id")

    async def fine(body: dict[str, Any]) -> None:
        done.append(body["trigger_id"])

    with caplog.at_level(logging.INFO):
        asyncio.run(_run(once(services, extend)(body={"trigger_id": "1.2"})))
        asyncio.run(_run(once(services, fine)(body={"trigger_id": "1.3"})))
    assert done == ["1.3"]
    [record] = [r for r in caplog.records if "never made" in r.getMessage()]
    assert record.levelno == logging.INFO and "without a grant id" in record.getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_other_errors_are_not_swallowed() -> None:
    services = cast(Services, type("S", (), {"replays": _Replays()})())

    async def broken(body: dict[str, Any]) -> None:
        raise RuntimeError("a real bug")

    with pytest.raises(RuntimeError):
        asyncio.run(_run(once(services, broken)(body={"trigger_id": "1.4"})))
