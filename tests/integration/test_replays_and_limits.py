"""A signed command or click replayed within Slack's 5 minutes does nothing the second time,
on any replica; and the per-person limit on invitations and requests, through signed
commands. Against the real hub, the Slack stand-in and ``sharebot serve`` over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import Engine

from bot.sandbox.fake_slack import FakeSlack
from bot.slack import blocks
from tests.support.app import (
    RunningApp,
    block_action,
    new_trigger_id,
    sign,
    start_app,
)
from tests.support.hub import RunningHub
from tests.support.stories import button_block, grants, share

pytestmark = pytest.mark.integration

REPLAY_LOGGED = "a replay of an invocation already taken on"


class Signed:
    """One signed request, as Slack sent it: the same bytes and headers each time it is
    posted (what someone who captured it would replay)."""

    def __init__(self, body: str) -> None:
        self.body = body
        self.headers = sign(body)

    def post(self, app: RunningApp) -> httpx.Response:
        with httpx.Client(timeout=10) as client:
            return client.post(f"{app.url}/slack/events", content=self.body, headers=self.headers)


def command(user: str, text: str, response_url: str) -> Signed:
    return Signed(
        urlencode(
            {
                "token": "unused-verification-token",
                "team_id": "T0TEST",
                "channel_id": "C0GENERAL",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/share-server",
                "text": text,
                "api_app_id": "A0SHAREBOT",
                "response_url": response_url,
                "trigger_id": new_trigger_id(),
            }
        )
    )


def interaction(payload: dict[str, Any]) -> Signed:
    return Signed(urlencode({"payload": json.dumps(payload)}))


def wait_until(check: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def replays_logged(app: RunningApp) -> int:
    return app.log().count(REPLAY_LOGGED)


def invitations_to(slack: FakeSlack, user: str) -> list[dict[str, Any]]:
    return [m for m in slack.dms_to(user) if "shared" in m["text"] and "with you" in m["text"]]


def assert_clean(app: RunningApp) -> None:
    log = app.log()
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]


def replay_a_command(first: RunningApp, second: RunningApp, slack: FakeSlack, db: Engine) -> None:
    """The same signed /share-server to ``first``, then again to ``second``: one grant, one
    invitation, one answer."""
    url = slack.new_response_url()
    signed = command("UOWNER", "<@UALICE|alice> 1h", url)
    assert signed.post(first).status_code == 200
    slack.wait_for(lambda: slack.responses(url), timeout=20)
    slack.wait_for_dm("UALICE", "shared", timeout=20)
    before = replays_logged(second)
    replayed = signed.post(second)
    assert replayed.status_code == 200 and replayed.text == ""  # quietly acknowledged
    wait_until(lambda: replays_logged(second) > before, "the replay to be seen")
    assert len(grants(db)) == 1
    assert len(invitations_to(slack, "UALICE")) == 1
    assert len(slack.responses(url)) == 1


def replay_an_approval(first: RunningApp, second: RunningApp, slack: FakeSlack, db: Engine) -> None:
    """Alice asks; the owner's Approve click is posted to ``first``, then again to
    ``second``: approved once, one grant, one invitation, one answer to the click."""
    reply = share(first, slack, "UALICE", "request <@UOWNER> 1h please")
    assert "Asked <@UOWNER>" in reply
    ask = slack.wait_for_dm("UOWNER", "asks for access", timeout=20)
    block_id, value = button_block(ask, blocks.APPROVE_ACTION)
    url = slack.new_response_url()
    signed = interaction(
        block_action("UOWNER", blocks.APPROVE_ACTION, url, value=value, block_id=block_id)
    )
    assert signed.post(first).status_code == 200
    answer = slack.wait_for(lambda: slack.responses(url), timeout=20)
    assert "Approved by <@UOWNER>" in answer[0]["text"]
    slack.wait_for_dm("UALICE", "shared", timeout=20)
    before = replays_logged(second)
    assert signed.post(second).status_code == 200
    wait_until(lambda: replays_logged(second) > before, "the replay to be seen")
    assert len(grants(db)) == 1
    assert len(invitations_to(slack, "UALICE")) == 1
    # not even "already decided": the replay is not answered at all
    assert len(slack.responses(url)) == 1


def test_a_replayed_slash_command_invites_once(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    replay_a_command(app, app, slack, db)
    assert_clean(app)


def test_a_replayed_click_approves_once(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    replay_an_approval(app, app, slack, db)
    assert_clean(app)


@pytest.fixture
def replicas(linked_env: dict[str, str], tmp_path: Path) -> Iterator[list[RunningApp]]:
    apps: list[RunningApp] = []
    try:
        for _ in range(2):
            apps.append(start_app(linked_env, tmp_path))
        yield apps
    finally:
        for app in apps:
            app.stop()
    for app in apps:
        assert_clean(app)


def test_a_replay_to_another_replica_does_nothing_either(
    replicas: list[RunningApp], slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    first, second = replicas
    replay_a_command(first, second, slack, db)


def test_a_replayed_click_on_another_replica_does_nothing_either(
    replicas: list[RunningApp], slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    first, second = replicas
    replay_an_approval(second, first, slack, db)


def test_the_per_person_limit_through_signed_commands(
    linked_env: dict[str, str], tmp_path: Path, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    app = start_app({**linked_env, "SHAREBOT_RATE_LIMIT_PER_MINUTE": "2"}, tmp_path)
    try:
        assert "Invited <@UALICE>" in share(app, slack, "UOWNER", "<@UALICE|alice> 1h")
        assert "Invited <@UBOB>" in share(app, slack, "UOWNER", "<@UBOB|bob> 1h")
        refused = share(app, slack, "UOWNER", "<@UCAROL|carol> 1h")
        assert refused == (
            "You have sent 2 invitations and requests in the last minute; try again in a "
            "minute. Nothing was sent."
        )
        # someone else is not held back by the owner's count
        assert "Asked <@UOWNER>" in share(app, slack, "UCAROL", "request <@UOWNER> 1h")
        assert len(grants(db)) == 2
        assert not invitations_to(slack, "UCAROL")
    finally:
        app.stop()
    assert_clean(app)


def test_a_request_for_a_missing_server_names_none_of_the_owners(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    """Against the real hub: the requester hears only that there is no such server; the
    owner, in their own command, still sees what servers they have."""
    asked = share(app, slack, "UALICE", "request <@UOWNER> 1h server:thesis-draft")
    assert asked == "<@UOWNER> has no server named `thesis-draft`, so nothing was asked or shared."
    own = share(app, slack, "UOWNER", "<@UALICE|alice> 1h server:thesis-draft")
    assert "You have no server named `thesis-draft`" in own and "Your servers:" in own
    # nothing asked; the owner's own share failed before the hub made a code
    assert [(g.state, g.code_id) for g in grants(db)] == [("failed", None)]
    assert not slack.dms_to("UOWNER") and not slack.dms_to("UALICE")
