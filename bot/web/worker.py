"""The worker process (``SHAREBOT_WORKER_PROCESS=true``): commands, clicks and background jobs.

``sharebot serve`` starts it as a child (:class:`WorkerProcess`) and talks to it over a
Unix socket of mode 0600 in a private directory (mode 0700: only our own user can connect).
Every request carries a secret the web process makes at each start and gives the worker on
its stdin (never in its environment or arguments); the worker refuses any request without
it, compared in constant time. The web
process acknowledges Slack and hands each request's work over (:mod:`bot.web.handoff`); the
worker runs it, and the sweep and digest jobs, on its own CPU time. Why: on a small machine
the work of a busy minute (database writes, hub and Slack calls, Home tabs) kept the acks
waiting for the interpreter; see docs/performance.md.

The worker serves ``POST /work`` (a handed-off request; 202 once taken), ``GET /metrics``
(the web process's ``/metrics`` shows these) and ``GET /healthz``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from typing import TextIO

import httpx
from slack_bolt.request.async_request import AsyncBoltRequest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.aio import KeptTasks, cancel_all
from bot.errors import WorkerError
from bot.ops.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from bot.runtime import Runtime
from bot.slack.app import create_bolt_app
from bot.web.auth import RequireBearer, bearer
from bot.web.handoff import to_bolt_request
from bot.web.limits import MIB, BodyLimit

log = logging.getLogger(__name__)

#: The worker's scheduling priority below the web process's (``nice``): under a burst that
#: takes all the CPU, the acknowledgements (Slack allows 3 s) go before the work.
WORKER_NICENESS = 5

#: A handed-off request: Slack's body (at most 1 MiB) and its headers, as JSON.
WORK_BODY_LIMIT = 3 * MIB

#: Seconds the worker is given to finish the work under way when it is stopped.
DRAIN_SECONDS = 10.0


def create_worker_app(runtime: Runtime, *, secret: str, parent_pid: int | None = None) -> Starlette:
    """The worker's ASGI app; every request must carry ``secret`` as a bearer token.
    ``parent_pid``: stop when that process is gone (a web process killed with SIGKILL cannot
    stop its worker)."""
    bolt = create_bolt_app(runtime, verify_signatures=False)
    under_way = KeptTasks()

    async def work(request: Request) -> Response:
        # No Slack signature here: the web process checked it (Socket Mode has none); the
        # request carried the web process's secret (RequireBearer), and only our own user can
        # reach this socket.
        under_way.start(_dispatch(to_bolt_request(await request.json())))
        return Response(status_code=202)

    async def _dispatch(bolt_request: AsyncBoltRequest) -> None:
        await bolt.async_dispatch(bolt_request)

    async def metrics(_request: Request) -> Response:
        body = await asyncio.to_thread(runtime.metrics.exposition)
        return Response(body, media_type=METRICS_CONTENT_TYPE)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        tasks = runtime.jobs.start()
        if parent_pid is not None:
            tasks.append(asyncio.create_task(_stop_when_orphaned(parent_pid)))
        try:
            yield
        finally:
            await cancel_all(tasks)
            left = await under_way.drain(DRAIN_SECONDS)
            if left:
                log.warning("stopped with %d commands or clicks still being worked on", left)
            await runtime.aclose()

    routes = [
        Route("/work", work, methods=["POST"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    middleware = [
        Middleware(RequireBearer, token=secret, what="the worker"),
        Middleware(BodyLimit, limits={"/work": WORK_BODY_LIMIT}),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


def read_secret(stream: TextIO) -> str:
    """The secret ``serve`` writes on the worker's stdin (one line)."""
    secret = "" if stream.isatty() else stream.readline().strip()
    if len(secret) < 32:
        raise WorkerError(
            "the worker reads a secret of at least 32 characters from its stdin; it is started "
            "by `sharebot serve` with SHAREBOT_WORKER_PROCESS=true, not by hand"
        )
    return secret


def bind_private_socket(path: str) -> socket.socket:
    """A listening Unix socket at ``path`` that only our own user may connect to (0600).
    uvicorn's own ``uds=`` makes it 0666; it serves this one by its file descriptor."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # created 0600: never open to others, not even for a moment
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(128)
    return sock


async def _stop_when_orphaned(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        await asyncio.sleep(1.0)
    log.error("the web process (pid %s) is gone; the worker stops", parent_pid)
    os.kill(os.getpid(), signal.SIGTERM)


class WorkerProcess:
    """The child process ``sharebot worker``: started by ``serve``, restarted if it dies."""

    def __init__(self, log_level: str = "INFO") -> None:
        self._dir = tempfile.mkdtemp(prefix="sharebot-")  # mode 0700
        self.socket_path = os.path.join(self._dir, "worker.sock")
        #: Sent with every request to the worker; made anew for each ``serve``.
        self.secret = secrets.token_urlsafe(32)
        self._log_level = log_level
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 60.0) -> None:
        """Start the worker and wait until it answers (its start-up imports take a second)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        argv = [sys.executable, "-m", "bot.cli", "--log-level", self._log_level, "worker"]
        self._process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [*argv, "--socket", self.socket_path, "--parent", str(os.getpid())],
            # Its own session: a Ctrl-C in the terminal reaches serve, which stops it.
            start_new_session=True,
            stdin=subprocess.PIPE,
        )
        assert self._process.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # it died at once: _wait_ready says so
            self._process.stdin.write(self.secret.encode() + b"\n")
            self._process.stdin.close()
        try:
            self._wait_ready(time.monotonic() + timeout)
        except WorkerError:
            if self._process.poll() is None:  # hung: not left running behind us
                self._process.kill()
                self._process.wait()
            raise
        log.info("worker process %s started", self._process.pid)

    def _wait_ready(self, deadline: float) -> None:
        assert self._process is not None
        transport = httpx.HTTPTransport(uds=self.socket_path)
        headers = {"Authorization": bearer(self.secret)}
        with httpx.Client(transport=transport, timeout=2.0, headers=headers) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise WorkerError(
                        f"the worker process exited with {self._process.returncode} at start-up "
                        "(its log is above)"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if client.get("http://worker/healthz").status_code == 200:
                        return
                time.sleep(0.05)
        raise WorkerError("the worker process did not answer within its start-up time")

    async def supervise(self, poll: float = 0.5) -> None:
        """Restart the worker when it exits (meanwhile the web process does the work)."""
        backoff = 1.0
        while True:
            await asyncio.sleep(poll)
            if self._stopping or self._process is None or self._process.poll() is None:
                continue
            log.error(
                "the worker process exited with %s; starting another in %.0f s",
                self._process.returncode,
                backoff,
            )
            await asyncio.sleep(backoff)
            if self._stopping:
                return
            try:
                await asyncio.to_thread(self.start)
                backoff = 1.0
            except WorkerError as err:
                log.error("%s", err)
                backoff = min(backoff * 2, 30.0)

    def stop(self, timeout: float = DRAIN_SECONDS + 5) -> None:
        """SIGTERM (the worker finishes what it has), SIGKILL after ``timeout``."""
        self._stopping = True
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)
