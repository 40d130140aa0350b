"""What the use cases return: typed results and refusal reasons, never words.

A listener hands an outcome to the Slack layer (:func:`bot.slack.replies.render`), which
picks the words; tests assert on the outcome itself. A refusal that stops a use case half
way is raised as :class:`Refused` (a :class:`~bot.errors.ShareRefused`), one that is its
whole answer is returned as a :class:`Refusal`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.access import AccessFlag
from bot.domain.decisions import Decision
from bot.domain.digest import Item
from bot.domain.grants import Grant, Listed
from bot.domain.reconcile import ExternalShare
from bot.errors import SharebotError, ShareRefused


class Reason(enum.StrEnum):
    """Why a use case did nothing (or stopped): each has its words in the Slack layer."""

    SELF_SHARE = "self_share"
    UNKNOWN_SERVER = "unknown_server"  # server, available: said to the owner only
    OWNER_HAS_NO_SERVER = "owner_has_no_server"  # server, people (the owner): to the others
    NOT_LINKED_CALLER = "not_linked_caller"  # why (optional)
    NOT_LINKED_RECIPIENTS = "not_linked_recipients"  # people, why_not
    SHARE_CLOSED = "share_closed"
    CLOSED_WHILE_INVITING = "closed_while_inviting"
    ONLY_OWNER_REVOKES = "only_owner_revokes"
    ONLY_RECIPIENT_LEAVES = "only_recipient_leaves"
    ONLY_ADMINS = "only_admins"  # All shares on the Home tab: SHAREBOT_ADMINS only
    NOTHING_TO_REVOKE = "nothing_to_revoke"  # people, server
    FLAG_NOT_YOURS = "flag_not_yours"
    FLAG_SETTLED = "flag_settled"  # flag
    FLAG_REMOVE_FAILED = "flag_remove_failed"  # flag
    NO_APPROVERS = "no_approvers"
    NO_OTHER_DECIDER = "no_other_decider"
    SELF_REQUEST = "self_request"
    ONLY_OWNER_EXTENDS = "only_owner_extends"
    CANNOT_EXTEND = "cannot_extend"  # grant
    ALREADY_EXTENDED = "already_extended"  # grant
    EXTENSION_OVER_LIMIT = "extension_over_limit"  # grant, total, limit
    EXTENSION_PENDING = "extension_pending"
    EXTENSION_GONE = "extension_gone"
    ONLY_RECIPIENT_ASKS = "only_recipient_asks"  # Ask for more time: not the recipient
    MORE_TIME_PENDING = "more_time_pending"
    ONLY_OWNER_SHARES_AGAIN = "only_owner_shares_again"
    SHARE_AGAIN_OPEN = "share_again_open"  # grant: the person has an open share already
    SHARE_AGAIN_NOT_ENDED = "share_again_not_ended"  # grant
    SHARE_AGAIN_TOO_LONG = "share_again_too_long"  # grant, limit (None: until revoked)
    DECISION_GONE = "decision_gone"
    NOT_A_DECIDER = "not_a_decider"  # decision
    ALREADY_DECIDED = "already_decided"  # decision
    ONLY_REQUESTER_CANCELS = "only_requester_cancels"
    SHORTER_ONLY = "shorter_only"  # approve for less: a duration above what was asked
    DIGEST_UNKNOWN_ITEM = "digest_unknown_item"
    DIGEST_NOT_YOURS = "digest_not_yours"
    DIGEST_ALREADY_HANDLED = "digest_already_handled"
    DIGEST_NOTHING_LEFT = "digest_nothing_left"
    LINKING_NOT_CONFIGURED = "linking_not_configured"
    TOO_MANY_SENT = "too_many_sent"  # sent, adding, per_minute
    BAD_PATH = "bad_path"  # why
    TOO_MANY_RECIPIENTS = "too_many_recipients"  # count, cap
    NOBODY_TO_SHARE_WITH = "nobody_to_share_with"  # left_out: the groups had nobody else
    UNKNOWN_HUB_GROUP = "unknown_hub_group"  # why: the hub group's name


@dataclass(frozen=True)
class Refusal:
    """Nothing was done, and why. Only the fields ``reason`` needs are set."""

    reason: Reason
    grant: Grant | None = None
    decision: Decision | None = None
    flag: AccessFlag | None = None
    server: str | None = None
    available: tuple[str, ...] = ()
    people: tuple[str, ...] = ()  # Slack ids
    why_not: Mapping[str, str] = field(default_factory=dict)  # Slack id -> reason
    why: str | None = None
    total: timedelta | None = None
    limit: timedelta | None = None
    sent: int = 0  # invitations and requests sent in the last minute
    adding: int = 0  # how many more this would send
    per_minute: int = 0  # the limit
    count: int = 0  # how many people a share would reach (TOO_MANY_RECIPIENTS)
    cap: int = 0  # SHAREBOT_MAX_RECIPIENTS


class Refused(ShareRefused):
    """A use case stopped with ``refusal`` (the listener renders it)."""

    def __init__(self, refusal: Refusal, detail: str | None = None) -> None:
        super().__init__(detail or f"refused: {refusal.reason}", user_message=refusal.reason)
        self.refusal = refusal


# -- sharing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeftOut:
    """Members of the Slack user groups a share named who were not shared with: the owner
    (themselves, or someone linked to the same hub user), and those not linked."""

    owner: bool = False
    unlinked: tuple[str, ...] = ()  # Slack ids
    why_not: Mapping[str, str] = field(default_factory=dict)  # Slack id -> reason

    def __bool__(self) -> bool:
        return self.owner or bool(self.unlinked)


@dataclass
class ShareOutcome:
    invited: list[Grant] = field(default_factory=list)
    failed: list[tuple[str, SharebotError]] = field(default_factory=list)  # (slack id, why)
    left_out: LeftOut = field(default_factory=LeftOut)  # of the user groups named


@dataclass(frozen=True)
class GroupShared:
    """A server shared with a hub group (one group share on the hub, no code, no DM)."""

    grant: Grant


@dataclass(frozen=True)
class ShareList:
    grants: tuple[Listed, ...]


@dataclass(frozen=True)
class RevokeResult:
    """Grants ended (``done``) and those whose end the hub has not confirmed yet."""

    done: tuple[Grant, ...] = ()
    pending: tuple[Grant, ...] = ()


@dataclass(frozen=True)
class LeaveResult:
    grant: Grant
    done: bool


@dataclass(frozen=True)
class FlagDecided:
    flag: AccessFlag


# -- requests and approvals -----------------------------------------------------------------


@dataclass(frozen=True)
class PostedTo:
    """Who was asked to decide: these people by DM, or a channel."""

    people: tuple[str, ...] = ()
    channel: str | None = None


@dataclass(frozen=True)
class Held:
    """A share policy holds for an approver."""

    decision: Decision
    reasons: tuple[str, ...]
    posted_to: PostedTo
    left_out: LeftOut = field(default_factory=LeftOut)  # of the user groups named


@dataclass(frozen=True)
class RequestSent:
    decision: Decision
    posted_to: PostedTo


@dataclass(frozen=True)
class Extended:
    grant: Grant


@dataclass(frozen=True)
class ExtensionHeld:
    decision: Decision
    reasons: tuple[str, ...]
    posted_to: PostedTo


@dataclass(frozen=True)
class Decided:
    """The clicker's answer after a decision (and what carrying it out did)."""

    decision: Decision
    detail: object | None = None


# -- the digest ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestKept:
    item: Item
    until: datetime


@dataclass(frozen=True)
class ExternalRevoked:
    share: ExternalShare


@dataclass(frozen=True)
class ExternalRevokeFailed:
    share: ExternalShare


@dataclass(frozen=True)
class ExternalNowOurs:
    share: ExternalShare


@dataclass(frozen=True)
class Several:
    """The answers of several steps of one click (Revoke all stale)."""

    outcomes: tuple[object, ...]


# -- linking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkOffer:
    url: str


@dataclass(frozen=True)
class Unlinked:
    previous: str | None


@dataclass(frozen=True)
class WhoAmI:
    hub_user: str | None
    method: str | None
