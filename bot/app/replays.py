"""A signed slash command or click replayed within Slack's 5-minute window does nothing the
second time, on any replica.

Slack gives every invocation a ``trigger_id`` of its own (slash commands, button clicks,
modal submissions). The work of each (the part after the acknowledgement) first records
it in the database (:class:`bot.store.invocations.Invocations`): the first record wins,
a replay finds it there and is only acknowledged. Checked after the acknowledgement, so
the acknowledgement waits for no database write; rows are pruned after :data:`KEEP`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.app.endings import db
from bot.store.invocations import Invocations

log = logging.getLogger(__name__)

#: How long a trigger id is kept: well beyond the 5 minutes Slack's signatures are accepted.
KEEP = timedelta(hours=1)


class Replays:
    def __init__(self, invocations: Invocations, keep: timedelta = KEEP) -> None:
        self.invocations = invocations
        self.keep = keep

    async def first(self, trigger_id: object, what: str, now: datetime) -> bool:
        """True when the invocation ``trigger_id`` is seen for the first time (its work is
        to be done); False for a replay. Without a trigger id there is nothing to tell a
        replay by: such a request is worked on (Slack always sends one for these)."""
        if not isinstance(trigger_id, str) or not trigger_id:
            return True
        if await db(self.invocations.first, trigger_id, now):
            return True
        log.info("%s: a replay of an invocation already taken on; acknowledged, not redone", what)
        return False

    async def prune(self, now: datetime) -> int:
        return await db(self.invocations.prune, now - self.keep)
