"""Service behaviour on failing parts: a real store and fake Slack, a hub that misbehaves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.app.outcomes import RevokeResult
from bot.app.reconcile import Reconciler
from bot.domain.commands import Revoke, Share
from bot.domain.grants import EndReason, GrantState
from bot.errors import HubUnavailable
from bot.hub.client import HubClient
from bot.runtime import Runtime
from bot.sandbox.fake_slack import FakeSlack
from tests.support.flaky_hub import FlakyHub
from tests.support.model_hub import FaultyTransport

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


async def accepted_grant(rt: Runtime, hub_script: FlakyHub) -> None:
    await rt.sharing.share("UOWNER", Share(("UALICE",), timedelta(hours=1)), NOW)
    hub_script.codes["sc_1"] = 1
    hub_script.shares.add("alice")
    report = await rt.sweep.run(NOW + timedelta(minutes=1))
    assert report.accepted == 1


async def test_failed_revocation_is_retried_until_it_succeeds(
    rt: Runtime, hub_script: FlakyHub, fake_slack: FakeSlack
) -> None:
    await accepted_grant(rt, hub_script)
    hub_script.patch_failures = 2
    later = NOW + timedelta(hours=2)
    for attempt in (1, 2):
        report = await rt.sweep.run(later)
        assert report.failures == 1 and report.ended == 0
        [grant] = rt.grants.grants(states=[GrantState.ENDING])
        assert grant.revoke_attempts == attempt and "503" in (grant.last_error or "")
    assert fake_slack.dms_to("UALICE")[-1]["text"].startswith("<@UOWNER> shared")  # not told yet
    report = await rt.sweep.run(later)
    assert report.ended == 1 and hub_script.patches == 3
    assert hub_script.shares == set()
    assert rt.grants.grants(states=[GrantState.EXPIRED])
    fake_slack.wait_for_dm("UALICE", "has ended")
    actions = [a.action for a in rt.audit.audit_log()]
    assert actions.count("revoke_failed") == 2


async def test_revoke_command_reports_pending_when_hub_fails(
    rt: Runtime, hub_script: FlakyHub
) -> None:
    await accepted_grant(rt, hub_script)
    hub_script.patch_failures = 1
    result = await rt.sharing.revoke("UOWNER", Revoke(("UALICE",)), NOW + timedelta(minutes=2))
    assert isinstance(result, RevokeResult)
    assert result.done == () and [g.state for g in result.pending] == [GrantState.ENDING]
    assert len(rt.grants.grants(states=[GrantState.ENDING])) == 1
    report = await rt.sweep.run(NOW + timedelta(minutes=3))
    assert report.ended == 1
    assert rt.grants.grants(states=[GrantState.REVOKED])


async def test_hub_down_while_sharing_leaves_a_failed_invitation(
    rt: Runtime, hub_faults: FaultyTransport
) -> None:
    hub_faults.arm("*", "", times=1000, kind="connect")
    with pytest.raises(HubUnavailable):
        await rt.sharing.share("UOWNER", Share(("UALICE",), timedelta(hours=1)), NOW)
    # the intent is written before the hub is asked (the shares are read while the code
    # is made): it is recorded failed, with why, and nothing is open or on the hub
    [failed] = rt.grants.grants(states=list(GrantState))
    assert failed.state is GrantState.FAILED and failed.code_id is None
    assert [e.action for e in rt.audit.audit_log(grant_id=failed.id)] == ["invite", "invite_failed"]
    # the sweep survives a hub outage and reports it
    report = await rt.sweep.run(NOW)
    assert report.failures == 0  # nothing to check yet


async def test_sweep_survives_hub_outage_with_open_invitations(
    rt: Runtime, hub_faults: FaultyTransport
) -> None:
    await rt.sharing.share("UOWNER", Share(("UALICE",), timedelta(hours=1)), NOW)
    hub_faults.arm("*", "", times=1000, kind="connect")
    report = await rt.sweep.run(NOW + timedelta(minutes=1))
    assert report.failures == 1
    assert rt.grants.grants(states=[GrantState.INVITED])  # nothing forgotten


async def test_a_claimed_grant_is_left_alone_by_other_work_of_the_same_process(
    rt: Runtime, hub_script: FlakyHub
) -> None:
    await accepted_grant(rt, hub_script)
    [grant] = rt.grants.grants(states=[GrantState.ACTIVE])
    endings = rt.sweep.endings
    ending = await endings.start_ending(grant, EndReason.REVOKED, "revoke", NOW)
    assert ending is not None
    # A sweep task holds the grant (say, waiting on the hub) while a click comes in.
    async with endings.claimed(ending) as held:
        assert held is not None
        # someone else is on it: nothing done here, and nothing confirmed to the caller
        assert not await endings.finish(ending, NOW)
        assert hub_script.patches == 0
        report = await rt.sweep.run(NOW + timedelta(minutes=2))
        assert report.ended == 0 and hub_script.patches == 0
    report = await rt.sweep.run(NOW + timedelta(minutes=2))
    assert report.ended == 1 and hub_script.patches == 1


class SkippingHub(FlakyHub):
    """The owner-wide listing misses alice (a page shifted); the per-server one has her."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == "/hub/api/shares/owner":
            return httpx.Response(200, json={"items": [], "_pagination": {"next": None}})
        return super().__call__(request)


async def test_reconciliation_looks_again_before_closing_a_grant(
    rt: Runtime, hub_script: FlakyHub
) -> None:
    await accepted_grant(rt, hub_script)
    skipping = SkippingHub()
    skipping.shares = {"alice"}
    hub = HubClient("http://hub.test/hub/api", "tok", transport=httpx.MockTransport(skipping))
    reconciler = Reconciler(hub=hub, grants=rt.grants, digests=rt.reconciler.digests)
    report = await reconciler.reconcile(NOW + timedelta(minutes=2))
    assert report.revoked_in_hub == 0
    assert rt.grants.grants(states=[GrantState.ACTIVE])  # still ours, still ending on time
    skipping.shares = set()  # now it is really gone
    report = await reconciler.reconcile(NOW + timedelta(minutes=3))
    assert report.revoked_in_hub == 1
    await hub.aclose()
