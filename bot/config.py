"""Settings, read once from the environment at the edge (``sharebot`` CLI).

Each setting is declared once, as a field of :class:`Settings` made by :func:`setting`: its
environment variable, the section of the reference it belongs to, its default (written as
in the environment), what it means and what to put there. The messages for a missing or
invalid variable and docs/configuration.md (generated with cog: ``cog -r
docs/configuration.md README.md``) are both made from these fields.
"""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.domain.digest import Schedule, parse_clock, parse_days
from bot.domain.durations import format_duration, parse_duration
from bot.domain.grants import ReminderRule
from bot.errors import CommandError, ConfigError


class Section(enum.Enum):
    """The sections of docs/configuration.md, in their order there."""

    SLACK = "Slack"
    HUB = "JupyterHub"
    RUNNING = "Running sharebot"
    BACKGROUND = "Background work"
    SHARES = "Shares"
    LINKING = "Linking accounts"
    DECISIONS = "Requests and approvals"
    DIGEST = "The digest"


def setting(
    env: str,
    section: Section,
    *,
    meaning: str,
    advice: str,
    default: Any = PydanticUndefined,
    **constraints: Any,
) -> Any:
    """A field of :class:`Settings`, read from the variable ``env``.

    ``meaning`` is the reference's text (Markdown); ``advice`` says what to put there and
    follows "set it to" when the variable is missing or invalid. ``default`` is written as
    in the environment and validated like it; without one the setting is required.
    ``constraints`` go to pydantic's ``Field`` (``ge``, ``pattern``, ...).
    """
    return Field(
        default,
        validation_alias=env,
        description=meaning,
        json_schema_extra={"section": section.value, "advice": advice},
        **constraints,
    )


_PLACEHOLDERS = ("changeme", "change-me", "your-", "xxx", "<", "todo", "replace")


def _duration(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except CommandError as err:
            raise ValueError(str(err)) from None
    return value


def _not_placeholder(value: SecretStr) -> SecretStr:
    """A secret without surrounding blanks; never one in quotes or a documentation placeholder.
    The messages never repeat the secret."""
    secret = value.get_secret_value().strip()
    if not secret:
        raise ValueError("is empty")
    if len(secret) >= 2 and secret[0] == secret[-1] and secret[0] in "'\"":
        raise ValueError("is wrapped in quotes: remove the quotes")
    if "..." in secret:
        raise ValueError("is the placeholder from the docs (it contains ...), not the real value")
    lowered = secret.lower()
    if any(marker in lowered for marker in _PLACEHOLDERS):
        raise ValueError("looks like a placeholder, not a real secret")
    return SecretStr(secret)


#: A bot token as Slack issues it (``xoxe.xoxb-`` with token rotation): letters, digits and
#: dashes, some 50 of them (at least 20 here, well below any Slack has issued).
_BOT_TOKEN = re.compile(r"(xoxe\.)?xoxb-[0-9A-Za-z-]{15,}")


def _bot_token(value: SecretStr) -> SecretStr:
    token = value.get_secret_value()
    if token.startswith("xoxp-"):
        raise ValueError(
            "is a user token (xoxp-...): sharebot needs the bot token (xoxb-...) from the same page"
        )
    if token.startswith("xapp-"):
        raise ValueError("is an app-level token (xapp-...), which goes in SLACK_APP_TOKEN")
    if not token.startswith(("xoxb-", "xoxe.xoxb-")):
        raise ValueError("is not a bot token: those start with xoxb-")
    if not _BOT_TOKEN.fullmatch(token):
        raise ValueError("is not a whole bot token (too short, or with characters tokens lack)")
    return value


def _bearer_token(value: SecretStr | None) -> SecretStr | None:
    if value is None or not value.get_secret_value():
        return None
    token = value.get_secret_value()
    if len(token) < 16 or any(c.isspace() for c in token):
        raise ValueError("must be at least 16 characters, without spaces")
    return value


def _signing_secret(value: SecretStr) -> SecretStr:
    if not re.fullmatch(r"[0-9a-f]{32}", value.get_secret_value()):
        raise ValueError(
            "is not 32 lowercase hexadecimal characters, as Slack's signing secrets are"
        )
    return value


#: SQLAlchemy URL schemes sharebot runs on: its dialect, then the drivers it knows (""
#: is SQLAlchemy's default driver of the dialect).
_DATABASES = {"sqlite": ("", "pysqlite"), "postgresql": ("", "psycopg", "psycopg2")}
_POSTGRESQL_EXAMPLE = "postgresql+psycopg://user:password@host/db"


def _database_url(value: str) -> str:
    """The shape of SHAREBOT_DATABASE_URL: a database sharebot supports, with a driver it
    can use. (Whether the database can be opened is the store's to say.)"""
    url = value.strip()
    scheme, sep, _rest = url.partition("://")
    if not sep:
        if url and not any(c in url for c in ":@"):  # a file name: never echo a password
            raise ValueError(
                f"has no scheme: for an SQLite file write sqlite:///{url} (three slashes, then "
                "the path; an absolute path makes four)"
            )
        raise ValueError("has no scheme (like sqlite:/// or postgresql+psycopg://)")
    dialect, _, driver = scheme.lower().partition("+")
    if dialect == "postgres":
        raise ValueError(f"postgres:// is not an SQLAlchemy URL: write {_POSTGRESQL_EXAMPLE}")
    if dialect not in _DATABASES:
        raise ValueError(
            f"{scheme}:// is not a database sharebot supports: it runs on SQLite "
            f"(sqlite:///sharebot.sqlite) and PostgreSQL ({_POSTGRESQL_EXAMPLE})"
        )
    if driver not in _DATABASES[dialect]:
        example = "sqlite:///sharebot.sqlite" if dialect == "sqlite" else _POSTGRESQL_EXAMPLE
        raise ValueError(f"sharebot cannot use the driver {driver!r}: write {example}")
    return url


def _http_url(value: str) -> str:
    value = value.strip()
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value


def _invite_ttl(value: timedelta) -> timedelta:
    if not timedelta(minutes=1) <= value <= timedelta(days=365):
        raise ValueError(f"{format_duration(value)} is outside 1m..365d (the hub's limits)")
    return value


def _positive_duration(value: timedelta) -> timedelta:
    if value < timedelta(minutes=1):
        raise ValueError("must be at least 1m")
    return value


def _optional_http_url(value: str | None) -> str | None:
    return _http_url(value) if value else None


def _domains(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(d.strip().lower().lstrip("@") for d in value.split(",") if d.strip())
    return value


def _off_or_duration(value: Any) -> Any:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "off")):
        return None
    return _duration(value)


