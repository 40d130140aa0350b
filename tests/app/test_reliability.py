"""Nothing lost when things fail: notices written with the state change (keyed, once),
Retry-After honoured, notices given up surfaced, interrupted invitations recovered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine

from bot.app.notices import NoticeService
from bot.domain.commands import Share
from bot.domain.grants import Grant, GrantState, orphan_codes
from bot.domain.outbox import next_attempt
from bot.ops.metrics import Metrics
from bot.runtime import Runtime
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.slack_client import BOT_TOKEN
from bot.slack.messenger import KeepAliveWebClient, SlackMessenger, make_web_client
from bot.slack.port import SlackSay
from bot.store.grants import Grants
from bot.store.outbox import Outbox, OutgoingNotice
from tests.support.factories import new_grant
from tests.support.flaky_hub import FlakyHub
from tests.support.services import services

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=3)


@pytest.fixture
async def rt(engine: Engine, fake_slack: FakeSlack, hub_script: FlakyHub) -> AsyncIterator[Runtime]:
    runtime = services(
        engine,
        fake_slack.api_url,
        transport=httpx.MockTransport(hub_script),
        clock=lambda: NOW,
        claim_ttl=TTL.total_seconds(),
    )
    runtime.links.link("UOWNER", "owner", method="admin", by="t", now=NOW)
    runtime.links.link("UALICE", "alice", method="admin", by="t", now=NOW)
    yield runtime
    await runtime.aclose()


def say(fake_slack: FakeSlack, client: KeepAliveWebClient | None = None) -> SlackSay:
    return SlackSay(SlackMessenger(client or make_web_client(BOT_TOKEN, fake_slack.api_url)))


def intent(repo: Grants, *, code_id: str | None = None) -> Grant:
    """What a process killed mid-invitation leaves: an intent whose claim has run out."""
    grant = repo.add_grant(
        new_grant(code_id=None, code_expires_at=None),
        now=NOW - timedelta(minutes=1),
        intent=("dead-host:1:abcd", TTL),
    )
    if code_id is not None:
        recorded = repo.set_code(grant, code_id, NOW + timedelta(hours=24), now=NOW)
        assert recorded is not None
        return recorded
    return grant


# -- the rules ------------------------------------------------------------------------------


def test_a_retry_waits_at_least_what_slack_asked() -> None:
    assert next_attempt(1, NOW, retry_after=120) == NOW + timedelta(seconds=120)
    assert next_attempt(1, NOW, retry_after=1) == NOW + timedelta(seconds=30)


def test_orphan_codes_are_unknown_codes_made_since_the_intent() -> None:
    codes = [
        ("sc_1", NOW - timedelta(days=1)),  # older: an owner's own, not ours to judge
        ("sc_2", NOW),  # known to a grant
        ("sc_3", NOW + timedelta(seconds=1)),  # the orphan
        ("sc_4", None),  # no time: left alone
    ]
    assert orphan_codes(codes, {"sc_2"}, NOW, timedelta(seconds=60)) == ["sc_3"]


# -- the store ------------------------------------------------------------------------------


def test_a_notice_is_written_with_its_state_change_once(engine: Engine) -> None:
    repo, outbox = Grants(engine), Outbox(engine)
    grant = intent(repo, code_id="sc_1")

    def notices(g: Grant) -> list[OutgoingNotice]:
        return [OutgoingNotice(f"grant:{g.id}:lapsed:owner", g.owner_slack_id, "lapsed")]

    args = dict(now=NOW, action="lapse", notices=notices)
    assert repo.transition(grant, GrantState.LAPSED, **args) is not None  # type: ignore[arg-type]
    assert repo.transition(grant, GrantState.LAPSED, **args) is None  # type: ignore[arg-type]
    [due] = outbox.due(NOW)
    assert due.key == f"grant:{grant.id}:lapsed:owner" and due.attempts == 0
    # Outside a state change, a key already there is skipped.
    again = OutgoingNotice(due.key, "UOWNER", "lapsed")
    assert outbox.enqueue([again], NOW) == []
    assert len(outbox.due(NOW)) == 1


# -- delivery -------------------------------------------------------------------------------


async def test_a_first_try_is_leased_to_its_writer_and_left_to_the_sweep_if_it_dies(
    engine: Engine, fake_slack: FakeSlack
) -> None:
    repo, outbox = Grants(engine), Outbox(engine)
    notices = NoticeService(outbox, say(fake_slack))
    first, second = intent(repo, code_id="sc_1"), intent(repo, code_id="sc_2")

    def told(g: Grant) -> list[OutgoingNotice]:
        return [
            OutgoingNotice(f"grant:{g.id}:lapsed:owner", g.owner_slack_id, "owner"),
            OutgoingNotice(f"grant:{g.id}:lapsed:recipient", g.recipient_slack_id, "alice"),
        ]

    for grant in (first, second):
        repo.transition(
            grant, GrantState.LAPSED, now=NOW, action="lapse", notices=told, notice_lease=TTL
        )
    assert outbox.due(NOW) == []  # leased to the writer: no replica's sweep takes them
    report = await notices.deliver(
        [f"grant:{first.id}:lapsed:owner", f"grant:{first.id}:lapsed:recipient"], NOW
    )
    assert report.sent == 2 and len(fake_slack.dms_to("UALICE")) == 1
    # The writer of the second died before its first try: the sweep sends them after the lease.
    assert (await notices.deliver_due(NOW + TTL / 2)).sent == 0
    assert (await notices.deliver_due(NOW + TTL)).sent == 2
    assert len(fake_slack.dms_to("UALICE")) == 2 and len(fake_slack.dms_to("UOWNER")) == 2
    assert outbox.pending_count() == 0


async def test_a_429_delays_the_next_try_by_retry_after(
    engine: Engine, fake_slack: FakeSlack
) -> None:
    outbox = Outbox(engine)
    outbox.enqueue([OutgoingNotice("k:1", "UALICE", "hello")], NOW)
    client = make_web_client(BOT_TOKEN, fake_slack.api_url)
    client.retry_handlers.clear()  # no inline waiting: the outbox must do it
    notices = NoticeService(outbox, say(fake_slack, client))
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=600)
    report = await notices.deliver(["k:1"], NOW)
    assert report.failed == 1
    notice = outbox.by_key("k:1")
    assert notice is not None and notice.next_attempt_at == NOW + timedelta(seconds=600)


async def test_a_notice_given_up_is_counted_and_posted_to_the_admin_channel(
    engine: Engine, fake_slack: FakeSlack
) -> None:
    outbox = Outbox(engine)
    outbox.enqueue([OutgoingNotice("grant:7:expired:recipient", "UGONE", "it ended")], NOW)
    metrics = Metrics()
    notices = NoticeService(
        outbox,
        say(fake_slack),
        admin_channel="C0ADMIN",
        on_given_up=metrics.notice_given_up,
    )
    fake_slack.fail_next("chat.postMessage", error="user_not_found")
    report = await notices.deliver(["grant:7:expired:recipient"], NOW)
    assert report.given_up == 1
    assert metrics.notices_given_up._value.get() == 1
    [post] = fake_slack.messages("C0ADMIN")
    assert "grant:7:expired:recipient" in post["text"] and "it ended" not in post["text"]


# -- invitations ----------------------------------------------------------------------------


async def test_an_invitation_interrupted_after_the_code_is_recovered(
    rt: Runtime, hub_script: FlakyHub, fake_slack: FakeSlack
) -> None:
    grant = intent(rt.grants)
    hub_script.codes["sc_7"] = 0  # made by the hub; the process died before recording it
    report = await rt.sweep.run(NOW)
    assert report.recovered == 1
    [fresh] = rt.grants.grants(states=[GrantState.INVITED])
    assert fresh.id == grant.id and fresh.invite_sent_at is not None
    assert list(hub_script.codes) == [fresh.code_id] and fresh.code_id != "sc_7"
    fake_slack.wait_for_dm("UALICE", "shared")
    assert (await rt.sweep.run(NOW)).recovered == 0  # done once


async def test_an_invitation_held_by_a_live_worker_is_left_alone(
    rt: Runtime, hub_script: FlakyHub
) -> None:
    grant = intent(rt.grants)
    assert rt.grants.claim(grant.id, "alive:2:ffff", now=NOW, ttl=timedelta(minutes=5))
    hub_script.codes["sc_1"] = 0
    assert (await rt.sweep.run(NOW)).recovered == 0
    assert list(hub_script.codes) == ["sc_1"]


async def test_an_interrupted_invitation_too_old_to_resend_fails_and_tells_the_owner(
    rt: Runtime, hub_script: FlakyHub, fake_slack: FakeSlack
) -> None:
    intent(rt.grants, code_id="sc_9")
    hub_script.codes["sc_9"] = 0
    report = await rt.sweep.run(NOW + timedelta(days=2))
    assert report.recovered == 1
    assert rt.grants.grants(states=[GrantState.FAILED])
    assert hub_script.codes == {}
    fake_slack.wait_for_dm("UOWNER", "could not be completed")


async def test_a_share_records_the_intent_then_the_code_then_the_dm(
    rt: Runtime, hub_script: FlakyHub
) -> None:
    await rt.sharing.share("UOWNER", Share(("UALICE",), timedelta(hours=1)), NOW)
    [grant] = rt.grants.grants(states=[GrantState.INVITED])
    assert grant.code_id == "sc_1" and grant.invite_sent_at is not None
    actions = [a.action for a in rt.audit.audit_log(grant_id=grant.id)]
    assert actions == ["invite", "code_created", "invite_sent"]
