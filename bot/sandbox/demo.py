"""``sharebot demo``: the whole product on one machine, in well under a minute, no accounts.

Starts a throwaway JupyterHub (with configurable-http-proxy, users owner/alice/bob; see
:mod:`bot.sandbox.hub`), the Slack stand-in (:mod:`bot.sandbox.fake_slack`) and
``sharebot serve`` (a subprocess with an SQLite database), all in a temporary directory and on
free ports. Then it plays a story by sending signed requests as Slack would
(:mod:`bot.sandbox.slack_client`) and logging in to the hub as the people would, and prints
the conversation as they would see it (:mod:`bot.sandbox.render`), with a check after each
step that the hub agrees. Everything is stopped and removed on exit, error or Ctrl-C.

Accept links and share codes are never printed: people only see them behind a button.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import httpx
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.errors import SharebotError
from bot.sandbox.fake_slack import Call, FakeSlack, message_text
from bot.sandbox.hub import ProxyNotFound, RunningHub, find_chp
from bot.sandbox.render import redact, render_message
from bot.sandbox.slack_client import (
    BOT_TOKEN,
    RunningApp,
    block_action,
    run_cli,
)
from bot.sandbox.stack import Stack
from bot.slack import blocks
from bot.store.models import ExternalShare, GrantRow

#: How long one step may wait for sharebot or the hub before the demo gives up.
STEP_TIMEOUT = 30.0
#: The background pass interval of the demo's sharebot (seconds).
SWEEP_INTERVAL = "0.5"
LOG_TAIL = 25
POLL_INTERVAL = 0.05


class DemoError(SharebotError):
    """The demo cannot start (a missing prerequisite) or a step did not happen."""


@dataclass(frozen=True)
class Person:
    slack_id: str
    name: str  # Slack display name and hub username alike


OWNER = Person("UOWNER", "owner")
ALICE = Person("UALICE", "alice")
BOB = Person("UBOB", "bob")
PEOPLE = (OWNER, ALICE, BOB)
NAMES = {p.slack_id: p.name for p in PEOPLE}
CAROL = "carol"  # a hub user who is not on Slack (the digest step)


def check_prerequisites() -> None:
    """Raise :class:`DemoError` with one actionable line when something is missing."""
    if importlib.util.find_spec("jupyterhub") is None:
        raise DemoError(
            "the demo needs JupyterHub: install it with `pip install -e '.[demo]'` "
            "(or run ./scripts/demo, which does)"
        )
    try:
        find_chp()
    except ProxyNotFound as err:
        raise DemoError(str(err)) from None


def slack_text(typed: str) -> str:
    """What Slack sends for ``typed``: mentions of demo people escaped as ``<@U...|name>``."""
    words = []
    for word in typed.split(" "):
        person = next((p for p in PEOPLE if word == f"@{p.name}"), None)
        words.append(f"<@{person.slack_id}|{person.name}>" if person else word)
    return " ".join(words)


def accept_link_of(message: Mapping[str, Any]) -> tuple[str, str, str | None] | None:
    """``(url, block_id, value)`` of the accept button in an invitation, if it has one."""
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == blocks.ACCEPT_ACTION and element.get("url"):
                return str(element["url"]), str(block.get("block_id")), element.get("value")
    return None


def button_labelled(message: Mapping[str, Any], label: str) -> str:
    """The action id of the first button of ``message`` labelled ``label``."""
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            text = element.get("text")
            is_button = element.get("type") == "button" and isinstance(text, Mapping)
            if is_button and text.get("text") == label and element.get("action_id"):
                return str(element["action_id"])
    raise DemoError(f"no [{label}] button in the message")


def button_of(message: Mapping[str, Any], action_id: str) -> tuple[str, str | None] | None:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return str(block.get("block_id")), element.get("value")
    return None


@dataclass
class Demo:
    """One run of the story. Use :func:`run`; the fields are filled in as things start."""

    out: TextIO
    workdir: Path
    hub: RunningHub | None = None
    slack: FakeSlack | None = None
    app: RunningApp | None = None
    engine: Engine | None = None
    started: float = field(default_factory=time.monotonic)
    _shown: int = 0
    _responders: dict[str, Person] = field(default_factory=dict)
    _secrets: list[str] = field(default_factory=list)

    # -- output ------------------------------------------------------------------------------

    def say(self, line: str = "") -> None:
        print(self._safe(line), file=self.out, flush=True)

    def _safe(self, text: str) -> str:
        text = redact(text)
        for secret in self._secrets:
            text = text.replace(secret, "<secret>")
        return text

    def step(self, number: int, title: str) -> None:
        self.say()
        self.say(f"{number}. {title}")

    def _speaker(self, call: Call) -> str | None:
        """Who sees ``call`` and how, or None for calls nobody sees (users.info, ...)."""
        params = call.params
        if call.method == "response_url":
            person = self._responders.get(call.url or "")
            who = f"@{person.name}" if person else "the clicker"
            if params.get("delete_original"):
                return f"sharebot removes the message {who} answered"
            if params.get("replace_original") and params.get("response_type") != "ephemeral":
                return f"sharebot updates the message {who} answered:"
            return f"sharebot -> {who} (only {who} can see this):"
        channel = str(params.get("channel", ""))
        user_id = channel[1:] if channel.startswith("D") else channel
        where = f"@{NAMES[user_id]}" if user_id in NAMES else f"#{channel}"
        if call.method == "chat.postMessage":
            return f"sharebot -> {where} (direct message):"
        if call.method == "chat.postEphemeral":
            viewer = NAMES.get(str(params.get("user")), str(params.get("user")))
            return f"sharebot -> @{viewer} in {where} (only @{viewer} can see this):"
        if call.method == "chat.update":
            return f"sharebot updates its message to {where}:"
        if call.method == "views.open":
            return "sharebot opens a dialog:"
        return None

    def show_new_messages(self) -> None:
        """Print every message recorded since the last call, as the reader sees it."""
        assert self.slack is not None
        calls = self.slack.calls()
        for call in calls[self._shown :]:
            if call.failed:
                continue
            speaker = self._speaker(call)
            if speaker is None:
                continue
            self.say(f"  {speaker}")
            message = call.params.get("view", call.params)
            for line in render_message(message, NAMES) or ["(empty)"]:
                self.say(f"    | {line}" if line else "    |")
        self._shown = len(calls)

    # -- waiting -----------------------------------------------------------------------------

    def wait(self, what: str, predicate: Callable[[], Any], timeout: float = STEP_TIMEOUT) -> Any:
        """Poll ``predicate`` until it is truthy; :class:`DemoError` naming ``what`` after
        ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise DemoError(f"{what}: nothing happened within {timeout:g} s")
            time.sleep(POLL_INTERVAL)

    def new_dms(self, person: Person, since: int) -> list[dict[str, Any]]:
        assert self.slack is not None
        channel = FakeSlack.dm_channel(person.slack_id)
        return [
            c.params
            for c in self.slack.calls()[since:]
            if c.method == "chat.postMessage"
            and not c.failed
            and str(c.params.get("channel")) in (channel, person.slack_id)
        ]

    def dm_to(
        self,
        person: Person,
        since: int,
        what: str,
        *,
        accept_button: bool = False,
        mentioning: Person | None = None,
    ) -> Any:
        """Wait for a DM to ``person`` posted after call number ``since`` (with an accept
        button, or mentioning someone, when asked); return its parameters."""

        def found() -> dict[str, Any] | None:
            for message in self.new_dms(person, since):
                if accept_button and not accept_link_of(message):
                    continue
                if mentioning and f"<@{mentioning.slack_id}" not in message_text(message):
                    continue
                return message
            return None

        return self.wait(f"waiting for {what}", found)

    def mark(self) -> int:
        assert self.slack is not None
        return len(self.slack.calls())

    def hub_check(self, description: str, holds: Callable[[RunningHub], bool]) -> None:
        assert self.hub is not None
        hub = self.hub
        self.wait(f"the hub does not agree that {description}", lambda: holds(hub), timeout=10)
        self.say(f"  hub: {description}  [ok]")

    # -- acting as people --------------------------------------------------------------------

    def types(self, person: Person, typed: str) -> str:
        """``person`` runs ``/share-server typed``; returns the response URL of the reply."""
        assert self.app is not None and self.slack is not None
        self.say(f"  @{person.name} types: /share-server {typed}")
        url = self.slack.new_response_url()
        self._responders[url] = person
        ack = self.app.command(person.slack_id, slack_text(typed), url)
        if ack.status_code != 200:
            raise DemoError(f"sharebot answered the command with HTTP {ack.status_code}")
        slack = self.slack
        self.wait(f"waiting for sharebot's reply to @{person.name}", lambda: slack.responses(url))
        return url

    def clicks(self, person: Person, message: Mapping[str, Any], action_id: str, label: str) -> str:
        """``person`` clicks a button of ``message``; returns the response URL."""
        assert self.app is not None and self.slack is not None
        button = button_of(message, action_id)
        if button is None:
            raise DemoError(f"the message to @{person.name} has no [{label}] button")
        block_id, value = button
        self.say(f"  @{person.name} clicks [{label}]")
        url = self.slack.new_response_url()
        self._responders[url] = person
        payload = block_action(person.slack_id, action_id, url, value=value, block_id=block_id)
        answer = self.app.interact(payload)
        if answer.status_code != 200:
            raise DemoError(f"sharebot answered the click with HTTP {answer.status_code}")
        return url

    def accepts(self, person: Person, invitation: Mapping[str, Any]) -> None:
        """``person`` clicks the accept button (Slack tells sharebot, the browser opens the
        link) and logs in to JupyterHub, which exchanges the share code."""
        assert self.hub is not None and self.app is not None and self.slack is not None
        link = accept_link_of(invitation)
        if link is None:
            raise DemoError(f"the invitation to @{person.name} has no accept button")
        url, block_id, value = link
        self.say(f"  @{person.name} clicks [Accept and open] and logs in to JupyterHub")
        response_url = self.slack.new_response_url()
        self._responders[response_url] = person
        payload = block_action(
            person.slack_id, blocks.ACCEPT_ACTION, response_url, value=value, block_id=block_id
        )
        self.app.interact(payload)  # Slack reports URL-button clicks too; sharebot just acks
        answer = self.hub.accept_share(person.name, url)
        if answer.status_code != 302:
            raise DemoError(
                f"JupyterHub refused @{person.name}'s accept link (HTTP {answer.status_code})"
            )

    def time_travel(self, person: Person) -> None:
        """Move ``person``'s active grant's deadline to the past, as if its time were up."""
        assert self.engine is not None
        past = utcnow() - timedelta(seconds=1)
        with Session(self.engine) as session, session.begin():
            ids = list(
                session.scalars(
                    select(GrantRow.id).where(
                        GrantRow.recipient_slack_id == person.slack_id, GrantRow.state == "active"
                    )
                )
            )
            if not ids:
                raise DemoError(f"@{person.name} has no active share to end")
            session.execute(update(GrantRow).where(GrantRow.id.in_(ids)).values(expires_at=past))

    # -- the story ---------------------------------------------------------------------------

    def start(self) -> None:
        self.say("sharebot demo: a throwaway JupyterHub, a stand-in for Slack and sharebot itself,")
        self.say(f"all on this machine (in {self.workdir}, removed at the end).")
        self.say()
        t0 = time.monotonic()
        stack = Stack.start(
            self.workdir,
            hub_users=[p.name for p in PEOPLE],
            people=[(p.slack_id, p.name) for p in PEOPLE],
            by="demo",
            SHAREBOT_SWEEP_INTERVAL=SWEEP_INTERVAL,
            SHAREBOT_DIGEST_TIME="off",  # the demo runs the digest itself, when the story says
        )
        hub, slack = stack.hub, stack.slack
        self.hub, self.slack, self.engine = hub, slack, stack.engine
        self._secrets += [hub.service_token, hub.admin_token, hub.password]
        self.say(
            f"  JupyterHub {hub.public_url} with users "
            f"{', '.join(p.name for p in PEOPLE)}, and a Slack stand-in {slack.api_url} with "
            f"users @owner, @alice, @bob ({time.monotonic() - t0:.1f} s)"
        )
        self.say(
            "  linked Slack users to hub users, as `sharebot link U... NAME` does: "
            + ", ".join(f"@{p.name} -> {p.name}" for p in PEOPLE)
        )
        t0 = time.monotonic()
        self.app = stack.serve()
        self.say(
            f"  sharebot serve {self.app.url} (background pass every {SWEEP_INTERVAL} s) "
            f"({time.monotonic() - t0:.1f} s)"
        )
        self._shown = self.mark()

    def story(self) -> None:
        assert self.hub is not None and self.slack is not None

        holders = self.holders
        self.step(1, "@owner shares their server with @alice for an hour")
        since = self.mark()
        self.types(OWNER, "@alice 1h pairing on the notebook")
        invitation = self.dm_to(ALICE, since, "@alice's invitation", accept_button=True)
        self.show_new_messages()
        self.hub_check(
            "owner's server has one unused share code; nobody else can open it yet",
            lambda h: len(h.share_codes(OWNER.name)) == 1 and not holders(h),
        )

        self.step(2, "@alice accepts; sharebot notices and tells @owner")
        since = self.mark()
        self.accepts(ALICE, invitation)
        self.hub_check("alice can now open owner's server", lambda h: holders(h) == {"alice"})
        self.dm_to(OWNER, since, "the note to @owner that @alice accepted", mentioning=ALICE)
        self.show_new_messages()
        self.hub_check(
            "the link is used up (no share codes left)", lambda h: not h.share_codes(OWNER.name)
        )

        self.step(3, "@bob asks @owner for access")
        since = self.mark()
        self.types(BOB, "request @owner 2h need the GPU notebook")
        ask = self.wait(
            "waiting for the request in @owner's DM",
            lambda: next(
                (m for m in self.new_dms(OWNER, since) if button_of(m, blocks.APPROVE_ACTION)),
                None,
            ),
        )
        self.dm_to(BOB, since, "@bob's copy of his request", mentioning=OWNER)
        self.show_new_messages()
        self.hub_check("nothing changes on the hub yet", lambda h: holders(h) == {"alice"})

        self.step(4, "@owner approves; @bob gets his invitation")
        since = self.mark()
        answer_url = self.clicks(OWNER, ask, blocks.APPROVE_ACTION, "Approve")
        slack = self.slack
        self.wait("waiting for sharebot's answer to the click", lambda: slack.responses(answer_url))
        bob_invitation = self.dm_to(BOB, since, "@bob's invitation", accept_button=True)
        self.wait(
            "waiting for both copies of the request to be updated",
            lambda: len([c for c in slack.calls()[since:] if c.method == "chat.update"]) >= 2,
        )
        self.show_new_messages()
        self.hub_check(
            "one unused share code, for bob's invitation",
            lambda h: len(h.share_codes(OWNER.name)) == 1,
        )

        self.step(5, "@bob accepts")
        since = self.mark()
        self.accepts(BOB, bob_invitation)
        self.dm_to(OWNER, since, "the note to @owner that @bob accepted", mentioning=BOB)
        self.show_new_messages()
        self.hub_check(
            "alice and bob can open owner's server", lambda h: holders(h) == {"alice", "bob"}
        )

        self.step(6, "An hour later: @alice's time is up")
        self.say("  (the demo moves the deadline of @alice's share to now in sharebot's database;")
        self.say("  the background pass does the rest)")
        since = self.mark()
        self.time_travel(ALICE)
        self.dm_to(ALICE, since, "the note to @alice that her access ended", mentioning=OWNER)
        self.dm_to(OWNER, since, "the note to @owner that @alice's access ended", mentioning=ALICE)
        self.show_new_messages()
        self.hub_check(
            "alice can no longer open owner's server; bob still can (1h left)",
            lambda h: holders(h) == {"bob"},
        )

        self.digest_story()
        self.show_new_messages()  # anything that arrived late
        self.check_log()

    def check_log(self) -> None:
        """sharebot's own log must hold no token, share code or accept link."""
        assert self.app is not None and self.hub is not None
        log = self.app.log()
        leaked = [
            name
            for name, secret in (
                ("a share code", "code="),
                ("an accept link", "accept-share"),
                ("the Slack token", BOT_TOKEN),
                ("the hub token", self.hub.service_token),
            )
            if secret in log
        ]
        if leaked:
            raise DemoError(f"sharebot's log contains {' and '.join(leaked)}")
        self.say()
        self.say("sharebot's log holds no token, share code or accept link  [ok]")

    def digest_story(self) -> None:
        """Step 7: a share made in the hub itself, forgotten, found by the daily digest and
        revoked from it with one click."""
        assert self.hub is not None and self.engine is not None and self.slack is not None
        hub, slack = self.hub, self.slack
        self.step(7, "Weeks later: the daily digest finds a forgotten share")
        self.say("  (weeks ago @owner also shared the server with carol, a hub user who is not")
        self.say("  on Slack, directly in JupyterHub, without sharebot)")
        hub.create_users(CAROL)
        with hub.client() as api:
            api.post(f"shares/{OWNER.name}/", json={"user": CAROL}).raise_for_status()
        self.hub_check(
            "carol can open owner's server (a share sharebot did not make)",
            lambda h: CAROL in self.holders(h),
        )
        self.run_digest("--reconcile-only")  # sharebot records the share it did not make ...
        past = utcnow() - timedelta(days=30)
        with Session(self.engine) as session, session.begin():  # ... and it is weeks old
            session.execute(update(ExternalShare).values(hub_created_at=past, first_seen=past))
        self.say("  the daily job runs (the demo runs it now: `sharebot digest --now`)")
        since = self.mark()
        self.run_digest()
        digest = self.dm_to(OWNER, since, "the digest to @owner")
        self.show_new_messages()
        url = self.clicks(OWNER, digest, button_labelled(digest, "Revoke"), "Revoke")
        self.wait("waiting for sharebot's answer to the click", lambda: slack.responses(url))
        self.show_new_messages()
        self.hub_check(
            "carol can no longer open owner's server; bob still can",
            lambda h: self.holders(h) == {BOB.name},
        )

    def run_digest(self, *extra: str) -> None:
        assert self.app is not None
        done = run_cli(self.app.env, "digest", "--now", *extra)
        if done.returncode != 0:
            raise DemoError(
                f"`sharebot digest --now {' '.join(extra)}` failed with exit code "
                f"{done.returncode}: {self._safe(done.stderr.strip()[-500:])}"
            )

    @staticmethod
    def holders(hub: RunningHub) -> set[str]:
        """Who has been given access to owner's default server."""
        return {s["user"]["name"] for s in hub.shares(OWNER.name) if s.get("user")}

    # -- lifecycle ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop everything that was started (idempotent, never raises)."""
        app, self.app = self.app, None
        slack, self.slack = self.slack, None
        hub, self.hub = self.hub, None
        engine, self.engine = self.engine, None
        for stop in (
            app.stop if app else None,
            slack.stop if slack else None,
            hub.stop if hub else None,
            engine.dispose if engine else None,
        ):
            if stop is not None:
                with contextlib.suppress(Exception):
                    stop()

    def log_tails(self) -> Iterator[str]:
        """The last lines of sharebot's and the hub's logs, with secrets hidden."""
        paths: list[Path] = []
        if self.app is not None:
            paths.append(self.app.log_path)
        if self.hub is not None:
            paths.append(self.hub.log_path)
        for path in paths:
            try:
                lines = path.read_text(errors="replace").splitlines()[-LOG_TAIL:]
            except OSError:
                continue
            yield f"--- last lines of {path.name}"
            yield from (self._safe(line) for line in lines)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Play the demo; 0 when every step happened, 1 when one did not. Cleans up always."""
    out = out or sys.stdout
    err = err or sys.stderr
    for stream in (out, err):  # a terminal that cannot show an emoji gets "?", not a crash
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")
    check_prerequisites()
    workdir = Path(tempfile.mkdtemp(prefix="sharebot-demo-"))
    demo = Demo(out=out, workdir=workdir)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    outcome = 1
    try:
        demo.start()
        demo.story()
        demo.say()
        demo.say(
            f"Done in {time.monotonic() - demo.started:.1f} s. Try it for real: "
            "./scripts/serve (see the README)."
        )
        outcome = 0
    except KeyboardInterrupt:
        outcome = 130
    except (DemoError, AssertionError, RuntimeError, OSError, httpx.HTTPError) as failure:
        print(f"sharebot demo: {demo._safe(str(failure))}", file=err)
        for line in demo.log_tails():
            print(line, file=err)
    finally:
        demo.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)
    if outcome == 130:
        print("sharebot demo: interrupted; everything it started is stopped and removed", file=err)
    return outcome
