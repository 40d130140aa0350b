"""Handing a listener's work to the worker process, and what happens when it cannot."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest

from bot.web.handoff import HandoffRunner, LocalRunner, strip_lazy, to_bolt_request, to_payload

BODY = "command=%2Fshare-server&text=%3C%40UALICE%3E+1h&user_id=UOWNER"


def lazy_request(**headers: str) -> AsyncBoltRequest:
    request = AsyncBoltRequest(
        body=BODY,
        headers={"content-type": "application/x-www-form-urlencoded", **headers},
    )
    request.lazy_only = True
    request.lazy_function_name = "share_server"
    return request


def test_the_worker_gets_the_request_marked_to_run_only_the_lazy_function() -> None:
    sent = to_payload(lazy_request(**{"x-slack-retry-num": "1"}))
    rebuilt = to_bolt_request(sent)
    assert rebuilt.raw_body == BODY
    assert rebuilt.body["text"] == "<@UALICE> 1h"
    assert rebuilt.headers["x-slack-retry-num"] == ["1"]
    assert rebuilt.lazy_only is True
    assert rebuilt.lazy_function_name == "share_server"


def test_lazy_headers_from_outside_are_not_passed_on() -> None:
    request = lazy_request(**{"X-Slack-Bolt-Lazy-Function-Name": "approve"})
    assert "x-slack-bolt-lazy-function-name" not in to_payload(request)["headers"]
    assert to_bolt_request(to_payload(request)).lazy_function_name == "share_server"
    headers = [
        (b"X-Slack-Bolt-Lazy-Only", b"1"),
        (b"x-slack-bolt-lazy-function-name", b"approve"),
        (b"x-slack-signature", b"v0=abc"),
    ]
    assert strip_lazy(headers) == [(b"x-slack-signature", b"v0=abc")]


async def test_work_the_worker_does_not_take_is_done_here(tmp_path: Path) -> None:
    runner = HandoffRunner(
        logging.getLogger("test"), str(tmp_path / "no-worker.sock"), secret="s" * 32
    )
    done: list[Any] = []

    async def share_server(body: dict[str, Any]) -> None:
        done.append(body["text"])

    runner.start(share_server, lazy_request())
    assert await runner.drain(timeout=10) == 0
    assert done == ["<@UALICE> 1h"]
    await runner.aclose()


async def test_drain_waits_for_the_work_under_way() -> None:
    runner = LocalRunner(logging.getLogger("test"))
    gate = asyncio.Event()

    async def home_opened() -> None:
        await gate.wait()

    runner.start(home_opened, lazy_request())
    assert await runner.drain(timeout=0.05) == 1  # still waiting on the gate
    gate.set()
    assert await runner.drain(timeout=10) == 0


def test_socket_mode_requests_are_handed_over_too() -> None:
    body = {"type": "block_actions", "user": {"id": "UOWNER"}, "actions": [{"value": "7"}]}
    request = AsyncBoltRequest(body=body, mode="socket_mode")
    request.lazy_function_name = "home_revoke"
    rebuilt = to_bolt_request(json.loads(json.dumps(to_payload(request))))
    assert rebuilt.mode == "socket_mode"
    assert rebuilt.body == body
    assert rebuilt.lazy_only and rebuilt.lazy_function_name == "home_revoke"


async def test_the_worker_runs_the_named_function_with_its_arguments() -> None:
    runner = LocalRunner(logging.getLogger("test"))
    got: list[Any] = []

    async def share_server(command: dict[str, Any]) -> None:
        got.append(command["user_id"])

    await runner.run(share_server, to_bolt_request(to_payload(lazy_request())))
    assert got == ["UOWNER"]
