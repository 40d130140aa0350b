"""What the use cases let people do at the edges: a request names none of the owner's
servers, each invocation is taken on once (the store that tells), and nobody sends more
than the per-person limit of invitations and requests a minute."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine

from bot.app.decisions import ApprovalConfig, seen_by
from bot.app.limits import SendLimit, exceeds
from bot.app.outcomes import Held, Reason, Refusal, Refused
from bot.app.replays import Replays
from bot.domain.commands import Request, Share
from bot.domain.decisions import Policy
from bot.domain.grants import Grant, GrantState
from bot.runtime import Runtime
from bot.sandbox.fake_slack import FakeSlack
from bot.slack.replies import reply
from bot.store.invocations import Invocations, key_of
from tests.support.factories import NOW
from tests.support.flaky_hub import FlakyHub
from tests.support.services import services

HOUR = timedelta(hours=1)
SECRET_SERVER = "thesis-draft-confidential"


class NamedServersHub(FlakyHub):
    """The scripted hub, where owner has named servers besides the default one."""

    def __init__(self) -> None:
        super().__init__()
        self.servers = {"", SECRET_SERVER, "gpu"}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path == "/hub/api/users/owner":
            servers: dict[str, dict[str, object]] = {name: {} for name in self.servers if name}
            return httpx.Response(200, json={"name": "owner", "servers": servers})
        server = path.removeprefix("/hub/api/shares/owner/")
        if path.startswith("/hub/api/shares/owner/") and server not in self.servers:
            return httpx.Response(404, json={"message": "no such server"})
        return super().__call__(request)


def all_grants(runtime: Runtime) -> list[Grant]:
    return runtime.grants.grants(states=list(GrantState))


@pytest.fixture
def named_hub() -> NamedServersHub:
    return NamedServersHub()


@pytest.fixture
async def rt(
    engine: Engine, fake_slack: FakeSlack, named_hub: NamedServersHub
) -> AsyncIterator[Runtime]:
    runtime = services(
        engine,
        fake_slack.api_url,
        transport=httpx.MockTransport(named_hub),
        rate_limit_per_minute=3,
    )
    for slack_id, hub_user in (("UOWNER", "owner"), ("UALICE", "alice"), ("UBOB", "bob")):
        runtime.links.link(slack_id, hub_user, method="admin", by="t", now=NOW - HOUR)
    yield runtime
    await runtime.aclose()


# -- a request names none of the owner's servers -------------------------------------------


async def test_a_request_for_a_missing_server_names_none_of_the_owners(rt: Runtime) -> None:
    with pytest.raises(Refused) as refused:
        await rt.decisions.request("UALICE", Request("UOWNER", HOUR, server="x"), NOW)
    refusal = refused.value.refusal
    assert refusal == Refusal(Reason.OWNER_HAS_NO_SERVER, server="x", people=("UOWNER",))
    words = reply(refused.value)
    assert words == "<@UOWNER> has no server named `x`, so nothing was asked or shared."
    assert SECRET_SERVER not in words and "gpu" not in words
    assert SECRET_SERVER not in str(refused.value)  # nor in the log line


async def test_the_owner_still_sees_their_own_servers(rt: Runtime) -> None:
    with pytest.raises(Refused) as refused:
        await rt.decisions.share_or_hold("UOWNER", Share(("UALICE",), HOUR, server="x"), NOW)
    assert refused.value.refusal.reason is Reason.UNKNOWN_SERVER
    words = reply(refused.value)
    assert f"`server:{SECRET_SERVER}`" in words and "`server:gpu`" in words


def test_only_the_owner_hears_which_servers_there_are() -> None:
    err = Refused(Refusal(Reason.UNKNOWN_SERVER, server="x", available=("", SECRET_SERVER)))
    assert seen_by("UOWNER", "UOWNER", err) is err
    approver = seen_by("UAPPROVER", "UOWNER", err)
    assert isinstance(approver, Refused)
    assert approver.refusal == Refusal(Reason.OWNER_HAS_NO_SERVER, server="x", people=("UOWNER",))
    other = Refused(Refusal(Reason.SELF_SHARE))
    assert seen_by("UAPPROVER", "UOWNER", other) is other


async def test_an_approver_is_not_told_the_owners_servers(
    rt: Runtime, named_hub: NamedServersHub
) -> None:
    """The owner's held share, approved after the server went: the approver (not the
    owner) hears only that it is not there."""
    rt.decisions.config = ApprovalConfig(
        policy=Policy(approval_above=timedelta(minutes=30)), approvers=("UBOB",)
    )
    named_hub.servers.add("gone")
    held = await rt.decisions.share_or_hold("UOWNER", Share(("UALICE",), HOUR, server="gone"), NOW)
    assert isinstance(held, Held)
    named_hub.servers.discard("gone")  # deleted in the hub before the approval
    decided = await rt.decisions.approve(held.decision.id, "UBOB", NOW)
    words = reply(decided)
    assert "has no server named `gone`" in words, words
    assert SECRET_SERVER not in words


# -- each invocation once --------------------------------------------------------------------


def test_a_trigger_id_is_recorded_once(engine: Engine) -> None:
    invocations = Invocations(engine)
    assert invocations.first("1234.5678.abcd", NOW)
    assert not invocations.first("1234.5678.abcd", NOW + timedelta(seconds=1))
    assert invocations.first("1234.5678.abce", NOW)
    long = "x" * 5000
    assert len(key_of(long)) == 64 and key_of(long) != key_of(long + "y")
    assert invocations.first(long, NOW) and not invocations.first(long, NOW)
    assert invocations.first("é" * 10, NOW)  # not ASCII: kept as its hash


async def test_replays_are_told_apart_and_old_ones_forgotten(engine: Engine) -> None:
    replays = Replays(Invocations(engine), keep=HOUR)
    assert await replays.first("T1", "approve", NOW)
    assert not await replays.first("T1", "approve", NOW + timedelta(minutes=4))
    assert await replays.first(None, "approve", NOW)  # nothing to tell a replay by
    assert await replays.first(None, "approve", NOW)
    assert await replays.first("T2", "approve", NOW + timedelta(minutes=30))
    assert await replays.prune(NOW + HOUR + timedelta(seconds=1)) == 1  # T1 only
    assert not await replays.first("T2", "approve", NOW + HOUR)
    assert await replays.first("T1", "approve", NOW + HOUR)  # long forgotten


# -- the per-person limit --------------------------------------------------------------------


def test_the_limit_rule() -> None:
    assert not exceeds(29, 1, 30) and exceeds(30, 1, 30) and exceeds(25, 6, 30)
    assert not exceeds(10_000, 100, 0)  # 0: no limit


async def test_invitations_past_the_limit_are_refused_until_a_minute_passed(
    rt: Runtime, fake_slack: FakeSlack
) -> None:
    for n in range(3):
        at = NOW + timedelta(seconds=10 * n)
        outcome = await rt.decisions.share_or_hold("UOWNER", Share(("UALICE",), HOUR), at)
        assert not isinstance(outcome, Refusal)
    with pytest.raises(Refused) as refused:
        await rt.decisions.share_or_hold("UOWNER", Share(("UALICE",), HOUR), NOW + HOUR / 120)
    assert refused.value.refusal == Refusal(Reason.TOO_MANY_SENT, sent=3, adding=1, per_minute=3)
    assert reply(refused.value) == (
        "You have sent 3 invitations and requests in the last minute; try again in a minute. "
        "Nothing was sent."
    )
    assert len(all_grants(rt)) == 3
    # the first one is more than a minute old then: room for one more
    later = NOW + timedelta(seconds=61)
    await rt.decisions.share_or_hold("UOWNER", Share(("UALICE",), HOUR), later)
    assert len(all_grants(rt)) == 4


async def test_shares_the_hub_never_made_do_not_count(rt: Runtime, fake_slack: FakeSlack) -> None:
    """A typo in the server's name is refused (the hub has no such server), recorded as a
    failed invitation, and sends nothing: it does not count against the limit."""
    for n in range(5):
        with pytest.raises(Refused) as refused:
            share = Share(("UALICE",), HOUR, server="gpuu")
            await rt.decisions.share_or_hold("UOWNER", share, NOW + timedelta(seconds=n))
        assert refused.value.refusal.reason is Reason.UNKNOWN_SERVER
    failed = all_grants(rt)
    assert [(g.state, g.code_id) for g in failed] == [(GrantState.FAILED, None)] * 5
    assert fake_slack.dms_to("UALICE") == []
    for _ in range(3):
        share = Share(("UALICE",), HOUR, server="gpu")
        outcome = await rt.decisions.share_or_hold("UOWNER", share, NOW + timedelta(seconds=10))
        assert not isinstance(outcome, Refusal)
    with pytest.raises(Refused) as refused:
        await rt.decisions.share_or_hold("UOWNER", Share(("UALICE",), HOUR), NOW + HOUR / 120)
    assert refused.value.refusal.reason is Reason.TOO_MANY_SENT


async def test_one_command_for_too_many_people_is_refused_whole(rt: Runtime) -> None:
    await rt.decisions.share_or_hold("UOWNER", Share(("UALICE",), HOUR), NOW)
    with pytest.raises(Refused) as refused:
        await rt.decisions.share_or_hold("UOWNER", Share(("UALICE", "UBOB", "UBOB"), HOUR), NOW)
    assert refused.value.refusal.reason is Reason.TOO_MANY_SENT
    assert "would make 4 invitations and requests in a minute, more than the 3" in reply(
        refused.value
    )
    assert len(all_grants(rt)) == 1


async def test_requests_count_too_and_each_person_has_their_own_limit(rt: Runtime) -> None:
    for n in range(3):
        await rt.decisions.request("UALICE", Request("UOWNER", HOUR), NOW + timedelta(seconds=n))
    with pytest.raises(Refused) as refused:
        await rt.decisions.request("UALICE", Request("UOWNER", HOUR), NOW + timedelta(seconds=5))
    assert refused.value.refusal.reason is Reason.TOO_MANY_SENT
    # Bob has sent nothing; and the owner approving Alice's request sends nothing of theirs
    sent = await rt.decisions.request("UBOB", Request("UOWNER", HOUR), NOW + timedelta(seconds=5))
    await rt.decisions.approve(sent.decision.id, "UOWNER", NOW + timedelta(seconds=6))
    [grant] = all_grants(rt)
    assert grant.owner_slack_id == "UOWNER" and grant.decision_id == sent.decision.id
    limit = rt.decisions.limit
    assert limit is not None and limit.sent.since("UOWNER", NOW - HOUR) == 0
    assert limit.sent.since("UALICE", NOW - HOUR) == 3


async def test_no_limit_when_off(engine: Engine, fake_slack: FakeSlack) -> None:
    runtime = services(
        engine,
        fake_slack.api_url,
        transport=httpx.MockTransport(NamedServersHub()),
        rate_limit_per_minute=0,
    )
    try:
        runtime.links.link("UOWNER", "owner", method="admin", by="t", now=NOW - HOUR)
        runtime.links.link("UALICE", "alice", method="admin", by="t", now=NOW - HOUR)
        limit = runtime.decisions.limit
        assert isinstance(limit, SendLimit) and limit.per_minute == 0
        for _ in range(5):
            await runtime.decisions.share_or_hold("UOWNER", Share(("UALICE",), HOUR), NOW)
        assert len(all_grants(runtime)) == 5
    finally:
        await runtime.aclose()
