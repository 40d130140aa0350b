"""Performance benchmarks of sharebot against the floor it cannot go below.

Starts a real JupyterHub (bot/sandbox/hub.py), the fake Slack Web API (in this process) and
`sharebot serve` (a subprocess), then measures, each figure beside its floor:

1. ack  : N concurrent senders post signed `/share-server @x 1h` commands for a fixed
          time; p50/p99/max acknowledgement latency and throughput. Floor: GET /healthz of
          the same server, same senders, same time (HTTP + ASGI, no Slack work).
2. share: one share at a time, command in -> DM posted at the fake Slack. Floor: the same
          hub POST /share-codes and chat.postMessage done directly with httpx.
3. sweep: revoke N due grants against the real hub (`sharebot sweep --once`, minus the
          start-up of an empty pass). Floor: N direct PATCH calls, same concurrency.
   query: the queries finding due work, with 1,000 to 100,000 stored grants.
4. digest: M owners with a stale share each, the fake Slack limiting chat.postMessage.
          Floor: the rate limit's minimum time. Checks zero lost, zero duplicated.
5. memory: resident size of `sharebot serve` idle and after benchmark 1. Floor: a Python
          process that only imports the libraries sharebot is built on.

Every load generator reuses its connections (one httpx client per benchmark). The ack load
generator runs in a process of its own, apart from the fake Slack server's threads.
Run: `.venv/bin/python -m bench.perf` (about 25 minutes; `--help` for sizes, `--only`).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from sqlalchemy import Engine, func, insert, select, update

from bot.aio import bounded
from bot.clock import utcnow
from bot.domain.access import grant_scopes
from bot.domain.grants import GrantState
from bot.sandbox.hub import RunningHub
from bot.sandbox.slack_client import BOT_TOKEN, new_trigger_id, run_cli, sign
from bot.sandbox.stack import Stack
from bot.store.db import ensure_schema, make_engine
from bot.store.grants import Grants, NewGrant
from bot.store.models import ExternalShare, GrantRow

OWNER_SLACK = "UOWNER"


@dataclass
class Row:
    figure: str
    measured: str
    floor: str = ""
    ratio: float | None = None
    target: str = ""

    def cells(self) -> list[str]:
        ratio = f"{self.ratio:.2f}x" if self.ratio is not None else ""
        return [self.figure, self.measured, self.floor, ratio, self.target]


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    tag: str = ""  # e.g. " [worker process]", appended to the figures added meanwhile

    def add(self, figure: str, *args: Any, **kwargs: Any) -> None:
        row = Row(figure + self.tag, *args, **kwargs)
        self.rows.append(row)
        print("  " + " | ".join(c for c in row.cells() if c), flush=True)

    def table(self) -> str:
        head = ["figure", "sharebot", "floor", "ratio", "target"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r.cells()) + " |" for r in self.rows]
        return "\n".join(lines)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def pct(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def command_body(user: str, text: str, response_url: str) -> str:
    return urlencode(
        {
            "user_id": user,
            "command": "/share-server",
            "text": text,
            "team_id": "T0TEST",
            "channel_id": "C0",
            "response_url": response_url,
            "trigger_id": new_trigger_id(),
        }
    )


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``sharebot <args>``, with room for big runs (run_cli's default is 60 s)."""
    return run_cli(env, *args, timeout=1800)


def rss_kib(pid: int) -> int:
    """Resident size of a process and its children (``serve`` and its worker process)."""
    total = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total = int(line.split()[1])
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += rss_kib(int(child))
    return total


@contextmanager
def timer() -> Iterator[list[float]]:
    box: list[float] = []
    started = time.perf_counter()
    yield box
    box.append(time.perf_counter() - started)


# -- the stack ------------------------------------------------------------------------------


def create_users(stack: Stack, names: Sequence[str]) -> None:
    for i in range(0, len(names), 500):
        stack.hub.create_users(*names[i : i + 500])


def hub_api(hub: RunningHub, token: str, concurrency: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=hub.api_url,
        headers={"Authorization": f"token {token}"},
        timeout=60,
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
    )


def clear_codes_and_shares(hub: RunningHub, owner: str) -> None:
    """The hub gets slower with every code a server has: delete them, and the shares."""
    with httpx.Client(
        base_url=hub.api_url, headers={"Authorization": f"token {hub.admin_token}"}, timeout=60
    ) as api:
        api.delete(f"/share-codes/{owner}/").raise_for_status()
        api.delete(share_path(owner)).raise_for_status()


