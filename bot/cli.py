"""``sharebot``: serve, migrate, link, unlink, sweep, digest, audit, check."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from sqlalchemy import Engine

from bot import __version__
from bot.clock import utcnow
from bot.config import (
    LogFormat,
    Settings,
    database_url_from_env,
    load_settings,
    log_format_from_env,
)
from bot.errors import SchemaError, SharebotError
from bot.hub.client import HubClient
from bot.store.audit import AuditLog
from bot.store.db import check_schema, ensure_schema, head_revision, make_engine, migrate
from bot.store.links import Links

log = logging.getLogger("sharebot")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _setup_logging(args.log_level, log_format_from_env())
        result: int = args.func(args)
        return result
    except SharebotError as err:
        print(f"sharebot: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sharebot",
        description="Share JupyterHub servers from Slack, for a limited time. "
        "Settings come from the environment; see the README.",
    )
    parser.add_argument("--version", action="version", version=f"sharebot {__version__}")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the Slack app and the background jobs")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser(
        "worker",
        help="the work of commands and clicks, and the background jobs "
        "(started by serve when SHAREBOT_WORKER_PROCESS=true)",
    )
    worker.add_argument("--socket", required=True, help="the Unix socket to serve on")
    worker.add_argument("--parent", type=int, help="stop when this process is gone")
    worker.set_defaults(func=cmd_worker)

    demo = sub.add_parser(
        "demo",
        help="try sharebot without accounts: a throwaway JupyterHub and Slack stand-in, "
        "a scripted story printed as people would see it",
    )
    demo.set_defaults(func=cmd_demo)

    migrate = sub.add_parser("migrate", help="upgrade the database to the current schema")
    migrate.set_defaults(func=cmd_migrate)

    link = sub.add_parser("link", help="map a Slack user to a JupyterHub user")
    link.add_argument("slack_user_id", help="Slack member ID, e.g. U012AB3CD")
    link.add_argument("hub_username", help="JupyterHub username")
    link.set_defaults(func=cmd_link)

    unlink = sub.add_parser("unlink", help="remove a Slack user's mapping")
    unlink.add_argument("slack_user_id")
    unlink.set_defaults(func=cmd_unlink)

    sweep = sub.add_parser("sweep", help="run the background pass")
    sweep.add_argument("--once", action="store_true", required=True, help="one pass, then exit")
    sweep.set_defaults(func=cmd_sweep)

    digest = sub.add_parser(
        "digest",
        help="reconcile with the hub and send today's digest to owners who have not had it",
    )
    digest.add_argument(
        "--now",
        action="store_true",
        required=True,
        help="now, whatever the time of day (still at most one digest per owner per day)",
    )
    digest.add_argument(
        "--reconcile-only", action="store_true", help="only compare with the hub; send nothing"
    )
    digest.set_defaults(func=cmd_digest)

    audit = sub.add_parser(
        "audit",
        help="export the audit log to stdout (reads only SHAREBOT_DATABASE_URL)",
        description="Export the audit log to stdout, oldest first. Times are UTC.",
    )
    audit.add_argument(
        "--since",
        metavar="WHEN",
        help="a duration back from now (7d, 12h) or an ISO 8601 time; default: the beginning",
    )
    audit.add_argument(
        "--until", metavar="WHEN", help="like --since; events before it (default: now)"
    )
    audit.add_argument(
        "--format",
        choices=["csv", "json"],
        default="csv",
        help="csv (a header row, detail as JSON text; the default) or json (JSON Lines)",
    )
    audit.set_defaults(func=cmd_audit)

    check = sub.add_parser(
        "check",
        help="check a deployment: database, Slack token and scopes, hub URL, token and scopes",
    )
    check.set_defaults(func=cmd_check)
    return parser


def _setup_logging(level: str, log_format: LogFormat = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(
                "%(levelname)s %(name)s %(message)s",
                rename_fields={"levelname": "level", "name": "logger"},
                timestamp="time",  # ISO 8601 in UTC
            )
        )
        logging.captureWarnings(True)  # warnings as JSON too, not as raw stderr lines
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    # slack_sdk logs request bodies at DEBUG, and those hold accept links: never below INFO.
    logging.getLogger("slack_sdk").setLevel(max(logging.INFO, logging.getLevelName(level)))
    logging.getLogger("slack_bolt").setLevel(max(logging.INFO, logging.getLevelName(level)))
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _settings() -> Settings:
    return load_settings()


def _ready_engine(url: str, *, auto_migrate: bool = False) -> Engine:
    """An engine on a database at the code's schema (created when the database is empty)."""
    engine = make_engine(url)
    ensure_schema(engine, auto_migrate=auto_migrate)
    return engine


