"""The /share-server grammar with Slack user groups: mixed with people, each once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.commands import MAX_MENTIONS, Share, parse_command
from bot.errors import CommandError

MAX = timedelta(days=7)


def parse(text: str) -> object:
    return parse_command(text, max_duration=MAX)


def test_a_user_group_alone() -> None:
    assert parse("<!subteam^S123|@course-tas> 2h") == Share(
        (), timedelta(hours=2), groups=("S123",)
    )


def test_a_user_group_without_its_handle() -> None:
    assert parse("<!subteam^S123> 2h") == Share((), timedelta(hours=2), groups=("S123",))


def test_people_and_groups_mix_in_any_order_each_kept_once() -> None:
    cmd = parse(
        "<@U1|alice> <!subteam^S1|@tas> <@U2> <!subteam^S2|@labs> <@U1> <!subteam^S1> "
        "1h server:gpu manage a note"
    )
    assert cmd == Share(
        ("U1", "U2"), timedelta(hours=1), "gpu", "a note", True, groups=("S1", "S2")
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("<@U1> 1h <!subteam^S1|@tas>", "Put every person and group before the duration"),
        ("<!subteam^S1|@tas>", "Say for how long"),
        ("<!subteam^S1|@tas> <#C1|x> 1h", "That is a channel"),
        ("<!subteam^s1|@tas> 1h", "mention each person"),  # not an id Slack makes
        ("revoke <!subteam^S1|@tas>", "A user group can be shared with"),
        ("request <!subteam^S1|@tas> 1h", "A user group can be shared with"),
    ],
)
def test_groups_where_they_do_not_belong(text: str, fragment: str) -> None:
    with pytest.raises(CommandError) as info:
        parse(text)
    assert fragment in info.value.user_message


def test_mentions_are_bounded() -> None:
    many = " ".join(f"<@U{n}>" for n in range(MAX_MENTIONS + 1))
    with pytest.raises(CommandError) as info:
        parse(f"{many} 1h")
    assert f"at most {MAX_MENTIONS}" in info.value.user_message
    assert len(parse(" ".join(f"<@U{n}>" for n in range(MAX_MENTIONS)) + " 1h").recipients) == (  # type: ignore[attr-defined]
        MAX_MENTIONS
    )
