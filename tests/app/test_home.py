"""The Home tab renders within Slack's limits, however much there is to show."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.app.home import HomeService
from bot.app.messages import HomeTab as HomeData
from bot.domain.decisions import Decision, DecisionKind, DecisionState
from bot.domain.grants import Grant, GrantState
from bot.slack import blocks
from bot.slack import home_view as home
from bot.slack.home_view import MAX_BLOCKS, home_view
from tests.support.factories import NOW, make_grant


def grant(i: int, **changes: object) -> Grant:
    defaults = {
        "id": i,
        "server": "gpu" if i % 2 else "",
        "recipient_slack_id": f"U{i:05d}",
        "recipient_hub": f"user{i}",
        "accepted_hub_user": None,
        "duration": timedelta(hours=2),
        "note": "n" * 400,
        "created_at": NOW - timedelta(minutes=1000 - i),
        "accepted_at": NOW,
        "expires_at": NOW + timedelta(hours=2),
    }
    return make_grant(**{**defaults, **changes})


def decision(i: int, **changes: object) -> Decision:
    base = Decision(
        id=i,
        kind=DecisionKind.REQUEST,
        state=DecisionState.PENDING,
        requester_slack_id=f"U{i:05d}",
        owner_slack_id="UOWNER",
        owner_hub="owner",
        server="",
        recipients=(f"U{i:05d}",),
        duration=timedelta(days=2),
        extras=(),
        reason="r" * 400,
        created_at=NOW - timedelta(minutes=1000 - i),
        expires_at=NOW + timedelta(days=1),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def rendered(data: HomeData) -> dict[str, Any]:
    view = home_view(data).to_dict()
    assert view["type"] == "home"
    return view


def all_text(view: dict[str, Any]) -> str:
    return str(view["blocks"])


def buttons(view: dict[str, Any], action_id: str) -> list[str]:
    found = []
    for block in view["blocks"]:
        elements = block.get("elements") or []
        if block.get("accessory"):
            elements = [block["accessory"]]
        found += [e["value"] for e in elements if e.get("action_id") == action_id]
    return found


def test_an_owner_with_160_shares_fits_in_100_blocks() -> None:
    data = HomeData(hub_user="owner", shared_by=[grant(i) for i in range(1, 161)])
    view = rendered(data)
    assert len(view["blocks"]) <= MAX_BLOCKS
    shown = buttons(view, home.REVOKE_ACTION)
    assert len(shown) >= 40  # the room goes to the one section that needs it (2 blocks each)
    assert shown[0] == "160" and shown == sorted(shown, key=int, reverse=True)  # newest first
    hidden = 160 - len(shown)
    assert f"and {hidden} more" in all_text(view) and "/share-server list" in all_text(view)


def test_only_the_newest_loaded_the_rest_counted_from_the_total() -> None:
    newest = [grant(i) for i in range(4901, 5001)]  # what the store loads: the newest 100
    view = rendered(HomeData(hub_user="owner", shared_by=newest, shared_by_total=5000))
    shown = buttons(view, home.REVOKE_ACTION)
    assert shown[0] == "5000"
    assert f"and {5000 - len(shown)} more" in all_text(view)


def test_every_section_full_still_fits_and_each_gets_room() -> None:
    data = HomeData(
        hub_user="owner",
        shared_by=[grant(i) for i in range(1, 201)],
        shared_with=[
            grant(i, owner_slack_id=f"U{i:05d}", recipient_slack_id="UOWNER")
            for i in range(201, 401)
        ],
        to_decide=[decision(i) for i in range(1, 151)],
        mine_pending=[
            decision(i, requester_slack_id="UOWNER", owner_slack_id="UBOB") for i in range(151, 301)
        ],
    )
    view = rendered(data)
    assert len(view["blocks"]) <= MAX_BLOCKS
    revoke = buttons(view, home.REVOKE_ACTION)
    leave = buttons(view, home.LEAVE_ACTION)
    approve = buttons(view, blocks.APPROVE_ACTION)
    cancel = buttons(view, blocks.CANCEL_ACTION)
    assert len(leave) >= 15 and min(len(revoke), len(approve), len(cancel)) >= 7  # 2 blocks each
    for count in (200 - len(revoke), 200 - len(leave), 150 - len(approve), 150 - len(cancel)):
        assert f"and {count} more" in all_text(view)
    block_ids = [b["block_id"] for b in view["blocks"] if "block_id" in b]
    assert [k for k, n in Counter(block_ids).items() if n > 1] == []  # Slack rejects repeats
    for block in view["blocks"]:
        text = (block.get("text") or {}).get("text", "")
        assert len(text) <= 3000


def test_small_home_shows_everything_with_the_decision_buttons() -> None:
    data = HomeData(
        hub_user="owner",
        shared_by=[grant(1), grant(2, state=GrantState.INVITED, code_expires_at=NOW)],
        shared_with=[grant(3, owner_slack_id="UBOB", recipient_slack_id="UOWNER")],
        to_decide=[decision(4)],
        mine_pending=[decision(5, requester_slack_id="UOWNER", owner_slack_id="UBOB")],
    )
    view = rendered(data)
    assert buttons(view, home.REVOKE_ACTION) == ["2", "1"]
    assert buttons(view, home.LEAVE_ACTION) == ["3"]
    # the same blocks as the decision DMs: Approve, Approve for less, Deny; Cancel
    assert buttons(view, blocks.APPROVE_ACTION) == ["4"]
    assert buttons(view, blocks.DENY_ACTION) == ["4"]
    assert buttons(view, blocks.CANCEL_ACTION) == ["5"]
    assert [b for b in view["blocks"] if b.get("block_id") == "decision-4"]
    text = all_text(view)
    assert "Linked to JupyterHub user `owner`" in text and "…and" not in text
    assert "invited, link valid until" in text and "active until" in text


def test_unlinked_and_empty() -> None:
    view = rendered(HomeData(hub_user=None))
    text = all_text(view)
    assert "/share-server link" in text
    assert "You are not sharing any server right now." in text
    assert "Nobody is sharing a server with you right now." in text


def test_long_names_fit_the_confirmation_dialog() -> None:
    long = grant(1, owner_hub="o" * 255, server="s" * 255)
    data = HomeData(hub_user="o" * 255, shared_by=[long], shared_with=[long])
    view = rendered(data)  # validates against Slack's limits
    confirms = [
        b["accessory"]["confirm"]["text"]["text"] for b in view["blocks"] if "accessory" in b
    ]
    assert len(confirms) == 2 and all(len(c) <= 300 for c in confirms)


def test_ending_grants_have_no_button() -> None:
    view = rendered(HomeData(hub_user="owner", shared_by=[grant(1, state=GrantState.ENDING)]))
    assert buttons(view, home.REVOKE_ACTION) == []
    assert "ending" in all_text(view)


@pytest.mark.parametrize(
    ("wanted", "room", "expected"),
    [
        ([(0, 1), (200, 1)], 80, [0, 80]),
        ([(5, 1), (200, 1), (200, 2)], 85, [5, 40, 20]),
        ([(3, 2), (1, 1)], 80, [3, 1]),
    ],
)
def test_fair_counts(wanted: list[tuple[int, int]], room: int, expected: list[int]) -> None:
    assert home._fair_counts(wanted, room) == expected


class _GatedHome(HomeService):
    """A HomeService whose publish waits for a gate and records which render it was."""

    def __init__(self) -> None:
        super().__init__(grants=None, links=None, decisions=None, say=None)  # type: ignore[arg-type]
        self.gate = asyncio.Event()
        self.renders: list[str] = []

    async def publish(self, slack_id: str) -> None:
        self.renders.append(slack_id)
        await self.gate.wait()


async def test_refreshes_asked_during_a_publish_share_one_later_publish() -> None:
    service = _GatedHome()
    first = asyncio.create_task(service.refresh("UOWNER"))
    await asyncio.sleep(0)  # the first publish is running, held at the gate
    later = [asyncio.create_task(service.refresh("UOWNER")) for _ in range(5)]
    alice = asyncio.create_task(service.refresh("UALICE"))
    await asyncio.sleep(0)
    assert service.renders == ["UOWNER", "UALICE"]  # other people are not held up
    service.gate.set()
    await asyncio.wait_for(asyncio.gather(first, *later, alice), timeout=5)
    # One render for the first call, one for the five asked while it ran.
    assert Counter(service.renders) == {"UOWNER": 2, "UALICE": 1}
    await service.refresh("UOWNER")  # nothing running: a call publishes at once
    assert Counter(service.renders)["UOWNER"] == 3
