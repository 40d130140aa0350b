"""A small, real-HTTP fake of the Slack Web API for tests and demos.

Point slack_sdk's clients at it with ``base_url``::

    with FakeSlack(tokens={BOT_TOKEN}, team_id="T0TEST") as fake:
        client = WebClient(token=BOT_TOKEN, base_url=fake.api_url)
        client.chat_postMessage(channel="U123", text="hi")
        fake.wait_for_dm("U123", contains="hi")

(the app reads the base URL from ``SLACK_API_URL``). The server is a standard-library
``ThreadingHTTPServer`` on 127.0.0.1 running in a daemon thread, so it works with both the
sync ``WebClient`` (urllib) and the ``AsyncWebClient`` (aiohttp).

What it fakes:

* Token checking: every ``/api/<method>`` request must carry one of the configured tokens
  (``Authorization: Bearer ...`` or a ``token`` parameter), otherwise the answer is
  ``{"ok": false, "error": "invalid_auth"}`` with HTTP 200, like Slack.
* Parameters from the query string, ``application/x-www-form-urlencoded``,
  ``application/json`` and (non-file parts of) ``multipart/form-data`` bodies. JSON-encoded
  strings in ``blocks``/``attachments``/``view``/... are decoded before recording.
* The methods ``auth.test``, ``conversations.open``, ``chat.postMessage``,
  ``chat.postEphemeral``, ``chat.update``, ``chat.delete``, ``users.info``,
  ``users.lookupByEmail``, ``usergroups.list``, ``usergroups.users.list`` (groups defined
  with :meth:`FakeSlack.add_usergroup`), ``views.publish``, ``views.open`` and
  ``views.update`` (its ``hash`` checked: ``hash_conflict``), with the response fields the
  app relies on; the modals opened are kept as they are now (:meth:`FakeSlack.modals`).
  Posting to a user id (``channel="U123"``) goes to that user's DM channel, whose id is
  always ``"D" + user_id`` (see :meth:`FakeSlack.dm_channel`).
  Any other method answers ``{"ok": false, "error": "unknown_method"}``.
* ``response_url`` endpoints for slash commands and interactions
  (:meth:`FakeSlack.new_response_url`), answering ``200 ok`` as text/plain.
* Fault injection (:meth:`FakeSlack.fail_next`): Slack-style errors, 429 rate limiting with
  ``Retry-After`` and HTTP 500s; a sustained rate limit per method
  (:meth:`FakeSlack.rate_limit`, a token bucket answering 429 with ``Retry-After``).
* Recording of every request as a :class:`Call` (thread-safe), with helpers to query them and
  to wait for them without fixed sleeps (:meth:`FakeSlack.wait_for`).

What it does not fake: Events API / interactivity delivery *to* the app (tests post those to
the app themselves, signed with the signing secret), request signing, permission errors for
missing scopes (the granted ones are only reported, in ``x-oauth-scopes``), channel
membership (``not_in_channel``), users other than those registered with
:meth:`FakeSlack.add_user` (``conversations.open`` accepts any user id), pagination, file
uploads, Socket Mode, OAuth, and Slack's real rate limits (only injected or configured ones).
Payloads are not validated against Slack's block kit schema.

Tokens are never recorded, printed or logged: the ``token`` parameter is dropped from the
recorded parameters and the HTTP server's request log is disabled.

Run ``python -m bot.sandbox.fake_slack --port 8099`` to serve it in the foreground (accepting
:data:`BOT_TOKEN`, or the ``--token`` given), printing one line per call, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import email.parser
import email.policy
import hashlib
import itertools
import json
import math
import secrets
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, TypeVar, cast
from urllib.parse import parse_qs, urlsplit

#: The bot token the stand-in accepts unless told others: shaped like a real one (sharebot's
#: settings refuse anything else), plainly not one.
BOT_TOKEN = "xoxb-1000000001-2000000002-sandboxTokenNotReal"

__all__ = ["DEFAULT_SCOPES", "Call", "FakeSlack", "main", "message_text"]

T = TypeVar("T")

#: Scopes reported in the ``x-oauth-scopes`` header of every API response: the bot scopes of
#: ``deploy/slack-manifest.json``. Change them with :attr:`FakeSlack.scopes`.
DEFAULT_SCOPES: tuple[str, ...] = (
    "chat:write",
    "commands",
    "im:write",
    "usergroups:read",
    "users:read",
    "users:read.email",
)

#: Parameters that slack_sdk (or any client) may send as JSON-encoded strings inside a form.
_JSON_STRING_PARAMS = frozenset(
    {"blocks", "attachments", "user_auth_blocks", "view", "metadata", "chunks"}
)

_MAX_BODY = 10 * 1024 * 1024
_TS_BASE = 1_700_000_000 * 1_000_000  # microseconds
_TS_STEP = 100  # microseconds between consecutive timestamps


class _Bucket:
    """A token bucket: ``take`` returns None (go) or the seconds until a token is free."""

    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second = per_second
        self.burst = burst
        self.tokens = float(burst)
        self.at: float | None = None

    def take(self, now: float) -> float | None:
        if self.at is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return (1 - self.tokens) / self.per_second


@dataclass(frozen=True)
class Call:
    """One recorded request to the fake.

    ``method`` is the Web API method name (``"chat.postMessage"``) or ``"response_url"`` for
    posts to a response URL. ``params`` are the decoded request parameters (never the token).
    ``failed`` is true when the fake answered with an error of any kind (injected fault,
    ``invalid_auth``, validation error, unknown method); ``error`` is that error code.
    ``url`` is the response URL for ``"response_url"`` calls.
    """

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.time)
    failed: bool = False
    error: str | None = None
    url: str | None = None


@dataclass
class _Fault:
    error: str
    status: int
    retry_after: int | None
    remaining: int


@dataclass(frozen=True)
class _Reply:
    """What the HTTP handler sends back."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


