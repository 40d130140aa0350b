"""Ask for more time (the recipient's reminder), Share again (the owner's end DM) and
Extend on the Home tab: the use cases with a real store, the Slack stand-in over HTTP and
a scripted hub, and their blocks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app.decisions import ApprovalConfig
from bot.app.messages import HomeTab as HomeData
from bot.app.outcomes import (
    Decided,
    Extended,
    ExtensionHeld,
    Held,
    PostedTo,
    Reason,
    Refusal,
    RequestSent,
    ShareOutcome,
)
from bot.domain.decisions import DecisionKind, DecisionState, Policy
from bot.domain.grants import GrantState
from bot.runtime import Runtime
from bot.sandbox.fake_slack import FakeSlack
from bot.slack import blocks
from bot.slack import home_view as home
from bot.slack.home_view import home_view
from tests.support.factories import NOW, make_grant
from tests.support.flaky_hub import FlakyHub
from tests.support.reminders import active_grant, approvals_runtime

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture
async def rt(tmp_path: Path, fake_slack: FakeSlack, hub_script: FlakyHub) -> AsyncIterator[Runtime]:
    """The services with an approver (UAPPR), as in test_reminders."""
    async with approvals_runtime(tmp_path, fake_slack, hub_script) as runtime:
        yield runtime


def deadline(g: object) -> int:
    return int(g.expires_at.timestamp())  # type: ignore[attr-defined]


# -- blocks -------------------------------------------------------------------------------


def test_the_recipients_reminder_asks_for_more_time_for_its_deadline() -> None:
    g = make_grant(id=7, duration=2 * HOUR, expires_at=NOW + HOUR)
    [_, actions] = [b.to_dict() for b in blocks.reminder_for_recipient(g)]
    [button] = actions["elements"]
    assert button["action_id"] == blocks.MORE_TIME_ACTION
    assert button["text"]["text"] == "Ask for 2h more"
    assert blocks.extend_target(button["value"]) == (7, int((NOW + HOUR).timestamp()))


def test_home_has_extend_under_each_active_share_with_an_end() -> None:
    active = make_grant(id=1, state=GrantState.ACTIVE, expires_at=NOW + HOUR)
    invited = make_grant(id=2, state=GrantState.INVITED, code_expires_at=NOW)
    forever = make_grant(id=3, state=GrantState.ACTIVE, expires_at=None)
    view = home_view(HomeData(hub_user="owner", shared_by=[active, invited, forever])).to_dict()
    extend = [
        e["value"]
        for b in view["blocks"]
        for e in b.get("elements") or []
        if e.get("action_id") == blocks.EXTEND_ACTION
    ]
    assert extend == [f"1@{int((NOW + HOUR).timestamp())}"]  # what the reminder's Extend has
    text = json.dumps(view)
    assert "it can be extended once it is" in text and "No end" in text
    revoke = [b for b in view["blocks"] if (b.get("accessory") or {}).get("action_id")]
    assert {b["accessory"]["action_id"] for b in revoke} == {home.REVOKE_ACTION}


# -- ask for more time -------------------------------------------------------------------


async def test_more_time_asked_by_the_recipient_approved_by_the_owner(
    rt: Runtime,
    hub_script: FlakyHub,
    fake_slack: FakeSlack,
) -> None:
    g = await active_grant(rt, hub_script, 2 * HOUR)
    assert g.expires_at is not None and g.remind_at == g.expires_at - timedelta(minutes=12)
    assert (await rt.sweep.run(g.remind_at)).reminded == 1
    reminder = fake_slack.wait_for_dm("UALICE", "Save your work")
    [button] = reminder["blocks"][1]["elements"]
    target = blocks.extend_target(button["value"])
    assert target == (g.id, deadline(g))

    assert await rt.decisions.ask_more_time(g.id, deadline(g), "UOWNER", NOW) == Refusal(
        Reason.ONLY_RECIPIENT_ASKS
    )
    asked = await rt.decisions.ask_more_time(g.id, deadline(g), "UALICE", NOW)
    assert isinstance(asked, RequestSent) and asked.posted_to == PostedTo(people=("UOWNER",))
    assert asked.decision.kind is DecisionKind.MORE_TIME and asked.decision.grant_id == g.id
    again = await rt.decisions.ask_more_time(g.id, deadline(g), "UALICE", NOW)
    assert again == Refusal(Reason.MORE_TIME_PENDING)
    ask = fake_slack.wait_for_dm("UOWNER", "asks for more time")
    assert "2h longer" in ask["text"]
    # nobody but the owner decides; the recipient cannot approve their own time
    mine = await rt.decisions.approve(asked.decision.id, "UALICE", NOW)
    assert isinstance(mine, Refusal) and mine.reason is Reason.NOT_A_DECIDER

    done = await rt.decisions.approve(asked.decision.id, "UOWNER", NOW, duration=HOUR)
    assert isinstance(done, Decided) and done.detail is None
    extended = rt.grants.get(g.id)
    assert extended is not None and extended.expires_at == g.expires_at + HOUR
    assert extended.reminded_at is None and extended.remind_at is not None
    assert NOW < extended.remind_at < extended.expires_at  # the new end is announced again
    told = fake_slack.wait_for_dm("UALICE", "Your request for")
    assert "Approved for 1h" in told["text"]
    fake_slack.wait_for_dm("UALICE", "extended your access")
    # the old reminder's button now asks nothing
    stale = await rt.decisions.ask_more_time(g.id, deadline(g), "UALICE", NOW)
    assert stale == Refusal(Reason.ALREADY_EXTENDED, grant=extended)


async def test_more_time_denied_tells_the_recipient(
    rt: Runtime,
    hub_script: FlakyHub,
    fake_slack: FakeSlack,
) -> None:
    g = await active_grant(rt, hub_script, 2 * HOUR)
    asked = await rt.decisions.ask_more_time(g.id, deadline(g), "UALICE", NOW)
    assert isinstance(asked, RequestSent)
    denied = await rt.decisions.deny(asked.decision.id, "UOWNER", "not today", NOW)
    assert isinstance(denied, Decided) and denied.decision.state is DecisionState.DENIED
    assert "not today" in fake_slack.wait_for_dm("UALICE", "Denied")["text"]
    assert rt.grants.get(g.id) == g


async def test_more_time_approved_by_the_owner_still_needs_the_approver_policy_asks(
    rt: Runtime,
    hub_script: FlakyHub,
    fake_slack: FakeSlack,
) -> None:
    rt.decisions.config = ApprovalConfig(
        policy=Policy(approval_above=3 * HOUR), approvers=("UAPPR",)
    )
    g = await active_grant(rt, hub_script, 2 * HOUR)
    asked = await rt.decisions.ask_more_time(g.id, deadline(g), "UALICE", NOW)
    assert isinstance(asked, RequestSent)
    done = await rt.decisions.approve(asked.decision.id, "UOWNER", NOW)
    assert isinstance(done, Decided) and done.detail is None
    assert rt.grants.get(g.id) == g  # not yet: 4h in all is above 3h
    [held] = rt.decisions.decisions.pending()
    assert held.kind is DecisionKind.EXTENSION and held.grant_id == g.id
    assert held.requester_slack_id == "UOWNER"
    fake_slack.wait_for_dm("UAPPR", "wants to extend a share by 2h")
    assert "needs approval" in fake_slack.wait_for_dm("UALICE", "Your request for")["text"]
    approved = await rt.decisions.approve(held.id, "UAPPR", NOW)
    assert isinstance(approved, Decided)
    extended = rt.grants.get(g.id)
    assert extended is not None and extended.expires_at == g.expires_at + 2 * HOUR  # type: ignore[operator]


async def test_more_time_within_the_longest_share_only(
    rt: Runtime,
    hub_script: FlakyHub,
) -> None:
    rt.decisions.config = ApprovalConfig(policy=Policy(), max_duration=3 * HOUR)
    g = await active_grant(rt, hub_script, 2 * HOUR)
    refused = await rt.decisions.ask_more_time(g.id, deadline(g), "UALICE", NOW)
    assert refused == Refusal(Reason.EXTENSION_OVER_LIMIT, grant=g, total=4 * HOUR, limit=3 * HOUR)
    assert rt.decisions.decisions.pending() == []


async def test_more_time_approved_after_the_share_ended_fails_clearly(
    rt: Runtime,
    hub_script: FlakyHub,
    fake_slack: FakeSlack,
) -> None:
    g = await active_grant(rt, hub_script, 2 * HOUR)
    asked = await rt.decisions.ask_more_time(g.id, deadline(g), "UALICE", NOW)
    assert isinstance(asked, RequestSent)
    assert g.expires_at is not None
    assert asked.decision.expires_at <= g.expires_at  # moot once the share has ended
    await rt.sharing.revoke_grant(g.id, "UOWNER", NOW)  # ended before the owner approved
    done = await rt.decisions.approve(asked.decision.id, "UOWNER", NOW)
    assert isinstance(done, Decided) and done.detail is not None
    assert rt.decisions.decisions.get(asked.decision.id).state is DecisionState.FAILED  # type: ignore[union-attr]
    fake_slack.wait_for_dm("UALICE", "sharing failed")


# -- share again ---------------------------------------------------------------------------


async def test_share_again_from_the_owners_end_dm(
    rt: Runtime,
    hub_script: FlakyHub,
    fake_slack: FakeSlack,
) -> None:
    g = await active_grant(rt, hub_script, 2 * HOUR)
    assert await rt.decisions.share_again(g.id, "UOWNER", NOW) == Refusal(
        Reason.SHARE_AGAIN_NOT_ENDED, grant=g
    )
    assert g.expires_at is not None
    assert (await rt.sweep.run(g.expires_at)).ended == 1
    ended = fake_slack.wait_for_dm("UOWNER", "has ended")
    [button] = ended["blocks"][1]["elements"]
    assert button["action_id"] == blocks.SHARE_AGAIN_ACTION and button["value"] == str(g.id)
    assert "Share again" not in json.dumps(fake_slack.dms_to("UALICE"))  # the owner's only

    assert await rt.decisions.share_again(g.id, "UALICE", NOW) == Refusal(
        Reason.ONLY_OWNER_SHARES_AGAIN
    )
    again = await rt.decisions.share_again(g.id, "UOWNER", g.expires_at)
    assert isinstance(again, ShareOutcome) and len(again.invited) == 1
    [new] = again.invited
    assert (new.recipient_slack_id, new.server, new.duration, new.extras) == (
        "UALICE",
        g.server,
        g.duration,
        g.extras,
    )
    assert new.id != g.id and new.state is GrantState.INVITED
    twice = await rt.decisions.share_again(g.id, "UOWNER", g.expires_at)
    assert twice == Refusal(Reason.SHARE_AGAIN_OPEN, grant=rt.grants.get(new.id))


async def test_share_again_goes_through_policy_and_the_longest_share(
    rt: Runtime,
    hub_script: FlakyHub,
) -> None:
    g = await active_grant(rt, hub_script, 2 * HOUR)
    assert g.expires_at is not None
    assert (await rt.sweep.run(g.expires_at)).ended == 1
    rt.decisions.config = ApprovalConfig(policy=Policy(), max_duration=HOUR)
    refused = await rt.decisions.share_again(g.id, "UOWNER", g.expires_at)
    assert refused == Refusal(Reason.SHARE_AGAIN_TOO_LONG, grant=rt.grants.get(g.id), limit=HOUR)
    rt.decisions.config = ApprovalConfig(policy=Policy(approval_above=HOUR), approvers=("UAPPR",))
    held = await rt.decisions.share_again(g.id, "UOWNER", g.expires_at)
    assert isinstance(held, Held)
    assert rt.grants.grants(states=[GrantState.INVITED]) == []
    assert not isinstance(held, (Extended, ExtensionHeld))
