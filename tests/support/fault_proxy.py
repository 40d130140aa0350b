"""An HTTP proxy in front of the real hub's API that can fail chosen calls: for
integration tests of a running ``sharebot serve`` (a separate process, so faults cannot be
injected into its client).

    with FaultProxy(hub.api_url) as proxy:
        env["JUPYTERHUB_API_URL"] = proxy.api_url
        proxy.fail("DELETE", "share-codes/", times=1)            # the hub never sees it
        proxy.fail("GET", "share-codes/", times=9, kind="malformed", where="owner/")

Every other request is forwarded as it is (one keep-alive client to the hub), and its
answer returned as the hub gave it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import urlsplit

import httpx

Kind = Literal["503", "malformed"]


@dataclass
class _Rule:
    method: str
    path_contains: str
    times: int
    kind: Kind


class FaultProxy:
    def __init__(self, upstream_api_url: str) -> None:
        parts = urlsplit(upstream_api_url)
        self._upstream = httpx.Client(base_url=f"{parts.scheme}://{parts.netloc}", timeout=10)
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self.fired: list[tuple[str, str, str]] = []  # (method, path, kind)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, content = proxy._answer(
                    self.command, self.path, dict(self.headers.items()), body
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.api_url = f"http://127.0.0.1:{self._server.server_port}{parts.path}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def fail(self, method: str, path_contains: str, *, times: int = 1, kind: Kind = "503") -> None:
        """The next ``times`` ``method`` calls whose path contains ``path_contains`` fail:
        ``503`` before the hub sees them, or ``malformed`` (the hub's answer, with every
        number in it replaced by a string that is not one)."""
        with self._lock:
            self._rules.append(_Rule(method.upper(), path_contains, times, kind))

    def clear(self) -> None:
        """No more faults: every call goes to the hub."""
        with self._lock:
            self._rules.clear()

    def pending(self) -> int:
        with self._lock:
            return sum(rule.times for rule in self._rules)

    def _rule_for(self, method: str, path: str) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.times > 0 and rule.method == method and rule.path_contains in path:
                    rule.times -= 1
                    return rule
        return None

    def _answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        rule = self._rule_for(method, path)
        if rule is not None:
            self.fired.append((method, path, rule.kind))
        if rule is not None and rule.kind == "503":
            message = json.dumps({"status": 503, "message": "injected by the test"}).encode()
            return 503, {"Content-Type": "application/json"}, message
        forwarded = {
            k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")
        }
        upstream = self._upstream.request(method, path, headers=forwarded, content=body)
        content = upstream.content
        if rule is not None and content:
            content = json.dumps(_corrupt(upstream.json())).encode()
        kept = {"Content-Type": upstream.headers.get("Content-Type", "application/json")}
        return upstream.status_code, kept, content

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._upstream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _corrupt(value: Any) -> Any:
    """Every number (not a bool) in a JSON answer becomes a string that is not one."""
    if isinstance(value, dict):
        return {k: _corrupt(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_corrupt(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "many"
    return value
