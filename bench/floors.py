"""The benchmarks of issue 19, each beside a floor measured in the same run (run by
:mod:`bench.perf`, ``--only ref,network,deadline,replicas``):

ref      : 20 senders in a closed loop (each sends its next command when the previous one
           is acknowledged), one keep-alive httpx client each, ``list`` and shares; p50/p99
           of the acknowledgement, sharebot (default configuration, and with the worker
           process) against the reference Bolt app (:mod:`bench.reference_app`) doing the
           same unavoidable work; and the resident memory of both, idle and after.
network  : the delay proxy (:mod:`bench.delay_proxy`, 25 ms each way) in front of the hub
           and the Slack stand-in: one share, command to DM, against the code and the DM
           made directly through the same proxies.
deadline : one grant revoked at its deadline, default settings; then 10,000 active grants
           with 1,000 due at the same second: lateness p50/p99/max of each revocation,
           the last against 1,000 bare PATCH calls at the same concurrency (real hub).
replicas : the same 1,000 on PostgreSQL with two ``sharebot serve``: how they split the
           work, and no grant done twice.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import re
import statistics
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, insert, select

from bench.delay_proxy import DelayProxy
from bench.perf import (
    OWNER_SLACK,
    Report,
    clear_codes_and_shares,
    command_body,
    create_users,
    ms,
    pct,
    rss_kib,
    share_directly,
    time_bare_patches,
)
from bot.clock import utcnow
from bot.domain.access import grant_scopes
from bot.domain.grants import GrantState
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.hub import free_port
from bot.sandbox.slack_client import (
    BOT_TOKEN,
    RunningApp,
    sign,
    spawn_app,
    start_app,
    wait_healthy,
)
from bot.sandbox.stack import Stack
from bot.store.models import GrantRow

REPO = Path(__file__).resolve().parent.parent
RECIPIENTS = 200  # UR0000.. linked to r0000.. by bench.perf


# -- the closed loop ---------------------------------------------------------------------


async def _closed(url: str, senders: int, total: int, kind: str, response_url: str) -> list[float]:
    """``total`` commands from ``senders`` senders, each with a keep-alive client of its
    own, each sending its next command as soon as the previous one is acknowledged."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def sender() -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
            await client.get("/healthz")  # the connection, before the clock runs
            for i in counter:
                text = "list" if kind == "list" else f"<@UR{i % RECIPIENTS:04d}> 1h"
                body = command_body(OWNER_SLACK, text, response_url)
                started = time.perf_counter()
                answer = await client.post("/slack/events", content=body, headers=sign(body))
                latencies.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text

    await asyncio.gather(*(sender() for _ in range(senders)))
    return latencies


def run_closed(url: str, senders: int, total: int, kind: str, response_url: str) -> list[float]:
    """:func:`_closed` in a process of its own (away from the Slack stand-in's threads)."""
    return asyncio.run(_closed(url, senders, total, kind, response_url))


@dataclass
class Served:
    name: str
    app: RunningApp

    @property
    def rss_mib(self) -> float:
        return rss_kib(self.app.process.pid) / 1024


def start_reference(stack: Stack) -> Served:
    port = free_port()
    env = {**stack.env, "PYTHONPATH": str(REPO)}
    argv = ("-m", "bench.reference_app", "--port", str(port), "--database", stack.database_url)
    app = spawn_app(env, stack.workdir, port, argv=argv)
    wait_healthy(app)
    return Served("reference", app)


def closed_loop(
    stack: Stack, served: Served, senders: int, total: int, kind: str
) -> tuple[list[float], float]:
    """Acknowledgement latencies, and the seconds until every command was answered."""
    fake = stack.slack
    response_url = fake.new_response_url()
    spawn = multiprocessing.get_context("spawn")
    started = time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=spawn) as generator:
        acks = generator.submit(
            run_closed, served.app.url, senders, total, kind, response_url
        ).result()
    fake.wait_for(lambda: len(fake.responses(response_url)) >= total, timeout=600)
    return acks, time.perf_counter() - started


