"""Two ``sharebot serve`` processes on one database (SQLite file, or PostgreSQL with
SHAREBOT_TEST_DB_URL): each acceptance and each expiry is handled once, and replicas
starting together on an empty database create the schema once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.slack_client import RunningApp, spawn_app, start_app, wait_healthy
from bot.store.db import current_revision, head_revision, make_engine
from bot.store.models import AuditEvent
from tests.support.hub import RunningHub
from tests.support.observe import hub_requests, last_sweep
from tests.support.stories import (
    accept_url_in,
    grants,
    move_deadline_to_the_past,
    share,
    share_users,
)

pytestmark = pytest.mark.integration


def wait_until(check: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def wait_for_two_sweeps(apps: list[RunningApp]) -> None:
    """Until each replica has finished two passes since now: the second one started after
    this moment, so anything a replica would still do twice has been done by then."""
    for app in apps:
        for _ in range(2):
            since = time.time()
            wait_until(lambda app=app, since=since: last_sweep(app) > since, "a sweep")


@pytest.fixture
def replicas(linked_env: dict[str, str], tmp_path: Path) -> Iterator[list[RunningApp]]:
    apps: list[RunningApp] = []
    try:
        for _ in range(2):
            apps.append(start_app(linked_env, tmp_path))
        yield apps
    finally:
        for app in apps:
            app.stop()
    for app in apps:
        log = app.log()
        assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
        assert "code=" not in log


def test_each_acceptance_and_expiry_is_handled_once(
    replicas: list[RunningApp], slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    hub = clean_hub
    first, second = replicas
    log_start = hub.log_path.stat().st_size
    assert "Invited" in share(first, slack, "UOWNER", "<@UALICE|alice> <@UBOB|bob> 1h")
    assert "Invited" in share(second, slack, "UOWNER", "<@UCAROL|carol> 1h")
    for slack_id, name in (("UALICE", "alice"), ("UBOB", "bob"), ("UCAROL", "carol")):
        url = accept_url_in(slack.wait_for_dm(slack_id, "shared", timeout=20))
        assert hub.accept_share(name, url).status_code == 302

    wait_until(lambda: [g.state for g in grants(db)] == ["active"] * 3, "three acceptances")
    for row in grants(db):
        move_deadline_to_the_past(db, row.id)
    wait_until(lambda: [g.state for g in grants(db)] == ["expired"] * 3, "three expiries")
    wait_for_two_sweeps(replicas)

    assert share_users(hub) == set()
    # One code deletion per acceptance and one revocation per expiry reached the hub.
    assert len(hub_requests(hub, log_start, r"DELETE /hub/api/share-codes/owner/")) == 3
    assert len(hub_requests(hub, log_start, r"PATCH /hub/api/shares/owner/")) == 3
    owner_dms = Counter(
        "accepted" if "accepted" in m["text"] else "ended"
        for m in slack.dms_to("UOWNER")
        if "accepted" in m["text"] or "ended" in m["text"] or "expired" in m["text"]
    )
    assert owner_dms == {"accepted": 3, "ended": 3}, slack.dms_to("UOWNER")
    for recipient in ("UALICE", "UBOB", "UCAROL"):
        assert len(slack.dms_to(recipient)) == 2, slack.dms_to(recipient)  # invite, end
    with Session(db) as session:
        actions = Counter(
            (e.grant_id, e.action)
            for e in session.scalars(select(AuditEvent).where(AuditEvent.grant_id.is_not(None)))
        )
    for row in grants(db):
        for action in ("accept", "expire", "expired"):
            assert actions[(row.id, action)] == 1, (action, actions)


def test_replicas_starting_together_create_the_schema_once(
    env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    # Both processes start before either is waited for: their start-ups overlap.
    apps = [spawn_app(env, tmp_path) for _ in range(2)]
    try:
        for app in apps:
            wait_healthy(app, timeout=60)
        for app in apps:
            assert httpx.get(f"{app.url}/readyz", timeout=10).status_code == 200
        engine = make_engine(database_url)
        assert current_revision(engine) == head_revision()
        engine.dispose()
    finally:
        for app in apps:
            app.stop()
    logs = [app.log() for app in apps]
    assert sum("creating the schema" in log for log in logs) == 1, logs
    assert not any("Traceback" in log for log in logs), logs
