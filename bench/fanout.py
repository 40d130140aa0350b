"""A share with a Slack user group of linked members: time until every DM is posted,
beside its floor measured in the same run, and a kill in the middle of the fan-out.

Starts a real JupyterHub with the owner and M members, the Slack stand-in (the group
registered for ``usergroups.users.list``, ``chat.postMessage`` rate limited as a token
bucket answering 429 with Retry-After) and `sharebot serve`, then:

1. fan-out: `/share-server @big 2h` until every member has their invitation DM.
   Floor: M share-code creations on the hub, done directly with httpx (the better of one
   at a time and 16 at once), plus M DMs at the rate limit's minimum ((M - burst) / rate).
   Checks: one DM, one grant and one code per member, none to the owner.
2. kill   : the same share on a new database; `sharebot serve` is killed (SIGKILL) when
   about half the DMs are posted, then started again (SHAREBOT_CLAIM_TTL short, so the
   background pass takes over the invitations the dead process held). Checks: every member
   ends with exactly one open grant whose code is on the hub (none lost, none twice); DMs
   sent a second time (the DM of an invitation in flight at the kill, whose code was
   replaced: its first link no longer works) are counted.

Run: `.venv/bin/python -m bench.fanout` (about two minutes; `--members`, `--rate`, `--burst`).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.aio import bounded
from bot.domain.access import grant_scopes
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.slack_client import RunningApp
from bot.sandbox.stack import Stack
from bot.store.models import GrantRow

OWNER = "UOWNER"
GROUP = "S0BIG"
COMMAND = f"<!subteam^{GROUP}|@big> 2h"


def members(n: int) -> list[tuple[str, str]]:
    return [(f"UM{i:04d}", f"m{i:04d}") for i in range(n)]


def wait(what: str, ready: object, timeout: float) -> bool:
    """Poll ``ready`` until true (True) or ``timeout`` seconds (False, said)."""
    deadline = time.monotonic() + timeout
    while not ready():  # type: ignore[operator]
        if time.monotonic() > deadline:
            print(f"  timed out waiting for {what}")
            return False
        time.sleep(0.02)
    return True


def dm_counts(slack: FakeSlack, people: list[tuple[str, str]]) -> Counter[str]:
    wanted = {slack_id for slack_id, _ in people}
    counts: Counter[str] = Counter()
    for call in slack.calls("chat.postMessage"):
        channel = str(call.params.get("channel", ""))
        slack_id = channel[1:] if channel.startswith("D") else channel
        if not call.failed and slack_id in wanted:
            counts[slack_id] += 1
    return counts


def everyone_has_one(slack: FakeSlack, people: list[tuple[str, str]]) -> bool:
    return len(dm_counts(slack, people)) == len(people)


def open_grants(engine: Engine) -> list[GrantRow]:
    with Session(engine) as session:
        return list(
            session.scalars(select(GrantRow).where(GrantRow.state.in_(("invited", "active"))))
        )


def all_grants(engine: Engine) -> list[GrantRow]:
    with Session(engine) as session:
        return list(session.scalars(select(GrantRow)))


def clear_codes(stack: Stack) -> None:
    with stack.hub.client(stack.hub.admin_token) as client:
        client.delete("share-codes/owner/").raise_for_status()


def hub_floor(stack: Stack, n: int) -> tuple[float, float]:
    """Seconds for ``n`` share-code creations with sharebot's token: one at a time, and 16
    at once (the codes are deleted after)."""
    body = {"expires_in": 3600, "scopes": sorted(grant_scopes("owner", ""))}
    with stack.hub.client(stack.hub.service_token) as client:
        started = time.perf_counter()
        for _ in range(n):
            client.post("share-codes/owner/", json=body).raise_for_status()
        one_at_a_time = time.perf_counter() - started
    clear_codes(stack)

    async def concurrent() -> float:
        headers = {"Authorization": f"token {stack.hub.service_token}"}
        async with httpx.AsyncClient(base_url=stack.hub.api_url, headers=headers) as client:

            async def create() -> None:
                (await client.post("share-codes/owner/", json=body)).raise_for_status()

            started = time.perf_counter()
            await bounded(16, [create] * n)
            return time.perf_counter() - started

    at_once = asyncio.run(concurrent())
    clear_codes(stack)
    return one_at_a_time, at_once


def share(stack: Stack, app: RunningApp) -> str:
    url = stack.slack.new_response_url()
    response = app.command(OWNER, COMMAND, url)
    assert response.status_code == 200, response.text
    return url


def final_reply(slack: FakeSlack, url: str) -> str:
    answers = [r for r in slack.responses(url) if "so far" not in str(r.get("text"))]
    return str(answers[-1]["text"]) if answers else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="chat.postMessage per second")
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--no-kill", action="store_true", help="skip the kill and restart")
    args = parser.parse_args(argv)
    people = members(args.members)
    env = {"SHAREBOT_RATE_LIMIT_PER_MINUTE": "0", "SHAREBOT_MAX_RECIPIENTS": str(args.members)}
    with tempfile.TemporaryDirectory(prefix="sharebot-fanout-") as tmp:
        print(f"starting a hub with {args.members + 1} users, the stand-in and sharebot…")
        stack = Stack.start(
            Path(tmp),
            hub_users=("owner", *(name for _, name in people)),
            people=[(OWNER, "owner"), *people],
            by="bench",
        )
        try:
            stack.slack.add_usergroup(GROUP, "big", [OWNER, *(s for s, _ in people)])
            one_at_a_time, at_once = hub_floor(stack, args.members)
            codes = min(one_at_a_time, at_once)
            dms = max(0.0, (args.members - args.burst) / args.rate)
            floor = codes + dms

            # 1. the fan-out
            app = stack.serve(**env)
            stack.slack.reset()
            stack.slack.rate_limit("chat.postMessage", args.rate, args.burst)
            started = time.perf_counter()
            url = share(stack, app)
            if not wait("every DM", lambda: everyone_has_one(stack.slack, people), 300):
                failed = [g for g in all_grants(stack.engine) if g.state == "failed"]
                missing = args.members - len(dm_counts(stack.slack, people))
                print(f"  members without a DM: {missing}; failed invitations: {len(failed)}")
            took = time.perf_counter() - started
            wait("the answer", lambda: final_reply(stack.slack, url), 120)
            counts = dm_counts(stack.slack, people)
            refused = sum(
                1 for c in stack.slack.calls("chat.postMessage") if c.error == "ratelimited"
            )
            progress = [r for r in stack.slack.responses(url) if "so far" in str(r.get("text"))]
            grants = open_grants(stack.engine)
            per_member = Counter(g.recipient_slack_id for g in grants)
            hub_codes = stack.hub.share_codes("owner")
            ok = (
                max(counts.values()) == 1
                and len(grants) == args.members
                and set(per_member.values()) == {1}
                and len({g.code_id for g in grants}) == args.members
                and len(hub_codes) == args.members
                and not stack.slack.dms_to(OWNER)
            )
            print()
            print(f"fan-out to a user group of {args.members} linked members")
            print(f"  chat.postMessage limited to {args.rate:g}/s, burst {args.burst}")
            print(f"  every DM posted      : {took:6.2f} s")
            print(
                f"  floor                : {floor:6.2f} s  = {codes:.2f} s for {args.members} "
                f"codes (one at a time {one_at_a_time:.2f} s, 16 at once {at_once:.2f} s)"
                f" + {dms:.2f} s for the DMs"
            )
            print(f"  ratio                : {took / floor:6.2f}x (target 1.3x)")
            print(f"  429s waited out      : {refused}")
            print(f"  progress posts       : {len(progress)} (then the answer, in place)")
            print(
                f"  one DM, grant, code each: {'yes' if ok else 'NO'} "
                f"(DMs {sum(counts.values())}, grants {len(grants)}, codes {len(hub_codes)})"
            )
            print(f"  answer: {final_reply(stack.slack, url)[:160]}")
            app.stop()
            stack.app = None
            if args.no_kill:
                return 0 if ok else 1

            # 2. killed in the middle, started again
            clear_codes(stack)
            stack.switch_database("killed.sqlite")
            stack.slack.reset()
            stack.slack.rate_limit("chat.postMessage", args.rate, args.burst)
            crash_env = {**env, "SHAREBOT_CLAIM_TTL": "3", "SHAREBOT_SWEEP_INTERVAL": "0.5"}
            app = stack.serve(**crash_env)
            started = time.perf_counter()
            share(stack, app)
            half = args.members // 2
            wait("half the DMs", lambda: len(dm_counts(stack.slack, people)) >= half, 600)
            app.process.kill()
            app.process.wait()
            at_kill = len(dm_counts(stack.slack, people))
            restarted = time.perf_counter()
            app = stack.serve(**crash_env)
            wait("every DM after the restart", lambda: everyone_has_one(stack.slack, people), 600)
            after = time.perf_counter() - restarted

            def settled() -> bool:
                grants = open_grants(stack.engine)
                return len(grants) >= args.members and all(g.invite_sent_at for g in grants)

            wait("every invitation confirmed", settled, 300)
            counts = dm_counts(stack.slack, people)
            grants = open_grants(stack.engine)
            per_member = Counter(g.recipient_slack_id for g in grants)
            code_ids = {c["id"] for c in stack.hub.share_codes("owner")}
            lost = [s for s, _ in people if per_member[s] == 0]
            twice = [s for s, n in per_member.items() if n > 1]
            dead_codes = [g for g in grants if g.code_id not in code_ids]
            print()
            print("killed in the middle of the fan-out (SIGKILL), started again")
            print(f"  DMs posted when killed      : {at_kill} of {args.members}")
            print(f"  every member had a DM       : {after:6.2f} s after the restart")
            print(f"  members without a grant     : {len(lost)}")
            print(f"  members with two open grants: {len(twice)}")
            print(f"  open grants whose code is gone from the hub: {len(dead_codes)}")
            print(f"  share codes on the hub      : {len(code_ids)}")
            resent = sum(1 for n in counts.values() if n > 1)
            print(f"  members DMed twice (first link replaced, dead): {resent}")
            app.stop()
            stack.app = None
            crash_ok = not lost and not twice and not dead_codes
            crash_ok = crash_ok and len(code_ids) == args.members
            return 0 if ok and crash_ok else 1
        finally:
            stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
