"""The outbox: notices to send, kept until they are delivered or given up.

Two ways in: a state change writes its notices in its own transaction (:func:`enqueue`,
each under a UNIQUE ``dedupe_key``, due at once: the caller tries them right after the
commit and the sweep retries them), and :meth:`Outbox.add` keeps a notice whose first
send failed (``SlackMessenger.notify``'s fallback, no key). A key is enqueued once; the
sending is at-least-once (a sender that dies between Slack's answer and :meth:`sent`
leaves the row to be sent again after its lease).

Rules (delays, giving up, permanent errors) live in :mod:`bot.domain.outbox`; this is the
storage. Every change is a guarded ``UPDATE``: :meth:`Outbox.claim` moves a due row's
``next_attempt_at`` past ``now`` (a lease) only while it is still due, so of two replicas
looking at the same row exactly one sends it. Rows keep the text only while they may be
sent (it is erased once sent or given up); the audit log never gets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain.outbox import NoticeState, next_attempt
from bot.store.base import Store, record_audit
from bot.store.models import OutboxRow


@dataclass(frozen=True)
class OutgoingNotice:
    """A notice to enqueue: ``key`` names the event and the audience, once for all time."""

    key: str
    slack_user_id: str
    text: str
    blocks: list[dict[str, Any]] | None = None  # Block Kit, as JSON (buttons)


def enqueue(
    session: Session,
    notices: list[OutgoingNotice],
    now: datetime,
    *,
    lease: timedelta | None = None,
) -> None:
    """Add ``notices`` to the caller's transaction, due at ``now`` (a duplicate key fails
    the transaction: callers enqueue from guarded state changes, which happen once).

    With ``lease`` they are written already claimed by the caller until ``now + lease``:
    the caller tries them right after the commit (``NoticeService.deliver``) with no claim
    of its own, and they are left to the sweep only if that caller dies first.
    """
    if not notices:
        return
    session.execute(
        insert(OutboxRow),
        [
            {
                "slack_user_id": notice.slack_user_id,
                "text": notice.text,
                "blocks": notice.blocks,
                "created_at": now,
                "next_attempt_at": now + lease if lease is not None else now,
                "attempts": 0,
                "state": NoticeState.PENDING.value,
                "dedupe_key": notice.key,
            }
            for notice in notices
        ],
    )


@dataclass(frozen=True)
class Notice:
    id: int
    slack_user_id: str
    text: str
    created_at: datetime
    next_attempt_at: datetime
    attempts: int
    state: NoticeState
    last_error: str | None = None
    sent_at: datetime | None = None
    key: str | None = None
    blocks: list[dict[str, Any]] | None = None


class Outbox(Store):
    def enqueue(
        self, notices: list[OutgoingNotice], now: datetime, *, lease: timedelta | None = None
    ) -> list[str]:
        """Enqueue notices not tied to a state change; a key already there is skipped.

        Returns the keys added (one transaction each, so one duplicate spoils nothing).
        ``lease``: see :func:`enqueue`.
        """
        added = []
        for notice in notices:
            try:
                with self._tx() as session:
                    enqueue(session, [notice], now, lease=lease)
            except IntegrityError:
                continue
            added.append(notice.key)
        return added

    def add(self, slack_user_id: str, text: str, error: str, now: datetime) -> Notice:
        """Keep a notice whose first try failed at ``now`` with ``error``."""
        with self._tx() as session:
            row = OutboxRow(
                slack_user_id=slack_user_id,
                text=text,
                created_at=now,
                next_attempt_at=next_attempt(1, now),
                attempts=1,
                last_error=error,
                state=NoticeState.PENDING.value,
            )
            session.add(row)
            session.flush()
            return _notice(row)

    def get(self, notice_id: int) -> Notice | None:
        with self._read() as session:
            row = session.get(OutboxRow, notice_id)
            return _notice(row) if row is not None else None

    def due(
        self, now: datetime, limit: int = 100, *, keys: list[str] | None = None
    ) -> list[Notice]:
        """Pending notices whose next try is at or before ``now``, oldest first (only those
        with one of ``keys`` when given)."""
        query = select(OutboxRow).where(
            OutboxRow.state == NoticeState.PENDING.value,
            OutboxRow.next_attempt_at <= now,
        )
        if keys is not None:
            query = query.where(OutboxRow.dedupe_key.in_(keys))
        with self._read() as session:
            rows = session.scalars(
                query.order_by(OutboxRow.next_attempt_at, OutboxRow.id).limit(limit)
            )
            return [_notice(row) for row in rows]

    def by_key(self, key: str) -> Notice | None:
        with self._read() as session:
            row = session.scalar(select(OutboxRow).where(OutboxRow.dedupe_key == key))
            return _notice(row) if row is not None else None

    def claim(self, notice_id: int, now: datetime, lease: timedelta) -> Notice | None:
        """Take a due notice for one try: None when someone else took it or it is not due.

        The lease moves ``next_attempt_at`` to ``now + lease``; a sender that dies holding
        it leaves the notice to be tried again once the lease has run out.
        """
        with self._tx() as session:
            won = session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id == notice_id,
                    OutboxRow.state == NoticeState.PENDING.value,
                    OutboxRow.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + lease)
                .execution_options(synchronize_session=False)
            )
            if won.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = session.get(OutboxRow, notice_id, populate_existing=True)
            return _notice(row) if row is not None else None

    def pending_with_keys(self, keys: list[str]) -> list[Notice]:
        """The notices under ``keys`` still to be sent, in the order they were written."""
        with self._read() as session:
            rows = session.scalars(
                select(OutboxRow)
                .where(
                    OutboxRow.dedupe_key.in_(keys),
                    OutboxRow.state == NoticeState.PENDING.value,
                )
                .order_by(OutboxRow.id)
            )
            return [_notice(row) for row in rows]

    def renew(self, keys: list[str], held_until: datetime, until: datetime) -> list[str]:
        """Extend to ``until`` the lease on the pending notices under ``keys`` that is
        still the one ending at ``held_until`` (nobody claimed them since); their keys."""
        if not keys:
            return []
        with self._tx() as session:
            renewed = session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.dedupe_key.in_(keys),
                    OutboxRow.state == NoticeState.PENDING.value,
                    OutboxRow.next_attempt_at == held_until,
                )
                .values(next_attempt_at=until)
                .returning(OutboxRow.dedupe_key)
                .execution_options(synchronize_session=False)
            )
            return [key for key in renewed.scalars() if key is not None]

    def sent_many(self, notice_ids: list[int], now: datetime) -> int:
        """:meth:`sent` for several notices in one transaction; returns how many."""
        with self._tx() as session:
            done = session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(notice_ids), OutboxRow.state == NoticeState.PENDING.value)
                .values(
                    state=NoticeState.SENT.value,
                    sent_at=now,
                    attempts=OutboxRow.attempts + 1,
                    text="",
                    blocks=None,
                )
                .execution_options(synchronize_session=False)
            )
            return int(done.rowcount)  # type: ignore[attr-defined]

    def sent(self, notice_id: int, now: datetime) -> bool:
        with self._tx() as session:
            done = session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == notice_id, OutboxRow.state == NoticeState.PENDING.value)
                .values(
                    state=NoticeState.SENT.value,
                    sent_at=now,
                    attempts=OutboxRow.attempts + 1,
                    text="",  # delivered: the text is in Slack, no need to keep a copy
                    blocks=None,
                )
                .execution_options(synchronize_session=False)
            )
            return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    def failed(self, notice_id: int, error: str, now: datetime, next_at: datetime) -> bool:
        """Record a failed try at ``now``; the next one is at ``next_at``."""
        with self._tx() as session:
            done = session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == notice_id, OutboxRow.state == NoticeState.PENDING.value)
                .values(
                    attempts=OutboxRow.attempts + 1,
                    last_error=error,
                    next_attempt_at=next_at,
                )
                .execution_options(synchronize_session=False)
            )
            return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    def give_up(self, notice_id: int, error: str, now: datetime) -> bool:
        """Stop trying; audited as ``notice_given_up`` (the user and the error, no text)."""
        with self._tx() as session:
            row = session.get(OutboxRow, notice_id)
            if row is None:
                return False
            done = session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == notice_id, OutboxRow.state == NoticeState.PENDING.value)
                .values(
                    state=NoticeState.GIVEN_UP.value,
                    attempts=OutboxRow.attempts + 1,
                    last_error=error,
                    text="",
                    blocks=None,
                )
                .execution_options(synchronize_session=False)
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                return False
            record_audit(
                session,
                now=now,
                action="notice_given_up",
                detail={
                    "notice": notice_id,
                    "key": row.dedupe_key,
                    "slack_user_id": row.slack_user_id,
                    "attempts": row.attempts + 1,
                    "error": error,
                },
            )
            return True

    def pending_count(self) -> int:
        with self._read() as session:
            return int(
                session.execute(
                    select(func.count())
                    .select_from(OutboxRow)
                    .where(OutboxRow.state == NoticeState.PENDING.value)
                ).scalar_one()
            )


def _notice(row: OutboxRow) -> Notice:
    return Notice(
        id=row.id,
        slack_user_id=row.slack_user_id,
        text=row.text,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        attempts=row.attempts,
        state=NoticeState(row.state),
        last_error=row.last_error,
        sent_at=row.sent_at,
        key=row.dedupe_key,
        blocks=row.blocks,
    )
