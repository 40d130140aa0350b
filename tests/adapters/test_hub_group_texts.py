"""How a hub group's grant is named: the Slack layer (list, Home, digest, notices) and
`sharebot shares`."""

from __future__ import annotations

from bot.domain.grants import RecipientKind
from bot.hub.client import OwnerShare
from bot.ops.shares import from_grant, from_hub
from bot.slack import texts
from tests.support.factories import make_grant

GROUP_GRANT = make_grant(
    recipient_slack_id="",
    recipient_hub="physics",
    accepted_hub_user=None,
    recipient_kind=RecipientKind.GROUP,
)


def test_a_group_grant_is_named_by_the_group() -> None:
    assert texts.to_whom(GROUP_GRANT) == "the hub group `physics`"
    assert texts.to_whom(make_grant()) == "<@UALICE>"
    listed = texts.list_shares([GROUP_GRANT])
    assert "the hub group `physics`" in listed and "<@>" not in listed
    shared = texts.group_shared(GROUP_GRANT)
    assert "`physics`" in shared and "What the group had there before stays" in shared


def test_sharebot_shares_lists_a_group_grant_as_a_group() -> None:
    row = from_grant(GROUP_GRANT)
    assert (row.kind, row.name, row.slack_user) == ("group", "physics", None)
    in_hub = OwnerShare(server="", user=None, group="physics", scopes=(), created_at=None)
    live = from_hub("owner", in_hub, [GROUP_GRANT])
    assert live.by_sharebot and live.grant_id == GROUP_GRANT.id and live.kind == "group"
    # a user of the same name is not explained by the group's grant
    same_name = OwnerShare(server="", user="physics", group=None, scopes=(), created_at=None)
    assert not from_hub("owner", same_name, [GROUP_GRANT]).by_sharebot
