"""Benchmark: nothing lost when things fail. Prints what was injected and what came through.

Against a real JupyterHub and the fake Slack Web API, with `sharebot serve` processes:

- Slack faults: errors and 429s (``Retry-After``) injected on ``chat.postMessage`` while
  grants are accepted and expire; every notice must be delivered (outbox), none twice.
- Crashes: ``kill -9`` (tests/support/crashing_serve.py) after a share code is created,
  before the invitation DM, after an acceptance is recorded and after the hub's revocation
  PATCH; a normal restart on the same database must converge (DM out, no orphan code,
  share revoked). Claims last ``SHAREBOT_CLAIM_TTL=3`` s here (300 s by default).
- Hub down: a proxy in front of the hub is cut while expiries fall due, then restored;
  the lateness of each revocation (``ended_at - expires_at``) is measured.

Run: `.venv/bin/python -m bench.faults [--grants 4] [--outage 5]` (about two minutes: the
outbox's first retry is 30 s after a failure).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.hub import RunningHub, start_hub
from bot.sandbox.slack_client import BOT_TOKEN, RunningApp, app_env
from bot.store.db import ensure_schema, make_engine
from bot.store.links import Links
from bot.store.models import GrantRow, OutboxRow
from tests.support.faults import (
    command_until_killed,
    poll,
    start_crashing,
    start_normal,
    wait_killed,
)
from tests.support.toggle_proxy import ToggleProxy

NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")


@dataclass
class Figures:
    hub_failures: int = 0  # connections the cut proxy refused or dropped
    slack_failures: int = 0  # chat.postMessage calls the fake Slack failed on purpose
    notices_expected: int = 0
    notices_delivered: int = 0
    notices_duplicated: int = 0
    crashes: int = 0
    recovered: int = 0
    recovery_seconds: float = 0.0
    lateness: list[float] | None = None
    after_return: list[float] | None = None


class Bench:
    def __init__(self, workdir: Path, grants: int) -> None:
        self.workdir = workdir
        self.users = {f"U{n.upper()}": n for n in ("owner", *NAMES[:grants])}
        self.recipients = [u for u in self.users if u != "UOWNER"]
        self.hub: RunningHub = start_hub(workdir / "hub", users=tuple(self.users.values()))
        self.slack = FakeSlack(tokens={BOT_TOKEN}).start()
        for slack_id, name in self.users.items():
            self.slack.add_user(slack_id, name=name, email=f"{name}@example.org")
        port = int(self.hub.api_url.split("://")[1].split("/")[0].rsplit(":", 1)[1])
        self.proxy = ToggleProxy("127.0.0.1", port)
        self.runs = 0

    def close(self) -> None:
        self.proxy.stop()
        self.slack.stop()
        self.hub.stop()

    def fresh(self) -> tuple[dict[str, str], Engine]:
        """A new database with every user linked, no shares or codes in the hub."""
        self.runs += 1
        url = f"sqlite:///{self.workdir / f'run{self.runs}.sqlite'}"
        env = app_env(self.hub, self.slack.api_url, url, SHAREBOT_RATE_LIMIT_PER_MINUTE="0")
        env["JUPYTERHUB_API_URL"] = self.proxy.rewrite(env["JUPYTERHUB_API_URL"])
        engine = make_engine(url)
        ensure_schema(engine)
        repo = Links(engine)
        for slack_id, name in self.users.items():
            repo.link(slack_id, name, method="admin", by="bench", now=utcnow())
        with self.hub.client(self.hub.admin_token) as client:
            for name in self.users.values():
                client.delete(f"shares/{name}/")
                client.delete(f"share-codes/{name}/")
        self.slack.reset()
        return env, engine

    def share_and_accept(self, app: RunningApp, engine: Engine, who: list[str]) -> None:
        mentions = " ".join(f"<@{u}|{self.users[u]}>" for u in who)
        app.command("UOWNER", f"{mentions} 1h", self.slack.new_response_url())
        for slack_id in who:
            message = self.slack.wait_for_dm(slack_id, "shared", timeout=30)
            assert self.hub.accept_share(self.users[slack_id], accept_url(message)).is_redirect
        poll(lambda: states(engine).count("active") == len(who) or None, "acceptances", 60)

    # -- scenarios ------------------------------------------------------------------------

    def slack_faults(self, figures: Figures) -> None:
        env, engine = self.fresh()
        app = start_normal(env, self.workdir)
        try:
            mentions = " ".join(f"<@{u}|{self.users[u]}>" for u in self.recipients)
            app.command("UOWNER", f"{mentions} 1h", self.slack.new_response_url())
            urls = {u: accept_url(self.slack.wait_for_dm(u, "shared", 30)) for u in self.recipients}
            # Invitations are out; every notice from here on meets faults first.
            self.slack.fail_next("chat.postMessage", error="internal_error", times=3)
            self.slack.fail_next("chat.postMessage", status=429, retry_after=1, times=2)
            for slack_id, url in urls.items():
                assert self.hub.accept_share(self.users[slack_id], url).is_redirect
            n = len(self.recipients)
            poll(lambda: states(engine).count("active") == n or None, "acceptances", 60)
            for row_id in grant_ids(engine):
                past(engine, row_id)
            poll(lambda: states(engine).count("expired") == n or None, "expiries", 60)
            expected = 3 * n  # accepted (owner), ended (owner and recipient)
            poll(lambda: sent(engine) >= expected or None, "every notice delivered", 150)
            figures.notices_expected += expected
            figures.notices_delivered += sent(engine)
            sent_messages = [
                (m.get("channel"), m["text"])
                for m in self.slack.messages()
                if "shared" not in m["text"]
            ]
            figures.notices_duplicated += len(sent_messages) - len(set(sent_messages))
            figures.slack_failures += sum(c.failed for c in self.slack.calls("chat.postMessage"))
        finally:
            app.stop()

    def crash(
        self, figures: Figures, target: str, *, before: bool, setup: Callable[..., Any]
    ) -> None:
        env, engine = self.fresh()
        crashing = start_crashing(env, self.workdir, target, before=before)
        try:
            converged = setup(crashing, engine)
            wait_killed(crashing, 60)
        finally:
            crashing.stop()
        figures.crashes += 1
        started = time.monotonic()
        app = start_normal(env, self.workdir)
        try:
            poll(lambda: converged(engine) or None, f"convergence after a crash at {target}", 90)
            figures.recovered += 1
            figures.recovery_seconds = max(figures.recovery_seconds, time.monotonic() - started)
        finally:
            app.stop()

    def crashes(self, figures: Figures) -> None:
        alice = self.recipients[0]
        codes = self.hub.share_codes

        def invite(app: RunningApp, engine: Engine) -> Callable[[Engine], bool]:
            command_until_killed(app, "UOWNER", f"<@{alice}> 1h", self.slack.new_response_url())

            def converged(engine: Engine) -> bool:
                [row] = rows(engine)
                dms = [m for m in self.slack.dms_to(alice) if "shared" in m["text"]]
                listed = [c["id"] for c in codes("owner")]
                return row.invite_sent_at is not None and len(dms) == 1 and listed == [row.code_id]

            return converged

        def accepted(app: RunningApp, engine: Engine) -> Callable[[Engine], bool]:
            self.share_and_accept(app, engine, [alice])
            return lambda _: bool(
                [m for m in self.slack.dms_to("UOWNER") if "accepted" in m["text"]]
            )

        def revoked(app: RunningApp, engine: Engine) -> Callable[[Engine], bool]:
            self.share_and_accept(app, engine, [alice])
            past(engine, grant_ids(engine)[0])
            return lambda e: states(e) == ["expired"] and not self.hub.shares("owner")

        self.crash(
            figures, "bot.hub.client:HubClient.create_share_code", before=False, setup=invite
        )
        self.crash(figures, "bot.slack.port:SlackSay.dm", before=True, setup=invite)
        self.crash(figures, "bot.store.grants:Grants.transition", before=False, setup=accepted)
        self.crash(figures, "bot.hub.client:HubClient.revoke_share", before=False, setup=revoked)

    def hub_down(self, figures: Figures, outage: float) -> None:
        env, engine = self.fresh()
        app = start_normal(env, self.workdir)
        try:
            self.share_and_accept(app, engine, self.recipients)
            self.proxy.refused = 0
            self.proxy.down()
            for row_id in grant_ids(engine):
                past(engine, row_id)
            time.sleep(outage)  # the outage itself: passes run and fail meanwhile
            back = datetime.now(UTC)
            self.proxy.up()
            n = len(self.recipients)
            poll(lambda: states(engine).count("expired") == n or None, "revocations", 60)
            figures.hub_failures += self.proxy.refused
            ended = rows(engine)
            figures.lateness = [
                (r.ended_at - r.expires_at).total_seconds()
                for r in ended
                if r.ended_at and r.expires_at
            ]
            figures.after_return = [
                (r.ended_at - back).total_seconds() for r in ended if r.ended_at
            ]
        finally:
            self.proxy.up()
            app.stop()


def accept_url(message: dict[str, Any]) -> str:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("url"):
                return str(element["url"])
    raise AssertionError("no accept link in the invitation")


def rows(engine: Engine) -> list[GrantRow]:
    with Session(engine) as session:
        return list(session.scalars(select(GrantRow).order_by(GrantRow.id)))


def states(engine: Engine) -> list[str]:
    return [r.state for r in rows(engine)]


def grant_ids(engine: Engine) -> list[int]:
    return [r.id for r in rows(engine)]


def past(engine: Engine, grant_id: int) -> None:
    with Session(engine) as session, session.begin():
        session.execute(
            update(GrantRow)
            .where(GrantRow.id == grant_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )


def sent(engine: Engine) -> int:
    with Session(engine) as session:
        return len(session.scalars(select(OutboxRow.id).where(OutboxRow.state == "sent")).all())


def report(f: Figures, outage: float) -> str:
    lateness = f.lateness or [0.0]
    after = f.after_return or [0.0]
    lines = [
        ("hub failures injected (connections cut)", f"{f.hub_failures}"),
        ("Slack failures injected (errors, 429s)", f"{f.slack_failures}"),
        ("notices expected / delivered", f"{f.notices_expected} / {f.notices_delivered}"),
        ("notices delivered twice", f"{f.notices_duplicated}"),
        ("crashes (kill -9) / grants recovered", f"{f.crashes} / {f.recovered}"),
        ("slowest recovery after restart", f"{f.recovery_seconds:.1f} s"),
        (f"max revocation lateness ({outage:.0f} s outage)", f"{max(lateness):.1f} s"),
        ("max revocation after the hub returned", f"{max(after):.1f} s"),
    ]
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grants", type=int, default=4, help="recipients per scenario (max 8)")
    parser.add_argument("--outage", type=float, default=5.0, help="seconds the hub is down")
    args = parser.parse_args()
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="sharebot-faults-") as tmp:
        bench = Bench(Path(tmp), min(args.grants, len(NAMES)))
        try:
            print("slack faults ...", file=sys.stderr)
            bench.slack_faults(figures)
            print("crashes ...", file=sys.stderr)
            bench.crashes(figures)
            print("hub down ...", file=sys.stderr)
            bench.hub_down(figures, args.outage)
        finally:
            bench.close()
    print(report(figures, args.outage))
    return 0 if figures.recovered == figures.crashes else 1


if __name__ == "__main__":
    sys.exit(main())
