"""Persistence of accept gates (bot.domain.gate): sealed codes by token hash, and the
people refused at a gate (each told to the owner once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bot.store.base import Store, record_audit
from bot.store.models import AcceptGate, AcceptRefusal


@dataclass(frozen=True)
class Gate:
    grant_id: int
    sealed_code: str

    def __repr__(self) -> str:  # the sealed code stays out of logs and tracebacks
        return f"Gate(grant_id={self.grant_id})"


class Gates(Store):
    def put(self, grant_id: int, token_hash: str, sealed_code: str, *, now: datetime) -> None:
        """The gate of an invitation's (new) code; an older one of the grant goes."""
        with self._tx() as session:
            session.execute(delete(AcceptGate).where(AcceptGate.grant_id == grant_id))
            session.add(
                AcceptGate(
                    grant_id=grant_id,
                    token_hash=token_hash,
                    sealed_code=sealed_code,
                    created_at=now,
                )
            )

    def by_token(self, token_hash: str) -> Gate | None:
        with self._read() as session:
            row = session.scalar(select(AcceptGate).where(AcceptGate.token_hash == token_hash))
            return None if row is None else Gate(row.grant_id, row.sealed_code)

    def refused(self, grant_id: int, hub_user: str, *, now: datetime) -> bool:
        """Record that ``hub_user`` was turned away at the grant's gate (audited every time);
        True the first time for that person (on any replica)."""
        with self._tx() as session:
            record_audit(session, now, "link_refused", grant_id, None, hub_user, {})
        try:
            with self._tx() as session:
                session.add(AcceptRefusal(grant_id=grant_id, hub_user=hub_user, at=now))
        except IntegrityError:
            return False
        return True
