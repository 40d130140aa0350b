"""Fixtures shared by every folder of tests: the database each test runs on, and (for the
tests that drive the services) Slack over HTTP, a scripted hub, and every service built by
the product's own wiring on them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from bot.runtime import Runtime
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.slack_client import BOT_TOKEN
from bot.store.db import ensure_schema, make_engine
from tests.support import postgres
from tests.support.flaky_hub import FlakyHub
from tests.support.hub import HUBS_STARTED, describe_hub_python, hub_python_from_env
from tests.support.model_hub import FaultyTransport
from tests.support.services import services

#: When the linked people of the ``rt`` fixture were linked.
LINKED_AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def pytest_report_header(config: pytest.Config) -> str:
    """Which JupyterHub the integration tests will start (SHAREBOT_TEST_HUB_PYTHON)."""
    return describe_hub_python(hub_python_from_env())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The version each hub that ran reported (GET /hub/api/): shown with -q too, which
    hides the header."""
    started = terminalreporter.config.stash.get(HUBS_STARTED, set())
    if started:
        terminalreporter.write_line(f"JupyterHub that ran: {', '.join(sorted(started))}")


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: an SQLite file, or with SHAREBOT_TEST_DB_URL a PostgreSQL one."""
    server = postgres.server_url()
    if server is None:
        yield f"sqlite:///{tmp_path / 'sharebot.sqlite'}"
        return
    with postgres.fresh_database(server) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The schema on :func:`database_url` (SQLite, or PostgreSQL with SHAREBOT_TEST_DB_URL)."""
    engine = make_engine(database_url)
    ensure_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack(tokens={BOT_TOKEN}) as fake:
        yield fake


@pytest.fixture
def hub_script() -> FlakyHub:
    return FlakyHub()


@pytest.fixture
def hub_faults(hub_script: FlakyHub) -> FaultyTransport:
    """The scripted hub, behind a transport that can fail chosen calls."""
    return FaultyTransport(httpx.MockTransport(hub_script))


@pytest.fixture
async def rt(
    tmp_path: Path, fake_slack: FakeSlack, hub_faults: FaultyTransport
) -> AsyncIterator[Runtime]:
    """Every service, as ``sharebot serve`` builds them, on a new SQLite database, the
    scripted hub and the Slack stand-in; UOWNER is linked to owner, UALICE to alice."""
    engine = make_engine(f"sqlite:///{tmp_path / 'sharebot.sqlite'}")
    ensure_schema(engine)
    runtime = services(engine, fake_slack.api_url, transport=hub_faults)
    runtime.links.link("UOWNER", "owner", method="admin", by="t", now=LINKED_AT)
    runtime.links.link("UALICE", "alice", method="admin", by="t", now=LINKED_AT)
    yield runtime
    await runtime.aclose()
