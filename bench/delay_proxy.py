"""A TCP proxy that adds a fixed delay each way, as a server in another zone would be.

Every chunk read from one side is written to the other ``delay`` seconds after it was
read (a queue per direction: chunks keep their order and do not wait for each other, so
the delay is latency, not a bandwidth limit). A new connection costs one round trip
before its first byte goes through, as a TCP handshake would. Used by
:mod:`bench.perf` in front of the hub and the Slack stand-in::

    proxy = DelayProxy(("127.0.0.1", hub_port), delay=0.025).start()   # a thread of its own
    ... proxy.url ...
    proxy.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from urllib.parse import urlsplit, urlunsplit

CHUNK = 65536


class DelayProxy:
    def __init__(self, upstream: tuple[str, int], delay: float = 0.025) -> None:
        self.upstream = upstream
        self.delay = delay
        self.port = 0
        self.connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._writers: set[asyncio.StreamWriter] = set()

    @classmethod
    def before(cls, url: str, delay: float = 0.025) -> DelayProxy:
        """A proxy (started) in front of the host and port of ``url``."""
        parts = urlsplit(url)
        assert parts.hostname is not None and parts.port is not None, url
        return cls((parts.hostname, parts.port), delay).start()

    def rewrite(self, url: str) -> str:
        """``url`` with its host and port replaced by the proxy's."""
        parts = urlsplit(url)
        return urlunsplit(parts._replace(netloc=f"127.0.0.1:{self.port}"))

    def start(self) -> DelayProxy:
        self._thread = threading.Thread(target=self._run, name="delay-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the delay proxy did not start")
        return self

    def stop(self) -> None:
        """Close the listener and every connection, then the loop."""
        if self._loop is not None and self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    async def _shutdown(self) -> None:
        """Close the listener, then every connection, so that each connection's task ends
        on its own (cancelling one that asyncio's stream callback watches makes Python
        3.11 log a CancelledError traceback); only a task still running after that is
        cancelled."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=2)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        self._server = loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0, reuse_address=True)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            loop.close()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(client_w)
        try:
            await asyncio.sleep(2 * self.delay)  # the handshake's round trip
            up_r, up_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.close()
            self._writers.discard(client_w)
            return
        self._writers.add(up_w)
        await asyncio.gather(
            self._pipe(client_r, up_w), self._pipe(up_r, client_w), return_exceptions=True
        )
        for writer in (client_w, up_w):
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    with contextlib.suppress(Exception):
                        writer.write_eof()
                    return
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        delivering = asyncio.create_task(deliver())
        try:
            while True:
                data = await reader.read(CHUNK)
                queue.put_nowait((time.monotonic() + self.delay, data))
                if not data:
                    break
            await delivering
        finally:
            delivering.cancel()
