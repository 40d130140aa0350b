"""``sharebot``: serve, migrate, link, unlink, sweep, digest, audit, shares, check.

Exit codes (docs/operations.md has the table): 0 done; 1 done, but something failed or was
not there (a ``check`` item, a digest's message, a user to link); 2 stopped before doing
anything, one line on stderr saying what to change (a setting, the database, its schema, a
wrong argument); 3 ``serve`` cannot listen on its address, or its start-up failed; 130
interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import socket
import sys
from collections.abc import Sequence

from sqlalchemy import Engine

from bot import __version__
from bot.clock import utcnow
from bot.config import (
    LogFormat,
    Settings,
    database_url_from_env,
    load_env_file,
    load_settings,
    log_format_from_env,
)
from bot.errors import ListenError, SchemaError, SharebotError
from bot.hub.client import HubClient
from bot.store.audit import AuditLog
from bot.store.db import check_schema, ensure_schema, head_revision, make_engine, migrate
from bot.store.links import Links

log = logging.getLogger("sharebot")

EXIT_OK = 0
EXIT_FAILED = 1  # done, but something failed or was not there
EXIT_STOPPED = 2  # a setting, the database or an argument: nothing was done
EXIT_CANNOT_SERVE = 3  # serve cannot listen, or its start-up failed (uvicorn's code)
EXIT_INTERRUPTED = 130

SETTINGS_EPILOG = (
    "Settings come from the environment and from ./sharebot.env (KEY=value lines; the "
    "environment wins); docs/configuration.md lists them. Exit codes: docs/operations.md."
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)  # a wrong argument: usage and exit code 2 (argparse)
    try:
        load_env_file()
        _setup_logging(args.log_level, log_format_from_env())
        result: int = args.func(args)
        return result
    except ListenError as err:
        print(f"sharebot: {err}", file=sys.stderr)
        return EXIT_CANNOT_SERVE
    except SharebotError as err:
        print(f"sharebot: {err}", file=sys.stderr)
        return EXIT_STOPPED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sharebot",
        description="Share JupyterHub servers from Slack, for a limited time.",
        epilog=SETTINGS_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"sharebot {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="the least severe log lines written to stderr (default INFO)",
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=summary, description=description, epilog=SETTINGS_EPILOG)

    serve = command(
        "serve",
        "run the Slack app and the background jobs",
        "Run sharebot: answer Slack on SHAREBOT_HOST:SHAREBOT_PORT (/slack/events, or Socket "
        "Mode with SLACK_APP_TOKEN), serve the linking pages, /healthz, /readyz and /metrics, "
        "and run the background jobs (acceptances, expiries, reminders, reconciliation, the "
        "digest). Creates the database schema when the database is empty; refuses an older "
        "schema unless SHAREBOT_AUTO_MIGRATE=true. Stops on SIGTERM or Ctrl-C. Exit code 2: a "
        "setting or the database is wrong (one line says which); 3: the address cannot be "
        "listened on.",
    )
    serve.set_defaults(func=cmd_serve)

    worker = command(
        "worker",
        "the work of commands and clicks, and the background jobs "
        "(started by serve when SHAREBOT_WORKER_PROCESS=true)",
        "The second process of serve when SHAREBOT_WORKER_PROCESS=true: it does the work of "
        "every command, click and Home tab, and the background jobs, for the web process on a "
        "Unix socket. serve starts it; there is no need to run it by hand.",
    )
    worker.add_argument("--socket", required=True, help="the Unix socket to serve on")
    worker.add_argument("--parent", type=int, help="stop when this process is gone")
    worker.set_defaults(func=cmd_worker)

    demo = command(
        "demo",
        "try sharebot without accounts: a throwaway JupyterHub and Slack stand-in, "
        "a scripted story printed as people would see it",
        "Try sharebot without a Slack app or a hub: start a throwaway JupyterHub (users owner, "
        "alice and bob), a stand-in for Slack and sharebot serve in a temporary directory, "
        "play a short story (share, accept, request and approve, expiry, the digest) and "
        "print it as each person would see it in Slack, then remove everything. Needs the "
        "demo extra (pip install 'sharebot[demo]') and configurable-http-proxy; uses none of "
        "your settings. Exit code 1 if a step did not happen as told.",
    )
    demo.set_defaults(func=cmd_demo)

    migrate = command(
        "migrate",
        "upgrade the database to the current schema",
        "Upgrade the database of SHAREBOT_DATABASE_URL (the only setting it reads) to this "
        "sharebot's schema, creating it when the database is empty. An SQLite file is backed "
        "up beside itself first. Safe while other replicas start: they wait for it.",
    )
    migrate.set_defaults(func=cmd_migrate)

    link = command(
        "link",
        "map a Slack user to a JupyterHub user",
        "Link a Slack member to a JupyterHub user, replacing any earlier link of that member "
        "(recorded in the audit log as done by the CLI). Exit code 1 if the hub has no such "
        "user.",
    )
    link.add_argument("slack_user_id", help="Slack member ID, e.g. U012AB3CD")
    link.add_argument("hub_username", help="JupyterHub username")
    link.set_defaults(func=cmd_link)

    unlink = command(
        "unlink",
        "remove a Slack user's mapping",
        "Remove the link of a Slack member to a JupyterHub user (reads only "
        "SHAREBOT_DATABASE_URL). Exit code 1 if the member was not linked.",
    )
    unlink.add_argument("slack_user_id", help="Slack member ID, e.g. U012AB3CD")
    unlink.set_defaults(func=cmd_unlink)

    sweep = command(
        "sweep",
        "run the background pass",
        "One background pass, as serve runs every SHAREBOT_SWEEP_INTERVAL seconds: note "
        "accepted invitations, end expired access, retry what failed, expire old requests. "
        "For cron or a Kubernetes CronJob when serve does not run the jobs.",
    )
    sweep.add_argument("--once", action="store_true", required=True, help="one pass, then exit")
    sweep.set_defaults(func=cmd_sweep)

    digest = command(
        "digest",
        "reconcile with the hub and send today's digest to owners who have not had it",
        "Compare sharebot's grants with the hub's shares, then send each owner with stale or "
        "unknown shares today's digest (at most one per owner per day, whatever the "
        "schedule). Exit code 1 if a digest or the reconciliation failed.",
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

    audit = command(
        "audit",
        "export the audit log to stdout (reads only SHAREBOT_DATABASE_URL)",
        "Export the audit log to stdout, oldest first. Times are UTC. Reads only "
        "SHAREBOT_DATABASE_URL.",
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

    shares = command(
        "shares",
        "list the open shares: sharebot's grants and the external shares reconciliation "
        "found (reads only SHAREBOT_DATABASE_URL), or the hub's own list (--live)",
        "List the open shares, by owner and server: sharebot's open grants and the shares "
        "reconciliation found on the hub that sharebot did not make, from the database "
        "(reads only SHAREBOT_DATABASE_URL). With --live, ask the hub instead for every "
        "share of each owner's servers (linked owners and owners of open grants), each "
        "marked with the grant that explains it, if any. Never prints a share code, an "
        "accept link or a note. Exit code 1 if the hub could not list an owner's shares "
        "(--live; the others are printed).",
    )
    shares.add_argument(
        "--owner", metavar="NAME", type=_hub_name, help="only this hub user's servers"
    )
    shares.add_argument(
        "--format",
        choices=["table", "json", "csv"],
        default="table",
        help="table (for people; the default), json (JSON Lines) or csv (a header row)",
    )
    shares.add_argument(
        "--live",
        action="store_true",
        help="ask the hub (needs the hub settings) instead of reading the database",
    )
    shares.set_defaults(func=cmd_shares)

    check = command(
        "check",
        "check a deployment: database, Slack token and scopes, hub URL, token and scopes",
        "Check a deployment with the settings serve would use: the settings themselves, the "
        "database (reachable, at this sharebot's schema, or to be created at the first start), "
        "Slack's auth.test and the bot token's scopes, the hub's version and the service "
        "token's scopes. Prints one line per item: ok, warn or FAIL with what to do. Changes "
        "nothing. Exit code 0 when every item is ok (or warn), 1 otherwise.",
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
    # The address first: a port in use stops here, with one line, before the schema or the
    # worker is touched. (Bound, not yet listening: uvicorn listens once it has started.)
    listener = listen(settings.host, settings.port)
    worker = None
    try:
        engine = _ready_engine(settings.database_url, auto_migrate=settings.auto_migrate)
        if settings.worker_process:
            from bot.web.worker import WorkerProcess

            worker = WorkerProcess(log_level=logging.getLevelName(logging.getLogger().level))
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
        config = uvicorn.Config(app, log_level="warning", log_config=None)
        server = uvicorn.Server(config)
        server.run(sockets=[listener])  # a failed start-up exits with 3 (uvicorn's code)
        if not server.started:
            return EXIT_CANNOT_SERVE
    finally:
        listener.close()
        if worker is not None:  # also when serving never started
            worker.stop()
    return EXIT_OK


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (as uvicorn binds one), or ListenError saying
    which setting to change."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise ListenError(_listen_problem(host, port, err)) from None
    return sock


def _listen_problem(host: str, port: int, err: OSError) -> str:
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if err.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: the port is in use (another sharebot?). Stop what "
            "uses it, or set SHAREBOT_PORT to a free port."
        )
    if err.errno == errno.EACCES:
        return (
            f"cannot listen on {where}: not allowed to use port {port}. Set SHAREBOT_PORT to "
            "1024 or above (or put a proxy in front)."
        )
    reason = err.strerror or str(err)
    return (
        f"cannot listen on {where} ({reason}). Set SHAREBOT_HOST to an address of this host, "
        "e.g. 127.0.0.1 (the default) or 0.0.0.0 (every interface)."
    )


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


def _hub_name(text: str) -> str:
    if not text or len(text) > 255:
        raise argparse.ArgumentTypeError("a hub username of 1 to 255 characters")
    return text


def cmd_shares(args: argparse.Namespace) -> int:
    from bot.domain.grants import OPEN_STATES
    from bot.ops import shares
    from bot.store.digests import Digests
    from bot.store.grants import Grants

    settings = _settings() if args.live else None
    engine = make_engine(settings.database_url if settings else database_url_from_env())
    try:
        check_schema(engine)
    except SchemaError as err:
        raise SchemaError(
            f"{err}. Check SHAREBOT_DATABASE_URL, or run `sharebot migrate` first."
        ) from None
    try:
        grants = Grants(engine).grants(states=OPEN_STATES, owner_hub=args.owner)
        if settings is None:
            externals = Digests(engine).externals(args.owner)
            shares.write(shares.stored_rows(grants, externals), args.format, sys.stdout)
            return EXIT_OK
        owners = (
            [args.owner]
            if args.owner
            else [*Digests(engine).linked_owners(), *(g.owner_hub for g in grants)]
        )
    finally:
        engine.dispose()

    async def ask() -> tuple[list[shares.Row], list[tuple[str, SharebotError]]]:
        async with HubClient(
            settings.hub_api_base, settings.jupyterhub_api_token.get_secret_value()
        ) as hub:
            rows, failed = await shares.live_rows(hub, owners, grants)
            return rows, list(failed)

    rows, failed = asyncio.run(ask())
    shares.write(rows, args.format, sys.stdout)
    for owner, problem in failed:
        print(f"sharebot: the shares of {owner} could not be listed: {problem}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


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
