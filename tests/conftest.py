"""Fixtures shared by unit and integration tests: the database each test runs on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import postgres
from tests.support.hub import HUBS_STARTED, describe_hub_python, hub_python_from_env


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
