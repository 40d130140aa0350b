"""reminders for every share: when each grant's reminder is due, indexed with its state

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_grants = sa.table(
    "grants",
    sa.column("id", sa.Integer),
    sa.column("state", sa.String),
    sa.column("accepted_at", sa.DateTime),
    sa.column("expires_at", sa.DateTime),
    sa.column("reminded_at", sa.DateTime),
    sa.column("remind_at", sa.DateTime),
)


def _remind_at(start: datetime, end: datetime) -> datetime:
    # bot.domain.grants.remind_at with the default rule as of this revision (a tenth of the
    # length, at least 5m, at most 1d; a migration never imports the app)
    lead = min(timedelta(days=1), max(timedelta(minutes=5), (end - start) * 0.1))
    return max(start, end - lead)


def upgrade() -> None:
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remind_at", sa.DateTime(), nullable=True))
    op.create_index("ix_grants_state_remind", "grants", ["state", "remind_at"], unique=False)
    # Active grants not reminded yet get their reminder under the new rule (before, only
    # shares over a day had one).
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_grants.c.id, _grants.c.accepted_at, _grants.c.expires_at).where(
            _grants.c.state == "active",
            _grants.c.expires_at.is_not(None),
            _grants.c.accepted_at.is_not(None),
            _grants.c.reminded_at.is_(None),
        )
    ).all()
    for grant_id, accepted_at, expires_at in rows:
        bind.execute(
            sa.update(_grants)
            .where(_grants.c.id == grant_id)
            .values(remind_at=_remind_at(accepted_at, expires_at))
        )


def downgrade() -> None:
    op.drop_index("ix_grants_state_remind", table_name="grants")
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_column("remind_at")