def bench_reference(
    stack: Stack, report: Report, senders: int, lists: int, shares: int, modes: Sequence[str]
) -> None:
    reference = start_reference(stack)
    try:
        idle_floor = reference.rss_mib
        floors: dict[str, list[float]] = {}
        for kind, total in (("share", shares), ("list", lists)):
            clear_codes_and_shares(stack.hub, "owner")
            floors[kind], _ = closed_loop(stack, reference, senders, total, kind)
        loaded_floor = reference.rss_mib
    finally:
        reference.app.stop()
    for mode in modes:
        worker = mode == "worker"
        tag = " [worker process]" if worker else " [default]"
        flag = "true" if worker else "false"
        served = Served(
            mode, stack.serve(SHAREBOT_WORKER_PROCESS=flag, SHAREBOT_SWEEP_INTERVAL="30")
        )
        try:
            time.sleep(1)  # the start-up pass
            idle = served.rss_mib
            for kind, total in (("share", shares), ("list", lists)):
                clear_codes_and_shares(stack.hub, "owner")
                acks, took = closed_loop(stack, served, senders, total, kind)
                floor = floors[kind]
                for q, name in ((0.5, "p50"), (0.99, "p99")):
                    report.add(
                        f"1. ack {name}, `{kind}` x{total}, {senders} senders closed loop{tag}",
                        ms(pct(acks, q)),
                        ms(pct(floor, q)) + " (reference Bolt app)",
                        pct(acks, q) / pct(floor, q),
                        "<= 1.5x",
                    )
                report.add(f"1. all `{kind}` answered{tag}", f"{took:.1f} s")
            loaded = served.rss_mib
        finally:
            served.app.stop()
        report.add(
            f"4. RSS idle{tag}",
            f"{idle:.0f} MiB",
            f"{idle_floor:.0f} MiB (reference)",
            idle / idle_floor,
        )
        report.add(
            f"4. RSS after benchmark 1{tag}",
            f"{loaded:.0f} MiB",
            f"{loaded_floor:.0f} MiB (reference, after)",
            loaded / loaded_floor,
        )


# -- 2. one share on a network with latency --------------------------------------------------


def dm_posted(fake: FakeSlack, recipient: str, seen: int) -> float | None:
    """When the first chat.postMessage to ``recipient`` after the ``seen`` first arrived."""
    channels = (recipient, fake.dm_channel(recipient))
    calls = fake.calls("chat.postMessage")[seen:]
    return next((c.at for c in calls if c.params.get("channel") in channels), None)


