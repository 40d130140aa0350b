"""The daily digest: when it is due, and which shares are stale at ``now``.

Pure: every function takes ``now``; the time zone is given, never read from the machine.

A share is *stale* (reported to its owner) when it is not snoozed ("Keep") and

- it is external (the bot did not make it) and older than ``stale_after``;
- it is a grant without an end (``until-revoked``);
- its revocation keeps failing (``REVOKE_FAILING_ATTEMPTS`` failed attempts or more);
- with ``inactivity`` on: the recipient has not been active in the hub for ``stale_after``
  (and the share is at least that old). Unknown activity never makes a share stale.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from bot.domain.grants import Grant, GrantState
from bot.domain.ids import number_of
from bot.domain.reconcile import ExternalShare, ShareKind

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS = frozenset(range(5))
EVERY_DAY = frozenset(range(7))
REVOKE_FAILING_ATTEMPTS = 3


# -- when ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """Digest at ``at`` local time (None: never) on ``days`` (0 = Monday) in ``tz``."""

    at: time | None
    days: frozenset[int]
    tz: tzinfo


def parse_clock(text: str) -> time | None:
    """``09:00`` -> 09:00; ``off`` -> None. Raises ValueError with the accepted forms."""
    raw = text.strip().lower()
    if raw in ("off", "never", ""):
        return None
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", raw)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"{text!r} is not a time of day; use HH:MM (24h, e.g. 09:00) or off")
    return time(int(match.group(1)), int(match.group(2)))


def parse_days(text: str) -> frozenset[int]:
    """``mon-fri`` (ranges wrap: ``sat-mon``), ``mon,wed,fri``, ``daily``/``every day``."""
    raw = text.strip().lower()
    if raw in ("daily", "every day", "everyday", "all"):
        return EVERY_DAY
    if raw in ("weekdays", "workdays"):
        return WEEKDAYS
    days: set[int] = set()
    for part in (p.strip() for p in raw.split(",")):
        ends = [e.strip()[:3] for e in part.split("-")]
        if not part or len(ends) > 2 or any(e not in DAY_NAMES for e in ends):
            raise ValueError(
                f"{text!r} is not a list of days; use e.g. mon-fri, mon,wed,fri or daily"
            )
        first = DAY_NAMES.index(ends[0])
        last = DAY_NAMES.index(ends[-1])
        span = (last - first) % 7
        days.update((first + step) % 7 for step in range(span + 1))
    return frozenset(days)


def due_day(schedule: Schedule, now: datetime) -> date | None:
    """Today's local date when today is a digest day and its time has come, else None."""
    if schedule.at is None:
        return None
    local = now.astimezone(schedule.tz)
    if local.weekday() not in schedule.days or local.time() < schedule.at:
        return None
    return local.date()


def local_day(schedule: Schedule, now: datetime) -> date:
    """The date in the digest's time zone (what "once per day" counts in)."""
    return now.astimezone(schedule.tz).date()


def next_digest(schedule: Schedule, now: datetime) -> datetime | None:
    """The next moment a digest is due, strictly after ``now`` when today's has passed."""
    if schedule.at is None or not schedule.days:
        return None
    local = now.astimezone(schedule.tz)
    for ahead in range(8):
        day = local.date() + timedelta(days=ahead)
        if day.weekday() not in schedule.days:
            continue
        moment = datetime.combine(day, schedule.at, tzinfo=schedule.tz)
        if moment > local:
            return moment
    return None


# -- what -------------------------------------------------------------------------------


class Reason(enum.StrEnum):
    EXTERNAL = "external"  # not made by sharebot, older than stale_after
    NO_END = "no_end"  # an until-revoked grant
    REVOKE_FAILING = "revoke_failing"  # the hub keeps refusing the revocation
    INACTIVE = "inactive"  # the recipient has not used the hub for stale_after


@dataclass(frozen=True)
class StaleRules:
    stale_after: timedelta = timedelta(days=7)
    inactivity: bool = False  # report shares whose recipient has been inactive
    failing_attempts: int = REVOKE_FAILING_ATTEMPTS


class ItemKind(enum.StrEnum):
    GRANT = "grant"
    EXTERNAL = "external"


@dataclass(frozen=True)
class Item:
    """One stale share in an owner's digest. ``ref`` (``grant:12``) is what buttons carry."""

    kind: ItemKind
    id: int
    server: str
    who: str  # the hub user (or group) holding the share
    who_is_group: bool
    since: datetime
    reasons: tuple[Reason, ...]
    last_activity: datetime | None = None
    slack_id: str | None = None  # the recipient's Slack id, when known

    @property
    def ref(self) -> str:
        return f"{self.kind.value}:{self.id}"


def parse_ref(ref: str | None) -> tuple[ItemKind, int] | None:
    """``grant:12`` -> (GRANT, 12); anything else -> None."""
    kind, _, number = (ref or "").partition(":")
    found = number_of(number)
    if kind not in (k.value for k in ItemKind) or found is None:
        return None
    return ItemKind(kind), found


