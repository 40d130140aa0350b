"""Reminders before the end of long grants, Extend, Leave and the Home seam.

Pure rules, then the service with a real store, the fake Slack over HTTP and a scripted hub.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app.decisions import ApprovalConfig
from bot.app.outcomes import (
    Decided,
    Extended,
    ExtensionHeld,
    LeaveResult,
    PostedTo,
    Reason,
    Refusal,
)
from bot.domain.commands import Share
from bot.domain.decisions import DecisionKind, Policy
from bot.domain.grants import (
    EndReason,
    Grant,
    GrantState,
    length_after_extension,
    reminder_due,
)
from bot.runtime import Runtime
from bot.sandbox.fake_slack import FakeSlack
from bot.slack import blocks
from tests.support.factories import NOW, make_grant
from tests.support.flaky_hub import FlakyHub
from tests.support.reminders import active_grant, approvals_runtime

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def grant(**changes: object) -> Grant:
    defaults = {
        "duration": 2 * DAY,
        "created_at": NOW - 2 * DAY,
        "accepted_at": NOW - 2 * DAY + HOUR,
        "expires_at": NOW + HOUR,
    }
    return make_grant(**{**defaults, **changes})


# -- the pure rule --------------------------------------------------------------------


def test_reminder_due_from_its_time_until_the_end() -> None:
    assert reminder_due(grant(remind_at=NOW), NOW)
    assert reminder_due(grant(remind_at=NOW - HOUR, expires_at=NOW + timedelta(seconds=1)), NOW)


@pytest.mark.parametrize(
    "changes",
    [
        {"remind_at": NOW + timedelta(seconds=1)},  # too early
        {"remind_at": NOW - HOUR, "expires_at": NOW},  # due to expire: no reminder any more
        {"remind_at": NOW, "reminded_at": NOW - timedelta(minutes=5)},  # once
        {"remind_at": None},  # reminders off when it was accepted, or no end
        {"remind_at": NOW, "state": GrantState.INVITED},
        {"remind_at": NOW, "state": GrantState.ENDING},
        {"remind_at": NOW, "expires_at": None},
    ],
)
def test_no_reminder(changes: dict[str, object]) -> None:
    assert not reminder_due(grant(**changes), NOW)


def test_length_after_extension_counts_from_acceptance() -> None:
    g = grant(accepted_at=NOW - 2 * DAY + HOUR, expires_at=NOW + HOUR)
    assert length_after_extension(g, 2 * DAY) == 4 * DAY


def test_extend_button_carries_id_and_deadline() -> None:
    g = grant(id=42)
    [_, actions] = [b.to_dict() for b in blocks.reminder_for_owner(g)]
    [button] = actions["elements"]
    assert button["action_id"] == blocks.EXTEND_ACTION and button["text"]["text"] == "Extend by 2d"
    assert blocks.extend_target(button["value"]) == (42, int(NOW.timestamp()) + 3600)
    assert blocks.extend_target("42") is None and blocks.extend_target(None) is None


# -- the service ----------------------------------------------------------------------


@pytest.fixture
async def rt(tmp_path: Path, fake_slack: FakeSlack, hub_script: FlakyHub) -> AsyncIterator[Runtime]:
    async with approvals_runtime(tmp_path, fake_slack, hub_script) as runtime:
        yield runtime


def reminders(fake: FakeSlack, user: str) -> list[str]:
    return [m["text"] for m in fake.dms_to(user) if ":hourglass_flowing_sand:" in m["text"]]


async def test_reminder_sent_once_then_extend(
    rt: Runtime, hub_script: FlakyHub, fake_slack: FakeSlack
) -> None:
    g = await active_grant(rt, hub_script, 2 * DAY)
    assert g.expires_at is not None
    before_end = g.expires_at - timedelta(minutes=30)
    assert g.remind_at is not None and g.remind_at < before_end
    assert (await rt.sweep.run(g.remind_at - timedelta(seconds=1))).reminded == 0
    assert (await rt.sweep.run(before_end)).reminded == 1
    assert (await rt.sweep.run(before_end + timedelta(minutes=1))).reminded == 0
    assert len(reminders(fake_slack, "UOWNER")) == 1 and len(reminders(fake_slack, "UALICE")) == 1
    owner_dm = next(m for m in fake_slack.dms_to("UOWNER") if ":hourglass" in m["text"])
    value = owner_dm["blocks"][1]["elements"][0]["value"]
    target = blocks.extend_target(value)
    assert target is not None

    # only the owner may extend
    refused = await rt.decisions.extend(target[0], target[1], "UALICE", before_end)
    assert refused == Refusal(Reason.ONLY_OWNER_EXTENDS)
    assert rt.grants.get(g.id) == replace(g, reminded_at=before_end, state=GrantState.ACTIVE)

    answer = await rt.decisions.extend(target[0], target[1], "UOWNER", before_end)
    extended = rt.grants.get(g.id)
    assert answer == Extended(extended)  # type: ignore[arg-type]
    assert extended is not None and extended.expires_at == g.expires_at + 2 * DAY
    assert extended.reminded_at is None  # the new end is announced again
    fake_slack.wait_for_dm("UALICE", "extended your access")
    # a second click on the same button extends nothing
    again = await rt.decisions.extend(target[0], target[1], "UOWNER", before_end)
    assert again == Refusal(Reason.ALREADY_EXTENDED, grant=extended)
    assert rt.grants.get(g.id) == extended
    assert [a.action for a in rt.audit.audit_log(grant_id=g.id)].count("extended") == 1
    # the Home tabs of both were refreshed after the extension
    home = fake_slack.home_view("UOWNER")
    assert home is not None and "active until" in str(home["blocks"])


async def test_extension_needing_approval_goes_to_an_approver(
    rt: Runtime, hub_script: FlakyHub, fake_slack: FakeSlack
) -> None:
    rt.decisions.config = ApprovalConfig(
        policy=Policy(approval_above=3 * DAY), approvers=("UAPPR",)
    )
    g = await active_grant(rt, hub_script, 2 * DAY)
    assert g.expires_at is not None
    answer = await rt.decisions.extend(g.id, int(g.expires_at.timestamp()), "UOWNER", NOW)
    assert isinstance(answer, ExtensionHeld) and answer.posted_to == PostedTo(people=("UAPPR",))
    assert rt.grants.get(g.id) == g  # not extended yet
    again = await rt.decisions.extend(g.id, int(g.expires_at.timestamp()), "UOWNER", NOW)
    assert again == Refusal(Reason.EXTENSION_PENDING)
    [pending] = rt.decisions.decisions.pending()
    assert pending.kind is DecisionKind.EXTENSION and pending.grant_id == g.id
    ask = fake_slack.wait_for_dm("UAPPR", "wants to extend a share by 2d")
    assert "4d in all" in ask["text"]
    mine = await rt.decisions.approve(pending.id, "UOWNER", NOW)  # not their own
    assert mine == Refusal(Reason.NOT_A_DECIDER, decision=pending)
    done = await rt.decisions.approve(pending.id, "UAPPR", NOW, duration=DAY)
    assert isinstance(done, Decided) and done.detail is None
    assert done.decision.approved_duration == DAY
    extended = rt.grants.get(g.id)
    assert extended is not None and extended.expires_at == g.expires_at + DAY
    fake_slack.wait_for_dm("UOWNER", "Extended: <@UALICE> keeps access")


async def test_leave_ends_access_and_tells_the_owner(
    rt: Runtime, hub_script: FlakyHub, fake_slack: FakeSlack
) -> None:
    g = await active_grant(rt, hub_script, HOUR)
    refused = await rt.sharing.leave(g.id, "UOWNER", NOW)
    assert refused == Refusal(Reason.ONLY_RECIPIENT_LEAVES)
    assert hub_script.shares == {"alice"}
    answer = await rt.sharing.leave(g.id, "UALICE", NOW)
    assert isinstance(answer, LeaveResult) and answer.done
    assert hub_script.shares == set()
    left = rt.grants.get(g.id)
    assert left is not None and left.state is GrantState.REVOKED
    fake_slack.wait_for_dm("UOWNER", "<@UALICE> left your share")
    assert "left" in [a.action for a in rt.audit.audit_log(grant_id=g.id)]
    assert await rt.sharing.leave(g.id, "UALICE", NOW) == Refusal(Reason.SHARE_CLOSED)
    home = fake_slack.home_view("UALICE")
    assert home is not None and "Nobody is sharing a server with you" in str(home["blocks"])


async def test_decline_an_invitation(
    rt: Runtime, hub_script: FlakyHub, fake_slack: FakeSlack
) -> None:
    await rt.sharing.share("UOWNER", Share(("UALICE",), HOUR), NOW)
    [g] = rt.grants.grants(states=[GrantState.INVITED])
    declined = await rt.sharing.leave(g.id, "UALICE", NOW)
    assert isinstance(declined, LeaveResult) and declined.done
    assert declined.grant.state is GrantState.CANCELLED
    assert hub_script.codes == {}
    fake_slack.wait_for_dm("UOWNER", "declined your invitation")


async def test_a_failing_home_never_breaks_the_action(
    rt: Runtime, hub_script: FlakyHub, fake_slack: FakeSlack
) -> None:
    fake_slack.fail_next("views.publish", error="internal_error", times=10)
    outcome = await rt.sharing.share("UOWNER", Share(("UALICE",), HOUR), NOW)
    assert len(outcome.invited) == 1
    assert [c.error for c in fake_slack.calls("views.publish")] == ["internal_error"] * 2


async def test_extension_stays_within_the_longest_share(rt: Runtime, hub_script: FlakyHub) -> None:
    rt.decisions.config = ApprovalConfig(policy=Policy(), max_duration=3 * DAY)
    g = await active_grant(rt, hub_script, 2 * DAY)
    assert g.expires_at is not None
    answer = await rt.decisions.extend(g.id, int(g.expires_at.timestamp()), "UOWNER", NOW)
    assert answer == Refusal(Reason.EXTENSION_OVER_LIMIT, grant=g, total=4 * DAY, limit=3 * DAY)
    assert rt.grants.get(g.id) == g


async def test_no_extension_once_the_deadline_has_passed(rt: Runtime, hub_script: FlakyHub) -> None:
    g = await active_grant(rt, hub_script, 2 * DAY)
    assert g.expires_at is not None
    late = g.expires_at + timedelta(seconds=1)
    answer = await rt.decisions.extend(g.id, int(g.expires_at.timestamp()), "UOWNER", late)
    assert answer == Refusal(Reason.CANNOT_EXTEND, grant=g)
    assert rt.grants.get(g.id) == g


async def test_an_expiry_read_before_an_extension_does_not_end_the_grant(
    rt: Runtime, hub_script: FlakyHub
) -> None:
    g = await active_grant(rt, hub_script, 2 * DAY)
    assert g.expires_at is not None
    extended = await rt.sharing.extend(g, DAY, "UOWNER", NOW)  # after the sweep read `g`
    assert extended is not None
    assert await rt.sweep.endings.start_ending(g, EndReason.EXPIRED, "expire", NOW) is None
    assert rt.grants.mark_reminded(g, now=NOW) is None  # nor remind of the old end
    assert rt.grants.get(g.id) == extended
