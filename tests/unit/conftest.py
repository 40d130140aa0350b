"""Fixtures of the unit tests that drive the services: Slack over HTTP, a scripted hub,
and every service built by the product's own wiring on them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.runtime import Runtime
from bot.sandbox.fake_slack import FakeSlack
from bot.store.db import ensure_schema, make_engine
from tests.support.flaky_hub import FlakyHub
from tests.support.model_hub import FaultyTransport
from tests.support.services import BOT_TOKEN, services

#: When the linked people of the ``rt`` fixture were linked.
LINKED_AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


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
