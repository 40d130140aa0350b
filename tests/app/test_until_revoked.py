"""Shares without an end: grammar, policy, deadlines, storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from bot.domain.commands import Request, Share, parse_command
from bot.domain.decisions import DecisionKind, DecisionState, Policy, shorter_durations
from bot.domain.durations import (
    UNTIL_REVOKED,
    for_how_long,
    format_duration,
    from_seconds,
    is_until_revoked,
    to_seconds,
)
from bot.domain.grants import GrantState, deadline_after_acceptance
from bot.errors import CommandError
from bot.store.decisions import Decisions
from bot.store.grants import Grants
from bot.store.models import GrantRow
from tests.support.factories import new_grant

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
MAX = timedelta(days=7)


def test_refused_unless_allowed_with_a_clear_message() -> None:
    with pytest.raises(CommandError, match="SHAREBOT_ALLOW_UNTIL_REVOKED"):
        parse_command("<@UALICE> until-revoked", max_duration=MAX)
    with pytest.raises(CommandError, match="not enabled"):
        parse_command("request <@UBOB> until-revoked", max_duration=MAX)


def test_accepted_when_allowed() -> None:
    cmd = parse_command(
        "<@UALICE> until-revoked server:gpu long project",
        max_duration=MAX,
        allow_until_revoked=True,
    )
    assert cmd == Share(("UALICE",), UNTIL_REVOKED, "gpu", "long project")
    cmd = parse_command("request <@UBOB> Until-Revoked", max_duration=MAX, allow_until_revoked=True)
    assert isinstance(cmd, Request) and cmd.duration == UNTIL_REVOKED
    # ordinary durations are still limited by the maximum
    with pytest.raises(CommandError, match="longer than"):
        parse_command("<@UALICE> 8d", max_duration=MAX, allow_until_revoked=True)


def test_durations() -> None:
    assert is_until_revoked(UNTIL_REVOKED) and not is_until_revoked(timedelta(days=3650))
    assert format_duration(UNTIL_REVOKED) == "until revoked"
    assert for_how_long(UNTIL_REVOKED) == "until revoked"
    assert for_how_long(timedelta(hours=2)) == "for 2h"
    assert to_seconds(UNTIL_REVOKED) is None and from_seconds(None) == UNTIL_REVOKED
    assert from_seconds(to_seconds(timedelta(minutes=90))) == timedelta(minutes=90)


def test_no_deadline() -> None:
    assert deadline_after_acceptance(NOW, UNTIL_REVOKED) is None
    assert deadline_after_acceptance(NOW, timedelta(hours=1)) == NOW + timedelta(hours=1)


def test_policy_treats_it_as_above_any_threshold() -> None:
    assert Policy(approval_above=timedelta(days=300)).reasons(UNTIL_REVOKED, ()) == [
        "it has no end (until revoked)"
    ]
    assert Policy().reasons(UNTIL_REVOKED, ()) == []  # no threshold: no approval needed
    assert shorter_durations(UNTIL_REVOKED)[-1] == timedelta(days=5)  # approve for less


def test_stored_as_null_and_read_back(engine: Engine) -> None:
    repo = Grants(engine)
    grant = repo.add_grant(
        new_grant(duration=UNTIL_REVOKED),
        now=NOW,
    )
    with engine.connect() as connection:
        stored = connection.execute(select(GrantRow.duration_seconds)).scalar_one()
    assert stored is None
    active = repo.transition(
        grant,
        GrantState.ACTIVE,
        now=NOW,
        action="accept",
        accepted_at=NOW,
        expires_at=deadline_after_acceptance(NOW, grant.duration),
    )
    assert active is not None and active.duration == UNTIL_REVOKED and active.expires_at is None


def test_decisions_keep_it_through_approval(engine: Engine) -> None:
    store = Decisions(engine)
    decision = store.add(
        kind=DecisionKind.APPROVAL,
        requester_slack_id="UOWNER",
        owner_slack_id="UOWNER",
        owner_hub="owner",
        server="",
        recipients=("UALICE",),
        duration=UNTIL_REVOKED,
        extras=(),
        reason="",
        now=NOW,
        ttl=timedelta(hours=1),
    )
    assert decision.duration == UNTIL_REVOKED
    approved = store.move(
        decision, DecisionState.APPROVED, now=NOW, by="UAPPROVER", approved_duration=UNTIL_REVOKED
    )
    assert approved is not None
    assert (approved.approved_duration or approved.duration) == UNTIL_REVOKED
    shorter = store.add(
        kind=DecisionKind.APPROVAL,
        requester_slack_id="UOWNER",
        owner_slack_id="UOWNER",
        owner_hub="owner",
        server="",
        recipients=("UALICE",),
        duration=UNTIL_REVOKED,
        extras=(),
        reason="",
        now=NOW,
        ttl=timedelta(hours=1),
    )
    for_less = store.move(
        shorter, DecisionState.APPROVED, now=NOW, by="UAPPROVER", approved_duration=MAX
    )
    assert for_less is not None and for_less.approved_duration == MAX
