"""Domain values for unit tests: one grant factory instead of one per test module (and one
decision factory, and a stored active grant)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.access import grant_scopes
from bot.domain.decisions import Decision, DecisionKind, DecisionState
from bot.domain.grants import Grant, GrantState
from bot.store.grants import Grants, NewGrant

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # a Thursday
ACCESS = grant_scopes("owner", "")  # what a plain share of owner's default server gives
MANAGE = grant_scopes("owner", "", ["manage"])  # ... and with start/stop


def new_grant(**changes: Any) -> NewGrant:
    """An invitation from owner to alice of owner's default server for an hour, its code
    made (``code_id`` ``sc_1``): what ``Repository.add_grant`` takes."""
    base = NewGrant(
        owner_slack_id="UOWNER",
        owner_hub="owner",
        server="",
        recipient_slack_id="UALICE",
        recipient_hub="alice",
        duration=timedelta(hours=1),
        note="",
        code_id="sc_1",
        code_expires_at=NOW + timedelta(days=1),
        scopes=ACCESS,
    )
    return replace(base, **changes)


def make_grant(**changes: Any) -> Grant:
    """An active 1h grant from owner to alice, accepted, ending 5 minutes after ``NOW``."""
    base = Grant(
        id=1,
        state=GrantState.ACTIVE,
        owner_slack_id="UOWNER",
        owner_hub="owner",
        server="",
        recipient_slack_id="UALICE",
        recipient_hub="alice",
        duration=timedelta(hours=1),
        note="",
        created_at=NOW - timedelta(hours=2),
        accepted_hub_user="alice",
        expires_at=NOW + timedelta(minutes=5),
        scopes=ACCESS,
    )
    return replace(base, **changes)


def make_decision(**changes: object) -> Decision:
    """A pending approval of a 2-day share of owner's gpu server with alice and bob."""
    values: dict[str, object] = {
        "id": 7,
        "kind": DecisionKind.APPROVAL,
        "state": DecisionState.PENDING,
        "requester_slack_id": "UOWNER",
        "owner_slack_id": "UOWNER",
        "owner_hub": "owner",
        "server": "gpu",
        "recipients": ("UALICE", "UBOB"),
        "duration": timedelta(days=2),
        "extras": ("manage",),
        "reason": "pairing",
        "created_at": NOW,
        "expires_at": NOW + timedelta(days=1),
    }
    values.update(changes)
    return Decision(**values)  # type: ignore[arg-type]


def add_active(repo: Grants, recipient: str, ends: datetime, **fields: Any) -> int:
    """Store a grant to ``recipient`` and make it active until ``ends``; its id."""
    grant = repo.add_grant(new_grant(recipient_hub=recipient), now=NOW - timedelta(hours=2))
    active = repo.transition(
        grant, GrantState.ACTIVE, now=NOW, action="accept", expires_at=ends, **fields
    )
    assert active is not None
    return active.id