def bench_network(stack: Stack, report: Report, n: int, delay: float) -> None:
    hub, fake = stack.hub, stack.slack
    hub_proxy = DelayProxy.before(hub.api_url, delay)
    slack_proxy = DelayProxy.before(fake.api_url, delay)
    clear_codes_and_shares(hub, "owner")
    app = stack.serve(
        SHAREBOT_WORKER_PROCESS="false",
        JUPYTERHUB_API_URL=hub_proxy.rewrite(hub.api_url),
        SLACK_API_URL=slack_proxy.rewrite(fake.api_url),
    )
    ours: list[float] = []
    try:
        with httpx.Client(base_url=app.url, timeout=30) as client:
            for i in range(n + 3):
                recipient = f"UR{(i * 7) % RECIPIENTS:04d}"
                seen = len(fake.calls("chat.postMessage"))
                response_url = fake.new_response_url()
                payload = command_body(OWNER_SLACK, f"<@{recipient}> 1h", response_url)
                started = time.time()
                client.post("/slack/events", content=payload, headers=sign(payload))
                posted = fake.wait_for(functools.partial(dm_posted, fake, recipient, seen), 30)
                fake.wait_for(functools.partial(fake.responses, response_url), timeout=30)
                if i >= 3:
                    ours.append(posted - started)
    finally:
        app.stop()
    connections = (hub_proxy.connections, slack_proxy.connections)
    floor: list[float] = []
    with (
        httpx.Client(
            base_url=hub_proxy.rewrite(hub.api_url),
            headers={"Authorization": f"token {hub.service_token}"},
            timeout=30,
        ) as hub_client,
        httpx.Client(
            base_url=slack_proxy.rewrite(fake.api_url).rstrip("/") + "/",
            headers={"Authorization": f"Bearer {BOT_TOKEN}"},
            timeout=30,
        ) as slack_client,
    ):
        for i in range(n + 3):
            seen = len(fake.calls("chat.postMessage"))
            started = time.time()
            code = hub_client.post("/share-codes/owner/", json={"expires_in": 86400})
            code.raise_for_status()
            slack_client.post(
                "chat.postMessage",
                json={"channel": f"UR{i % RECIPIENTS:04d}", "text": f"x {code.json()['id']}"},
            ).raise_for_status()
            if i >= 3:
                floor.append(fake.calls("chat.postMessage")[seen].at - started)
    hub_proxy.stop()
    slack_proxy.stop()
    med, fmed = statistics.median(ours), statistics.median(floor)
    report.add(
        f"2. one share, command -> DM, {delay * 1000:.0f} ms each way (median of {n})",
        ms(med),
        ms(fmed) + " (POST code, then postMessage)",
        med / fmed,
        "<= 1.3x",
    )
    report.add(
        "2. connections sharebot opened through the proxies (hub, Slack)",
        f"{connections[0]}, {connections[1]} for {n + 3} shares",
    )
    report.add(
        "2. the same, p95",
        ms(pct(ours, 0.95)),
        ms(pct(floor, 0.95)),
        pct(ours, 0.95) / pct(floor, 0.95),
    )


# -- 3. deadlines ------------------------------------------------------------------------------


def seed_active(
    engine: Engine,
    owner: str,
    recipients: Sequence[tuple[str, str]],
    deadlines: Sequence[datetime],
    owner_slack: str = OWNER_SLACK,
) -> None:
    """Active grants of ``owner``'s default server, straight into the database."""
    now = utcnow()
    scopes = sorted(grant_scopes(owner, ""))
    rows: list[dict[str, Any]] = [
        {
            "state": GrantState.ACTIVE.value,
            "owner_slack_id": owner_slack,
            "owner_hub": owner,
            "server": "",
            "recipient_slack_id": slack_id,
            "recipient_hub": hub_user,
            "duration_seconds": 3600,
            "note": "",
            "created_at": now - timedelta(hours=1),
            "updated_at": now - timedelta(hours=1),
            "invite_sent_at": now - timedelta(hours=1),
            "accepted_at": now - timedelta(hours=1),
            "accepted_hub_user": hub_user,
            "code_gone": True,
            "expires_at": deadline,
            "reminded_at": now - timedelta(minutes=5),
            "scopes": scopes,
        }
        for (slack_id, hub_user), deadline in zip(recipients, deadlines, strict=True)
    ]
    for i in range(0, len(rows), 1000):
        with engine.begin() as connection:
            connection.execute(insert(GrantRow), rows[i : i + 1000])


def create_many(stack: Stack, names: Sequence[str], batch: int = 100) -> None:
    """Hub users, a hundred a request (the hub takes more than a minute for 500 here)."""
    for i in range(0, len(names), batch):
        stack.hub.create_users(*names[i : i + batch])


def seed_bystanders(engine: Engine, n: int, prefix: str) -> None:
    """``n`` active grants due in 30 days, of an owner nobody is linked to: stored (the
    due-work query must not slow down with them), but not reconciled with the hub (they
    have no share there)."""
    later = utcnow() + timedelta(days=30)
    others = [(f"{prefix}{i:05d}", f"{prefix.lower()}{i:05d}") for i in range(n)]
    seed_active(engine, "bystander", others, [later] * n, owner_slack="UBYSTANDER")


#: How often the burst benchmarks look for expired grants (seconds).
BURST_POLL = 0.1


