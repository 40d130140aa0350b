"""Slash commands and clicks already taken on, by Slack's ``trigger_id``: recorded by one
INSERT that the primary key refuses the second time (SQLite and PostgreSQL alike), so a
replayed request is told apart on any replica without an "already seen" set in memory."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from bot.store.base import Store
from bot.store.models import SlackInvocation

#: The longest trigger id kept as it is; a longer one (Slack's are about 40 characters) is
#: kept as its SHA-256, so the column's bound holds whatever a request carries.
KEPT_AS_IS = 64


def key_of(trigger_id: str) -> str:
    if len(trigger_id) <= KEPT_AS_IS and trigger_id.isascii():
        return trigger_id
    return hashlib.sha256(trigger_id.encode("utf-8", "surrogatepass")).hexdigest()


class Invocations(Store):
    def first(self, trigger_id: str, now: datetime) -> bool:
        """Record ``trigger_id`` at ``now``: True the first time, False for a replay."""
        try:
            with self._tx() as session:
                session.execute(
                    insert(SlackInvocation).values(trigger_id=key_of(trigger_id), created_at=now)
                )
        except IntegrityError:
            return False
        return True

    def prune(self, before: datetime) -> int:
        """Forget invocations recorded before ``before``; returns how many."""
        with self._tx() as session:
            result = session.execute(
                delete(SlackInvocation).where(SlackInvocation.created_at < before)
            )
            return int(getattr(result, "rowcount", 0) or 0)
