"""Persistence of access requests and approvals, and of where their messages were posted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.domain.decisions import (
    DECISION_TRANSITIONS,
    Decision,
    DecisionKind,
    DecisionState,
)
from bot.domain.durations import from_seconds, to_seconds
from bot.domain.grants import InvalidTransition
from bot.store.base import Store, record_audit
from bot.store.models import DecisionMessage, DecisionRow, GrantRow


@dataclass(frozen=True)
class PostedCopy:
    channel: str
    ts: str
    audience: str


class Decisions(Store):
    def add(
        self,
        *,
        kind: DecisionKind,
        requester_slack_id: str,
        owner_slack_id: str,
        owner_hub: str,
        server: str,
        recipients: tuple[str, ...],
        duration: timedelta,
        extras: tuple[str, ...],
        reason: str,
        now: datetime,
        ttl: timedelta,
        path: str | None = None,
    ) -> Decision:
        """Open a request or an approval."""
        with self._tx() as session:
            return _insert(
                session,
                kind=kind,
                grant_id=None,
                path=path,
                requester_slack_id=requester_slack_id,
                owner_slack_id=owner_slack_id,
                owner_hub=owner_hub,
                server=server,
                recipients=recipients,
                duration=duration,
                extras=extras,
                reason=reason,
                now=now,
                ttl=ttl,
            )

    def add_extension(
        self,
        *,
        grant_id: int,
        requester_slack_id: str,
        owner_slack_id: str,
        owner_hub: str,
        server: str,
        recipients: tuple[str, ...],
        duration: timedelta,
        extras: tuple[str, ...],
        reason: str,
        now: datetime,
        ttl: timedelta,
        kind: DecisionKind = DecisionKind.EXTENSION,
    ) -> Decision | None:
        """Open an extension of ``grant_id`` (or a recipient's ask for more time, ``kind``
        MORE_TIME); None when one of that kind is pending already.

        The grant's row is locked while checking (``FOR UPDATE`` on PostgreSQL; SQLite's
        ``BEGIN IMMEDIATE`` serialises writers): of two clicks or replicas, one opens it.
        """
        with self._tx() as session:
            session.execute(select(GrantRow.id).where(GrantRow.id == grant_id).with_for_update())
            pending = session.scalar(
                select(DecisionRow.id).where(
                    DecisionRow.grant_id == grant_id,
                    DecisionRow.kind == kind.value,
                    DecisionRow.state == DecisionState.PENDING.value,
                )
            )
            if pending is not None:
                return None
            return _insert(
                session,
                kind=kind,
                grant_id=grant_id,
                requester_slack_id=requester_slack_id,
                owner_slack_id=owner_slack_id,
                owner_hub=owner_hub,
                server=server,
                recipients=recipients,
                duration=duration,
                extras=extras,
                reason=reason,
                now=now,
                ttl=ttl,
            )

    def get(self, decision_id: int) -> Decision | None:
        with self._read() as session:
            row = session.get(DecisionRow, decision_id)
            return _decision(row) if row else None

    def pending(self) -> list[Decision]:
        with self._read() as session:
            rows = session.scalars(
                select(DecisionRow)
                .where(DecisionRow.state == DecisionState.PENDING.value)
                .order_by(DecisionRow.id)
            )
            return [_decision(r) for r in rows]

    def move(
        self,
        decision: Decision,
        new_state: DecisionState,
        *,
        now: datetime,
        by: str | None = None,
        note: str | None = None,
        approved_duration: timedelta | None = None,
        unless_overdue: bool = True,
    ) -> Decision | None:
        """Guarded state change: None when the decision is no longer in its old state
        (or, for a person's click, when it is past its deadline)."""
        if new_state not in DECISION_TRANSITIONS.get(decision.state, frozenset()):
            raise InvalidTransition(f"a decision cannot go from {decision.state} to {new_state}")
        values: dict[str, Any] = {"state": new_state.value, "updated_at": now}
        if by is not None:
            values.update(decided_by=by, decided_at=now)
        if note is not None:
            values["decision_note"] = note
        if approved_duration is not None:
            # until revoked is stored as NULL, which reads back as "the duration asked for"
            values["approved_duration_seconds"] = to_seconds(approved_duration)
        condition = [DecisionRow.id == decision.id, DecisionRow.state == decision.state.value]
        if unless_overdue:
            condition.append(DecisionRow.expires_at > now)
        with self._tx() as session:
            result = session.execute(update(DecisionRow).where(*condition).values(**values))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            record_audit(
                session,
                now=now,
                action=f"{decision.kind.value}_{new_state.value}",
                actor_slack_id=by,
                detail={"decision": decision.id, "from": decision.state.value, "note": note},
            )
            row = session.get(DecisionRow, decision.id, populate_existing=True)
            assert row is not None
            return _decision(row)

    def add_copy(self, decision_id: int, channel: str, ts: str, audience: str) -> None:
        with self._tx() as session:
            session.add(
                DecisionMessage(decision_id=decision_id, channel=channel, ts=ts, audience=audience)
            )

    def copies(self, decision_id: int) -> list[PostedCopy]:
        with self._read() as session:
            rows = session.scalars(
                select(DecisionMessage)
                .where(DecisionMessage.decision_id == decision_id)
                .order_by(DecisionMessage.id)
            )
            return [PostedCopy(r.channel, r.ts, r.audience) for r in rows]


def _insert(
    session: Session,
    *,
    kind: DecisionKind,
    grant_id: int | None,
    requester_slack_id: str,
    owner_slack_id: str,
    owner_hub: str,
    server: str,
    recipients: tuple[str, ...],
    duration: timedelta,
    extras: tuple[str, ...],
    reason: str,
    now: datetime,
    ttl: timedelta,
    path: str | None = None,
) -> Decision:
    row = DecisionRow(
        kind=kind.value,
        state=DecisionState.PENDING.value,
        requester_slack_id=requester_slack_id,
        owner_slack_id=owner_slack_id,
        owner_hub=owner_hub,
        server=server,
        recipients=list(recipients),
        duration_seconds=to_seconds(duration),
        extras=list(extras),
        reason=reason,
        created_at=now,
        expires_at=now + ttl,
        updated_at=now,
        grant_id=grant_id,
        path=path,
    )
    session.add(row)
    session.flush()
    record_audit(
        session,
        now=now,
        action=f"{kind.value}_open",
        grant_id=grant_id,
        actor_slack_id=requester_slack_id,
        detail={
            "decision": row.id,
            "owner": owner_hub,
            "server": server,
            "recipients": list(recipients),
            "duration_s": row.duration_seconds,
            "extras": list(extras),
        },
    )
    return _decision(row)


def _decision(row: DecisionRow) -> Decision:
    return Decision(
        id=row.id,
        kind=DecisionKind(row.kind),
        state=DecisionState(row.state),
        requester_slack_id=row.requester_slack_id,
        owner_slack_id=row.owner_slack_id,
        owner_hub=row.owner_hub,
        server=row.server,
        recipients=tuple(row.recipients),
        duration=from_seconds(row.duration_seconds),
        extras=tuple(row.extras),
        reason=row.reason,
        created_at=row.created_at,
        expires_at=row.expires_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        approved_duration=(
            timedelta(seconds=row.approved_duration_seconds)
            if row.approved_duration_seconds is not None
            else None
        ),
        grant_id=row.grant_id,
        path=row.path,
    )
