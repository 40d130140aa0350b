"""What every store shares: an engine and one short transaction per call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker


class Store:
    """Base of the repository and the other stores: ``with self._tx() as session``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on an error."""
        with self._sessions.begin() as session:
            yield session
