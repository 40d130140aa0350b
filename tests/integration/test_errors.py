"""Bad input, forged requests and failing parts: a clear answer, never a 500, nothing half-done."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.sandbox.fake_slack import FakeSlack
from tests.support.app import RunningApp, start_app
from tests.support.hub import RunningHub, free_port
from tests.support.stories import grants, share

pytestmark = pytest.mark.integration


def test_forged_signature_is_rejected(app: RunningApp, slack: FakeSlack, db: Engine) -> None:
    url = slack.new_response_url()
    response = app.command("UOWNER", "<@UALICE> 1h", url, secret="not-the-signing-secret")
    assert response.status_code == 401
    stale = app.command("UOWNER", "<@UALICE> 1h", url, timestamp=int(time.time()) - 600)
    assert stale.status_code == 401
    assert grants(db) == []
    assert slack.calls("conversations.open") == []
    assert slack.responses(url) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Share your JupyterHub server"),
        ("help", "/share-server @alice 1h"),
        ("frobnicate", "Unknown subcommand `frobnicate`"),
        ("<@UALICE> soon", "`soon` is not a duration"),
        ("<@UALICE> 30d", "longer than this workspace allows (1w)"),
        ("<@UALICE> 30s", "at least 1m"),
        ("1h", "Say who to share with"),
        ("<#C123|general> 1h", "That is a channel"),
        ("<!here> 1h", "is not a person"),
    ],
)
def test_bad_input_gets_a_specific_message_and_usage(
    app: RunningApp, slack: FakeSlack, text: str, expected: str, db: Engine
) -> None:
    url = slack.new_response_url()
    response = app.command("UOWNER", text, url)
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert expected in body["text"]
    assert "/share-server list" in body["text"]  # usage follows every error
    assert grants(db) == []


def test_unlinked_people_are_named(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    reply = share(app, slack, "UOWNER", "<@UALICE> <@UDAVE|dave> <@UERIN> 1h")
    assert "<@UDAVE>, <@UERIN> are not linked" in reply
    assert "sharebot link" in reply
    reply = share(app, slack, "UDAVE", "<@UALICE> 1h")
    assert "You are not linked" in reply
    assert grants(db) == []
    assert clean_hub.share_codes("owner") == []
    assert slack.calls("chat.postMessage") == []


def test_sharing_with_yourself_is_refused(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    assert "cannot share your server with yourself" in share(app, slack, "UOWNER", "<@UOWNER> 1h")
    assert grants(db) == []


def test_named_servers(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    clean_hub.create_named_server("owner", "gpu")
    try:
        reply = share(app, slack, "UOWNER", "<@UALICE> 1h server:nope")
        assert "no server named `nope`" in reply and "`server:gpu`" in reply
        # written before the hub answered (it reads the shares while making the code)
        assert [(g.state, g.code_id) for g in grants(db)] == [("failed", None)]
        assert clean_hub.share_codes("owner") == []
        reply = share(app, slack, "UOWNER", "<@UALICE> 1h server:gpu")
        assert "`owner/gpu`" in reply
        assert len(clean_hub.share_codes("owner", "gpu")) == 1
        assert clean_hub.share_codes("owner") == []
    finally:
        clean_hub.delete_named_server("owner", "gpu")


def test_hub_unreachable_shares_nothing(
    linked_env: dict[str, str], slack: FakeSlack, db: Engine, tmp_path: Path
) -> None:
    env = {**linked_env, "JUPYTERHUB_API_URL": f"http://127.0.0.1:{free_port()}/hub/api"}
    app = start_app(env, tmp_path)
    try:
        reply = share(app, slack, "UOWNER", "<@UALICE> 1h")
    finally:
        app.stop()
    assert "could not be reached, so nothing was shared" in reply
    assert [(g.state, g.code_id) for g in grants(db)] == [("failed", None)]
    assert "cannot connect to JupyterHub" in app.log()  # the detail is for the admins


def test_undeliverable_invitation_is_withdrawn(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    slack.fail_next("chat.postMessage", error="channel_not_found")
    reply = share(app, slack, "UOWNER", "<@UALICE> 1h")
    assert "Slack would not let me send a DM to <@UALICE>" in reply
    assert clean_hub.share_codes("owner") == []  # no orphan link stays usable
    assert [g.state for g in grants(db)] == ["failed"]
