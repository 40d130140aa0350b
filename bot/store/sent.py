"""What one person sent lately: invitations (grants) and requests (decisions), counted in
the database so that every replica counts the same (the per-person limit, bot.app.limits)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select

from bot.domain.grants import GrantState
from bot.store.base import Store
from bot.store.models import DecisionRow, GrantRow


class Sent(Store):
    def since(self, slack_id: str, since: datetime) -> int:
        """Invitations and requests ``slack_id`` made from ``since`` on: grants they made
        themselves (one per person invited; not those an approval made, whose decision is
        counted, nor those the hub never made a code for: a share of a server that does
        not exist, or while the hub is down, failed before anything was sent) and
        decisions they asked for (requests, approvals, extensions)."""
        with self._read() as session:
            grants = session.scalar(
                select(func.count())
                .select_from(GrantRow)
                .where(
                    GrantRow.owner_slack_id == slack_id,
                    GrantRow.created_at >= since,
                    GrantRow.decision_id.is_(None),
                    or_(GrantRow.state != GrantState.FAILED.value, GrantRow.code_id.is_not(None)),
                )
            )
            decisions = session.scalar(
                select(func.count())
                .select_from(DecisionRow)
                .where(
                    DecisionRow.requester_slack_id == slack_id,
                    DecisionRow.created_at >= since,
                )
            )
        return int(grants or 0) + int(decisions or 0)