def time_bare_patches(hub: RunningHub, names: Sequence[str], concurrency: int) -> float:
    """Seconds for one bare ``PATCH`` of owner's share per user, ``concurrency`` at a time,
    on one kept client each slot: the floor of a pass's revocations."""

    async def patch_all() -> None:
        async with hub_api(hub, hub.service_token, concurrency) as api:

            def job(user: str) -> Callable[[], Awaitable[None]]:
                async def run() -> None:
                    r = await api.patch(share_path("owner"), json={"user": user})
                    r.raise_for_status()

                return run

            await bounded(concurrency, [job(u) for u in names])

    with timer() as took:
        asyncio.run(patch_all())
    return took[0]


def share_path(owner: str) -> str:
    return f"/shares/{quote(owner, safe='')}/"


async def share_directly(
    hub: RunningHub, pairs: Sequence[tuple[str, str]], concurrency: int = 8
) -> None:
    """Give each (owner, user) pair a share of owner's default server, straight in the hub."""
    async with hub_api(hub, hub.admin_token, concurrency) as api:

        def job(owner: str, user: str) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                (await api.post(share_path(owner), json={"user": user})).raise_for_status()

            return run

        await bounded(concurrency, [job(o, u) for o, u in pairs])


# -- 1 and 5: ack latency under load, memory ----------------------------------------------


