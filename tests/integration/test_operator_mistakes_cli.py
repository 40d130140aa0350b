"""Operator mistakes through the real ``sharebot`` command, in its own process: one line
saying what to change, the documented exit code, never a traceback (issue 17).

No hub is needed: the mistakes stop sharebot before it would ask one, and the start-up test
points at a hub that is not there (which is one of the things it checks).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.slack_client import BOT_TOKEN, SIGNING_SECRET, spawn_app, wait_healthy
from tests.support.faults import poll

pytestmark = pytest.mark.integration

NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing answers


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "JUPYTERHUB_", "SHAREBOT_"))
    }
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=f"{NOWHERE}/api/",
        JUPYTERHUB_API_URL=f"{NOWHERE}/hub/api",
        JUPYTERHUB_API_TOKEN="0123456789abcdef0123456789abcdef",
        JUPYTERHUB_PUBLIC_URL="https://hub.example.org",
        SHAREBOT_DATABASE_URL=f"sqlite:///{tmp_path / 'sharebot.sqlite'}",
        SHAREBOT_DIGEST_TIME="off",
    )
    return env


def sharebot(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line sharebot printed on stderr (and nothing on stdout)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    assert lines[0].startswith("sharebot: ")
    return lines[0]


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() == 0:
        pytest.skip("root writes in any folder (the unit test covers it through os.access)")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


URL_MISTAKES = {
    "no scheme": ("sharebot.sqlite", "write sqlite:///sharebot.sqlite"),
    "postgres://": (
        "postgres://sharebot:pw@db/sharebot",
        "postgres:// is not an SQLAlchemy URL: write postgresql+psycopg://",
    ),
    "mysql://": (
        "mysql://sharebot:pw@db/sharebot",
        "it runs on SQLite (sqlite:///sharebot.sqlite) and PostgreSQL",
    ),
}


@pytest.mark.parametrize("command", ["serve", "migrate"])
@pytest.mark.parametrize("mistake", list(URL_MISTAKES))
def test_a_database_url_mistake_is_one_line(
    base_env: dict[str, str], tmp_path: Path, command: str, mistake: str
) -> None:
    url, advice = URL_MISTAKES[mistake]
    result = sharebot({**base_env, "SHAREBOT_DATABASE_URL": url}, command, cwd=tmp_path)
    assert result.returncode == 2
    line = one_line(result)
    assert line.startswith("sharebot: SHAREBOT_DATABASE_URL is invalid (") and advice in line
    assert ":pw@" not in line
    assert list(tmp_path.iterdir()) == []  # nothing created


@pytest.mark.parametrize("mistake", list(URL_MISTAKES))
def test_check_says_the_same_in_its_settings_line(
    base_env: dict[str, str], tmp_path: Path, mistake: str
) -> None:
    url, advice = URL_MISTAKES[mistake]
    result = sharebot({**base_env, "SHAREBOT_DATABASE_URL": url}, "check", cwd=tmp_path)
    assert result.returncode == 1
    [line] = result.stdout.splitlines()
    assert line.startswith("FAIL settings: SHAREBOT_DATABASE_URL is invalid (") and advice in line
    assert result.stderr == ""


def sqlite_folder_mistakes(tmp_path: Path, read_only: Path | None) -> dict[str, tuple[str, str]]:
    missing = tmp_path / "missing" / "folder"
    found = {
        "missing folder": (
            f"sqlite:///{missing / 'sharebot.sqlite'}",
            f"the folder {missing} of the SQLite database sharebot.sqlite does not exist: "
            f"create it (mkdir -p {missing})",
        )
    }
    if read_only is not None:
        found["read-only folder"] = (
            f"sqlite:///{read_only / 'sharebot.sqlite'}",
            f"sharebot may not write in {read_only}, the folder of the SQLite database",
        )
    return found


@pytest.mark.parametrize("command", ["serve", "migrate", "check"])
def test_an_sqlite_file_in_a_missing_folder(
    base_env: dict[str, str], tmp_path: Path, command: str
) -> None:
    [(url, advice)] = sqlite_folder_mistakes(tmp_path, None).values()
    assert_folder_mistake(base_env, tmp_path, command, url, advice)


@pytest.mark.parametrize("command", ["serve", "migrate", "check"])
def test_an_sqlite_file_in_a_read_only_folder(
    base_env: dict[str, str], tmp_path: Path, read_only_folder: Path, command: str
) -> None:
    url, advice = sqlite_folder_mistakes(tmp_path, read_only_folder)["read-only folder"]
    assert_folder_mistake(base_env, tmp_path, command, url, advice)
    assert list(read_only_folder.iterdir()) == []


def assert_folder_mistake(
    base_env: dict[str, str], tmp_path: Path, command: str, url: str, advice: str
) -> None:
    result = sharebot({**base_env, "SHAREBOT_DATABASE_URL": url}, command, cwd=tmp_path)
    if command == "check":  # its report, on stdout: the database line says what to do
        assert result.returncode == 1
        database = result.stdout.splitlines()[0]
        assert database.startswith("FAIL database: ") and advice in database
        return
    assert result.returncode == 2
    assert advice in one_line(result)


# -- ./sharebot.env and a fresh install --------------------------------------------------


def test_check_and_migrate_read_sharebot_env_and_check_creates_nothing(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in base_env.items() if not k.startswith(("SLACK_", "SHAREBOT_"))}
    with FakeSlack(tokens={BOT_TOKEN}) as slack:
        (tmp_path / "sharebot.env").write_text(
            "# copied from deploy/sharebot.env.example\n"
            f"SLACK_BOT_TOKEN={BOT_TOKEN}\n"
            f'SLACK_SIGNING_SECRET="{SIGNING_SECRET}"\n'  # quotes in the file: read as a shell
            f"SLACK_API_URL={slack.api_url}\n"
            "SHAREBOT_DATABASE_URL=sqlite:///fresh.sqlite\n"
        )
        result = sharebot(env, "check", cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "ok   database: sqlite:///fresh.sqlite: no file yet; it will be created on first start"
    )
    assert lines[1].startswith("ok   Slack: auth.test ok as @")  # the token from the file
    # nothing answers at the hub; without SHAREBOT_PUBLIC_URL the DM carries the hub's link
    assert [line.split(":")[0] for line in lines[3:]] == ["FAIL hub", "warn accept links"]
    assert result.returncode == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sharebot.env"]  # no empty file

    migrated = sharebot(env, "migrate", cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert "database upgraded from empty to" in migrated.stdout
    assert (tmp_path / "fresh.sqlite").stat().st_size > 0


# -- weak settings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "advice"),
    [
        ("SLACK_BOT_TOKEN", "xoxb-...", "is the placeholder from the docs"),
        ("SLACK_BOT_TOKEN", "xoxp-1234567890-1234567890-abcdef", "sharebot needs the bot token"),
        ("SLACK_SIGNING_SECRET", "abc", "is not 32 lowercase hexadecimal characters"),
        ("SLACK_SIGNING_SECRET", f'"{SIGNING_SECRET}"', "is wrapped in quotes: remove the quotes"),
    ],
)
def test_serve_refuses_weak_settings(
    base_env: dict[str, str], tmp_path: Path, name: str, value: str, advice: str
) -> None:
    result = sharebot({**base_env, name: value}, "serve", cwd=tmp_path)
    assert result.returncode == 2
    line = one_line(result)
    assert line.startswith(f"sharebot: {name} is invalid (") and advice in line
    assert SIGNING_SECRET not in line


# -- the port, the start -----------------------------------------------------------------


def test_a_port_in_use_is_one_line_and_exit_code_3(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = sharebot({**base_env, "SHAREBOT_PORT": str(port)}, "serve", cwd=tmp_path)
    assert result.returncode == 3
    line = one_line(result)
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in line
    assert "set SHAREBOT_PORT to a free port" in line
    assert not (tmp_path / "sharebot.sqlite").exists()  # stopped before the database
    assert "serving on" not in result.stderr


def test_a_start_warns_of_an_unreachable_hub_and_not_of_bolt_tokens(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    with FakeSlack(tokens={BOT_TOKEN}) as slack:
        app = spawn_app({**base_env, "SLACK_API_URL": slack.api_url}, tmp_path)
        try:
            wait_healthy(app)
            poll(
                lambda: "could not ask JupyterHub" in app.log() or None,
                "the start-up's word about the hub",
                timeout=15,
            )
        finally:
            app.stop()
    log = app.log()
    [warning] = [line for line in log.splitlines() if "could not ask JupyterHub" in line]
    assert " WARNING bot.ops.check: " in warning and f"{NOWHERE}/hub/api" in warning
    assert "serving on http://127.0.0.1:" in log
    assert log.index("serving on") < log.index("could not ask JupyterHub")
    assert "will be unused" not in log
    assert "Traceback" not in log
    assert BOT_TOKEN not in log and SIGNING_SECRET not in log


def test_help_of_each_command_says_what_it_does(base_env: dict[str, str], tmp_path: Path) -> None:
    for command in ("check", "serve", "migrate", "demo"):
        result = sharebot(base_env, command, "--help", cwd=tmp_path)
        assert result.returncode == 0
        assert result.stdout.startswith(f"usage: sharebot {command}")
        assert "options:" in result.stdout and "./sharebot.env" in result.stdout
        assert len(result.stdout.split("\n\n")[1]) > 80, result.stdout  # a description