def _snoozed(snoozed_until: datetime | None, now: datetime) -> bool:
    return snoozed_until is not None and snoozed_until > now


def _inactive(
    rules: StaleRules, since: datetime, last_activity: datetime | None, now: datetime
) -> bool:
    horizon = now - rules.stale_after
    return (
        rules.inactivity
        and last_activity is not None
        and last_activity <= horizon
        and since <= horizon
    )


def grant_reasons(
    grant: Grant, now: datetime, rules: StaleRules, last_activity: datetime | None = None
) -> tuple[Reason, ...]:
    """Why ``grant`` is stale at ``now`` (empty: it is not)."""
    if _snoozed(grant.snoozed_until, now):
        return ()
    reasons: list[Reason] = []
    if grant.state is GrantState.ACTIVE and grant.expires_at is None:
        reasons.append(Reason.NO_END)
    if grant.state is GrantState.ENDING and grant.revoke_attempts >= rules.failing_attempts:
        reasons.append(Reason.REVOKE_FAILING)
    since = grant.accepted_at or grant.created_at
    if grant.state is GrantState.ACTIVE and _inactive(rules, since, last_activity, now):
        reasons.append(Reason.INACTIVE)
    return tuple(reasons)


def external_reasons(
    share: ExternalShare, now: datetime, rules: StaleRules, last_activity: datetime | None = None
) -> tuple[Reason, ...]:
    """Why an external share is stale at ``now`` (empty: it is not)."""
    if not share.present or _snoozed(share.snoozed_until, now):
        return ()
    if share.since > now - rules.stale_after:
        return ()
    reasons = [Reason.EXTERNAL]
    if share.kind is ShareKind.USER and _inactive(rules, share.since, last_activity, now):
        reasons.append(Reason.INACTIVE)
    return tuple(reasons)


def stale_items(
    grants: Iterable[Grant],
    externals: Iterable[ExternalShare],
    now: datetime,
    rules: StaleRules,
    activity: Mapping[str, datetime | None] | None = None,
) -> list[Item]:
    """An owner's stale shares, oldest first. ``activity``: hub user -> last activity."""
    activity = activity or {}
    items: list[Item] = []
    for grant in grants:
        seen = activity.get(grant.holder)
        reasons = grant_reasons(grant, now, rules, seen)
        if reasons:
            items.append(
                Item(
                    ItemKind.GRANT,
                    grant.id,
                    grant.server,
                    grant.holder,
                    grant.for_group,
                    grant.accepted_at or grant.created_at,
                    reasons,
                    seen,
                    grant.recipient_slack_id or None,
                )
            )
    for share in externals:
        seen = activity.get(share.name) if share.kind is ShareKind.USER else None
        reasons = external_reasons(share, now, rules, seen)
        if reasons:
            items.append(
                Item(
                    ItemKind.EXTERNAL,
                    share.id,
                    share.server,
                    share.name,
                    share.kind is ShareKind.GROUP,
                    share.since,
                    reasons,
                    seen,
                )
            )
    return sorted(items, key=lambda item: (item.since, item.kind.value, item.id))


@dataclass(frozen=True)
class OwnerCount:
    owner_hub: str
    count: int
    oldest: datetime


def summary(
    per_owner: Mapping[str, list[Item]], top: int = 5
) -> tuple[list[OwnerCount], list[tuple[str, Item]]]:
    """For the admin channel: stale counts per owner (most first) and the oldest shares."""
    counts = sorted(
        (
            OwnerCount(owner, len(items), min(i.since for i in items))
            for owner, items in per_owner.items()
            if items
        ),
        key=lambda c: (-c.count, c.owner_hub),
    )
    everything = [(owner, item) for owner, items in per_owner.items() for item in items]
    oldest = sorted(everything, key=lambda pair: pair[1].since)[:top]
    return counts, oldest


# -- after a click ------------------------------------------------------------------------


class Status(enum.StrEnum):
    """Where a digest item stands now (what replaces its buttons once handled)."""

    OPEN = "open"  # still stale: Revoke and Keep
    KEPT = "kept"  # snoozed until a time
    REVOKED = "revoked"  # ended (by the owner, the sweep or in the hub)
    GONE = "gone"  # no longer in the hub, or no longer known


def grant_status(grant: Grant | None, now: datetime) -> tuple[Status, datetime | None]:
    if grant is None:
        return Status.GONE, None
    if not grant.state.is_open:
        return Status.REVOKED, grant.ended_at
    if _snoozed(grant.snoozed_until, now):
        return Status.KEPT, grant.snoozed_until
    return Status.OPEN, None


def external_status(share: ExternalShare | None, now: datetime) -> tuple[Status, datetime | None]:
    if share is None:
        return Status.GONE, None
    if share.revoked_at is not None:
        return Status.REVOKED, share.revoked_at
    if share.gone_at is not None:
        return Status.GONE, share.gone_at
    if _snoozed(share.snoozed_until, now):
        return Status.KEPT, share.snoozed_until
    return Status.OPEN, None
