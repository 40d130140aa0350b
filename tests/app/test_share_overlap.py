"""A share with one person reads the server's shares while the hub makes the code (issue
#19: on a real network that is one round trip to the hub, not two), and the scope ledger
starts where it did when they were read first: the baseline and the earlier access are
written with the code, before the DM; a failed read takes the code back; an invitation
with no code yet counts for nobody's earlier access."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine

from bot.app.outcomes import Reason, Refused
from bot.domain.commands import Share
from bot.domain.grants import GrantState, shares_unread
from bot.errors import HubError
from bot.runtime import Runtime
from bot.sandbox.fake_slack import FakeSlack
from bot.store.grants import NewGrant
from tests.support.factories import NOW
from tests.support.flaky_hub import FlakyHub
from tests.support.model_hub import FaultyTransport
from tests.support.services import services

HOUR = timedelta(hours=1)
ACCESS = "access:servers!server=owner/"
PATIENCE = 5.0  # seconds a held answer waits for what it waits for


READ = "GET /hub/api/shares/"
MAKE = "POST /hub/api/share-codes/"


class Held(httpx.AsyncBaseTransport):
    """The scripted hub, where the calls a rule names are answered only once its
    condition holds (or after PATIENCE seconds); every start and end is logged."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.log: list[tuple[str, str]] = []
        self.rule: tuple[str, Callable[[], bool]] | None = None
        self.overlapped: list[bool] = []  # per held call: whether its condition came true

    def started(self, call: str) -> int:
        return sum(1 for event, what in self.log if event == "start" and what.startswith(call))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        what = f"{request.method} {request.url.path}"
        self.log.append(("start", what))
        if self.rule is not None and what.startswith(self.rule[0]):
            until = self.rule[1]
            deadline = time.monotonic() + PATIENCE
            while not until() and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            self.overlapped.append(until())
        response = await self.inner.handle_async_request(request)
        self.log.append(("end", what))
        return response


@pytest.fixture
def hub() -> FlakyHub:
    return FlakyHub()


@pytest.fixture
def faults(hub: FlakyHub) -> FaultyTransport:
    return FaultyTransport(httpx.MockTransport(hub))


@pytest.fixture
def held(faults: FaultyTransport) -> Held:
    return Held(faults)


@pytest.fixture
async def rt(engine: Engine, fake_slack: FakeSlack, held: Held) -> AsyncIterator[Runtime]:
    runtime = services(engine, fake_slack.api_url, transport=held)
    for slack_id, hub_user in (("UOWNER", "owner"), ("UALICE", "alice")):
        runtime.links.link(slack_id, hub_user, method="admin", by="t", now=NOW - HOUR)
    yield runtime
    await runtime.aclose()


async def test_the_shares_are_read_while_the_code_is_made(
    rt: Runtime, hub: FlakyHub, held: Held, fake_slack: FakeSlack
) -> None:
    hub.shares.add("alice")  # she holds access already: hers to keep
    held.rule = (READ, lambda: held.started(MAKE) == 1)  # the read waits for the code
    outcome = await rt.sharing.share("UOWNER", Share(("UALICE",), HOUR), NOW)
    assert held.overlapped == [True]
    [grant] = outcome.invited
    assert grant.code_id == "sc_1" and not shares_unread(grant)
    assert grant.baseline == {"alice": frozenset({ACCESS})}
    assert grant.earlier == frozenset({ACCESS})  # written with the code, before the DM
    stored = rt.grants.get(grant.id)
    assert stored is not None and stored.earlier == grant.earlier
    [made] = [e for e in rt.audit.audit_log(grant_id=grant.id) if e.action == "code_created"]
    assert made.detail == {"code_id": "sc_1", "earlier_scopes": [ACCESS]}
    fake_slack.wait_for_dm("UALICE", "shared")


