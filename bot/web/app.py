"""The ASGI app: Slack endpoints (or Socket Mode), health, and the background jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from bot.aio import cancel_all
from bot.app.gate import COOKIE as GATE_COOKIE
from bot.app.gate import GateService, NotYours
from bot.app.linking import COOKIE, LinkingService, LinkPageError, PageProblem
from bot.clock import utcnow
from bot.errors import SharebotError
from bot.ops.check import warn_over_broad_token
from bot.ops.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from bot.runtime import Runtime
from bot.slack import shape
from bot.slack.app import create_bolt_app
from bot.slack.identity import SlackIdentity
from bot.store.db import head_revision, schema_revision
from bot.store.link_flows import Flow
from bot.web import pages
from bot.web.auth import bearer_ok
from bot.web.handoff import HandoffRunner, LocalRunner, strip_lazy
from bot.web.limits import SLACK_BODY_LIMIT, BodyLimit
from bot.web.worker import DRAIN_SECONDS, WorkerProcess

log = logging.getLogger(__name__)

#: Slack's rule: a request's timestamp is within 5 minutes of now, either way.
SLACK_CLOCK_SKEW = 300

#: Seconds start-up waits for Slack's auth.test; later, the first request asks again.
IDENTITY_PATIENCE = 10.0

#: The linking pages' forms: a flow id and a CSRF token (no files).
FORM_FIELDS = 10
FORM_FIELD_BYTES = 4096


def create_app(
    runtime: Runtime, *, background: bool = True, worker: WorkerProcess | None = None
) -> Starlette:
    """The web app. With ``worker`` (started already), the work of each command and click
    and the background jobs run in that process, and this one only acknowledges."""
    runner: LocalRunner = (
        HandoffRunner(log, worker.socket_path, worker.secret)
        if worker is not None
        else LocalRunner(log)
    )
    identity = SlackIdentity(runtime.messenger.client)
    bolt = create_bolt_app(runtime, lazy_runner=runner, identity=identity)
    handler = AsyncSlackRequestHandler(bolt)
    verifier = SignatureVerifier(runtime.settings.slack_signing_secret.get_secret_value())

    async def slack_events(request: Request) -> Response:
        # Bolt's lazy-only headers are ours (worker hand-off); Slack's signature does not
        # cover headers, so a replayed request carrying them would skip the acknowledgement.
        request.scope["headers"] = strip_lazy(request.scope["headers"])
        # Before the body is read: without Slack's headers, or stale, it is not worth reading.
        problem = unsigned_why(request.headers, time.time())
        if problem is not None:
            client = request.client.host if request.client else "?"
            log.info("rejected a request to /slack/events: %s (%s)", problem, client)
            return JSONResponse({"error": "invalid request"}, status_code=401)
        # Verified before Bolt parses anything: a forged body that is not even valid JSON,
        # or a timestamp that is not a number, gets the same 401 as a wrong signature.
        # (Bolt checks again; the body is read once and cached by Starlette.)
        raw = await request.body()
        if not signed_by_slack(verifier, raw, request.headers):
            client = request.client.host if request.client else "?"
            log.info("rejected a request to /slack/events without a valid signature (%s)", client)
            return JSONResponse({"error": "invalid request"}, status_code=401)
        # Signed, but of a shape Slack never sends: Bolt would answer 500 with a traceback.
        why = malformed(raw, request.headers.get("content-type"))
        if why is not None:
            log.info("refused a signed request to /slack/events: %s", why)
            return JSONResponse({"error": "malformed request"}, status_code=400)
        return await handler.handle(request)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    head = head_revision()  # read from the migration scripts once, not on every probe

    async def readyz(_request: Request) -> Response:
        """Ready when Slack took the bot token, and the database answers and is at the
        code's schema revision: one query per call, nothing logged."""
        reason = identity.not_ready
        if reason is None:
            try:
                current = await asyncio.to_thread(schema_revision, runtime.engine)
            except SharebotError as err:
                reason = str(err)
            else:
                if current != head:
                    reason = f"database at {current or 'none'}, needs {head}"
        if reason is not None:
            return JSONResponse({"status": "not ready", "reason": reason}, status_code=503)
        return JSONResponse({"status": "ok"})

    metrics_token = runtime.settings.metrics_token

    async def metrics(request: Request) -> Response:
        """Prometheus text format; the scrape-time gauges read the database, off the loop.
        With a worker process, its metrics: the work, the jobs and their counters are there.
        With SHAREBOT_METRICS_TOKEN, only for requests that carry it as a bearer token."""
        if metrics_token is not None and not bearer_ok(
            request.headers.get("authorization"), metrics_token.get_secret_value()
        ):
            return JSONResponse(
                {"error": "unauthorized"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        body = None
        if isinstance(runner, HandoffRunner):
            body = await runner.worker_metrics()
        if body is None:
            body = await asyncio.to_thread(runtime.metrics.exposition)
        return Response(body, media_type=METRICS_CONTENT_TYPE)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Off the start-up path: a slow hub does not delay serving.
        tasks: list[asyncio.Task[None]] = [asyncio.create_task(warn_over_broad_token(runtime.hub))]
        # Who the bot token is (and whether Slack takes it), before the first request.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(identity.learn(), IDENTITY_PATIENCE)
        socket_handler = None
        if worker is not None:
            tasks.append(asyncio.create_task(worker.supervise()))
        elif background:
            tasks += runtime.jobs.start()
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
            await cancel_all(tasks)
            if socket_handler is not None:
                await socket_handler.close_async()  # type: ignore[no-untyped-call]
            left = await runner.drain(DRAIN_SECONDS)
            if left:
                log.warning("stopped with %d commands or clicks still being worked on", left)
            if isinstance(runner, HandoffRunner):
                await runner.aclose()
            if worker is not None:
                await asyncio.to_thread(worker.stop)
            await runtime.aclose()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    if runtime.settings.slack_app_token is None:
        routes.append(Route("/slack/events", slack_events, methods=["POST"]))
    routes += linking_routes(runtime.linking, runtime.gate)
    prefix = runtime.linking.config.cookie_path.rstrip("/")
    if prefix:  # behind the hub's proxy at /services/sharebot/: serve there too
        routes.append(Mount(prefix, routes=list(routes)))
    limits = {"/slack/events": SLACK_BODY_LIMIT, f"{prefix}/slack/events": SLACK_BODY_LIMIT}
    middleware = [Middleware(BodyLimit, limits=limits)]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


def malformed(raw: bytes, content_type: str | None) -> str | None:
    """What Bolt could not handle in a signed body (:mod:`bot.slack.shape`), or None."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    body = shape.parse(text, content_type.split(";")[0] if content_type else None)
    if body is None:
        return "the body is not a JSON object or form"
    why = shape.problem(body)
    return f"{shape.describe(body)}: {why}" if why is not None else None


def unsigned_why(headers: Mapping[str, str], now: float) -> str | None:
    """Why a request cannot be Slack's, from its headers alone (None: read on and verify)."""
    if not headers.get("x-slack-signature"):
        return "no X-Slack-Signature header"
    stamp = headers.get("x-slack-request-timestamp", "")
    if not stamp:
        return "no X-Slack-Request-Timestamp header"
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        return "X-Slack-Request-Timestamp is not a number"
    if abs(now - int(stamp)) > SLACK_CLOCK_SKEW:
        return "X-Slack-Request-Timestamp is more than 5 minutes away"
    return None


def signed_by_slack(verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]) -> bool:
    """Slack's signature over this body, made within the last 5 minutes (either way)."""
    try:
        return bool(verifier.is_valid_request(body, dict(headers)))
    except ValueError:  # a timestamp that is not a number
        return False


def linking_routes(linking: LinkingService, gate: GateService) -> list[Route]:
    """GET /link/{nonce}, GET /oauth_callback, POST /link/confirm; the accept gate's
    GET /accept/{token} and GET /accepted/{grant}."""
    config = linking.config

    def html(body: str, status: int = 200) -> HTMLResponse:
        response = HTMLResponse(body, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    def failed(err: LinkPageError) -> HTMLResponse:
        return html(pages.message(err.title, pages.problem(err.problem, err.detail)), err.status)

    def redirect(url: str, *, cookie: tuple[str, str] | None = None) -> RedirectResponse:
        """A 302 nothing caches or refers on; with ``cookie`` (name, value), the flow's
        browser cookie: HttpOnly, Lax, on sharebot's path, for the flow's lifetime."""
        response = RedirectResponse(url, status_code=302)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        if cookie is not None:
            response.set_cookie(
                *cookie,
                max_age=int(config.ttl.total_seconds()),
                path=config.cookie_path,
                httponly=True,
                samesite="lax",
                secure=config.secure_cookie,
            )
        return response

    async def open_link(request: Request) -> Response:
        try:
            url, browser = await linking.start(request.path_params["nonce"], utcnow())
        except LinkPageError as err:
            return failed(err)
        return redirect(url, cookie=(COOKIE, browser))

    async def oauth_callback(request: Request) -> Response:
        """One redirect URI for both flows the hub's OAuth serves: linking and the gate."""
        params = request.query_params
        try:
            flow = await linking.flow_of(params.get("state"))
            if flow.grant_id is not None:
                return await gate_callback(request, flow)
            confirmation = await linking.callback(
                flow=flow,
                code=params.get("code"),
                error=params.get("error"),
                browser=request.cookies.get(COOKIE),
                now=utcnow(),
            )
        except LinkPageError as err:
            return failed(err)
        return html(
            pages.confirm(
                action=f"{config.cookie_path.rstrip('/')}/link/confirm",
                flow_id=confirmation.flow_id,
                csrf=confirmation.csrf_token,
                slack_user_id=confirmation.slack_user_id,
                slack_name=confirmation.slack_name,
                hub_user=confirmation.hub_user,
                replaces=confirmation.replaces,
            )
        )

    async def open_gate(request: Request) -> Response:
        if not gate.enabled:
            return failed(LinkPageError(404, "Unknown invitation", PageProblem.UNKNOWN_INVITATION))
        try:
            url, cookie = await gate.open(request.path_params["token"], utcnow())
        except LinkPageError as err:
            return failed(err)
        return redirect(url, cookie=(GATE_COOKIE, cookie))

    async def gate_callback(request: Request, flow: Flow) -> Response:
        params = request.query_params
        outcome = await gate.callback(
            flow=flow,
            code=params.get("code"),
            error=params.get("error"),
            cookie=request.cookies.get(GATE_COOKIE),
            now=utcnow(),
        )
        if isinstance(outcome, NotYours):
            response = html(
                pages.not_yours(
                    recipient=outcome.recipient_name or outcome.grant.recipient_hub,
                    owner=outcome.owner_name or outcome.grant.owner_hub,
                    hub_user=outcome.hub_user,
                ),
                403,
            )
            response.delete_cookie(GATE_COOKIE, path=config.cookie_path)
            return response
        if outcome.server_down:
            grant = outcome.grant
            return html(
                pages.server_not_running(
                    owner=grant.owner_hub,
                    server=grant.server,
                    manage=outcome.manage,
                    continue_url=outcome.url,
                )
            )
        return redirect(outcome.url)

    async def accepted(request: Request) -> Response:
        grant_id = request.path_params["grant_id"]
        try:
            url = await gate.accepted(grant_id, request.cookies.get(GATE_COOKIE), utcnow())
        except LinkPageError as err:
            return failed(err)
        response = redirect(url)
        response.delete_cookie(GATE_COOKIE, path=config.cookie_path)
        return response

    async def confirm(request: Request) -> Response:
        try:
            try:
                form = await request.form(
                    max_files=0, max_fields=FORM_FIELDS, max_part_size=FORM_FIELD_BYTES
                )
            except HTTPException:  # too many fields, or a field too long
                raise LinkPageError(400, "Unknown request", PageProblem.INCOMPLETE_FORM) from None
            flow = str(form.get("flow") or "")
            csrf = form.get("csrf")
            if not flow.isdigit() or len(flow) > 18:
                raise LinkPageError(400, "Unknown request", PageProblem.INCOMPLETE_FORM)
            slack_user, hub_user = await linking.confirm(
                flow_id=int(flow),
                csrf=csrf if isinstance(csrf, str) else None,
                browser=request.cookies.get(COOKIE),
                now=utcnow(),
            )
        except LinkPageError as err:
            return failed(err)
        response = html(pages.linked(slack_user, hub_user))
        response.delete_cookie(COOKIE, path=config.cookie_path)
        return response

    return [
        Route("/link/confirm", confirm, methods=["POST"]),
        Route("/link/{nonce}", open_link, methods=["GET"]),
        Route("/oauth_callback", oauth_callback, methods=["GET"]),
        Route("/accept/{token}", open_gate, methods=["GET"]),
        Route("/accepted/{grant_id:int}", accepted, methods=["GET"]),
    ]
