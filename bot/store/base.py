"""What every store shares: an engine and one short transaction per call."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import READ_ONLY
from bot.store.models import AuditEvent

AUDITED = "sharebot.audited"  # session.info key: actions audited in this transaction


# One lock per SQLite engine, shared by every store on it (see Store._tx).
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_LOCK = threading.Lock()


def _write_lock(engine: Engine) -> threading.Lock | None:
    if engine.dialect.name != "sqlite":
        return None
    with _LOCKS_LOCK:
        return _WRITE_LOCKS.setdefault(engine, threading.Lock())


class Store:
    """Base of the repository and the other stores: ``with self._tx() as session``."""

    def __init__(self, engine: Engine, *, on_audit: Callable[[str], None] | None = None) -> None:
        self.engine = engine
        self._on_audit = on_audit  # told each audited action after its commit (metrics)
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._write_lock = _write_lock(engine)
        self._readers = sessionmaker(
            engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on an error.

        On SQLite the writers of this process take turns on a lock first. SQLite lets one
        writer in at a time, and a writer that finds the database locked sleeps in steps
        of up to 100 ms before it looks again; ten concurrent writers of one process would
        spend most of their time asleep. The busy timeout still covers other processes.
        """
        with self._write_lock or nullcontext(), self._sessions.begin() as session:
            yield session
            actions: list[str] = session.info.pop(AUDITED, [])
        if self._on_audit is not None:
            for action in actions:
                self._on_audit(action)

    @contextmanager
    def _read(self) -> Iterator[Session]:
        """A transaction that only reads: on SQLite it takes no write lock (``BEGIN``), so
        it neither waits for nor holds up a writer. Never write in it: a deferred
        transaction that writes can fail with "database is locked" under contention."""
        with self._readers.begin() as session:
            yield session


def record_audit(
    session: Session,
    now: datetime,
    action: str,
    grant_id: int | None = None,
    actor_slack_id: str | None = None,
    actor_hub: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one audit event to the transaction (every store writes them through here).

    The action is also noted on the session, so that the store can tell its ``on_audit``
    hook (metrics) once the transaction has committed.
    """
    session.info.setdefault(AUDITED, []).append(action)
    # A plain INSERT, not an ORM object: nothing reads it back in the transaction, and the
    # unit of work would cost more than the statement (this is on every state change).
    session.execute(
        insert(AuditEvent).values(
            at=now,
            action=action,
            grant_id=grant_id,
            actor_slack_id=actor_slack_id,
            actor_hub=actor_hub,
            detail=detail or {},
        )
    )
