"""A share ends at its deadline, to the second: the background pass wakes for it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.sandbox.fake_slack import FakeSlack
from bot.store.models import GrantRow
from tests.support.app import RunningApp, start_app
from tests.support.hub import RunningHub
from tests.support.stories import accept_url_in, grants, share, share_users

pytestmark = pytest.mark.integration

INTERVAL = 5  # seconds between passes when nothing is due sooner


@pytest.fixture
def slow_pass_app(linked_env: dict[str, str], tmp_path: Path) -> Iterator[RunningApp]:
    running = start_app({**linked_env, "SHAREBOT_SWEEP_INTERVAL": str(INTERVAL)}, tmp_path)
    try:
        yield running
    finally:
        running.stop()


def test_access_ends_within_a_second_of_the_deadline(
    slow_pass_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    share(slow_pass_app, slack, "UOWNER", "<@UALICE> 1h")
    url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
    assert clean_hub.accept_share("alice", url).status_code == 302
    slack.wait_for_dm("UOWNER", "accepted your share", timeout=3 * INTERVAL)
    deadline = utcnow() + timedelta(seconds=INTERVAL + 2)  # a pass sees it before it is due
    with Session(db) as session, session.begin():
        session.execute(update(GrantRow).values(expires_at=deadline))
    while share_users(clean_hub) and utcnow() < deadline + timedelta(seconds=2 * INTERVAL):
        time.sleep(0.05)
    gone_at = utcnow()
    assert share_users(clean_hub) == set()
    late = (gone_at - deadline).total_seconds()
    assert late < 1.0, f"access ended {late:.2f}s after its deadline"
    [grant] = grants(db)
    assert grant.state == "expired"
