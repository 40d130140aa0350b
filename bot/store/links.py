"""Links: one Slack user <-> one hub user, set by an admin, the hub's OAuth or email.

Relinking a hub user to another Slack user moves what it holds in sharebot (the open
grants of its servers and to it, the pending requests about its servers) to the new one:
owner actions follow the current link.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from bot.domain.grants import OPEN_STATES
from bot.store.base import Store, record_audit
from bot.store.models import DecisionRow, GrantRow, UserLink


@dataclass(frozen=True)
class Link:
    slack_user_id: str
    hub_user: str
    method: str
    linked_at: datetime


class Links(Store):
    def link(
        self, slack_user_id: str, hub_user: str, *, method: str, by: str | None, now: datetime
    ) -> Link | None:
        """Map a Slack user to a hub user, replacing either side's old link.

        Returns the replaced link of this Slack user, if any. The audit entry names both the
        hub user this Slack user had before and the Slack user who had this hub user before.
        When the hub user was linked to another Slack user, what that one held as the hub
        user moves to this one (owner actions follow the current link): the open grants of
        the hub user's servers and to the hub user, and the pending decisions about its
        servers (:func:`_follow_link`).
        """
        with self._tx() as session:
            old = session.get(UserLink, slack_user_id)
            previous = _link(old) if old else None
            displaced = session.scalar(
                select(UserLink.slack_user_id).where(
                    UserLink.hub_user == hub_user, UserLink.slack_user_id != slack_user_id
                )
            )
            session.execute(
                delete(UserLink)
                .where(or_(UserLink.hub_user == hub_user, UserLink.slack_user_id == slack_user_id))
                .execution_options(synchronize_session="fetch")
            )
            session.add(
                UserLink(
                    slack_user_id=slack_user_id,
                    hub_user=hub_user,
                    method=method,
                    linked_by=by,
                    linked_at=now,
                )
            )
            moved = _follow_link(session, hub_user, slack_user_id) if displaced else 0
            record_audit(
                session,
                now,
                "link",
                None,
                by,
                None,
                {
                    "slack_user": slack_user_id,
                    "hub_user": hub_user,
                    "method": method,
                    "replaced": previous.hub_user if previous else None,
                    "displaced_slack_user": displaced,
                    "moved": moved,
                },
            )
        return previous

    def slack_user_of(self, hub_user: str) -> str | None:
        """The Slack user linked to ``hub_user``, if any."""
        with self._read() as session:
            return session.scalar(
                select(UserLink.slack_user_id).where(UserLink.hub_user == hub_user)
            )

    def link_of(self, slack_user_id: str) -> Link | None:
        with self._read() as session:
            row = session.get(UserLink, slack_user_id)
            return _link(row) if row else None

    def unlink(self, slack_user_id: str, *, by: str | None, now: datetime) -> Link | None:
        with self._tx() as session:
            old = session.get(UserLink, slack_user_id)
            if old is None:
                return None
            previous = _link(old)
            session.delete(old)
            record_audit(
                session,
                now,
                "unlink",
                None,
                by,
                None,
                {"slack_user": slack_user_id, "hub_user": previous.hub_user},
            )
        return previous

    def hub_users(self, slack_user_ids: Iterable[str]) -> dict[str, str]:
        ids = list(slack_user_ids)
        with self._read() as session:
            rows = session.scalars(select(UserLink).where(UserLink.slack_user_id.in_(ids)))
            return {row.slack_user_id: row.hub_user for row in rows}

    def slack_user_for(self, hub_user: str) -> str | None:
        with self._read() as session:
            return session.scalar(
                select(UserLink.slack_user_id).where(UserLink.hub_user == hub_user)
            )

    # -- grants -----------------------------------------------------------------------


def _follow_link(session: Session, hub_user: str, slack_user_id: str) -> int:
    """Point what the hub user holds in sharebot at their new Slack user; how many rows."""
    open_states = [s.value for s in OPEN_STATES]
    moved = 0
    for column, hub_column in (
        (GrantRow.owner_slack_id, GrantRow.owner_hub),
        (GrantRow.recipient_slack_id, GrantRow.recipient_hub),
    ):
        result = session.execute(
            update(GrantRow)
            .where(hub_column == hub_user, GrantRow.state.in_(open_states))
            .values({column: slack_user_id})
            .execution_options(synchronize_session=False)
        )
        moved += int(result.rowcount or 0)  # type: ignore[attr-defined]
    result = session.execute(
        update(DecisionRow)
        .where(DecisionRow.owner_hub == hub_user, DecisionRow.state == "pending")
        .values(owner_slack_id=slack_user_id)
        .execution_options(synchronize_session=False)
    )
    return moved + int(result.rowcount or 0)  # type: ignore[attr-defined]


def _link(row: UserLink) -> Link:
    return Link(row.slack_user_id, row.hub_user, row.method, row.linked_at)