def _off_or_fraction(value: Any) -> Any:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "off")):
        return None
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number like 0.1") from None
    if not 0 < fraction <= 1:
        raise ValueError(f"{value!r} is not above 0 and at most 1")
    return fraction


def _approvers(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    entries = tuple(v.strip() for v in value.split(",") if v.strip())
    for entry in entries:
        if not re.fullmatch(r"[UWS][A-Z0-9]+|@[a-z0-9._-]+", entry):
            raise ValueError(f"{entry!r} is neither a user ID, a group ID nor an @handle")
    return entries


def _admins(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    entries = tuple(v.strip() for v in value.split(",") if v.strip())
    for entry in entries:
        if not re.fullmatch(r"[UW][A-Z0-9]+", entry):
            raise ValueError(f"{entry!r} is not a Slack user ID (groups are not accepted here)")
    return entries


def _clock(value: Any) -> Any:
    return parse_clock(value) if isinstance(value, str) else value


def _days(value: Any) -> Any:
    return parse_days(value) if isinstance(value, str) else value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known time zone") from None
    return value.strip()


Secret = Annotated[SecretStr, AfterValidator(_not_placeholder)]
BotToken = Annotated[Secret, AfterValidator(_bot_token)]
SigningSecret = Annotated[Secret, AfterValidator(_signing_secret)]
DatabaseUrl = Annotated[str, AfterValidator(_database_url)]
LogFormat = Literal["text", "json"]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
OptionalHttpUrl = Annotated[str | None, AfterValidator(_optional_http_url)]
Duration = Annotated[timedelta, BeforeValidator(_duration)]


class Settings(BaseSettings):
    """All of sharebot's settings. Build with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        case_sensitive=True,
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        validate_default=True,
    )

    slack_bot_token: BotToken = setting(
        "SLACK_BOT_TOKEN",
        Section.SLACK,
        meaning=(
            "Bot User OAuth Token (`xoxb-` and some 50 letters, digits and dashes), from your "
            "Slack app's *OAuth & Permissions* page. Refused: the placeholder `xoxb-...`, a user "
            "token (`xoxp-`), an app token (`xapp-`), a value in quotes."
        ),
        advice=(
            "the Bot User OAuth Token (xoxb-...) from your Slack app's OAuth & Permissions page"
        ),
    )
    slack_signing_secret: SigningSecret = setting(
        "SLACK_SIGNING_SECRET",
        Section.SLACK,
        meaning=(
            "Signing Secret from the app's *Basic Information* page (32 lowercase hexadecimal "
            "characters, without quotes); every request from Slack is verified with it (forged "
            "or stale requests get 401)."
        ),
        advice="the Signing Secret from your Slack app's Basic Information page",
    )
    slack_app_token: SecretStr | None = setting(
        "SLACK_APP_TOKEN",
        Section.SLACK,
        default=None,
        meaning=(
            "App-level token (`xapp-...`, scope `connections:write`). When set, sharebot connects "
            "to Slack in Socket Mode and needs no public URL (for hubs behind a firewall)."
        ),
        advice=(
            "an app-level token (xapp-...) with connections:write, or leave it unset to serve HTTP"
        ),
    )
    slack_api_url: HttpUrl = setting(
        "SLACK_API_URL",
        Section.SLACK,
        default="https://slack.com/api/",
        meaning=(
            "Base URL of the Slack Web API. Change it for GovSlack (`https://slack-gov.com/api/`) "
            "or to point at a test double."
        ),
        advice="the Slack Web API base URL, e.g. https://slack.com/api/ (the default)",
    )
    jupyterhub_api_url: HttpUrl = setting(
        "JUPYTERHUB_API_URL",
        Section.HUB,
        meaning=(
            "The hub's API as sharebot reaches it, e.g. `http://127.0.0.1:8081/hub/api`. Set "
            "automatically for hub-managed services."
        ),
        advice="the hub's API URL as seen from sharebot, e.g. http://127.0.0.1:8081/hub/api",
    )
    jupyterhub_api_token: Secret = setting(
        "JUPYTERHUB_API_TOKEN",
        Section.HUB,
        meaning=(
            "The `api_token` of the `sharebot` service in `jupyterhub_config.py`. Set "
            "automatically for hub-managed services."
        ),
        advice="the api_token of the sharebot service in jupyterhub_config.py",
    )
    jupyterhub_public_url: HttpUrl = setting(
        "JUPYTERHUB_PUBLIC_URL",
        Section.HUB,
        meaning=(
            "The origin people open the hub at in a browser, e.g. `https://hub.example.org`. "
            "Accept links are built on it (unless the hub sets `c.JupyterHub.public_url`, in "
            "which case the hub's full link is used)."
        ),
        advice="the origin people open the hub at in a browser, e.g. https://hub.example.org",
    )
    database_url: DatabaseUrl = setting(
        "SHAREBOT_DATABASE_URL",
        Section.RUNNING,
        default="sqlite:///sharebot.sqlite",
        meaning=(
            "SQLAlchemy URL of the database. SQLite by default (WAL mode, one host; the file's "
            "folder must exist and be writable); PostgreSQL "
            "(`postgresql+psycopg://user:password@host/db`, `pip install 'sharebot[postgresql]'`) "
            "for several replicas. Other databases, `postgres://` and a path without `sqlite:///` "
            "are refused with what to write."
        ),
        advice=(
            "an SQLAlchemy URL, e.g. sqlite:///sharebot.sqlite (the default) or "
            "postgresql+psycopg://user:pass@host/db"
        ),
    )
    auto_migrate: bool = setting(
        "SHAREBOT_AUTO_MIGRATE",
        Section.RUNNING,
        default=False,
        meaning=(
            "`true`: `sharebot serve` upgrades an older schema at start-up (an SQLite file is "
            "backed up beside itself first). Off, it refuses to start and asks for `sharebot "
            "migrate`. An empty database is always created. Safe with several replicas starting "
            "at once."
        ),
        advice="true or false (default): upgrade an older schema at start-up",
    )
    host: str = setting(
        "SHAREBOT_HOST",
        Section.RUNNING,
        default="127.0.0.1",
        meaning="Address the HTTP server listens on. Use `0.0.0.0` in a container.",
        advice="the address to listen on, e.g. 127.0.0.1 (default) or 0.0.0.0",
    )
    port: int = setting(
        "SHAREBOT_PORT",
        Section.RUNNING,
        default=8080,
        ge=1,
        le=65535,
        meaning="Port of the HTTP server (`/slack/events`, `/healthz`).",
        advice="a TCP port number, e.g. 8080 (default)",
    )
    sweep_interval: float = setting(
        "SHAREBOT_SWEEP_INTERVAL",
        Section.BACKGROUND,
        default=30.0,
        gt=0,
        meaning=(
            "Seconds between background passes (acceptances, expiries, retries). A pass also "
            "comes just after the next deadline when that is sooner, so access ends within a "
            "second of it."
        ),
        advice="seconds between background passes, a positive number (default 30)",
    )
    sweep_concurrency: int = setting(
        "SHAREBOT_SWEEP_CONCURRENCY",
        Section.BACKGROUND,
        default=10,
        ge=1,
        le=100,
        meaning=(
            "How many due grants a pass ends at once, and how many owners reconciliation and the "
            "digest handle at once (1 to 100): their hub and Slack calls overlap. The hub serves "
            "its API from one process, so more than about 10 gains little."
        ),
        advice="grants (or owners) a background job handles at once, 1 to 100 (default 10)",
    )
    # serve starts a second process for the work; this one only acknowledges (bot.web.worker).
    worker_process: bool = setting(
        "SHAREBOT_WORKER_PROCESS",
        Section.RUNNING,
        default=False,
        meaning=(
            "`true`: `sharebot serve` starts a second process, `sharebot worker`, that does the "
            "work of every command, click and Home tab, and the background jobs; the web process "
            "only checks signatures and acknowledges Slack, so acks never wait for the CPU behind "
            "a share's database writes and hub calls (see [Performance](performance.md)). They "
            "talk over a Unix socket in a private temporary directory. A worker that dies is "
            "started again within seconds, and meanwhile the web process does the work itself; a "
            "worker whose `serve` was killed stops by itself. Costs one more Python process "
            "(about 100 MiB). Recommended for busy hubs."
        ),
        advice="true or false (default): do the work in a second process",
    )
    # Seconds a replica holds a grant or a notice it works on (a dead process's claim is
    # taken over after it); tests of crashes shorten it.
    claim_ttl: float = setting(
        "SHAREBOT_CLAIM_TTL",
        Section.BACKGROUND,
        default=300.0,
        gt=0,
        meaning=(
            "Seconds a replica holds a grant or an outgoing message it works on. Work a killed "
            "process held is taken over once its claim has run out (see "
            "[Reliability](operations.md#reliability-the-outbox-crashes-hub-outages))."
        ),
        advice="seconds a claim on work lasts, a positive number (default 300)",
    )
    max_duration: Annotated[Duration, AfterValidator(_positive_duration)] = setting(
        "SHAREBOT_MAX_DURATION",
        Section.SHARES,
        default="7d",
        meaning="The longest share anyone may ask for.",
        advice="the longest share allowed, a duration like 7d (default) or 12h",
    )
    max_recipients: int = setting(
        "SHAREBOT_MAX_RECIPIENTS",
        Section.SHARES,
        default=200,
        ge=1,
        le=10_000,
        meaning=(
            "The most people one share may reach once the Slack user groups it names are "
            "expanded into their members (`/share-server @course-tas 2h`); a share over it is "
            "refused with a reply that says so, before anything is shared. Each member counts "
            "against `SHAREBOT_RATE_LIMIT_PER_MINUTE` too: raise that to share with large groups."
        ),
        advice="the most people one share may reach (default 200)",
    )
    rate_limit_per_minute: int = setting(
        "SHAREBOT_RATE_LIMIT_PER_MINUTE",
        Section.SHARES,
        default=30,
        ge=0,
        le=100_000,
        meaning=(
            "How many invitations and requests one person may send a minute (each person "
            "invited counts, and each request or approval asked for), so that nobody floods "
            "colleagues' DMs through sharebot. Counted in the database, so replicas share the "
            "count. `0`: no limit."
        ),
        advice="invitations and requests a person may send a minute, 0 for no limit (default 30)",
    )
    invite_ttl: Annotated[Duration, AfterValidator(_invite_ttl)] = setting(
        "SHAREBOT_INVITE_TTL",
        Section.SHARES,
        default="24h",
        meaning=(
            "How long an accept link stays valid (1m to 365d, the hub's limits). Access only "
            "starts when the link is used."
        ),
        advice=(
            "how long an accept link stays valid, a duration between 1m and 365d, e.g. 24h "
            "(default)"
        ),
    )

    public_url: OptionalHttpUrl = setting(
        "SHAREBOT_PUBLIC_URL",
        Section.LINKING,
        default=None,
        meaning=(
            "sharebot's own URL as browsers reach it, e.g. "
            "`https://hub.example.org/services/sharebot/` behind the hub's proxy. Needed for "
            "`/share-server link`; the OAuth redirect URI is this plus `oauth_callback`. Pages "
            "are served under its path as well as at `/`."
        ),
        advice=(
            "sharebot's own URL as browsers reach it, e.g. "
            "https://hub.example.org/services/sharebot/ (needed for /share-server link)"
        ),
    )
    accept_gate: Literal["auto", "off"] = setting(
        "SHAREBOT_ACCEPT_GATE",
        Section.LINKING,
        default="auto",
        meaning=(
            "`auto`: when `SHAREBOT_PUBLIC_URL` is set, an invitation's *Accept and open* button "
            "opens sharebot's accept page, which lets only the invitation's recipient (signed in "
            "through the hub's OAuth) through to the hub's accept page, and learns of the "
            "acceptance at once. `off`: the button carries the hub's own accept link (anyone "
            "who gets it can use it until sharebot sees the use; misuse detection is the "
            "guard). `sharebot check` and the start-up log say which is on."
        ),
        advice="auto (default: the accept gate when SHAREBOT_PUBLIC_URL is set) or off",
    )
    jupyterhub_client_id: str = setting(
        "JUPYTERHUB_CLIENT_ID",
        Section.LINKING,
        default="service-sharebot",
        min_length=1,
        meaning=(
            "OAuth client id of the service (`service-<name>`; set automatically for hub-managed "
            "services)."
        ),
        advice="the OAuth client id of the service, service-<name> (default service-sharebot)",
    )
    email_mapping: Literal["off", "email", "localpart"] = setting(
        "SHAREBOT_EMAIL_MAPPING",
        Section.LINKING,
        default="off",
        meaning=(
            "Link people automatically by their Slack email: `off`, `email` (the hub username is "
            "the whole email) or `localpart` (the part before `@`). Only confirmed emails of full "
            "members of this workspace count (no bots, deactivated users, guests or people from "
            "other workspaces), the hub user must exist and must not be linked to someone else. "
            "Trade-off: convenient on hubs whose usernames come from the same identity provider "
            "as Slack; unsafe when Slack emails and hub usernames are managed separately, because "
            "whoever controls a matching Slack email gets that hub identity in sharebot. Needs "
            "the `users:read.email` scope."
        ),
        advice="off (default), email or localpart",
    )
    email_domains: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_domains)] = setting(
        "SHAREBOT_EMAIL_DOMAINS",
        Section.LINKING,
        default="",
        meaning=(
            "Comma-separated email domains that email mapping accepts, e.g. "
            "`example.org,lab.example.org`. Strongly recommended with `localpart`."
        ),
        advice=(
            "a comma-separated list of email domains, e.g. example.org,lab.example.org (empty: any)"
        ),
    )

    request_ttl: Annotated[Duration, AfterValidator(_positive_duration)] = setting(
        "SHAREBOT_REQUEST_TTL",
        Section.DECISIONS,
        default="24h",
        meaning=(
            "How long a request or an approval waits for a decision. Then its buttons are removed "
            "and the requester is told."
        ),
        advice="how long a request or approval stays open, a duration like 24h (default)",
    )
    approval_above: Annotated[timedelta | None, BeforeValidator(_off_or_duration)] = setting(
        "SHAREBOT_APPROVAL_ABOVE",
        Section.DECISIONS,
        default="off",
        meaning=(
            "Shares longer than this duration (e.g. `1d`) need an approver besides the owner. "
            "`off`: duration never does. `manage` shares always do."
        ),
        advice="off (default) or a duration like 1d: longer shares need an approver",
    )
    approval_for_groups: bool = setting(
        "SHAREBOT_APPROVAL_FOR_GROUPS",
        Section.DECISIONS,
        default=False,
        meaning=(
            "`true`: every share with a hub group (`/share-server group:physics-101 2h`) needs "
            "an approver besides the owner, under the same rules as the other approvals "
            "(`SHAREBOT_APPROVERS`)."
        ),
        advice="true or false (default): hub group shares need an approver",
    )
    approvers: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_approvers)] = setting(
        "SHAREBOT_APPROVERS",
        Section.DECISIONS,
        default="",
        meaning=(
            "Who may approve: Slack user IDs (`U...`), user group IDs (`S...`) or group handles "
            "(`@hub-admins`), comma-separated. Required when `SHAREBOT_APPROVAL_ABOVE` is set. "
            "Nobody approves their own share. Groups need the `usergroups:read` scope."
        ),
        advice=(
            "comma-separated Slack user IDs (U...) and/or user groups (S... or @handle), e.g. "
            "U012AB3CD,@hub-admins"
        ),
    )
    admins: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_admins)] = setting(
        "SHAREBOT_ADMINS",
        Section.SHARES,
        default="",
        meaning=(
            "Slack user IDs (`U...`), comma-separated, who see every open share in an *All "
            "shares* section of their Home tab and may revoke anyone's share with its Revoke "
            "button (there, on the owner's Home tab or a forwarded message); the owner is told "
            "who did it and the audit log names the admin. Admins do not approve unless they "
            "are also in `SHAREBOT_APPROVERS`."
        ),
        advice=(
            "comma-separated Slack user IDs (U...) who may revoke anyone's share, e.g. "
            "U012AB3CD,U045EF6GH (default: nobody)"
        ),
    )
    approval_channel: str | None = setting(
        "SHAREBOT_APPROVAL_CHANNEL",
        Section.DECISIONS,
        default=None,
        pattern=r"^[CG][A-Z0-9]+$",
        meaning=(
            "Channel ID (`C...`) where approval requests are posted (invite the bot there). "
            "Unset: each approver gets a DM."
        ),
        advice=(
            "a Slack channel ID (C...) to post approval requests in, or unset to DM each approver"
        ),
    )

    digest_time: Annotated[time | None, BeforeValidator(_clock)] = setting(
        "SHAREBOT_DIGEST_TIME",
        Section.DIGEST,
        default="09:00",
        meaning=(
            "Local time (`HH:MM`, 24h) of the daily digest of stale shares, in "
            "`SHAREBOT_TIMEZONE`. `off`: no scheduled digest (`sharebot digest --now` still "
            "works)."
        ),
        advice="the local time of the daily digest, HH:MM like 09:00 (default), or off",
    )
    digest_days: Annotated[frozenset[int], NoDecode, BeforeValidator(_days)] = setting(
        "SHAREBOT_DIGEST_DAYS",
        Section.DIGEST,
        default="mon-fri",
        meaning=(
            "Days of the digest: a range (`mon-fri`, `sat-sun`), a list (`mon,wed,fri`) or `daily`."
        ),
        advice="the days of the digest, e.g. mon-fri (default), mon,wed,fri or daily",
    )
    timezone: Annotated[str, AfterValidator(_timezone)] = setting(
        "SHAREBOT_TIMEZONE",
        Section.DIGEST,
        default="UTC",
        meaning=(
            'IANA time zone of `SHAREBOT_DIGEST_TIME` and of "once per day", e.g. `Europe/Berlin`.'
        ),
        advice="an IANA time zone name for the digest time, e.g. Europe/Berlin (default UTC)",
    )
    stale_after: Annotated[Duration, AfterValidator(_positive_duration)] = setting(
        "SHAREBOT_STALE_AFTER",
        Section.DIGEST,
        default="7d",
        meaning=(
            "External shares older than this are stale; with `SHAREBOT_STALE_INACTIVE`, so are "
            "shares whose recipient has been inactive this long."
        ),
        advice="when a share counts as stale, a duration like 7d (default)",
    )
    snooze: Annotated[Duration, AfterValidator(_positive_duration)] = setting(
        "SHAREBOT_SNOOZE",
        Section.DIGEST,
        default="7d",
        meaning="How long *Keep* in the digest hides a share from it.",
        advice="how long Keep hides a share from the digest, a duration like 7d (default)",
    )
    stale_inactive: bool = setting(
        "SHAREBOT_STALE_INACTIVE",
        Section.DIGEST,
        default=False,
        meaning=(
            "`true`: also report shares whose recipient has not been active in the hub for "
            "`SHAREBOT_STALE_AFTER` (needs the `read:users:activity` scope; unknown activity "
            "never counts)."
        ),
        advice=(
            "true or false (default): also report shares whose recipient has not been active for "
            "SHAREBOT_STALE_AFTER"
        ),
    )
    admin_channel: str | None = setting(
        "SHAREBOT_ADMIN_CHANNEL",
        Section.DIGEST,
        default=None,
        pattern=r"^[CG][A-Z0-9]+$",
        meaning=(
            "Channel ID (`C...`) for a daily summary of stale shares: counts per owner and the "
            "oldest shares. Invite the bot there."
        ),
        advice="a Slack channel ID (C...) for the daily summary, or unset",
    )
    allow_until_revoked: bool = setting(
        "SHAREBOT_ALLOW_UNTIL_REVOKED",
        Section.SHARES,
        default=False,
        meaning=(
            "`true`: `until-revoked` is accepted as a duration (a share without an end, listed in "
            "every digest until revoked or kept). Such shares always need an approver when "
            "`SHAREBOT_APPROVAL_ABOVE` is set."
        ),
        advice="true or false (default): allow shares without an end (until-revoked)",
    )
    reconcile_interval: Annotated[Duration, AfterValidator(_positive_duration)] = setting(
        "SHAREBOT_RECONCILE_INTERVAL",
        Section.BACKGROUND,
        default="15m",
        meaning=(
            "How often sharebot compares its grants with the hub's shares (and before each digest)."
        ),
        advice="how often to compare with the hub's shares, a duration like 15m (default)",
    )
    remind_fraction: Annotated[float | None, BeforeValidator(_off_or_fraction)] = setting(
        "SHAREBOT_REMIND_FRACTION",
        Section.SHARES,
        default="0.1",
        meaning=(
            "Every share with an end gets a reminder before it ends, this fraction of its "
            "length ahead (a tenth: 12m before the end of a 2h share), within "
            "`SHAREBOT_REMIND_MIN_LEAD` and `SHAREBOT_REMIND_MAX_LEAD`. The owner's has "
            "*Extend*, the recipient's *Ask for more time*. Counted again from an extension "
            "to the new end; a change applies to shares accepted or extended after it. "
            "`off`: no reminders."
        ),
        advice=(
            "how far ahead of the end to remind, as a fraction of the share's length above 0 "
            "and at most 1, like 0.1 (default), or off"
        ),
    )
    remind_min_lead: Annotated[Duration, AfterValidator(_positive_duration)] = setting(
        "SHAREBOT_REMIND_MIN_LEAD",
        Section.SHARES,
        default="5m",
        meaning=(
            "A reminder comes at least this long before the end (a share shorter than this "
            "is announced as soon as it is accepted)."
        ),
        advice="the shortest time between a reminder and the end, a duration like 5m (default)",
    )
    remind_max_lead: Annotated[Duration, AfterValidator(_positive_duration)] = setting(
        "SHAREBOT_REMIND_MAX_LEAD",
        Section.SHARES,
        default="1d",
        meaning="A reminder comes at most this long before the end.",
        advice="the longest time between a reminder and the end, a duration like 1d (default)",
    )

    metrics_token: Annotated[SecretStr | None, AfterValidator(_bearer_token)] = setting(
        "SHAREBOT_METRICS_TOKEN",
        Section.RUNNING,
        default=None,
        meaning=(
            "When set, `GET /metrics` answers only requests with `Authorization: Bearer "
            "<token>` (401 otherwise); give Prometheus the same value (`authorization: "
            "{credentials: ...}` in its scrape config). Unset, `/metrics` is open to whoever "
            "can reach sharebot, e.g. through the hub's proxy."
        ),
        advice=(
            "a long random string, e.g. from `openssl rand -hex 32`, that Prometheus sends as a "
            "bearer token, or leave it unset"
        ),
    )
    log_format: LogFormat = setting(
        "SHAREBOT_LOG_FORMAT",
        Section.RUNNING,
        default="text",
        meaning=(
            "`text`: one readable line per event. `json`: one JSON object per line on stderr "
            "(`time` in ISO 8601 UTC, `level`, `logger`, `message`, `exc_info` for errors), for "
            "log collectors. Applies to every command."
        ),
        advice="text (default) or json (one JSON object per line)",
    )

    @model_validator(mode="after")
    def _localpart_needs_domains(self) -> Settings:
        if self.email_mapping == "localpart" and not self.email_domains:
            raise ValueError(
                "SHAREBOT_EMAIL_MAPPING=localpart needs SHAREBOT_EMAIL_DOMAINS: without it, "
                "anyone whose Slack email has the right part before @ at any domain would get "
                "that hub identity; set the domains your hub's usernames come from"
            )
        return self

    @model_validator(mode="after")
    def _reminder_leads_in_order(self) -> Settings:
        if self.remind_min_lead > self.remind_max_lead:
            raise ValueError(
                "SHAREBOT_REMIND_MIN_LEAD is longer than SHAREBOT_REMIND_MAX_LEAD: a reminder "
                "cannot come both at least and at most that long before the end"
            )
        return self

    @model_validator(mode="after")
    def _approvers_when_needed(self) -> Settings:
        if self.approval_above is not None and not self.approvers:
            raise ValueError(
                "SHAREBOT_APPROVERS is not set, but SHAREBOT_APPROVAL_ABOVE needs approvers"
            )
        return self

    @property
    def reminder_rule(self) -> ReminderRule | None:
        """When shares are announced before their end; None: never."""
        if self.remind_fraction is None:
            return None
        return ReminderRule(self.remind_fraction, self.remind_min_lead, self.remind_max_lead)

    @property
    def public_base(self) -> str | None:
        """SHAREBOT_PUBLIC_URL with exactly one trailing slash."""
        return self.public_url.rstrip("/") + "/" if self.public_url else None

    @property
    def accept_gate_mode(self) -> tuple[bool, str]:
        """Whether invitations go through the accept gate, and why (for check and the log)."""
        if self.accept_gate == "off":
            return False, "SHAREBOT_ACCEPT_GATE=off: the DM carries the hub's accept link"
        if self.public_base is None:
            return False, (
                "SHAREBOT_PUBLIC_URL is unset, so sharebot's pages cannot be reached: the DM "
                "carries the hub's accept link and misuse detection is the guard"
            )
        return True, (
            f"the DM's button opens {self.public_base}accept/…, which lets only the recipient "
            "through (the hub's OAuth says who clicks)"
        )

    @property
    def oauth_redirect_uri(self) -> str | None:
        base = self.public_base
        return f"{base}oauth_callback" if base else None

    @property
    def slack_api_base(self) -> str:
        """SLACK_API_URL with the trailing slash slack_sdk expects."""
        return self.slack_api_url.rstrip("/") + "/"

    @property
    def digest_schedule(self) -> Schedule:
        return Schedule(self.digest_time, self.digest_days, ZoneInfo(self.timezone))

    @property
    def hub_api_base(self) -> str:
        return self.jupyterhub_api_url.rstrip("/")

    @property
    def hub_public_origin(self) -> str:
        return self.jupyterhub_public_url.rstrip("/")

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None


def env_names() -> list[str]:
    """Every environment variable sharebot reads."""
    return [str(field.validation_alias) for field in Settings.model_fields.values()]


@dataclass(frozen=True)
class SettingDoc:
    """What :func:`setting` declared about one variable."""

    env: str
    section: Section
    meaning: str
    advice: str
    required: bool
    #: The default as written in the environment ("" for empty), or None: unset or required.
    default: str | None


def setting_docs() -> list[SettingDoc]:
    """Every setting's documentation, in the order of :class:`Settings`."""
    return [_doc(field) for field in Settings.model_fields.values()]


def _doc(field: FieldInfo) -> SettingDoc:
    extra = field.json_schema_extra
    if not isinstance(extra, dict):
        raise TypeError(f"{field.validation_alias} is not declared with setting()")
    return SettingDoc(
        env=str(field.validation_alias),
        section=Section(extra["section"]),
        meaning=str(field.description),
        advice=str(extra["advice"]),
        required=field.is_required(),
        default=None if field.is_required() else _as_written(field.default),
    )


def _as_written(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return None if value is None else str(value)


def advice_for(env: str) -> str:
    """What to put in ``env``, for messages that end in "set it to ..."."""
    for doc in setting_docs():
        if doc.env == env:
            return doc.advice
    return "a valid value"


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; raise ConfigError naming the first bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as err:
        raise ConfigError(_describe(err)) from None


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    if not first["loc"]:  # a rule across settings: the message names the variable
        name = message.split(" ", 1)[0]
        return f"{message}: set it to {advice_for(name)}."
    name = str(first["loc"][0])
    if first["type"] == "missing":
        return f"{name} is not set: set it to {advice_for(name)}."
    return f"{name} is invalid ({message}): set it to {advice_for(name)}."


# -- the reference, generated into docs/configuration.md and README.md by cog ----------------


def _shown(doc: SettingDoc) -> str:
    if doc.required:
        return "required"
    if doc.default is None:
        return "unset"
    return f"`{doc.default}`" if doc.default else "empty"


def _text(plain: str) -> str:
    """Plain text as Markdown shows it (``service-<name>`` is not an HTML tag)."""
    return plain.replace("<", "&lt;").replace(">", "&gt;")


def _anchor(env: str) -> str:
    return env.lower()  # GitHub's id for the heading "### `ENV`"


def reference() -> str:
    """docs/configuration.md's generated part: an index, then each section's settings."""
    order = list(Section)
    docs = sorted(setting_docs(), key=lambda d: order.index(d.section))
    lines = ["| variable | default | section |", "|---|---|---|"]
    lines += [f"| [`{d.env}`](#{_anchor(d.env)}) | {_shown(d)} | {d.section.value} |" for d in docs]
    for section in Section:
        lines += ["", f"## {section.value}"]
        for d in (d for d in docs if d.section is section):  # in the order of Settings
            default = "Required." if d.required else f"Default: {_shown(d)}."
            lines += ["", f"### `{d.env}`", "", f"{default} {d.meaning}", ""]
            lines.append(f"Set it to {_text(d.advice)}.")
    return "\n".join(lines) + "\n"


def required_table() -> str:
    """README.md's table of the settings that have no default."""
    lines = ["| variable | meaning |", "|---|---|"]
    for d in setting_docs():
        if d.required:
            meaning = re.sub(r"\]\((?!https?:|#)", "](docs/", d.meaning)
            lines.append(f"| `{d.env}` | {meaning} |")
    return "\n".join(lines) + "\n"


#: The file of settings every ``sharebot`` command reads from its working directory.
ENV_FILE = "sharebot.env"


def load_env_file(path: Path = Path(ENV_FILE)) -> bool:
    """Put the ``KEY=value`` lines of ``path`` (``./sharebot.env``) into the environment,
    each unless the environment has that variable already (it wins over the file). Quotes
    around a value and ``#`` comments are read as a shell reads them. False without the file.
    """
    if not path.is_file():
        return False
    try:
        values = dotenv_values(path)
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"cannot read {path} ({err.__class__.__name__}): make it readable by the user "
            "sharebot runs as, or remove it and set the settings in the environment"
        ) from None
    for key, value in values.items():
        if value is not None:
            os.environ.setdefault(key, value)
    return True


def database_url_from_env() -> str:
    """Only SHAREBOT_DATABASE_URL, for commands that need nothing else (migrate, unlink),
    checked like :class:`Settings` checks it."""
    value = os.environ.get("SHAREBOT_DATABASE_URL") or str(
        Settings.model_fields["database_url"].default
    )
    try:
        return _database_url(value)
    except ValueError as err:
        advice = advice_for("SHAREBOT_DATABASE_URL")
        raise ConfigError(
            f"SHAREBOT_DATABASE_URL is invalid ({err}): set it to {advice}."
        ) from None


def log_format_from_env() -> LogFormat:
    """SHAREBOT_LOG_FORMAT alone: logging is set up before (and without) the other settings."""
    value = os.environ.get("SHAREBOT_LOG_FORMAT", "").strip() or "text"
    if value == "text":
        return "text"
    if value == "json":
        return "json"
    advice = advice_for("SHAREBOT_LOG_FORMAT")
    raise ConfigError(f"SHAREBOT_LOG_FORMAT is invalid ({value!r}): set it to {advice}.")
