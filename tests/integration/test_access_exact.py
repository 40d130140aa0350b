"""Access is exact: the six ways it was not (issue #14), each against the real hub.

Every end removes exactly what the grant added; an invitation is never closed on an
unconfirmed hub change; misuse is judged by scope growth, and a share the owner made in
the hub is never revoked as misuse; nobody decides a grant that gives them access; owner
actions follow the current link; one bad hub answer delays no one else's revocation.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from bot.sandbox.fake_slack import FakeSlack
from bot.slack import blocks
from bot.slack import home_view as home
from bot.store.models import GrantRow
from tests.support.app import RunningApp, block_action, run_cli, start_app
from tests.support.fault_proxy import FaultProxy
from tests.support.faults import poll
from tests.support.hub import RunningHub
from tests.support.stories import (
    accept_url_in,
    click,
    direct_share,
    grants,
    move_deadline_to_the_past,
    scopes_of,
    share,
    share_users,
)

pytestmark = pytest.mark.integration

ACCESS = "access:servers!server=owner/"
START_STOP = "servers!server=owner/"


def no_pass(env: dict[str, str]) -> dict[str, str]:
    """The app runs its background pass once at start, then not again during the test: the
    races below happen "before a background pass has seen it"."""
    return {**env, "SHAREBOT_SWEEP_INTERVAL": "3600"}


@pytest.fixture
def quiet_app(linked_env: dict[str, str], tmp_path: Path) -> Iterator[RunningApp]:
    running = start_app(no_pass(linked_env), tmp_path)
    yield running
    running.stop()
    assert "Traceback" not in running.log()


@pytest.fixture
def proxy(clean_hub: RunningHub) -> Iterator[FaultProxy]:
    with FaultProxy(clean_hub.api_url) as running:
        yield running


@pytest.fixture
def proxied_app(
    linked_env: dict[str, str], proxy: FaultProxy, tmp_path: Path
) -> Iterator[RunningApp]:
    running = start_app({**linked_env, "JUPYTERHUB_API_URL": proxy.api_url}, tmp_path)
    yield running
    running.stop()


@pytest.fixture
def approving_env(linked_env: dict[str, str]) -> dict[str, str]:
    return {**linked_env, "SHAREBOT_APPROVERS": "UALICE,UCAROL"}


@pytest.fixture
def approving_app(approving_env: dict[str, str], tmp_path: Path) -> Iterator[RunningApp]:
    running = start_app(approving_env, tmp_path)
    yield running
    running.stop()


def state_of(db: Engine, grant_id: int) -> str:
    return next(g.state for g in grants(db) if g.id == grant_id)


def wait_state(db: Engine, grant_id: int, state: str, timeout: float = 20) -> None:
    poll(lambda: state_of(db, grant_id) == state or None, f"grant {grant_id} {state}", timeout)


# -- 1. a revoke racing an acceptance -------------------------------------------------------


def test_revoke_after_an_acceptance_no_pass_has_seen_removes_the_share(
    quiet_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    share(quiet_app, slack, "UOWNER", "<@UCAROL> 1h")
    url = accept_url_in(slack.wait_for_dm("UCAROL", "shared"))
    assert clean_hub.accept_share("carol", url).status_code == 302
    assert share_users(clean_hub) == {"carol"}

    reply = share(quiet_app, slack, "UOWNER", "revoke <@UCAROL>")
    assert "revoked access for <@UCAROL>" in reply and "withdrew" not in reply
    assert share_users(clean_hub) == set()  # the hub agrees, at once
    assert clean_hub.share_codes("owner") == []
    [row] = grants(db)
    assert (row.state, row.accepted_hub_user, row.end_reason) == ("revoked", "carol", "revoked")
    slack.wait_for_dm("UCAROL", "ended your access")
    assert "no active shares" in share(quiet_app, slack, "UOWNER", "list")


def test_leave_after_an_unseen_acceptance_removes_the_share(
    quiet_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    share(quiet_app, slack, "UOWNER", "<@UCAROL> 1h")
    invitation = slack.wait_for_dm("UCAROL", "shared")
    assert clean_hub.accept_share("carol", accept_url_in(invitation)).status_code == 302
    [row] = grants(db)
    url = slack.new_response_url()
    payload = block_action("UCAROL", home.LEAVE_ACTION, url, value=str(row.id))
    assert quiet_app.interact(payload).status_code == 200
    assert "You left" in slack.wait_for(lambda: slack.responses(url), timeout=20)[0]["text"]
    assert share_users(clean_hub) == set()
    slack.wait_for_dm("UOWNER", "left your share")


def test_a_withdrawal_the_hub_does_not_confirm_is_retried_until_the_code_is_gone(
    proxied_app: RunningApp,
    proxy: FaultProxy,
    slack: FakeSlack,
    clean_hub: RunningHub,
    db: Engine,
) -> None:
    share(proxied_app, slack, "UOWNER", "<@UCAROL> 1h")
    url = accept_url_in(slack.wait_for_dm("UCAROL", "shared"))
    proxy.fail("DELETE", "share-codes/", times=1000)  # the hub never sees the deletion
    reply = share(proxied_app, slack, "UOWNER", "revoke <@UCAROL>")
    assert "did not answer; I will keep trying" in reply
    [row] = grants(db)
    assert row.state == "withdrawing"
    assert len(clean_hub.share_codes("owner")) == 1  # still live: not told otherwise
    proxy.clear()
    wait_state(db, row.id, "cancelled")
    assert clean_hub.share_codes("owner") == []
    slack.wait_for_dm("UCAROL", "withdrew the invitation")
    refused = clean_hub.accept_share("carol", url)
    assert share_users(clean_hub) == set(), refused.status_code


# -- 2. a manage grant over earlier access --------------------------------------------------


def approved_manage_grant(
    app: RunningApp, slack: FakeSlack, hub: RunningHub, recipient: str, name: str
) -> None:
    share(app, slack, "UOWNER", f"<@{recipient}> 1h manage")
    ask = slack.wait_for_dm("UCAROL", "wants to share a server")
    assert "Approved" in click(app, slack, "UCAROL", ask, blocks.APPROVE_ACTION)
    url = accept_url_in(slack.wait_for_dm(recipient, "shared"))
    assert hub.accept_share(name, url).status_code == 302


def test_a_manage_grant_over_earlier_access_removes_only_what_it_added(
    approving_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    direct_share(clean_hub, "owner", "bob")  # Bob's plain share, made in the hub
    approved_manage_grant(approving_app, slack, clean_hub, "UBOB", "bob")
    poll(lambda: [g.state for g in grants(db)] == ["active"] or None, "the acceptance")
    assert scopes_of(clean_hub, "bob") == {ACCESS, START_STOP}

    reply = share(approving_app, slack, "UOWNER", "revoke <@UBOB>")
    assert "revoked access" in reply
    assert scopes_of(clean_hub, "bob") == {ACCESS}  # start/stop gone, his own share kept
    slack.wait_for_dm("UBOB", "You keep the access you had before")

    # the same by expiry
    slack.reset()
    approved_manage_grant(approving_app, slack, clean_hub, "UBOB", "bob")
    poll(lambda: grants(db)[-1].state == "active" or None, "the second acceptance")
    move_deadline_to_the_past(db, grants(db)[-1].id)
    slack.wait_for_dm("UOWNER", "has ended", timeout=20)
    assert scopes_of(clean_hub, "bob") == {ACCESS}


def test_without_earlier_access_nothing_is_said_to_be_kept(
    approving_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    approved_manage_grant(approving_app, slack, clean_hub, "UBOB", "bob")
    poll(lambda: [g.state for g in grants(db)] == ["active"] or None, "the acceptance")
    share(approving_app, slack, "UOWNER", "revoke <@UBOB>")
    assert scopes_of(clean_hub, "bob") == set()
    ended = slack.wait_for_dm("UBOB", "ended your access")
    assert "keep" not in ended["text"]


# -- 3. misuse by scope growth --------------------------------------------------------------


def test_a_holder_who_uses_someone_elses_manage_link_loses_what_it_gave(
    approving_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    direct_share(clean_hub, "owner", "bob")
    share(approving_app, slack, "UOWNER", "<@UALICE> 1h manage")
    ask = slack.wait_for_dm("UCAROL", "wants to share a server")
    click(approving_app, slack, "UCAROL", ask, blocks.APPROVE_ACTION)
    url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
    assert clean_hub.accept_share("bob", url).status_code == 302  # Bob, not Alice
    slack.wait_for_dm("UOWNER", "was used by hub user `bob`", timeout=20)
    assert scopes_of(clean_hub, "bob") == {ACCESS}  # the share he had before stays
    slack.wait_for_dm("UALICE", "used by someone else")
    assert clean_hub.share_codes("owner") == []
    [row] = grants(db)
    assert (row.state, row.end_reason) == ("revoked", "misused")


def test_an_open_invitation_of_ones_own_does_not_excuse_using_another(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    share(app, slack, "UOWNER", "<@UALICE> <@UBOB> 1h")
    alices = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
    slack.wait_for_dm("UBOB", "shared")
    assert clean_hub.accept_share("bob", alices).status_code == 302
    slack.wait_for_dm("UOWNER", "was used by hub user `bob`", timeout=20)
    assert share_users(clean_hub) == set()
    states = {g.recipient_hub: g.state for g in grants(db)}
    assert states == {"alice": "revoked", "bob": "invited"}  # his own link still works


def test_misuse_is_seen_whatever_the_clocks_say(
    quiet_app: RunningApp,
    slack: FakeSlack,
    clean_hub: RunningHub,
    db: Engine,
    linked_env: dict[str, str],
) -> None:
    share(quiet_app, slack, "UOWNER", "<@UALICE> 1h")
    url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
    # sharebot's clock an hour ahead of the hub's: the invitation "made" after the share
    [row] = grants(db)
    later = row.created_at + timedelta(hours=1)
    with Session(db) as session, session.begin():
        session.execute(update(GrantRow).where(GrantRow.id == row.id).values(created_at=later))
    assert clean_hub.accept_share("carol", url).status_code == 302
    assert run_cli(linked_env, "sweep", "--once").returncode == 0
    slack.wait_for_dm("UOWNER", "was used by hub user `carol`", timeout=20)
    assert share_users(clean_hub) == set()


def test_a_used_code_whose_deletion_failed_is_watched_until_the_hub_confirms(
    proxied_app: RunningApp,
    proxy: FaultProxy,
    slack: FakeSlack,
    clean_hub: RunningHub,
    db: Engine,
) -> None:
    share(proxied_app, slack, "UOWNER", "<@UALICE> 1h")
    url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
    proxy.fail("DELETE", "share-codes/", times=1000)
    assert clean_hub.accept_share("alice", url).status_code == 302
    slack.wait_for_dm("UOWNER", "accepted", timeout=20)
    assert len(clean_hub.share_codes("owner")) == 1  # the deletion keeps failing
    assert clean_hub.accept_share("carol", url).status_code == 302  # and Carol uses it
    flagged = slack.wait_for_dm("UOWNER", "cannot tell whether `carol`", timeout=20)
    proxy.clear()
    poll(lambda: clean_hub.share_codes("owner") == [] or None, "the code deleted")
    assert "Done" in click(proxied_app, slack, "UOWNER", flagged, blocks.FLAG_REVOKE_ACTION)
    assert share_users(clean_hub) == {"alice"}
    assert [g.state for g in grants(db)] == ["active"]


def test_a_share_made_in_the_hub_is_never_revoked_as_misuse(
    quiet_app: RunningApp,
    slack: FakeSlack,
    clean_hub: RunningHub,
    db: Engine,
    linked_env: dict[str, str],
) -> None:
    share(quiet_app, slack, "UOWNER", "<@UALICE> 1h")
    url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
    assert clean_hub.accept_share("alice", url).status_code == 302
    assert clean_hub.accept_share("alice", url).status_code == 302  # she opens it twice
    direct_share(clean_hub, "owner", "carol")  # and the owner shares with Carol in the hub
    assert run_cli(linked_env, "sweep", "--once").returncode == 0
    told = slack.wait_for_dm("UOWNER", "cannot tell whether `carol`", timeout=20)
    assert share_users(clean_hub) == {"alice", "carol"}  # not revoked
    assert [g.state for g in grants(db)] == ["active"]
    answer = click(quiet_app, slack, "UOWNER", told, blocks.FLAG_KEEP_ACTION)
    assert "kept" in answer
    assert share_users(clean_hub) == {"alice", "carol"}
    # only the owner decides
    again = click(quiet_app, slack, "UALICE", told, blocks.FLAG_REVOKE_ACTION)
    assert "Only the owner" in again and share_users(clean_hub) == {"alice", "carol"}


# -- 4. nobody decides a grant that gives them access ---------------------------------------


def test_a_recipient_cannot_approve_her_own_grant(
    approving_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    reply = share(approving_app, slack, "UOWNER", "<@UALICE> 1h manage")
    assert "<@UCAROL>" in reply and "<@UALICE>" not in reply.split("asked")[-1]
    carols = slack.wait_for_dm("UCAROL", "wants to share a server")
    answer = click(approving_app, slack, "UALICE", carols, blocks.APPROVE_ACTION)
    assert "can't approve" in answer
    assert grants(db) == [] and clean_hub.share_codes("owner") == []
    assert not [m for m in slack.dms_to("UALICE") if "wants to share a server" in m["text"]]


def test_a_requester_is_not_among_the_approvers_of_what_she_asked_for(
    approving_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    share(approving_app, slack, "UALICE", "request <@UOWNER> 1h manage need to restart it")
    ask = slack.wait_for_dm("UOWNER", "asks for access")
    click(approving_app, slack, "UOWNER", ask, blocks.APPROVE_ACTION)
    approval = slack.wait_for_dm("UCAROL", "wants to share a server", timeout=20)
    assert not [m for m in slack.dms_to("UALICE") if blocks.APPROVE_ACTION in str(m)]
    assert "can't approve" in click(approving_app, slack, "UALICE", approval, blocks.APPROVE_ACTION)
    assert grants(db) == []


def test_when_only_recipients_could_approve_the_requester_is_told_why(
    linked_env: dict[str, str], slack: FakeSlack, clean_hub: RunningHub, tmp_path: Path
) -> None:
    app = start_app({**linked_env, "SHAREBOT_APPROVERS": "UALICE"}, tmp_path)
    try:
        reply = share(app, slack, "UOWNER", "<@UALICE> 1h manage")
    finally:
        app.stop()
    assert "nobody approves their own access" in reply
    assert clean_hub.share_codes("owner") == []


# -- 5. owner actions follow the current link -----------------------------------------------


def test_after_a_relink_the_new_slack_user_holds_the_owners_power(
    linked_env: dict[str, str], slack: FakeSlack, clean_hub: RunningHub, db: Engine, tmp_path: Path
) -> None:
    slack.add_user("UNEWOWNER", name="owner2", email="owner2@example.org")
    app = start_app(
        {**linked_env, "SHAREBOT_REMIND_FRACTION": "1"},  # reminded at once
        tmp_path,
    )
    try:
        share(app, slack, "UOWNER", "<@UALICE> 1h")
        url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
        assert clean_hub.accept_share("alice", url).status_code == 302
        reminder = slack.wait_for_dm("UOWNER", "Need more time", timeout=20)
        assert run_cli(linked_env, "link", "UNEWOWNER", "owner").returncode == 0

        # the old Slack user, linked to nothing now, can do nothing with the grant
        assert "Only the person who shared" in click(
            app, slack, "UOWNER", reminder, blocks.EXTEND_ACTION
        )
        [row] = grants(db)
        assert "not linked" in share(app, slack, "UOWNER", "list")
        assert "<@UALICE>" in share(app, slack, "UNEWOWNER", "list")
        reply = share(app, slack, "UNEWOWNER", "revoke <@UALICE>")
    finally:
        app.stop()
    assert "revoked access for <@UALICE>" in reply
    assert share_users(clean_hub) == set()
    assert state_of(db, row.id) == "revoked"


# -- 6. one malformed hub answer -------------------------------------------------------------


def test_a_malformed_answer_for_one_server_delays_no_other_revocation(
    proxied_app: RunningApp,
    proxy: FaultProxy,
    slack: FakeSlack,
    clean_hub: RunningHub,
    db: Engine,
) -> None:
    clean_hub.create_named_server("owner", "gpu")
    try:
        share(proxied_app, slack, "UOWNER", "<@UALICE> 1h")
        url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
        assert clean_hub.accept_share("alice", url).status_code == 302
        poll(lambda: [g.state for g in grants(db)] == ["active"] or None, "the acceptance")
        share(proxied_app, slack, "UOWNER", "<@UBOB> 1h server:gpu")  # an open invitation
        proxy.fail("GET", "share-codes/owner/gpu", times=100_000, kind="malformed")
        poll(lambda: proxy.fired or None, "a malformed answer given")
        move_deadline_to_the_past(db, grants(db)[0].id)
        slack.wait_for_dm("UALICE", "has ended", timeout=20)
        assert share_users(clean_hub) == set()
        assert "cannot read" in proxied_app.log()
    finally:
        clean_hub.delete_named_server("owner", "gpu")
