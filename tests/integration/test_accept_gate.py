"""The accept gate on a real hub: only the recipient gets through to the hub's accept page,
the acceptance is known at once, and every other path says what happened, in words."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from bot.sandbox.fake_slack import FakeSlack
from bot.slack import blocks
from bot.store.models import AcceptGate, AuditEvent, GrantRow
from tests.support.app import RunningApp, start_app
from tests.support.browser import Browser
from tests.support.hub import RunningHub
from tests.support.stories import accept_url_in, click, scopes_of, share, share_users

pytestmark = pytest.mark.integration

ACCESS = "access:servers!server=owner/"


def invite(app: RunningApp, slack: FakeSlack, text: str = "<@UALICE> 1h") -> str:
    """Share as the owner; the accept link of the invitation it DMs Alice."""
    before = len(slack.dms_to("UALICE"))
    assert "Invited" in share(app, slack, "UOWNER", text)
    slack.wait_for_dm("UALICE", "shared")
    deadline = time.monotonic() + 10
    while len(slack.dms_to("UALICE")) <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    return accept_url_in(slack.dms_to("UALICE")[-1])


def owner_dms(slack: FakeSlack, contains: str) -> list[str]:
    return [m["text"] for m in slack.dms_to("UOWNER") if contains in m.get("text", "")]


def test_the_recipient_passes_and_the_owner_hears_at_once(
    gate_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    url = invite(gate_app, slack)
    assert url.startswith(f"{clean_hub.sharebot_url}accept/") and "code=" not in url
    with Browser(clean_hub) as browser:
        browser.login("alice")  # already signed in: no extra page on the way
        browser.go(url)
        paths = browser.visited()
        assert paths[:4] == [
            "/services/sharebot/accept/" + url.rsplit("/", 1)[1],
            "/hub/api/oauth2/authorize",
            "/services/sharebot/oauth_callback",
            "/hub/accept-share",
        ], paths
        assert "/services/sharebot/accepted/1" in paths  # the hub sent her back through us
        assert paths[paths.index("/services/sharebot/accepted/1") + 1] == "/user/owner/"
        assert browser.accept_posted_at is not None
        slack.wait_for_dm("UOWNER", "accepted your share", timeout=5)
        latency = time.monotonic() - browser.accept_posted_at
    assert latency < 2.0, f"the owner heard {latency:.2f}s after the accept POST"
    assert scopes_of(clean_hub, "alice") == {ACCESS}
    assert clean_hub.share_codes("owner") == []  # the code is gone at once too
    with Session(db) as session:
        sealed = session.scalars(select(AcceptGate)).one()
        token = url.rsplit("/", 1)[1]
        assert token not in sealed.token_hash and "code" not in sealed.sealed_code


def test_a_recipient_not_signed_in_signs_in_on_the_way(
    gate_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub
) -> None:
    url = invite(gate_app, slack)
    with Browser(clean_hub) as browser:
        browser.go(url, username="alice")
        assert "/hub/login" in browser.visited()
        assert "/services/sharebot/accepted/1" in browser.visited()
    slack.wait_for_dm("UOWNER", "accepted your share", timeout=5)
    assert share_users(clean_hub) == {"alice"}


def test_someone_else_is_turned_away_and_the_owner_told_once(
    gate_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    url = invite(gate_app, slack)
    for _ in range(2):
        with Browser(clean_hub) as carol:
            page = carol.go(url, username="carol")
            assert page.status_code == 403
            assert re.search(r"This invitation is for <strong>@\w*alice", page.text), page.text
            assert "/share-server request @" in page.text
            assert "/hub/accept-share" not in carol.visited()  # never near the code
    assert share_users(clean_hub) == set()  # nothing changed on the hub
    slack.wait_for_dm("UOWNER", "`carol` opened your invitation")
    assert len(owner_dms(slack, "`carol` opened your invitation")) == 1
    with Session(db) as session:
        refused = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "link_refused")
        ).all()
        assert [(e.grant_id, e.actor_hub) for e in refused] == [(1, "carol"), (1, "carol")]
    with Browser(clean_hub) as alice:  # the invitation still works for Alice
        alice.go(url, username="alice")
    slack.wait_for_dm("UOWNER", "accepted your share", timeout=5)
    assert share_users(clean_hub) == {"alice"}


def test_a_replayed_link_after_acceptance_says_so(
    gate_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub
) -> None:
    url = invite(gate_app, slack)
    with Browser(clean_hub) as browser:
        browser.go(url, username="alice")
        slack.wait_for_dm("UOWNER", "accepted your share", timeout=5)
        again = browser.go(url)
        assert again.status_code == 409 and "already accepted" in again.text
    with Browser(clean_hub) as bob:  # a forwarded copy, after the fact: nothing either
        page = bob.go(url, username="bob")
        assert page.status_code == 409
    assert share_users(clean_hub) == {"alice"}


def test_a_withdrawn_or_expired_invitation_says_so(
    gate_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    url = invite(gate_app, slack)
    assert "withdrew" in share(gate_app, slack, "UOWNER", "revoke <@UALICE>").lower()
    with Browser(clean_hub) as browser:
        page = browser.go(url, username="alice")
        assert page.status_code == 410 and "withdrawn or has ended" in page.text
    second = invite(gate_app, slack, "<@UALICE> 2h")
    with Session(db) as session, session.begin():
        session.execute(
            update(GrantRow)
            .where(GrantRow.id == 2)
            .values(code_expires_at=GrantRow.created_at)  # the link's time is up
        )
    with Browser(clean_hub) as browser:
        page = browser.go(second, username="alice")
        assert page.status_code == 410 and "expired unused" in page.text, page.text
    assert share_users(clean_hub) == set()
    with httpx.Client(timeout=10) as anyone:
        unknown = anyone.get(f"{clean_hub.sharebot_url}accept/not-a-real-token")
        assert unknown.status_code == 404 and "not valid" in unknown.text


def test_the_close_watch_knows_when_the_browser_does_not_come_back(
    gate_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub
) -> None:
    url = invite(gate_app, slack)
    with Browser(clean_hub) as browser:
        browser.login("alice")
        to_hub = browser.go(url, accept=False)  # stops at the hub's accept page
        assert to_hub.url.path == "/hub/accept-share"
        no_next = httpx.URL(to_hub.url).copy_remove_param("next")
        page = browser.http.get(no_next)
        xsrf = re.search(r'name="_xsrf"[^>]*value="([^"]*)"', page.text)
        assert xsrf
        posted = time.monotonic()
        done = browser.http.post(
            no_next, data={"code": no_next.params["code"], "_xsrf": xsrf.group(1)}
        )
        assert done.status_code == 302 and "/services/sharebot/" not in done.headers["location"]
        slack.wait_for_dm("UOWNER", "accepted your share", timeout=5)
        latency = time.monotonic() - posted
    assert latency < 2.0, f"the owner heard {latency:.2f}s after the accept POST"


def test_two_replicas_finish_one_flow(
    gate_app: RunningApp,
    linked_env: dict[str, str],
    slack: FakeSlack,
    clean_hub: RunningHub,
    tmp_path: Path,
) -> None:
    (tmp_path / "replica").mkdir()
    other = start_app(
        {**linked_env, "SHAREBOT_PUBLIC_URL": clean_hub.sharebot_url}, tmp_path / "replica"
    )
    try:
        url = invite(gate_app, slack)
        with Browser(clean_hub) as browser:
            browser.login("alice")
            authorize = browser.http.get(url)  # replica A (behind the proxy) starts the flow
            back = browser.http.get(authorize.headers["location"])
            callback = back.headers["location"]
            assert callback.startswith(f"{clean_hub.sharebot_url}oauth_callback?")
            on_b = callback.replace(clean_hub.sharebot_url, f"{other.url}/services/sharebot/")
            to_hub = browser.http.get(on_b)  # ... replica B finishes it
            assert to_hub.status_code == 302, to_hub.text
            assert "/hub/accept-share?code=" in to_hub.headers["location"]
            browser.go(to_hub.headers["location"])
        slack.wait_for_dm("UOWNER", "accepted your share", timeout=5)
        assert share_users(clean_hub) == {"alice"}
    finally:
        other.stop()


def test_without_public_url_the_dm_carries_the_hubs_link(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub
) -> None:
    share(app, slack, "UOWNER", "<@UALICE> 1h path:lab/tree/analysis.ipynb")
    url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
    assert "/hub/accept-share?code=" in url
    assert "next=%2Fuser%2Fowner%2Flab%2Ftree%2Fanalysis.ipynb" in url
    with Browser(clean_hub) as browser:
        browser.go(url, username="alice")
        assert "/user/owner/lab/tree/analysis.ipynb" in browser.visited()


def test_a_notebook_path_lands_the_recipient_on_it(
    gate_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub
) -> None:
    url = invite(
        gate_app, slack, f"<@UALICE> 1h <{clean_hub.public_url}/user/owner/lab/tree/a.ipynb>"
    )
    with Browser(clean_hub) as browser:
        browser.go(url, username="alice")
        assert "/user/owner/lab/tree/a.ipynb" in browser.visited()
    refused = share(gate_app, slack, "UOWNER", "<@UBOB> 1h path:../alice/secret.ipynb")
    assert "`..`" in refused and "Invited" not in refused
    elsewhere = share(gate_app, slack, "UOWNER", "<@UBOB> 1h <https://evil.example/user/owner/x>")
    assert "not on this JupyterHub" in elsewhere


def test_a_server_that_is_not_running_is_said_and_the_owner_told(
    gate_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub
) -> None:
    clean_hub.stop_server("owner")
    url = invite(gate_app, slack)
    with Browser(clean_hub) as browser:
        page = browser.go(url, username="alice")
        assert page.status_code == 200 and "The server is not running" in page.text
        assert "told owner that you are waiting" in page.text
        slack.wait_for_dm("UOWNER", "is waiting for your server")
        onward = re.search(r'<a href="([^"]+)" rel="noreferrer">Continue', page.text)
        assert onward, page.text
        browser.go(onward.group(1).replace("&amp;", "&"))  # accept anyway
        assert "/services/sharebot/accepted/1" in browser.visited()
    slack.wait_for_dm("UOWNER", "accepted your share", timeout=5)
    assert share_users(clean_hub) == {"alice"}
    assert len(owner_dms(slack, "is waiting for your server")) == 1


def test_a_request_with_a_notebook_path_lands_there_once_approved(
    gate_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub
) -> None:
    reply = share(gate_app, slack, "UALICE", "request <@UOWNER> 1h path:lab/tree/thesis.ipynb")
    assert "Asked <@UOWNER>" in reply
    ask = slack.wait_for_dm("UOWNER", "asks for access")
    assert "*Opens:* `lab/tree/thesis.ipynb`" in ask["text"]
    assert "Approved" in click(gate_app, slack, "UOWNER", ask, blocks.APPROVE_ACTION)
    url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
    with Browser(clean_hub) as browser:
        browser.go(url, username="alice")
        assert "/user/owner/lab/tree/thesis.ipynb" in browser.visited()
    refused = share(gate_app, slack, "UALICE", "request <@UOWNER> 1h path:../bob/x.ipynb")
    assert "`..`" in refused and "Asked" not in refused
