"""Grants: one short transaction per call, domain objects out, guarded updates.

Callers never see SQLAlchemy objects. Every state change is an
``UPDATE ... WHERE id = :id AND state = :expected``: exactly one caller wins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, case, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.domain.access import NewFlag, Scopes, ShareMap
from bot.domain.durations import from_seconds, to_seconds
from bot.domain.grants import (
    EndReason,
    Grant,
    GrantState,
    Listed,
    RecipientKind,
    check_transition,
)
from bot.store.base import Store, record_audit
from bot.store.flags import add_flags
from bot.store.models import GrantRow, held_by
from bot.store.outbox import OutgoingNotice, enqueue

#: The grants table, for reads and guarded updates: its rows come back as plain tuples
#: (Core), not ORM objects, which cost about half the time of a listing (identity map,
#: instrumented attributes) for nothing a read uses. A new grant is an ORM object.
ROW = GrantRow.__table__
TABLE = cast(Table, ROW)  # the same, typed for Core's UPDATE

#: The columns :meth:`Grants.listing` reads.
_LISTED = (
    "id",
    "state",
    "owner_hub",
    "server",
    "recipient_slack_id",
    "recipient_hub",
    "duration_seconds",
    "created_at",
    "code_expires_at",
    "expires_at",
    "recipient_kind",
)

#: The notices a state change sends, computed from the grant as it is after the change.
NoticesFor = Callable[[Grant], list[OutgoingNotice]]


@dataclass(frozen=True)
class NewGrant:
    owner_slack_id: str
    owner_hub: str
    server: str
    recipient_slack_id: str
    recipient_hub: str
    duration: timedelta
    note: str
    code_id: str | None
    code_expires_at: datetime | None
    scopes: frozenset[str]
    earlier: frozenset[str] = frozenset()
    baseline: Mapping[str, frozenset[str]] | None = None
    extras: tuple[str, ...] = ()
    decision_id: int | None = None
    path: str | None = None
    recipient_kind: RecipientKind = RecipientKind.USER


def _update_grant(
    session: Session, grant_id: int, *where: ColumnElement[bool], **values: Any
) -> Grant | None:
    """A guarded UPDATE of one grant (``where`` must still hold); the grant as it is now,
    read back with ``RETURNING``, or None when the guard failed (someone else won)."""
    row = session.execute(  # Core, not ORM: no entity to load and synchronize
        update(TABLE).where(TABLE.c.id == grant_id, *where).values(**values).returning(*TABLE.c)
    ).one_or_none()
    return _grant(row) if row is not None else None


@dataclass(frozen=True)
class DueWork:
    to_end: list[Grant]
    to_remind: list[Grant]


class Grants(Store):
    def add_grant(
        self,
        new: NewGrant,
        *,
        now: datetime,
        intent: tuple[str, timedelta] | None = None,
    ) -> Grant:
        """Record an invitation. With ``intent`` (a claim token and its lease) the grant is
        an intent, written before the hub is asked for a code and held by the caller:
        ``invite_sent_at`` stays unset until :meth:`invite_sent`. Without, the invitation
        counts as sent now.
        """
        with self._tx() as session:
            row = GrantRow(
                state=GrantState.INVITED.value,
                owner_slack_id=new.owner_slack_id,
                owner_hub=new.owner_hub,
                server=new.server,
                recipient_slack_id=new.recipient_slack_id,
                recipient_hub=new.recipient_hub,
                recipient_kind=new.recipient_kind.value,
                duration_seconds=to_seconds(new.duration),
                note=new.note,
                created_at=now,
                updated_at=now,
                code_id=new.code_id,
                code_expires_at=new.code_expires_at,
                scopes=sorted(new.scopes),
                earlier_scopes=sorted(new.earlier),
                baseline=baseline_json(new.baseline),
                revoke_attempts=0,
                extras=list(new.extras),
                decision_id=new.decision_id,
                path=new.path,
                invite_sent_at=None if intent else now,
                claimed_by=intent[0] if intent else None,
                claimed_until=now + intent[1] if intent else None,
            )
            session.add(row)
            session.flush()
            record_audit(
                session,
                now,
                "invite",
                row.id,
                new.owner_slack_id,
                new.owner_hub,
                {
                    "recipient_slack": new.recipient_slack_id,
                    "recipient_hub": new.recipient_hub,
                    **(
                        {"recipient_kind": new.recipient_kind.value}
                        if new.recipient_kind is RecipientKind.GROUP
                        else {}
                    ),
                    "server": new.server,
                    "duration_s": row.duration_seconds,
                    "code_id": new.code_id,
                    "scopes": sorted(new.scopes),
                    "earlier_scopes": sorted(new.earlier),
                },
            )
            return _grant(row)

    def set_code(
        self,
        grant: Grant,
        code_id: str | None,
        code_expires_at: datetime | None,
        *,
        now: datetime,
        read: tuple[ShareMap, Scopes] | None = None,
    ) -> Grant | None:
        """Record (or, with None, forget) an unsent invitation's share code; None if the
        grant is no longer an invitation waiting for its DM or its code changed meanwhile.
        ``read``: the server's shares read alongside the code's making and the earlier
        access they show, for an intent written before them (``shares_unread``), recorded
        in the same write (and in its audit row)."""
        extra: dict[str, Any] = {}
        detail: dict[str, Any] = {"code_id": code_id}
        if read is not None:
            extra = {"baseline": baseline_json(read[0]), "earlier_scopes": sorted(read[1])}
            detail["earlier_scopes"] = extra["earlier_scopes"]
        with self._tx() as session:
            changed = _update_grant(
                session,
                grant.id,
                GrantRow.state == GrantState.INVITED.value,
                GrantRow.invite_sent_at.is_(None),
                GrantRow.code_id.is_(None)
                if grant.code_id is None
                else GrantRow.code_id == grant.code_id,
                code_id=code_id,
                code_expires_at=code_expires_at,
                updated_at=now,
                **extra,
            )
            if changed is not None and code_id is not None:
                record_audit(session, now, "code_created", grant.id, None, None, detail)
                # A hub may give a new code the id of one it deleted (SQLite ids): an older
                # grant still watching that id was watching a code that is gone.
                session.execute(
                    update(GrantRow)
                    .where(
                        GrantRow.owner_hub == grant.owner_hub,
                        GrantRow.server == grant.server,
                        GrantRow.code_id == code_id,
                        GrantRow.id != grant.id,
                        GrantRow.code_gone.is_(False),
                    )
                    .values(code_gone=True)
                    .execution_options(synchronize_session=False)
                )
            return changed

    def invite_sent(self, grant: Grant, *, now: datetime, action: str = "invite_sent") -> bool:
        """Note that the invitation DM went out (or, recovering, that it must have)."""
        with self._tx() as session:
            result = session.execute(
                update(GrantRow)
                .where(
                    GrantRow.id == grant.id,
                    GrantRow.state == GrantState.INVITED.value,
                    GrantRow.invite_sent_at.is_(None),
                )
                .values(invite_sent_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return False
            record_audit(session, now, action, grant.id, None, None, {"code_id": grant.code_id})
            return True

    def live_intents(self, owner_hub: str, server: str, *, now: datetime, other_than: int) -> int:
        """Unsent invitations of a server that a live worker holds (their code may be made
        but not yet recorded: an unknown code of the server may be theirs)."""
        with self._read() as session:
            return len(
                session.scalars(
                    select(GrantRow.id).where(
                        GrantRow.owner_hub == owner_hub,
                        GrantRow.server == server,
                        GrantRow.state == GrantState.INVITED.value,
                        GrantRow.invite_sent_at.is_(None),
                        GrantRow.claimed_until >= now,
                        GrantRow.id != other_than,
                    )
                ).all()
            )

    def get(self, grant_id: int) -> Grant | None:
        with self._read() as session:
            row = session.execute(select(ROW).where(GrantRow.id == grant_id)).first()
            return _grant(row) if row else None

    def grants(
        self,
        *,
        states: Iterable[GrantState],
        owner_slack_id: str | None = None,
        owner_hub: str | None = None,
        server: str | None = None,
        recipient_hub: str | None = None,
        recipient_slack_id: str | None = None,
    ) -> list[Grant]:
        query = select(ROW).where(GrantRow.state.in_([s.value for s in states]))
        if owner_slack_id is not None:
            query = query.where(GrantRow.owner_slack_id == owner_slack_id)
        if recipient_slack_id is not None:
            query = query.where(GrantRow.recipient_slack_id == recipient_slack_id)
        if owner_hub is not None:
            query = query.where(GrantRow.owner_hub == owner_hub)
        if server is not None:
            query = query.where(GrantRow.server == server)
        if recipient_hub is not None:  # a hub user's grants (a group's are not theirs)
            query = query.where(
                GrantRow.recipient_hub == recipient_hub,
                GrantRow.recipient_kind == RecipientKind.USER.value,
            )
        with self._read() as session:
            return [_grant(row) for row in session.execute(query.order_by(GrantRow.id))]

    def listing(self, *, owner_hub: str, states: Iterable[GrantState]) -> list[Listed]:
        """:meth:`grants` of one owner, with only what a listing shows (in id order)."""
        query = (
            select(*(ROW.c[name] for name in _LISTED))
            .where(GrantRow.state.in_([s.value for s in states]), GrantRow.owner_hub == owner_hub)
            .order_by(GrantRow.id)
        )
        with self._read() as session:
            return [
                Listed(
                    id=row.id,
                    state=GrantState(row.state),
                    owner_hub=row.owner_hub,
                    server=row.server,
                    recipient_slack_id=row.recipient_slack_id,
                    recipient_hub=row.recipient_hub,
                    duration=from_seconds(row.duration_seconds),
                    created_at=row.created_at,
                    code_expires_at=row.code_expires_at,
                    expires_at=row.expires_at,
                    recipient_kind=RecipientKind(row.recipient_kind or RecipientKind.USER.value),
                )
                for row in session.execute(query)
            ]

    def due(self, now: datetime, *, remind: bool = True) -> DueWork:
        """The active grants the sweep must act on at ``now``, found through the indexes
        ``ix_grants_state_expires`` and ``ix_grants_state_remind``: the cost follows the work
        due, not the grants stored.

        ``to_end``: deadline passed. ``to_remind`` (unless ``remind`` is false): not reminded
        yet, its ``remind_at`` reached, its deadline not (the pure rule,
        :func:`bot.domain.grants.reminder_due`, decides).
        """
        active = GrantRow.state == GrantState.ACTIVE.value
        with self._read() as session:
            to_end = session.execute(
                select(ROW)
                .where(active, GrantRow.expires_at <= now)
                .order_by(GrantRow.expires_at, GrantRow.id)
            ).all()
            to_remind: Sequence[Row[Any]] = ()
            if remind:
                to_remind = session.execute(
                    select(ROW)
                    .where(
                        active,
                        GrantRow.remind_at <= now,
                        GrantRow.expires_at > now,
                        GrantRow.reminded_at.is_(None),
                    )
                    .order_by(GrantRow.remind_at, GrantRow.id)
                ).all()
            return DueWork([_grant(r) for r in to_end], [_grant(r) for r in to_remind])

    def next_deadline(self) -> datetime | None:
        """The earliest deadline of an active grant (through ``ix_grants_state_expires``)."""
        with self._read() as session:
            return session.scalar(
                select(func.min(GrantRow.expires_at)).where(
                    GrantRow.state == GrantState.ACTIVE.value
                )
            )

    def for_holder(
        self,
        owner_hub: str,
        server: str,
        holder: str,
        *,
        states: Iterable[GrantState] = (GrantState.ACTIVE,),
        kind: RecipientKind = RecipientKind.USER,
    ) -> list[Grant]:
        """Grants in ``states`` that give (or would give) ``holder`` access to one server:
        the ledger of that person (or, with ``kind`` GROUP, that hub group) on that server."""
        with self._read() as session:
            rows = session.execute(
                select(ROW).where(
                    GrantRow.state.in_([s.value for s in states]),
                    GrantRow.owner_hub == owner_hub,
                    GrantRow.server == server,
                    GrantRow.recipient_kind == kind.value,
                    held_by(holder),
                )
            )
            return [_grant(row) for row in rows]

    def newest_grants(
        self,
        *,
        states: Iterable[GrantState],
        limit: int,
        owner_hub: str | None = None,
        recipient_hub: str | None = None,
        server: str | None = None,
        offset: int = 0,
    ) -> tuple[list[Grant], int]:
        """The ``limit`` newest grants of one owner or recipient hub user (or of everyone, for
        the admins), after skipping ``offset`` of them, and how many there are (the Home tab
        shows at most a screenful; an owner may have thousands)."""
        where: list[ColumnElement[bool]] = [GrantRow.state.in_([s.value for s in states])]
        if owner_hub is not None:
            where.append(GrantRow.owner_hub == owner_hub)
        if recipient_hub is not None:
            where.append(GrantRow.recipient_hub == recipient_hub)
        if server is not None:
            where.append(GrantRow.server == server)
        with self._read() as session:
            total = session.scalar(select(func.count()).select_from(GrantRow).where(*where))
            rows = session.execute(
                select(ROW)
                .where(*where)
                .order_by(GrantRow.created_at.desc(), GrantRow.id.desc())
                .offset(offset)
                .limit(limit)
            )
            return [_grant(row) for row in rows], int(total or 0)

    def open_servers(
        self, *, states: Iterable[GrantState], limit: int = 1000
    ) -> list[tuple[str, str, int]]:
        """(owner, server, grants) of the servers with grants in ``states``, most first: the
        admins' filter offers them (at most ``limit``, however many there are)."""
        count = func.count(GrantRow.id)
        with self._read() as session:
            rows = session.execute(
                select(GrantRow.owner_hub, GrantRow.server, count)
                .where(GrantRow.state.in_([s.value for s in states]))
                .group_by(GrantRow.owner_hub, GrantRow.server)
                .order_by(count.desc(), GrantRow.owner_hub, GrantRow.server)
                .limit(limit)
            )
            return [(owner, server, int(n)) for owner, server, n in rows]

    def transition(
        self,
        grant: Grant,
        new_state: GrantState,
        *,
        now: datetime,
        action: str,
        actor_slack_id: str | None = None,
        actor_hub: str | None = None,
        detail: dict[str, Any] | None = None,
        unchanged: tuple[str, ...] = (),
        notices: NoticesFor | None = None,
        notice_lease: timedelta | None = None,
        flags: Sequence[NewFlag] = (),
        removed: Mapping[str, frozenset[str]] | None = None,
        release: str | None = None,
        **fields: Any,
    ) -> Grant | None:
        """Move ``grant`` from its current state to ``new_state``; None if someone else won.

        ``unchanged`` names columns that must still hold ``grant``'s values (e.g. an expiry
        applies only to the deadline it was judged on, not to one extended meanwhile).
        ``notices`` gives the messages this change sends (from the changed grant): they are
        written to the outbox in the same transaction, so they exist exactly when the change
        does (leased to the caller for ``notice_lease``, see ``bot.store.outbox.enqueue``).
        ``flags`` (access the grant's link may have given others) are recorded with it.
        ``removed`` (hub user -> scopes) is what the change took off the hub on this server:
        the misuse baselines of the server's watched codes forget it (see
        :meth:`forget_scopes`). ``baseline`` in ``fields`` is a share map (stored sorted).
        ``release``: the claim token of the caller's, let go in the same write (when it
        still holds the claim): the last step of a piece of work costs one write, not two.
        """
        check_transition(grant.state, new_state)
        if "baseline" in fields:
            fields["baseline"] = baseline_json(fields["baseline"])
        if release is not None:
            ours = GrantRow.claimed_by == release
            fields["claimed_by"] = case((ours, None), else_=GrantRow.claimed_by)
            fields["claimed_until"] = case((ours, None), else_=GrantRow.claimed_until)
        with self._tx() as session:
            changed = _move(
                session,
                grant,
                new_state,
                now=now,
                action=action,
                unchanged=unchanged,
                actor_slack_id=actor_slack_id,
                actor_hub=actor_hub,
                detail=detail,
                **fields,
            )
            if changed is None:
                return None
            if notices is not None:
                enqueue(session, notices(changed), now, lease=notice_lease)
            if flags:
                add_flags(session, grant.id, grant.owner_hub, grant.server, flags, now)
            for user, scopes in (removed or {}).items():
                _forget_scopes(session, grant.owner_hub, grant.server, user, scopes)
            return changed

    def transition_many(
        self,
        grants: Sequence[Grant],
        new_state: GrantState,
        *,
        now: datetime,
        action: str,
        unchanged: tuple[str, ...] = (),
        **fields: Any,
    ) -> list[Grant]:
        """:meth:`transition` of each of ``grants`` (no notices, flags or removed scopes),
        all in one transaction: the grants that moved, in id order; one that someone else
        moved first is left out. The rows are updated in id order, so two replicas marking
        the same grants wait for each other instead of deadlocking (on PostgreSQL the one
        that waited then finds them moved)."""
        for grant in grants:
            check_transition(grant.state, new_state)
        changed: list[Grant] = []
        with self._tx() as session:
            for grant in sorted(grants, key=lambda g: g.id):
                moved = _move(
                    session, grant, new_state, now=now, action=action, unchanged=unchanged, **fields
                )
                if moved is not None:
                    changed.append(moved)
        return changed

    def forget_scopes(self, owner_hub: str, server: str, user: str, scopes: frozenset[str]) -> None:
        """sharebot removed ``scopes`` from ``user`` on a server: the baselines of the
        server's watched codes no longer count them as held, so a use of a link that gives
        them back shows as growth."""
        with self._tx() as session:
            _forget_scopes(session, owner_hub, server, user, scopes)

    def watched(
        self,
        *,
        states: Iterable[GrantState] | None = None,
        owner_hub: str | None = None,
        server: str | None = None,
    ) -> list[Grant]:
        """Grants whose share code the hub has not confirmed gone (whatever their state,
        unless ``states`` is given; on one server when ``owner_hub`` and ``server`` are):
        each is checked by the background pass."""
        query = select(ROW).where(GrantRow.code_id.is_not(None), GrantRow.code_gone.is_(False))
        if states is not None:
            query = query.where(GrantRow.state.in_([s.value for s in states]))
        if owner_hub is not None and server is not None:
            query = query.where(GrantRow.owner_hub == owner_hub, GrantRow.server == server)
        with self._read() as session:
            return [_grant(row) for row in session.execute(query.order_by(GrantRow.id))]

    def code_seen(
        self,
        grant: Grant,
        *,
        now: datetime,
        gone: bool | None = None,
        exchanges: int | None = None,
        uses: int | None = None,
        baseline: Mapping[str, frozenset[str]] | None = None,
        flags: Sequence[NewFlag] = (),
    ) -> None:
        """What a check of the grant's code found, whatever the grant's state: the hub
        confirmed it gone, the exchanges now judged (with the flags they raise), a fresh
        baseline."""
        values: dict[str, Any] = {}
        if gone is not None:
            values["code_gone"] = gone
        if exchanges is not None:
            values["code_exchanges"] = exchanges
            values["code_uses"] = exchanges if uses is None else uses
        elif uses is not None:
            values["code_uses"] = uses
        if baseline is not None:
            values["baseline"] = baseline_json(baseline)
        if not values and not flags:
            return
        with self._tx() as session:
            if values:
                session.execute(
                    update(GrantRow)
                    .where(GrantRow.id == grant.id, GrantRow.code_id == grant.code_id)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
            if flags:
                add_flags(session, grant.id, grant.owner_hub, grant.server, flags, now)
            if gone:
                record_audit(
                    session, now, "code_gone", grant.id, None, None, {"code_id": grant.code_id}
                )

    def mark_reminded(self, grant: Grant, *, now: datetime) -> Grant | None:
        """Note that the coming end was announced; None if it already was (or the grant moved).

        Called before the reminder is sent, so that two passes or replicas send it once.
        """
        with self._tx() as session:
            changed = _update_grant(
                session,
                grant.id,
                GrantRow.state == GrantState.ACTIVE.value,
                GrantRow.reminded_at.is_(None),
                GrantRow.expires_at == grant.expires_at,  # not a deadline extended since
                reminded_at=now,
                updated_at=now,
            )
            if changed is not None:
                detail = {"expires_at": _iso(grant.expires_at)}
                record_audit(session, now, "reminded", grant.id, None, None, detail)
            return changed

    def extend(
        self,
        grant: Grant,
        new_expires_at: datetime,
        *,
        now: datetime,
        actor_slack_id: str | None,
        decision_id: int | None = None,
        remind_at: datetime | None = None,
    ) -> Grant | None:
        """Move an active grant's deadline; None unless it is still active with the deadline
        ``grant`` has (a double click or a concurrent change extends nothing twice).

        The reminder is reset to ``remind_at``, so the new end is announced again.
        """
        assert grant.expires_at is not None
        with self._tx() as session:
            changed = _update_grant(
                session,
                grant.id,
                GrantRow.state == GrantState.ACTIVE.value,
                GrantRow.expires_at == grant.expires_at,
                expires_at=new_expires_at,
                reminded_at=None,
                remind_at=remind_at,
                updated_at=now,
            )
            if changed is None:
                return None
            record_audit(
                session,
                now,
                "extended",
                grant.id,
                actor_slack_id,
                None,
                {
                    "from": _iso(grant.expires_at),
                    "to": _iso(new_expires_at),
                    "decision": decision_id,
                },
            )
            return changed

    def claim(self, grant_id: int, worker: str, *, now: datetime, ttl: timedelta) -> Grant | None:
        """Take the grant for ``ttl`` so that no other replica works on it meanwhile; the
        grant as it is now (read back in the same statement), or None when someone else
        holds it.

        A guarded UPDATE: it succeeds when the grant is unclaimed, its claim has run out
        (a replica died mid-work), or ``worker`` holds it already (a renewal). ``worker``
        is a token of one piece of work (at most 64 characters). Release with
        :meth:`release` (or with the change that closes it: ``transition(release=...)``).
        """
        with self._tx() as session:
            return _update_grant(
                session,
                grant_id,
                or_(
                    GrantRow.claimed_until.is_(None),
                    GrantRow.claimed_until < now,
                    GrantRow.claimed_by == worker,
                ),
                claimed_by=worker,
                claimed_until=now + ttl,
            )

    def release(self, grant_id: int, worker: str) -> None:
        with self._tx() as session:
            session.execute(
                update(GrantRow)
                .where(GrantRow.id == grant_id, GrantRow.claimed_by == worker)
                .values(claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )

    def record_failure(self, grant: Grant, error: str, *, now: datetime, action: str) -> None:
        """Note a failed attempt (e.g. a revocation the hub refused) for the next pass."""
        with self._tx() as session:
            session.execute(
                update(GrantRow)
                .where(GrantRow.id == grant.id)
                .values(
                    revoke_attempts=GrantRow.revoke_attempts + 1, last_error=error, updated_at=now
                )
            )
            record_audit(session, now, action, grant.id, None, None, {"error": error})

    # -- audit ------------------------------------------------------------------------


def _move(
    session: Session,
    grant: Grant,
    new_state: GrantState,
    *,
    now: datetime,
    action: str,
    unchanged: tuple[str, ...],
    actor_slack_id: str | None = None,
    actor_hub: str | None = None,
    detail: dict[str, Any] | None = None,
    **fields: Any,
) -> Grant | None:
    """One guarded state change with its audit row (in the caller's transaction); None
    when the row is no longer as ``grant`` (and ``unchanged``) says."""
    guards = [getattr(GrantRow, name) == getattr(grant, name) for name in unchanged]
    changed = _update_grant(
        session,
        grant.id,
        GrantRow.state == grant.state.value,
        *guards,
        state=new_state.value,
        updated_at=now,
        **fields,
    )
    if changed is not None:
        record_audit(
            session,
            now,
            action,
            grant.id,
            actor_slack_id,
            actor_hub,
            {"from": grant.state.value, "to": new_state.value, **(detail or {})},
        )
    return changed


def _forget_scopes(
    session: Session, owner_hub: str, server: str, user: str, scopes: frozenset[str]
) -> None:
    rows = session.scalars(
        select(GrantRow).where(
            GrantRow.owner_hub == owner_hub,
            GrantRow.server == server,
            GrantRow.code_id.is_not(None),
            GrantRow.code_gone.is_(False),
            GrantRow.baseline.is_not(None),
        )
    )
    for row in rows:
        held = set((row.baseline or {}).get(user, ()))
        if held & scopes:
            baseline = dict(row.baseline or {})
            left = sorted(held - scopes)
            if left:
                baseline[user] = left
            else:
                baseline.pop(user, None)
            row.baseline = baseline


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def baseline_json(shares: Mapping[str, frozenset[str]] | None) -> dict[str, list[str]] | None:
    """A server's shares as stored (sorted, so equal maps are equal JSON)."""
    if shares is None:
        return None
    return {user: sorted(scopes) for user, scopes in sorted(shares.items()) if scopes}


def _baseline(value: dict[str, list[str]] | None) -> dict[str, frozenset[str]] | None:
    if value is None:
        return None
    return {user: frozenset(scopes) for user, scopes in value.items()}


def _grant(row: GrantRow | Row[Any]) -> Grant:
    return Grant(
        id=row.id,
        state=GrantState(row.state),
        owner_slack_id=row.owner_slack_id,
        owner_hub=row.owner_hub,
        server=row.server,
        recipient_slack_id=row.recipient_slack_id,
        recipient_hub=row.recipient_hub,
        duration=from_seconds(row.duration_seconds),
        note=row.note,
        created_at=row.created_at,
        code_id=row.code_id,
        code_expires_at=row.code_expires_at,
        accepted_at=row.accepted_at,
        accepted_hub_user=row.accepted_hub_user,
        expires_at=row.expires_at,
        ended_at=row.ended_at,
        end_reason=EndReason(row.end_reason) if row.end_reason else None,
        scopes=frozenset(row.scopes or ()),
        earlier=frozenset(row.earlier_scopes or ()),
        baseline=_baseline(row.baseline),
        code_exchanges=row.code_exchanges,
        code_uses=row.code_uses,
        code_gone=row.code_gone,
        revoke_attempts=row.revoke_attempts,
        last_error=row.last_error,
        extras=tuple(row.extras or ()),
        decision_id=row.decision_id,
        reminded_at=row.reminded_at,
        remind_at=row.remind_at,
        snoozed_until=row.snoozed_until,
        invite_sent_at=row.invite_sent_at,
        path=row.path,
        recipient_kind=RecipientKind(row.recipient_kind or RecipientKind.USER.value),
    )
