"""Operator mistakes give one line saying what to change, never a traceback (issue 17).

Each mistake is tried on the part that judges it (the settings, the store, ``check``, the
hub client, the CLI's listening socket); tests/integration/test_operator_mistakes_cli.py runs
the same mistakes through the real ``sharebot`` command.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import socket
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from bot import cli
from bot.config import database_url_from_env, env_names, load_env_file, load_settings
from bot.errors import ConfigError, DatabaseError, HubError, ListenError
from bot.hub.client import HubClient
from bot.ops import check
from bot.runtime import Runtime
from bot.sandbox.slack_client import BOT_TOKEN, SIGNING_SECRET
from bot.slack.app import _TokenGivenTwice, create_bolt_app
from bot.store.db import check_sqlite_location, ensure_schema, make_engine, migrate

ROOT = Path(__file__).resolve().parents[2]

REQUIRED = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api",
    "JUPYTERHUB_API_TOKEN": "0123456789abcdef",
    "JUPYTERHUB_PUBLIC_URL": "https://hub.example.org",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in env_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def refusal(env: pytest.MonkeyPatch, name: str, value: str) -> str:
    env.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"{name} is invalid (") and "\n" not in message
    return message


# -- 1. the database URL ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "advice"),
    [
        ("sharebot.sqlite", "has no scheme: for an SQLite file write sqlite:///sharebot.sqlite"),
        ("/var/lib/sharebot/db.sqlite", "write sqlite:////var/lib/sharebot/db.sqlite"),
        ("user:secret@db/sharebot", "has no scheme (like sqlite:/// or postgresql+psycopg://)"),
        (
            "postgres://u:p@db/sharebot",
            "postgres:// is not an SQLAlchemy URL: write postgresql+psycopg://",
        ),
        ("mysql://u:p@db/sharebot", "runs on SQLite (sqlite:///sharebot.sqlite) and PostgreSQL"),
        ("mysql+pymysql://u:p@db/sharebot", "mysql+pymysql:// is not a database sharebot supports"),
        ("postgresql+asyncpg://u:p@db/sharebot", "cannot use the driver 'asyncpg'"),
        ("sqlite+aiosqlite:///x.sqlite", "cannot use the driver 'aiosqlite': write sqlite:///"),
    ],
)
def test_a_database_url_of_the_wrong_shape_is_refused_with_advice(
    env: pytest.MonkeyPatch, url: str, advice: str
) -> None:
    message = refusal(env, "SHAREBOT_DATABASE_URL", url)
    assert advice in message
    assert "secret" not in message and "u:p@" not in message  # never the URL's password
    # migrate, unlink and audit read only this variable: the same words
    with pytest.raises(ConfigError) as info:
        database_url_from_env()
    assert str(info.value) == message


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///sharebot.sqlite",
        "sqlite:////var/lib/sharebot/sharebot.sqlite",
        "sqlite://",
        "sqlite+pysqlite:///x.sqlite",
        "postgresql+psycopg://sharebot:pw@db/sharebot",
        "postgresql://sharebot@db/sharebot",
        "postgresql+psycopg2://sharebot@db/sharebot",
    ],
)
def test_database_urls_sharebot_runs_on_pass(env: pytest.MonkeyPatch, url: str) -> None:
    env.setenv("SHAREBOT_DATABASE_URL", url)
    assert load_settings().database_url == url
    assert database_url_from_env() == url


@pytest.mark.skipif(
    importlib.util.find_spec("psycopg2") is not None, reason="psycopg2 is installed here"
)
def test_a_driver_that_is_not_installed_is_named_with_what_to_install() -> None:
    with pytest.raises(DatabaseError) as info:
        make_engine("postgresql+psycopg2://sharebot@db/sharebot")
    assert "not installed (psycopg2)" in str(info.value)
    assert "postgresql+psycopg://" in str(info.value) and "sharebot[postgresql]" in str(info.value)


def test_an_sqlite_file_in_a_missing_folder_says_to_create_it(tmp_path: Path) -> None:
    folder = tmp_path / "no" / "such"
    engine = make_engine(f"sqlite:///{folder / 'sharebot.sqlite'}")
    for attempt in (check_sqlite_location, ensure_schema, migrate):
        with pytest.raises(DatabaseError) as info:
            attempt(engine)
        assert str(info.value) == (
            f"the folder {folder} of the SQLite database sharebot.sqlite does not exist: "
            f"create it (mkdir -p {folder}) or set SHAREBOT_DATABASE_URL to a file in another "
            "folder"
        )
    assert not (tmp_path / "no").exists()


def test_an_sqlite_file_in_a_folder_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("")
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'sharebot.sqlite'}")
    with pytest.raises(DatabaseError, match="does not exist: create it"):
        ensure_schema(engine)


@pytest.fixture
def read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder sharebot may not write in: by its mode, and (for root, who may write
    anywhere) as ``os.access`` reports it."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        real = os.access
        monkeypatch.setattr(
            os,
            "access",
            lambda p, mode, **kw: False if Path(p) == folder else real(p, mode, **kw),
        )
    yield folder
    folder.chmod(0o755)


def test_an_sqlite_file_in_a_read_only_folder_says_to_give_write_access(
    read_only: Path,
) -> None:
    engine = make_engine(f"sqlite:///{read_only / 'sharebot.sqlite'}")
    for attempt in (ensure_schema, migrate):
        with pytest.raises(DatabaseError) as info:
            attempt(engine)
        assert str(info.value).startswith(f"sharebot may not write in {read_only}, the folder")
        assert "give the user sharebot runs as write access to it" in str(info.value)
    assert list(read_only.iterdir()) == []


# -- 2. check on a fresh install, and ./sharebot.env ------------------------------------


def test_check_passes_a_database_serve_would_create_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sharebot.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    finding = check.check_database(engine)
    assert finding.ok and "no file yet; it will be created on first start" in finding.detail
    assert not path.exists()
    path.write_bytes(b"")  # an empty file (an earlier check made these): created at start too
    finding = check.check_database(engine)
    assert finding.ok and "empty; the schema will be created on first start" in finding.detail


def test_check_still_fails_a_database_behind_the_code(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sharebot.sqlite'}")
    ensure_schema(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    finding = check.check_database(engine)
    assert not finding.ok and finding.fix == "back it up, then run `sharebot migrate`"
    upgraded = check.check_database(engine, auto_migrate=True)
    assert (
        upgraded.ok and "serve upgrades it at start (SHAREBOT_AUTO_MIGRATE=true)" in upgraded.detail
    )


def test_check_says_what_to_do_about_a_missing_folder(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gone' / 'sharebot.sqlite'}")
    finding = check.check_database(engine)
    assert not finding.ok and "does not exist: create it (mkdir -p" in finding.line()


def test_the_env_file_fills_what_the_environment_does_not_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHAREBOT_E1_FROM_FILE", raising=False)
    monkeypatch.setenv("SHAREBOT_E1_BOTH", "environment")
    path = tmp_path / "sharebot.env"
    path.write_text(
        "# a comment\n"
        "SHAREBOT_E1_FROM_FILE='quoted value'  # a comment after it\n"
        "SHAREBOT_E1_BOTH=file\n"
    )
    assert load_env_file(path)
    assert os.environ["SHAREBOT_E1_FROM_FILE"] == "quoted value"  # quotes read as a shell does
    assert os.environ["SHAREBOT_E1_BOTH"] == "environment"  # the environment wins
    monkeypatch.delenv("SHAREBOT_E1_FROM_FILE")
    assert not load_env_file(tmp_path / "absent.env")


def test_check_reads_sharebot_env_in_the_working_directory(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env.delenv("SLACK_BOT_TOKEN")
    env.setenv("SLACK_API_URL", "http://127.0.0.1:9/api/")
    (tmp_path / "sharebot.env").write_text(
        f"SLACK_BOT_TOKEN={BOT_TOKEN}\nSHAREBOT_DATABASE_URL=sqlite:///from-env-file.sqlite\n"
    )
    env.chdir(tmp_path)
    env.delenv("SHAREBOT_DATABASE_URL", raising=False)
    try:
        assert cli.main(["check"]) == 1  # Slack and the hub are unreachable here
        lines = capsys.readouterr().out.splitlines()
    finally:
        env.delenv("SLACK_BOT_TOKEN", raising=False)  # load_env_file set them in os.environ
        env.delenv("SHAREBOT_DATABASE_URL", raising=False)
    assert lines[0] == (
        "ok   database: sqlite:///from-env-file.sqlite: no file yet; it will be created on "
        "first start"
    )
    assert not (tmp_path / "from-env-file.sqlite").exists()


# -- 3. a hub unreachable at start is a WARNING -----------------------------------------


async def test_a_hub_unreachable_at_start_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with HubClient(
        "http://hub.test/hub/api", "t0ken", transport=httpx.MockTransport(refuse)
    ) as hub:
        with caplog.at_level(logging.INFO, logger="bot.ops.check"):
            await check.warn_over_broad_token(hub)
    [record] = [r for r in caplog.records if r.name == "bot.ops.check"]
    assert record.levelno == logging.WARNING
    assert "cannot connect to JupyterHub at http://hub.test/hub/api" in record.getMessage()
    assert "t0ken" not in caplog.text


# -- 4. weak settings -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "advice"),
    [
        ("SLACK_BOT_TOKEN", "xoxb-...", "is the placeholder from the docs (it contains ...)"),
        ("SLACK_BOT_TOKEN", "xoxb-1234...", "is the placeholder from the docs"),
        ("SLACK_BOT_TOKEN", "xoxb-test", "is not a whole bot token (too short"),
        ("SLACK_BOT_TOKEN", "xoxb-12345 67890-abcdefghijkl", "is not a whole bot token"),
        (
            "SLACK_BOT_TOKEN",
            "xoxp-1234567890-1234567890-abcdefabcdef",
            "is a user token (xoxp-...): sharebot needs the bot token (xoxb-...)",
        ),
        (
            "SLACK_BOT_TOKEN",
            "xapp-1-A0123456789-1234567890-abcdef",
            "which goes in SLACK_APP_TOKEN",
        ),
        (
            "SLACK_BOT_TOKEN",
            "a1b2c3d4e5f6a1b2c3d4e5f6",
            "is not a bot token: those start with xoxb-",
        ),
        ("SLACK_BOT_TOKEN", f'"{BOT_TOKEN}"', "is wrapped in quotes: remove the quotes"),
        ("SLACK_SIGNING_SECRET", "abc", "is not 32 lowercase hexadecimal characters"),
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET.upper(), "is not 32 lowercase hexadecimal"),
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET + "0", "is not 32 lowercase hexadecimal"),
        ("SLACK_SIGNING_SECRET", f'"{SIGNING_SECRET}"', "is wrapped in quotes: remove the quotes"),
        ("SLACK_SIGNING_SECRET", f"'{SIGNING_SECRET}'", "is wrapped in quotes: remove the quotes"),
        ("JUPYTERHUB_API_TOKEN", '"0123456789abcdef"', "is wrapped in quotes: remove the quotes"),
    ],
)
def test_weak_secrets_are_refused_with_advice(
    env: pytest.MonkeyPatch, name: str, value: str, advice: str
) -> None:
    message = refusal(env, name, value)
    assert advice in message
    assert message.endswith("."), message  # then "set it to" what, from the setting
    if len(value) > 8:
        assert value.strip("\"'") not in message  # never the secret itself


@pytest.mark.parametrize(
    "token",
    [
        "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "xoxe.xoxb-1-MS0yLTEyMzQ1Njc4OTAtMTIzNDU2Nzg5MC0xMjM0NTY3ODkw",  # token rotation
    ],
)
def test_real_looking_bot_tokens_pass(env: pytest.MonkeyPatch, token: str) -> None:
    env.setenv("SLACK_BOT_TOKEN", f"  {token}\n")
    assert load_settings().slack_bot_token.get_secret_value() == token  # blanks dropped


def test_the_sandbox_and_demo_values_pass(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.slack_bot_token.get_secret_value() == BOT_TOKEN
    assert settings.slack_signing_secret.get_secret_value() == SIGNING_SECRET


# -- 5. the address serve listens on ----------------------------------------------------


def test_a_port_in_use_names_the_setting_to_change() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ListenError) as info:
            cli.listen("127.0.0.1", port)
    assert str(info.value) == (
        f"cannot listen on 127.0.0.1:{port}: the port is in use (another sharebot?). Stop what "
        "uses it, or set SHAREBOT_PORT to a free port."
    )


def test_an_address_not_of_this_host_names_sharebot_host() -> None:
    with pytest.raises(ListenError, match="Set SHAREBOT_HOST to an address of this host"):
        cli.listen("192.0.2.1", 8080)  # TEST-NET-1: never an address of this host


def test_listen_gives_a_bound_socket() -> None:
    sock = cli.listen("127.0.0.1", 0)
    try:
        assert sock.getsockname()[0] == "127.0.0.1" and sock.getsockname()[1] > 0
    finally:
        sock.close()


def test_the_exit_code_table_is_the_code() -> None:
    text = (ROOT / "docs" / "operations.md").read_text()
    table = text[text.index("| exit code |") :].split("\n\n", 1)[0]
    codes = {int(line.split("|")[1].strip().strip("`")) for line in table.splitlines()[2:]}
    in_code = {
        value
        for name, value in vars(cli).items()
        if name.startswith("EXIT_") and isinstance(value, int)
    }
    assert codes == in_code == {0, 1, 2, 3, 130}


# -- 6. --help says what each command does ----------------------------------------------


def subcommands() -> list[str]:
    [action] = [a for a in cli._parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return list(action.choices)


@pytest.mark.parametrize("command", subcommands())
def test_every_command_has_help_saying_what_it_does(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    _usage, _, rest = out.partition("\n\n")
    description = rest.split("\n\n", 1)[0]
    assert len(description) > 80, f"{command} --help says too little:\n{out}"
    assert "./sharebot.env" in out and "docs/operations.md" in out


def test_the_check_demo_serve_and_migrate_help_describe_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    said = {}
    for command in ("check", "demo", "serve", "migrate"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        said[command] = " ".join(capsys.readouterr().out.split())
    assert "Prints one line per item: ok, warn or FAIL" in said["check"]
    assert "uses none of your settings" in said["demo"]
    assert "3: the address cannot be listened on" in said["serve"]
    assert "backed up beside itself first" in said["migrate"]


# -- 7. hub errors name what was called -------------------------------------------------


async def test_a_hub_error_names_the_url_called() -> None:
    def redirect(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/hub/api/":
            return httpx.Response(302, headers={"Location": "/hub/login?next=%2Fhub%2Fapi%2F"})
        return httpx.Response(400, json={"message": "bad request"})

    transport = httpx.MockTransport(redirect)
    async with HubClient("http://hub.test/hub/api/", "t0ken", transport=transport) as hub:
        with pytest.raises(HubError) as info:
            await hub.version()
        assert str(info.value).startswith(
            "GET http://hub.test/hub/api/ was redirected (302 to /hub/login?next=%2Fhub%2Fapi%2F)"
        )
        assert "Set JUPYTERHUB_API_URL" in str(info.value) and "  " not in str(info.value)
        with pytest.raises(HubError) as info:
            await hub.token_owner()
        assert str(info.value) == (
            "JupyterHub refused GET http://hub.test/hub/api/user with 400 (bad request)."
        )


# -- 8. Bolt's "token will be unused" ---------------------------------------------------


def test_building_the_bolt_app_logs_no_token_warning(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)  # as serve runs: Bolt reads it too
    with caplog.at_level(logging.DEBUG, logger="slack_bolt"):
        create_bolt_app(rt)
        create_bolt_app(rt)  # twice: one filter, not two
    assert "will be unused" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    bolt_logger = logging.getLogger("slack_bolt.AsyncApp")
    assert sum(isinstance(f, _TokenGivenTwice) for f in bolt_logger.filters) == 1


def test_the_filter_drops_only_that_warning() -> None:
    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord(
            "slack_bolt.AsyncApp", logging.WARNING, __file__, 1, message, None, None
        )

    quiet = _TokenGivenTwice()
    assert not quiet.filter(record("As you gave `client` as well, `token` will be unused."))
    assert quiet.filter(record("As `installation_store` or `authorize` has been used, ..."))


# -- 9. the license in pyproject.toml ---------------------------------------------------


def test_the_license_is_an_spdx_expression() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "BSD-3-Clause"
    # setuptools reads SPDX expressions (PEP 639) from 77 on; older ones refuse them
    assert "setuptools>=77" in project["build-system"]["requires"]


def test_asking_for_the_revision_logs_nothing_of_alembics(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # `sharebot shares` on a database not migrated yet printed Alembic's INFO lines
    # ("Context impl SQLiteImpl.") above its one line of advice
    from bot.store.db import current_revision

    engine = make_engine(f"sqlite:///{tmp_path / 'sharebot.sqlite'}")
    with caplog.at_level(logging.INFO):
        assert current_revision(engine) is None
    assert not [r for r in caplog.records if r.name.startswith("alembic")]
    assert logging.getLogger("alembic.runtime.migration").level == logging.NOTSET
