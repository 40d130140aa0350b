from datetime import timedelta

import pytest

from bot.domain.durations import check_share_duration, format_duration, parse_duration
from bot.errors import CommandError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("1h", timedelta(hours=1)),
        ("2h30m", timedelta(hours=2, minutes=30)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("1W", timedelta(weeks=1)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("90s", timedelta(seconds=90)),
    ],
)
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("10", "needs a unit"),
        ("abc", "not a duration"),
        ("1h1h", "twice"),
        ("0m", "zero"),
        ("1.5h", "not a duration"),
        ("-1h", "not a duration"),
    ],
)
def test_parse_rejects(text: str, fragment: str) -> None:
    with pytest.raises(CommandError, match=fragment):
        parse_duration(text)


@pytest.mark.parametrize("text", ["30m", "1h", "2h30m", "1d", "1w", "9d3h4m5s", "2w"])
def test_format_round_trips(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


def test_format_prefers_days_unless_whole_weeks() -> None:
    assert format_duration(timedelta(days=8)) == "8d"
    assert format_duration(timedelta(days=7)) == "1w"


def test_bounds() -> None:
    check_share_duration(timedelta(minutes=1), timedelta(days=7))
    check_share_duration(timedelta(days=7), timedelta(days=7))
    with pytest.raises(CommandError, match="at least 1m"):
        check_share_duration(timedelta(seconds=30), timedelta(days=7))
    with pytest.raises(CommandError, match=r"longer than this workspace allows \(1w\)"):
        check_share_duration(timedelta(days=8), timedelta(days=7))
