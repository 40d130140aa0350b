"""A notice Slack refuses is kept in the outbox and delivered by a later pass, once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from bot.sandbox.fake_slack import FakeSlack
from bot.store.models import OutboxRow
from tests.support.app import RunningApp
from tests.support.faults import poll
from tests.support.hub import RunningHub
from tests.support.stories import accept_url_in, share

pytestmark = pytest.mark.integration


def scrape(app: RunningApp, name: str, **labels: str) -> float | None:
    """One sample of the running app's ``/metrics``."""
    response = httpx.get(f"{app.url}/metrics", timeout=10)
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


def outgoing(app: RunningApp) -> float | None:
    return scrape(app, "sharebot_pending", work="outgoing_messages")


def sweep_after(app: RunningApp, moment: float) -> float | None:
    """The last sweep's end, once one ended after ``moment`` (Unix time)."""
    last = scrape(app, "sharebot_job_last_success_timestamp_seconds", job="sweep")
    return last if last is not None and last > moment else None


def outbox(db: Engine) -> list[OutboxRow]:
    with Session(db) as session:
        return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def accepted_dms(slack: FakeSlack) -> list[str]:
    return [m["text"] for m in slack.dms_to("UOWNER") if "accepted your share" in m["text"]]


def test_a_refused_notice_is_delivered_by_a_later_pass(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    assert outgoing(app) == 0
    share(app, slack, "UOWNER", "<@UALICE|alice> 1h")
    url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
    # The invitation is out; the next message is the owner's "accepted" notice.
    slack.fail_next("chat.postMessage", error="internal_error")
    assert clean_hub.accept_share("alice", url).status_code == 302

    # The row is written with the acceptance; wait for its refused first try to be recorded.
    [row] = poll(
        lambda: [r for r in outbox(db) if r.attempts >= 1] or None,
        "the refused notice in the outbox",
        timeout=20,
    )
    assert len(outbox(db)) == 1
    assert row.slack_user_id == "UOWNER" and row.state == "pending" and row.attempts == 1
    assert row.last_error is not None and "internal_error" in row.last_error
    text = row.text
    assert "accepted your share" in text
    assert accepted_dms(slack) == []
    assert any(c.failed for c in slack.calls("chat.postMessage"))
    assert outgoing(app) == 1

    # Its first retry is 30 s away: bring it forward instead of waiting.
    with Session(db) as session, session.begin():
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == row.id)
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    slack.wait_for_dm("UOWNER", "accepted your share", timeout=20)
    [row] = poll(
        lambda: [r for r in outbox(db) if r.state == "sent"] or None, "a sent notice", timeout=20
    )
    assert row.attempts == 2 and row.sent_at is not None and row.text == ""
    assert outgoing(app) == 0

    # Later passes do not send it again: wait for a pass that started after it was sent.
    ended = poll(lambda: sweep_after(app, time.time()), "a sweep", timeout=20)
    poll(lambda: sweep_after(app, ended), "the next sweep", timeout=20)
    assert accepted_dms(slack) == [text]
    assert "accepted your share" not in app.log()  # the log names the user, not the text
