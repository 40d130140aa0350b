"""People's own words in mrkdwn are inert: no mass mentions, no pings, no disguised links."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.decisions import DecisionKind, DecisionState
from bot.slack import blocks, mrkdwn, texts
from tests.support.factories import make_decision, make_grant

INJECTIONS = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S123|@admins>",
    "<@U0ADMIN>",
    "<#C0GENERAL>",
    "<http://evil.example|click here to keep access>",
    "<!date^1^{date}|x>",
    "&lt;!channel&gt;",  # already escaped by Slack (slash command text)
]


@pytest.mark.parametrize("injection", INJECTIONS)
def test_escape_makes_control_sequences_inert(injection: str) -> None:
    escaped = mrkdwn.escape(f"please {injection} & thanks")
    assert "<" not in escaped and ">" not in escaped
    assert "& thanks" not in escaped and "&amp; thanks" in escaped


def test_escape_rules() -> None:
    assert mrkdwn.escape("a < b && c > d") == "a &lt; b &amp;&amp; c &gt; d"
    assert mrkdwn.escape("Grüße 👋") == "Grüße 👋"
    assert mrkdwn.escape("&lt;!here&gt;") == "&lt;!here&gt;"  # no double escaping


@given(st.text())
def test_escape_is_idempotent_and_leaves_no_brackets(text: str) -> None:
    once = mrkdwn.escape(text)
    assert mrkdwn.escape(once) == once
    assert "<" not in once and ">" not in once


@pytest.mark.parametrize("injection", INJECTIONS)
def test_notes_reasons_and_deny_notes_are_escaped(injection: str) -> None:
    grant = make_grant(note=f"see {injection}")
    rendered = [
        texts.invitation_dm(grant),
        json.dumps([b.to_dict() for b in blocks.invitation(grant, "https://hub/accept")]),
        texts.decision_summary(make_decision(reason=f"because {injection}")),
        texts.decision_summary(make_decision(kind=DecisionKind.REQUEST, reason=injection)),
        texts.decision_outcome(
            make_decision(state=DecisionState.DENIED, decided_by="UOWNER", decision_note=injection)
        ),
        json.dumps(
            [
                b.to_dict()
                for b in blocks.decision_for_decider(make_decision(reason=f"because {injection}"))
            ]
        ),
    ]
    for text in rendered:
        assert mrkdwn.escape(injection) in text
        if "<" in injection:
            assert injection not in text


def test_our_own_mentions_still_work() -> None:
    grant = make_grant(note="<!channel>")
    dm = texts.invitation_dm(grant)
    assert dm.startswith("<@UOWNER> shared") and "&lt;!channel&gt;" in dm
    reason = texts.extension_reason(make_grant(), grant.duration)
    extension = make_decision(kind=DecisionKind.EXTENSION, reason=reason)
    assert "<@UALICE>" in texts.decision_summary(extension)
