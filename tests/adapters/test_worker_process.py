"""Starting the worker process: a worker that cannot start is a clear error, not a hang."""

from __future__ import annotations

import pytest

from bot.errors import WorkerError
from bot.web.worker import WorkerProcess


def test_a_worker_that_exits_at_start_up_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # No Slack token: the worker's settings fail and it exits with 2.
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    worker = WorkerProcess(log_level="ERROR")
    try:
        with pytest.raises(WorkerError, match="exited with 2 at start-up"):
            worker.start(timeout=60)
    finally:
        worker.stop()
