"""Grants and their state machine.

A grant is one recipient's time-limited access to one server::

    invited --accepted--> active --deadline/revoke--> ending --hub confirms--> expired | revoked
       |                    |                            (retried every pass until the hub agrees)
       |                    +--share removed in the hub (reconciliation)--> revoked
       +--link expired--> lapsed
       +--link used by someone else, or nobody holds it--> revoked
       +--invitation could not be delivered--> failed
       +--revoke/leave before acceptance--> withdrawing --code gone, unused--> cancelled
                                                 |  (retried until the hub confirms the code
                                                 |   is deleted)
                                                 +--it had been accepted--> ending

An invitation is never closed on an unconfirmed hub change: withdrawing it deletes its
code first, then looks whether it was used meanwhile (a used one takes the ending path).

Transitions are guarded: the store applies them with ``UPDATE ... WHERE state = :from``
so that a double click, a retry or a second replica cannot apply one twice.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.access import Held
from bot.domain.durations import is_until_revoked


class RecipientKind(enum.StrEnum):
    """Who a grant is for: a hub user (invited by a code, through a DM) or a hub group
    (shared with directly on the hub, no code: ``/share-server group:NAME 2h``)."""

    USER = "user"
    GROUP = "group"


class GrantState(enum.StrEnum):
    INVITED = "invited"
    WITHDRAWING = "withdrawing"  # revoked or declined before acceptance, code not yet gone
    ACTIVE = "active"
    ENDING = "ending"
    EXPIRED = "expired"
    REVOKED = "revoked"
    LAPSED = "lapsed"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATES


class EndReason(enum.StrEnum):
    EXPIRED = "expired"
    REVOKED = "revoked"
    MISUSED = "misused"  # someone other than the recipient used the link
    LEFT = "left"  # the recipient gave the access up themselves


OPEN_STATES = frozenset(
    {GrantState.INVITED, GrantState.WITHDRAWING, GrantState.ACTIVE, GrantState.ENDING}
)
#: Invitations not yet accepted (their code may be live).
UNACCEPTED_STATES = frozenset({GrantState.INVITED, GrantState.WITHDRAWING})

TRANSITIONS: dict[GrantState, frozenset[GrantState]] = {
    GrantState.INVITED: frozenset(
        {
            GrantState.ACTIVE,
            GrantState.LAPSED,
            GrantState.WITHDRAWING,
            GrantState.FAILED,
            # the link was used by someone else (or by nobody who still holds it)
            GrantState.REVOKED,
        }
    ),
    GrantState.WITHDRAWING: frozenset(
        {GrantState.CANCELLED, GrantState.ENDING, GrantState.REVOKED}
    ),
    # active -> revoked directly: reconciliation found the share already removed in the hub
    GrantState.ACTIVE: frozenset({GrantState.ENDING, GrantState.REVOKED}),
    GrantState.ENDING: frozenset({GrantState.EXPIRED, GrantState.REVOKED}),
}


class InvalidTransition(ValueError):
    """A transition the state machine does not allow."""


def check_transition(current: GrantState, new: GrantState) -> None:
    if new not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(f"a grant cannot go from {current} to {new}")


def final_state(reason: EndReason) -> GrantState:
    return GrantState.EXPIRED if reason is EndReason.EXPIRED else GrantState.REVOKED


@dataclass(frozen=True)
class Grant:
    """What the store knows of one grant (a value; the store is the truth)."""

    id: int
    state: GrantState
    owner_slack_id: str
    owner_hub: str
    server: str
    recipient_slack_id: str
    recipient_hub: str
    duration: timedelta
    note: str
    created_at: datetime
    code_id: str | None = None
    code_expires_at: datetime | None = None
    accepted_at: datetime | None = None
    accepted_hub_user: str | None = None
    expires_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: EndReason | None = None
    scopes: frozenset[str] = frozenset()  # what the grant's code gives
    earlier: frozenset[str] = frozenset()  # earlier access of the person (bot.domain.access)
    baseline: Mapping[str, frozenset[str]] | None = None  # the server's shares, for misuse
    code_exchanges: int = 0  # exchanges of the code already judged
    code_uses: int = 0  # exchanges of the code when last seen (judged or not)
    code_gone: bool = False  # the hub confirmed the code deleted (or expired)
    revoke_attempts: int = 0
    last_error: str | None = None
    extras: tuple[str, ...] = ()
    decision_id: int | None = None
    reminded_at: datetime | None = None
    remind_at: datetime | None = None  # when the coming end is announced (ReminderRule)
    snoozed_until: datetime | None = None
    invite_sent_at: datetime | None = None
    path: str | None = None  # where on the server the recipient lands (bot.domain.gate)
    # a hub group's grant: recipient_hub is the group's name, recipient_slack_id is empty
    recipient_kind: RecipientKind = RecipientKind.USER

    @property
    def label(self) -> str:
        """Stable form for logs: ``grant:42 owner/gpu -> alice`` (``-> group:physics``)."""
        to = f"group:{self.recipient_hub}" if self.for_group else self.recipient_hub
        return f"grant:{self.id} {self.owner_hub}/{self.server} -> {to}"

    @property
    def for_group(self) -> bool:
        return self.recipient_kind is RecipientKind.GROUP

    @property
    def holder(self) -> str:
        """The hub user who holds (or will hold) the access."""
        return self.accepted_hub_user or self.recipient_hub

    @property
    def ledger(self) -> Held:
        return Held(self.scopes, self.earlier)

    @property
    def had_prior_access(self) -> bool:
        """The person had access to the server before this grant (it stays theirs)."""
        return bool(self.earlier)


@dataclass(frozen=True)
class Listed:
    """What a listing of someone's open shares shows of a grant (``/share-server list``),
    read without the scope ledger, the baseline and what else it does not show: an owner
    with hundreds of open shares lists them in a fraction of the time."""

    id: int
    state: GrantState
    owner_hub: str
    server: str
    recipient_slack_id: str
    recipient_hub: str
    duration: timedelta
    created_at: datetime
    code_expires_at: datetime | None = None
    expires_at: datetime | None = None
    recipient_kind: RecipientKind = RecipientKind.USER

    @property
    def for_group(self) -> bool:
        return self.recipient_kind is RecipientKind.GROUP


def deadline_after_acceptance(accepted_at: datetime, duration: timedelta) -> datetime | None:
    """When access ends; None for a share until revoked (it has no deadline)."""
    return None if is_until_revoked(duration) else accepted_at + duration


def is_due_to_expire(grant: Grant, now: datetime) -> bool:
    return (
        grant.state is GrantState.ACTIVE
        and grant.expires_at is not None
        and grant.expires_at <= now
    )


@dataclass(frozen=True)
class ReminderRule:
    """How long before its end a share is announced: ``fraction`` of its length, at least
    ``min_lead`` and at most ``max_lead`` (SHAREBOT_REMIND_FRACTION, _MIN_LEAD, _MAX_LEAD).

    A tenth of a 2h share is 12m; a 30m share gets the 5m minimum, a month the 1d maximum.
    """

    fraction: float = 0.1
    min_lead: timedelta = timedelta(minutes=5)
    max_lead: timedelta = timedelta(days=1)

    def __post_init__(self) -> None:
        if not 0 < self.fraction <= 1:
            raise ValueError("the reminder's fraction must be in (0, 1]")
        if not timedelta(0) < self.min_lead <= self.max_lead:
            raise ValueError("the reminder's lead times must satisfy 0 < min <= max")

    def lead(self, length: timedelta) -> timedelta:
        """How long before the end of a period of ``length`` the reminder goes out."""
        return min(self.max_lead, max(self.min_lead, length * self.fraction))


#: The rule when nothing is configured (the defaults of SHAREBOT_REMIND_*).
DEFAULT_REMINDERS = ReminderRule()


def remind_at(start: datetime, end: datetime | None, rule: ReminderRule | None) -> datetime | None:
    """When to remind of the end of access running from ``start`` (its acceptance, or the
    extension that moved the deadline) to ``end``; None: never (no end, reminders off).

    Never after the end, never before ``start``: a period shorter than the minimum lead is
    announced at once.
    """
    if rule is None or end is None:
        return None
    return max(start, end - rule.lead(max(end - start, timedelta(0))))


def reminder_due(grant: Grant, now: datetime) -> bool:
    """Whether to remind owner and recipient now that ``grant`` ends soon: an active grant,
    once (``reminded_at`` unset), from its ``remind_at`` until its deadline."""
    return (
        grant.state is GrantState.ACTIVE
        and grant.reminded_at is None
        and grant.expires_at is not None
        and grant.remind_at is not None
        and grant.remind_at <= now < grant.expires_at
    )


def extended_deadline(grant: Grant, extra: timedelta) -> datetime:
    """The deadline after extending ``grant`` by ``extra`` (from its current deadline)."""
    assert grant.expires_at is not None
    return grant.expires_at + extra


def length_after_extension(grant: Grant, extra: timedelta) -> timedelta:
    """How long the grant will have lasted in all, from acceptance to the new deadline.

    This is what policy judges: extending a 1d share by 1d makes a 2d share.
    """
    start = grant.accepted_at or grant.created_at
    return extended_deadline(grant, extra) - start


def invitation_unconfirmed(grant: Grant) -> bool:
    """An invitation whose DM is not known to have gone out: an intent written before the
    hub was asked for a code. Whoever holds its claim is working on it; once the claim has
    run out, the process that wrote it died and the sweep recovers it."""
    return grant.state is GrantState.INVITED and grant.invite_sent_at is None


def shares_unread(grant: Grant) -> bool:
    """A person's invitation written before the server's shares were read for it (a share
    with one person reads them alongside the hub making its code, and writes them with the
    code). It has no code yet, so it has given nobody anything, and its earlier access is
    not known yet: it counts for no one's earlier access."""
    return (
        grant.state is GrantState.INVITED
        and grant.code_id is None
        and grant.baseline is None
        and not grant.for_group
    )


def invitation_stale(grant: Grant, now: datetime, invite_ttl: timedelta) -> bool:
    """Too old to re-issue: the link would have expired by now anyway."""
    return now - grant.created_at >= invite_ttl


def orphan_codes(
    codes: list[tuple[str, datetime | None]],
    known: set[str],
    intent_created_at: datetime,
    skew: timedelta,
) -> list[str]:
    """Codes of a server no grant knows that were made for an intent created at
    ``intent_created_at``: (id, created_at) pairs, created at most ``skew`` before it.

    A code with no creation time, or an older one, is not ours to judge (an owner may make
    codes of their own).
    """
    return [
        code_id
        for code_id, created in codes
        if code_id not in known and created is not None and created >= intent_created_at - skew
    ]


def invitation_lapsed(grant: Grant, now: datetime) -> bool:
    return (
        grant.state is GrantState.INVITED
        and grant.code_expires_at is not None
        and grant.code_expires_at <= now
    )
