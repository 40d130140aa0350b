"""Authenticated internals: the worker's socket (0600, a per-start secret), ``/metrics``
behind an optional bearer token, a cheap and quiet ``/readyz``, requests from another
workspace or app ignored, and a bot token Slack refuses. Real processes over HTTP."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import Engine

from bot.sandbox.fake_slack import FakeSlack
from bot.slack import home_view as home
from tests.support.app import BOT_TOKEN, RunningApp, block_action, sign, start_app
from tests.support.faults import poll
from tests.support.hub import RunningHub
from tests.support.observe import decisions
from tests.support.processes import children
from tests.support.stories import grants, share

pytestmark = pytest.mark.integration

METRICS_TOKEN = "metrics-token-0123456789abcdef"


def home_opened_body(user: str, team: str = "T0TEST", app_id: str = "A0SHAREBOT") -> str:
    return json.dumps(
        {
            "token": "unused-verification-token",
            "team_id": team,
            "api_app_id": app_id,
            "event": {"type": "app_home_opened", "user": user, "tab": "home", "event_ts": "1.2"},
            "type": "event_callback",
            "event_id": f"Ev{time.time_ns()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True}],
        }
    )


def forged_work(user: str) -> dict[str, Any]:
    """What the web process hands the worker for a Home tab opened by ``user``."""
    return {
        "mode": "http",
        "body": home_opened_body(user),
        "query": {},
        "headers": {"content-type": ["application/json"]},
        "function": "home_opened",
    }


def homes_published(slack: FakeSlack, user: str) -> int:
    return sum(1 for c in slack.calls("views.publish") if c.params.get("user_id") == user)


def environ_names(pid: int) -> set[bytes]:
    return {v.split(b"=", 1)[0] for v in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")}


def uds(path: str, **headers: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=path), timeout=5, headers=headers)


# -- the worker's socket ----------------------------------------------------------------------


@pytest.fixture
def worker_app(linked_env: dict[str, str], tmp_path: Path) -> Iterator[RunningApp]:
    running = start_app({**linked_env, "SHAREBOT_WORKER_PROCESS": "true"}, tmp_path)
    try:
        yield running
    finally:
        running.stop()


def test_the_workers_socket_is_private_and_refuses_requests_without_the_secret(
    worker_app: RunningApp, slack: FakeSlack
) -> None:
    app = worker_app
    [worker] = poll(lambda: children(app.process.pid) or None, "the worker process", timeout=20)
    argv = Path(f"/proc/{worker}/cmdline").read_bytes().split(b"\0")
    socket_path = argv[argv.index(b"--socket") + 1].decode()
    assert stat.S_IMODE(os.stat(socket_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(socket_path)).st_mode) == 0o700
    # The secret is given on stdin: the worker has serve's environment, nothing added.
    assert environ_names(worker) == environ_names(app.process.pid)

    for headers in ({}, {"Authorization": "Bearer " + "x" * 43}, {"Authorization": "Basic x"}):
        with uds(socket_path, **headers) as client:
            assert client.post("http://worker/work", json=forged_work("UOWNER")).status_code == 401
            assert client.get("http://worker/metrics").status_code == 401
    # A genuine Home tab through the web process is done by the worker; the forged one not.
    assert (
        app.event({"type": "app_home_opened", "user": "UALICE", "tab": "home"}).status_code == 200
    )
    poll(lambda: homes_published(slack, "UALICE") or None, "Alice's Home tab", timeout=20)
    assert homes_published(slack, "UOWNER") == 0
    assert app.log().count("refused a request to the worker") == 6
    # serve's own requests carry the secret: /metrics shows the worker's.
    assert httpx.get(f"{app.url}/metrics", timeout=10).status_code == 200


def test_a_worker_does_the_work_only_with_its_secret(
    linked_env: dict[str, str], slack: FakeSlack, tmp_path: Path
) -> None:
    """The positive control of the test above: the same forged request, with the secret."""
    secret = "s3cret-" + "0123456789" * 4
    socket_path = str(tmp_path / "worker.sock")
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log_file:
        worker = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker", "--socket", socket_path],
            env=linked_env,
            stdin=subprocess.PIPE,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    assert worker.stdin is not None
    worker.stdin.write(secret.encode() + b"\n")
    worker.stdin.close()
    try:
        with uds(socket_path, Authorization=f"Bearer {secret}") as client:

            def answers() -> bool | None:
                assert worker.poll() is None, log_path.read_text()
                try:
                    return client.get("http://worker/healthz").status_code == 200 or None
                except httpx.TransportError:
                    return None

            poll(answers, "the worker to answer", timeout=30)
            assert stat.S_IMODE(os.stat(socket_path).st_mode) == 0o600
            with uds(socket_path) as stranger:
                assert (
                    stranger.post("http://worker/work", json=forged_work("UBOB")).status_code == 401
                )
            assert client.post("http://worker/work", json=forged_work("UCAROL")).status_code == 202
            poll(lambda: homes_published(slack, "UCAROL") or None, "Carol's Home tab", timeout=20)
            assert homes_published(slack, "UBOB") == 0
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert secret not in log_path.read_text()


def test_a_worker_started_by_hand_without_a_secret_says_so(
    linked_env: dict[str, str], tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "worker", "--socket", str(tmp_path / "w.sock")],
        env=linked_env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "reads a secret" in done.stderr and "Traceback" not in done.stderr


# -- /metrics and /readyz ---------------------------------------------------------------------


@pytest.fixture
def metered_app(linked_env: dict[str, str], tmp_path: Path) -> Iterator[RunningApp]:
    running = start_app({**linked_env, "SHAREBOT_METRICS_TOKEN": METRICS_TOKEN}, tmp_path)
    try:
        yield running
    finally:
        running.stop()


def test_metrics_need_the_token_when_one_is_set(metered_app: RunningApp) -> None:
    url = f"{metered_app.url}/metrics"
    with httpx.Client(timeout=10) as client:
        for headers in (
            {},
            {"Authorization": f"Bearer {METRICS_TOKEN}x"},
            {"Authorization": f"Bearer {METRICS_TOKEN[:-1]}"},
            {"Authorization": f"Basic {METRICS_TOKEN}"},
            {"Authorization": METRICS_TOKEN},
        ):
            response = client.get(url, headers=headers)
            assert response.status_code == 401, headers
            assert response.headers["www-authenticate"] == "Bearer"
            assert "sharebot_" not in response.text
        response = client.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert response.status_code == 200
        assert "sharebot_grants_created_total" in response.text
        # The other probes need no token.
        assert client.get(f"{metered_app.url}/readyz").status_code == 200
    assert METRICS_TOKEN not in metered_app.log()


def test_metrics_are_open_without_a_token(app: RunningApp) -> None:
    response = httpx.get(f"{app.url}/metrics", timeout=10)
    assert response.status_code == 200 and "sharebot_grants" in response.text


def test_readyz_is_cheap_and_quiet(app: RunningApp) -> None:
    log_before = app.log()
    took = []
    with httpx.Client(timeout=10) as client:
        for _ in range(50):
            started = time.monotonic()
            response = client.get(f"{app.url}/readyz")
            took.append(time.monotonic() - started)
            assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert app.log() == log_before  # not a line per probe
    took.sort()
    assert took[25] < 0.05, f"median {took[25] * 1000:.0f} ms"
    assert took[-1] < 0.5, f"slowest {took[-1] * 1000:.0f} ms"


# -- another workspace or app -------------------------------------------------------------------


def command_body(user: str, text: str, url: str, *, team: str, app_id: str) -> str:
    return urlencode(
        {
            "token": "unused-verification-token",
            "team_id": team,
            "team_domain": "elsewhere",
            "channel_id": "C0GENERAL",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/share-server",
            "text": text,
            "api_app_id": app_id,
            "response_url": url,
            "trigger_id": f"trigger-{time.time_ns()}",
        }
    )


@pytest.mark.parametrize(
    ("team", "app_id"), [("T0OTHER", "A0SHAREBOT"), ("T0TEST", "A0OTHERAPP")], ids=["team", "app"]
)
def test_signed_requests_from_another_workspace_or_app_do_nothing(
    team: str,
    app_id: str,
    app: RunningApp,
    slack: FakeSlack,
    clean_hub: RunningHub,
    db: Engine,
) -> None:
    def post(body: str, content_type: str = "application/x-www-form-urlencoded") -> None:
        headers = {**sign(body), "Content-Type": content_type}
        response = httpx.post(f"{app.url}/slack/events", content=body, headers=headers, timeout=10)
        assert response.status_code == 200 and response.text == "", response.text

    command_url = slack.new_response_url()
    post(command_body("UOWNER", "<@UALICE> 1h", command_url, team=team, app_id=app_id))
    post(command_body("UOWNER", "request <@UBOB> 1h", command_url, team=team, app_id=app_id))
    click_url = slack.new_response_url()
    click = block_action("UOWNER", home.REVOKE_ACTION, click_url, value="1")
    click["team"]["id"] = team
    click["user"]["team_id"] = team
    click["api_app_id"] = app_id
    post(urlencode({"payload": json.dumps(click)}))
    post(home_opened_body("UBOB", team, app_id), "application/json")

    # A genuine command after them is answered: anything let in would have acted by then.
    assert "Invited <@UCAROL>" in share(app, slack, "UOWNER", "<@UCAROL> 1h")
    assert [g.recipient_hub for g in grants(db)] == ["carol"]
    assert decisions(db) == []
    assert slack.responses(command_url) == [] and slack.responses(click_url) == []
    assert homes_published(slack, "UBOB") == 0
    assert slack.dms_to("UALICE") == [] and slack.dms_to("UBOB") == []
    warnings = [line for line in app.log().splitlines() if "ignored a signed" in line]
    assert len(warnings) == 4 and all("WARNING" in line for line in warnings)
    assert (team if team != "T0TEST" else app_id) in warnings[0]


# -- a bot token Slack refuses ------------------------------------------------------------------


def test_a_bot_token_slack_refuses_is_an_error_and_not_ready(
    linked_env: dict[str, str], tmp_path: Path
) -> None:
    with FakeSlack(tokens={"xoxb-some-other-token"}) as stranger:
        running = start_app({**linked_env, "SLACK_API_URL": stranger.api_url}, tmp_path)
        try:
            with httpx.Client(timeout=10) as client:
                ready = client.get(f"{running.url}/readyz")
                assert ready.status_code == 503
                assert ready.json()["status"] == "not ready"
                assert "Slack refused the bot token (invalid_auth)" in ready.json()["reason"]
                assert client.get(f"{running.url}/healthz").status_code == 200
                # Still so later: until restarted with a token Slack takes.
                assert client.get(f"{running.url}/readyz").status_code == 503
        finally:
            running.stop()
    log = running.log()
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert len(errors) == 1, errors
    assert "SLACK_BOT_TOKEN" in errors[0] and "OAuth & Permissions" in errors[0]
    assert BOT_TOKEN not in log and "Traceback" not in log
