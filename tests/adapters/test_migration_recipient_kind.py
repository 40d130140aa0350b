"""Migration 0014 (a grant's recipient kind: a hub user or a hub group), both ways, on a
database in use (both engines, picked by SHAREBOT_TEST_DB_URL)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from bot.store.db import alembic_config, current_revision, head_revision, make_engine

AT = "'2026-11-01 00:00:00'"


def _grant(grant_id: int, state: str, recipient: str) -> str:
    return (
        "INSERT INTO grants (id, state, owner_slack_id, owner_hub, server, recipient_slack_id,"
        " recipient_hub, duration_seconds, note, created_at, updated_at, revoke_attempts,"
        f" extras) VALUES ({grant_id}, '{state}', 'U1', 'alice', '', 'U2', '{recipient}',"
        f" 3600, '', {AT}, {AT}, 0, '[]')"
    )


def test_upgrade_makes_every_grant_a_users_and_downgrade_closes_groups_grants(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine)
    command.upgrade(config, "0013")
    with engine.begin() as connection:
        connection.execute(text(_grant(1, "active", "bob")))
    command.upgrade(config, "0014")
    assert current_revision(engine) == "0014" == head_revision()
    with engine.begin() as connection:
        assert connection.execute(text("SELECT recipient_kind FROM grants")).scalar() == "user"
        connection.execute(text(_grant(2, "active", "physics-101")))
        connection.execute(text("UPDATE grants SET recipient_kind = 'group' WHERE id = 2"))
    command.downgrade(config, "0013")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, state FROM grants")).all()
        states: dict[int, str] = {i: s for i, s in rows}
        columns = connection.execute(text("SELECT * FROM grants")).keys()
    # the user's grant untouched; the group's closed (below 0014 it would pass for a user's)
    assert states == {1: "active", 2: "failed"}
    assert "recipient_kind" not in columns
    command.upgrade(config, "head")
    with engine.connect() as connection:
        kinds = connection.execute(text("SELECT recipient_kind FROM grants ORDER BY id")).all()
    assert [k for (k,) in kinds] == ["user", "user"]
    engine.dispose()
