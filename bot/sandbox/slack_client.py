"""Run ``sharebot serve`` as a real subprocess and talk to it like Slack does: signed HTTP.

Used by the integration tests (``tests/support/app.py`` re-exports this module) and by
``sharebot demo``. The token and signing secret below are fixed, test-only values: they only
ever meet the fake Slack API (:mod:`bot.sandbox.fake_slack`), never real Slack.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bot.sandbox.fake_slack import BOT_TOKEN as BOT_TOKEN  # the stand-in's, for app_env
from bot.sandbox.hub import RunningHub, die_with_parent, free_port

#: The sandbox's signing secret: 32 lowercase hex digits like Slack's (the settings refuse
#: anything else), plainly not one.
SIGNING_SECRET = "0123456789abcdef0123456789abcdef"


def sign(body: str, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    if signature is None:  # only when a timestamp or secret is missing
        raise ValueError("cannot sign a request without a timestamp and a secret")
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def new_trigger_id() -> str:
    """A trigger id of the shape Slack's have, different each time."""
    return f"{time.time_ns()}.{os.getpid()}.{os.urandom(8).hex()}"


def block_action(
    user: str,
    action_id: str,
    response_url: str,
    *,
    value: str | None = None,
    block_id: str = "b",
    selected: str | None = None,
) -> dict[str, Any]:
    """A ``block_actions`` payload for one click."""
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "type": "static_select" if selected is not None else "button",
        "action_ts": f"{time.time():.6f}",
    }
    if value is not None:
        action["value"] = value
    if selected is not None:
        action["selected_option"] = {"value": selected, "text": {"type": "plain_text", "text": "x"}}
    return {
        "type": "block_actions",
        "token": "unused-verification-token",
        "api_app_id": "A0SHAREBOT",
        "team": {"id": "T0TEST", "domain": "fake-team"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEST"},
        "container": {"type": "message", "channel_id": "D" + user, "message_ts": "1.1"},
        "channel": {"id": "D" + user},
        "trigger_id": new_trigger_id(),
        "response_url": response_url,
        "actions": [action],
    }


def view_submission(
    user: str, callback_id: str, private_metadata: str, values: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "token": "unused-verification-token",
        "api_app_id": "A0SHAREBOT",
        "team": {"id": "T0TEST", "domain": "fake-team"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEST"},
        "trigger_id": new_trigger_id(),
        "view": {
            "id": "V0DENY",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": values},
        },
    }


def _from(user: str) -> dict[str, Any]:
    """The fields every interaction payload has: the app, the workspace, who."""
    return {
        "token": "unused-verification-token",
        "api_app_id": "A0SHAREBOT",
        "team": {"id": "T0TEST", "domain": "fake-team"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEST"},
        "trigger_id": new_trigger_id(),
    }


def shortcut(user: str, callback_id: str) -> dict[str, Any]:
    """A global shortcut's ``shortcut`` payload."""
    return {"type": "shortcut", "callback_id": callback_id, "action_ts": f"{time.time():.6f}"} | (
        _from(user)
    )


def message_action(
    user: str,
    callback_id: str,
    message: dict[str, Any],
    response_url: str,
    channel: str = "C0GENERAL",
) -> dict[str, Any]:
    """A message shortcut's ``message_action`` payload, on ``message`` (``user``, ``text``,
    ``ts``) in ``channel``."""
    return {
        "type": "message_action",
        "callback_id": callback_id,
        "action_ts": f"{time.time():.6f}",
        "message_ts": str(message.get("ts", "1.1")),
        "channel": {"id": channel, "name": "general"},
        "message": {"type": "message", "ts": "1.1", **message},
        "response_url": response_url,
    } | _from(user)


def view_action(
    user: str, view: dict[str, Any], action_id: str, block_id: str, action: dict[str, Any]
) -> dict[str, Any]:
    """A ``block_actions`` payload from inside an open modal (``view`` as the stand-in
    recorded it): ``action`` holds the element's own fields (``selected_user``, ...)."""
    return {
        "type": "block_actions",
        "container": {"type": "view", "view_id": view["id"]},
        "view": _submitted(view, {}),
        "actions": [
            {"action_id": action_id, "block_id": block_id, "action_ts": f"{time.time():.6f}"}
            | action
        ],
    } | _from(user)


def submit_view(user: str, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A ``view_submission`` of ``view`` (as the stand-in recorded it, its private_metadata
    and hash included) with the inputs' ``values`` (``state.values``: block id -> action id
    -> the element's value)."""
    return {"type": "view_submission", "view": _submitted(view, values)} | _from(user)


def _submitted(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "type", "callback_id", "private_metadata", "hash", "title", "blocks")
    return {k: view[k] for k in keep if k in view} | {"state": {"values": values}}


def app_env(
    hub: RunningHub, slack_api_url: str, database_url: str, **overrides: str
) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "JUPYTERHUB_", "SHAREBOT_"))
    }
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack_api_url,
        JUPYTERHUB_API_URL=hub.api_url,
        JUPYTERHUB_API_TOKEN=hub.service_token,
        JUPYTERHUB_PUBLIC_URL=hub.public_url,
        SHAREBOT_DATABASE_URL=database_url,
        SHAREBOT_SWEEP_INTERVAL="0.5",
        # no scheduled digest mid-test: tests that want one run `sharebot digest --now`
        SHAREBOT_DIGEST_TIME="off",
    )
    env.update(overrides)
    return env


