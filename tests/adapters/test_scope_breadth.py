"""A hub token with more rights than sharebot needs is named, broadest scope first."""

from __future__ import annotations

import logging

import httpx
import pytest

from bot.hub import scopes
from bot.hub.client import HubClient
from bot.ops import check
from tests.support.hub import HUB_REPORTED

# What the hub reports for a token of a role with ``admin:users`` and ``tokens``: expanded.
ADMIN_USERS = (
    "admin:users",
    "admin:auth_state",
    "users",
    "read:users",
    "read:users:groups",
    "users:activity",
    "read:roles:users",
    "delete:users",
    "tokens",
    "read:tokens",
)


def test_the_least_privilege_role_is_not_over_broad() -> None:
    assert scopes.over_broad(HUB_REPORTED) == []
    assert scopes.over_broad(["shares!group=slack-sharing", "read:users:name"]) == []
    assert check.over_broad_warning(HUB_REPORTED) == ""


def test_admin_scopes_are_named_once_broadest_first() -> None:
    assert scopes.over_broad([*HUB_REPORTED, *ADMIN_USERS]) == ["admin:users", "tokens"]


@pytest.mark.parametrize(
    "extra",
    [
        "admin:servers",
        "admin-ui",
        "admin:groups",
        "inherit",
        "users",
        "access:services",
        "read:users",
        "admin:users!group=staff",
        "proxy",
    ],
)
def test_each_broad_scope_is_flagged(extra: str) -> None:
    assert scopes.over_broad([*HUB_REPORTED, extra]) == [extra]


def test_groups_and_servers_admin_collapse_to_their_top() -> None:
    granted = [
        *HUB_REPORTED,
        "admin:groups",
        "groups",
        "read:groups",
        "list:groups",
        "read:groups:name",
        "delete:groups",
        "read:roles:groups",
        "admin:servers",
        "admin:server_state",
    ]
    assert scopes.over_broad(granted) == ["admin:groups", "admin:servers"]


def test_check_warns_but_does_not_fail() -> None:
    finding = check.evaluate_hub_scopes([*HUB_REPORTED, *ADMIN_USERS])
    assert finding.ok
    line = finding.line()
    assert line.startswith("warn hub scopes: ")
    assert "admin:users (create, change and delete any user)" in line
    assert "tokens (create tokens for users)" in line


async def test_start_up_warning_names_scopes_never_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = "very-secret-hub-token-123"

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == f"token {token}"
        body = {"kind": "service", "name": "sharebot", "scopes": [*HUB_REPORTED, "admin-ui"]}
        return httpx.Response(200, json=body)

    hub = HubClient("http://hub.test/hub/api", token, transport=httpx.MockTransport(handler))
    with caplog.at_level(logging.INFO):
        await check.warn_over_broad_token(hub)
    await hub.aclose()
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "service sharebot" in record.getMessage() and "admin-ui" in record.getMessage()
    assert token not in caplog.text


async def test_start_up_with_an_unreachable_hub_warns_and_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    hub = HubClient("http://hub.test/hub/api", "t0ken-xyz", transport=httpx.MockTransport(handler))
    with caplog.at_level(logging.INFO):
        await check.warn_over_broad_token(hub)
    await hub.aclose()
    # a WARNING (issue 17): serving goes on, but an operator should see it
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "could not ask JupyterHub about its token at start-up" in caplog.text
    assert "t0ken-xyz" not in caplog.text
