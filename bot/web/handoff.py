"""Where the work of a command or click runs, once Slack has its acknowledgement.

Bolt splits each listener into an ``ack`` function and ``lazy`` functions
(:mod:`bot.slack.listeners`), and hands the lazy ones to a lazy listener runner: the same
seam Bolt's AWS Lambda adapter uses to run them in another invocation. sharebot has two:

* :class:`LocalRunner`: a task in this process (the default). Unlike Bolt's own runner it
  keeps a reference to each task (asyncio keeps only weak ones), and can wait for them on
  shutdown.
* :class:`HandoffRunner`: sends the request to the worker process over a Unix socket
  (``SHAREBOT_WORKER_PROCESS``), with the secret the worker was started with. The web
  process then only acknowledges, so its acks never
  wait behind a share's database writes and hub calls for the CPU. When the worker cannot
  be reached, the work is done here instead: nothing acknowledged is dropped.

The worker rebuilds the Bolt request from what was sent (:func:`to_bolt_request`) and lets
Bolt run the named lazy function, exactly as the Lambda adapter's second invocation does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.lazy_listener.async_internals import to_runnable_function
from slack_bolt.lazy_listener.async_runner import AsyncLazyListenerRunner
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.aio import KeptTasks

log = logging.getLogger(__name__)

#: Bolt reads these two headers to run only a lazy function. They come from us, never from
#: outside: the web process drops them from every request it receives (:func:`strip_lazy`).
LAZY_HEADERS = ("x-slack-bolt-lazy-only", "x-slack-bolt-lazy-function-name")

#: The worker's endpoint (the host is a placeholder: the connection is a Unix socket).
WORK_URL = "http://worker/work"
METRICS_URL = "http://worker/metrics"


def strip_lazy(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """ASGI headers without Bolt's lazy-only headers: a request from outside carrying them
    (they are not covered by Slack's signature) would skip the acknowledgement."""
    return [(k, v) for k, v in headers if k.lower().decode("latin-1") not in LAZY_HEADERS]


class LocalRunner(AsyncLazyListenerRunner):
    """Runs lazy functions as tasks of this process, keeping them until they finish."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._tasks = KeptTasks()

    def start(self, function: Callable[..., Awaitable[None]], request: AsyncBoltRequest) -> None:
        self._tasks.start(self._local(function, request))

    async def run(
        self, function: Callable[..., Awaitable[None]], request: AsyncBoltRequest
    ) -> None:
        """Run it now (the worker's side of a hand-off). Bolt's own ``run`` calls the
        coroutine that ``to_runnable_function`` returns, which fails (slack-bolt 1.30)."""
        await self._local(function, request)

    async def _local(
        self, function: Callable[..., Awaitable[None]], request: AsyncBoltRequest
    ) -> None:
        await to_runnable_function(internal_func=function, logger=self.logger, request=request)

    async def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for the work under way; returns how much is left."""
        return await self._tasks.drain(timeout)


class HandoffRunner(LocalRunner):
    """Sends lazy functions to the worker process; runs them here if it cannot be reached."""

    def __init__(self, logger: logging.Logger, socket_path: str, secret: str) -> None:
        super().__init__(logger)
        self._socket_path = socket_path
        self._secret = secret
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        """One session, kept-alive connections to the worker. aiohttp rather than httpx:
        under a burst, httpcore's pool spent more CPU than the rest of the acknowledgement."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=self._socket_path),
                timeout=aiohttp.ClientTimeout(total=10.0),
                # The worker's secret (bot.web.worker): it refuses any request without it.
                headers={"Authorization": f"Bearer {self._secret}"},
            )
        return self._session

    def start(self, function: Callable[..., Awaitable[None]], request: AsyncBoltRequest) -> None:
        self._tasks.start(self._send(function, request))

    async def _send(
        self, function: Callable[..., Awaitable[None]], request: AsyncBoltRequest
    ) -> None:
        try:
            async with self._http().post(WORK_URL, json=to_payload(request)) as response:
                response.raise_for_status()
        except (aiohttp.ClientError, TimeoutError) as err:
            log.warning(
                "the worker process did not take %s (%s); doing it in the web process",
                request.lazy_function_name,
                type(err).__name__,
            )
            await self._local(function, request)

    async def worker_metrics(self) -> bytes | None:
        """The worker's ``/metrics`` (None if it does not answer)."""
        try:
            async with self._http().get(METRICS_URL) as response:
                response.raise_for_status()
                return await response.read()
        except (aiohttp.ClientError, TimeoutError) as err:
            log.warning("the worker process did not give its metrics (%s)", type(err).__name__)
            return None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def to_payload(request: AsyncBoltRequest) -> dict[str, Any]:
    """What the worker needs to rebuild the request: the body as Slack sent it, the headers
    (Bolt reads retry headers from them) and the lazy function to run."""
    return {
        "mode": request.mode,
        "body": request.raw_body if request.mode == "http" else request.body,
        "query": {k: list(v) for k, v in request.query.items()},
        "headers": {k: list(v) for k, v in request.headers.items() if k not in LAZY_HEADERS},
        "function": request.lazy_function_name,
    }


def to_bolt_request(payload: dict[str, Any]) -> AsyncBoltRequest:
    """The worker's copy of a handed-off request, marked to run only the named lazy function."""
    headers: dict[str, Any] = {
        **payload["headers"],
        "x-slack-bolt-lazy-only": ["1"],
        "x-slack-bolt-lazy-function-name": [str(payload["function"])],
    }
    return AsyncBoltRequest(
        body=payload["body"], query=payload["query"], headers=headers, mode=payload["mode"]
    )