def run_cli(
    env: Mapping[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``sharebot <args>`` in its own process, its output captured; ``timeout`` seconds."""
    return subprocess.run(  # noqa: S603 (our own CLI, arguments from the caller's code)
        [sys.executable, "-m", "bot.cli", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class RunningApp:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def command(
        self,
        user_id: str,
        text: str,
        response_url: str,
        *,
        secret: str = SIGNING_SECRET,
        timestamp: int | None = None,
        trigger_id: str | None = None,
    ) -> httpx.Response:
        """POST a signed ``/share-server`` slash command, as Slack would: each with a
        ``trigger_id`` of its own unless one is given (the same one again is a replay)."""
        body = urlencode(
            {
                "token": "unused-verification-token",
                "team_id": "T0TEST",
                "team_domain": "fake-team",
                "channel_id": "C0GENERAL",
                "channel_name": "general",
                "user_id": user_id,
                "user_name": user_id.lower(),
                "command": "/share-server",
                "text": text,
                "api_app_id": "A0SHAREBOT",
                "response_url": response_url,
                "trigger_id": trigger_id or new_trigger_id(),
            }
        )
        headers = sign(body, secret, timestamp)
        with httpx.Client(timeout=10) as client:
            return client.post(f"{self.url}/slack/events", content=body, headers=headers)

    def interact(self, payload: dict[str, Any]) -> httpx.Response:
        """POST a signed interaction (button click, modal submission), as Slack would."""
        body = urlencode({"payload": json.dumps(payload)})
        with httpx.Client(timeout=10) as client:
            return client.post(f"{self.url}/slack/events", content=body, headers=sign(body))

    def event(self, event: dict[str, Any], *, event_id: str | None = None) -> httpx.Response:
        """POST a signed Events API callback (e.g. ``app_home_opened``), as Slack would."""
        body = json.dumps(
            {
                "token": "unused-verification-token",
                "team_id": "T0TEST",
                "api_app_id": "A0SHAREBOT",
                "event": {"event_ts": f"{time.time():.6f}", **event},
                "type": "event_callback",
                "event_id": event_id or f"Ev{time.time_ns()}",
                "event_time": int(time.time()),
                "authorizations": [{"team_id": "T0TEST", "user_id": "UBOT", "is_bot": True}],
            }
        )
        headers = {**sign(body), "Content-Type": "application/json"}
        with httpx.Client(timeout=10) as client:
            return client.post(f"{self.url}/slack/events", content=body, headers=headers)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_app(
    env: dict[str, str],
    workdir: Path,
    timeout: float = 30.0,
    port: int | None = None,
    *,
    argv: Sequence[str] = ("-m", "bot.cli", "serve"),
) -> RunningApp:
    """Start ``sharebot serve`` (or ``python <argv>``) and wait until it answers /healthz."""
    app = spawn_app(env, workdir, port, argv=argv)
    wait_healthy(app, timeout)
    return app


def wait_healthy(app: RunningApp, timeout: float = 30.0) -> None:
    """Wait for /healthz of a spawned app; stop it on failure (also on Ctrl-C)."""
    try:
        _wait_healthy(app, time.monotonic() + timeout)
    except BaseException:
        app.stop()
        raise


def spawn_app(
    env: dict[str, str],
    workdir: Path,
    port: int | None = None,
    *,
    argv: Sequence[str] = ("-m", "bot.cli", "serve"),
) -> RunningApp:
    """Start ``sharebot serve`` without waiting for it (see :func:`wait_healthy`).

    ``argv`` (after the interpreter) runs something else that serves, e.g. the crash tests'
    wrapper ``-m tests.support.crashing_serve ... -- serve``.
    """
    port = port or free_port()
    env = {**env, "SHAREBOT_HOST": "127.0.0.1", "SHAREBOT_PORT": str(port)}
    log_path = workdir / f"sharebot-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter, arguments from our code)
            [sys.executable, *argv],
            env=env,
            cwd=workdir,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    return RunningApp(f"http://127.0.0.1:{port}", env, process, log_path)


def _wait_healthy(app: RunningApp, deadline: float) -> None:
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if app.process.poll() is not None:
                raise RuntimeError(f"sharebot exited with {app.process.returncode}:\n{app.log()}")
            try:
                if client.get(f"{app.url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"sharebot did not answer /healthz in time:\n{app.log()}")
