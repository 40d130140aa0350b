from __future__ import annotations

import base64
import hashlib

import pytest

from bot.domain.linking import hub_user_from_slack_profile, new_secret, pkce_challenge, sha256_hex

FULL_MEMBER = {
    "id": "U1",
    "team_id": "T1",
    "is_bot": False,
    "deleted": False,
    "is_restricted": False,
    "is_ultra_restricted": False,
    "is_email_confirmed": True,
    "profile": {"email": "Alice@Example.org"},
}


def match(mode: str, domains: tuple[str, ...] = (), **changes: object) -> tuple[str | None, str]:
    user = {**FULL_MEMBER, **changes}
    result = hub_user_from_slack_profile(user, mode=mode, domains=domains, team_id="T1")
    return result.hub_user, result.reason


def test_modes() -> None:
    assert match("off") == (None, "email mapping is off")
    assert match("email") == ("alice@example.org", "")
    assert match("localpart") == ("alice", "")
    assert match("localpart", ("example.org",)) == ("alice", "")
    assert match("email", ("example.org",)) == ("alice@example.org", "")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"is_bot": True}, "bots"),
        ({"id": "USLACKBOT"}, "bots"),
        ({"deleted": True}, "deactivated"),
        ({"is_restricted": True}, "guests"),
        ({"is_ultra_restricted": True}, "guests"),
        ({"team_id": "T2"}, "another Slack workspace"),
        ({"is_email_confirmed": False}, "not confirmed"),
        ({"is_email_confirmed": None}, "not confirmed"),
        ({"profile": {}}, "no email address"),
    ],
)
@pytest.mark.parametrize("mode", ["email", "localpart"])
def test_refusals(mode: str, changes: dict[str, object], reason: str) -> None:
    hub_user, why = match(mode, **changes)
    assert hub_user is None and reason in why


def test_domain_restriction() -> None:
    assert match("localpart", ("lab.example.org",))[0] is None
    assert "not one of the allowed domains" in match("localpart", ("lab.example.org",))[1]


def test_pkce_s256_matches_rfc7636_example() -> None:
    # RFC 7636, appendix B
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    raw = hashlib.sha256(verifier.encode()).digest()
    assert base64.urlsafe_b64decode(pkce_challenge(verifier) + "=") == raw


def test_secrets_are_random_and_stored_hashed() -> None:
    a, b = new_secret(), new_secret()
    assert a != b and len(a) >= 43
    assert sha256_hex(a) != a and len(sha256_hex(a)) == 64


def test_an_unknown_workspace_fails_closed() -> None:
    user = {**FULL_MEMBER}
    unknown = hub_user_from_slack_profile(user, mode="email", domains=(), team_id=None)
    assert unknown.hub_user is None and "workspace" in unknown.reason
    silent = {k: v for k, v in FULL_MEMBER.items() if k != "team_id"}
    says_nothing = hub_user_from_slack_profile(silent, mode="email", domains=(), team_id="T1")
    assert says_nothing.hub_user is None and "another Slack workspace" in says_nothing.reason
