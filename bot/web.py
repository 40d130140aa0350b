"""The ASGI app: Slack endpoints (or Socket Mode), health, and the background jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.clock import utcnow
from bot.jobs import sweep_forever
from bot.runtime import Runtime
from bot.slack import listeners

log = logging.getLogger(__name__)


def create_bolt_app(runtime: Runtime) -> AsyncApp:
    settings = runtime.settings
    app = AsyncApp(
        client=runtime.messenger.client,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        process_before_response=False,
    )
    listeners.register(app, runtime.service, max_duration=settings.max_duration)
    return app


def create_app(runtime: Runtime, *, background: bool = True) -> Starlette:
    bolt = create_bolt_app(runtime)
    handler = AsyncSlackRequestHandler(bolt)

    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        tasks: list[asyncio.Task[None]] = []
        socket_handler = None
        if background:
            tasks.append(
                asyncio.create_task(
                    sweep_forever(runtime.service, runtime.settings.sweep_interval, utcnow)
                )
            )
        if runtime.settings.slack_app_token is not None:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket_handler = AsyncSocketModeHandler(
                bolt, runtime.settings.slack_app_token.get_secret_value()
            )
            await socket_handler.connect_async()  # type: ignore[no-untyped-call]
            log.info("connected to Slack in Socket Mode")
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if socket_handler is not None:
                await socket_handler.close_async()  # type: ignore[no-untyped-call]
            await runtime.aclose()

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if runtime.settings.slack_app_token is None:
        routes.append(Route("/slack/events", slack_events, methods=["POST"]))
    return Starlette(routes=routes, lifespan=lifespan)
