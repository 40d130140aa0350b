"""The plain-text renderer of Slack messages used by `sharebot demo`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.decisions import Decision, DecisionKind, DecisionState
from bot.domain.grants import Grant, GrantState
from bot.sandbox.render import SECRET_LINK, plain, redact, render_message
from bot.slack import blocks, texts
from tests.support.factories import NOW, make_grant

NAMES = {"UOWNER": "owner", "UALICE": "alice", "UBOB": "bob"}
ACCEPT = "http://127.0.0.1:8000/hub/accept-share?code=s3cr3t-c0de"


def grant() -> Grant:
    return make_grant(
        id=3,
        state=GrantState.INVITED,
        note="pairing on the notebook",
        created_at=NOW,
        accepted_hub_user=None,
        expires_at=None,
        code_id="sc_1",
        code_expires_at=NOW + timedelta(days=1),
    )


@pytest.mark.parametrize(
    ("mrkdwn", "seen"),
    [
        ("<@UALICE> accepted", "@alice accepted"),
        ("<@UZED|zed> is new", "@zed is new"),
        ("<@UNKNOWN> hi", "@UNKNOWN hi"),
        ("in <#C1|general>", "in #general"),
        ("<!here> look", "@here look"),
        ("until <!date^1700000000^{date_short_pretty} at {time}|2023-11-14 22:13 UTC>", None),
        ("see <https://example.org/docs|the docs>", "see the docs"),
        ("see <https://example.org/docs>", "see https://example.org/docs"),
        ("a &lt;b&gt; &amp; c", "a <b> & c"),
        ("*bold* and `code`", "*bold* and `code`"),
        (":white_check_mark: Approved at 12:30:45", "\u2705 Approved at 12:30:45"),
        (":not_an_emoji_we_know:", ":not_an_emoji_we_know:"),
    ],
)
def test_plain(mrkdwn: str, seen: str | None) -> None:
    if seen is None:
        assert plain(mrkdwn, NAMES) == "until 2023-11-14 22:13 UTC"
    else:
        assert plain(mrkdwn, NAMES) == seen


@pytest.mark.parametrize(
    "text",
    [
        f"<{ACCEPT}|open it>",
        f"<{ACCEPT}>",
        ACCEPT,
        "/hub/accept-share?code=abc",
        "try code=abc&next=/x",
        f"&lt;{ACCEPT}&gt;",
    ],
)
def test_secrets_never_come_out(text: str) -> None:
    out = plain(text, NAMES)
    assert "code=" not in out and "s3cr3t" not in out and "abc" not in out
    assert "accept-share" not in out


def test_labelled_accept_link_shows_its_label() -> None:
    assert plain(f"<{ACCEPT}|Accept and open>") == "Accept and open"
    assert plain(f"<{ACCEPT}>") == SECRET_LINK
    assert redact(f"go to {ACCEPT} now") == f"go to {SECRET_LINK} now"


def test_invitation_renders_button_without_url() -> None:
    message = {
        "text": texts.invitation_dm(grant()),
        "blocks": [b.to_dict() for b in blocks.invitation(grant(), ACCEPT)],
    }
    lines = render_message(message, NAMES)
    assert any("@owner" in line for line in lines)
    assert f"[{texts.ACCEPT_BUTTON}]" in lines
    assert any("do not forward it" in line for line in lines)
    joined = "\n".join(lines)
    assert "code=" not in joined and "s3cr3t" not in joined and "http" not in joined
    assert "<@" not in joined and "<!date" not in joined


def test_decision_buttons_and_menu() -> None:
    decision = Decision(
        id=7,
        kind=DecisionKind.REQUEST,
        state=DecisionState.PENDING,
        requester_slack_id="UBOB",
        owner_slack_id="UOWNER",
        owner_hub="owner",
        server="",
        recipients=("UBOB",),
        duration=timedelta(hours=2),
        extras=(),
        reason="need the GPU notebook",
        created_at=NOW,
        expires_at=NOW + timedelta(days=1),
    )
    lines = render_message({"blocks": [b.to_dict() for b in blocks.decision_for_decider(decision)]})
    actions = [line for line in lines if line.startswith("[")]
    assert len(actions) == 1
    assert "[Approve]" in actions[0] and "[Deny]" in actions[0]
    assert " v]" in actions[0]  # the "approve for less" menu


def test_text_only_message_and_other_blocks() -> None:
    assert render_message({"text": "<@UBOB> hi\nsecond line"}, NAMES) == ["@bob hi", "second line"]
    assert render_message(
        {
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "Digest"}},
                {"type": "divider"},
                {
                    "type": "section",
                    "fields": [{"type": "mrkdwn", "text": "*Who*\n<@UALICE>"}],
                    "accessory": {"type": "overflow", "options": []},
                },
                {"type": "context", "elements": [{"type": "image", "alt_text": "logo"}]},
                {"type": "unknown-kind"},
            ]
        },
        NAMES,
    ) == ["Digest", "----", "*Who*", "@alice", "[...]", "[image: logo]"]


def test_blocks_win_over_text() -> None:
    message = {
        "text": "fallback",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "shown"}}],
    }
    assert render_message(message) == ["shown"]


def test_an_accept_gate_link_is_hidden_too() -> None:
    from bot.sandbox.render import SECRET_LINK, redact

    link = "http://127.0.0.1:8000/services/sharebot/accept/8-9kJcyDb7JBlrNsrqcc_hSxf2x8nCkulOV"
    assert redact(f"open {link} now") == f"open {SECRET_LINK} now"
