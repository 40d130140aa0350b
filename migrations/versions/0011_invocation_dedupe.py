"""each slash command and click is taken on once: Slack's trigger_id kept for an hour

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_invocations",
        sa.Column("trigger_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("trigger_id", name=op.f("pk_slack_invocations")),
    )
    op.create_index(
        op.f("ix_slack_invocations_created_at"), "slack_invocations", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_slack_invocations_created_at"), table_name="slack_invocations")
    op.drop_table("slack_invocations")
