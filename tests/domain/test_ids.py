"""Numbers read back from clicks are bounded (a signed, forged click found the hole:
``flag_revoke`` with a value of 30 digits made SQLite raise OverflowError)."""

from __future__ import annotations

import pytest

from bot.domain.digest import parse_ref
from bot.domain.ids import MAX_ID, MAX_SECONDS, number_of
from bot.slack import blocks, home_view


@pytest.mark.parametrize(
    "text", [None, "", "-1", "1.0", "²", "١٢", " 1", str(MAX_ID + 1), "9" * 30]
)
def test_what_is_not_a_bounded_ascii_number_is_none(text: str | None) -> None:
    assert number_of(text) is None


def test_numbers_within_bounds_are_read() -> None:
    assert number_of("0") == 0
    assert number_of(str(MAX_ID)) == MAX_ID
    assert number_of(str(MAX_SECONDS + 1), limit=MAX_SECONDS) is None


def test_every_click_parser_refuses_an_overlong_number() -> None:
    huge = "9" * 30
    assert blocks.flag_id_of(huge) is None
    assert blocks.decision_id_of(f"decision-{huge}", huge) is None
    assert blocks.extend_target(f"{huge}@1") is None
    assert blocks.digest_message_id(f"digest-{huge}") is None
    assert home_view.grant_id_of(huge) is None
    assert parse_ref(f"grant:{huge}") is None
    assert blocks.flag_id_of("12") == 12