async def _load(
    url: str,
    senders: int,
    seconds: float,
    request: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    interval: float | None = None,
) -> tuple[list[float], int]:
    """``senders`` concurrent senders on ONE client for ``seconds``: each sends as soon as
    its last request is answered (``interval=None``, a closed loop that finds the most the
    app can take), or one request every ``interval`` seconds (paced, an open loop)."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=senders, max_keepalive_connections=senders)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        start = time.perf_counter()
        deadline = start + seconds
        counter = iter(range(10**9))

        async def sender(k: int) -> None:
            nonlocal errors
            due = start + (interval or 0) * k / senders  # paced senders start spread out
            while time.perf_counter() < deadline:
                if interval is not None:
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    due += interval
                started = time.perf_counter()
                response = await request(client, next(counter))
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors += 1

        await asyncio.gather(*(sender(k) for k in range(senders)))
    return latencies, errors


def run_load(
    url: str,
    senders: int,
    seconds: float,
    interval: float | None,
    response_url: str | None,
) -> tuple[list[float], int]:
    """:func:`_load` of shares to ``response_url`` (or of ``/healthz`` when None), run in a
    process of its own by :func:`bench_ack`: in this one, the fake Slack's threads (which
    take the app's DMs, replies and Home tabs) would hold the GIL while the load generator
    times its requests, and it would measure itself."""
    recipients = 200

    async def healthz(client: httpx.AsyncClient, _i: int) -> httpx.Response:
        return await client.get("/healthz")

    async def share(client: httpx.AsyncClient, i: int) -> httpx.Response:
        assert response_url is not None
        payload = command_body(OWNER_SLACK, f"<@UR{i % recipients:04d}> 1h", response_url)
        return await client.post("/slack/events", content=payload, headers=sign(payload))

    request = healthz if response_url is None else share
    return asyncio.run(_load(url, senders, seconds, request, interval))


def bench_ack(
    stack: Stack, report: Report, senders: int, seconds: float, interval: float | None
) -> None:
    app = stack.app
    assert app is not None
    response_url = stack.slack.new_response_url()

    how = "as fast as answered" if interval is None else f"each one every {interval:g} s"
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as generator:
        floor, _ = generator.submit(run_load, app.url, senders, seconds, interval, None).result()
        done_before = len(stack.slack.responses(response_url))
        started = time.perf_counter()
        load = generator.submit(run_load, app.url, senders, seconds, interval, response_url)
        acks, errors = load.result()
    stack.slack.wait_for(
        lambda: len(stack.slack.responses(response_url)) >= done_before + len(acks), timeout=900
    )
    drained = time.perf_counter() - started
    report.add(
        f"1. ack p50, {senders} senders {how}, {seconds:.0f} s",
        ms(pct(acks, 0.5)),
        ms(pct(floor, 0.5)) + " (/healthz)",
        pct(acks, 0.5) / pct(floor, 0.5),
    )
    report.add(
        "1. ack p99",
        ms(pct(acks, 0.99)),
        ms(pct(floor, 0.99)),
        pct(acks, 0.99) / pct(floor, 0.99),
        "< 100 ms",
    )
    report.add("1. ack max", ms(max(acks)), ms(max(floor)), max(acks) / max(floor), "< 3000 ms")
    report.add(
        "1. throughput",
        f"{len(acks) / seconds:.1f} acks/s ({errors} not 200); {len(acks) / drained:.1f} "
        f"shares done/s, the last {max(0.0, drained - seconds):.1f} s after the load",
        f"{len(floor) / seconds:.0f} req/s",
    )


def bench_memory_idle(stack: Stack, report: Report) -> int:
    assert stack.app is not None
    floor_cmd = "import slack_bolt.async_app, slack_sdk, sqlalchemy, httpx, starlette, uvicorn"
    floor = subprocess.run(
        [sys.executable, "-c", f"{floor_cmd}; import os; print(open('/proc/self/status').read())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    floor_kib = next(int(x.split()[1]) for x in floor.splitlines() if x.startswith("VmRSS:"))
    idle = rss_kib(stack.app.process.pid)
    report.add(
        "5. RSS idle",
        f"{idle / 1024:.0f} MiB",
        f"{floor_kib / 1024:.0f} MiB (imports)",
        idle / floor_kib,
    )
    return floor_kib


def bench_memory_loaded(stack: Stack, report: Report, floor_kib: int) -> None:
    assert stack.app is not None
    loaded = rss_kib(stack.app.process.pid)
    report.add(
        "5. RSS after benchmark 1",
        f"{loaded / 1024:.0f} MiB",
        f"{floor_kib / 1024:.0f} MiB (imports)",
        loaded / floor_kib,
    )


# -- 2: one share against the floor --------------------------------------------------------


def bench_share(stack: Stack, report: Report, n: int) -> None:
    app = stack.app
    assert app is not None
    fake, hub = stack.slack, stack.hub
    ours: list[float] = []
    with httpx.Client(base_url=app.url, timeout=30) as client:
        for i in range(n + 3):
            recipient = f"UR{i % 200:04d}"
            response_url = fake.new_response_url()
            payload = command_body(OWNER_SLACK, f"<@{recipient}> 1h", response_url)
            seen = len(fake.dms_to(recipient))
            started = time.time()
            client.post("/slack/events", content=payload, headers=sign(payload))
            dm = fake.wait_for(
                functools.partial(lambda r, s: len(fake.dms_to(r)) > s or None, recipient, seen),
                timeout=30,
            )
            assert dm
            posted = next(
                c.at
                for c in reversed(fake.calls("chat.postMessage"))
                if c.params.get("channel") in (recipient, fake.dm_channel(recipient))
            )
            fake.wait_for(functools.partial(fake.responses, response_url), timeout=30)
            if i >= 3:  # the first ones warm caches and connections
                ours.append(posted - started)
    floor: list[float] = []  # the floor: the code and the DM
    floor3: list[float] = []  # and the read of the server's shares a correct share needs
    with (
        httpx.Client(
            base_url=hub.api_url,
            headers={"Authorization": f"token {hub.service_token}"},
            timeout=30,
        ) as hub_client,
        httpx.Client(
            base_url=fake.api_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {BOT_TOKEN}"},
            timeout=30,
        ) as slack_client,
    ):
        for i in range(2 * (n + 3)):
            read_shares = i % 2 == 1
            started = time.perf_counter()
            if read_shares:
                hub_client.get("/shares/owner/").raise_for_status()
            code = hub_client.post("/share-codes/owner/", json={"expires_in": 86400})
            code.raise_for_status()
            slack_client.post(
                "chat.postMessage",
                json={"channel": f"UR{i % 200:04d}", "text": f"accept: {code.json()['id']}"},
            ).raise_for_status()
            if i >= 6:
                (floor3 if read_shares else floor).append(time.perf_counter() - started)
    med, fmed, f3med = statistics.median(ours), statistics.median(floor), statistics.median(floor3)
    report.add(
        f"2. one share, command -> DM (median of {n})",
        ms(med),
        ms(fmed) + " (POST code, postMessage)",
        med / fmed,
        "<= 1.3x",
    )
    report.add(
        "2. the same, against the calls a share needs",
        ms(med),
        ms(f3med) + " (GET shares, POST code, postMessage)",
        med / f3med,
    )
    report.add(
        "2. one share, p95",
        ms(pct(ours, 0.95)),
        ms(pct(floor, 0.95)),
        pct(ours, 0.95) / pct(floor, 0.95),
    )


# -- 3: the sweep ----------------------------------------------------------------------------


def bench_sweep(stack: Stack, report: Report, n: int, concurrency: int) -> None:
    hub = stack.hub
    names = [f"sw{i:05d}" for i in range(n)]
    create_users(stack, names)
    pairs = [("owner", name) for name in names]
    asyncio.run(share_directly(hub, pairs))

    floor_before = time_bare_patches(hub, names, concurrency)
    assert not [s for s in hub.shares("owner") if s.get("user", {}).get("name") in set(names)]
    asyncio.run(share_directly(hub, pairs))

    env = {**stack.env, "SHAREBOT_SWEEP_CONCURRENCY": str(concurrency)}
    with timer() as empty:
        result = run_cli(env, "sweep", "--once")
    assert result.returncode == 0, result.stderr
    now = utcnow()
    grants = Grants(stack.engine)
    for i, name in enumerate(names):
        slack_id = f"USW{i:05d}"
        stack.link([(slack_id, name)])
        grant = grants.add_grant(
            NewGrant(
                owner_slack_id=OWNER_SLACK,
                owner_hub="owner",
                server="",
                recipient_slack_id=slack_id,
                recipient_hub=name,
                duration=timedelta(hours=1),
                note="",
                code_id=None,
                code_expires_at=now,
                scopes=grant_scopes("owner", ""),
            ),
            now=now - timedelta(hours=2),
        )
        grants.transition(
            grant,
            GrantState.ACTIVE,
            now=now - timedelta(hours=2),
            action="accepted",
            accepted_hub_user=name,
            accepted_at=now - timedelta(hours=2),
            expires_at=now - timedelta(seconds=1),
        )
    # The pass in its own process; this one watches the database (a cheap read, not the
    # hub) for the moment the last grant is recorded expired, i.e. its share revoked.
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "sweep", "--once"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    revoked_at = None
    while process.poll() is None or revoked_at is None:
        if revoked_at is None and expired(stack.engine) >= n:
            revoked_at = time.perf_counter() - started
        if process.poll() is not None and revoked_at is None:
            break
        time.sleep(0.05)
    out, _ = process.communicate(timeout=600)
    whole = time.perf_counter() - started
    assert process.returncode == 0 and revoked_at is not None, out
    left = [s for s in hub.shares("owner") if s.get("user", {}).get("name") in set(names)]
    assert not left, f"{len(left)} shares left in the hub"
    # The floor again, after: the hub's speed drifts, so the two runs bracket ours.
    asyncio.run(share_directly(hub, pairs))
    floor_after = time_bare_patches(hub, names, concurrency)
    floor = (floor_before + floor_after) / 2
    bracket = f"{floor:.2f} s ({n} PATCH; {floor_before:.1f} s before, {floor_after:.1f} after)"
    startup = empty[0]
    report.add(
        f"3. sweep: {n} due grants revoked (concurrency {concurrency})",
        f"{revoked_at - startup:.2f} s",
        bracket,
        (revoked_at - startup) / floor,
        "<= 1.5x",
    )
    report.add(
        "3. sweep: the whole pass",
        f"{whole - startup:.2f} s, with {2 * n} DMs and the Home tabs",
        f"{floor:.2f} s",
        (whole - startup) / floor,
    )


def expired(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.scalar(
                select(func.count())
                .select_from(GrantRow)
                .where(GrantRow.state == GrantState.EXPIRED.value)
            )
            or 0
        )


def bench_due_query(report: Report, workdir: Path, sizes: Sequence[int], due: int) -> None:
    """Time the sweep's due-work queries with more and more stored grants (SQLite)."""
    for size in sizes:
        url = f"sqlite:///{workdir / f'query-{size}.sqlite'}"
        engine = make_engine(url)
        ensure_schema(engine)
        now = utcnow()
        rows: list[dict[str, Any]] = []
        for i in range(size):
            if i < due:
                state, expires = GrantState.ACTIVE, now - timedelta(minutes=1)
            elif i % 10 == 0:
                state, expires = GrantState.ACTIVE, now + timedelta(days=30)
            else:
                state, expires = GrantState.EXPIRED, now - timedelta(days=1 + i % 300)
            rows.append(
                {
                    "state": state.value,
                    "owner_slack_id": f"UO{i % 500}",
                    "owner_hub": f"o{i % 500}",
                    "server": "",
                    "recipient_slack_id": f"UR{i}",
                    "recipient_hub": f"r{i}",
                    "duration_seconds": 3600,
                    "note": "",
                    "created_at": expires - timedelta(hours=1),
                    "updated_at": expires - timedelta(hours=1),
                    "invite_sent_at": expires - timedelta(hours=1),
                    "expires_at": expires,
                    "scopes": sorted(grant_scopes(f"o{i % 500}", "")),
                }
            )
        with engine.begin() as conn:
            conn.execute(insert(GrantRow), rows)
        repo = Grants(engine)
        due_times, all_times = [], []
        for _ in range(20):
            with timer() as took:
                found = repo.due(now)
            due_times.append(took[0])
            with timer() as took:  # what the sweep read before: every active grant
                everything = repo.grants(states=[GrantState.ACTIVE])
            all_times.append(took[0])
        assert len(found.to_end) == due, len(found.to_end)
        report.add(
            f"3. due-work query, {size:,} grants stored ({due} due)",
            ms(statistics.median(due_times)),
            f"{ms(statistics.median(all_times))} (all {len(everything):,} active read)",
        )
        engine.dispose()


