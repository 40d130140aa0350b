"""Tables. Times are stored as UTC; the app only ever sees timezone-aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    false,
    or_,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Store naive UTC (portable across SQLite and PostgreSQL), return aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass UTC-aware times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UserLink(Base):
    """One Slack user <-> one hub user. Set by an admin (CLI) or, later, by OAuth."""

    __tablename__ = "user_links"

    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    hub_user: Mapped[str] = mapped_column(String(255), unique=True)
    method: Mapped[str] = mapped_column(String(16))  # admin | oauth | email
    linked_by: Mapped[str | None] = mapped_column(String(255))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GrantRow(Base):
    """One recipient's time-limited access to one server. See bot.domain.grants."""

    __tablename__ = "grants"
    __table_args__ = (
        # The sweep's due work: expiries and reminders by deadline (bot.store.repository).
        Index("ix_grants_state_expires", "state", "expires_at"),
        Index("ix_grants_pair", "owner_hub", "server", "recipient_hub"),
        # The sweep's reminders by when they are due (bot.domain.grants.remind_at).
        Index("ix_grants_state_remind", "state", "remind_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    owner_slack_id: Mapped[str] = mapped_column(String(32), index=True)
    owner_hub: Mapped[str] = mapped_column(String(255))
    server: Mapped[str] = mapped_column(String(255))
    recipient_slack_id: Mapped[str] = mapped_column(String(32), index=True)
    recipient_hub: Mapped[str] = mapped_column(String(255))
    # "user", or "group": recipient_hub is a hub group (bot.domain.grants.RecipientKind)
    recipient_kind: Mapped[str] = mapped_column(String(8), default="user", server_default="user")
    # NULL: until revoked (no end; SHAREBOT_ALLOW_UNTIL_REVOKED)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    code_id: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_hub_user: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(16))
    # The scope ledger (bot.domain.access): what the grant's code gives, and what the
    # person held on the server before that no grant of ours accounts for.
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    earlier_scopes: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # The server's shares (user -> scopes) before any exchange of this grant's code: what
    # misuse is judged against. Refreshed while the code is unused.
    baseline: Mapped[dict[str, list[str]] | None] = mapped_column(JSON)
    # Exchanges of the code already judged, and whether the hub confirmed the code gone
    # (until then it is watched, whatever the grant's state).
    code_exchanges: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The code's exchange count when sharebot last saw it (kept when it deletes the code,
    # so that uses it has not judged yet are not forgotten with the code).
    code_uses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    code_gone: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    revoke_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    extras: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    # A replica working on this grant (see Repository.claim); stale claims time out.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the invitation DM went out. NULL on an invited grant: an intent whose code or DM
    # may not have happened (the process died); the sweep recovers it (bot.app.sharing).
    invite_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the owner and recipient were reminded of the coming end.
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When to remind them: set at acceptance and at each extension (bot.domain.grants).
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # "Keep" in the digest: not reported as stale before this time.
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Where on the server the recipient lands after accepting (bot.domain.gate).
    path: Mapped[str | None] = mapped_column(String(1024))


class AcceptGate(Base):
    """An invitation's share code behind sharebot's accept page (bot.domain.gate): sealed
    under the gate token, which is stored only as its SHA-256. Replaced with a new code."""

    __tablename__ = "accept_gates"

    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sealed_code: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AcceptRefusal(Base):
    """Someone not the recipient came to an invitation's gate: the owner is told once."""

    __tablename__ = "accept_refusals"

    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id"), primary_key=True)
    hub_user: Mapped[str] = mapped_column(String(255), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEvent(Base):
    """Append-only log of every step: who, what, when, with Slack and hub identities."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    action: Mapped[str] = mapped_column(String(32))
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("grants.id"), index=True)
    actor_slack_id: Mapped[str | None] = mapped_column(String(32))
    actor_hub: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LinkFlow(Base):
    """One self-service account link, from `/share-server link` to the confirmation POST.

    Secrets (nonce, OAuth state, CSRF token, browser cookie) are stored as SHA-256 hashes.
    The PKCE verifier must be kept in clear until the token exchange, then it is erased.
    ``step`` moves issued -> authorizing -> confirming -> done with guarded updates.
    """

    __tablename__ = "link_flows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(16))
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
    state_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    browser_hash: Mapped[str | None] = mapped_column(String(64))
    csrf_hash: Mapped[str | None] = mapped_column(String(64))
    code_verifier: Mapped[str | None] = mapped_column(String(128))
    hub_user: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A flow that passes an invitation's accept gate (no linking then), and for a link that
    # would replace another Slack user's, that user (who must confirm it).
    grant_id: Mapped[int | None] = mapped_column(Integer)
    displaced_slack_id: Mapped[str | None] = mapped_column(String(32))


class DecisionRow(Base):
    """An access request or a policy approval; see bot.domain.decisions."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_state", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    requester_slack_id: Mapped[str] = mapped_column(String(32), index=True)
    owner_slack_id: Mapped[str] = mapped_column(String(32))
    owner_hub: Mapped[str] = mapped_column(String(255))
    server: Mapped[str] = mapped_column(String(255))
    recipients: Mapped[list[str]] = mapped_column(JSON)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)  # NULL: until revoked
    extras: Mapped[list[str]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)
    approved_duration_seconds: Mapped[int | None] = mapped_column(Integer)
    # The grant an extension is about (None for requests and approvals). Not a foreign
    # key: grants.decision_id already points the other way, and grants are never deleted.
    grant_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # Where the recipient lands after accepting (bot.domain.gate), as requested.
    path: Mapped[str | None] = mapped_column(String(1024))


class DecisionMessage(Base):
    """Where a copy of a decision's message was posted, to update every copy later."""

    __tablename__ = "decision_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    audience: Mapped[str] = mapped_column(String(16))  # decider | requester


class ExternalShare(Base):
    """A hub share sharebot did not make, seen by reconciliation (see bot.domain.reconcile).

    One row per (owner, server, user or group). ``gone_at`` is set when the hub no longer
    has it; it is cleared (and the age restarts) if it comes back.
    """

    __tablename__ = "external_shares"
    __table_args__ = (UniqueConstraint("owner_hub", "server", "kind", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_hub: Mapped[str] = mapped_column(String(255))
    server: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8))  # user | group
    name: Mapped[str] = mapped_column(String(255))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    hub_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    gone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(32))
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DigestRun(Base):
    """One pass of the daily digest (several may run on one day: replicas, restarts)."""

    __tablename__ = "digest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10), index=True)  # local date, YYYY-MM-DD
    runner: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent: Mapped[int] = mapped_column(Integer, default=0)


class DigestMessage(Base):
    """The one digest message of a day for an owner (or the admin channel).

    Claimed by INSERT before sending; the UNIQUE constraint makes one claimer win, so a
    second replica or a restart never sends it again. ``items`` lists what the message
    shows, so buttons can re-render it after Revoke or Keep.
    """

    __tablename__ = "digest_messages"
    __table_args__ = (UniqueConstraint("day", "kind", "owner_hub"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(8))  # owner | admin
    owner_hub: Mapped[str] = mapped_column(String(255))  # "" for the admin summary
    target: Mapped[str] = mapped_column(String(32))  # owner's Slack id, or the channel
    run_id: Mapped[int] = mapped_column(ForeignKey("digest_runs.id"))
    state: Mapped[str] = mapped_column(String(16))  # claimed | sent | failed
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    channel: Mapped[str | None] = mapped_column(String(32))
    ts: Mapped[str | None] = mapped_column(String(32))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


class OutboxRow(Base):
    """A notice to send, retried by the sweep until sent or given up (see bot.store.outbox).

    ``state`` moves pending -> sent | given_up with guarded updates; a sender claims a row
    by moving ``next_attempt_at`` past now, so two replicas never send one notice twice.
    ``dedupe_key`` (UNIQUE) names the event a notice is about (``grant:42:expired:owner``):
    it is written in the same transaction as the state change, once.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # pending | sent | given_up
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    # Block Kit blocks sent with the text (buttons), erased with it.
    blocks: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class AccessFlagRow(Base):
    """Access on the hub that a grant's code may have given to someone it was not for.

    ``kind`` intruder: certainly used someone else's link; sharebot removes ``scopes``
    (retried until the hub confirms). ``kind`` unexplained: sharebot cannot tell a use of
    the link from a share the owner made in the hub, so the owner decides (Revoke / Keep).
    ``state`` moves pending -> removed | kept | gone with guarded updates.
    """

    __tablename__ = "access_flags"
    __table_args__ = (Index("ix_access_flags_state", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("grants.id"), index=True)
    owner_hub: Mapped[str] = mapped_column(String(255))
    server: Mapped[str] = mapped_column(String(255))
    hub_user: Mapped[str] = mapped_column(String(255))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class SlackInvocation(Base):
    """A slash command or click sharebot took on, by Slack's ``trigger_id`` (unique per
    invocation). Slack's signature lets a captured request be replayed for 5 minutes; the
    primary key makes the second one a no-op, on any replica (bot.app.replays). Rows older
    than an hour are pruned by the background pass."""

    __tablename__ = "slack_invocations"

    trigger_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


def held_by(holder: str) -> ColumnElement[bool]:
    """Grants that give (or would give) ``holder`` their access: accepted by them, or
    meant for them and not accepted yet."""
    return or_(
        GrantRow.accepted_hub_user == holder,
        and_(GrantRow.accepted_hub_user.is_(None), GrantRow.recipient_hub == holder),
    )
