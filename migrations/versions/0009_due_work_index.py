"""the sweep finds due work through an index on (state, expires_at)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 08:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # (state, expires_at) serves the state-only lookups too, so it replaces ix_grants_state.
    op.create_index("ix_grants_state_expires", "grants", ["state", "expires_at"], unique=False)
    op.drop_index("ix_grants_state", table_name="grants")


def downgrade() -> None:
    op.create_index("ix_grants_state", "grants", ["state"], unique=False)
    op.drop_index("ix_grants_state_expires", table_name="grants")
