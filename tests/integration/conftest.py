"""Integration fixtures: a real JupyterHub, the fake Slack Web API, and sharebot over HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.clock import utcnow
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.stack import new_database
from bot.store.db import ensure_schema, make_engine
from bot.store.links import Links
from tests.support.app import BOT_TOKEN, RunningApp, app_env, start_app
from tests.support.hub import RunningHub, start_test_hub

USERS = {"UOWNER": "owner", "UALICE": "alice", "UBOB": "bob", "UCAROL": "carol"}


@pytest.fixture(scope="session")
def hub(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[RunningHub]:
    """One hub for the session, run by the Python that SHAREBOT_TEST_HUB_PYTHON names (a
    virtualenv with another JupyterHub release), else by this one."""
    running = start_test_hub(
        pytestconfig, tmp_path_factory.mktemp("hub"), users=tuple(USERS.values())
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def slack_server() -> Iterator[FakeSlack]:
    with FakeSlack(tokens={BOT_TOKEN}) as fake:
        for slack_id, name in USERS.items():
            fake.add_user(slack_id, name=name, email=f"{name}@example.org")
        yield fake


@pytest.fixture
def slack(slack_server: FakeSlack) -> FakeSlack:
    slack_server.reset()
    return slack_server


@pytest.fixture
def clean_hub(hub: RunningHub) -> Iterator[RunningHub]:
    """Each test starts and ends with no shares or share codes on the test users' servers."""
    _clear(hub)
    yield hub
    _clear(hub)


def _clear(hub: RunningHub) -> None:
    with hub.client(hub.admin_token) as client:
        for name in USERS.values():
            client.delete(f"shares/{name}/")
            client.delete(f"share-codes/{name}/")


@pytest.fixture
def env(clean_hub: RunningHub, slack: FakeSlack, database_url: str) -> dict[str, str]:
    return app_env(clean_hub, slack.api_url, database_url)


@pytest.fixture
def linked_env(env: dict[str, str], database_url: str) -> dict[str, str]:
    """The environment, with every test user linked (as `sharebot link` does; see test_cli)."""
    new_database(database_url, USERS.items(), by="tests").dispose()
    return env


@pytest.fixture
def app(linked_env: dict[str, str], tmp_path: Path) -> Iterator[RunningApp]:
    running = start_app(linked_env, tmp_path)
    try:
        yield running
    finally:
        running.stop()
        _assert_no_secrets_logged(running)


@pytest.fixture
def db(database_url: str, linked_env: dict[str, str]) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _assert_no_secrets_logged(app: RunningApp) -> None:
    log = app.log()
    for secret in ("accept-share?code=", "code=", BOT_TOKEN, app.env["JUPYTERHUB_API_TOKEN"]):
        assert secret not in log, f"{secret[:12]}... appears in sharebot's log"


@pytest.fixture
def oauth_app(
    env: dict[str, str], clean_hub: RunningHub, database_url: str, tmp_path: Path
) -> Iterator[RunningApp]:
    """sharebot on the port the hub registered as its OAuth redirect, nobody linked but Bob."""
    engine = make_engine(database_url)
    ensure_schema(engine)
    Links(engine).link("UBOB", "bob", method="admin", by="tests", now=utcnow())
    engine.dispose()
    port = clean_hub.sharebot_port
    running = start_app({**env, "SHAREBOT_PUBLIC_URL": clean_hub.sharebot_url}, tmp_path, port=port)
    try:
        yield running
    finally:
        running.stop()
        log = running.log()
        assert "/link/" not in log and "code=" not in log and "state=" not in log


@pytest.fixture
def oauth_db(database_url: str, oauth_app: RunningApp) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def gate_app(
    linked_env: dict[str, str], clean_hub: RunningHub, tmp_path: Path
) -> Iterator[RunningApp]:
    """sharebot behind the hub's proxy, where its pages are reachable: the gate is on. The
    owner's default server runs (see the test of one that does not)."""
    clean_hub.start_server("owner")
    running = start_app(
        {**linked_env, "SHAREBOT_PUBLIC_URL": clean_hub.sharebot_url},
        tmp_path,
        port=clean_hub.sharebot_port,
    )
    try:
        yield running
    finally:
        running.stop()
        clean_hub.stop_server("owner")
        log = running.log()
        assert re.search(r"/accept/[\w-]{20}", log) is None, "a gate token is in the log"
        for secret in ("code=", "state="):
            assert secret not in log, f"{secret} appears in sharebot's log"