# -- 4: the digest under a rate limit ------------------------------------------------------


def bench_digest(stack: Stack, report: Report, owners: int, rate: float, concurrency: int) -> None:
    hub, fake = stack.hub, stack.slack
    names = [f"dg{i:05d}" for i in range(owners)]
    create_users(stack, names)
    pairs = [(names[i], names[(i + 1) % owners]) for i in range(owners)]
    asyncio.run(share_directly(hub, pairs))
    stack.link([(f"UDG{i:05d}", name) for i, name in enumerate(names)])
    env = {**stack.env, "SHAREBOT_STALE_AFTER": "1m"}
    result = cli(env, "digest", "--now", "--reconcile-only")  # records the shares as external
    assert result.returncode == 0, result.stdout + result.stderr
    # The external shares must be older than SHAREBOT_STALE_AFTER: backdate them.
    an_hour_ago = utcnow() - timedelta(hours=1)
    with stack.engine.begin() as conn:
        conn.execute(
            update(ExternalShare).values(hub_created_at=an_hour_ago, first_seen=an_hour_ago)
        )
    fake.rate_limit("chat.postMessage", per_second=rate, burst=max(1, int(rate)))
    before = len(fake.calls("chat.postMessage"))
    with timer() as reconcile:
        result = cli(env, "digest", "--now", "--reconcile-only")
    assert result.returncode == 0, result.stdout + result.stderr

    async def list_all() -> None:  # the floor of reconciliation: one listing per owner
        async with hub_api(hub, hub.service_token, concurrency) as api:

            def job(owner: str) -> Callable[[], Awaitable[None]]:
                async def run() -> None:
                    (await api.get(f"/shares/{owner}", params={"limit": 200})).raise_for_status()

                return run

            await bounded(concurrency, [job(o) for o in names])

    with timer() as listing:
        asyncio.run(list_all())
    with timer() as startup:
        cli(env, "digest", "--help")
    with timer() as total:
        result = cli(env, "digest", "--now")
    assert result.returncode == 0, result.stdout + result.stderr
    again = cli(env, "digest", "--now")
    posts = [c for c in fake.calls("chat.postMessage")[before:] if not c.failed]
    limited = [c for c in fake.calls("chat.postMessage")[before:] if c.failed]
    per_owner: dict[str, int] = {}
    for call in posts:
        per_owner[call.params["channel"]] = per_owner.get(call.params["channel"], 0) + 1
    expected = {f"UDG{i:05d}" for i in range(owners)}
    got = {c for c in per_owner if c in expected or c.lstrip("D") in expected}
    lost = len(expected) - len(got)
    duplicated = sum(v - 1 for v in per_owner.values() if v > 1)
    minimum = (owners - max(1, int(rate))) / rate
    send = total[0] - reconcile[0]
    report.add(
        f"4. digest to {owners} owners at {rate:.0f} msg/s (send phase)",
        f"{send:.1f} s ({len(limited)} answered 429)",
        f"{minimum:.1f} s (limit's minimum)",
        send / minimum,
    )
    report.add(
        f"4. reconcile {owners} owners with the hub",
        f"{reconcile[0] - startup[0]:.1f} s",
        f"{listing[0]:.1f} s ({owners} GET /shares/<owner>)",
        (reconcile[0] - startup[0]) / listing[0],
    )
    report.add(
        "4. digest, whole run (reconcile + send)",
        f"{total[0] - startup[0]:.1f} s",
        f"{listing[0] + minimum:.1f} s (the two floors)",
        (total[0] - startup[0]) / (listing[0] + minimum),
    )
    report.add("4. digest: lost / duplicated", f"{lost} lost, {duplicated} duplicated", "0 / 0")
    report.add("4. digest run again the same day", again.stdout.strip()[:80])


