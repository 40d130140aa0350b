"""Bearer tokens for sharebot's internal endpoints: the worker's socket and ``/metrics``."""

from __future__ import annotations

import hmac
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)


def bearer(token: str) -> str:
    """The ``Authorization`` header value that carries ``token``."""
    return f"Bearer {token}"


def bearer_ok(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token``, compared in constant time."""
    if not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


class RequireBearer:
    """Every HTTP request must carry ``Authorization: Bearer <token>``; others get 401 and
    do nothing. One WARNING each (never the header)."""

    def __init__(self, app: ASGIApp, token: str, what: str) -> None:
        self.app = app
        self.token = token
        self.what = what

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            authorization = None
            for name, value in scope.get("headers", []):
                if name.lower() == b"authorization":
                    authorization = value.decode("latin-1")
            if not bearer_ok(authorization, self.token):
                log.warning(
                    "refused a request to %s %r without its secret",
                    self.what,
                    str(scope.get("path", ""))[:100],
                )
                await unauthorized(send)
                return
        await self.app(scope, receive, send)


async def unauthorized(send: Send) -> None:
    body = b'{"error": "unauthorized"}'
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b"Bearer"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
