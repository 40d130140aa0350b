"""The audit log: every step, append-only (written by each store through
:func:`bot.store.base.record_audit`, in the transaction of the change it records)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.store.base import Store, record_audit
from bot.store.models import AuditEvent


@dataclass(frozen=True)
class Audit:
    at: datetime
    action: str
    grant_id: int | None
    actor_slack_id: str | None
    actor_hub: str | None
    detail: dict[str, Any]
    id: int | None = None


class AuditLog(Store):
    def audit(
        self,
        action: str,
        *,
        now: datetime,
        grant_id: int | None = None,
        actor_slack_id: str | None = None,
        actor_hub: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self._tx() as session:
            record_audit(session, now, action, grant_id, actor_slack_id, actor_hub, detail or {})

    def audit_log(
        self,
        *,
        grant_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Audit]:
        """Events in order; ``since`` inclusive, ``until`` exclusive."""
        query = select(AuditEvent).order_by(AuditEvent.id)
        if grant_id is not None:
            query = query.where(AuditEvent.grant_id == grant_id)
        if since is not None:
            query = query.where(AuditEvent.at >= since)
        if until is not None:
            query = query.where(AuditEvent.at < until)
        with self._read() as session:
            return [
                Audit(
                    e.at,
                    e.action,
                    e.grant_id,
                    e.actor_slack_id,
                    e.actor_hub,
                    dict(e.detail),
                    e.id,
                )
                for e in session.scalars(query)
            ]
