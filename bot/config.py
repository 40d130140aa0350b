"""Settings, read once from the environment at the edge (``sharebot`` CLI).

Every setting is documented in README.md ("Configuration"); a test keeps the two in step.
"""

from __future__ import annotations

import os
import re
from datetime import time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.domain.digest import WEEKDAYS, Schedule, parse_clock, parse_days
from bot.domain.durations import format_duration, parse_duration
from bot.errors import CommandError, ConfigError

_PLACEHOLDERS = ("changeme", "change-me", "your-", "xxx", "<", "todo", "replace")

# What to put in each variable, shown when it is missing or invalid.
ADVICE: dict[str, str] = {
    "SLACK_BOT_TOKEN": "the Bot User OAuth Token (xoxb-...) from your Slack app's "
    "OAuth & Permissions page",
    "SLACK_SIGNING_SECRET": "the Signing Secret from your Slack app's Basic Information page",
    "SLACK_APP_TOKEN": "an app-level token (xapp-...) with connections:write, or leave it "
    "unset to serve HTTP",
    "SLACK_API_URL": "the Slack Web API base URL, e.g. https://slack.com/api/ (the default)",
    "JUPYTERHUB_API_URL": "the hub's API URL as seen from sharebot, e.g. "
    "http://127.0.0.1:8081/hub/api",
    "JUPYTERHUB_API_TOKEN": "the api_token of the sharebot service in jupyterhub_config.py",
    "JUPYTERHUB_PUBLIC_URL": "the origin people open the hub at in a browser, e.g. "
    "https://hub.example.org",
    "SHAREBOT_DATABASE_URL": "an SQLAlchemy URL, e.g. sqlite:///sharebot.sqlite (the default) "
    "or postgresql+psycopg://user:pass@host/db",
    "SHAREBOT_AUTO_MIGRATE": "true or false (default): upgrade an older schema at start-up",
    "SHAREBOT_HOST": "the address to listen on, e.g. 127.0.0.1 (default) or 0.0.0.0",
    "SHAREBOT_PORT": "a TCP port number, e.g. 8080 (default)",
    "SHAREBOT_SWEEP_INTERVAL": "seconds between background passes, a positive number (default 30)",
    "SHAREBOT_SWEEP_CONCURRENCY": (
        "grants (or owners) a background job handles at once, 1 to 100 (default 10)"
    ),
    "SHAREBOT_WORKER_PROCESS": "true or false (default): do the work in a second process",
    "SHAREBOT_CLAIM_TTL": "seconds a claim on work lasts, a positive number (default 300)",
    "SHAREBOT_MAX_DURATION": "the longest share allowed, a duration like 7d (default) or 12h",
    "SHAREBOT_INVITE_TTL": "how long an accept link stays valid, a duration between 1m and "
    "365d, e.g. 24h (default)",
    "SHAREBOT_PUBLIC_URL": "sharebot's own URL as browsers reach it, e.g. "
    "https://hub.example.org/services/sharebot/ (needed for /share-server link)",
    "JUPYTERHUB_CLIENT_ID": "the OAuth client id of the service, service-<name> "
    "(default service-sharebot)",
    "SHAREBOT_EMAIL_MAPPING": "off (default), email or localpart",
    "SHAREBOT_EMAIL_DOMAINS": "a comma-separated list of email domains, e.g. "
    "example.org,lab.example.org (empty: any)",
    "SHAREBOT_REQUEST_TTL": "how long a request or approval stays open, a duration like "
    "24h (default)",
    "SHAREBOT_APPROVAL_ABOVE": "off (default) or a duration like 1d: longer shares need an "
    "approver",
    "SHAREBOT_APPROVERS": "comma-separated Slack user IDs (U...) and/or user groups "
    "(S... or @handle), e.g. U012AB3CD,@hub-admins",
    "SHAREBOT_ADMINS": "comma-separated Slack user IDs (U...) who may revoke anyone's share, "
    "e.g. U012AB3CD,U045EF6GH (default: nobody)",
    "SHAREBOT_APPROVAL_CHANNEL": "a Slack channel ID (C...) to post approval requests in, "
    "or unset to DM each approver",
    "SHAREBOT_DIGEST_TIME": "the local time of the daily digest, HH:MM like 09:00 (default), "
    "or off",
    "SHAREBOT_DIGEST_DAYS": "the days of the digest, e.g. mon-fri (default), mon,wed,fri or daily",
    "SHAREBOT_TIMEZONE": "an IANA time zone name for the digest time, e.g. Europe/Berlin "
    "(default UTC)",
    "SHAREBOT_STALE_AFTER": "when a share counts as stale, a duration like 7d (default)",
    "SHAREBOT_SNOOZE": "how long Keep hides a share from the digest, a duration like 7d (default)",
    "SHAREBOT_STALE_INACTIVE": "true or false (default): also report shares whose recipient "
    "has not been active for SHAREBOT_STALE_AFTER",
    "SHAREBOT_ADMIN_CHANNEL": "a Slack channel ID (C...) for the daily summary, or unset",
    "SHAREBOT_ALLOW_UNTIL_REVOKED": "true or false (default): allow shares without an end "
    "(until-revoked)",
    "SHAREBOT_RECONCILE_INTERVAL": "how often to compare with the hub's shares, a duration "
    "like 15m (default)",
    "SHAREBOT_REMIND_BEFORE": "how long before the end of a long share to remind owner and "
    "recipient, a duration like 1h (default), or off",
    "SHAREBOT_REMIND_MIN_DURATION": "only shares longer than this get a reminder, a duration "
    "like 1d (default)",
    "SHAREBOT_LOG_FORMAT": "text (default) or json (one JSON object per line)",
}


