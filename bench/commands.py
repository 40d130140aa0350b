"""Benchmark: how fast sharebot answers Slack, against a real hub and the fake Slack API.

Starts JupyterHub (tests/support/hub.py), the fake Slack Web API and `sharebot serve`,
then sends signed slash commands over ONE keep-alive httpx.Client and prints:

- ack latency of `/share-server help` (answered inside the HTTP response),
- ack latency and end-to-end time (ack -> ephemeral reply at the response_url) of a share,
  which includes the hub calls (server list, share list, code creation) and the DM,
- the duration of one background pass with N open invitations.

Slack wants an ack within 3 s; the share path must stay far below that.
Run: `.venv/bin/python -m bench.commands [--shares 60] [--helps 300]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

from bot.clock import utcnow
from bot.store.db import ensure_schema, make_engine
from bot.store.repository import Repository
from bot.testing.fake_slack import FakeSlack
from tests.support.app import BOT_TOKEN, app_env, run_cli, sign, start_app
from tests.support.hub import start_hub


def body(user: str, text: str, response_url: str) -> str:
    return urlencode(
        {
            "user_id": user,
            "command": "/share-server",
            "text": text,
            "team_id": "T0TEST",
            "channel_id": "C0",
            "response_url": response_url,
            "trigger_id": "1",
        }
    )


def summary(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    return (
        f"{name:<28} n={len(ms):<4} median={statistics.median(ms):7.1f} ms  "
        f"p95={p95:7.1f} ms  max={ms[-1]:7.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shares", type=int, default=60)
    parser.add_argument("--helps", type=int, default=300)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sharebot-bench-"))
    recipients = [f"user{i}" for i in range(args.shares)]
    hub = start_hub(workdir, users=("owner", *recipients))
    fake = FakeSlack(tokens={BOT_TOKEN}).start()
    database_url = f"sqlite:///{workdir / 'bench.sqlite'}"
    env = app_env(hub, fake.api_url, database_url, SHAREBOT_SWEEP_INTERVAL="3600")
    engine = make_engine(database_url)
    ensure_schema(engine)
    repo = Repository(engine)
    repo.link("UOWNER", "owner", method="admin", by="bench", now=utcnow())
    for i, name in enumerate(recipients):
        repo.link(f"U{i:05d}", name, method="admin", by="bench", now=utcnow())
    app = start_app(env, workdir)
    try:
        with httpx.Client(base_url=app.url, timeout=30) as client:
            url = fake.new_response_url()
            helps = []
            for _ in range(args.helps):
                payload = body("UOWNER", "help", url)
                started = time.perf_counter()
                response = client.post("/slack/events", content=payload, headers=sign(payload))
                helps.append(time.perf_counter() - started)
                assert response.status_code == 200
            acks, ends = [], []
            for i in range(args.shares):
                url = fake.new_response_url()
                payload = body("UOWNER", f"<@U{i:05d}> 1h", url)
                started = time.perf_counter()
                response = client.post("/slack/events", content=payload, headers=sign(payload))
                acks.append(time.perf_counter() - started)
                assert response.status_code == 200
                fake.wait_for(lambda u=url: fake.responses(u), timeout=30)  # type: ignore[misc]
                ends.append(time.perf_counter() - started)
        started = time.perf_counter()
        result = run_cli(env, "sweep", "--once")
        sweep_wall = time.perf_counter() - started
        assert result.returncode == 0, result.stderr
        print(summary("ack: help", helps))
        print(summary("ack: share", acks))
        print(summary("share, end to end", ends))
        print(
            f"{'sweep --once (process)':<28} {args.shares} open invitations: "
            f"{sweep_wall * 1000:.0f} ms wall, including interpreter start-up"
        )
    finally:
        app.stop()
        fake.stop()
        hub.stop()
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
