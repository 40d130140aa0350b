"""Slack user groups expanded into a share's recipients (bot.app.groups): the owner and
unlinked members left out and named, the cap, each member shared with once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.app.groups import Groups, over_cap
from bot.app.outcomes import LeftOut, Reason, Refused, ShareOutcome
from bot.domain.commands import Share
from bot.runtime import Runtime
from bot.sandbox.fake_slack import FakeSlack
from bot.slack.replies import reply

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def groups(rt: Runtime, cap: int = 200) -> Groups:
    assert rt.decisions.groups is not None
    return Groups(say=rt.decisions.groups.say, identities=rt.sharing.identities, max_recipients=cap)


@pytest.mark.parametrize(
    ("count", "cap", "over"), [(200, 200, False), (201, 200, True), (1, 1, False), (5, 0, False)]
)
def test_over_cap(count: int, cap: int, over: bool) -> None:
    assert over_cap(count, cap) is over


async def test_members_join_the_people_named_the_owner_and_unlinked_left_out(
    rt: Runtime, fake_slack: FakeSlack
) -> None:
    rt.links.link("UBOB", "bob", method="admin", by="t", now=NOW)
    fake_slack.add_usergroup("S1", "tas", ["UOWNER", "UALICE", "UBOB", "UNOLINK"])
    cmd = Share(("UALICE",), HOUR, groups=("S1",))
    expanded, left = await groups(rt).expand("UOWNER", cmd, NOW)
    assert expanded.recipients == ("UALICE", "UBOB") and expanded.groups == ()
    assert left.owner and left.unlinked == ("UNOLINK",)
    words = reply(left)
    assert "yourself" in words and "<@UNOLINK>" in words and "not linked" in words


async def test_no_groups_no_slack_call(rt: Runtime, fake_slack: FakeSlack) -> None:
    cmd = Share(("UALICE",), HOUR)
    assert await groups(rt).expand("UOWNER", cmd, NOW) == (cmd, LeftOut())
    assert fake_slack.calls("usergroups.users.list") == []


async def test_a_group_over_the_cap_is_refused_before_anyone_is_looked_up(
    rt: Runtime, fake_slack: FakeSlack
) -> None:
    fake_slack.add_usergroup("S1", "big", ["UOWNER", *(f"U{n:03d}" for n in range(4))])
    with pytest.raises(Refused) as info:
        await groups(rt, cap=3).expand("UOWNER", Share((), HOUR, groups=("S1",)), NOW)
    refusal = info.value.refusal
    assert refusal.reason is Reason.TOO_MANY_RECIPIENTS
    assert (refusal.count, refusal.cap) == (4, 3)  # the owner is not counted
    assert "more than the 3" in reply(refusal) and "Nothing was shared" in reply(refusal)
    # exactly at the cap is fine
    fake_slack.add_usergroup("S2", "ok", ["UALICE", "U001", "U002"])
    expanded, left = await groups(rt, cap=3).expand("UOWNER", Share((), HOUR, groups=("S2",)), NOW)
    assert expanded.recipients == ("UALICE",) and left.unlinked == ("U001", "U002")


async def test_people_named_over_the_cap_are_refused(rt: Runtime) -> None:
    with pytest.raises(Refused) as info:
        await groups(rt, cap=1).expand("UOWNER", Share(("UALICE", "UBOB"), HOUR), NOW)
    assert info.value.refusal.reason is Reason.TOO_MANY_RECIPIENTS


async def test_a_group_with_nobody_to_share_with(rt: Runtime, fake_slack: FakeSlack) -> None:
    fake_slack.add_usergroup("S1", "alone", ["UOWNER", "UNOLINK"])
    with pytest.raises(Refused) as info:
        await groups(rt).expand("UOWNER", Share((), HOUR, groups=("S1",)), NOW)
    assert info.value.refusal.reason is Reason.NOBODY_TO_SHARE_WITH
    assert "<@UNOLINK>" in reply(info.value.refusal)


async def test_share_or_hold_invites_each_member_once_with_progress(
    rt: Runtime, fake_slack: FakeSlack
) -> None:
    rt.links.link("UBOB", "bob", method="admin", by="t", now=NOW)
    fake_slack.add_usergroup("S1", "tas", ["UOWNER", "UALICE", "UBOB", "UNOLINK"])
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    outcome = await rt.decisions.share_or_hold(
        "UOWNER", Share(("UALICE",), HOUR, groups=("S1",)), NOW, progress=progress
    )
    assert isinstance(outcome, ShareOutcome)
    assert [g.recipient_slack_id for g in outcome.invited] == ["UALICE", "UBOB"]
    assert outcome.left_out.unlinked == ("UNOLINK",)
    assert sorted(seen) == [(1, 2), (2, 2)]
    assert len(fake_slack.dms_to("UALICE")) == 1 and len(fake_slack.dms_to("UBOB")) == 1
    assert fake_slack.dms_to("UOWNER") == [] and fake_slack.dms_to("UNOLINK") == []
    assert "<@UNOLINK>" in reply(outcome)
