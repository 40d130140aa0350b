"""Per-person limits: how many invitations and requests one person may send a minute
(``SHAREBOT_RATE_LIMIT_PER_MINUTE``), so that nobody floods colleagues' DMs through
sharebot. Counted in the database (:class:`bot.store.sent.Sent`), so replicas share the
count; two commands of one person arriving at the same moment on two replicas may both
pass (the limit bounds a flood, it is not a quota)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.app.endings import db
from bot.app.outcomes import Reason, Refusal, Refused
from bot.store.sent import Sent

WINDOW = timedelta(minutes=1)


def exceeds(sent: int, adding: int, per_minute: int) -> bool:
    """Whether ``adding`` more on top of ``sent`` in the window goes over ``per_minute``
    (0: no limit)."""
    return per_minute > 0 and sent + adding > per_minute


class SendLimit:
    def __init__(self, sent: Sent, per_minute: int) -> None:
        self.sent = sent
        self.per_minute = per_minute

    async def check(self, caller: str, adding: int, now: datetime) -> None:
        """Refuse (:data:`Reason.TOO_MANY_SENT`) when ``caller`` sending ``adding`` more
        invitations or requests at ``now`` goes over the limit."""
        if self.per_minute <= 0:
            return
        sent = await db(self.sent.since, caller, now - WINDOW)
        if exceeds(sent, adding, self.per_minute):
            raise Refused(
                Refusal(Reason.TOO_MANY_SENT, sent=sent, adding=adding, per_minute=self.per_minute),
                f"{caller} sent {sent} invitations and requests in the last minute",
            )