def _duration(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except CommandError as err:
            raise ValueError(str(err)) from None
    return value


def _not_placeholder(value: SecretStr) -> SecretStr:
    secret = value.get_secret_value().strip()
    if not secret:
        raise ValueError("is empty")
    lowered = secret.lower()
    if any(marker in lowered for marker in _PLACEHOLDERS):
        raise ValueError("looks like a placeholder, not a real secret")
    return value


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
LogFormat = Literal["text", "json"]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
OptionalHttpUrl = Annotated[str | None, AfterValidator(_optional_http_url)]
Duration = Annotated[timedelta, BeforeValidator(_duration)]


class Settings(BaseSettings):
    """All of sharebot's settings. Build with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        case_sensitive=True, extra="ignore", frozen=True, populate_by_name=True
    )

    slack_bot_token: Secret = Field(validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: Secret = Field(validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: HttpUrl = Field(
        default="https://slack.com/api/", validation_alias="SLACK_API_URL"
    )
    jupyterhub_api_url: HttpUrl = Field(validation_alias="JUPYTERHUB_API_URL")
    jupyterhub_api_token: Secret = Field(validation_alias="JUPYTERHUB_API_TOKEN")
    jupyterhub_public_url: HttpUrl = Field(validation_alias="JUPYTERHUB_PUBLIC_URL")
    database_url: str = Field(
        default="sqlite:///sharebot.sqlite", validation_alias="SHAREBOT_DATABASE_URL"
    )
    auto_migrate: bool = Field(default=False, validation_alias="SHAREBOT_AUTO_MIGRATE")
    host: str = Field(default="127.0.0.1", validation_alias="SHAREBOT_HOST")
    port: int = Field(default=8080, ge=1, le=65535, validation_alias="SHAREBOT_PORT")
    sweep_interval: float = Field(default=30.0, gt=0, validation_alias="SHAREBOT_SWEEP_INTERVAL")
    sweep_concurrency: int = Field(
        default=10, ge=1, le=100, validation_alias="SHAREBOT_SWEEP_CONCURRENCY"
    )
    # serve starts a second process for the work; this one only acknowledges (bot.web.worker).
    worker_process: bool = Field(default=False, validation_alias="SHAREBOT_WORKER_PROCESS")
    # Seconds a replica holds a grant or a notice it works on (a dead process's claim is
    # taken over after it); tests of crashes shorten it.
    claim_ttl: float = Field(default=300.0, gt=0, validation_alias="SHAREBOT_CLAIM_TTL")
    max_duration: Annotated[Duration, AfterValidator(_positive_duration)] = Field(
        default=timedelta(days=7), validation_alias="SHAREBOT_MAX_DURATION"
    )
    invite_ttl: Annotated[Duration, AfterValidator(_invite_ttl)] = Field(
        default=timedelta(hours=24), validation_alias="SHAREBOT_INVITE_TTL"
    )

    public_url: OptionalHttpUrl = Field(default=None, validation_alias="SHAREBOT_PUBLIC_URL")
    jupyterhub_client_id: str = Field(
        default="service-sharebot", min_length=1, validation_alias="JUPYTERHUB_CLIENT_ID"
    )
    email_mapping: Literal["off", "email", "localpart"] = Field(
        default="off", validation_alias="SHAREBOT_EMAIL_MAPPING"
    )
    email_domains: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_domains)] = Field(
        default=(), validation_alias="SHAREBOT_EMAIL_DOMAINS"
    )

    request_ttl: Annotated[Duration, AfterValidator(_positive_duration)] = Field(
        default=timedelta(hours=24), validation_alias="SHAREBOT_REQUEST_TTL"
    )
    approval_above: Annotated[timedelta | None, BeforeValidator(_off_or_duration)] = Field(
        default=None, validation_alias="SHAREBOT_APPROVAL_ABOVE"
    )
    approvers: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_approvers)] = Field(
        default=(), validation_alias="SHAREBOT_APPROVERS"
    )
    admins: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_admins)] = Field(
        default=(), validation_alias="SHAREBOT_ADMINS"
    )
    approval_channel: str | None = Field(
        default=None, pattern=r"^[CG][A-Z0-9]+$", validation_alias="SHAREBOT_APPROVAL_CHANNEL"
    )

    digest_time: Annotated[time | None, BeforeValidator(_clock)] = Field(
        default=time(9, 0), validation_alias="SHAREBOT_DIGEST_TIME"
    )
    digest_days: Annotated[frozenset[int], NoDecode, BeforeValidator(_days)] = Field(
        default=WEEKDAYS, validation_alias="SHAREBOT_DIGEST_DAYS"
    )
    timezone: Annotated[str, AfterValidator(_timezone)] = Field(
        default="UTC", validation_alias="SHAREBOT_TIMEZONE"
    )
    stale_after: Annotated[Duration, AfterValidator(_positive_duration)] = Field(
        default=timedelta(days=7), validation_alias="SHAREBOT_STALE_AFTER"
    )
    snooze: Annotated[Duration, AfterValidator(_positive_duration)] = Field(
        default=timedelta(days=7), validation_alias="SHAREBOT_SNOOZE"
    )
    stale_inactive: bool = Field(default=False, validation_alias="SHAREBOT_STALE_INACTIVE")
    admin_channel: str | None = Field(
        default=None, pattern=r"^[CG][A-Z0-9]+$", validation_alias="SHAREBOT_ADMIN_CHANNEL"
    )
    allow_until_revoked: bool = Field(
        default=False, validation_alias="SHAREBOT_ALLOW_UNTIL_REVOKED"
    )
    reconcile_interval: Annotated[Duration, AfterValidator(_positive_duration)] = Field(
        default=timedelta(minutes=15), validation_alias="SHAREBOT_RECONCILE_INTERVAL"
    )
    remind_before: Annotated[timedelta | None, BeforeValidator(_off_or_duration)] = Field(
        default=timedelta(hours=1), validation_alias="SHAREBOT_REMIND_BEFORE"
    )
    remind_min_duration: Annotated[Duration, AfterValidator(_positive_duration)] = Field(
        default=timedelta(days=1), validation_alias="SHAREBOT_REMIND_MIN_DURATION"
    )

    log_format: LogFormat = Field(default="text", validation_alias="SHAREBOT_LOG_FORMAT")

    @model_validator(mode="after")
    def _approvers_when_needed(self) -> Settings:
        if self.approval_above is not None and not self.approvers:
            raise ValueError(
                "SHAREBOT_APPROVERS is not set, but SHAREBOT_APPROVAL_ABOVE needs approvers"
            )
        return self

    @property
    def public_base(self) -> str | None:
        """SHAREBOT_PUBLIC_URL with exactly one trailing slash."""
        return self.public_url.rstrip("/") + "/" if self.public_url else None

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
        return f"{message}: set it to {ADVICE.get(name, 'a valid value')}."
    name = str(first["loc"][0])
    advice = ADVICE.get(name, "a valid value")
    if first["type"] == "missing":
        return f"{name} is not set: set it to {advice}."
    return f"{name} is invalid ({message}): set it to {advice}."


def database_url_from_env() -> str:
    """Only SHAREBOT_DATABASE_URL, for commands that need nothing else (migrate, unlink)."""
    return os.environ.get("SHAREBOT_DATABASE_URL") or str(
        Settings.model_fields["database_url"].default
    )


def log_format_from_env() -> LogFormat:
    """SHAREBOT_LOG_FORMAT alone: logging is set up before (and without) the other settings."""
    value = os.environ.get("SHAREBOT_LOG_FORMAT", "").strip() or "text"
    if value == "text":
        return "text"
    if value == "json":
        return "json"
    raise ConfigError(
        f"SHAREBOT_LOG_FORMAT is invalid ({value!r}): set it to {ADVICE['SHAREBOT_LOG_FORMAT']}."
    )
