"""Block Kit built with slack_sdk's models stays within Slack's limits."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.decisions import DecisionState
from bot.domain.grants import GrantState
from bot.slack import blocks
from tests.support.factories import NOW, make_decision, make_grant


def test_decider_copy_carries_only_the_id() -> None:
    built = [b.to_dict() for b in blocks.decision_for_decider(make_decision())]
    actions = next(b for b in built if b["type"] == "actions")
    assert actions["block_id"] == "decision-7"
    values = [e.get("value") for e in actions["elements"] if e["type"] == "button"]
    assert values == ["7", "7"]
    select = next(e for e in actions["elements"] if e["type"] == "static_select")
    assert [o["value"] for o in select["options"]][-1] == str(86400)  # shorter than 2d only


def test_huge_reason_is_cut_to_fit() -> None:
    long = make_decision(reason="x" * 10_000, recipients=tuple(f"U{i:08d}" for i in range(50)))
    for built in (
        blocks.decision_for_decider(long),
        blocks.decision_closed(long, "decider"),
        blocks.decision_for_requester(long),
    ):
        for block in built:
            block.validate_json()  # raises SlackObjectFormationError beyond Slack's limits
            text = block.to_dict().get("text", {}).get("text", "")
            assert len(text) <= blocks.SECTION_TEXT_LIMIT


def test_closed_copy_has_no_buttons() -> None:
    done = make_decision(state=DecisionState.DENIED, decided_by="UBOB", decision_note="not now")
    built = [b.to_dict() for b in blocks.decision_closed(done, "requester")]
    assert [b["type"] for b in built] == ["section", "context"]
    assert "Denied by <@UBOB>: not now" in str(built)


def test_no_shorter_option_for_the_shortest_durations() -> None:
    short = make_decision(duration=timedelta(minutes=10))
    built = [b.to_dict() for b in blocks.decision_for_decider(short)]
    assert "static_select" not in str(built)


def test_deny_modal_and_invitation_validate() -> None:
    assert blocks.deny_modal(7).to_dict()["private_metadata"] == "7"
    grant = make_grant(
        state=GrantState.INVITED,
        note="n" * 5000,
        created_at=NOW,
        accepted_hub_user=None,
        expires_at=None,
        code_expires_at=NOW,
    )
    built = blocks.invitation(grant, "https://hub.example.org/hub/accept-share?code=abc")
    assert built[1].to_dict()["elements"][0]["url"].endswith("code=abc")


def test_decision_ids_from_clicks() -> None:
    assert blocks.decision_id_of("decision-12", None) == 12
    assert blocks.decision_id_of("b", "9") == 9
    assert blocks.decision_id_of("b", "x") is None
