"""A real headless browser (Debian's chromium, driven by Playwright; nothing downloaded)
through the accept gate, the hub's own pages and the account-linking pages. Each page is
saved as a screenshot under the test's temporary folder; any console error fails."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, sync_playwright

from bot.sandbox.fake_slack import FakeSlack
from tests.support.app import RunningApp
from tests.support.hub import RunningHub
from tests.support.stories import accept_url_in, share, share_users

pytestmark = pytest.mark.integration

LINK = re.compile(r"<(http://[^|>]+/link/[^|>]+)\|")


@pytest.fixture
def chromium() -> Iterator[Browser]:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail(
            "Debian's chromium is needed (apt-get install chromium); ./scripts/test installs it"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=binary,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            browser.close()


class Tab:
    """One browser context (its own cookies), its console errors, its screenshots."""

    def __init__(self, browser: Browser, shots: Path, who: str) -> None:
        self.context = browser.new_context()
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.documents: dict[str, int] = {}  # pages opened, with their HTTP status
        self.shots, self.who, self.count = shots, who, 0
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda err: self.errors.append(str(err)))
        self.page.on("response", self._response)

    def _response(self, response: Response) -> None:
        if response.request.resource_type == "document":
            self.documents[response.url] = response.status

    def _console(self, message: ConsoleMessage) -> None:
        """Chromium reports a page's own non-2xx status as a console error; those pages
        (a refusal's 403, say) are asserted by the test. Anything else fails it."""
        if message.type != "error":
            return
        where = message.location.get("url", "")
        if message.text.startswith("Failed to load resource") and where in self.documents:
            return
        self.errors.append(f"{message.text} ({where})")

    def shot(self, name: str) -> Path:
        self.count += 1
        path = self.shots / f"{self.who}-{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000
        return path

    def log_in(self, hub: RunningHub, username: str) -> None:
        # to the hub's home page after logging in, not its default (which spawns a server)
        self.page.goto(f"{hub.public_url}/hub/login?next=%2Fhub%2Fhome")
        self.shot("hub-login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", hub.password)
        self.page.click("[type=submit]")
        self.page.wait_for_load_state()

    def close(self) -> None:
        self.context.close()


def test_the_gate_the_hubs_pages_and_linking_in_a_real_browser(
    chromium: Browser,
    gate_app: RunningApp,
    slack: FakeSlack,
    clean_hub: RunningHub,
    tmp_path: Path,
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    share(gate_app, slack, "UOWNER", "<@UALICE> 1h")
    url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))

    carol = Tab(chromium, shots, "carol")  # someone the link was forwarded to
    carol.log_in(clean_hub, "carol")
    carol.page.goto(url)
    assert "This invitation is not yours" in carol.page.content()
    assert carol.documents[carol.page.url] == 403
    carol.shot("gate-not-yours")
    carol.close()

    alice = Tab(chromium, shots, "alice")
    alice.log_in(clean_hub, "alice")
    alice.page.goto(url)  # the gate, the hub's OAuth, back: the hub's accept page
    alice.page.wait_for_url(re.compile(r".*/hub/accept-share\?.*"))
    alice.shot("hub-accept-page")
    alice.page.click("text=Accept invitation")
    alice.page.wait_for_url(re.compile(r".*/user/owner/.*"))
    alice.shot("after-accepting")
    slack.wait_for_dm("UOWNER", "accepted your share", timeout=5)
    assert share_users(clean_hub) == {"alice"}
    alice.page.goto(url)  # the link again: it says it was accepted
    assert "already accepted" in alice.page.content()
    alice.shot("gate-already-accepted")

    reply = share(gate_app, slack, "UALICE", "link")
    match = LINK.search(reply)
    assert match, reply
    alice.page.goto(match.group(1))  # signed in already: straight to the confirmation
    assert "What changes" in alice.page.content()
    alice.shot("link-confirm")
    alice.page.click("text=Link accounts")
    alice.page.wait_for_load_state()
    assert "now linked to JupyterHub user alice" in alice.page.content()
    alice.shot("linked")
    alice.close()

    for person in ("alice", "carol"):  # started by nothing above; make sure of it
        clean_hub.stop_server(person)
    assert len(list(shots.glob("*.png"))) == 8
    assert carol.errors == [] and alice.errors == [], (carol.errors, alice.errors)
