"""The services the reminder and more-time tests drive: an approver (UAPPR) for extensions
past the policy, UOWNER linked to owner and UALICE to alice, and a share to alice made
active."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx

from bot.app.decisions import ApprovalConfig
from bot.domain.commands import Share
from bot.domain.decisions import Policy
from bot.domain.grants import Grant, GrantState
from bot.runtime import Runtime
from bot.sandbox.fake_slack import FakeSlack
from bot.store.db import ensure_schema, make_engine
from tests.support.factories import NOW
from tests.support.flaky_hub import FlakyHub
from tests.support.services import services


@asynccontextmanager
async def approvals_runtime(
    tmp_path: Path, fake_slack: FakeSlack, hub_script: FlakyHub
) -> AsyncIterator[Runtime]:
    """Every service on a new SQLite database under ``tmp_path``, the scripted hub and the
    Slack stand-in, with UAPPR as the approver."""
    engine = make_engine(f"sqlite:///{tmp_path / 's.sqlite'}")
    ensure_schema(engine)
    runtime = services(
        engine, fake_slack.api_url, transport=httpx.MockTransport(hub_script), approvers="UAPPR"
    )
    runtime.links.link("UOWNER", "owner", method="admin", by="t", now=NOW)
    runtime.links.link("UALICE", "alice", method="admin", by="t", now=NOW)
    runtime.decisions.config = ApprovalConfig(policy=Policy(), approvers=("UAPPR",))
    try:
        yield runtime
    finally:
        await runtime.aclose()


async def active_grant(rt: Runtime, hub_script: FlakyHub, duration: timedelta) -> Grant:
    """owner's share with alice for ``duration``, made at ``NOW`` and accepted a minute later."""
    await rt.sharing.share("UOWNER", Share(("UALICE",), duration), NOW)
    hub_script.codes["sc_1"] = 1
    hub_script.shares.add("alice")
    assert (await rt.sweep.run(NOW + timedelta(minutes=1))).accepted == 1
    [active] = rt.grants.grants(states=[GrantState.ACTIVE])
    return active
