from datetime import timedelta

import pytest

from bot.domain.commands import Help, ListShares, Request, Revoke, Share, parse_command
from bot.errors import CommandError

MAX = timedelta(days=7)


def parse(text: str) -> object:
    return parse_command(text, max_duration=MAX)


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP", "?"])
def test_help(text: str) -> None:
    assert parse(text) == Help()


def test_share_simple() -> None:
    assert parse("<@U123|alice> 1h") == Share(("U123",), timedelta(hours=1))


def test_share_many_with_server_and_note() -> None:
    cmd = parse("<@U1|alice> <@U2> <@U1|alice> 2h30m server:gpu pairing on the notebook")
    assert cmd == Share(
        ("U1", "U2"), timedelta(hours=2, minutes=30), "gpu", "pairing on the notebook"
    )


def test_share_server_before_duration() -> None:
    assert parse("<@U1> server:gpu 1h") == Share(("U1",), timedelta(hours=1), "gpu")


def test_share_manage() -> None:
    assert parse("<@U1> 2h manage") == Share(("U1",), timedelta(hours=2), manage=True)
    assert parse("<@U1> 2h server:gpu manage fix it") == Share(
        ("U1",), timedelta(hours=2), "gpu", "fix it", True
    )
    assert parse("<@U1> 2h manage server:gpu") == Share(
        ("U1",), timedelta(hours=2), "gpu", "", True
    )


def test_request() -> None:
    assert parse("request <@U2|bob> 1h") == Request("U2", timedelta(hours=1))
    assert parse("request <@U2> server:gpu 2h need the GPU") == Request(
        "U2", timedelta(hours=2), "gpu", "need the GPU"
    )
    assert parse("request <@U2> 1d manage restart it") == Request(
        "U2", timedelta(days=1), "", "restart it", True
    )


def test_list() -> None:
    assert parse("list") == ListShares()


def test_revoke() -> None:
    assert parse("revoke <@U1|alice>") == Revoke(("U1",))
    assert parse("revoke <@U1> server:gpu") == Revoke(("U1",), "gpu")
    assert parse("revoke all") == Revoke(())
    assert parse("revoke all server:gpu") == Revoke((), "gpu")
    assert parse("revoke all").everyone  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("frobnicate", "Unknown subcommand `frobnicate`"),
        ("1h", "Say who to share with"),
        ("<@U1>", "Say for how long"),
        ("<@U1> soon", "`soon` is not a duration"),
        ("<@U1> 8d", "longer than this workspace allows"),
        ("<@U1> 30s", "at least 1m"),
        ("<#C123|general> 1h", "That is a channel"),
        ("request <!subteam^S1|@team> 1h", "A user group can be shared with"),
        ("<!here> 1h", "`@here` is not a person"),
        ("@alice 1h", "could not read `@alice`"),
        ("<@U1> <#C1|x> 1h", "That is a channel"),
        ("<@U1> 1h <@U2>", "Put every person and group before the duration"),
        ("<@U1> 1h server:bad/name", "not a server name"),
        ("revoke", "Say whose access to revoke"),
        ("revoke all <@U1>", "`revoke all` takes only"),
        ("revoke <#C1|x>", "That is a channel"),
        ("list now", "`list` takes no arguments"),
        ("request", "Say whose server you need"),
        ("request 1h", "Mention the owner first"),
        ("request <@U1> <@U2> 1h", "Ask one owner at a time"),
        ("request <@U1>", "Say for how long"),
        ("request <@U1> 30d", "longer than this workspace allows"),
        ("request <#C1|x> 1h", "That is a channel"),
    ],
)
def test_errors(text: str, fragment: str) -> None:
    with pytest.raises(CommandError) as info:
        parse(text)
    assert fragment in info.value.user_message
