"""Fixtures of the unit tests that drive the services: Slack over HTTP, a scripted hub."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.sandbox.fake_slack import FakeSlack
from tests.support.flaky_hub import FlakyHub


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack(tokens={"xoxb-test"}) as fake:
        yield fake


@pytest.fixture
def hub_script() -> FlakyHub:
    return FlakyHub()
