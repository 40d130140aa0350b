"""`sharebot audit` and `sharebot check`: the pure parts, and the CLI's refusals."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import cli
from bot.config import env_names, load_settings
from bot.errors import CommandError
from bot.hub import scopes
from bot.ops import audit, check
from bot.store.audit import Audit
from tests.support.hub import HUB_REPORTED, SHAREBOT_SCOPES

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


# -- audit --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("2h30m", NOW - timedelta(hours=2, minutes=30)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T08:00Z", datetime(2026, 11, 1, 8, tzinfo=UTC)),
        ("2026-11-01T10:00+02:00", datetime(2026, 11, 1, 8, tzinfo=UTC)),
    ],
)
def test_parse_bound(text: str, expected: datetime) -> None:
    assert audit.parse_bound("--since", text, NOW) == expected


@pytest.mark.parametrize("text", ["soon", "7", "7x", "1h1h", "2026-13-01"])
def test_parse_bound_refuses(text: str) -> None:
    with pytest.raises(CommandError) as info:
        audit.parse_bound("--since", text, NOW)
    assert str(info.value).startswith(f"--since {text!r}")
    assert "\n" not in str(info.value)


EVENTS = [
    Audit(NOW, "link", None, "UALICE", "alice", {"method": "admin"}, 1),
    Audit(
        NOW + timedelta(seconds=1, microseconds=5),
        "invite",
        7,
        "UOWNER",
        "owner",
        {"recipient_hub": "alice", "server": "", "note": 'says "hi", then, \nbye'},
        2,
    ),
]


def test_csv_export() -> None:
    out = io.StringIO()
    assert audit.write(EVENTS, "csv", out) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == list(audit.FIELDS)
    assert rows[0]["at"] == "2026-11-26T12:00:00Z"
    assert rows[0]["grant_id"] == ""
    assert rows[1]["at"] == "2026-11-26T12:00:01.000005Z"
    assert rows[1]["action"] == "invite" and rows[1]["grant_id"] == "7"
    assert json.loads(rows[1]["detail"])["note"] == 'says "hi", then, \nbye'


def test_json_lines_export() -> None:
    out = io.StringIO()
    audit.write(EVENTS, "json", out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first == {
        "id": 1,
        "at": "2026-11-26T12:00:00Z",
        "action": "link",
        "grant_id": None,
        "actor_slack_id": "UALICE",
        "actor_hub": "alice",
        "detail": {"method": "admin"},
    }
    assert second["detail"]["recipient_hub"] == "alice"


def test_empty_exports() -> None:
    out = io.StringIO()
    audit.write([], "csv", out)
    assert out.getvalue() == ",".join(audit.FIELDS) + "\n"
    out = io.StringIO()
    audit.write([], "json", out)
    assert out.getvalue() == ""


def test_cli_refuses_an_unparsable_since(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHAREBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite'}")
    assert cli.main(["audit", "--since", "last week"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sharebot: --since 'last week' is neither")
    assert not (tmp_path / "x.sqlite").exists()  # refused before touching the database


def test_cli_audit_refuses_a_database_without_schema(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHAREBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite'}")
    assert cli.main(["audit"]) == 2
    assert "sharebot migrate" in capsys.readouterr().err


def test_invalid_log_format_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHAREBOT_LOG_FORMAT", "xml")
    assert cli.main(["audit", "--since", "1d"]) == 2
    assert capsys.readouterr().err.strip() == (
        "sharebot: SHAREBOT_LOG_FORMAT is invalid ('xml'): set it to text (default) or json "
        "(one JSON object per line)."
    )


# -- hub scopes -------------------------------------------------------------------------


def test_subscopes_match_jupyterhub() -> None:
    definitions = pytest.importorskip("jupyterhub.scopes").scope_definitions
    for scope, subs in scopes.SUBSCOPES.items():
        assert set(subs) == set(definitions[scope]["subscopes"]), scope


def test_the_deploy_role_grants_exactly_the_required_scopes() -> None:
    source = (ROOT / "deploy" / "jupyterhub_config.py").read_text()
    role = re.search(r'"name": "sharebot",.*?"scopes": \[([^\]]*)\]', source, re.DOTALL)
    assert role is not None
    assert json.loads(f"[{role.group(1)}]") == list(scopes.REQUIRED)
    assert set(scopes.REQUIRED) <= set(SHAREBOT_SCOPES)  # the test hub's role


def test_evaluate_exact_implied_filtered_missing() -> None:
    result = {
        s.scope: s
        for s in scopes.evaluate(
            ["shares", "read:users:name", "read:users:shares", "list:users", "servers"],
            ["shares!group=slack-sharing", "admin:users", "read:users:shares"],
        )
    }
    assert result["read:users:shares"].status is scopes.Grant.EXACT
    assert result["list:users"].status is scopes.Grant.IMPLIED
    assert result["list:users"].via == "admin:users"
    assert result["read:users:name"].status is scopes.Grant.IMPLIED  # admin:users > users > ...
    assert result["shares"].status is scopes.Grant.FILTERED and result["shares"].ok
    assert result["shares"].describe() == "shares (only group=slack-sharing)"
    assert result["servers"].status is scopes.Grant.MISSING and not result["servers"].ok


def test_filtered_scopes_that_must_cover_everyone_are_not_ok() -> None:
    [status] = scopes.evaluate(["read:users:name"], ["read:users:name!user=alice"])
    assert status.status is scopes.Grant.FILTERED and not status.ok


def test_hub_scopes_ok_with_the_test_hub() -> None:
    finding = check.evaluate_hub_scopes(HUB_REPORTED)
    assert finding.ok, finding.line()
    assert "optional" not in finding.detail  # the test hub grants `servers` too


def test_hub_scopes_missing_are_named_with_the_fix() -> None:
    finding = check.evaluate_hub_scopes([s for s in HUB_REPORTED if s != "list:users"])
    assert not finding.ok
    line = finding.line()
    assert line.startswith("FAIL hub scopes: missing list:users -> ")
    assert "load_roles" in line and "restart the hub" in line


def test_hub_scopes_narrowed_shares_is_fine_but_optional_servers_is_reported() -> None:
    finding = check.evaluate_hub_scopes(
        ["shares!group=slack-sharing", "read:users:shares", "list:users", "read:servers"]
    )
    assert finding.ok, finding.line()
    assert "shares (only group=slack-sharing)" in finding.detail
    assert "servers not granted" in finding.detail and "manage" in finding.detail


def test_hub_scopes_narrowed_read_scope_fails() -> None:
    finding = check.evaluate_hub_scopes(
        ["shares", "read:users:shares", "list:users!group=x", "read:servers!group=x"]
    )
    assert not finding.ok
    assert "list:users (only group=x)" in finding.detail


def test_old_hub_fails() -> None:
    assert not check.hub_version_finding("4.1.5", "http://hub/hub/api").ok
    assert check.hub_version_finding("6.1.1", "http://hub/hub/api").ok


# -- Slack scopes -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["slack-manifest.json", "slack-manifest.socket-mode.json"])
def test_the_manifests_ask_for_exactly_the_slack_scopes(name: str) -> None:
    manifest = json.loads((ROOT / "deploy" / name).read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == set(check.SLACK_SCOPES)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in env_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1234567890-1234567890123-abcdefghijklmnopqrstuvwx")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:9/hub/api")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "0123456789abcdef")
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", "https://hub.example.org")
    return monkeypatch


def test_needed_slack_scopes_follow_the_settings(settings_env: pytest.MonkeyPatch) -> None:
    base = ["commands", "chat:write", "im:write", "users:read"]
    assert check.needed_slack_scopes(load_settings()) == base
    settings_env.setenv("SHAREBOT_EMAIL_MAPPING", "email")
    settings_env.setenv("SHAREBOT_APPROVAL_ABOVE", "1d")
    settings_env.setenv("SHAREBOT_APPROVERS", "U012AB3CD,@hub-admins")
    assert check.needed_slack_scopes(load_settings()) == [
        *base,
        "users:read.email",
        "usergroups:read",
    ]


def test_slack_scopes() -> None:
    needed = ["commands", "chat:write", "im:write", "users:read"]
    finding = check.evaluate_slack_scopes({"commands", "chat:write", "users:read"}, needed)
    assert finding.line() == (
        "FAIL Slack scopes: missing im:write -> add them in the app's OAuth & Permissions page "
        "and reinstall the app"
    )
    finding = check.evaluate_slack_scopes(set(needed), needed)
    assert finding.ok
    assert "not needed with these settings: users:read.email, usergroups:read" in finding.detail
    assert check.parse_scope_header(" commands,chat:write ,") == {"commands", "chat:write"}


def test_check_reports_unreachable_services_without_a_traceback(
    settings_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings_env.setenv("SLACK_API_URL", "http://127.0.0.1:9/api/")
    settings_env.setenv("SHAREBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite'}")
    assert cli.main(["check"]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    # a database serve would create is no failure, and checking it creates nothing
    assert [line.split(":")[0] for line in lines] == [
        "ok   database",
        "FAIL Slack",
        "FAIL hub",
        "warn accept links",
    ]
    assert "will be created on first start" in lines[0]
    assert not (tmp_path / "empty.sqlite").exists()
    assert "cannot reach http://127.0.0.1:9/api/" in lines[1] and "SLACK_API_URL" in lines[1]
    assert "cannot connect to JupyterHub" in lines[2] and "JUPYTERHUB_API_URL" in lines[2]


def test_check_with_invalid_settings_says_which(
    settings_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings_env.delenv("SLACK_BOT_TOKEN")
    assert cli.main(["check"]) == 1
    assert capsys.readouterr().out.startswith("FAIL settings: SLACK_BOT_TOKEN is not set")