async def test_a_share_with_several_people_reads_the_shares_first(rt: Runtime, held: Held) -> None:
    rt.links.link("UBOB", "bob", method="admin", by="t", now=NOW - HOUR)
    outcome = await rt.sharing.share("UOWNER", Share(("UALICE", "UBOB"), HOUR), NOW)
    # one read, done before either code was asked for
    calls = [(event, what[:4]) for event, what in held.log if what.startswith((READ, MAKE))]
    assert calls[:3] == [("start", "GET "), ("end", "GET "), ("start", "POST")]
    assert held.started(READ) == 1
    assert [g.baseline for g in outcome.invited] == [{}, {}]


async def test_a_failed_read_takes_the_code_back(
    rt: Runtime, hub: FlakyHub, faults: FaultyTransport, fake_slack: FakeSlack
) -> None:
    faults.arm("GET", "/hub/api/shares/", times=20, kind="503")
    with pytest.raises(HubError):
        await rt.sharing.share("UOWNER", Share(("UALICE",), HOUR), NOW)
    assert hub.codes == {}  # made, then deleted: no link to it ever went out
    [grant] = rt.grants.grants(states=list(GrantState))
    assert grant.state is GrantState.FAILED
    assert fake_slack.dms_to("UALICE") == []


async def test_a_missing_server_is_refused_with_its_names(
    rt: Runtime, hub: FlakyHub, held: Held, fake_slack: FakeSlack
) -> None:
    def missing(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/hub/api/shares/owner/x"):
            return httpx.Response(404, json={"message": "no such server"})
        return hub(request)

    held.inner = httpx.MockTransport(missing)
    with pytest.raises(Refused) as refused:
        await rt.sharing.share("UOWNER", Share(("UALICE",), HOUR, server="x"), NOW)
    assert refused.value.refusal.reason is Reason.UNKNOWN_SERVER
    assert hub.codes == {}
    [grant] = rt.grants.grants(states=list(GrantState))
    assert grant.state is GrantState.FAILED and grant.code_id is None
    assert fake_slack.dms_to("UALICE") == []


async def test_two_shares_at_once_keep_her_earlier_access(
    rt: Runtime, hub: FlakyHub, held: Held
) -> None:
    """Both intents are written before either code is made: neither has given her
    anything, so neither may count her earlier access (a hub share) as its own."""
    hub.shares.add("alice")
    held.rule = (MAKE, lambda: held.started(MAKE) == 2)
    first, second = await asyncio.gather(
        rt.sharing.share("UOWNER", Share(("UALICE",), HOUR), NOW),
        rt.sharing.share("UOWNER", Share(("UALICE",), 2 * HOUR), NOW),
    )
    assert held.overlapped == [True, True]
    assert [g.earlier for g in (*first.invited, *second.invited)] == [frozenset({ACCESS})] * 2


async def test_an_intent_left_without_its_shares_reads_them_when_recovered(
    rt: Runtime, hub: FlakyHub, fake_slack: FakeSlack
) -> None:
    """A process that died after writing a one-person intent: the background pass sends
    it, reading the shares as it makes the code."""
    hub.shares.add("alice")
    grant = rt.grants.add_grant(
        NewGrant(
            owner_slack_id="UOWNER",
            owner_hub="owner",
            server="",
            recipient_slack_id="UALICE",
            recipient_hub="alice",
            duration=HOUR,
            note="",
            code_id=None,
            code_expires_at=None,
            scopes=frozenset({ACCESS}),
        ),
        now=NOW,
        intent=("dead-process", timedelta(seconds=1)),
    )
    assert shares_unread(grant)
    await rt.sweep.run(NOW + timedelta(minutes=1))
    sent = rt.grants.get(grant.id)
    assert sent is not None and sent.code_id is not None and sent.invite_sent_at is not None
    assert sent.baseline == {"alice": frozenset({ACCESS})}
    assert sent.earlier == frozenset({ACCESS})
    fake_slack.wait_for_dm("UALICE", "shared")