def watch_expired(
    engine: Engine, ids: set[int], until: float, every: float = 0.02
) -> dict[int, float]:
    """When (time.time()) each grant in ``ids`` was first seen expired; polled ``every``
    seconds (a burst's 1,000 are polled every 100 ms: each poll reads every expired id,
    and the instrument's own reads would take the two cores' time from the hub)."""
    seen: dict[int, float] = {}
    while len(seen) < len(ids) and time.time() < until:
        with engine.connect() as connection:
            done = connection.scalars(
                select(GrantRow.id).where(GrantRow.state == GrantState.EXPIRED.value)
            ).all()
        at = time.time()
        for grant_id in done:
            if grant_id in ids and grant_id not in seen:
                seen[grant_id] = at
        time.sleep(every)
    return seen


def patch_floor(stack: Stack, names: Sequence[str], concurrency: int) -> float:
    """Seconds for one bare PATCH per user, ``concurrency`` at a time (the shares made
    first, not timed)."""
    hub = stack.hub
    asyncio.run(share_directly(hub, [("owner", n) for n in names]))

    return time_bare_patches(hub, names, concurrency)


def ids_of(engine: Engine, recipients: Sequence[str]) -> set[int]:
    with engine.connect() as connection:
        return set(
            connection.scalars(
                select(GrantRow.id).where(GrantRow.recipient_slack_id.in_(list(recipients)))
            )
        )


def lateness(seen: dict[int, float], deadline: float) -> list[float]:
    return sorted(at - deadline for at in seen.values())


def bench_single_deadline(stack: Stack, report: Report, lead: float = 30.0) -> None:
    """One active grant due ``lead`` seconds after ``sharebot serve`` starts with the
    default interval (30 s): the pass sleeps until the deadline, not the interval."""
    stack.switch_database("bench-deadline-1.sqlite")
    create_users(stack, ["dl-one"])
    asyncio.run(share_directly(stack.hub, [("owner", "dl-one")]))
    deadline = time.time() + lead
    seed_active(stack.engine, "owner", [("UDLONE", "dl-one")], [utcnow() + timedelta(seconds=lead)])
    env = {k: v for k, v in stack.env.items() if k != "SHAREBOT_SWEEP_INTERVAL"}
    app = start_app({**env, "SHAREBOT_WORKER_PROCESS": "false"}, stack.workdir)
    assert time.time() < deadline, "sharebot started after the deadline: a longer lead"
    try:
        seen = watch_expired(stack.engine, ids_of(stack.engine, ["UDLONE"]), deadline + 40)
    finally:
        app.stop()
    late = lateness(seen, deadline)
    report.add(
        "3. one grant: revoked after its deadline (default settings)",
        f"{late[0]:.2f} s" if late else "not revoked 40 s after",
        "",
        None,
        "< 1 s",
    )


def bench_deadlines(stack: Stack, report: Report, due: int, stored: int, concurrency: int) -> None:
    names = [f"dl{i:05d}" for i in range(due)]
    create_many(stack, names)
    floor_before = patch_floor(stack, names, concurrency)
    stack.switch_database("bench-deadlines.sqlite")
    asyncio.run(share_directly(stack.hub, [("owner", n) for n in names]))
    lead = 40.0  # the seeding and sharebot's start-up (and its reconciliation) come first
    deadline_at = utcnow() + timedelta(seconds=lead)
    deadline = time.time() + lead
    seed_active(
        stack.engine,
        "owner",
        [(f"UDL{i:05d}", n) for i, n in enumerate(names)],
        [deadline_at] * due,
    )
    seed_bystanders(stack.engine, stored - due, "UDX")
    ids = ids_of(stack.engine, [f"UDL{i:05d}" for i in range(due)])
    assert time.time() < deadline - 15, "seeding took too long"
    app = stack.serve(SHAREBOT_WORKER_PROCESS="false", SHAREBOT_SWEEP_INTERVAL="30")
    assert time.time() < deadline, "sharebot started after the deadline: a longer lead"
    try:
        seen = watch_expired(stack.engine, ids, deadline + 600, every=BURST_POLL)
    finally:
        app.stop()
    left = [s for s in stack.hub.shares("owner") if s.get("user", {}).get("name") in set(names)]
    floor_after = patch_floor(stack, names, concurrency)
    floor = (floor_before + floor_after) / 2
    late = lateness(seen, deadline)
    report.add(
        f"3. {due:,} due at the same second of {stored:,} active: last revoked after the deadline",
        f"{late[-1]:.2f} s ({len(seen)} revoked, {len(left)} left in the hub)",
        f"{floor:.2f} s ({due:,} PATCH at concurrency {concurrency}; "
        f"{floor_before:.1f} before, {floor_after:.1f} after)",
        late[-1] / floor,
        "<= 1.2x",
    )
    report.add(
        "3. lateness p50 / p99 / max",
        f"{pct(late, 0.5):.2f} / {pct(late, 0.99):.2f} / {late[-1]:.2f} s",
    )


