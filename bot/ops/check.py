"""``sharebot check``: is this deployment able to work? One line per item, ``ok`` or ``FAIL``
with what to do.

The evaluation (which scopes are missing, what to say) is pure and tested on its own; the
probes around it only call the database, Slack's ``auth.test`` and the hub, and turn every
failure into a :class:`Finding` instead of a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine

from bot.config import Settings
from bot.errors import DatabaseError, HubAuthError, HubError, SchemaError
from bot.hub import scopes as hub_scopes
from bot.hub.client import HubClient
from bot.store.db import (
    check_schema,
    check_sqlite_location,
    current_revision,
    is_empty,
    make_engine,
    sqlite_path,
)

log = logging.getLogger(__name__)

#: Bot scopes of the Slack app (``deploy/slack-manifest.json`` asks for exactly these; a test
#: checks) and when each is needed.
SLACK_SCOPES: dict[str, str] = {
    "commands": "always",
    "chat:write": "always",
    "im:write": "always",
    "users:read": "always",
    "users:read.email": "email mapping",
    "usergroups:read": "approver groups",
}

SLACK_SCOPE_FIX = "add them in the app's OAuth & Permissions page and reinstall the app"
HUB_SCOPE_FIX = (
    "add them to the sharebot role's scopes (c.JupyterHub.load_roles in jupyterhub_config.py, "
    "or hub.loadRoles in z2jh; see deploy/jupyterhub_config.py) and restart the hub"
)


@dataclass(frozen=True)
class Finding:
    item: str
    ok: bool
    detail: str
    fix: str = ""
    warning: str = ""  # works, but should be changed (e.g. a token with more rights than needed)

    def line(self) -> str:
        status = "ok  " if self.ok else "FAIL"
        fix = f" -> {self.fix}" if self.fix and not self.ok else ""
        if self.ok and self.warning:
            status, fix = "warn", f" -> {self.warning}"
        return f"{status} {self.item}: {self.detail}{fix}"


# -- pure evaluation ------------------------------------------------------------------------


def needed_slack_scopes(settings: Settings) -> list[str]:
    """The bot scopes these settings use."""
    needed = [s for s, when in SLACK_SCOPES.items() if when == "always"]
    if settings.email_mapping != "off":
        needed.append("users:read.email")
    if any(a.startswith(("S", "@")) for a in settings.approvers):
        needed.append("usergroups:read")
    return needed


def parse_scope_header(value: str | None) -> set[str]:
    return {s.strip() for s in (value or "").split(",") if s.strip()}


def evaluate_slack_scopes(granted: Collection[str], needed: Iterable[str]) -> Finding:
    needed = list(needed)
    missing = [s for s in needed if s not in granted]
    if missing:
        return Finding("Slack scopes", False, f"missing {', '.join(missing)}", fix=SLACK_SCOPE_FIX)
    unused = [s for s in SLACK_SCOPES if s not in needed and s not in granted]
    note = f" (not granted, not needed with these settings: {', '.join(unused)})" if unused else ""
    return Finding("Slack scopes", True, f"{', '.join(needed)} granted{note}")


def evaluate_hub_scopes(granted: Iterable[str]) -> Finding:
    granted = list(granted)
    required = hub_scopes.evaluate(hub_scopes.REQUIRED, granted)
    optional = hub_scopes.evaluate(hub_scopes.OPTIONAL, granted)
    missing = [s.scope for s in required if s.status is hub_scopes.Grant.MISSING]
    narrowed = [s for s in required if s.status is hub_scopes.Grant.FILTERED and not s.ok]
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if narrowed:
        problems.append(
            "limited by a filter, but needed for every user: "
            + ", ".join(s.describe() for s in narrowed)
        )
    if problems:
        return Finding("hub scopes", False, "; ".join(problems), fix=HUB_SCOPE_FIX)
    detail = ", ".join(s.describe() for s in required)
    absent = [
        f"{s.scope} not granted: {hub_scopes.OPTIONAL[s.scope]} will fail"
        for s in optional
        if not s.ok
    ]
    if absent:
        detail += f" (optional {'; '.join(absent)})"
    return Finding("hub scopes", True, detail, warning=over_broad_warning(granted))


def over_broad_warning(granted: Iterable[str]) -> str:
    """What to say about scopes the token has and sharebot never needs, or ``""``."""
    extra = hub_scopes.over_broad(granted)
    if not extra:
        return ""
    return (
        f"the token also holds {hub_scopes.describe_over_broad(extra)}, which sharebot never "
        f"needs: a leaked token could do all that. Grant only {', '.join(hub_scopes.REQUIRED)} "
        f"(and optionally {', '.join(hub_scopes.OPTIONAL)}); {HUB_SCOPE_FIX}"
    )


def hub_version_finding(version: str, url: str) -> Finding:
    major = version.split(".", 1)[0]
    if major.isdigit() and int(major) < 5:
        return Finding(
            "hub",
            False,
            f"JupyterHub {version} at {url} has no sharing API",
            fix="upgrade JupyterHub to 5.0 or newer",
        )
    return Finding("hub", True, f"JupyterHub {version} at {url}")


# -- probes -----------------------------------------------------------------------------


def check_database(engine: Engine, *, auto_migrate: bool = False) -> Finding:
    """The database as ``serve`` would find it. A database ``serve`` would create (an SQLite
    file not there yet, an empty database) is ok, and checking it creates nothing."""
    where = engine.url.render_as_string(hide_password=True)
    try:
        check_sqlite_location(engine)
    except DatabaseError as err:
        return Finding("database", False, str(err))
    path = sqlite_path(engine)
    if path is not None and not path.exists():
        return Finding("database", True, f"{where}: no file yet; it will be created on first start")
    try:
        check_schema(engine)
    except SchemaError as err:
        if "unreachable" in str(err):
            return Finding(
                "database",
                False,
                f"{where}: {err}",
                fix="check SHAREBOT_DATABASE_URL and that the database server is up",
            )
        if is_empty(engine):
            return Finding(
                "database", True, f"{where}: empty; the schema will be created on first start"
            )
        if auto_migrate:
            return Finding(
                "database",
                True,
                f"{where}: {err}; serve upgrades it at start (SHAREBOT_AUTO_MIGRATE=true)",
            )
        return Finding(
            "database",
            False,
            f"{where}: {err}",
            fix="back it up, then run `sharebot migrate`",
        )
    return Finding("database", True, f"{where} at revision {current_revision(engine)} (current)")


async def check_slack(settings: Settings) -> list[Finding]:
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_base,
        timeout=10,
    )
    try:
        response = await client.auth_test()
    except SlackApiError as err:
        error = err.response.get("error") if err.response is not None else "unknown"
        return [
            Finding(
                "Slack",
                False,
                f"auth.test refused the bot token ({error})",
                fix="set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-...) from the app's "
                "OAuth & Permissions page; reinstall the app if the token was revoked",
            )
        ]
    except (SlackClientError, OSError, TimeoutError) as err:
        return [
            Finding(
                "Slack",
                False,
                f"cannot reach {settings.slack_api_base} ({err.__class__.__name__})",
                fix="check SLACK_API_URL and that this host can reach Slack (proxy, firewall)",
            )
        ]
    headers = {str(k).lower(): str(v) for k, v in (response.headers or {}).items()}
    who = f"@{response.get('user')} in {response.get('team')} ({response.get('team_id')})"
    found = [Finding("Slack", True, f"auth.test ok as {who}")]
    if "x-oauth-scopes" not in headers:
        found.append(
            Finding(
                "Slack scopes",
                False,
                "Slack did not report the token's scopes (no x-oauth-scopes header)",
                fix="make sure SLACK_BOT_TOKEN is a bot token (xoxb-...), not an app token",
            )
        )
        return found
    granted = parse_scope_header(headers["x-oauth-scopes"])
    found.append(evaluate_slack_scopes(granted, needed_slack_scopes(settings)))
    return found


async def check_hub(settings: Settings) -> list[Finding]:
    token_fix = (
        "set JUPYTERHUB_API_TOKEN to the api_token of the sharebot service in "
        "jupyterhub_config.py (c.JupyterHub.services) and restart the hub if you changed it there"
    )
    async with HubClient(
        settings.hub_api_base, settings.jupyterhub_api_token.get_secret_value()
    ) as hub:
        try:
            version = await hub.version()
        except HubError as err:
            return [
                Finding(
                    "hub",
                    False,
                    str(err),
                    fix="set JUPYTERHUB_API_URL to the hub's API as this host reaches it "
                    "(ends in /hub/api) and make sure the hub is running",
                )
            ]
        found = [hub_version_finding(version, settings.hub_api_base)]
        try:
            owner = await hub.token_owner()
        except HubAuthError as err:
            found.append(
                Finding(
                    "hub token",
                    False,
                    f"JupyterHub refused JUPYTERHUB_API_TOKEN ({err.status})",
                    fix=token_fix,
                )
            )
            return found
        except HubError as err:
            found.append(Finding("hub token", False, str(err), fix=token_fix))
            return found
        kind = "service" if owner.kind == "service" else f"{owner.kind} (prefer a service token)"
        found.append(Finding("hub token", True, f"belongs to {kind} {owner.name}"))
        found.append(evaluate_hub_scopes(owner.scopes))
        return found


async def warn_over_broad_token(hub: HubClient) -> None:
    """At start-up: log a WARNING naming the hub token's scopes beyond what sharebot needs.

    Never logs the token. A hub that cannot be asked is a WARNING too: serving goes on, and
    the first real call will say what is wrong.
    """
    try:
        owner = await hub.token_owner()
    except HubError as err:
        log.warning("could not ask JupyterHub about its token at start-up: %s", err)
        return
    warning = over_broad_warning(owner.scopes)
    if warning:
        log.warning("JupyterHub token of %s %s: %s", owner.kind, owner.name, warning)


def accept_links_finding(settings: Settings) -> Finding:
    """Which accept links invitations carry (bot.app.gate), and why."""
    on, why = settings.accept_gate_mode
    if on:
        return Finding("accept links", True, f"the accept gate: {why}")
    return Finding(
        "accept links",
        True,
        f"the hub's own links: {why}",
        warning=(
            "set SHAREBOT_PUBLIC_URL (sharebot behind the hub's proxy, with the service's "
            "oauth_redirect_uri) so that only the recipient can use her link"
        ),
    )


def run(settings: Settings) -> list[Finding]:
    """Every check, in order: database, Slack, hub."""
    try:
        engine = make_engine(settings.database_url)
    except DatabaseError as err:
        findings = [Finding("database", False, str(err))]
    else:
        try:
            findings = [check_database(engine, auto_migrate=settings.auto_migrate)]
        finally:
            engine.dispose()

    async def remote() -> list[Finding]:
        slack, hub = await asyncio.gather(check_slack(settings), check_hub(settings))
        return slack + hub

    return findings + asyncio.run(remote()) + [accept_links_finding(settings)]
