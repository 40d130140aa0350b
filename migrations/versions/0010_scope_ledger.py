"""the scope ledger: each grant's scopes and earlier access, misuse baselines, watched
codes, access flags, outbox blocks

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_grants = sa.table(
    "grants",
    sa.column("id", sa.Integer),
    sa.column("state", sa.String),
    sa.column("owner_hub", sa.String),
    sa.column("server", sa.String),
    sa.column("extras", sa.JSON),
    sa.column("had_prior_access", sa.Boolean),
    sa.column("scopes", sa.JSON),
    sa.column("earlier_scopes", sa.JSON),
    sa.column("code_gone", sa.Boolean),
)


def _scopes(owner: str, server: str, extras: list[str] | None) -> list[str]:
    # bot.domain.access.grant_scopes as of this revision (a migration never imports the app)
    target = f"server={owner}/{server}"
    scopes = [f"access:servers!{target}"]
    if "manage" in (extras or []):
        scopes.append(f"servers!{target}")
    return sorted(scopes)


def upgrade() -> None:
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scopes", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(
            sa.Column("earlier_scopes", sa.JSON(), server_default="[]", nullable=False)
        )
        batch_op.add_column(sa.Column("baseline", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("code_exchanges", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("code_uses", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("code_gone", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    # Grants made before the ledger: their code's scopes; "had prior access" meant the
    # person held a share of the server, i.e. at least access to it. Codes of closed grants
    # were deleted or expired; open ones are checked again by the next pass.
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            _grants.c.id,
            _grants.c.state,
            _grants.c.owner_hub,
            _grants.c.server,
            _grants.c.extras,
            _grants.c.had_prior_access,
        )
    ).all()
    for row in rows:
        scopes = _scopes(row.owner_hub, row.server, row.extras)
        earlier = [s for s in scopes if s.startswith("access:")] if row.had_prior_access else []
        bind.execute(
            sa.update(_grants)
            .where(_grants.c.id == row.id)
            .values(
                scopes=scopes,
                earlier_scopes=earlier,
                code_gone=row.state not in ("invited", "active", "ending"),
            )
        )
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_column("had_prior_access")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("blocks", sa.JSON(), nullable=True))
    op.create_table(
        "access_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=True),
        sa.Column("owner_hub", sa.String(length=255), nullable=False),
        sa.Column("server", sa.String(length=255), nullable=False),
        sa.Column("hub_user", sa.String(length=255), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_by", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["grants.id"], name=op.f("fk_access_flags_grant_id_grants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_flags")),
    )
    op.create_index("ix_access_flags_state", "access_flags", ["state"], unique=False)
    op.create_index(op.f("ix_access_flags_grant_id"), "access_flags", ["grant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_access_flags_grant_id"), table_name="access_flags")
    op.drop_index("ix_access_flags_state", table_name="access_flags")
    op.drop_table("access_flags")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("blocks")
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("had_prior_access", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute(
        "UPDATE grants SET had_prior_access = TRUE WHERE earlier_scopes IS NOT NULL "
        "AND CAST(earlier_scopes AS TEXT) NOT IN ('[]', '')"
    )
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_column("code_gone")
        batch_op.drop_column("code_uses")
        batch_op.drop_column("code_exchanges")
        batch_op.drop_column("baseline")
        batch_op.drop_column("earlier_scopes")
        batch_op.drop_column("scopes")
