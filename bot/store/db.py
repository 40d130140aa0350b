"""Engine creation and schema management (Alembic), kept apart from the repository."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import SchemaError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "_migrations"


def make_engine(url: str) -> Engine:
    """An engine with SQLite made safe for a web app and a background job."""
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


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
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Upgrade the database to head."""
    command.upgrade(alembic_config(engine), "head")


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


def ensure_schema(engine: Engine) -> None:
    """Create the schema on an empty database; refuse to run on one that is not at head."""
    try:
        if is_empty(engine):
            log.info("empty database: creating the schema")
            upgrade(engine)
            return
        current = current_revision(engine)
    except SQLAlchemyError as err:
        raise SchemaError(
            f"cannot read the database at {engine.url.render_as_string(hide_password=True)}: "
            f"{err.__class__.__name__}: {err}. Check SHAREBOT_DATABASE_URL."
        ) from err
    head = head_revision()
    if current != head:
        raise SchemaError(
            f"the database is at revision {current or 'none'} but this sharebot needs {head}. "
            "Back it up, then run `sharebot migrate`."
        )
