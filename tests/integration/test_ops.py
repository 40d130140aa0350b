"""Operations against the real hub and the fake Slack: `sharebot check`, `/metrics`, JSON logs,
`sharebot audit`."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.sandbox.fake_slack import DEFAULT_SCOPES, FakeSlack
from tests.support.app import RunningApp, run_cli, start_app
from tests.support.faults import poll
from tests.support.hub import RunningHub
from tests.support.stories import share

pytestmark = pytest.mark.integration


# -- sharebot check ------------------------------------------------------------------------


def check_lines(env: dict[str, str]) -> tuple[int, list[str], str]:
    result = run_cli(env, "check")
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return result.returncode, result.stdout.strip().splitlines(), result.stderr


def test_check_all_ok(linked_env: dict[str, str], clean_hub: RunningHub) -> None:
    code, lines, stderr = check_lines(linked_env)
    assert code == 0, "\n".join(lines) + stderr
    assert [line.split(":")[0] for line in lines] == [
        "ok   database",
        "ok   Slack",
        "ok   Slack scopes",
        "ok   hub",
        "ok   hub token",
        "ok   hub scopes",
        "warn accept links",  # no SHAREBOT_PUBLIC_URL here: the hub's own links
    ]
    assert "SHAREBOT_PUBLIC_URL is unset" in lines[6]
    assert "JupyterHub 6." in lines[3] or "JupyterHub 5." in lines[3]
    assert "belongs to service sharebot" in lines[4]
    assert linked_env["JUPYTERHUB_API_TOKEN"] not in "\n".join(lines) + stderr


def test_check_wrong_hub_token(linked_env: dict[str, str], clean_hub: RunningHub) -> None:
    code, lines, _ = check_lines({**linked_env, "JUPYTERHUB_API_TOKEN": "not-the-right-one-42"})
    assert code == 1
    assert lines[3].startswith("ok   hub: JupyterHub")  # the API root needs no token
    [token] = [line for line in lines if line.startswith("FAIL hub token")]
    assert "JupyterHub refused JUPYTERHUB_API_TOKEN (403)" in token
    assert "api_token of the sharebot service" in token
    assert not any(line.startswith("ok   hub scopes") for line in lines)


def test_check_missing_slack_scope(
    linked_env: dict[str, str], clean_hub: RunningHub, slack: FakeSlack
) -> None:
    slack.scopes = tuple(s for s in DEFAULT_SCOPES if s not in ("im:write", "users:read"))
    code, lines, _ = check_lines(linked_env)
    assert code == 1
    [scopes] = [line for line in lines if line.startswith("FAIL Slack scopes")]
    assert scopes == (
        "FAIL Slack scopes: missing im:write, users:read -> add them in the app's "
        "OAuth & Permissions page and reinstall the app"
    )
    assert any(line.startswith("ok   Slack: auth.test ok as @sharebot") for line in lines)


def test_check_unreachable_hub_and_wrong_slack_token(linked_env: dict[str, str]) -> None:
    env = {
        **linked_env,
        "JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api",
        "SLACK_BOT_TOKEN": "xoxb-1000000001-2000000002-revokedTokenNotReal",
    }
    code, lines, _ = check_lines(env)
    assert code == 1
    assert lines[0].startswith("ok   database")
    assert lines[1].startswith("FAIL Slack: auth.test refused the bot token (invalid_auth)")
    assert "SLACK_BOT_TOKEN" in lines[1]
    assert lines[2].startswith("FAIL hub: cannot connect to JupyterHub at http://127.0.0.1:9")
    assert lines[3].startswith("warn accept links: the hub's own links")
    assert len(lines) == 4


# -- /metrics -------------------------------------------------------------------------------


def scrape(app: RunningApp) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{app.url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "alice" not in response.text  # no usernames in labels
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_after_a_share(app: RunningApp, slack: FakeSlack) -> None:
    before = scrape(app)
    assert before[("sharebot_grants_created_total", ())] == 0
    assert before[("sharebot_database_up", ())] == 1

    share(app, slack, "UOWNER", "<@UALICE|alice> 1h")
    slack.wait_for_dm("UALICE", "shared")

    after = scrape(app)
    assert after[("sharebot_grants_created_total", ())] == 1
    assert after[("sharebot_grants", (("state", "invited"),))] == 1
    assert after[("sharebot_pending", (("work", "invitations"),))] == 1
    assert after[("sharebot_pending", (("work", "revocations"),))] == 0
    created = (
        "sharebot_hub_request_duration_seconds_count",
        (("endpoint", "share-codes/{owner}/{server}"), ("method", "POST")),
    )
    assert after[created] == 1
    assert after[("sharebot_failures_total", (("kind", "slack_delivery"),))] == 0

    for job in ("sweep", "digest"):
        key = ("sharebot_job_last_success_timestamp_seconds", (("job", job),))
        stamp = poll(lambda key=key: scrape(app).get(key), f"a successful {job} job", timeout=20)
        assert abs(stamp - time.time()) < 60


# -- JSON logs --------------------------------------------------------------------------------


def test_json_logs(
    linked_env: dict[str, str], slack: FakeSlack, clean_hub: RunningHub, tmp_path: Path
) -> None:
    app = start_app({**linked_env, "SHAREBOT_LOG_FORMAT": "json"}, tmp_path)
    try:
        share(app, slack, "UOWNER", "<@UALICE|alice> 1h")
        slack.wait_for_dm("UALICE", "shared")
        poll(lambda: "invited" in app.log() or None, "the invitation's log line", timeout=20)
    finally:
        app.stop()
    lines = app.log().splitlines()
    assert len(lines) >= 2
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r["logger"] == "sharebot" and "serving on" in r["message"] for r in records)
    assert any("invited (code sc_" in r["message"] for r in records)
    assert "code=" not in app.log() and linked_env["JUPYTERHUB_API_TOKEN"] not in app.log()


# -- sharebot audit ---------------------------------------------------------------------------


def test_audit_export(app: RunningApp, slack: FakeSlack) -> None:
    share(app, slack, "UOWNER", "<@UALICE|alice> 1h")
    slack.wait_for_dm("UALICE", "shared")

    result = run_cli(app.env, "audit", "--since", "1h", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    [invite] = [r for r in rows if r["action"] == "invite"]
    assert invite["actor_slack_id"] == "UOWNER" and invite["actor_hub"] == "owner"
    assert json.loads(invite["detail"])["recipient_hub"] == "alice"
    assert invite["at"].endswith("Z") and invite["grant_id"]

    result = run_cli(app.env, "audit", "--format", "json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    [event] = [e for e in events if e["action"] == "invite"]
    assert event["grant_id"] == int(invite["grant_id"])
    assert event["detail"]["recipient_slack"] == "UALICE"
    assert "code=" not in result.stdout

    result = run_cli(app.env, "audit", "--until", "1h", "--format", "json")
    assert result.returncode == 0 and result.stdout == ""  # nothing older than an hour

    result = run_cli(app.env, "audit", "--since", "yesterday")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "sharebot: --since 'yesterday' is neither a duration (like 7d, 12h, 30m) nor an ISO "
        "8601 time (like 2025-01-31 or 2025-01-31T08:00Z)"
    ]
