"""Account linking through the hub's OAuth, email mapping, and catching leaked links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.sandbox.fake_slack import FakeSlack
from bot.slack import blocks
from bot.store.db import ensure_schema, make_engine
from bot.store.links import Links
from bot.store.models import AuditEvent, LinkFlow
from tests.support.app import RunningApp, run_cli, start_app
from tests.support.hub import RunningHub
from tests.support.linking import browse_to_confirmation, link_url, links
from tests.support.stories import accept_url_in, click, grants, share, share_users

pytestmark = pytest.mark.integration


def form_fields(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="(\w+)" value="([^"]*)"', page))


def test_link_through_hub_oauth_then_share(
    oauth_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, oauth_db: Engine
) -> None:
    url = link_url(oauth_app, slack)
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        page = browse_to_confirmation(clean_hub, browser, url)
        assert page.status_code == 200
        assert "Link Slack user" in page.text and "<strong>alice</strong>" in page.text
        assert links(oauth_db) == {"UBOB": ("bob", "admin")}  # nothing stored before the POST
        confirm = f"{clean_hub.sharebot_url}link/confirm"  # behind the hub's proxy
        done = browser.post(confirm, data=form_fields(page.text))
        assert done.status_code == 200 and "now linked" in done.text
        again = browser.post(confirm, data=form_fields(page.text))
        assert again.status_code == 400  # single use: the cookie is gone with the flow
    assert links(oauth_db)["UALICE"] == ("alice", "oauth")
    slack.wait_for_dm("UALICE", "now linked to JupyterHub user `alice`")
    assert "`alice`" in share(oauth_app, slack, "UALICE", "whoami")
    reply = share(oauth_app, slack, "UALICE", "<@UBOB> 1h")
    assert "Invited <@UBOB>" in reply
    assert len(clean_hub.share_codes("alice")) == 1
    with Session(oauth_db) as session:
        row = session.scalars(select(LinkFlow)).one()
        assert row.step == "done" and row.code_verifier is None
        assert url.rsplit("/", 1)[1] not in (row.nonce_hash or "")
    assert "Unlinked" in share(oauth_app, slack, "UALICE", "unlink")
    assert "UALICE" not in links(oauth_db)


def test_reused_and_expired_links(
    oauth_app: RunningApp, slack: FakeSlack, oauth_db: Engine
) -> None:
    url = link_url(oauth_app, slack)
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        assert browser.get(url).status_code == 302
        reused = browser.get(url)
        assert reused.status_code == 410 and "already used" in reused.text
        assert browser.get(url + "x").status_code == 404
        second = link_url(oauth_app, slack)
        with Session(oauth_db) as session, session.begin():
            session.execute(
                update(LinkFlow).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        expired = browser.get(second)
        assert expired.status_code == 410 and "expired" in expired.text
    assert "UALICE" not in links(oauth_db)


def test_callback_failures_store_nothing(
    oauth_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, oauth_db: Engine
) -> None:
    base = clean_hub.sharebot_url.rstrip("/")  # behind the hub's proxy, like a browser
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        start = browser.get(link_url(oauth_app, slack))
        state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
        mismatch = browser.get(f"{base}/oauth_callback", params={"code": "x", "state": "nope"})
        assert mismatch.status_code == 400 and "does not belong" in mismatch.text
        other_browser = httpx.get(
            f"{base}/oauth_callback", params={"code": "x", "state": state}, timeout=10
        )
        assert other_browser.status_code == 400 and "browser where you opened" in other_browser.text
        bad_code = browser.get(f"{base}/oauth_callback", params={"code": "bogus", "state": state})
        assert bad_code.status_code == 502 and "did not confirm" in bad_code.text
        reused_state = browser.get(f"{base}/oauth_callback", params={"code": "x", "state": state})
        assert reused_state.status_code == 410

        start = browser.get(link_url(oauth_app, slack))
        state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
        denied = browser.get(
            f"{base}/oauth_callback", params={"error": "access_denied", "state": state}
        )
        assert denied.status_code == 400 and "access_denied" in denied.text

        page = browse_to_confirmation(clean_hub, browser, link_url(oauth_app, slack))
        fields = form_fields(page.text)
        no_csrf = browser.post(f"{base}/link/confirm", data={"flow": fields["flow"]})
        assert no_csrf.status_code == 403
        wrong_csrf = browser.post(f"{base}/link/confirm", data={**fields, "csrf": "forged"})
        assert wrong_csrf.status_code == 403
        stolen = httpx.post(f"{base}/link/confirm", data=fields, timeout=10)  # no cookie
        assert stolen.status_code == 400
    assert "UALICE" not in links(oauth_db)


def test_link_needs_public_url(app: RunningApp, slack: FakeSlack) -> None:
    assert "SHAREBOT_PUBLIC_URL is unset" in share(app, slack, "UALICE", "link")


def test_carol_uses_the_link_meant_for_alice(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    share(app, slack, "UOWNER", "<@UALICE> 1h")
    url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
    assert clean_hub.accept_share("carol", url).status_code == 302
    owner = slack.wait_for_dm("UOWNER", "was used by hub user `carol`", timeout=20)
    assert "removed the access that link gave them" in owner["text"]
    slack.wait_for_dm("UALICE", "used by someone else")
    assert share_users(clean_hub) == set()
    assert clean_hub.share_codes("owner") == []
    [row] = grants(db)
    assert (row.state, row.end_reason, row.accepted_hub_user) == ("revoked", "misused", None)
    with Session(db) as session:
        misuse = session.scalars(select(AuditEvent).where(AuditEvent.action == "link_misused"))
        assert [e.detail["used_by"] for e in misuse] == ["carol"]
    assert not [m for m in slack.dms_to("UOWNER") if "accepted" in m["text"]]


def test_both_alice_and_carol_use_the_link(
    linked_env: dict[str, str],
    slack: FakeSlack,
    clean_hub: RunningHub,
    db: Engine,
    tmp_path: Path,
) -> None:
    # No background pass between the two uses (it would delete the code after alice's):
    # the app's own pass runs at start only, the one that sees both is `sweep --once`.
    app = start_app({**linked_env, "SHAREBOT_SWEEP_INTERVAL": "3600"}, tmp_path)
    try:
        share(app, slack, "UOWNER", "<@UALICE> 1h")
        url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
        assert clean_hub.accept_share("alice", url).status_code == 302
        assert clean_hub.accept_share("carol", url).status_code == 302
        assert share_users(clean_hub) == {"alice", "carol"}
        assert run_cli(linked_env, "sweep", "--once").returncode == 0
    finally:
        app.stop()
    # Alice may have opened her link twice and the owner shared with Carol in the hub: the
    # two look the same, so Carol's access is reported to the owner, not revoked.
    told = slack.wait_for_dm("UOWNER", "cannot tell whether `carol`", timeout=20)
    slack.wait_for_dm("UOWNER", "accepted")
    assert share_users(clean_hub) == {"alice", "carol"}
    [row] = grants(db)
    assert (row.state, row.accepted_hub_user) == ("active", "alice")
    app = start_app(linked_env, tmp_path)
    try:
        assert "removed" in click(app, slack, "UOWNER", told, blocks.FLAG_REVOKE_ACTION)
    finally:
        app.stop()
    assert share_users(clean_hub) == {"alice"}


@pytest.fixture
def email_app(
    env: dict[str, str], slack: FakeSlack, database_url: str, tmp_path: Path
) -> Iterator[RunningApp]:
    engine = make_engine(database_url)
    ensure_schema(engine)
    Links(engine).link("UOWNER", "owner", method="admin", by="tests", now=utcnow())
    engine.dispose()
    slack.add_user("UCAROL", name="carol", email="carol@example.org")
    slack.add_user("UGUEST", name="bob", email="bob@example.org", is_restricted=True)
    slack.add_user("UNOCONF", name="bob2", email="bob@example.org", is_email_confirmed=False)
    slack.add_user("UOTHER", name="bob3", email="bob@elsewhere.org")
    running = start_app(
        {**env, "SHAREBOT_EMAIL_MAPPING": "localpart", "SHAREBOT_EMAIL_DOMAINS": "example.org"},
        tmp_path,
    )
    try:
        yield running
    finally:
        running.stop()


def test_email_mapping_by_localpart(
    email_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, database_url: str
) -> None:
    db = make_engine(database_url)
    reply = share(email_app, slack, "UOWNER", "<@UCAROL> 1h")
    assert "Invited <@UCAROL>" in reply
    assert links(db)["UCAROL"] == ("carol", "email")
    for user, reason in [
        ("UGUEST", "guests are not linked by email"),
        ("UNOCONF", "not confirmed"),
        ("UOTHER", "not one of the allowed domains"),
    ]:
        assert reason in share(email_app, slack, "UOWNER", f"<@{user}> 1h")
        assert user not in links(db)