def run_floors(stack: Stack, report: Report, args: argparse.Namespace, only: set[str]) -> None:
    """Issue 19's benchmarks (:mod:`bench.floors`)."""
    from bench import floors

    modes = ["default" if m == "one" else m for m in args.modes.split(",")]
    if "ref" in only:
        stack.switch_database("bench-ref.sqlite")
        floors.bench_reference(stack, report, args.senders, args.lists, args.ref_shares, modes)
    if "network" in only:
        stack.switch_database("bench-network.sqlite")
        floors.bench_network(stack, report, args.shares, args.delay)
    if "deadline" in only:
        floors.bench_single_deadline(stack, report)
        floors.bench_deadlines(stack, report, args.due, args.stored, args.concurrency)
    if "replicas" in only:
        floors.bench_replicas(stack, report, args.due, args.stored)


# -- main -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        default="ref,network,deadline,replicas",
        help="issue 19's benchmarks (bench/floors.py): ref,network,deadline,replicas; "
        "the earlier ones: ack,share,sweep,query,digest",
    )
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--interval", type=float, default=1.0, help="seconds between a paced sender's commands"
    )
    parser.add_argument("--shares", type=int, default=40)
    parser.add_argument("--grants", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--owners", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument(
        "--modes",
        default="one,worker",
        help="benchmarks 1, 2 and 5 with the work in the web process (one), "
        "and/or in a worker process (worker: SHAREBOT_WORKER_PROCESS=true)",
    )
    parser.add_argument("--lists", type=int, default=400, help="`list` commands (ref)")
    parser.add_argument("--ref-shares", type=int, default=200, help="shares (ref)")
    parser.add_argument("--delay", type=float, default=0.025, help="seconds each way (network)")
    parser.add_argument("--due", type=int, default=1000, help="grants due at once (deadline)")
    parser.add_argument("--stored", type=int, default=10000, help="active grants (deadline)")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    workdir = Path(tempfile.mkdtemp(prefix="sharebot-perf-"))
    report = Report()
    print(f"sharebot performance, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores")
    if "query" in only:
        bench_due_query(report, workdir, [int(s) for s in args.sizes.split(",")], due=100)
    stack = Stack.start(
        workdir,
        hub_users=("owner",),
        database="bench.sqlite",
        by="bench",
        SHAREBOT_SWEEP_INTERVAL="3600",
        SHAREBOT_RATE_LIMIT_PER_MINUTE="0",  # one owner sends hundreds a minute here
    )
    hub = stack.hub
    try:
        recipients = [f"r{i:04d}" for i in range(200)]
        create_users(stack, recipients)
        stack.link([(OWNER_SLACK, "owner")])
        stack.link([(f"UR{i:04d}", name) for i, name in enumerate(recipients)])
        run_floors(stack, report, args, only)
        for mode in args.modes.split(",") if only & {"ack", "share"} else ():
            worker = mode == "worker"
            report.tag = " [worker process]" if worker else " [one process]"
            stack.env["SHAREBOT_WORKER_PROCESS"] = "true" if worker else "false"
            clear_codes_and_shares(hub, "owner")  # each mode starts with the hub as new
            stack.switch_database(f"bench-{mode}.sqlite")
            stack.serve()
            floor_kib = bench_memory_idle(stack, report)
            if "share" in only:
                bench_share(stack, report, args.shares)
            if "ack" in only:
                for interval in (2 * args.interval, args.interval, None):
                    bench_ack(stack, report, args.senders, args.seconds, interval)
                bench_memory_loaded(stack, report, floor_kib)
            assert stack.app is not None
            stack.app.stop()
        report.tag = ""
        if only & {"sweep", "digest"}:
            clear_codes_and_shares(hub, "owner")
            stack.switch_database("bench-jobs.sqlite")
        if "sweep" in only:
            bench_sweep(stack, report, args.grants, args.concurrency)
        if "digest" in only:
            bench_digest(stack, report, args.owners, args.rate, args.concurrency)
    finally:
        stack.stop()
    print()
    print(report.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