# -- 3. two replicas on PostgreSQL -----------------------------------------------------------

ENDED = re.compile(r"(grant:\d+)\S* .* ended \(expired")


def bench_replicas(stack: Stack, report: Report, due: int, stored: int) -> None:
    from tests.support import postgres

    top = Path(tempfile.mkdtemp(prefix="sharebot-perf-pg-"))
    top.chmod(0o755)  # the server runs as `postgres` when we are root
    pgdir = top / "pg"
    try:
        server = postgres.start(pgdir)
    except (SystemExit, Exception) as err:  # reported in the table, not raised
        report.add("3. two replicas on PostgreSQL", f"not run: {err}")
        return
    try:
        with postgres.fresh_database(server) as url:
            _replicas(stack, report, url, due, stored)
    finally:
        postgres.stop(pgdir)


def _replicas(stack: Stack, report: Report, url: str, due: int, stored: int) -> None:
    from bot.sandbox.stack import new_database

    names = [f"rp{i:05d}" for i in range(due)]
    create_many(stack, names)
    people = [(f"URP{i:05d}", n) for i, n in enumerate(names)]
    # The recipients are not linked: the start-up reconciliation (every linked hub user's
    # shares) would otherwise read 1,000 more listings while the deadline comes.
    engine = new_database(url, stack.people, by="bench")
    asyncio.run(share_directly(stack.hub, [("owner", n) for n in names]))
    env = {**stack.env, "SHAREBOT_DATABASE_URL": url, "SHAREBOT_WORKER_PROCESS": "false"}
    env["SHAREBOT_SWEEP_INTERVAL"] = "30"
    lead = 40.0
    deadline = time.time() + lead
    seed_active(engine, "owner", people, [utcnow() + timedelta(seconds=lead)] * due)
    seed_bystanders(engine, stored - due, "URX")
    ids = ids_of(engine, [p[0] for p in people])
    apps = [spawn_app(env, stack.workdir) for _ in range(2)]
    try:
        for app in apps:
            wait_healthy(app)
        assert time.time() < deadline, "sharebot started after the deadline: a longer lead"
        seen = watch_expired(engine, ids, deadline + 600, every=BURST_POLL)
    finally:
        for app in apps:
            app.stop()
    logs = [app.log() for app in apps]
    ended = [ENDED.findall(log) for log in logs]
    twice = set(ended[0]) & set(ended[1])
    dups = sum(len(e) - len(set(e)) for e in ended)
    left = [s for s in stack.hub.shares("owner") if s.get("user", {}).get("name") in set(names)]
    late = lateness(seen, deadline)
    engine.dispose()
    report.add(
        f"3. two replicas on PostgreSQL, {due:,} due: split",
        f"{len(ended[0])} + {len(ended[1])} ended; {len(twice) + dups} done twice; "
        f"{len(left)} left in the hub",
        "0 twice",
    )
    report.add(
        "3. two replicas: lateness p50 / p99 / max",
        f"{pct(late, 0.5):.2f} / {pct(late, 0.99):.2f} / {late[-1]:.2f} s" if late else "none",
    )
