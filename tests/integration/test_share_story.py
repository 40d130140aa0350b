"""The whole story against a real hub: share -> DM -> accept -> owner told -> expiry -> gone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.sandbox.fake_slack import FakeSlack
from bot.store.models import AuditEvent
from tests.support.app import RunningApp
from tests.support.hub import RunningHub
from tests.support.stories import (
    accept_url_in,
    grants,
    move_deadline_to_the_past,
    share,
    share_users,
)

pytestmark = pytest.mark.integration


def test_share_accept_expire(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    hub = clean_hub
    reply = share(app, slack, "UOWNER", "<@UALICE|alice> 1h pairing on the notebook")
    assert "Invited <@UALICE>" in reply
    assert "for 1h" in reply
    assert "<!date^" in reply  # Slack date formatting, local time for every reader

    invitation = slack.wait_for_dm("UALICE", "shared")
    text = invitation["text"]
    assert "<@UOWNER>" in text and "1h" in text and "pairing on the notebook" in text
    url = accept_url_in(invitation)
    assert url.startswith(f"{hub.public_url}/hub/accept-share?code=")
    [row] = grants(db)
    assert row.state == "invited" and row.code_id and row.code_id.startswith("sc_")
    assert url.split("code=")[1] not in str(row.__dict__)  # only the code id is stored

    response = hub.accept_share("alice", url)
    assert response.status_code == 302, response.text

    accepted = slack.wait_for_dm("UOWNER", "accepted", timeout=20)
    assert "<@UALICE>" in accepted["text"] and "<!date^" in accepted["text"]
    assert share_users(hub) == {"alice"}
    assert hub.share_codes("owner") == []  # the link is single use
    [row] = grants(db)
    assert row.state == "active" and row.accepted_hub_user == "alice"
    assert row.expires_at is not None and row.accepted_at is not None
    assert row.expires_at - row.accepted_at == timedelta(hours=1)

    move_deadline_to_the_past(db, row.id)
    slack.wait_for_dm("UALICE", "has ended", timeout=20)
    slack.wait_for_dm("UOWNER", "has ended", timeout=20)
    assert share_users(hub) == set()
    [row] = grants(db)
    assert row.state == "expired"
    with Session(db) as session:
        actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-7:] == [
        "invite",
        "code_created",
        "invite_sent",
        "accept",
        "code_gone",  # the single-use link deleted, and the hub confirmed it
        "expire",
        "expired",
    ]
    assert "link" in actions  # the admin links are in the audit log too


def test_second_use_of_link_is_refused(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub
) -> None:
    share(app, slack, "UOWNER", "<@UALICE> 30m")
    url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
    assert clean_hub.accept_share("alice", url).status_code == 302
    slack.wait_for_dm("UOWNER", "accepted", timeout=20)
    # The code is deleted once used: Bob cannot get in with the forwarded link.
    second = clean_hub.accept_share("bob", url)
    assert second.status_code != 302 or "accept-share" in second.headers.get("location", "")
    assert share_users(clean_hub) == {"alice"}


def test_several_recipients_and_list(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    reply = share(app, slack, "UOWNER", "<@UALICE|alice> <@UBOB|bob> 2h30m")
    assert "<@UALICE>" in reply and "<@UBOB>" in reply
    slack.wait_for_dm("UALICE", "shared")
    slack.wait_for_dm("UBOB", "shared")
    assert len(clean_hub.share_codes("owner")) == 2
    listing = share(app, slack, "UOWNER", "list")
    assert "<@UALICE>" in listing and "<@UBOB>" in listing and "invited for 2h30m" in listing
    assert share(app, slack, "UALICE", "list").startswith("You have no active shares")


def test_revoke_active_share(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    share(app, slack, "UOWNER", "<@UALICE> 1d")
    url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
    clean_hub.accept_share("alice", url)
    slack.wait_for_dm("UOWNER", "accepted", timeout=20)
    reply = share(app, slack, "UOWNER", "revoke <@UALICE|alice>")
    assert "revoked access for <@UALICE>" in reply
    slack.wait_for_dm("UALICE", "ended your access")
    assert share_users(clean_hub) == set()
    assert [g.state for g in grants(db)] == ["revoked"]


def test_revoke_all_withdraws_open_invitations(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    share(app, slack, "UOWNER", "<@UALICE> <@UBOB> 1h")
    assert len(clean_hub.share_codes("owner")) == 2
    reply = share(app, slack, "UOWNER", "revoke all")
    assert reply.count("withdrew the invitation") == 2
    assert clean_hub.share_codes("owner") == []
    slack.wait_for_dm("UBOB", "withdrew the invitation")
    assert [g.state for g in grants(db)] == ["cancelled", "cancelled"]
    assert "no open shares" in share(app, slack, "UOWNER", "revoke all")


def test_prior_access_is_never_removed(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    with clean_hub.client() as api:
        api.post("shares/owner/", json={"user": "alice"}).raise_for_status()
    share(app, slack, "UOWNER", "<@UALICE> 1h")
    url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
    clean_hub.accept_share("alice", url)
    slack.wait_for_dm("UOWNER", "accepted", timeout=20)
    [row] = grants(db)
    assert row.earlier_scopes == ["access:servers!server=owner/"]
    move_deadline_to_the_past(db, row.id)
    notice = slack.wait_for_dm("UALICE", "has ended", timeout=20)
    assert "keep the access you had before" in notice["text"]
    assert share_users(clean_hub) == {"alice"}


def test_overlapping_grants_keep_access_until_the_last_ends(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    for count, duration in enumerate(("1h", "2h"), start=1):
        share(app, slack, "UOWNER", f"<@UALICE> {duration}")
        dm = slack.wait_for(
            lambda d=duration: [m for m in slack.dms_to("UALICE") if f"for {d}." in m["text"]]
        )[0]
        clean_hub.accept_share("alice", accept_url_in(dm))
        slack.wait_for(lambda c=count: len(slack.dms_to("UOWNER")) >= c)  # type: ignore[misc]
    first, second = grants(db)
    assert (first.state, second.state) == ("active", "active")
    assert second.earlier_scopes == []  # the access the first grant gave is not earlier access
    move_deadline_to_the_past(db, first.id)
    ended = slack.wait_for_dm("UALICE", "has ended", timeout=20)
    assert "You still have access through another share" in ended["text"]
    assert share_users(clean_hub) == {"alice"}  # the 2h grant still holds
    move_deadline_to_the_past(db, second.id)
    slack.wait_for(
        lambda: len([m for m in slack.dms_to("UALICE") if "has ended" in m["text"]]) == 2
    )
    assert share_users(clean_hub) == set()


def test_unused_link_lapses(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    share(app, slack, "UOWNER", "<@UALICE> 1h")
    slack.wait_for_dm("UALICE", "shared")
    [row] = grants(db)
    move_deadline_to_the_past(db, row.id, "code_expires_at")
    slack.wait_for_dm("UOWNER", "did not accept", timeout=20)
    assert clean_hub.share_codes("owner") == []
    assert [g.state for g in grants(db)] == ["lapsed"]
