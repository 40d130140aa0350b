"""Figures for "nothing let in": forged requests rejected, and concurrent clicks' outcomes.

Starts JupyterHub (tests/support/hub.py), the fake Slack Web API and `sharebot serve`, then:

- sends each kind of forged request (tests/support/forged.py) N times, as a slash command
  that would share a server, and counts the 401s and any side effect (Slack calls, grants,
  hub share codes);
- has K approvers click Approve on one approval at the same moment (threads, ONE shared
  httpx.Client), R times, and counts the outcomes: exactly one approval and one grant each.

Run: `.venv/bin/python -m bench.faults_security [--n 20] [--approvers 10] [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import functools
import json
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.sandbox.fake_slack import FakeSlack
from bot.slack import blocks
from bot.store.db import ensure_schema, make_engine
from bot.store.links import Links
from bot.store.models import GrantRow
from tests.support.app import BOT_TOKEN, app_env, block_action, sign, start_app
from tests.support.forged import FORGERIES, share_command
from tests.support.hub import RunningHub, start_hub


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20, help="requests of each forged kind")
    parser.add_argument("--approvers", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sharebot-bench-"))
    hub = start_hub(workdir, users=("owner", "alice"))
    fake = FakeSlack(tokens={BOT_TOKEN}).start()
    approvers = [f"UAPPROVER{i:02d}" for i in range(args.approvers)]
    for slack_id in ("UOWNER", "UALICE", *approvers):
        fake.add_user(slack_id, name=slack_id.lower())
    database_url = f"sqlite:///{workdir / 'bench.sqlite'}"
    env = app_env(
        hub,
        fake.api_url,
        database_url,
        SHAREBOT_SWEEP_INTERVAL="3600",
        SHAREBOT_APPROVAL_ABOVE="1d",
        SHAREBOT_APPROVERS=",".join(approvers),
    )
    engine = make_engine(database_url)
    ensure_schema(engine)
    repo = Links(engine)
    repo.link("UOWNER", "owner", method="admin", by="bench", now=utcnow())
    repo.link("UALICE", "alice", method="admin", by="bench", now=utcnow())

    def grant_count() -> int:
        with Session(engine) as session:
            return int(session.scalar(select(func.count()).select_from(GrantRow)) or 0)

    app = start_app(env, workdir)
    try:
        with httpx.Client(base_url=app.url, timeout=30) as client:
            print(f"{'forged request':<28} {'sent':>5} {'401':>5} {'other':>6}")
            total_sent = total_401 = 0
            calls_before, grants_before = len(fake.calls()), grant_count()
            for kind, forge in FORGERIES.items():
                statuses: collections.Counter[int] = collections.Counter()
                for _ in range(args.n):
                    url = fake.new_response_url()
                    payload, headers = forge(share_command("UOWNER", "<@UALICE> 1h", url))
                    statuses[
                        client.post("/slack/events", content=payload, headers=headers).status_code
                    ] += 1
                rejected = statuses[401]
                total_sent += args.n
                total_401 += rejected
                others = ",".join(f"{s}x{c}" for s, c in statuses.items() if s != 401) or "-"
                print(f"{kind:<28} {args.n:>5} {rejected:>5} {others:>6}")
            side_effects = (
                len(fake.calls())
                - calls_before
                + grant_count()
                - grants_before
                + len(hub.share_codes("owner"))
            )
            print(
                f"{'all forged':<28} {total_sent:>5} {total_401:>5}   side effects: {side_effects}"
            )
            print()
            click_rounds(client, fake, hub, approvers, args.rounds, grant_count)
    finally:
        app.stop()
        fake.stop()
        hub.stop()
        engine.dispose()
    return 0


def click_rounds(
    client: httpx.Client,
    fake: FakeSlack,
    hub: RunningHub,
    approvers: list[str],
    rounds: int,
    grant_count: Callable[[], int],
) -> None:
    print(f"concurrent Approve clicks: {len(approvers)} approvers at once, one shared client")
    print(f"{'round':<6} {'approved':>9} {'already decided':>16} {'other':>6} {'grants':>7}")
    for round_ in range(rounds):
        before = grant_count()
        url = fake.new_response_url()
        body = share_command("UOWNER", "<@UALICE> 2d", url)
        assert client.post("/slack/events", content=body, headers=sign(body)).status_code == 200
        fake.wait_for(lambda u=url: fake.responses(u), timeout=30)  # type: ignore[misc]
        asks = fake.wait_for(
            lambda r=round_: [m for m in fake.dms_to(approvers[-1]) if "policy asks" in m["text"]][
                r:
            ],
            timeout=30,
        )
        block_id, value = _approve_button(asks[0])
        urls = [fake.new_response_url() for _ in approvers]
        payloads = [
            urlencode(
                {
                    "payload": json.dumps(
                        block_action(user, blocks.APPROVE_ACTION, u, value=value, block_id=block_id)
                    )
                }
            )
            for user, u in zip(approvers, urls, strict=True)
        ]
        start = threading.Barrier(len(payloads))
        with concurrent.futures.ThreadPoolExecutor(len(payloads)) as pool:
            statuses = list(pool.map(functools.partial(_click, client, start), payloads))
        assert all(s == 200 for s in statuses), statuses
        answers = [
            fake.wait_for(lambda u=u: fake.responses(u), timeout=30)[0]["text"] for u in urls
        ]
        approved = sum("Done." in a and "Approved" in a for a in answers)
        already = sum("already decided" in a for a in answers)
        fake.wait_for(lambda b=before: grant_count() > b, timeout=30)
        grants = grant_count() - before
        other = len(answers) - approved - already
        print(f"{round_ + 1:<6} {approved:>9} {already:>16} {other:>6} {grants:>7}")
    print(f"hub share codes for owner after {rounds} rounds: {len(hub.share_codes('owner'))}")


def _click(client: httpx.Client, start: threading.Barrier, payload: str) -> int:
    """One approver's click, sent when every approver is ready (the shared client)."""
    start.wait()
    return client.post("/slack/events", content=payload, headers=sign(payload)).status_code


def _approve_button(message: dict[str, Any]) -> tuple[str, str]:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == blocks.APPROVE_ACTION:
                return str(block["block_id"]), str(element.get("value"))
    raise AssertionError("no Approve button")


if __name__ == "__main__":
    sys.exit(main())
