"""A share with one recipient reads the server's shares while the hub makes the code (the
two do not depend on each other), and records what it would have recorded reading first:
the baseline, the earlier access, one ``invite`` event; a read that fails refuses the
share as before, leaving no grant, no event and no code."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, func, select

from bot.app.outcomes import Reason, Refused
from bot.domain.commands import Share
from bot.errors import HubError
from bot.runtime import Runtime
from bot.sandbox.fake_slack import FakeSlack
from bot.store.models import AuditEvent, GrantRow
from tests.support.flaky_hub import FlakyHub
from tests.support.services import services

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
PATIENCE = 5.0  # seconds the shares read waits for the code's creation to begin


class OverlapHub(httpx.AsyncBaseTransport):
    """The scripted hub, whose answer to a read of the shares waits until a code is being
    made: if the two were asked one after the other, the read answers 500 after
    :data:`PATIENCE` and the share fails. ``missing``: servers whose shares read 404."""

    def __init__(self, script: FlakyHub, missing: frozenset[str] = frozenset()) -> None:
        self.script = script
        self.missing = missing
        self.code_asked = asyncio.Event()
        self.calls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(f"{request.method} {path}")
        if request.method == "POST" and path.startswith("/hub/api/share-codes/"):
            self.code_asked.set()
            if path.rstrip("/").endswith(tuple(f"/{s}" for s in self.missing)):
                return httpx.Response(404, json={"message": "no such server"})
        if request.method == "GET" and path.startswith("/hub/api/shares/"):
            try:
                await asyncio.wait_for(self.code_asked.wait(), PATIENCE)
            except TimeoutError:
                return httpx.Response(500, json={"message": "read before the code"})
            if path.rstrip("/").endswith(tuple(f"/{s}" for s in self.missing)):
                return httpx.Response(404, json={"message": "no such server"})
        return self.script(request)


@pytest.fixture
def script() -> FlakyHub:
    hub = FlakyHub()
    hub.shares.add("alice")  # alice holds access already: earlier access, hers to keep
    return hub


async def runtime(engine: Engine, fake_slack: FakeSlack, transport: OverlapHub) -> Runtime:
    rt = services(engine, fake_slack.api_url, transport=transport, clock=lambda: NOW)
    rt.links.link("UOWNER", "owner", method="admin", by="t", now=NOW)
    rt.links.link("UALICE", "alice", method="admin", by="t", now=NOW)
    return rt


@pytest.fixture
async def overlapping(
    engine: Engine, fake_slack: FakeSlack, script: FlakyHub
) -> AsyncIterator[tuple[Runtime, OverlapHub]]:
    transport = OverlapHub(script, missing=frozenset({"nope"}))
    rt = await runtime(engine, fake_slack, transport)
    yield rt, transport
    await rt.aclose()


def audit_actions(engine: Engine) -> list[str]:
    """The audit log's actions, but the links made by the fixture."""
    with engine.connect() as connection:
        actions = connection.scalars(select(AuditEvent.action).order_by(AuditEvent.id))
        return [a for a in actions if a != "link"]


async def test_the_shares_are_read_while_the_code_is_made(
    overlapping: tuple[Runtime, OverlapHub], engine: Engine, fake_slack: FakeSlack
) -> None:
    rt, _ = overlapping
    outcome = await rt.sharing.share("UOWNER", Share(("UALICE",), HOUR), NOW)
    [grant] = outcome.invited
    assert grant.code_id == "sc_1"
    held = frozenset({"access:servers!server=owner/"})
    assert grant.baseline == {"alice": held}
    assert grant.earlier == held  # not taken for the new grant's own
    with engine.connect() as connection:
        row = connection.execute(select(GrantRow)).one()
    assert row.earlier_scopes == sorted(held) and row.baseline == {"alice": sorted(held)}
    assert row.invite_sent_at is not None
    assert audit_actions(engine) == ["invite", "code_created", "invite_sent"]
    assert fake_slack.dms_to("UALICE")


async def test_an_unknown_server_is_refused_and_leaves_nothing(
    overlapping: tuple[Runtime, OverlapHub], engine: Engine, script: FlakyHub
) -> None:
    rt, _ = overlapping
    with pytest.raises(Refused) as refused:
        await rt.sharing.share("UOWNER", Share(("UALICE",), HOUR, server="nope"), NOW)
    assert refused.value.refusal.reason is Reason.UNKNOWN_SERVER
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(GrantRow)) == 0
    assert audit_actions(engine) == []
    assert script.codes == {}


async def test_a_failed_read_deletes_the_code_made_beside_it(
    engine: Engine, fake_slack: FakeSlack, script: FlakyHub
) -> None:
    """The hub made the code but could not list the shares: refused, the code deleted."""

    class ReadFails(OverlapHub):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "GET" and request.url.path.startswith("/hub/api/shares/"):
                await asyncio.wait_for(self.code_asked.wait(), PATIENCE)
                return httpx.Response(503, json={"message": "hub restarting"})
            return await super().handle_async_request(request)

    transport = ReadFails(script)
    rt = await runtime(engine, fake_slack, transport)
    try:
        with pytest.raises(HubError):
            await rt.sharing.share("UOWNER", Share(("UALICE",), HOUR), NOW)
    finally:
        await rt.aclose()
    assert "DELETE /hub/api/share-codes/owner/" in transport.calls
    assert script.codes == {}
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(GrantRow)) == 0
    assert audit_actions(engine) == []
