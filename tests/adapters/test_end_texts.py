"""What an end says the person keeps, said only when true (bot.slack.texts)."""

from __future__ import annotations

from bot.domain.access import Kept
from bot.slack import texts
from tests.support.factories import make_grant


def test_an_end_that_left_undecided_access_says_so_to_both() -> None:
    grant = make_grant()
    to_owner = texts.expired_owner(grant, Kept.UNDECIDED)
    to_recipient = texts.expired_recipient(grant, Kept.UNDECIDED)
    assert "stays until you decide" in to_owner
    assert "stays until they decide" in to_recipient
    assert "had before" not in to_owner + to_recipient


def test_an_end_that_left_nothing_claims_nothing() -> None:
    grant = make_grant()
    assert texts.expired_recipient(grant, Kept.NOTHING).endswith("has ended.")
