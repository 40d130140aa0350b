"""SHAREBOT_WORKER_PROCESS=true: serve acks, a child process does the work and the jobs."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import Engine

from bot.sandbox.fake_slack import FakeSlack
from tests.support.app import RunningApp, sign, start_app
from tests.support.faults import poll
from tests.support.hub import RunningHub
from tests.support.processes import children
from tests.support.stories import accept_url_in, grants, share, share_users

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    # A zombie (exited, not yet reaped by its parent) is gone for our purposes.
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


@pytest.fixture
def worker_app(linked_env: dict[str, str], tmp_path: Path) -> Iterator[RunningApp]:
    running = start_app({**linked_env, "SHAREBOT_WORKER_PROCESS": "true"}, tmp_path)
    try:
        yield running
    finally:
        running.stop()


def the_worker(app: RunningApp) -> int:
    [pid] = poll(lambda: children(app.process.pid) or None, "the worker process", timeout=20)
    return pid


def test_the_work_and_the_sweep_run_in_the_worker(
    worker_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    app = worker_app
    worker = the_worker(app)
    assert f"work in process {worker}" in app.log()

    reply = share(app, slack, "UOWNER", "<@UALICE> 1h")
    assert "Invited <@UALICE>" in reply
    url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
    assert clean_hub.accept_share("alice", url).status_code == 302
    # Only the worker sweeps: this notice means its jobs run.
    slack.wait_for_dm("UOWNER", "accepted", timeout=20)
    assert share_users(clean_hub) == {"alice"}
    [grant] = grants(db)
    assert grant.state == "active"

    # The counters live in the worker; the web process's /metrics shows them.
    metrics = httpx.get(f"{app.url}/metrics", timeout=10).text
    assert "sharebot_grants_created_total 1.0" in metrics

    # Usage errors are still the acknowledgement itself, from the web process.
    ack = app.command("UOWNER", "<@UALICE> forever-ish", slack.new_response_url())
    assert ack.status_code == 200 and "Share your JupyterHub server" in ack.text


def test_a_killed_worker_is_replaced_and_no_command_is_lost(
    worker_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub
) -> None:
    app = worker_app
    first = the_worker(app)
    os.kill(first, signal.SIGKILL)
    poll(lambda: not alive(first) or None, "the worker to die", timeout=10)

    # Sent while there may be no worker: done by the web process, or by the new worker.
    reply = share(app, slack, "UOWNER", "<@UBOB> 30m")
    assert "Invited <@UBOB>" in reply
    slack.wait_for_dm("UBOB", "shared")

    second = poll(lambda: (children(app.process.pid) - {first}) or None, "a new worker", timeout=30)
    assert len(second) == 1
    assert "the worker process exited" in app.log()
    reply = share(app, slack, "UOWNER", "<@UCAROL> 30m")
    assert "Invited <@UCAROL>" in reply


def test_stopping_serve_stops_the_worker(worker_app: RunningApp) -> None:
    worker = the_worker(worker_app)
    worker_app.stop()
    poll(lambda: not alive(worker) or None, "the worker to stop", timeout=20)


def test_a_killed_serve_leaves_no_worker_behind(worker_app: RunningApp) -> None:
    worker = the_worker(worker_app)
    worker_app.process.kill()
    worker_app.process.wait()
    # The worker notices its parent is gone (a SIGKILL gives serve no chance to stop it).
    poll(lambda: not alive(worker) or None, "the orphaned worker to stop", timeout=20)


def test_lazy_only_headers_from_outside_are_ignored(app: RunningApp, slack: FakeSlack) -> None:
    """Bolt's lazy-only headers are not covered by Slack's signature: a replayed command
    carrying them must still get its acknowledgement, not skip it."""
    body = urlencode(
        {
            "user_id": "UOWNER",
            "command": "/share-server",
            "text": "help",
            "team_id": "T0TEST",
            "response_url": slack.new_response_url(),
        }
    )
    headers = {
        **sign(body),
        "X-Slack-Bolt-Lazy-Only": "1",
        "X-Slack-Bolt-Lazy-Function-Name": "share_server",
    }
    response = httpx.post(f"{app.url}/slack/events", content=body, headers=headers, timeout=10)
    assert response.status_code == 200
    assert "Share your JupyterHub server" in response.text
