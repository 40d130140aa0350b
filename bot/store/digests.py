"""Store of reconciliation and the digest: external shares, digest runs, digest messages.

The once-per-day promise lives here: :meth:`Digests.claim` INSERTs the (day, owner) row
before anything is sent, and the UNIQUE constraint lets exactly one caller win, whatever
the number of replicas or restarts. Snoozes ("Keep") and external revocations are guarded
updates too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.domain.digest import Item, ItemKind, Reason
from bot.domain.grants import GrantState
from bot.domain.reconcile import ExternalShare as External
from bot.domain.reconcile import HubShare, ShareKind
from bot.store.base import Store, record_audit
from bot.store.models import DigestMessage, DigestRun, ExternalShare, GrantRow, UserLink

OWNER = "owner"
ADMIN = "admin"


@dataclass(frozen=True)
class Message:
    """A claimed digest message (see :class:`bot.store.models.DigestMessage`)."""

    id: int
    day: str
    kind: str
    owner_hub: str
    target: str
    state: str
    channel: str | None
    ts: str | None
    items: tuple[Item, ...]  # what the message shows, in order, as it was when sent


class Digests(Store):
    # -- owners -------------------------------------------------------------------------

    def linked_owners(self) -> dict[str, str]:
        """Every linked hub user -> their Slack id (reconciliation covers them all)."""
        with self._read() as session:
            return {row.hub_user: row.slack_user_id for row in session.scalars(select(UserLink))}

    # -- external shares ----------------------------------------------------------------

    def record_external(
        self, owner_hub: str, seen: Iterable[HubShare], gone: Iterable[External], now: datetime
    ) -> list[External]:
        """Upsert shares seen now, mark ``gone`` ones; returns the newly recorded ones.

        A share seen again keeps its age; one that had gone and came back starts again.
        When another replica recorded the same new share at the same moment, the UNIQUE
        constraint stops the second insert and the pass is repeated as an update.
        """
        seen, gone = list(seen), list(gone)
        try:
            return self._record_external(owner_hub, seen, gone, now)
        except IntegrityError:
            return self._record_external(owner_hub, seen, gone, now)

    def _record_external(
        self, owner_hub: str, seen: list[HubShare], gone: list[External], now: datetime
    ) -> list[External]:
        new: list[External] = []
        with self._tx() as session:
            for share in seen:
                row = session.scalar(
                    select(ExternalShare).where(
                        ExternalShare.owner_hub == owner_hub,
                        ExternalShare.server == share.server,
                        ExternalShare.kind == share.kind.value,
                        ExternalShare.name == share.name,
                    )
                )
                if row is None:
                    row = ExternalShare(
                        owner_hub=owner_hub,
                        server=share.server,
                        kind=share.kind.value,
                        name=share.name,
                        first_seen=now,
                    )
                    session.add(row)
                elif row.gone_at is None and row.revoked_at is None:
                    row.last_seen = now
                    row.scopes = list(share.scopes)
                    if row.hub_created_at is None:
                        row.hub_created_at = share.created_at
                    continue
                # new, or back after it had gone: start afresh
                row.scopes = list(share.scopes)
                row.hub_created_at = share.created_at
                row.first_seen = now
                row.last_seen = now
                row.gone_at = None
                row.revoked_at = None
                row.revoked_by = None
                row.snoozed_until = None
                session.flush()
                record_audit(
                    session,
                    now=now,
                    action="external_found",
                    detail={
                        "external": row.id,
                        "owner_hub": owner_hub,
                        "server": share.server,
                        "kind": share.kind.value,
                        "name": share.name,
                    },
                )
                new.append(_external(row))
            ids = [g.id for g in gone]
            if ids:
                session.execute(
                    update(ExternalShare)
                    .where(ExternalShare.id.in_(ids), ExternalShare.gone_at.is_(None))
                    .values(gone_at=now)
                )
        return new

    def externals(self, owner_hub: str | None = None, *, present: bool = True) -> list[External]:
        query = select(ExternalShare).order_by(ExternalShare.id)
        if owner_hub is not None:
            query = query.where(ExternalShare.owner_hub == owner_hub)
        if present:
            query = query.where(ExternalShare.gone_at.is_(None), ExternalShare.revoked_at.is_(None))
        with self._read() as session:
            return [_external(row) for row in session.scalars(query)]

    def external(self, external_id: int) -> External | None:
        with self._read() as session:
            row = session.get(ExternalShare, external_id)
            return _external(row) if row else None

    def external_revoked(self, share: External, by: str, now: datetime) -> bool:
        """Mark an external share revoked (once; False if it was already gone or revoked)."""
        with self._tx() as session:
            result = session.execute(
                update(ExternalShare)
                .where(
                    ExternalShare.id == share.id,
                    ExternalShare.revoked_at.is_(None),
                    ExternalShare.gone_at.is_(None),
                )
                .values(revoked_at=now, revoked_by=by)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return False
            record_audit(
                session,
                now=now,
                action="external_revoked",
                actor_slack_id=by,
                actor_hub=share.owner_hub,
                detail={
                    "external": share.id,
                    "server": share.server,
                    "kind": share.kind.value,
                    "name": share.name,
                },
            )
            return True

    # -- snoozes ("Keep") ---------------------------------------------------------------

    def snooze_external(self, share: External, until: datetime, by: str, now: datetime) -> bool:
        with self._tx() as session:
            result = session.execute(
                update(ExternalShare)
                .where(ExternalShare.id == share.id, ExternalShare.revoked_at.is_(None))
                .values(snoozed_until=until)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return False
            record_audit(
                session,
                now=now,
                action="external_kept",
                actor_slack_id=by,
                actor_hub=share.owner_hub,
                detail={"external": share.id, "until": until.isoformat()},
            )
            return True

    def snooze_grant(self, grant_id: int, until: datetime, by: str, now: datetime) -> bool:
        """Keep an open grant out of the digest until ``until``."""
        with self._tx() as session:
            result = session.execute(
                update(GrantRow)
                .where(
                    GrantRow.id == grant_id,
                    GrantRow.state.in_([GrantState.ACTIVE.value, GrantState.ENDING.value]),
                )
                .values(snoozed_until=until, updated_at=now)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return False
            record_audit(
                session,
                now=now,
                action="kept",
                grant_id=grant_id,
                actor_slack_id=by,
                detail={"until": until.isoformat()},
            )
            return True

    # -- runs and messages --------------------------------------------------------------

    def start_run(self, day: date, runner: str, now: datetime) -> int:
        with self._tx() as session:
            run = DigestRun(day=day.isoformat(), runner=runner[:64], started_at=now, sent=0)
            session.add(run)
            session.flush()
            return run.id

    def finish_run(self, run_id: int, sent: int, now: datetime) -> None:
        with self._tx() as session:
            session.execute(
                update(DigestRun).where(DigestRun.id == run_id).values(finished_at=now, sent=sent)
            )

    def finished(self, day: date) -> bool:
        """Whether a digest run for ``day`` has completed."""
        with self._read() as session:
            return (
                session.scalar(
                    select(DigestRun.id)
                    .where(DigestRun.day == day.isoformat(), DigestRun.finished_at.is_not(None))
                    .limit(1)
                )
                is not None
            )

    def claim(
        self,
        *,
        day: date,
        kind: str,
        owner_hub: str,
        target: str,
        run_id: int,
        items: list[Item],
        now: datetime,
    ) -> int | None:
        """Claim the one message of ``day`` for ``owner_hub``; None if someone else has.

        The claim is committed before anything is sent: at most one message per day.
        """
        try:
            with self._tx() as session:
                row = DigestMessage(
                    day=day.isoformat(),
                    kind=kind,
                    owner_hub=owner_hub,
                    target=target,
                    run_id=run_id,
                    state="claimed",
                    claimed_at=now,
                    items=[_item_json(item) for item in items],
                )
                session.add(row)
                session.flush()
                return row.id
        except IntegrityError:
            return None

    def sent(self, message_id: int, channel: str, ts: str, now: datetime) -> None:
        with self._tx() as session:
            session.execute(
                update(DigestMessage)
                .where(DigestMessage.id == message_id)
                .values(state="sent", channel=channel, ts=ts, sent_at=now)
            )

    def failed(self, message_id: int, error: str) -> None:
        with self._tx() as session:
            session.execute(
                update(DigestMessage)
                .where(DigestMessage.id == message_id)
                .values(state="failed", error=error)
            )

    def message(self, message_id: int) -> Message | None:
        with self._read() as session:
            row = session.get(DigestMessage, message_id)
            return _message(row) if row else None

    def messages(self, day: date | None = None) -> list[Message]:
        query = select(DigestMessage).order_by(DigestMessage.id)
        if day is not None:
            query = query.where(DigestMessage.day == day.isoformat())
        with self._tx() as session:
            return [_message(row) for row in session.scalars(query)]


def _external(row: ExternalShare) -> External:
    return External(
        id=row.id,
        owner_hub=row.owner_hub,
        server=row.server,
        kind=ShareKind(row.kind),
        name=row.name,
        scopes=tuple(row.scopes or ()),
        hub_created_at=row.hub_created_at,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        gone_at=row.gone_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        snoozed_until=row.snoozed_until,
    )


def _message(row: DigestMessage) -> Message:
    items: list[dict[str, Any]] = list(row.items or ())
    return Message(
        id=row.id,
        day=row.day,
        kind=row.kind,
        owner_hub=row.owner_hub,
        target=row.target,
        state=row.state,
        channel=row.channel,
        ts=row.ts,
        items=tuple(_item(item) for item in items),
    )


def _item_json(item: Item) -> dict[str, Any]:
    return {
        "kind": item.kind.value,
        "id": item.id,
        "server": item.server,
        "who": item.who,
        "group": item.who_is_group,
        "since": item.since.isoformat(),
        "reasons": [r.value for r in item.reasons],
        "last_activity": item.last_activity.isoformat() if item.last_activity else None,
        "slack_id": item.slack_id,
    }


def _item(data: dict[str, Any]) -> Item:
    seen = data.get("last_activity")
    return Item(
        kind=ItemKind(data["kind"]),
        id=int(data["id"]),
        server=str(data["server"]),
        who=str(data["who"]),
        who_is_group=bool(data.get("group")),
        since=datetime.fromisoformat(data["since"]),
        reasons=tuple(Reason(r) for r in data.get("reasons") or ()),
        last_activity=datetime.fromisoformat(seen) if seen else None,
        slack_id=data.get("slack_id"),
    )
