"""Nothing let in: forged requests, other people's buttons, Slack retries, secrets in logs,
and people's own words that try to ping everyone. All over HTTP, against the real hub."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.sandbox.fake_slack import FakeSlack
from bot.slack import blocks
from bot.slack import home_view as home
from bot.store.models import AuditEvent
from tests.support.app import BOT_TOKEN, SIGNING_SECRET, RunningApp, block_action, sign, start_app
from tests.support.forged import FORGERIES, share_command
from tests.support.home import accepted_share, click_home, home_button
from tests.support.hub import RunningHub
from tests.support.observe import decisions
from tests.support.stories import accept_url_in, click, grants, share, share_users

pytestmark = pytest.mark.integration


def post(app: RunningApp, body: str, headers: dict[str, str]) -> httpx.Response:
    with httpx.Client(timeout=10) as client:
        return client.post(f"{app.url}/slack/events", content=body, headers=headers)


def event_body(event: dict[str, object], event_id: str) -> str:
    return json.dumps(
        {
            "token": "unused-verification-token",
            "team_id": "T0TEST",
            "api_app_id": "A0SHAREBOT",
            "event": {"event_ts": f"{time.time():.6f}", **event},
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T0TEST", "user_id": "UBOT", "is_bot": True}],
        }
    )


# -- signatures -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(FORGERIES))
def test_forged_requests_get_401_and_change_nothing(
    kind: str, app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    url = slack.new_response_url()
    genuine = {
        "command": (share_command("UOWNER", "<@UALICE> 1h", url), "form"),
        "click": (
            urlencode({"payload": json.dumps(block_action("UOWNER", home.REVOKE_ACTION, url))}),
            "form",
        ),
        "event": (
            event_body({"type": "app_home_opened", "user": "UOWNER", "tab": "home"}, "EvF1"),
            "json",
        ),
    }
    before = len(slack.calls())
    for what, (body, content) in genuine.items():
        sent, headers = FORGERIES[kind](body)
        if content == "json":
            headers["Content-Type"] = "application/json"
        response = post(app, sent, headers)
        assert response.status_code == 401, (what, response.status_code, response.text)
    time.sleep(0.5)  # anything let in would have acted by now
    assert len(slack.calls()) == before  # no DM, no Home tab, no reply
    assert slack.responses(url) == []
    assert grants(db) == []
    assert clean_hub.share_codes("owner") == []


def test_a_genuine_request_with_the_same_helpers_is_accepted(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub
) -> None:
    """The control for the test above: only the forgery makes the difference."""
    url = slack.new_response_url()
    body = share_command("UOWNER", "help", url)
    response = post(app, body, sign(body))
    assert response.status_code == 200 and "/share-server list" in response.json()["text"]


# -- who may click what ---------------------------------------------------------------------


@pytest.fixture
def admin_app(linked_env: dict[str, str], slack: FakeSlack, tmp_path: Path) -> Iterator[RunningApp]:
    env = {
        **linked_env,
        "SHAREBOT_ADMINS": "UCAROL",
        "SHAREBOT_APPROVAL_ABOVE": "1d",
        "SHAREBOT_APPROVERS": "UBOB",
    }
    running = start_app(env, tmp_path)
    try:
        yield running
    finally:
        running.stop()


def test_a_forwarded_revoke_button_does_nothing_for_others_but_works_for_an_admin(
    admin_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    row = accepted_share(admin_app, slack, clean_hub, db, "<@UALICE|alice> 1h")
    view = slack.wait_for_home("UOWNER", "active until")
    block = home_button(view, home.REVOKE_ACTION, str(row.id))
    for intruder in ("UBOB", "UALICE"):  # the button, forwarded into a conversation
        url = slack.new_response_url()
        payload = block_action(
            intruder, home.REVOKE_ACTION, url, value=str(row.id), block_id=block["block_id"]
        )
        assert admin_app.interact(payload).status_code == 200
        [answer] = slack.wait_for(lambda u=url: slack.responses(u), timeout=20)  # type: ignore[misc]
        assert answer["response_type"] == "ephemeral"
        assert "Only the person who shared the server can revoke" in answer["text"]
    assert share_users(clean_hub) == {"alice"} and grants(db)[0].state == "active"

    click_home(admin_app, "UCAROL", view, home.REVOKE_ACTION, str(row.id))  # an admin
    slack.wait_for_dm("UOWNER", "<@UCAROL>, a sharebot admin, revoked <@UALICE>'s access")
    slack.wait_for_dm("UALICE", "ended your access")
    slack.wait_for(lambda: grants(db)[0].state == "revoked", timeout=20)
    assert share_users(clean_hub) == set()
    with Session(db) as session:
        actor = session.scalars(
            select(AuditEvent.actor_slack_id).where(
                AuditEvent.grant_id == row.id, AuditEvent.action == "revoke"
            )
        ).one()
    assert actor == "UCAROL"


def test_a_copied_approval_does_nothing_for_non_approvers(
    admin_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    reply = share(admin_app, slack, "UOWNER", "<@UALICE> 2d")
    assert "needs approval" in reply
    ask = slack.wait_for_dm("UBOB", "policy asks for approval")
    # the approver's DM, copied or forwarded to others: an admin is not an approver either
    for other in ("UCAROL", "UALICE", "UOWNER"):
        answer = click(admin_app, slack, other, ask, blocks.APPROVE_ACTION)
        assert "can't approve" in answer
        answer = click(admin_app, slack, other, ask, blocks.APPROVE_FOR_ACTION, selected="3600")
        assert "can't approve" in answer
    assert [d.state for d in decisions(db)] == ["pending"]
    assert grants(db) == [] and clean_hub.share_codes("owner") == []
    assert "Approved by <@UBOB>" in click(admin_app, slack, "UBOB", ask, blocks.APPROVE_ACTION)


# -- Slack retries --------------------------------------------------------------------------


def test_a_retried_event_is_acknowledged_without_doing_it_again(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub
) -> None:
    body = event_body({"type": "app_home_opened", "user": "UOWNER", "tab": "home"}, "Ev0RETRY")
    assert post(app, body, {**sign(body), "Content-Type": "application/json"}).status_code == 200
    slack.wait_for(lambda: len(slack.calls("views.publish")) == 1)
    retry = {
        **sign(body),
        "Content-Type": "application/json",
        "X-Slack-Retry-Num": "1",
        "X-Slack-Retry-Reason": "http_timeout",
    }
    assert post(app, body, retry).status_code == 200
    time.sleep(1.0)
    assert len(slack.calls("views.publish")) == 1
    # A forged retry is still a forgery.
    forged = {**retry, "X-Slack-Signature": "v0=" + "0" * 64}
    assert post(app, body, forged).status_code == 401
    # When the first delivery failed on our side, Slack's retry is the only one: handled.
    failed_first = {**retry, "X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"}
    assert post(app, body, failed_first).status_code == 200
    slack.wait_for(lambda: len(slack.calls("views.publish")) == 2)


# -- secrets and people's words -------------------------------------------------------------


def test_no_secret_in_any_log_or_reply_of_a_full_story(
    admin_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    hub = clean_hub
    # share (with a note that tries a mass mention), accept through the hub's login form
    note = "<!channel> look <http://evil|here> & <!everyone>"
    share(admin_app, slack, "UOWNER", f"<@UALICE> 1h {note}")
    invitation = slack.wait_for_dm("UALICE", "shared")
    escaped = "&lt;!channel&gt; look &lt;http://evil|here&gt; &amp; &lt;!everyone&gt;"
    assert escaped in invitation["text"]
    assert "<!channel>" not in json.dumps(invitation) and "<!everyone" not in json.dumps(invitation)
    urls = [accept_url_in(invitation)]
    assert hub.accept_share("alice", urls[0]).status_code == 302
    slack.wait_for_dm("UOWNER", "accepted", timeout=20)
    # a request, approved, accepted; a second share revoked before it is used
    share(admin_app, slack, "UBOB", "request <@UOWNER> 1h <!here> please")
    ask = slack.wait_for_dm("UOWNER", "asks for access")
    assert "&lt;!here&gt; please" in ask["text"] and "<!here>" not in json.dumps(ask)
    click(admin_app, slack, "UOWNER", ask, blocks.APPROVE_ACTION)
    urls.append(accept_url_in(slack.wait_for_dm("UBOB", "shared")))
    assert hub.accept_share("bob", urls[1]).status_code == 302
    share(admin_app, slack, "UOWNER", "<@UCAROL> 1h")
    urls.append(accept_url_in(slack.wait_for_dm("UCAROL", "shared")))
    assert "revoked access for <@UALICE>" in share(admin_app, slack, "UOWNER", "revoke <@UALICE>")
    assert "withdrew the invitation" in share(admin_app, slack, "UOWNER", "revoke <@UCAROL>")
    # bad input and a refused link use, for the error paths
    bad = admin_app.command("UOWNER", "<@UALICE> soon", slack.new_response_url())
    assert "is not a duration" in bad.json()["text"]
    said_in_acks = [bad.text]
    hub.accept_share("carol", urls[2])  # a withdrawn link
    slack.wait_for(lambda: {g.state for g in grants(db)} >= {"revoked", "cancelled"}, timeout=20)

    codes = [u.split("code=", 1)[1] for u in urls]
    secrets = {
        "bot token": BOT_TOKEN,
        "signing secret": SIGNING_SECRET,
        "hub token": admin_app.env["JUPYTERHUB_API_TOKEN"],
        **{f"accept URL {i}": u for i, u in enumerate(urls)},
        **{f"share code {i}": c for i, c in enumerate(codes)},
    }
    log = admin_app.log()
    assert "invited" in log  # the log was captured
    # Everything Slack received, except the one place an accept link belongs: the button
    # of the recipient's invitation.
    said = []
    for call in slack.calls():
        params = dict(call.params)
        if call.method == "chat.postMessage" and any(u in json.dumps(params) for u in urls):
            params.pop("blocks")
        said.append(json.dumps(params))
    everything = "\n".join([log, *said, *said_in_acks])
    leaked = [name for name, secret in secrets.items() if secret in everything]
    assert leaked == []
    assert "code=" not in everything
