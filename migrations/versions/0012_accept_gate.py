"""the accept gate: sealed share codes behind sharebot's page, refusals told once, the
OAuth flows that pass the gate, notebook paths

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accept_gates",
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_code", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["grants.id"], name=op.f("fk_accept_gates_grant_id_grants")
        ),
        sa.PrimaryKeyConstraint("grant_id", name=op.f("pk_accept_gates")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_accept_gates_token_hash")),
    )
    op.create_table(
        "accept_refusals",
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("hub_user", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["grants.id"], name=op.f("fk_accept_refusals_grant_id_grants")
        ),
        sa.PrimaryKeyConstraint("grant_id", "hub_user", name=op.f("pk_accept_refusals")),
    )
    with op.batch_alter_table("link_flows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grant_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("displaced_slack_id", sa.String(length=32), nullable=True))
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("path", sa.String(length=1024), nullable=True))
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("path", sa.String(length=1024), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("path")
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_column("path")
    with op.batch_alter_table("link_flows", schema=None) as batch_op:
        batch_op.drop_column("displaced_slack_id")
        batch_op.drop_column("grant_id")
    op.drop_table("accept_refusals")
    op.drop_table("accept_gates")
