"""The database layer: SQLite tuning, backups, and schema changes from several processes."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text

from bot.errors import SchemaError
from bot.store.base import Store
from bot.store.db import (
    alembic_config,
    current_revision,
    ensure_schema,
    head_revision,
    make_engine,
    migrate,
)

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def test_sqlite_runs_in_wal_mode_with_immediate_transactions(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    # BEGIN IMMEDIATE: a transaction holds the write lock from its start, so a second
    # writer cannot slip in between one's read and its write.
    with engine.begin() as first:
        first.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
    with engine.begin() as first:
        first.exec_driver_sql("SELECT 1")
        other = sqlite3.connect(tmp_path / "db.sqlite", timeout=0.1)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
    engine.dispose()


def test_read_only_transactions_take_no_write_lock(tmp_path: Path) -> None:
    """A reader (Store._read) neither waits for a writer nor holds one up; a writing
    transaction (Store._tx) still takes the write lock at its start."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.begin() as setup:
        setup.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    store = Store(engine)
    writer = sqlite3.connect(tmp_path / "db.sqlite", timeout=0.1, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    with store._read() as session:  # would wait 30 s for the lock with BEGIN IMMEDIATE
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 0
    writer.execute("COMMIT")
    with store._read() as session:
        session.execute(text("SELECT count(*) FROM t"))
        writer.execute("BEGIN IMMEDIATE")  # the reader does not stop a writer
        writer.execute("COMMIT")
    with store._tx() as session:
        session.execute(text("SELECT count(*) FROM t"))
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            writer.execute("BEGIN IMMEDIATE")
    writer.close()
    engine.dispose()


def _at_revision(url: str, revision: str) -> Engine:
    engine = make_engine(url)
    command.upgrade(alembic_config(engine), revision)
    return engine


def populate(engine: Engine) -> None:
    """Rows in every table that later migrations rebuild, linked by foreign keys."""
    at = "'2026-11-01 00:00:00'"
    with engine.begin() as connection:
        for statement in (
            "INSERT INTO user_links (slack_user_id, hub_user, method, linked_at)"
            f" VALUES ('U1', 'alice', 'admin', {at})",
            "INSERT INTO decisions (id, kind, state, requester_slack_id, owner_slack_id,"
            " owner_hub, server, recipients, duration_seconds, extras, reason, created_at,"
            " expires_at, updated_at) VALUES (1, 'request', 'approved', 'U2', 'U1', 'alice',"
            f" '', '[\"U2\"]', 3600, '[]', '', {at}, {at}, {at})",
            "INSERT INTO grants (id, state, owner_slack_id, owner_hub, server,"
            " recipient_slack_id, recipient_hub, duration_seconds, note, created_at,"
            " updated_at, had_prior_access, revoke_attempts, extras, decision_id)"
            f" VALUES (1, 'active', 'U1', 'alice', '', 'U2', 'bob', 3600, '', {at}, {at},"
            " false, 0, '[]', 1)",
            "INSERT INTO audit_events (at, action, grant_id, detail)"
            f" VALUES ({at}, 'share', 1, '{{}}')",
        ):
            connection.execute(text(statement))


def test_upgrade_and_downgrade_keep_the_data(database_url: str) -> None:
    """Migrations that rebuild referenced tables work on a database in use (both engines)."""
    engine = _at_revision(database_url, "0003")
    populate(engine)
    migrate(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT decision_id FROM grants")).scalar() == 1
        assert connection.execute(text("SELECT count(*) FROM audit_events")).scalar() == 1
    command.downgrade(alembic_config(engine), "0003")
    command.upgrade(alembic_config(engine), "head")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT duration_seconds FROM grants")).scalar() == 3600
        if engine.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_migrate_backs_up_an_sqlite_file_first(tmp_path: Path) -> None:
    engine = _at_revision(f"sqlite:///{tmp_path / 'db.sqlite'}", "0003")
    populate(engine)
    before, backup = migrate(engine)
    assert before == "0003"
    assert current_revision(engine) == head_revision()
    assert backup is not None and backup.name.startswith("db.sqlite.0003-")
    copy = sqlite3.connect(backup)
    assert copy.execute("SELECT version_num FROM alembic_version").fetchall() == [("0003",)]
    assert copy.execute("SELECT hub_user FROM user_links").fetchall() == [("alice",)]
    copy.close()
    # At head there is nothing to do and nothing to back up.
    assert migrate(engine) == (head_revision(), None)
    engine.dispose()


def test_start_up_refuses_an_old_schema_unless_told_to_migrate(database_url: str) -> None:
    engine = _at_revision(database_url, "0003")
    with pytest.raises(SchemaError, match="sharebot migrate"):
        ensure_schema(engine)
    ensure_schema(engine, auto_migrate=True)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_replicas_creating_the_schema_at_once_do_not_collide(database_url: str) -> None:
    """Several processes starting on one empty database: the schema lock serialises them."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start_one() -> None:
        engine = make_engine(database_url)
        try:
            barrier.wait()
            ensure_schema(engine)
        except BaseException as err:
            errors.append(err)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    engine = make_engine(database_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()
