"""Engine creation and schema management (Alembic), kept apart from the repository."""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from bot.errors import DatabaseError, SchemaError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "_migrations"


# Any constant shared by every sharebot: the key of the PostgreSQL advisory lock that
# serialises schema changes when several replicas start at once.
MIGRATION_LOCK_KEY = 0x5348_4152_4542  # "SHAREB"


def make_engine(url: str) -> Engine:
    """An engine with SQLite made safe for a web app, a background job and two processes.

    SQLite: WAL (readers never wait for the writer), a 30 s busy timeout, and every
    transaction opened with ``BEGIN IMMEDIATE`` so that two writers queue up at the start
    instead of failing half-way with "database is locked" (SQLAlchemy's documented recipe
    for pysqlite's transaction handling). Transactions that only read (the
    :data:`READ_ONLY` execution option, see ``Store._read``) open with a plain ``BEGIN``:
    in WAL mode they neither wait for a writer nor make one wait. No pre-ping on SQLite:
    there is no server connection to lose.
    """
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except (ArgumentError, NoSuchModuleError) as err:
        raise DatabaseError(
            f"SHAREBOT_DATABASE_URL is not a URL of a database sharebot can use "
            f"({err.__class__.__name__}): write sqlite:///sharebot.sqlite or "
            "postgresql+psycopg://user:password@host/db"
        ) from None
    except ImportError as err:  # the dialect's driver is not installed
        raise DatabaseError(
            f"the database driver of SHAREBOT_DATABASE_URL is not installed ({err.name}): "
            "for PostgreSQL write postgresql+psycopg://user:password@host/db and install "
            "it with pip install 'sharebot[postgresql]'"
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # pysqlite must not open transactions itself
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


#: Execution option of a connection whose transactions only read (``Store._read``).
READ_ONLY = "sharebot_read_only"


def _sqlite_begin(connection: Connection) -> None:
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def sqlite_path(engine: Engine) -> Path | None:
    """The file of an SQLite database; None for other databases and in-memory ones."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def check_sqlite_location(engine: Engine) -> None:
    """Raise DatabaseError, saying what to do, when an SQLite database cannot be created or
    written where SHAREBOT_DATABASE_URL puts it: its folder is missing, or sharebot may not
    write there (SQLite keeps its journal beside the file, sharebot its schema lock). Nothing
    is created. Other databases pass."""
    path = sqlite_path(engine)
    if path is None:
        return
    path = Path(os.path.abspath(path))
    folder = path.parent
    other = "or set SHAREBOT_DATABASE_URL to a file in another folder"
    if not folder.is_dir():
        raise DatabaseError(
            f"the folder {folder} of the SQLite database {path.name} does not exist: create "
            f"it (mkdir -p {folder}) {other}"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DatabaseError(
            f"sharebot may not write in {folder}, the folder of the SQLite database "
            f"{path.name} (SQLite writes its journal beside the file): give the user sharebot "
            f"runs as write access to it {other}"
        )
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise DatabaseError(
            f"sharebot may not read and write the SQLite database {path}: give the user "
            f"sharebot runs as read and write access to it {other}"
        )


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Hold the schema lock: replicas starting together migrate one after the other.

    PostgreSQL: a session-level advisory lock. SQLite: an exclusive lock on a file beside
    the database (SQLite databases live on one host, so a file lock covers every process).
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                connection.commit()
        return
    path = sqlite_path(engine)
    if path is None:
        yield
        return
    with open(path.with_name(path.name + ".migrate-lock"), "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def backup_sqlite(engine: Engine, now: datetime | None = None) -> Path | None:
    """Copy an SQLite database beside itself (online backup API); None if not SQLite."""
    path = sqlite_path(engine)
    if path is None or not path.exists():
        return None
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    revision = current_revision(engine) or "none"
    target = path.with_name(f"{path.name}.{revision}-{stamp}.bak")
    source = sqlite3.connect(path)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
    return target


def alembic_config(engine: Engine | None = None, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def migrations_dir() -> Path:
    """Migrations ship inside the package as ``bot._migrations`` (source: ``migrations/``)."""
    installed = MIGRATIONS_DIR
    if (installed / "env.py").exists():
        return installed
    source = Path(__file__).resolve().parents[2] / "migrations"
    return source


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    # Alembic's context says which dialect it found at INFO: noise in `sharebot shares`,
    # `audit` and `check`, which only ask for the revision (a migration still says it).
    quiet = logging.getLogger("alembic.runtime.migration")
    level = quiet.level
    quiet.setLevel(max(level, logging.WARNING))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        quiet.setLevel(level)


def schema_revision(engine: Engine) -> str | None:
    """The database's revision in one query, without Alembic's set-up (for ``/readyz``):
    None when it has none yet; SchemaError when it cannot be read (down, or no schema)."""
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError as err:
        raise SchemaError(f"cannot read the database's revision: {err.__class__.__name__}") from err
    return None if found is None else str(found)


def upgrade(engine: Engine) -> None:
    """Upgrade the database to head (callers hold ``migration_lock``)."""
    command.upgrade(alembic_config(engine), "head")


def migrate(engine: Engine) -> tuple[str | None, Path | None]:
    """Upgrade to head under the schema lock, backing up a non-empty SQLite file first.

    Returns the revision before, and the backup made (if any). Safe to run from several
    replicas at once: the second one finds the database at head and does nothing.
    """
    check_sqlite_location(engine)
    try:
        with migration_lock(engine):
            return _migrate_locked(engine)
    except SQLAlchemyError as err:
        raise _unreadable(engine, err) from err
    except OSError as err:  # the schema lock's file
        raise _unwritable(engine, err) from err


def _migrate_locked(engine: Engine) -> tuple[str | None, Path | None]:
    before = current_revision(engine)
    if before == head_revision():
        return before, None
    backup = None if is_empty(engine) else backup_sqlite(engine)
    if backup is not None:
        log.info("backed up the database to %s before migrating", backup)
    upgrade(engine)
    log.info("upgraded the database from %s to %s", before or "none", head_revision())
    return before, backup


def is_empty(engine: Engine) -> bool:
    return not inspect(engine).get_table_names()


def check_schema(engine: Engine) -> None:
    """Raise SchemaError unless the database answers and is at head."""
    try:
        current = current_revision(engine)
    except SQLAlchemyError as err:
        raise SchemaError(f"database unreachable: {err.__class__.__name__}") from err
    if current != head_revision():
        raise SchemaError(f"database at {current or 'none'}, needs {head_revision()}")


def ensure_schema(engine: Engine, *, auto_migrate: bool = False) -> None:
    """Create the schema on an empty database; refuse to run on one that is not at head.

    With ``auto_migrate`` an older schema is upgraded (after a backup, for SQLite). Several
    processes may call this at once: the schema lock makes one create or upgrade it.
    """
    check_sqlite_location(engine)
    try:
        with migration_lock(engine):
            if is_empty(engine):
                log.info("empty database: creating the schema")
                upgrade(engine)
                return
            current = current_revision(engine)
            if auto_migrate and current != head_revision():
                _migrate_locked(engine)
                return
    except SQLAlchemyError as err:
        raise _unreadable(engine, err) from err
    except OSError as err:  # the schema lock's file
        raise _unwritable(engine, err) from err
    head = head_revision()
    if current != head:
        raise SchemaError(
            f"the database is at revision {current or 'none'} but this sharebot needs {head}. "
            "Back it up, then run `sharebot migrate`."
        )


def _unreadable(engine: Engine, err: SQLAlchemyError) -> SchemaError:
    # One line: the driver's message, not the SQL statement SQLAlchemy appends to it.
    reason = str(getattr(err, "orig", None) or err).splitlines()[0]
    return SchemaError(
        f"cannot read the database at {engine.url.render_as_string(hide_password=True)}: "
        f"{err.__class__.__name__}: {reason}. Check SHAREBOT_DATABASE_URL."
    )


def _unwritable(engine: Engine, err: OSError) -> DatabaseError:
    return DatabaseError(
        f"cannot write beside the database at "
        f"{engine.url.render_as_string(hide_password=True)} ({err.__class__.__name__}: "
        f"{err.strerror or err}): give the user sharebot runs as write access to its folder, "
        "or set SHAREBOT_DATABASE_URL to a file in another folder"
    )
