from datetime import timedelta

import pytest

from bot.domain.grants import (
    Grant,
    GrantState,
    InvalidTransition,
    check_transition,
    invitation_lapsed,
    is_due_to_expire,
)
from tests.support.factories import NOW, make_grant


def grant(**changes: object) -> Grant:
    return make_grant(**changes)


def test_transitions() -> None:
    check_transition(GrantState.INVITED, GrantState.ACTIVE)
    check_transition(GrantState.ACTIVE, GrantState.ENDING)
    check_transition(GrantState.ENDING, GrantState.REVOKED)
    # an invitation withdrawn: cancelled once its code is gone unused, ended if accepted
    check_transition(GrantState.INVITED, GrantState.WITHDRAWING)
    check_transition(GrantState.WITHDRAWING, GrantState.CANCELLED)
    check_transition(GrantState.WITHDRAWING, GrantState.ENDING)
    for bad in [
        (GrantState.INVITED, GrantState.CANCELLED),  # never without the hub's word
        (GrantState.WITHDRAWING, GrantState.ACTIVE),
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
