"""A linking link sent to someone already linked cannot take their hub identity."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from bot.sandbox.fake_slack import FakeSlack
from tests.support.app import RunningApp
from tests.support.hub import RunningHub
from tests.support.linking import browse_to_confirmation, link_url, links

pytestmark = pytest.mark.integration


def test_a_forwarded_link_cannot_take_a_linked_colleagues_identity(
    oauth_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, oauth_db: Engine
) -> None:
    # Mallory (UALICE here) runs /share-server link and sends the link to Bob, who is linked
    url = link_url(oauth_app, slack, "UALICE")
    with httpx.Client(follow_redirects=False, timeout=10) as bobs_browser:
        page = browse_to_confirmation(clean_hub, bobs_browser, url, username="bob")
    assert page.status_code == 409
    assert "already linked to another Slack account" in page.text
    assert links(oauth_db) == {"UBOB": ("bob", "admin")}  # nothing moved
    told = slack.wait_for_dm("UBOB", "opened an account-linking page")
    assert "<@UALICE>" in told["text"] and "Nothing changed" in told["text"]


def test_the_confirmation_page_says_what_changes_and_for_whom(
    oauth_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub
) -> None:
    url = link_url(oauth_app, slack, "UALICE")
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        page = browse_to_confirmation(clean_hub, browser, url, username="alice")
    assert page.status_code == 200
    assert "What changes" in page.text and "will act as" in page.text
    assert "if someone sent you this link, close this page" in page.text
