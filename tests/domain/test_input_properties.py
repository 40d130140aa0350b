"""Bad input, by the thousand: the command grammar and durations either parse or say what is
wrong (CommandError), never raise anything else; oversized and Unicode text is handled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.commands import (
    MAX_NOTE,
    Command,
    Request,
    Share,
    parse_command,
)
from bot.domain.durations import format_duration, parse_duration
from bot.errors import CommandError

MAX = timedelta(days=7)
MANY = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
mentions = st.builds(
    lambda kind, uid, label: f"<@{kind}{uid}{'|' + label if label else ''}>",
    st.sampled_from("UWX"),
    st.text(ID_CHARS, min_size=1, max_size=10),
    st.one_of(st.just(""), st.text(max_size=8)),
)
parts = st.tuples(st.integers(0, 10**25), st.sampled_from("smhdwSMHDWx"))
durations = st.one_of(
    st.lists(parts, min_size=1, max_size=4).map(lambda ps: "".join(f"{n}{u}" for n, u in ps)),
    st.integers(0, 10**30).map(str),
    st.sampled_from(
        ["until-revoked", "0m", "1h1h", "9" * 5000 + "d", "1\u00b2h", "\u0661h", "-1h"]
    ),
)
specials = st.sampled_from(
    [
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<!subteam^S1|@team>",
        "<#C1|general>",
        "<http://evil|click>",
        "@alice",
        "&lt;!channel&gt;",
        "manage",
        "all",
        "list",
        "revoke",
        "request",
        "help",
    ]
)
servers = st.builds(lambda name: f"server:{name}", st.text(max_size=12))
words = st.one_of(mentions, durations, specials, servers, st.text(min_size=1, max_size=12))
structured = st.lists(words, max_size=10).map(" ".join)


def parse_or_usage(text: str, *, until_revoked: bool = False) -> Command | None:
    """The result, or None for a usage error; any other exception fails the test."""
    try:
        return parse_command(text, max_duration=MAX, allow_until_revoked=until_revoked)
    except CommandError as err:
        assert err.user_message.strip()
        return None


@MANY
@given(st.text())
def test_random_text_parses_or_gets_a_usage_error(text: str) -> None:
    parse_or_usage(text)


@MANY
@given(structured, st.booleans())
def test_mixed_commands_parse_or_get_a_usage_error(text: str, until_revoked: bool) -> None:
    cmd = parse_or_usage(text, until_revoked=until_revoked)
    if isinstance(cmd, Share | Request):
        assert timedelta(minutes=1) <= cmd.duration
        assert len(cmd.note if isinstance(cmd, Share) else cmd.reason) <= MAX_NOTE


@MANY
@given(st.one_of(durations, st.text()))
def test_durations_parse_or_get_a_usage_error(text: str) -> None:
    try:
        value = parse_duration(text)
    except CommandError:
        return
    assert value > timedelta(0)
    assert parse_duration(format_duration(value)) == value


def test_huge_durations_are_refused_not_crashed() -> None:
    for text in ("99999999999999999999w", "9" * 5000 + "d", "1" * 400 + "s"):
        with pytest.raises(CommandError, match="too long"):
            parse_duration(text)
    with pytest.raises(CommandError, match="longer than this workspace allows"):
        parse_command("<@U1> 5000w", max_duration=MAX)


def test_an_oversized_note_gets_a_clear_usage_error() -> None:
    with pytest.raises(CommandError, match=f"at most {MAX_NOTE} characters"):
        parse_command("<@U1> 1h " + "x" * 40_000, max_duration=MAX)
    with pytest.raises(CommandError, match=f"at most {MAX_NOTE} characters"):
        parse_command("request <@U1> 1h " + "y " * 20_000, max_duration=MAX)
    cmd = parse_command("<@U1> 1h " + "z" * MAX_NOTE, max_duration=MAX)
    assert isinstance(cmd, Share) and len(cmd.note) == MAX_NOTE


def test_unicode_notes_are_kept() -> None:
    note = "Grüße 👋 — 日本語のノート ﷽ e\u0301"
    cmd = parse_command(f"<@U1> 1h {note}", max_duration=MAX)
    assert isinstance(cmd, Share) and cmd.note == note
