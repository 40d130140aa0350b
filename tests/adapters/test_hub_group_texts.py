"""How the Slack layer names a hub group's grant (list, Home, digest, notices)."""

from __future__ import annotations

from bot.domain.grants import RecipientKind
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
