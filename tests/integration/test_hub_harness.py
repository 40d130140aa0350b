"""Integration tests for the real-JupyterHub harness in tests/support/hub.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.hub import (
    RunningHub,
    hub_python_from_env,
    installed_hub_version,
    start_hub,
    start_test_hub,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def hub(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[RunningHub]:
    running = start_test_hub(pytestconfig, tmp_path_factory.mktemp("hub"))
    try:
        yield running
    finally:
        running.stop()


def _create_code(hub: RunningHub, owner: str, server: str = "") -> dict[str, object]:
    resp = httpx.post(
        f"{hub.api_url}/share-codes/{owner}/{server}",
        headers={"Authorization": f"token {hub.service_token}"},
        json={"expires_in": 3600},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    model: dict[str, object] = resp.json()
    return model


def _user_names(shares: list[dict[str, object]]) -> set[str]:
    names: set[str] = set()
    for share in shares:
        user = share.get("user")
        if isinstance(user, dict):
            names.add(str(user["name"]))
    return names


def test_hub_reports_the_version_installed_for_its_python(hub: RunningHub) -> None:
    # SHAREBOT_TEST_HUB_PYTHON (scripts/test: .venv-hub5, JupyterHub 5.2.1), else this one
    assert hub.python
    assert hub.version == installed_hub_version(hub_python_from_env())


def test_a_missing_hub_python_fails_at_once(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no Python interpreter"):
        start_hub(tmp_path, python=tmp_path / "no-such-venv" / "bin" / "python")


def test_alice_accepts_share_code_created_by_service(hub: RunningHub) -> None:
    code = _create_code(hub, "owner")
    accept_url = code["accept_url"]
    assert isinstance(accept_url, str)
    assert "alice" not in _user_names(hub.shares("owner"))

    resp = hub.accept_share("alice", accept_url)

    assert resp.status_code == 302, resp.text
    assert "alice" in _user_names(hub.shares("owner"))
    codes = {c["id"]: c for c in hub.share_codes("owner")}
    assert codes[code["id"]]["exchange_count"] == 1


def test_accept_share_with_full_url(hub: RunningHub) -> None:
    code = _create_code(hub, "owner")
    accept_url = f"{hub.public_url}{code['accept_url']}"

    resp = hub.accept_share("bob", accept_url)

    assert resp.status_code == 302, resp.text
    assert "bob" in _user_names(hub.shares("owner"))


def test_wrong_password_makes_accept_share_raise(hub: RunningHub) -> None:
    code = _create_code(hub, "owner")
    accept_url = code["accept_url"]
    assert isinstance(accept_url, str)

    with pytest.raises(AssertionError, match="login as 'carol' failed"):
        hub.accept_share("carol", accept_url, password="not-the-password")

    assert "carol" not in _user_names(hub.shares("owner"))


def test_service_role_is_least_privilege(hub: RunningHub) -> None:
    with hub.client(hub.service_token) as svc:
        assert svc.get("/users").status_code == 200  # list:users
        # admin-only: creating users
        assert svc.post("/users", json={"usernames": ["mallory"]}).status_code == 403


def test_admin_service_can_manage_users(hub: RunningHub) -> None:
    hub.create_users("dave", "erin")
    hub.create_users("dave")  # idempotent
    with hub.client() as api:
        names = {u["name"] for u in api.get("/users").json()}
    assert {"dave", "erin"} <= names
    hub.delete_user("erin")
    with hub.client() as api:
        assert api.get("/users/erin").status_code == 404


def test_named_server_share(hub: RunningHub) -> None:
    hub.create_named_server("owner", "gpu")
    hub.create_named_server("owner", "gpu")  # idempotent
    code = _create_code(hub, "owner", "gpu")
    accept_url = code["accept_url"]
    assert isinstance(accept_url, str)

    resp = hub.accept_share("carol", accept_url)

    assert resp.status_code == 302, resp.text
    assert resp.headers["location"] == "/user/owner/gpu/"
    assert _user_names(hub.shares("owner", "gpu")) == {"carol"}
    assert "carol" in _user_names(hub.shares("owner", None))  # all of owner's servers

    hub.delete_named_server("owner", "gpu")
    with hub.client() as api:
        assert api.get("/shares/owner/gpu").status_code == 404
