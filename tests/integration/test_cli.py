"""The `sharebot` CLI as an admin runs it, against the real hub."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from bot.store.db import make_engine
from tests.support.app import app_env, run_cli, start_app
from tests.support.hub import RunningHub

pytestmark = pytest.mark.integration


@pytest.fixture
def cli_env(hub: RunningHub, tmp_path: Path) -> dict[str, str]:
    return app_env(hub, "http://127.0.0.1:9/api/", f"sqlite:///{tmp_path / 'cli.sqlite'}")


def test_link_and_unlink(cli_env: dict[str, str]) -> None:
    result = run_cli(cli_env, "link", "UALICE", "alice")
    assert result.returncode == 0, result.stderr
    assert "linked Slack user UALICE to hub user alice" in result.stdout
    result = run_cli(cli_env, "link", "UALICE", "bob")
    assert "(was alice)" in result.stdout
    result = run_cli(cli_env, "unlink", "UALICE")
    assert result.returncode == 0 and "from hub user bob" in result.stdout
    result = run_cli(cli_env, "unlink", "UALICE")
    assert result.returncode == 1 and "was not linked" in result.stdout


def test_link_refuses_unknown_hub_user(cli_env: dict[str, str]) -> None:
    result = run_cli(cli_env, "link", "UZED", "no-such-user")
    assert result.returncode == 1
    assert "JupyterHub has no user named 'no-such-user'" in result.stderr


def test_missing_setting_is_one_clear_line(cli_env: dict[str, str]) -> None:
    env = {k: v for k, v in cli_env.items() if k != "JUPYTERHUB_API_TOKEN"}
    result = run_cli(env, "serve")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "sharebot: JUPYTERHUB_API_TOKEN is not set: set it to the api_token of the sharebot "
        "service in jupyterhub_config.py."
    ]
    result = run_cli({**cli_env, "SHAREBOT_MAX_DURATION": "forever"}, "serve")
    assert result.returncode == 2
    assert "SHAREBOT_MAX_DURATION is invalid" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_database_behind_the_code(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert run_cli(cli_env, "migrate").returncode == 0
    engine = make_engine(cli_env["SHAREBOT_DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    engine.dispose()
    result = run_cli(cli_env, "serve")
    assert result.returncode == 2
    assert "sharebot migrate" in result.stderr and "0000" in result.stderr


def test_sweep_once(cli_env: dict[str, str]) -> None:
    result = run_cli(cli_env, "sweep", "--once")
    assert result.returncode == 0, result.stderr
    assert "sweep: 0 accepted, 0 lapsed, 0 ended, 0 failures" in result.stdout


def test_serve_creates_the_schema_on_a_fresh_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    app = start_app(cli_env, tmp_path)
    try:
        assert httpx.get(f"{app.url}/readyz", timeout=5).json() == {"status": "ok"}
    finally:
        app.stop()
    engine = make_engine(cli_env["SHAREBOT_DATABASE_URL"])
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM grants")).scalar() == 0
    engine.dispose()