def cmd_serve(_args: argparse.Namespace) -> int:
    import uvicorn

    from bot.runtime import build
    from bot.web.app import create_app

    settings = _settings()
    engine = _ready_engine(settings.database_url, auto_migrate=settings.auto_migrate)
    worker = None
    if settings.worker_process:
        from bot.web.worker import WorkerProcess

        worker = WorkerProcess(log_level=logging.getLevelName(logging.getLogger().level))
    try:
        if worker is not None:
            worker.start()
        runtime = build(settings, engine)
        app = create_app(runtime, worker=worker)
        mode = "Socket Mode" if settings.socket_mode else f"http://{settings.host}:{settings.port}"
        work = f", work in process {worker.pid}" if worker is not None else ""
        log.info("sharebot %s serving on %s%s", __version__, mode, work)
        gate_on, gate_why = settings.accept_gate_mode
        log.info("accept links: %s (%s)", "the accept gate" if gate_on else "the hub's", gate_why)
        # log_config=None: uvicorn's own loggers go through ours (same format, JSON included).
        uvicorn.run(
            app, host=settings.host, port=settings.port, log_level="warning", log_config=None
        )
    finally:
        if worker is not None:  # also when serving never started (a port in use)
            worker.stop()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.runtime import build
    from bot.web.worker import (
        WORKER_NICENESS,
        bind_private_socket,
        create_worker_app,
        read_secret,
    )

    secret = read_secret(sys.stdin)  # from serve, which sends it with every request
    settings = _settings()
    engine = _ready_engine(settings.database_url)
    app = create_worker_app(build(settings, engine), secret=secret, parent_pid=args.parent)
    # When the CPU is short, the web process's acknowledgements go first.
    os.nice(WORKER_NICENESS)
    sock = bind_private_socket(args.socket)  # 0600 (uvicorn's uds= would make it 0666)
    uvicorn.run(app, fd=sock.fileno(), log_level="warning", log_config=None)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.sandbox.demo import run

    if args.log_level == "INFO":  # the default: the story is the output, not our log
        logging.getLogger().setLevel(logging.WARNING)
    return run()


def cmd_migrate(_args: argparse.Namespace) -> int:
    engine = make_engine(database_url_from_env())
    before, backup = migrate(engine)
    if before == head_revision():
        print(f"database already at {before}")
    else:
        print(f"database upgraded from {before or 'empty'} to {head_revision()}")
    if backup is not None:
        print(f"backup of the previous database: {backup}")
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    settings = _settings()
    engine = _ready_engine(settings.database_url)

    async def hub_user_exists() -> bool:
        async with HubClient(
            settings.hub_api_base, settings.jupyterhub_api_token.get_secret_value()
        ) as hub:
            return await hub.user_exists(args.hub_username)

    if not asyncio.run(hub_user_exists()):
        print(
            f"sharebot: JupyterHub has no user named {args.hub_username!r}; nothing was linked.",
            file=sys.stderr,
        )
        return 1
    previous = Links(engine).link(
        args.slack_user_id, args.hub_username, method="admin", by="cli", now=utcnow()
    )
    replaced = f" (was {previous.hub_user})" if previous else ""
    print(f"linked Slack user {args.slack_user_id} to hub user {args.hub_username}{replaced}")
    return 0


def cmd_unlink(args: argparse.Namespace) -> int:
    engine = _ready_engine(database_url_from_env())
    previous = Links(engine).unlink(args.slack_user_id, by="cli", now=utcnow())
    if previous is None:
        print(f"Slack user {args.slack_user_id} was not linked")
        return 1
    print(f"unlinked Slack user {args.slack_user_id} from hub user {previous.hub_user}")
    return 0


def cmd_sweep(_args: argparse.Namespace) -> int:
    from bot.runtime import build

    settings = _settings()
    engine = _ready_engine(settings.database_url)

    async def once() -> None:
        runtime = build(settings, engine)
        try:
            report = await runtime.jobs.sweep_once()
            print(
                f"sweep: {report.accepted} accepted, {report.lapsed} lapsed, "
                f"{report.ended} ended, {report.failures} failures, "
                f"{report.expired_requests} requests expired"
            )
        finally:
            await runtime.aclose()

    asyncio.run(once())
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from bot.ops import audit

    now = utcnow()
    try:
        since = audit.parse_bound("--since", args.since, now) if args.since else None
        until = audit.parse_bound("--until", args.until, now) if args.until else None
    except SharebotError as err:
        print(f"sharebot: {err}", file=sys.stderr)
        return 2
    engine = make_engine(database_url_from_env())
    try:
        check_schema(engine)
    except SchemaError as err:
        raise SchemaError(
            f"{err}. Check SHAREBOT_DATABASE_URL, or run `sharebot migrate` first."
        ) from None
    events = AuditLog(engine).audit_log(since=since, until=until)
    engine.dispose()
    audit.write(events, args.format, sys.stdout)
    return 0


def cmd_check(_args: argparse.Namespace) -> int:
    from bot.ops import check

    try:
        settings = _settings()
    except SharebotError as err:
        print(f"FAIL settings: {err}")
        return 1
    findings = check.run(settings)
    for finding in findings:
        print(finding.line())
    return 0 if all(f.ok for f in findings) else 1


def cmd_digest(args: argparse.Namespace) -> int:
    from bot.runtime import build

    settings = _settings()
    engine = _ready_engine(settings.database_url)

    async def once() -> int:
        runtime = build(settings, engine)
        try:
            digest = runtime.digest
            if args.reconcile_only:
                found = await runtime.reconciler.reconcile(utcnow())
                print(
                    f"reconciliation: {found.owners} owners, {found.revoked_in_hub} grants "
                    f"revoked in the hub, {found.external_new} external shares found, "
                    f"{found.external_gone} gone, {found.failures} failures"
                )
                return 1 if found.failures else 0
            report = await digest.run(utcnow())
            print(
                f"digest of {report.day}: {report.sent} sent, {report.already_sent} already "
                f"sent today, {report.failed} failed, {report.owners_with_stale} owners with "
                f"stale shares; {report.reconcile.revoked_in_hub} grants revoked in the hub, "
                f"{report.reconcile.external_new} external shares found"
            )
            return 1 if report.failed or report.reconcile.failures else 0
        finally:
            await runtime.aclose()

    return asyncio.run(once())


if __name__ == "__main__":
    sys.exit(main())
