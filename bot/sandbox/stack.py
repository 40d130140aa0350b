"""The one start-up of a throwaway world: a real JupyterHub, the Slack stand-in, a database
with people linked, and ``sharebot serve`` on them. The demo, ``bench/`` and the integration
tests build on it.

    stack = Stack.start(workdir, hub_users=("owner", "alice"), people=[("UALICE", "alice")])
    try:
        app = stack.serve(SHAREBOT_SWEEP_INTERVAL="1")
        ...
    finally:
        stack.stop()
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from bot.clock import utcnow
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.hub import RunningHub, start_hub
from bot.sandbox.slack_client import BOT_TOKEN, RunningApp, app_env, start_app
from bot.store.db import ensure_schema, make_engine
from bot.store.links import Links


def link_people(engine: Engine, people: Iterable[tuple[str, str]], *, by: str) -> None:
    """Link Slack users to hub users, as ``sharebot link U... NAME`` does."""
    links = Links(engine)
    for slack_id, hub_user in people:
        links.link(slack_id, hub_user, method="admin", by=by, now=utcnow())


def new_database(url: str, people: Iterable[tuple[str, str]] = (), *, by: str) -> Engine:
    """A database at the schema's head with ``people`` linked."""
    engine = make_engine(url)
    ensure_schema(engine)
    link_people(engine, people, by=by)
    return engine


@dataclass
class Stack:
    workdir: Path
    hub: RunningHub
    slack: FakeSlack
    database_url: str
    engine: Engine
    env: dict[str, str]
    by: str
    people: list[tuple[str, str]] = field(default_factory=list)  # (Slack id, hub user)
    app: RunningApp | None = None

    @classmethod
    def start(
        cls,
        workdir: Path,
        *,
        hub_users: Sequence[str],
        people: Sequence[tuple[str, str]] = (),
        database: str = "sharebot.sqlite",
        by: str = "sandbox",
        **env: str,
    ) -> Stack:
        """Start the hub (with ``hub_users``) and the Slack stand-in (with ``people``, linked
        in a new database); ``env`` is for ``sharebot serve`` later (:meth:`serve`)."""
        hub = start_hub(workdir / "hub", users=tuple(hub_users))
        try:
            slack = FakeSlack(tokens={BOT_TOKEN}).start()
        except BaseException:
            hub.stop()
            raise
        for slack_id, name in people:
            slack.add_user(slack_id, name=name, email=f"{name}@example.org")
        url = f"sqlite:///{workdir / database}"
        engine = new_database(url, people, by=by)
        return cls(
            workdir=workdir,
            hub=hub,
            slack=slack,
            database_url=url,
            engine=engine,
            env=app_env(hub, slack.api_url, url, **env),
            by=by,
            people=list(people),
        )

    def link(self, people: Sequence[tuple[str, str]]) -> None:
        link_people(self.engine, people, by=self.by)
        self.people += people

    def switch_database(self, name: str) -> None:
        """A new database with the same people linked: what one run left (open invitations,
        active grants) is not worked on by the next one's start-up pass."""
        self.engine.dispose()
        self.database_url = f"sqlite:///{self.workdir / name}"
        self.engine = new_database(self.database_url, self.people, by=self.by)
        self.env["SHAREBOT_DATABASE_URL"] = self.database_url

    def serve(self, **env: str) -> RunningApp:
        """``sharebot serve`` on the stack (``env`` on top of the stack's)."""
        self.app = start_app({**self.env, **env}, self.workdir)
        return self.app

    def stop(self) -> None:
        if self.app is not None:
            self.app.stop()
        self.slack.stop()
        self.hub.stop()
        self.engine.dispose()
