from dataclasses import replace
from datetime import timedelta

import pytest

from bot.domain.grants import (
    Grant,
    GrantState,
    InvalidTransition,
    check_transition,
    invitation_lapsed,
    is_due_to_expire,
    must_keep_share,
    prior_access,
    unexpected_holders,
)
from tests.support.factories import NOW, make_grant


def grant(**changes: object) -> Grant:
    return make_grant(**changes)


def test_transitions() -> None:
    check_transition(GrantState.INVITED, GrantState.ACTIVE)
    check_transition(GrantState.ACTIVE, GrantState.ENDING)
    check_transition(GrantState.ENDING, GrantState.REVOKED)
    for bad in [
        (GrantState.ACTIVE, GrantState.INVITED),
        (GrantState.EXPIRED, GrantState.ACTIVE),
        (GrantState.INVITED, GrantState.EXPIRED),
        (GrantState.LAPSED, GrantState.ACTIVE),
    ]:
        with pytest.raises(InvalidTransition):
            check_transition(*bad)


def test_due() -> None:
    assert not is_due_to_expire(grant(), NOW)
    assert is_due_to_expire(grant(), NOW + timedelta(minutes=5))
    assert not is_due_to_expire(grant(state=GrantState.ENDING), NOW + timedelta(hours=1))


def test_lapsed() -> None:
    invited = grant(state=GrantState.INVITED, code_expires_at=NOW)
    assert invitation_lapsed(invited, NOW)
    assert not invitation_lapsed(invited, NOW - timedelta(seconds=1))
    assert not invitation_lapsed(grant(code_expires_at=NOW), NOW)


def test_keep_share_for_prior_access() -> None:
    assert must_keep_share(grant(had_prior_access=True), [], NOW)
    assert not must_keep_share(grant(), [], NOW)


def test_keep_share_while_another_grant_lasts() -> None:
    ending = grant(state=GrantState.ENDING)
    other = grant(id=2, expires_at=NOW + timedelta(hours=3))
    assert must_keep_share(ending, [ending, other], NOW)
    assert not must_keep_share(ending, [replace(other, expires_at=NOW)], NOW)
    assert not must_keep_share(ending, [replace(other, server="gpu")], NOW)
    assert not must_keep_share(ending, [replace(other, accepted_hub_user="carol")], NOW)
    assert not must_keep_share(ending, [replace(other, state=GrantState.INVITED)], NOW)


def test_prior_access() -> None:
    assert not prior_access(False, [])
    assert prior_access(True, [])
    ours = grant()
    assert not prior_access(True, [ours])
    assert prior_access(True, [replace(ours, had_prior_access=True)])
    assert prior_access(True, [replace(ours, state=GrantState.INVITED)])


def test_unexpected_holders() -> None:
    invited = grant(state=GrantState.INVITED, accepted_hub_user=None)
    before = NOW - timedelta(days=1)
    # Alice used her link: nobody else
    assert unexpected_holders(invited, {"alice": NOW}, 1, set()) == []
    # Carol used Alice's link
    assert unexpected_holders(invited, {"carol": NOW}, 1, set()) == ["carol"]
    # both did: Carol is the extra exchange
    assert unexpected_holders(invited, {"alice": NOW, "carol": NOW}, 2, set()) == ["carol"]
    # a share older than the invitation is not an intruder
    assert unexpected_holders(invited, {"bob": before}, 1, set()) == []
    # Carol's access is explained by another grant of ours
    assert unexpected_holders(invited, {"carol": NOW}, 1, {"carol"}) == []
    # no more intruders than unexplained exchanges, earliest first
    late = NOW + timedelta(minutes=1)
    assert unexpected_holders(invited, {"dave": late, "carol": NOW}, 1, set()) == ["carol"]
    assert unexpected_holders(invited, {"carol": NOW}, 0, set()) == []
