"""Access flags: access a grant's link may have given to someone it was not meant for.

Flags are written in the same transaction as the judgment of the code that raised them
(:func:`add_flags`, called from ``Repository.transition``), so a process that dies right
after judging loses none. Every change is a guarded ``UPDATE ... WHERE state = 'pending'``:
two replicas, or a click and the background pass, settle a flag once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from bot.domain.access import AccessFlag, FlagKind, FlagState, NewFlag
from bot.domain.grants import OPEN_STATES, RecipientKind
from bot.store.base import Store, record_audit
from bot.store.models import AccessFlagRow, GrantRow, held_by


def add_flags(
    session: Session,
    grant_id: int,
    owner_hub: str,
    server: str,
    flags: Iterable[NewFlag],
    now: datetime,
) -> None:
    """Record ``flags`` (pending) in the caller's transaction, each audited."""
    for flag in flags:
        flag_id = session.execute(
            insert(AccessFlagRow)
            .values(
                kind=flag.kind.value,
                state=FlagState.PENDING.value,
                grant_id=grant_id,
                owner_hub=owner_hub,
                server=server,
                hub_user=flag.hub_user,
                scopes=sorted(flag.scopes),
                created_at=now,
                updated_at=now,
                attempts=0,
            )
            .returning(AccessFlagRow.id)
        ).scalar_one()
        action = "link_misused" if flag.kind is FlagKind.INTRUDER else "access_unexplained"
        record_audit(
            session,
            now,
            action,
            grant_id,
            None,
            flag.hub_user,
            {"flag": flag_id, "used_by": flag.hub_user, "scopes": sorted(flag.scopes)},
        )


class Flags(Store):
    def get(self, flag_id: int) -> AccessFlag | None:
        with self._read() as session:
            row = session.get(AccessFlagRow, flag_id)
            return _flag(row) if row else None

    def pending(
        self,
        *,
        kind: FlagKind | None = None,
        owner_hub: str | None = None,
        server: str | None = None,
        hub_user: str | None = None,
        grant_id: int | None = None,
    ) -> list[AccessFlag]:
        query = select(AccessFlagRow).where(AccessFlagRow.state == FlagState.PENDING.value)
        if kind is not None:
            query = query.where(AccessFlagRow.kind == kind.value)
        if owner_hub is not None:
            query = query.where(AccessFlagRow.owner_hub == owner_hub)
        if server is not None:
            query = query.where(AccessFlagRow.server == server)
        if hub_user is not None:
            query = query.where(AccessFlagRow.hub_user == hub_user)
        if grant_id is not None:
            query = query.where(AccessFlagRow.grant_id == grant_id)
        with self._read() as session:
            return [_flag(row) for row in session.scalars(query.order_by(AccessFlagRow.id))]

    def settle(
        self,
        flag: AccessFlag,
        state: FlagState,
        *,
        now: datetime,
        by: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AccessFlag | None:
        """pending -> ``state``; None if someone else settled it first. Kept ("I shared
        it"): the scopes become earlier access of the person's open grants on the server,
        in the same transaction, so none of their ends takes them."""
        with self._tx() as session:
            row = session.execute(
                update(AccessFlagRow)
                .where(
                    AccessFlagRow.id == flag.id,
                    AccessFlagRow.state == FlagState.PENDING.value,
                )
                .values(state=state.value, resolved_by=by, updated_at=now)
                .returning(AccessFlagRow)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            if row is None:
                return None
            if state is FlagState.KEPT:  # what the flag names now (it may have narrowed)
                _kept_as_earlier(session, _flag(row))
            record_audit(
                session,
                now,
                f"flag_{state.value}",
                flag.grant_id,
                by,
                flag.hub_user,
                {"flag": flag.id, "scopes": sorted(flag.scopes), **(detail or {})},
            )
            return _flag(row)

    def narrow(self, flag: AccessFlag, scopes: frozenset[str], *, now: datetime) -> None:
        """A pending flag's scopes, some of which left the hub (removed with another flag of
        the same person): what is left to decide."""
        with self._tx() as session:
            session.execute(
                update(AccessFlagRow)
                .where(
                    AccessFlagRow.id == flag.id,
                    AccessFlagRow.state == FlagState.PENDING.value,
                )
                .values(scopes=sorted(scopes), updated_at=now)
                .execution_options(synchronize_session=False)
            )

    def failed(self, flag: AccessFlag, error: str, *, now: datetime) -> None:
        """A removal the hub refused: counted, retried by the next pass."""
        with self._tx() as session:
            session.execute(
                update(AccessFlagRow)
                .where(AccessFlagRow.id == flag.id)
                .values(attempts=AccessFlagRow.attempts + 1, last_error=error, updated_at=now)
            )
            record_audit(
                session,
                now,
                "flag_remove_failed",
                flag.grant_id,
                None,
                flag.hub_user,
                {"flag": flag.id, "error": error},
            )


def _kept_as_earlier(session: Session, flag: AccessFlag) -> None:
    """The owner kept a flag's access: it is that person's own now, like a share made in
    the hub before any grant, so each of their open grants on the server counts it as
    earlier access (an invitation's earlier access had left it out while it was pending)."""
    rows = session.scalars(
        select(GrantRow).where(
            GrantRow.state.in_([s.value for s in OPEN_STATES]),
            GrantRow.owner_hub == flag.owner_hub,
            GrantRow.server == flag.server,
            GrantRow.recipient_kind == RecipientKind.USER.value,
            held_by(flag.hub_user),
        )
    )
    for row in rows:
        earlier = set(row.earlier_scopes or ())
        if not flag.scopes <= earlier:
            row.earlier_scopes = sorted(earlier | flag.scopes)


def _flag(row: AccessFlagRow) -> AccessFlag:
    return AccessFlag(
        id=row.id,
        kind=FlagKind(row.kind),
        state=FlagState(row.state),
        grant_id=row.grant_id,
        owner_hub=row.owner_hub,
        server=row.server,
        hub_user=row.hub_user,
        scopes=frozenset(row.scopes or ()),
        created_at=row.created_at,
        resolved_by=row.resolved_by,
        attempts=row.attempts,
        last_error=row.last_error,
    )
