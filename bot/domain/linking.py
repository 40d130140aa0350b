"""Self-service account linking, the pure parts: secrets, PKCE, steps, email mapping."""

from __future__ import annotations

import base64
import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

LINK_TTL = timedelta(minutes=10)


class FlowStep(enum.StrEnum):
    ISSUED = "issued"  # the one-time link was posted in Slack
    AUTHORIZING = "authorizing"  # the browser went to the hub's OAuth
    CONFIRMING = "confirming"  # the hub said who it is; waiting for the confirmation POST
    DONE = "done"
    FAILED = "failed"


def new_secret() -> str:
    """A URL-safe random token (256 bits)."""
    return secrets.token_urlsafe(32)


def sha256_hex(secret: str) -> str:
    """How a secret is stored: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(verifier)) without padding."""
    raw = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class EmailMatch:
    hub_user: str | None
    reason: str  # why not, when hub_user is None


def hub_user_from_slack_profile(
    user: dict[str, Any], *, mode: str, domains: tuple[str, ...], team_id: str | None
) -> EmailMatch:
    """The hub username that Slack's ``users.info`` user maps to, or why none does.

    Only confirmed emails of full members of this workspace count: no bots, deleted users,
    guests (restricted / ultra-restricted) or people from other teams.
    """
    if mode == "off":
        return EmailMatch(None, "email mapping is off")
    if user.get("is_bot") or user.get("id") == "USLACKBOT":
        return EmailMatch(None, "bots cannot be linked")
    if user.get("deleted"):
        return EmailMatch(None, "the Slack account is deactivated")
    if user.get("is_restricted") or user.get("is_ultra_restricted"):
        return EmailMatch(None, "guests are not linked by email")
    if not team_id:  # fail closed: without our workspace's id nobody can be told apart
        return EmailMatch(None, "sharebot could not learn its Slack workspace (auth.test)")
    if user.get("team_id") != team_id:  # another workspace's, or it does not say
        return EmailMatch(None, "the person belongs to another Slack workspace")
    if user.get("is_email_confirmed") is not True:
        return EmailMatch(None, "the Slack email address is not confirmed")
    email = str((user.get("profile") or {}).get("email") or "").strip().lower()
    if "@" not in email:
        return EmailMatch(None, "Slack shares no email address for this person")
    local, _, domain = email.rpartition("@")
    if domains and domain not in domains:
        return EmailMatch(None, f"the email domain {domain} is not one of the allowed domains")
    if mode == "email":
        return EmailMatch(email, "")
    if mode == "localpart":
        return EmailMatch(local, "")
    raise ValueError(f"unknown email mapping mode {mode!r}")
