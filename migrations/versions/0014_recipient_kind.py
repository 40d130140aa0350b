"""shares with hub groups: what kind of recipient a grant is for (a hub user or a hub group)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # every grant so far is a hub user's
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recipient_kind", sa.String(length=8), nullable=False, server_default="user")
        )


def downgrade() -> None:
    # a group's grants cannot be told from a user's below this revision: they are closed
    # first (the hub keeps what they gave until an owner revokes it there)
    op.execute(
        sa.text(
            "UPDATE grants SET state = 'failed' WHERE recipient_kind = 'group' "
            "AND state NOT IN ('expired', 'revoked', 'failed')"
        )
    )
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_column("recipient_kind")
