"""Fixtures shared by unit and integration tests: the database each test runs on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import postgres


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: an SQLite file, or with SHAREBOT_TEST_DB_URL a PostgreSQL one."""
    server = postgres.server_url()
    if server is None:
        yield f"sqlite:///{tmp_path / 'sharebot.sqlite'}"
        return
    with postgres.fresh_database(server) as url:
        yield url