class _ApiError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def _json_reply(
    payload: Mapping[str, Any], status: int = 200, headers: tuple[tuple[str, str], ...] = ()
) -> _Reply:
    return _Reply(status=status, body=json.dumps(payload).encode(), headers=headers)


def _text_reply(text: str, status: int = 200) -> _Reply:
    return _Reply(status=status, body=text.encode(), content_type="text/plain; charset=utf-8")


def _collect_strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key != "type":  # "section", "mrkdwn", ... are not text
                _collect_strings(item, out)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect_strings(item, out)


def message_text(params: Mapping[str, Any]) -> str:
    """All human-visible text of a message: ``text`` plus every string inside its blocks
    and attachments, newline-separated (for ``in`` checks in tests)."""
    out: list[str] = []
    for key in ("text", "blocks", "attachments"):
        _collect_strings(params.get(key), out)
    return "\n".join(out)


def _summarize(call: Call, limit: int = 300) -> str:
    status = f" FAILED({call.error})" if call.failed else ""
    params = json.dumps(call.params, default=repr, ensure_ascii=False)
    if len(params) > limit:
        params = params[: limit - 3] + "..."
    stamp = (
        time.strftime("%H:%M:%S", time.localtime(call.at)) + f".{int(call.at * 1000) % 1000:03d}"
    )
    return f"{stamp} {call.method}{status} {params}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeSlack) -> None:
        super().__init__(address, _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeSlack/1.0"
    sys_version = ""
    # Keep-alive, as Slack does: a client that reuses its connections is not charged a new
    # one per call (every reply carries a Content-Length). TCP_NODELAY: the headers and the
    # body go out in two writes, and with Nagle's algorithm the second waits for the
    # client's delayed ACK (40 ms) on a kept-alive connection.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        cast(_Server, self.server).fake._connected()

    def log_message(self, format: str, *args: Any) -> None:
        # The default logs the request line to stderr, which may contain a token parameter.
        return

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # Trailer section ends with an empty line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > _MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        fake = cast(_Server, self.server).fake
        try:
            body = self._read_body()
            reply = fake._dispatch(
                http_method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
        except Exception:
            traceback.print_exc(file=sys.stderr)
            reply = _json_reply({"ok": False, "error": "fake_slack_internal_error"}, status=500)
            self.close_connection = True  # the body may be unread: do not parse it as a request
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)


class FakeSlack:
    """A fake Slack Web API server. See the module docstring for what it covers.

    Use as a context manager, or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        *,
        tokens: Iterable[str] = (BOT_TOKEN,),
        team_id: str = "T0TEST",
        team_name: str = "Fake Team",
        team_domain: str = "fake-team",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        bot_name: str = "sharebot",
        app_id: str = "A0SHAREBOT",
        port: int = 0,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        on_call: Callable[[Call], None] | None = None,
        accept_unknown_response_urls: bool = False,
    ) -> None:
        self._tokens = frozenset(tokens)
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.app_id = app_id
        self._requested_port = port
        self._initial_scopes = tuple(scopes)
        self.scopes: tuple[str, ...] = self._initial_scopes
        """Scopes the ``x-oauth-scopes`` header reports (as ``sharebot check`` reads them);
        :meth:`reset` restores the constructor's."""
        self._on_call = on_call
        self._accept_unknown_response_urls = accept_unknown_response_urls

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._generation = 0
        self._calls: list[Call] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._connections = 0
        self._users: dict[str, dict[str, Any]] = {}
        self._usergroups: dict[str, dict[str, Any]] = {}
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._home_views: dict[str, str] = {}
        self._modals: list[str] = []  # views.open's view ids, oldest first
        self._response_ids: set[str] = set()
        self._ts_counter = itertools.count(1)
        self._view_counter = itertools.count(1)

        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        """Bind 127.0.0.1 (on the given port, or a free one) and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakeSlack already started")
        server = _Server(("127.0.0.1", self._requested_port), self)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeSlack:{server.server_address[1]}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call more than once."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The origin, e.g. ``http://127.0.0.1:8099`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL for slack_sdk's ``base_url`` (with trailing slash)."""
        return f"{self.url}/api/"

    # ------------------------------------------------------------------ setup

    def add_user(
        self,
        user_id: str,
        name: str | None = None,
        email: str | None = None,
        *,
        real_name: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
        team_id: str | None = None,
        is_email_confirmed: bool = True,
    ) -> dict[str, Any]:
        """Register (or replace) a user for ``users.info`` / ``users.lookupByEmail``.

        Returns the user object as ``users.info`` will return it.
        """
        name = name if name is not None else user_id.lower()
        real_name = real_name if real_name is not None else name
        profile: dict[str, Any] = {
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": name,
            "display_name_normalized": name,
        }
        if email is not None:
            profile["email"] = email
        if is_bot:
            profile["bot_id"] = "B" + user_id
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": team_id if team_id is not None else self.team_id,
            "name": name,
            "real_name": real_name,
            "deleted": deleted,
            "is_bot": is_bot,
            "is_app_user": False,
            "is_admin": False,
            "is_owner": False,
            "is_restricted": is_restricted,
            "is_ultra_restricted": is_ultra_restricted,
            "is_email_confirmed": is_email_confirmed,
            "tz": "UTC",
            "profile": profile,
        }
        with self._lock:
            self._users[user_id] = user
        return copy.deepcopy(user)

    def new_response_url(self) -> str:
        """A fresh ``response_url`` that records what is posted to it."""
        rid = secrets.token_urlsafe(12)
        with self._lock:
            self._response_ids.add(rid)
        return f"{self.url}/response/{rid}"

    def fail_next(
        self,
        method: str,
        *,
        error: str = "internal_error",
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (faults queue up FIFO).

        * ``status=200``: ``{"ok": false, "error": error}``, like a Slack API error.
        * ``status=429``: ``Retry-After: retry_after`` (default 1) and
          ``{"ok": false, "error": "ratelimited"}``.
        * any other status (e.g. 500): that HTTP status with ``{"ok": false, "error": error}``.

        ``method`` may also be ``"response_url"``: the post is answered with ``status``
        (use e.g. 404) and ``error`` as the text body.
        Failed calls are recorded with ``failed=True``.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        if status == 429:
            error = "ratelimited"
            retry_after = 1 if retry_after is None else retry_after
        with self._lock:
            self._faults.setdefault(method, []).append(
                _Fault(error=error, status=status, retry_after=retry_after, remaining=times)
            )

    def rate_limit(self, method: str, per_second: float, burst: int = 1) -> None:
        """Let at most ``per_second`` calls of ``method`` through (after a ``burst``), as a
        token bucket; the others get 429 ``ratelimited`` with ``Retry-After`` (whole seconds,
        as Slack sends it). Rate-limited calls are recorded with ``failed=True``."""
        if per_second <= 0 or burst < 1:
            raise ValueError("per_second must be > 0 and burst >= 1")
        with self._lock:
            self._buckets[method] = _Bucket(per_second, burst)

    def add_usergroup(self, group_id: str, handle: str, users: Iterable[str]) -> None:
        """Register a user group (``usergroups.list`` / ``usergroups.users.list``)."""
        with self._lock:
            self._usergroups[group_id] = {
                "id": group_id,
                "team_id": self.team_id,
                "handle": handle,
                "name": handle,
                "users": list(users),
            }

    def reset(self) -> None:
        """Forget recorded calls, pending faults, messages and views.

        Registered users and response URLs are kept; :attr:`scopes` go back to the constructor's.
        """
        with self._lock:
            self.scopes = self._initial_scopes
            self._calls.clear()
            self._faults.clear()
            self._buckets.clear()
            self._messages.clear()
            self._views.clear()
            self._home_views.clear()
            self._modals.clear()
            self._generation += 1
            self._cond.notify_all()

    # ------------------------------------------------------------------ queries

    @staticmethod
    def dm_channel(user_id: str) -> str:
        """The id of the bot's DM channel with ``user_id`` (what ``conversations.open``
        returns)."""
        return "D" + user_id

    @staticmethod
    def _resolve_channel(channel: str) -> str:
        # chat.* accept a user id as channel and post into the DM with that user.
        if channel[:1] in ("U", "W"):
            return "D" + channel
        return channel

    def calls(self, method: str | None = None) -> list[Call]:
        """All recorded calls (including failed ones), optionally for one method."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Params of successful ``chat.postMessage`` calls, optionally for one channel.

        A user id and that user's DM channel id are treated as the same channel.
        """
        wanted = None if channel is None else self._resolve_channel(channel)
        return [
            c.params
            for c in self.calls("chat.postMessage")
            if not c.failed
            and (wanted is None or self._resolve_channel(str(c.params.get("channel"))) == wanted)
        ]

    def dms_to(self, user_id: str) -> list[dict[str, Any]]:
        """Params of successful ``chat.postMessage`` calls to ``user_id``'s DM (posted either
        to the DM channel id or to the user id)."""
        return self.messages(self.dm_channel(user_id))

    def responses(self, url: str | None = None) -> list[dict[str, Any]]:
        """Bodies posted successfully to response URLs (optionally to one of them)."""
        return [
            c.params
            for c in self.calls("response_url")
            if not c.failed and (url is None or c.url == url)
        ]

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The view last published to ``user_id``'s App Home, if any."""
        with self._lock:
            view_id = self._home_views.get(user_id)
            return None if view_id is None else copy.deepcopy(self._views.get(view_id))

    def modals(self, callback_id: str | None = None) -> list[dict[str, Any]]:
        """The modals opened (``views.open``), oldest first, each as it is now (after any
        ``views.update``); optionally only those whose ``callback_id`` is given."""
        with self._lock:
            found = [copy.deepcopy(self._views[view_id]) for view_id in self._modals]
        return [v for v in found if callback_id is None or v.get("callback_id") == callback_id]

    def wait_for_modal(self, callback_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until a modal opened shows the view ``callback_id`` (opened so, or updated
        to it); return the newest such view."""

        def find() -> dict[str, Any] | None:
            found = self.modals(callback_id)
            return found[-1] if found else None

        return self.wait_for(find, timeout, message=f"a modal {callback_id!r}")

    def current_message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """The message as it is now (after ``chat.update``; ``None`` after ``chat.delete``)."""
        with self._lock:
            return copy.deepcopy(self._messages.get((self._resolve_channel(channel), ts)))

    def wait_for(
        self,
        predicate: Callable[[], T | bool | None],
        timeout: float = 10.0,
        *,
        message: str = "",
    ) -> T:
        """Return the first truthy result of ``predicate``, re-evaluated whenever a call is
        recorded, or raise AssertionError (listing recorded calls) after ``timeout`` seconds.

        ``predicate`` runs without the fake's lock held, so it may query the fake freely.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                generation = self._generation
            result = predicate()
            if result:
                return cast(T, result)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(self._timeout_message(timeout, message))
            with self._cond:
                if self._generation == generation:
                    self._cond.wait(timeout=remaining)

    def wait_for_dm(self, user_id: str, contains: str, timeout: float = 10.0) -> dict[str, Any]:
        """Wait for a DM to ``user_id`` whose text or blocks/attachments contain ``contains``;
        return its ``chat.postMessage`` params."""

        def find() -> dict[str, Any] | None:
            for params in self.dms_to(user_id):
                if contains in message_text(params):
                    return params
            return None

        return self.wait_for(find, timeout, message=f"a DM to {user_id} containing {contains!r}")

    def wait_for_home(self, user_id: str, contains: str, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until the view published to ``user_id``'s App Home contains ``contains`` (in
        any of its texts); return that view."""

        def find() -> dict[str, Any] | None:
            view = self.home_view(user_id)
            if view is not None and contains in message_text(view):
                return view
            return None

        return self.wait_for(
            find, timeout, message=f"a Home tab of {user_id} containing {contains!r}"
        )

    def _timeout_message(self, timeout: float, what: str) -> str:
        calls = self.calls()
        head = f"timed out after {timeout:g}s waiting for {what or 'condition'}"
        if not calls:
            return f"{head}; no calls were recorded"
        shown = calls[-50:]
        lines = [
            f"{head}; {len(calls)} call(s) recorded" + (", last 50:" if len(calls) > 50 else ":")
        ]
        lines.extend("  " + _summarize(c) for c in shown)
        return "\n".join(lines)

    # ------------------------------------------------------------------ recording

    @property
    def connections(self) -> int:
        """TCP connections accepted so far (keep-alive clients reuse theirs)."""
        with self._lock:
            return self._connections

    def _connected(self) -> None:
        with self._lock:
            self._connections += 1

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)
            self._generation += 1
            self._cond.notify_all()
        if self._on_call is not None:
            try:
                self._on_call(call)
            except Exception:
                traceback.print_exc(file=sys.stderr)

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(method)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
            return fault

    # ------------------------------------------------------------------ HTTP dispatch

    def _dispatch(
        self, *, http_method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> _Reply:
        parts = urlsplit(path)
        if parts.path.startswith("/api/"):
            return self._handle_api(parts.path[len("/api/") :], parts.query, headers, body)
        if parts.path.startswith("/response/") and http_method == "POST":
            return self._handle_response_url(parts.path[len("/response/") :], headers, body)
        return _text_reply("not found", status=404)

    def _handle_api(
        self, method: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> _Reply:
        try:
            params = _parse_params(query, headers.get("content-type", ""), body)
        except ValueError:
            self._record(Call(method, {}, failed=True, error="invalid_json"))
            return _json_reply({"ok": False, "error": "invalid_json"})

        token = params.pop("token", None)
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            token = auth[7:].strip()
        if not isinstance(token, str) or token not in self._tokens:
            self._record(Call(method, params, failed=True, error="invalid_auth"))
            return _json_reply({"ok": False, "error": "invalid_auth"})

        scope_headers = (("x-oauth-scopes", ",".join(self.scopes)), ("x-accepted-oauth-scopes", ""))
        fault = self._take_fault(method)
        if fault is not None:
            self._record(Call(method, params, failed=True, error=fault.error))
            extra: tuple[tuple[str, str], ...] = scope_headers
            if fault.retry_after is not None:
                extra += (("Retry-After", str(fault.retry_after)),)
            return _json_reply({"ok": False, "error": fault.error}, fault.status, extra)
        with self._lock:
            bucket = self._buckets.get(method)
            wait = bucket.take(time.monotonic()) if bucket is not None else None
        if wait is not None:
            self._record(Call(method, params, failed=True, error="ratelimited"))
            extra = (*scope_headers, ("Retry-After", str(max(1, math.ceil(wait)))))
            return _json_reply({"ok": False, "error": "ratelimited"}, 429, extra)

        handler = _METHODS.get(method)
        try:
            if handler is None:
                raise _ApiError("unknown_method")
            with self._lock:
                result = handler(self, params)
        except _ApiError as e:
            self._record(Call(method, params, failed=True, error=e.error))
            return _json_reply({"ok": False, "error": e.error}, headers=scope_headers)
        self._record(Call(method, params))
        return _json_reply({"ok": True, **result}, headers=scope_headers)

    def _handle_response_url(self, rid: str, headers: Mapping[str, str], body: bytes) -> _Reply:
        url = f"{self.url}/response/{rid}"
        try:
            params = _parse_params("", headers.get("content-type", ""), body)
        except ValueError:
            self._record(Call("response_url", {}, failed=True, error="invalid_payload", url=url))
            return _text_reply("invalid_payload", status=400)
        if set(params) == {"payload"} and isinstance(params["payload"], str):
            with contextlib.suppress(ValueError):
                decoded = _decode_json_strings(json.loads(params["payload"]))
                if isinstance(decoded, dict):
                    params = decoded
        with self._lock:
            known = rid in self._response_ids or self._accept_unknown_response_urls
        if not known:
            self._record(Call("response_url", params, failed=True, error="no_service", url=url))
            return _text_reply("no_service", status=404)
        fault = self._take_fault("response_url")
        if fault is not None:
            self._record(Call("response_url", params, failed=True, error=fault.error, url=url))
            return _text_reply(fault.error, status=fault.status)
        self._record(Call("response_url", params, url=url))
        return _text_reply("ok")

    # ------------------------------------------------------------------ API methods
    # Each runs with the lock held, returns the response fields besides "ok", or raises
    # _ApiError.

    def _next_ts(self) -> str:
        value = _TS_BASE + next(self._ts_counter) * _TS_STEP
        return f"{value // 1_000_000}.{value % 1_000_000:06d}"

    def _api_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "is_enterprise_install": False,
        }

    def _api_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if isinstance(channel, str) and channel:
            return {"channel": {"id": channel}, "no_op": True, "already_open": True}
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            raise _ApiError("users_list_not_supplied")
        if len(users) == 1:
            return {"channel": {"id": self.dm_channel(users[0])}}
        digest = hashlib.sha1(",".join(sorted(users)).encode(), usedforsecurity=False)
        return {"channel": {"id": "G" + digest.hexdigest()[:10].upper()}}

    def _message_from(self, params: Mapping[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "team": self.team_id,
            "text": params.get("text") or "",
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if params.get(key) is not None:
                message[key] = params[key]
        return message

    def _require_channel(self, params: Mapping[str, Any]) -> str:
        channel = params.get("channel")
        if not isinstance(channel, str) or not channel:
            raise _ApiError("channel_not_found")
        return self._resolve_channel(channel)

    @staticmethod
    def _require_content(params: Mapping[str, Any]) -> None:
        # A string left here was not valid JSON (e.g. a Python repr of a list sent via
        # api_call(params=...), which form-encodes with str()); Slack rejects those.
        if isinstance(params.get("blocks"), str):
            raise _ApiError("invalid_blocks_format")
        if isinstance(params.get("attachments"), str):
            raise _ApiError("invalid_attachments")
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            raise _ApiError("no_text")

    def _api_chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._require_channel(params)
        self._require_content(params)
        ts = self._next_ts()
        message = self._message_from(params, ts)
        self._messages[(channel, ts)] = message
        return {"channel": channel, "ts": ts, "message": message}

    def _api_chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        self._require_channel(params)
        if not params.get("user"):
            raise _ApiError("user_not_found")
        self._require_content(params)
        return {"message_ts": self._next_ts()}

    def _existing_message(self, params: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
        channel = self._require_channel(params)
        ts = str(params.get("ts") or "")
        message = self._messages.get((channel, ts))
        if message is None:
            raise _ApiError("message_not_found")
        return channel, ts, message

    def _api_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts, message = self._existing_message(params)
        self._require_content(params)
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                message[key] = params[key]
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {"channel": channel, "ts": ts, "text": message.get("text", ""), "message": message}

    def _api_chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts, _ = self._existing_message(params)
        del self._messages[(channel, ts)]
        return {"channel": channel, "ts": ts}

    def _api_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._users.get(str(params.get("user") or ""))
        if user is None:
            raise _ApiError("user_not_found")
        return {"user": user}

    def _api_users_lookup_by_email(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = str(params.get("email") or "").strip().lower()
        for user in self._users.values():
            if str(user["profile"].get("email", "")).lower() == wanted and wanted:
                return {"user": user}
        raise _ApiError("users_not_found")

    def _api_usergroups_list(self, params: dict[str, Any]) -> dict[str, Any]:
        with_users = str(params.get("include_users", "")).lower() in ("1", "true")
        groups = [
            {k: v for k, v in group.items() if with_users or k != "users"}
            for group in self._usergroups.values()
        ]
        return {"usergroups": groups}

    def _api_usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._usergroups.get(str(params.get("usergroup") or ""))
        if group is None:
            raise _ApiError("no_such_subteam")
        return {"users": list(group["users"])}

    def _store_view(self, view: Any, view_id: str | None = None) -> dict[str, Any]:
        if not isinstance(view, dict) or not view.get("type"):
            raise _ApiError("invalid_arguments")
        view_id = view_id or f"V{next(self._view_counter):08d}"
        stored = {
            **view,
            "id": view_id,
            "team_id": self.team_id,
            "app_id": "AFAKE",
            "bot_id": self.bot_id,
            "root_view_id": view_id,
            "hash": secrets.token_hex(8),
            "state": {"values": {}},
        }
        self._views[view_id] = stored
        return stored

    def _api_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = params.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            raise _ApiError("invalid_arguments")
        view = self._store_view(params.get("view"), self._home_views.get(user_id))
        self._home_views[user_id] = view["id"]
        return {"view": view}

    def _api_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            raise _ApiError("invalid_arguments")
        view = self._store_view(params.get("view"))
        self._modals.append(view["id"])
        return {"view": view}

    def _api_views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = params.get("view_id")
        if not view_id and params.get("external_id"):
            for stored in self._views.values():
                if stored.get("external_id") == params["external_id"]:
                    view_id = stored["id"]
        if not isinstance(view_id, str) or view_id not in self._views:
            raise _ApiError("not_found")
        if params.get("hash") and params["hash"] != self._views[view_id]["hash"]:
            raise _ApiError("hash_conflict")  # the view changed since that version
        return {"view": self._store_view(params.get("view"), view_id)}


_METHODS: dict[str, Callable[[FakeSlack, dict[str, Any]], dict[str, Any]]] = {
    "usergroups.list": FakeSlack._api_usergroups_list,
    "usergroups.users.list": FakeSlack._api_usergroups_users_list,
    "auth.test": FakeSlack._api_auth_test,
    "conversations.open": FakeSlack._api_conversations_open,
    "chat.postMessage": FakeSlack._api_chat_post_message,
    "chat.postEphemeral": FakeSlack._api_chat_post_ephemeral,
    "chat.update": FakeSlack._api_chat_update,
    "chat.delete": FakeSlack._api_chat_delete,
    "users.info": FakeSlack._api_users_info,
    "users.lookupByEmail": FakeSlack._api_users_lookup_by_email,
    "views.publish": FakeSlack._api_views_publish,
    "views.open": FakeSlack._api_views_open,
    "views.update": FakeSlack._api_views_update,
}


# ---------------------------------------------------------------------- request parsing


def _decode_json_strings(params: Any) -> Any:
    if not isinstance(params, dict):
        return params
    for key in _JSON_STRING_PARAMS & params.keys():
        value = params[key]
        if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)
    return params


def _flatten(values: Mapping[str, list[str]]) -> dict[str, Any]:
    return {k: v[-1] if len(v) == 1 else list(v) for k, v in values.items()}


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    message = parser.parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    out: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        out[name] = data if part.get_filename() else data.decode("utf-8", "replace")
    return out


def _parse_params(query: str, content_type: str, body: bytes) -> dict[str, Any]:
    """Merge query-string and body parameters (body wins). Raises ValueError on bad JSON."""
    params: dict[str, Any] = _flatten(parse_qs(query, keep_blank_values=True))
    media_type = content_type.split(";", 1)[0].strip().lower()
    if body:
        if media_type == "application/json":
            decoded = json.loads(body.decode("utf-8"))
            if not isinstance(decoded, dict):
                raise ValueError("JSON body must be an object")
            params.update(decoded)
        elif media_type == "multipart/form-data":
            params.update(_parse_multipart(content_type, body))
        else:
            params.update(
                _flatten(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
            )
    return cast(dict[str, Any], _decode_json_strings(params))


# ---------------------------------------------------------------------- command line


def _parse_user(spec: str) -> tuple[str, str | None, str | None]:
    user_id, _, rest = spec.partition(":")
    name, _, email = rest.partition(":")
    return user_id, name or None, email or None


def main(argv: list[str] | None = None) -> int:
    """Serve a FakeSlack in the foreground, printing one line per call, until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.sandbox.fake_slack", description=main.__doc__
    )
    parser.add_argument("--port", type=int, default=8099, help="port on 127.0.0.1 (0 = any)")
    parser.add_argument(
        "--token",
        action="append",
        dest="tokens",
        metavar="TOKEN",
        help=f"accepted bot token (repeatable; default {BOT_TOKEN})",
    )
    parser.add_argument("--team-id", default="T0TEST")
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="ID[:NAME[:EMAIL]]",
        help="register a user for users.info / users.lookupByEmail (repeatable)",
    )
    args = parser.parse_args(argv)

    def show(call: Call) -> None:
        print(_summarize(call, limit=500), flush=True)

    fake = FakeSlack(
        tokens=args.tokens or [BOT_TOKEN],
        team_id=args.team_id,
        port=args.port,
        on_call=show,
        accept_unknown_response_urls=True,
    )
    for spec in args.user:
        user_id, name, email = _parse_user(spec)
        fake.add_user(user_id, name=name, email=email)

    stopped = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, on_signal)
    with fake:
        print(f"fake Slack Web API at {fake.api_url} (team {fake.team_id})", flush=True)
        print(f"response URLs: {fake.url}/response/<any id>", flush=True)
        print("Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while not stopped.wait(0.5):
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
