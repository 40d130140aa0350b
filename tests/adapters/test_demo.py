"""The pure parts of `sharebot demo` and its clear refusal when a prerequisite is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import cli
from bot.sandbox import demo
from bot.sandbox import hub as hub_harness
from bot.slack import blocks


def test_slack_text_escapes_demo_people_only() -> None:
    assert demo.slack_text("@alice 1h pairing @zed") == "<@UALICE|alice> 1h pairing @zed"
    assert demo.slack_text("request @owner 2h") == "request <@UOWNER|owner> 2h"


def test_accept_link_and_buttons_are_found() -> None:
    invitation = {
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "hi"}},
            {
                "type": "actions",
                "block_id": "grant-3",
                "elements": [
                    {"type": "button", "action_id": blocks.ACCEPT_ACTION, "url": "u", "value": "3"}
                ],
            },
        ]
    }
    assert demo.accept_link_of(invitation) == ("u", "grant-3", "3")
    assert demo.button_of(invitation, blocks.ACCEPT_ACTION) == ("grant-3", "3")
    assert demo.button_of(invitation, blocks.APPROVE_ACTION) is None
    assert demo.accept_link_of({"text": "no blocks"}) is None


def test_missing_proxy_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no configurable-http-proxy on PATH
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(hub_harness, "REPO_ROOT", tmp_path)  # nor in node_modules
    with pytest.raises(hub_harness.ProxyNotFound, match="npm install"):
        hub_harness.find_chp()

    assert cli.main(["demo"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "configurable-http-proxy not found" in err and "`npm install`" in err


def test_missing_jupyterhub_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo.importlib.util, "find_spec", lambda name: None)
    assert cli.main(["demo"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install -e '.[demo]'" in err
