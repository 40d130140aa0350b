"""A throwaway PostgreSQL server for the tests, and one fresh database per test.

The suite picks its database by ``SHAREBOT_TEST_DB_URL`` (as jupyterhub's own tests do with
``JUPYTERHUB_TEST_DB_URL``): unset means SQLite files; a ``postgresql+psycopg://`` URL
names a server on which every test gets a new database, dropped afterwards.

``scripts/test`` starts a server with this module's command line (Debian's PostgreSQL
binaries, a data directory under /tmp, trust auth on 127.0.0.1 only)::

    python -m tests.support.postgres start DIR   # prints the server URL
    python -m tests.support.postgres stop DIR
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

ENV = "SHAREBOT_TEST_DB_URL"
USER = "sharebot"


def server_url() -> str | None:
    return os.environ.get(ENV) or None


@contextmanager
def fresh_database(url: str) -> Iterator[str]:
    """Create a database on the server at ``url``; yield its URL; drop it afterwards."""
    name = f"sharebot_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _bindir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not candidates:
        raise SystemExit(
            "PostgreSQL server binaries not found: install Debian's `postgresql` package"
        )
    return Path(candidates[-1]).parent


def _as_postgres(args: list[str]) -> list[str]:
    """The server refuses to run as root; run it as Debian's `postgres` user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(directory: Path) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data"
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    bindir = _bindir()
    port = _free_port()
    subprocess.run(
        _as_postgres(
            [str(bindir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8"]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(directory / "server.log"),
                "-w",
                "start",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return f"postgresql+psycopg://{USER}@127.0.0.1:{port}/postgres"


def stop(directory: Path) -> None:
    data = directory / "data"
    if data.exists():
        subprocess.run(
            _as_postgres([str(_bindir() / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
        )
    shutil.rmtree(directory, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in {"start", "stop"}:
        print("usage: python -m tests.support.postgres start|stop DIR", file=sys.stderr)
        return 2
    if argv[0] == "start":
        print(start(Path(argv[1])))
    else:
        stop(Path(argv[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
