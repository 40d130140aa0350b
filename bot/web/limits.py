"""Bounds on what a request may send, applied before anything reads it (an ASGI middleware).

Every request body is bounded, by path: a ``Content-Length`` over the limit gets 413 at once,
without reading a byte of the body; a body without one (chunked) is counted as it is read and
cut off with 413 when it passes the limit. Starlette and Bolt read a body whole into memory,
so without this an unsigned 200 MiB POST to ``/slack/events`` cost its size in RSS before the
signature was even looked at.

A response sent before the body was read to its end (a 413, a 401 for a request without
Slack's headers) closes the connection: the server then stops reading the rest, instead of
receiving and discarding it to keep the connection alive.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

KIB = 1024
MIB = 1024 * KIB

#: Slack's requests are small: a slash command is a few hundred bytes, an interaction with
#: the message and view it came from some tens of KiB (blocks are bounded by Slack).
SLACK_BODY_LIMIT = 1 * MIB

#: Everything else (the linking pages' forms, health, metrics): a few fields of ids and tokens.
DEFAULT_BODY_LIMIT = 64 * KIB


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a body passes its limit; answered with 413."""


class BodyLimit:
    """Bound each request's body: ``limits`` by exact path, ``default`` for the others."""

    def __init__(
        self, app: ASGIApp, limits: Mapping[str, int], default: int = DEFAULT_BODY_LIMIT
    ) -> None:
        self.app = app
        self.limits = dict(limits)
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = self.limits.get(path, self.default)
        declared, chunked = _framing(scope)
        if declared is not None and declared > limit:
            log.info(
                "refused a %d-byte body to %s (limit %d bytes) from %s",
                declared,
                path,
                limit,
                _client(scope),
            )
            await _too_large(send)
            return

        received = 0
        finished = not chunked and not declared  # nothing to read
        started = False

        async def limited_receive() -> Message:
            nonlocal received, finished
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
                if not message.get("more_body", False):
                    finished = True
            return message

        async def closing_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not finished:  # the rest of the body is not worth receiving
                    headers = [
                        (k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"
                    ]
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, limited_receive, closing_send)
        except BodyTooLarge:
            log.info(
                "refused a body over %d bytes to %s (cut off while reading) from %s",
                limit,
                path,
                _client(scope),
            )
            if not started:
                await _too_large(send)


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared ``Content-Length`` (None without one; -1 if unreadable) and whether the
    body is chunked."""
    declared: int | None = None
    chunked = False
    for name, value in scope.get("headers", []):
        lowered = name.lower()
        if lowered == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = -1
        elif lowered == b"transfer-encoding":
            chunked = True
    if declared is not None and declared < 0:
        chunked = True  # the server will have refused it; count what comes anyway
        declared = None
    return declared, chunked


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "?"


async def _too_large(send: Send) -> None:
    body = b'{"error": "request body too large"}'
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
