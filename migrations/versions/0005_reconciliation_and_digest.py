"""reconciliation with the hub, the daily digest, until-revoked durations

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL duration: a share until revoked (SHAREBOT_ALLOW_UNTIL_REVOKED)
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.alter_column("duration_seconds", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.alter_column("duration_seconds", existing_type=sa.Integer(), nullable=True)

    op.create_table(
        "external_shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_hub", sa.String(length=255), nullable=False),
        sa.Column("server", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("hub_created_at", sa.DateTime(), nullable=True),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("gone_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=32), nullable=True),
        sa.Column("snoozed_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_shares")),
        sa.UniqueConstraint(
            "owner_hub", "server", "kind", "name", name=op.f("uq_external_shares_owner_hub")
        ),
    )
    op.create_table(
        "digest_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("runner", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_runs")),
    )
    with op.batch_alter_table("digest_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_digest_runs_day"), ["day"], unique=False)
    op.create_table(
        "digest_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("owner_hub", sa.String(length=255), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["digest_runs.id"], name=op.f("fk_digest_messages_run_id_digest_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_messages")),
        sa.UniqueConstraint("day", "kind", "owner_hub", name=op.f("uq_digest_messages_day")),
    )


def downgrade() -> None:
    op.drop_table("digest_messages")
    with op.batch_alter_table("digest_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digest_runs_day"))
    op.drop_table("digest_runs")
    op.drop_table("external_shares")
    # Shares until revoked cannot be represented before 0005: give them the longest
    # duration a hub share code allows (a year) rather than failing the downgrade.
    op.execute("UPDATE decisions SET duration_seconds = 31536000 WHERE duration_seconds IS NULL")
    op.execute("UPDATE grants SET duration_seconds = 31536000 WHERE duration_seconds IS NULL")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.alter_column("duration_seconds", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.alter_column("duration_seconds", existing_type=sa.Integer(), nullable=False)
