"""Linking a Slack user to a hub account in the integration tests: the link the bot sends,
the hub's OAuth login up to sharebot's confirmation page, and the links stored."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.sandbox.fake_slack import FakeSlack
from bot.store.models import UserLink
from tests.support.app import RunningApp
from tests.support.hub import RunningHub
from tests.support.stories import share

LINK = re.compile(r"<(http://[^|>]+/link/[^|>]+)\|")


def links(db: Engine) -> dict[str, tuple[str, str]]:
    with Session(db) as session:
        return {r.slack_user_id: (r.hub_user, r.method) for r in session.scalars(select(UserLink))}


def link_url(app: RunningApp, slack: FakeSlack, user: str = "UALICE") -> str:
    reply = share(app, slack, user, "link")
    match = LINK.search(reply)
    assert match, reply
    return match.group(1)


def browse_to_confirmation(
    hub: RunningHub, browser: httpx.Client, url: str, username: str = "alice"
) -> httpx.Response:
    """Open the link, log in to the hub through its form, come back: the confirmation page."""
    start = browser.get(url)
    assert start.status_code == 302, start.text
    authorize = start.headers["location"]
    assert authorize.startswith(f"{hub.public_url}/hub/api/oauth2/authorize?")
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["client_id"] == ["service-sharebot"]
    assert (
        "HttpOnly" in start.headers["set-cookie"]
        and "samesite=lax" in start.headers["set-cookie"].lower()
    )
    to_login = browser.get(authorize)
    assert to_login.status_code == 302 and "/hub/login" in to_login.headers["location"]
    login_url = httpx.URL(hub.public_url).join(to_login.headers["location"])
    browser.get(login_url)
    xsrf = next(c.value for c in browser.cookies.jar if c.name == "_xsrf")
    logged_in = browser.post(
        login_url, data={"username": username, "password": hub.password, "_xsrf": xsrf}
    )
    assert logged_in.status_code == 302, logged_in.text
    back = browser.get(httpx.URL(hub.public_url).join(logged_in.headers["location"]))
    assert back.status_code == 302, back.text
    callback = back.headers["location"]
    assert callback.startswith(f"{hub.sharebot_url}oauth_callback?")
    return browser.get(callback)
