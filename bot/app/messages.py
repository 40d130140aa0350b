"""What the use cases say to people, as values: the Slack layer picks the words and the
blocks (:mod:`bot.slack.replies`). A message is sent through :class:`bot.app.ports.Say`,
or rendered into the outbox with the state change that makes it due.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.app.admin_view import AllShares
from bot.domain.access import AccessFlag, Kept
from bot.domain.decisions import Decision
from bot.domain.digest import Item, OwnerCount, Status
from bot.domain.grants import EndReason, Grant


class Audience(enum.StrEnum):
    OWNER = "owner"
    RECIPIENT = "recipient"


class Message:
    """Base of everything the use cases say to someone."""


# -- grants --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invitation(Message):
    """The recipient's DM with the accept link (the link is a secret: never stored)."""

    grant: Grant
    accept_url: str


@dataclass(frozen=True)
class Accepted(Message):
    grant: Grant


@dataclass(frozen=True)
class Lapsed(Message):
    grant: Grant


@dataclass(frozen=True)
class Ended(Message):
    """A grant's access ended (expired, revoked, left), told to one side."""

    grant: Grant
    reason: EndReason
    kept: Kept
    audience: Audience


@dataclass(frozen=True)
class Withdrawn(Message):
    grant: Grant


@dataclass(frozen=True)
class Declined(Message):
    grant: Grant


@dataclass(frozen=True)
class LinkSpent(Message):
    """The link was used but not by the recipient: by someone else (``misused``, told to
    the recipient), or nobody holds its access now (told to the owner)."""

    grant: Grant
    misused: bool


@dataclass(frozen=True)
class LinkMisused(Message):
    """The owner: ``intruder`` used the link; whether their access is gone yet."""

    grant: Grant
    intruder: str
    removed: bool


@dataclass(frozen=True)
class UnexplainedAccess(Message):
    """The owner: someone gained access while a link was in use (Revoke / Keep)."""

    grant: Grant
    flag: AccessFlag


@dataclass(frozen=True)
class InvitationNotRecovered(Message):
    grant: Grant


@dataclass(frozen=True)
class RevokedByAdmin(Message):
    grant: Grant
    admin: str


@dataclass(frozen=True)
class Reminder(Message):
    grant: Grant
    audience: Audience


@dataclass(frozen=True)
class ExtendedForRecipient(Message):
    grant: Grant


@dataclass(frozen=True)
class ExtensionReason(Message):
    """The reason an extension shows its approvers (rendered once, stored with it)."""

    grant: Grant
    total: timedelta


# -- requests and approvals -----------------------------------------------------------------


class CopyFor(enum.StrEnum):
    DECIDER = "decider"
    REQUESTER = "requester"


@dataclass(frozen=True)
class DecisionCopy(Message):
    """A decision's message: with the decider's buttons, or the requester's copy."""

    decision: Decision
    audience: CopyFor


@dataclass(frozen=True)
class DecisionClosed(Message):
    """A copy of a decision's message once decided (the buttons replaced by the outcome)."""

    decision: Decision
    audience: str


@dataclass(frozen=True)
class DecisionResult(Message):
    """The requester's (and owner's) DM of a decision, with what carrying it out did."""

    decision: Decision
    detail: object | None = None  # an outcome of bot.app.outcomes, or an error


# -- the digest ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Digest(Message):
    """An owner's digest message, as sent and as updated after each click."""

    message_id: int
    owner_hub: str
    statuses: tuple[tuple[Item, Status, datetime | None], ...]
    total: int
    snooze: timedelta
    still_open: int  # what the notification's text counts


@dataclass(frozen=True)
class DigestSummary(Message):
    """The admin channel's summary of a day's digest."""

    counts: tuple[OwnerCount, ...]
    oldest: tuple[tuple[str, Item], ...]


# -- linking and the outbox ------------------------------------------------------------------


@dataclass(frozen=True)
class Linked(Message):
    hub_user: str
    previous: str | None


@dataclass(frozen=True)
class LinkAttempted(Message):
    """To the Slack user linked to ``hub_user``: a link page tried to give that hub
    identity to ``by`` (someone may have been sent their link); nothing changed."""

    hub_user: str
    by: str


@dataclass(frozen=True)
class GateRefused(Message):
    """To the owner, once per person: ``hub_user`` opened an invitation meant for someone
    else; the accept gate turned them away and nothing changed on the hub."""

    grant: Grant
    hub_user: str


@dataclass(frozen=True)
class ServerWaiting(Message):
    """To the owner, once per invitation: the recipient passed the accept gate while the
    server is not running (and cannot start it herself)."""

    grant: Grant


@dataclass(frozen=True)
class NoticeGivenUp(Message):
    """For the admin channel: a notice Slack kept refusing (never the notice itself)."""

    slack_id: str
    key: str | None
    attempts: int
    error: str


#: Items of one kind a Home tab can show at most (Slack allows 100 blocks in a view): the
#: use case loads no more than that.
HOME_LIMIT = 100


@dataclass(frozen=True)
class HomeTab:
    """Everything the Home tab of one person shows."""

    hub_user: str | None
    shared_by: Sequence[Grant] = ()
    shared_with: Sequence[Grant] = ()
    to_decide: Sequence[Decision] = ()
    mine_pending: Sequence[Decision] = ()
    # How many there are when only the newest were loaded (None: all of them are above).
    shared_by_total: int | None = None
    shared_with_total: int | None = None
    # Every open grant of every owner, a page of them: only for SHAREBOT_ADMINS.
    all_shares: AllShares | None = None


@dataclass(frozen=True)
class Rendered:
    """A message in the Slack layer's words: text, and Block Kit blocks as JSON."""

    text: str
    blocks: list[dict[str, object]] | None = None


@dataclass(frozen=True)
class Posted:
    """Where a message went, to update it later."""

    channel: str
    ts: str
