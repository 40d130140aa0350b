"""Domain values for unit tests: one grant factory instead of one per test module."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.grants import Grant, GrantState

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # a Thursday


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
    )
    return replace(base, **changes)
