"""Access requests and approvals: their states and the policy that asks for approval.

An *access request* is someone asking an owner for their server; the owner decides. An
*approval* is a share that policy holds back until an approver decides. An *extension*
is an owner's Extend that policy holds back the same way; *more time* is a recipient
asking the owner to extend their share (the owner decides, then policy as for Extend).
All are a ``Decision`` with the same state machine::

    pending --approve--> approved (--share failed--> failed)
       |----deny-------> denied
       |----deadline---> expired
       +----cancel-----> cancelled

Every move is a guarded update (``WHERE state = 'pending'``): of two clicks, one wins.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.access import MANAGE
from bot.domain.durations import format_duration, is_until_revoked


class DecisionKind(enum.StrEnum):
    REQUEST = "request"  # a person asks the owner
    APPROVAL = "approval"  # policy asks an approver about an owner's share
    EXTENSION = "extension"  # policy asks an approver about making a share last longer
    MORE_TIME = "more_time"  # the recipient asks the owner to make their share last longer

    @property
    def needs_approvers(self) -> bool:
        """Decided by the configured approvers (not by the server's owner)."""
        return self not in (DecisionKind.REQUEST, DecisionKind.MORE_TIME)

    @property
    def extends(self) -> bool:
        """About an existing grant (``grant_id``): approving it moves that grant's end."""
        return self in (DecisionKind.EXTENSION, DecisionKind.MORE_TIME)


class DecisionState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"


DECISION_TRANSITIONS: dict[DecisionState, frozenset[DecisionState]] = {
    DecisionState.PENDING: frozenset(
        {
            DecisionState.APPROVED,
            DecisionState.DENIED,
            DecisionState.EXPIRED,
            DecisionState.CANCELLED,
        }
    ),
    DecisionState.APPROVED: frozenset({DecisionState.FAILED}),
}


@dataclass(frozen=True)
class Decision:
    id: int
    kind: DecisionKind
    state: DecisionState
    requester_slack_id: str  # who asked (the owner, for an approval)
    owner_slack_id: str
    owner_hub: str
    server: str
    recipients: tuple[str, ...]  # Slack ids of who gets access
    duration: timedelta
    extras: tuple[str, ...]  # extra permissions, e.g. ("manage",)
    reason: str
    created_at: datetime
    expires_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    approved_duration: timedelta | None = None
    grant_id: int | None = None  # the grant an extension is about
    path: str | None = None  # where the recipient lands after accepting (bot.domain.gate)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id} {self.owner_hub}/{self.server}"

    def who_decides(self, approvers: frozenset[str]) -> frozenset[str]:
        """Slack ids allowed to approve or deny. Nobody decides a grant that gives them
        access: never the requester, never one of the recipients (an approver who asked
        for access, or was given it, is not among the approvers of it)."""
        deciders = approvers if self.kind.needs_approvers else {self.owner_slack_id}
        return frozenset(deciders) - {self.requester_slack_id, *self.recipients}


@dataclass(frozen=True)
class Policy:
    """When a share needs an approver on top of the owner."""

    approval_above: timedelta | None = None  # None: durations never need approval
    has_approvers: bool = False
    for_groups: bool = False  # SHAREBOT_APPROVAL_FOR_GROUPS: every hub group share does

    def reasons(
        self, duration: timedelta, extras: tuple[str, ...], *, hub_group: bool = False
    ) -> list[str]:
        """Why a share needs approval; empty when it does not."""
        why = []
        if hub_group and self.for_groups:
            why.append("it shares with a hub group")
        if self.approval_above is not None and is_until_revoked(duration):
            why.append("it has no end (until revoked)")
        elif self.approval_above is not None and duration > self.approval_above:
            why.append(f"it is longer than {format_duration(self.approval_above)}")
        if MANAGE in extras:
            why.append("it lets them start and stop the server")
        return why


#: How a decision's recipients name a hub group (its only recipient): ``group:NAME``.
HUB_GROUP_PREFIX = "group:"


def hub_group_in(recipients: tuple[str, ...]) -> str | None:
    """The hub group a decision's recipients name, if any."""
    if len(recipients) == 1 and recipients[0].startswith(HUB_GROUP_PREFIX):
        return recipients[0][len(HUB_GROUP_PREFIX) :]
    return None


SHORTER_STEPS = tuple(
    timedelta(seconds=s)
    for s in (900, 1800, 3600, 7200, 4 * 3600, 8 * 3600, 86400, 2 * 86400, 3 * 86400, 5 * 86400)
)


def shorter_durations(requested: timedelta) -> list[timedelta]:
    """Choices for "approve for less": the usual steps below what was asked."""
    return [step for step in SHORTER_STEPS if step < requested]


def is_overdue(decision: Decision, now: datetime) -> bool:
    return decision.state is DecisionState.PENDING and decision.expires_at <= now
