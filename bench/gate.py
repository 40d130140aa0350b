"""The accept gate's latency, each figure beside its floor measured in the same run.

Starts a real JupyterHub, the Slack stand-in and `sharebot serve` behind the hub's proxy
(SHAREBOT_PUBLIC_URL set: the gate is on), then, N times: the owner shares with Alice, and
Alice, signed in to the hub, opens her invitation.

1. gate page : GET {public}/accept/{token} until sharebot's 302 to the hub's OAuth.
               Floor: GET {public}/healthz through the same proxy, same client.
2. callback  : the hub's OAuth answer back at sharebot until its 302 to the hub's accept
               page (the code exchange and /hub/api/user included). Floor: the hub's own
               authorize step just before it (hub only).
3. accept->DM: from the hub's accept POST to the owner's "accepted" DM at the Slack
               stand-in. Floor: the accept POST's own round trip (the hub alone).

One httpx client (connections kept) is the browser. Run: `.venv/bin/python -m bench.gate`
(about a minute; `--n` for more rounds).
"""

from __future__ import annotations

import argparse
import functools
import re
import tempfile
import time
from html import unescape
from pathlib import Path
from typing import Any

import httpx

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.slack_client import start_app
from bot.sandbox.stack import Stack

_XSRF = re.compile(r'<input[^>]*name="_xsrf"[^>]*value="([^"]*)"')


def dms(slack: FakeSlack, user: str, contains: str) -> list[dict[str, Any]]:
    return [m for m in slack.dms_to(user) if contains in m.get("text", "")]


def more_dms(slack: FakeSlack, user: str, contains: str, than: int) -> bool:
    return len(dms(slack, user, contains)) > than


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def timed(
    client: httpx.Client, method: str, url: str, **kwargs: object
) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = client.request(method, url, **kwargs)  # type: ignore[arg-type]
    return response, time.perf_counter() - started


def run(rounds: int) -> list[tuple[str, list[float], list[float]]]:
    with tempfile.TemporaryDirectory(prefix="sharebot-bench-gate-") as tmp:
        work = Path(tmp)
        stack = Stack.start(
            work, hub_users=["owner", "alice"], people=[("UOWNER", "owner"), ("UALICE", "alice")]
        )
        try:
            stack.hub.start_server("owner")  # running: the gate goes straight to the hub
            stack.app = start_app(
                {
                    **stack.env,
                    "SHAREBOT_PUBLIC_URL": stack.hub.sharebot_url,
                    "SHAREBOT_RATE_LIMIT_PER_MINUTE": "0",
                },
                work,
                port=stack.hub.sharebot_port,
            )
            return rounds_of(stack, rounds)
        finally:
            stack.stop()


def rounds_of(stack: Stack, rounds: int) -> list[tuple[str, list[float], list[float]]]:
    hub, slack, app = stack.hub, stack.slack, stack.app
    assert app is not None
    gate, gate_floor, callback, callback_floor, to_dm, dm_floor = [], [], [], [], [], []
    with httpx.Client(base_url=hub.public_url, follow_redirects=False, timeout=15) as browser:
        hub.login(browser, "alice")
        for i in range(rounds):
            before = len(dms(slack, "UALICE", "shared"))
            ack = app.command("UOWNER", "<@UALICE> 1h", slack.new_response_url())
            assert ack.status_code == 200
            slack.wait_for(
                functools.partial(more_dms, slack, "UALICE", "shared", before), timeout=20
            )
            message = dms(slack, "UALICE", "shared")[-1]
            url = next(
                e["url"]
                for b in message.get("blocks", [])
                for e in b.get("elements", [])
                if e.get("url")
            )
            _, floor = timed(browser, "GET", f"{hub.sharebot_url}healthz")
            gate_floor.append(floor)
            start, took = timed(browser, "GET", url)
            assert start.status_code == 302, start.text
            gate.append(took)
            back, took = timed(browser, "GET", start.headers["location"])
            callback_floor.append(took)
            to_hub, took = timed(browser, "GET", back.headers["location"])
            assert "/hub/accept-share" in to_hub.headers["location"], to_hub.text
            callback.append(took)
            page = browser.get(to_hub.headers["location"])
            match = _XSRF.search(page.text)
            assert match, page.text[:300]
            accepted = len(dms(slack, "UOWNER", "accepted your share"))
            posted = time.perf_counter()
            done = browser.post(
                page.url, data={"code": page.url.params["code"], "_xsrf": unescape(match.group(1))}
            )
            dm_floor.append(time.perf_counter() - posted)
            assert done.status_code == 302
            browser.get(done.headers["location"])  # back through sharebot, as a browser goes
            slack.wait_for(
                functools.partial(more_dms, slack, "UOWNER", "accepted your share", accepted),
                timeout=10,
            )
            to_dm.append(time.perf_counter() - posted)
            # Leave so that the next round shares again from nothing
            app.command("UOWNER", "revoke <@UALICE>", slack.new_response_url())
            print(f"  round {i + 1}/{rounds}", end="\r", flush=True)
    return [
        ("1. gate page", gate, gate_floor),
        ("2. callback", callback, callback_floor),
        ("3. accept->DM", to_dm, dm_floor),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=30, help="rounds (default 30)")
    args = parser.parse_args()
    results = run(args.n)
    print("\n| figure | p50 | p99 | floor p50 | floor p99 | target |")
    print("|---|---|---|---|---|---|")
    targets = {"3. accept->DM": "< 2000 ms"}
    for name, samples, floor in results:
        print(
            f"| {name} | {ms(pct(samples, 0.5))} | {ms(pct(samples, 0.99))} | "
            f"{ms(pct(floor, 0.5))} | {ms(pct(floor, 0.99))} | {targets.get(name, '')} |"
        )


if __name__ == "__main__":
    main()
