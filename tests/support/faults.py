"""Building blocks of the fault tests and ``bench.faults``: a sharebot that kills itself at a
step (:mod:`tests.support.crashing_serve`), waiting for its death, polling with deadlines."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

from bot.sandbox.hub import REPO_ROOT
from bot.sandbox.slack_client import RunningApp, start_app

T = TypeVar("T")

#: Claims of a killed process run out after this many seconds (instead of 5 minutes).
CLAIM_TTL_SECONDS = "3"


def poll(find: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    """``find()`` until it returns something other than None; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = find()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def crash_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with short claims, and the repository importable (for the crash wrapper)."""
    return {**env, "SHAREBOT_CLAIM_TTL": CLAIM_TTL_SECONDS, "PYTHONPATH": str(REPO_ROOT)}


def start_crashing(
    env: dict[str, str], workdir: Path, target: str, *, before: bool = False, nth: int = 1
) -> RunningApp:
    """``sharebot serve`` that sends itself SIGKILL at ``target``'s ``nth`` call."""
    flag = "--crash-before" if before else "--crash-after"
    argv = ("-m", "tests.support.crashing_serve", flag, target, "--nth", str(nth), "--", "serve")
    return start_app(crash_env(env), workdir, argv=argv)


def start_normal(env: dict[str, str], workdir: Path) -> RunningApp:
    return start_app(crash_env(env), workdir)


def wait_killed(app: RunningApp, timeout: float = 30.0) -> None:
    """Until the process has died of SIGKILL (anything else fails)."""
    code = poll(app.process.poll, "the process to be killed", timeout)
    assert code == -signal.SIGKILL, f"exited with {code}:\n{app.log()[-3000:]}"


def command_until_killed(app: RunningApp, user: str, text: str, response_url: str) -> None:
    """Send a slash command to a process that may die while handling it."""
    with contextlib.suppress(httpx.TransportError):  # killed before it answered
        app.command(user, text, response_url)
