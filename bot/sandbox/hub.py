"""Run a real JupyterHub (with configurable-http-proxy) as a subprocess: for the integration
tests (``tests/support/hub.py`` re-exports this module) and for ``sharebot demo``.

Needs the ``demo`` extra (``pip install 'sharebot[demo]'``, which installs jupyterhub) and
``configurable-http-proxy`` from npm (``npm install`` in the repository).

Usage::

    hub = start_hub(tmp_path)
    try:
        ...  # talk to hub.api_url with hub.service_token
    finally:
        hub.stop()

or ``with start_hub(tmp_path) as hub: ...``.

The hub uses the DummyAuthenticator (one shared password), an in-memory SQLite database and a
``NullSpawner`` defined in the generated config: starting a server launches no process, the hub's
readiness check is answered by a small HTTP stub inside the hub's own event loop. That makes
``create_named_server`` cheap and lets tests have "running" servers without jupyter_server.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import parse_qs, quote, urlsplit

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
CHP_NAME = "configurable-http-proxy"
SERVICE_NAME = "sharebot"
ADMIN_SERVICE_NAME = "test-admin"
SHAREBOT_SCOPES: tuple[str, ...] = (
    "shares",
    "read:users:name",
    "read:users:shares",
    "list:users",
    "read:servers",
)
# Fixed so that cookies stay valid for the whole run; not a secret (test-only hub).
COOKIE_SECRET_HEX = "5a" * 32
PROXY_PID_FILE = "jupyterhub-proxy.pid"
# `python -m jupyterhub`, except that rfc3987_syntax is made unimportable first: jsonschema (via
# jupyter_events) imports it only to validate the "iri" string format and building its grammar
# costs ~2-3 s of the ~6 s hub start-up on a small machine. Without it that format is unchecked.
_FAST_HUB_MAIN = (
    "import sys; sys.modules['rfc3987_syntax'] = None; from jupyterhub.app import main; main()"
)
LOG_TAIL_LINES = 60

_LOGIN_ERROR_RE = re.compile(r'class="login_error"[^>]*>(.*?)<', re.DOTALL)
_FORM_XSRF_RE = re.compile(r'<input[^>]*name="_xsrf"[^>]*value="([^"]*)"')

# Appended verbatim to the generated jupyterhub_config.py.
_NULL_SPAWNER_SOURCE = '''
import asyncio

from jupyterhub import __version__ as _hub_version
from jupyterhub.spawner import Spawner


class NullSpawner(Spawner):
    """Launches no process; an in-process HTTP stub answers the hub's readiness check."""

    _stub = None

    async def start(self):
        async def handle(reader, writer):
            try:
                await reader.readuntil(b"\\r\\n\\r\\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                pass
            body = b"{}"
            head = (
                "HTTP/1.1 200 OK\\r\\n"
                "Content-Type: application/json\\r\\n"
                f"X-JupyterHub-Version: {_hub_version}\\r\\n"
                f"Content-Length: {len(body)}\\r\\n"
                "Connection: close\\r\\n\\r\\n"
            )
            writer.write(head.encode("ascii") + body)
            try:
                await writer.drain()
            finally:
                writer.close()

        self._stub = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = self._stub.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def stop(self, now=False):
        if self._stub is not None:
            self._stub.close()
            self._stub = None

    async def poll(self):
        return None if self._stub is not None else 0


c.JupyterHub.spawner_class = NullSpawner
'''


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ProxyNotFound(RuntimeError):
    """configurable-http-proxy (npm) is neither on PATH nor in ``node_modules/.bin``."""


def find_chp() -> str:
    """Locate configurable-http-proxy on PATH or in ``node_modules/.bin`` of the current
    directory or of the repository this package runs from (an editable install)."""
    found = shutil.which(CHP_NAME)
    if found:
        return found
    places = [Path.cwd() / "node_modules" / ".bin", REPO_ROOT / "node_modules" / ".bin"]
    for place in places:
        local = place / CHP_NAME
        if local.is_file() and os.access(local, os.X_OK):
            return str(local)
    raise ProxyNotFound(
        f"{CHP_NAME} not found on PATH or in {places[-1]}; install it with `npm install` "
        f"in the sharebot repository (or `npm install -g {CHP_NAME}`; needs Node.js)"
    )


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<could not read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    # the state follows the parenthesised command name; Z (zombie) and X (dead) are gone
    return stat.rpartition(")")[2].split()[0] not in {"Z", "X"}


def _is_chp(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return _pid_alive(pid)  # no /proc: trust the pid file
    return CHP_NAME.encode() in cmdline


def _wait_gone(pid: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.05)
    return not _pid_alive(pid)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


@dataclass
class RunningHub:
    """Handle on a hub started by :func:`start_hub`. Secrets are kept out of ``repr``."""

    public_url: str
    api_url: str
    service_token: str = field(repr=False)
    admin_token: str = field(repr=False)
    password: str = field(repr=False)
    workdir: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    # The port sharebot must listen on: the hub's proxy routes /services/sharebot/ there.
    sharebot_port: int = 0
    # JupyterHub's version, as its API root (GET /hub/api/) reports it once the hub is up.
    version: str = ""
    # The interpreter the hub runs in (``sys.executable`` unless start_hub was given one).
    python: str = ""
    _log_file: IO[bytes] | None = field(default=None, repr=False)
    _proxy_pid: int | None = field(default=None, repr=False)

    # -- context manager -------------------------------------------------------------------

    @property
    def sharebot_url(self) -> str:
        """SHAREBOT_PUBLIC_URL for a sharebot on ``sharebot_port``: behind the hub's proxy."""
        return f"{self.public_url}/services/{SERVICE_NAME}/"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- HTTP helpers ----------------------------------------------------------------------

    def client(self, token: str | None = None, timeout: float = 10.0) -> httpx.Client:
        """An httpx client for the hub API (base_url = api_url), authenticated with ``token``
        (default: the admin token). The caller closes it."""
        auth = token if token is not None else self.admin_token
        return httpx.Client(
            base_url=self.api_url,
            headers={"Authorization": f"token {auth}"},
            timeout=timeout,
        )

    def _paginated(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset = 0
        with self.client() as api:
            while True:
                resp = api.get(
                    path,
                    params={"offset": offset, "limit": 200},
                    headers={"Accept": "application/jupyterhub-pagination+json"},
                )
                resp.raise_for_status()
                page = resp.json()
                items.extend(page["items"])
                nxt = page["_pagination"]["next"]
                if not nxt:
                    return items
                offset = int(nxt["offset"])

    @staticmethod
    def _server_path(prefix: str, owner: str, server: str | None) -> str:
        path = f"/{prefix}/{quote(owner, safe='')}"
        if server is not None:
            path += f"/{quote(server, safe='')}"
        return path

    # -- test setup --------------------------------------------------------------------------

    def create_users(self, *names: str) -> None:
        """Create users (admin token). Users that already exist are ignored."""
        if not names:
            return
        with self.client() as api:
            resp = api.post("/users", json={"usernames": list(names)})
        if resp.status_code == 409:  # all of them exist already
            return
        resp.raise_for_status()

    def delete_user(self, name: str) -> None:
        """Delete a user (cascades to their servers, shares and share codes)."""
        with self.client() as api:
            resp = api.delete(f"/users/{quote(name, safe='')}")
        resp.raise_for_status()

    def start_server(self, owner: str, timeout: float = 30.0) -> None:
        """Start ``owner``'s default server (the NullSpawner launches nothing) and wait until
        the hub says it is ready."""
        with self.client() as api:
            resp = api.post(f"/users/{quote(owner, safe='')}/server", json={})
            if not (resp.status_code == 400 and "already running" in resp.text):
                resp.raise_for_status()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                user = api.get(f"/users/{quote(owner, safe='')}")
                user.raise_for_status()
                if (user.json().get("servers", {}).get("") or {}).get("ready"):
                    return
                time.sleep(0.1)
        raise RuntimeError(f"the default server of {owner} not ready after {timeout}s")

    def stop_server(self, owner: str, timeout: float = 30.0) -> None:
        """Stop ``owner``'s default server and wait until the hub says it is gone."""
        with self.client() as api:
            resp = api.delete(f"/users/{quote(owner, safe='')}/server")
            if resp.status_code not in (202, 204, 400):
                resp.raise_for_status()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                user = api.get(f"/users/{quote(owner, safe='')}")
                user.raise_for_status()
                if not (user.json().get("servers", {}).get("") or {}).get("ready"):
                    return
                time.sleep(0.1)
        raise RuntimeError(f"the default server of {owner} still running after {timeout}s")

    def create_named_server(self, owner: str, name: str, timeout: float = 30.0) -> None:
        """Create (and "start", with the NullSpawner) the named server ``owner/name``.

        Sharing only needs the server record; with the NullSpawner no process is launched.
        """
        path = f"/users/{quote(owner, safe='')}/servers/{quote(name, safe='')}"
        with self.client() as api:
            resp = api.post(path, json={})
            if resp.status_code == 400 and "already running" in resp.text:
                return
            resp.raise_for_status()
            if resp.status_code == 201:
                return
            # 202: spawn pending; wait for it to become ready
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                user = api.get(f"/users/{quote(owner, safe='')}")
                user.raise_for_status()
                server = user.json().get("servers", {}).get(name)
                if server and server.get("ready"):
                    return
                time.sleep(0.1)
        raise RuntimeError(f"named server {owner}/{name} not ready after {timeout}s")

    def delete_named_server(self, owner: str, name: str, timeout: float = 30.0) -> None:
        """Stop and remove the named server ``owner/name`` (its shares and codes go with it)."""
        user_path = f"/users/{quote(owner, safe='')}"
        with self.client() as api:
            resp = api.request(
                "DELETE", f"{user_path}/servers/{quote(name, safe='')}", json={"remove": True}
            )
            resp.raise_for_status()
            if resp.status_code == 204:
                return
            # 202: stop pending; the record is removed once the server has stopped
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                user = api.get(user_path)
                user.raise_for_status()
                if name not in user.json().get("servers", {}):
                    return
                time.sleep(0.1)
        raise RuntimeError(f"named server {owner}/{name} not removed after {timeout}s")

    # -- sharing -----------------------------------------------------------------------------

    def shares(self, owner: str, server: str | None = "") -> list[dict[str, Any]]:
        """Shares of ``owner``'s server ``server`` ("" = default server; None = all servers)."""
        return self._paginated(self._server_path("shares", owner, server))

    def share_codes(self, owner: str, server: str | None = "") -> list[dict[str, Any]]:
        """Share codes (without the codes themselves) of a server (None = all servers)."""
        return self._paginated(self._server_path("share-codes", owner, server))

    def login(self, http: httpx.Client, username: str, password: str | None = None) -> str:
        """Log ``http`` (a client on public_url, redirects off) in through the HTML login form.

        Returns the ``_xsrf`` cookie value the login response set. JupyterHub 6 accepts it on
        further form posts; 5.2 does not until a page has been opened as the logged-in user
        (see :meth:`accept_share`), so post the ``_xsrf`` of the form's own page.
        """
        page = http.get("/hub/login")
        if page.status_code != 200:
            raise AssertionError(f"GET /hub/login answered HTTP {page.status_code}")
        resp = http.post(
            "/hub/login",
            data={
                "username": username,
                "password": self.password if password is None else password,
                "_xsrf": _xsrf_cookie(http),
            },
        )
        if resp.status_code != 302:
            match = _LOGIN_ERROR_RE.search(resp.text)
            reason = unescape(match.group(1)).strip() if match else resp.text[:200]
            raise AssertionError(
                f"login as {username!r} failed: HTTP {resp.status_code} ({reason or 'no reason'})"
            )
        return _xsrf_cookie(http)

    def accept_share(
        self, username: str, accept_url: str, password: str | None = None
    ) -> httpx.Response:
        """Accept the share code in ``accept_url`` as ``username`` would in a browser: log in
        via the login form, open the accept page, submit its form.

        ``accept_url`` may be the API's ``accept_url`` (a path) or ``full_accept_url``.
        Returns the hub's answer without checking it: the form's (a 302 on success), or the
        accept page's when it offers no form (a 404 for a used or withdrawn code).

        The ``_xsrf`` value is the one the accept page was rendered with. The one set by the
        login response would do on JupyterHub 6, but 5.2 binds that one to the anonymous id
        (no session cookie yet) and refuses it on the next POST ("XSRF cookie does not match
        POST argument"); a browser never posts it, as it opens the page first.
        """
        codes = parse_qs(urlsplit(accept_url).query).get("code")
        if not codes:
            raise ValueError(f"no code= in accept_url {accept_url!r}")
        with httpx.Client(base_url=self.public_url, follow_redirects=False, timeout=10) as http:
            self.login(http, username, password)
            page = http.get("/hub/accept-share", params={"code": codes[0]})
            if page.status_code != 200:
                return page
            match = _FORM_XSRF_RE.search(page.text)
            xsrf = unescape(match.group(1)) if match else _xsrf_cookie(http)
            return http.post("/hub/accept-share", data={"code": codes[0], "_xsrf": xsrf})

    # -- shutdown ----------------------------------------------------------------------------

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the hub's process group, SIGKILL it after ``timeout``; make sure the proxy
        (which the hub starts in its own session) is gone too. Idempotent."""
        proc = self.process
        proxy_pid = self._proxy_pid or self._read_proxy_pid()
        if proc.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(5)
        # stragglers left in the hub's process group
        _signal_group(proc.pid, signal.SIGKILL)
        self._stop_proxy(proxy_pid, timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _read_proxy_pid(self) -> int | None:
        try:
            return int((self.workdir / PROXY_PID_FILE).read_text().strip())
        except (OSError, ValueError):
            return None

    def _stop_proxy(self, pid: int | None, timeout: float) -> None:
        # The proxy runs in its own session. On a clean shutdown the hub SIGTERMs it without
        # waiting for it to exit; if the hub died it is orphaned. Either way, (re)send SIGTERM
        # (harmless twice) and wait until it is gone.
        if pid is not None and _pid_alive(pid) and _is_chp(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not _wait_gone(pid, time.monotonic() + timeout):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, time.monotonic() + 5)
        (self.workdir / PROXY_PID_FILE).unlink(missing_ok=True)


def _xsrf_cookie(http: httpx.Client) -> str:
    values = [c.value for c in http.cookies.jar if c.name == "_xsrf" and c.value]
    if not values:
        raise AssertionError("the hub set no _xsrf cookie")
    return values[-1]


def sharebot_public_url(public_port: int) -> str:
    """Where browsers reach sharebot: behind the hub's proxy, as in a real deployment (the
    hub honours an accept page's ``next`` only on its own host)."""
    return f"http://127.0.0.1:{public_port}/services/{SERVICE_NAME}/"


def sharebot_oauth_redirect(public_port: int) -> str:
    """The oauth_redirect_uri registered for the sharebot service (SHAREBOT_PUBLIC_URL based)."""
    return f"{sharebot_public_url(public_port)}oauth_callback"


def _write_config(
    path: Path,
    *,
    public_port: int,
    hub_port: int,
    proxy_api_port: int,
    chp: str,
    users: Sequence[str],
    password: str,
    service_token: str,
    admin_token: str,
    proxy_token: str,
    sharebot_port: int,
) -> None:
    sharebot_role = {
        "name": SERVICE_NAME,
        "services": [SERVICE_NAME],
        # the optional extras: `servers` lets approved `manage` shares work, and
        # `read:users:activity` shows last activity in the digest
        "scopes": [*SHAREBOT_SCOPES, "servers", "read:users:activity", "read:groups:name"],
    }
    lines = [
        "# generated by bot/sandbox/hub.py",
        "c = get_config()  # noqa",
        f"c.JupyterHub.bind_url = {f'http://127.0.0.1:{public_port}'!r}",
        f"c.JupyterHub.hub_bind_url = {f'http://127.0.0.1:{hub_port}'!r}",
        f"c.ConfigurableHTTPProxy.api_url = {f'http://127.0.0.1:{proxy_api_port}'!r}",
        f"c.ConfigurableHTTPProxy.command = [{chp!r}]",
        f"c.ConfigurableHTTPProxy.auth_token = {proxy_token!r}",
        "c.ConfigurableHTTPProxy.should_start = True",
        f"c.ConfigurableHTTPProxy.pid_file = {PROXY_PID_FILE!r}",
        # DummyAuthenticator.password: deprecated since 5.3 (a warning in the log) in favour of
        # SharedPasswordAuthenticator, which 5.2 lacks; works on both.
        'c.JupyterHub.authenticator_class = "dummy"',
        f"c.DummyAuthenticator.password = {password!r}",
        f"c.Authenticator.allowed_users = {set(users)!r}",
        'c.JupyterHub.db_url = "sqlite:///:memory:"',
        f"c.JupyterHub.cookie_secret = bytes.fromhex({COOKIE_SECRET_HEX!r})",
        "c.JupyterHub.cleanup_servers = True",
        "c.JupyterHub.cleanup_proxy = True",
        "c.JupyterHub.allow_named_servers = True",
        "c.JupyterHub.services = [",
        f"    {{'name': {SERVICE_NAME!r}, 'api_token': {service_token!r},",
        f"      'url': {f'http://127.0.0.1:{sharebot_port}'!r},",
        f"      'oauth_redirect_uri': {sharebot_oauth_redirect(public_port)!r},",
        "      'oauth_no_confirm': True},",
        f"    {{'name': {ADMIN_SERVICE_NAME!r}, 'api_token': {admin_token!r}}},",
        "]",
        "c.JupyterHub.load_roles = [",
        f"    {sharebot_role!r},",
        f"    {{'name': 'admin', 'services': [{ADMIN_SERVICE_NAME!r}]}},",
        f"    {{'name': 'user', 'scopes': ['self', 'access:services!service={SERVICE_NAME}']}},",
        "]",
    ]
    path.write_text("\n".join(lines) + "\n" + _NULL_SPAWNER_SOURCE)
    path.chmod(0o600)


def die_with_parent() -> None:
    """preexec_fn: on Linux, have the child (the hub, sharebot serve) get SIGTERM if the test or
    demo process dies without calling stop() (e.g. killed by `timeout`), so that it still shuts
    down (the hub: with its proxy)."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)


def _hub_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "CONFIGPROXY_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _hub_python(python: str | os.PathLike[str] | None) -> str:
    """The interpreter to run the hub with: ``python`` if given (a path, or a name on PATH),
    else this one. Fails at once, not after a start-up timeout, when it does not exist."""
    if python is None:
        return sys.executable
    name = os.fspath(python)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"no Python interpreter at {name!r} to run JupyterHub with")
    return os.path.abspath(found)  # the hub runs in workdir: a relative path would break


def _read_hub_version(hub: RunningHub) -> str:
    """The hub's version as GET /hub/api/ reports it (no token needed)."""
    with httpx.Client(timeout=10.0) as http:
        resp = http.get(f"{hub.api_url}/")
    resp.raise_for_status()
    return str(resp.json()["version"])


def _wait_ready(hub: RunningHub, deadline: float) -> None:
    """Poll until the hub API and then the proxy answer 200, or fail with the log tail."""
    with httpx.Client(timeout=2.0, follow_redirects=False) as http:
        for url in (f"{hub.api_url}/", f"{hub.public_url}/hub/login"):
            while True:
                code = hub.process.poll()
                if code is not None:
                    raise RuntimeError(
                        f"jupyterhub exited with code {code} during startup; "
                        f"last lines of {hub.log_path}:\n{_tail(hub.log_path)}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if http.get(url).status_code == 200:
                        break
                if time.monotonic() >= deadline:
                    raise RuntimeError(
                        f"jupyterhub not ready ({url} did not answer 200) before the deadline; "
                        f"last lines of {hub.log_path}:\n{_tail(hub.log_path)}"
                    )
                time.sleep(0.1)


def start_hub(
    workdir: Path,
    users: Sequence[str] = ("owner", "alice", "bob", "carol"),
    timeout: float = 60,
    *,
    fast_import: bool = True,
    python: str | os.PathLike[str] | None = None,
) -> RunningHub:
    """Start JupyterHub + configurable-http-proxy in ``workdir`` and wait until both answer.

    ``fast_import=False`` runs plain ``python -m jupyterhub`` (see ``_FAST_HUB_MAIN``).
    ``python`` is the interpreter to run the hub with (default: this one, ``sys.executable``),
    e.g. that of another virtualenv with another JupyterHub release installed; the hub's
    version is then on :attr:`RunningHub.version`.
    The caller must call :meth:`RunningHub.stop` (or use the hub as a context manager).
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    chp = find_chp()
    public_port, hub_port, proxy_api_port = free_port(), free_port(), free_port()
    sharebot_port = free_port()
    while len({public_port, hub_port, proxy_api_port, sharebot_port}) < 4:
        hub_port, proxy_api_port, sharebot_port = free_port(), free_port(), free_port()
    password = secrets.token_urlsafe(12)
    service_token = secrets.token_hex(32)
    admin_token = secrets.token_hex(32)
    config_path = workdir / "jupyterhub_config.py"
    _write_config(
        config_path,
        public_port=public_port,
        hub_port=hub_port,
        proxy_api_port=proxy_api_port,
        chp=chp,
        users=users,
        password=password,
        service_token=service_token,
        admin_token=admin_token,
        proxy_token=secrets.token_hex(32),
        sharebot_port=sharebot_port,
    )
    interpreter = _hub_python(python)
    log_path = workdir / "jupyterhub.log"
    main = ["-c", _FAST_HUB_MAIN] if fast_import else ["-m", "jupyterhub"]
    log_file = log_path.open("wb")
    try:
        process = subprocess.Popen(  # noqa: S603 (an interpreter we were given, our config file)
            [interpreter, *main, "-f", str(config_path)],
            cwd=workdir,
            env=_hub_env(),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    except BaseException:
        log_file.close()
        raise
    hub = RunningHub(
        public_url=f"http://127.0.0.1:{public_port}",
        api_url=f"http://127.0.0.1:{hub_port}/hub/api",
        service_token=service_token,
        admin_token=admin_token,
        password=password,
        workdir=workdir,
        log_path=log_path,
        process=process,
        sharebot_port=sharebot_port,
        python=interpreter,
        _log_file=log_file,
    )
    try:
        _wait_ready(hub, time.monotonic() + timeout)
        hub.version = _read_hub_version(hub)
        hub._proxy_pid = hub._read_proxy_pid()
        if users:
            hub.create_users(*users)
    except BaseException:
        hub.stop()
        raise
    return hub
