"""an extension decision names its grant

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 04:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grant_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_decisions_grant_id"), ["grant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decisions_grant_id"))
        batch_op.drop_column("grant_id")
