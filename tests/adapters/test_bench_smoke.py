"""The benchmark's own parts run, in a tiny configuration (the benchmarks themselves are
not part of the suite: ``python -m bench.perf``): the delay proxy delays each way and
passes the bytes unchanged; the reference Bolt app acknowledges a signed ``list`` and
answers it through the response_url; the closed loop times them."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from bench.delay_proxy import DelayProxy
from bench.floors import REPO, _closed
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.hub import free_port
from bot.sandbox.slack_client import BOT_TOKEN, SIGNING_SECRET, spawn_app, wait_healthy
from bot.sandbox.stack import new_database

DELAY = 0.05


def test_the_delay_proxy_delays_each_way(fake_slack: FakeSlack) -> None:
    proxy = DelayProxy.before(fake_slack.api_url, DELAY)
    try:
        with httpx.Client(timeout=10) as client:
            url = proxy.rewrite(fake_slack.api_url).rstrip("/") + "/auth.test"
            headers = {"Authorization": f"Bearer {BOT_TOKEN}"}
            client.post(url, headers=headers)  # the connection (one round trip more)
            started = time.perf_counter()
            answer = client.post(url, headers=headers)
            took = time.perf_counter() - started
    finally:
        proxy.stop()
    assert answer.json()["ok"] is True
    assert 2 * DELAY <= took < 2 * DELAY + 1.0, took
    assert proxy.connections == 1  # kept alive through the proxy


async def test_the_reference_app_answers_a_list(fake_slack: FakeSlack, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ref.sqlite'}"
    new_database(url, [("UOWNER", "owner")], by="test").dispose()
    port = free_port()
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api",  # a list never asks the hub
        "JUPYTERHUB_API_TOKEN": "unused",
        "PYTHONPATH": str(REPO),
        "PATH": "/usr/bin:/bin",
    }
    argv = ("-m", "bench.reference_app", "--port", str(port), "--database", url)
    app = spawn_app(env, tmp_path, port, argv=argv)
    try:
        wait_healthy(app)
        response_url = fake_slack.new_response_url()
        acks = await _closed(app.url, 2, 4, "list", response_url)
        fake_slack.wait_for(lambda: len(fake_slack.responses(response_url)) >= 4, timeout=10)
    finally:
        app.stop()
    assert len(acks) == 4 and all(0 < a < 10 for a in acks)
    assert fake_slack.responses(response_url)[0]["text"] == "0 open shares"
