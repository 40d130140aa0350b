"""Hub groups as recipients (``/share-server group:NAME``): the grammar, the approval
policy, reconciliation matching group shares to group grants, and how a group is named."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.commands import Share, parse_command
from bot.domain.decisions import Policy, hub_group_in
from bot.domain.grants import RecipientKind
from bot.domain.reconcile import HubShare, ShareKind, plan
from bot.errors import CommandError
from tests.support.factories import NOW, make_grant

MAX = timedelta(days=7)


def parse(text: str) -> object:
    return parse_command(text, max_duration=MAX)


def test_a_hub_group_share() -> None:
    assert parse("group:physics-101 2h") == Share((), timedelta(hours=2), hub_group="physics-101")
    assert parse("group:lab_2.a 1d server:gpu manage a note") == Share(
        (), timedelta(days=1), "gpu", "a note", True, hub_group="lab_2.a"
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("group: 1h", "not a hub group name"),
        ("group:bad/name 1h", "not a hub group name"),
        ("group:physics <@U1> 1h", "on its own"),
        ("group:physics <!subteam^S1|@tas> 1h", "on its own"),
        ("group:physics group:chem 1h", "on its own"),
        ("group:physics", "Say for how long"),
        ("group:physics 1h path:lab/tree/x.ipynb", "no `path:`"),
        ("<@U1> group:physics 1h", "is not a duration"),
    ],
)
def test_hub_group_mistakes(text: str, fragment: str) -> None:
    with pytest.raises(CommandError) as info:
        parse(text)
    assert fragment in info.value.user_message


def test_policy_holds_group_shares_only_when_told() -> None:
    hour = timedelta(hours=1)
    assert Policy().reasons(hour, (), hub_group=True) == []
    assert Policy(for_groups=True).reasons(hour, (), hub_group=False) == []
    assert Policy(for_groups=True).reasons(hour, (), hub_group=True) == [
        "it shares with a hub group"
    ]


def test_a_decision_names_a_hub_group_as_its_only_recipient() -> None:
    assert hub_group_in(("group:physics",)) == "physics"
    assert hub_group_in(("U1",)) is None
    assert hub_group_in(("group:physics", "U1")) is None


GROUP_GRANT = make_grant(
    recipient_slack_id="",
    recipient_hub="physics",
    accepted_hub_user=None,
    recipient_kind=RecipientKind.GROUP,
)


def share(name: str, kind: ShareKind) -> HubShare:
    return HubShare("", kind, name, (), NOW - timedelta(days=1))


def test_reconciliation_matches_group_shares_to_group_grants_only() -> None:
    result = plan("owner", [GROUP_GRANT], [share("physics", ShareKind.GROUP)], [])
    assert result.revoked_in_hub == [] and result.external == []
    # a user of the same name neither explains the group's grant nor is explained by it
    result = plan("owner", [GROUP_GRANT], [share("physics", ShareKind.USER)], [])
    assert result.revoked_in_hub == [GROUP_GRANT]
    assert [s.kind for s in result.external] == [ShareKind.USER]
    user_grant = make_grant(recipient_hub="physics", accepted_hub_user="physics")
    result = plan("owner", [user_grant], [share("physics", ShareKind.GROUP)], [])
    assert result.revoked_in_hub == [user_grant]
    assert [s.kind for s in result.external] == [ShareKind.GROUP]


def test_a_group_grant_is_held_by_the_group() -> None:
    assert GROUP_GRANT.for_group and GROUP_GRANT.holder == "physics"
    assert GROUP_GRANT.label.endswith("-> group:physics")
