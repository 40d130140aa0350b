"""The outbox's rules: which failed notices are kept, when they are tried again, when not.

A notice (``SlackMessenger.notify``) that Slack refused or that never reached Slack is
kept and retried by the background pass::

    notify fails --permanent error--> logged, dropped (retrying cannot help)
        |
        other error
        v
    pending --sent--> sent
        |  \\--failed again--> pending, next try after 30 s, 1 min, 2 min, ... at most 1 h
        \\--older than GIVE_UP_AFTER--> given_up

Pure: every function takes ``now``.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=24)

#: Slack error codes a retry cannot fix: the person is gone, is a bot, or the
#: conversation does not exist (and a text Slack finds too long stays too long).
PERMANENT_ERRORS = frozenset(
    {
        "user_not_found",
        "cannot_dm_bot",
        "account_inactive",
        "user_disabled",
        "channel_not_found",
        "msg_too_long",
    }
)


class NoticeState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    GIVEN_UP = "given_up"


def is_permanent(code: str | None) -> bool:
    """True for Slack errors a later try would meet again (None: Slack not reached)."""
    return code is not None and code in PERMANENT_ERRORS


def retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed try: 30 s, doubling, at most an hour."""
    if attempts < 1:
        return FIRST_DELAY
    # 2**7 * 30 s already exceeds the cap; bounding the exponent keeps the number small.
    delay: timedelta = FIRST_DELAY * 2 ** min(attempts - 1, 8)
    return min(delay, MAX_DELAY)


def next_attempt(attempts: int, now: datetime, retry_after: float | None = None) -> datetime:
    """When to try again after ``attempts`` failed tries, the last one at ``now``; never
    before Slack's ``Retry-After`` (seconds) when it gave one."""
    delay = retry_delay(attempts)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, timedelta(seconds=retry_after))
    return now + delay


def gives_up(created_at: datetime, attempts: int, now: datetime) -> bool:
    """True once a notice has waited GIVE_UP_AFTER (and was tried at least once).

    A day-old "your access has ended" is still worth a try; one older than that is news
    nobody needs, and Slack has kept refusing for a day: someone should look at the logs.
    """
    return attempts >= 1 and now - created_at >= GIVE_UP_AFTER
