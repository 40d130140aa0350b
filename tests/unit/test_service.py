"""Service behaviour on failing parts: a real store and fake Slack, a hub that misbehaves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.app.digest import DigestConfig, DigestService
from bot.app.identity import IdentityResolver
from bot.app.sharing import ShareService
from bot.domain.commands import Revoke, Share
from bot.domain.digest import Schedule
from bot.domain.grants import EndReason, GrantState
from bot.errors import HubUnavailable
from bot.hub.client import HubClient
from bot.sandbox.fake_slack import FakeSlack
from bot.slack.messenger import SlackMessenger, make_web_client
from bot.store.db import ensure_schema, make_engine
from bot.store.digests import Digests
from bot.store.repository import Repository
from tests.support.flaky_hub import FlakyHub

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
async def service(
    tmp_path: Path, fake_slack: FakeSlack, hub_script: FlakyHub
) -> AsyncIterator[ShareService]:
    engine = make_engine(f"sqlite:///{tmp_path / 's.sqlite'}")
    ensure_schema(engine)
    repo = Repository(engine)
    repo.link("UOWNER", "owner", method="admin", by="t", now=NOW)
    repo.link("UALICE", "alice", method="admin", by="t", now=NOW)
    hub = HubClient("http://hub.test/hub/api", "tok", transport=httpx.MockTransport(hub_script))
    messenger = SlackMessenger(make_web_client("xoxb-test", fake_slack.api_url))
    yield ShareService(
        hub=hub,
        repo=repo,
        messenger=messenger,
        identities=IdentityResolver(repo=repo, hub=hub, messenger=messenger),
        public_url="https://hub.example.org",
        invite_ttl=timedelta(hours=24),
    )
    await hub.aclose()
    engine.dispose()


async def accepted_grant(service: ShareService, hub_script: FlakyHub) -> None:
    await service.share("UOWNER", Share(("UALICE",), timedelta(hours=1)), NOW)
    hub_script.codes["sc_1"] = 1
    hub_script.shares.add("alice")
    report = await service.sweep(NOW + timedelta(minutes=1))
    assert report.accepted == 1


async def test_failed_revocation_is_retried_until_it_succeeds(
    service: ShareService, hub_script: FlakyHub, fake_slack: FakeSlack
) -> None:
    await accepted_grant(service, hub_script)
    hub_script.patch_failures = 2
    later = NOW + timedelta(hours=2)
    for attempt in (1, 2):
        report = await service.sweep(later)
        assert report.failures == 1 and report.ended == 0
        [grant] = service.repo.grants(states=[GrantState.ENDING])
        assert grant.revoke_attempts == attempt and "503" in (grant.last_error or "")
    assert fake_slack.dms_to("UALICE")[-1]["text"].startswith("<@UOWNER> shared")  # not told yet
    report = await service.sweep(later)
    assert report.ended == 1 and hub_script.patches == 3
    assert hub_script.shares == set()
    assert service.repo.grants(states=[GrantState.EXPIRED])
    fake_slack.wait_for_dm("UALICE", "has ended")
    actions = [a.action for a in service.repo.audit_log()]
    assert actions.count("revoke_failed") == 2


async def test_revoke_command_reports_pending_when_hub_fails(
    service: ShareService, hub_script: FlakyHub
) -> None:
    await accepted_grant(service, hub_script)
    hub_script.patch_failures = 1
    text = await service.revoke("UOWNER", Revoke(("UALICE",)), NOW + timedelta(minutes=2))
    assert "I will keep trying" in text
    assert len(service.repo.grants(states=[GrantState.ENDING])) == 1
    report = await service.sweep(NOW + timedelta(minutes=3))
    assert report.ended == 1
    assert service.repo.grants(states=[GrantState.REVOKED])


async def test_hub_down_while_sharing_records_nothing(
    service: ShareService, hub_script: FlakyHub
) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    service.hub = HubClient("http://hub.test/hub/api", "tok", transport=httpx.MockTransport(down))
    with pytest.raises(HubUnavailable):
        await service.share("UOWNER", Share(("UALICE",), timedelta(hours=1)), NOW)
    assert service.repo.grants(states=list(GrantState)) == []
    # the sweep survives a hub outage and reports it
    report = await service.sweep(NOW)
    assert report.failures == 0  # nothing to check yet


async def test_sweep_survives_hub_outage_with_open_invitations(
    service: ShareService, hub_script: FlakyHub
) -> None:
    await service.share("UOWNER", Share(("UALICE",), timedelta(hours=1)), NOW)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    service.hub = HubClient("http://hub.test/hub/api", "tok", transport=httpx.MockTransport(down))
    report = await service.sweep(NOW + timedelta(minutes=1))
    assert report.failures == 1
    assert service.repo.grants(states=[GrantState.INVITED])  # nothing forgotten


async def test_a_claimed_grant_is_left_alone_by_other_work_of_the_same_process(
    service: ShareService, hub_script: FlakyHub
) -> None:
    await accepted_grant(service, hub_script)
    [grant] = service.repo.grants(states=[GrantState.ACTIVE])
    ending = await service._start_ending(grant, EndReason.REVOKED, "revoke", NOW)
    assert ending is not None
    # A sweep task holds the grant (say, waiting on the hub) while a click comes in.
    async with service._claimed(ending, NOW) as held:
        assert held is not None
        # someone else is on it: nothing done here, and nothing confirmed to the caller
        assert not await service._finish(ending, NOW)
        assert hub_script.patches == 0
        report = await service.sweep(NOW + timedelta(minutes=2))
        assert report.ended == 0 and hub_script.patches == 0
    report = await service.sweep(NOW + timedelta(minutes=2))
    assert report.ended == 1 and hub_script.patches == 1


class SkippingHub(FlakyHub):
    """The owner-wide listing misses alice (a page shifted); the per-server one has her."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == "/hub/api/shares/owner":
            return httpx.Response(200, json={"items": [], "_pagination": {"next": None}})
        return super().__call__(request)


async def test_reconciliation_looks_again_before_closing_a_grant(
    service: ShareService, hub_script: FlakyHub
) -> None:
    await accepted_grant(service, hub_script)
    skipping = SkippingHub()
    skipping.shares = {"alice"}
    hub = HubClient("http://hub.test/hub/api", "tok", transport=httpx.MockTransport(skipping))
    digest = DigestService(
        hub=hub,
        repo=service.repo,
        digests=Digests(service.repo.engine),
        shares=service,
        messenger=service.messenger,
        config=DigestConfig(schedule=Schedule(at=None, days=frozenset(), tz=UTC)),
    )
    report = await digest.reconcile(NOW + timedelta(minutes=2))
    assert report.revoked_in_hub == 0
    assert service.repo.grants(states=[GrantState.ACTIVE])  # still ours, still ending on time
    skipping.shares = set()  # now it is really gone
    report = await digest.reconcile(NOW + timedelta(minutes=3))
    assert report.revoked_in_hub == 1
    await hub.aclose()
