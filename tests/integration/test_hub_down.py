"""The hub is unreachable for a while (a proxy in front of it cut) while expiries fall due:
commands answer clearly, and the first pass after the hub returns revokes them all."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.slack_client import RunningApp
from bot.store.models import GrantRow
from tests.support.faults import poll, start_normal
from tests.support.hub import RunningHub
from tests.support.observe import last_sweep
from tests.support.stories import (
    accept_url_in,
    grants,
    move_deadline_to_the_past,
    share,
    share_users,
)
from tests.support.toggle_proxy import ToggleProxy

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy(clean_hub: RunningHub) -> Iterator[ToggleProxy]:
    port = int(clean_hub.api_url.split("://")[1].split("/")[0].rsplit(":", 1)[1])
    with ToggleProxy("127.0.0.1", port) as running:
        yield running


@pytest.fixture
def app(linked_env: dict[str, str], proxy: ToggleProxy, tmp_path: Path) -> Iterator[RunningApp]:
    env = {**linked_env, "JUPYTERHUB_API_URL": proxy.rewrite(linked_env["JUPYTERHUB_API_URL"])}
    running = start_normal(env, tmp_path)
    yield running
    running.stop()
    assert "Traceback" not in running.log()


def sweep_ended_after(app: RunningApp, moment: float) -> float | None:
    last = last_sweep(app)
    return last if last > moment else None


def test_expiries_due_while_the_hub_is_down_are_revoked_in_one_pass(
    app: RunningApp, proxy: ToggleProxy, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    share(app, slack, "UOWNER", "<@UALICE|alice> <@UBOB|bob> 1h")
    for slack_id, name in (("UALICE", "alice"), ("UBOB", "bob")):
        url = accept_url_in(slack.wait_for_dm(slack_id, "shared", timeout=20))
        assert clean_hub.accept_share(name, url).status_code == 302
    poll(lambda: [g.state for g in grants(db)] == ["active"] * 2 or None, "two acceptances")

    proxy.down()
    reply = share(app, slack, "UOWNER", "<@UCAROL|carol> 1h")
    assert "Nothing was shared" in reply or "JupyterHub" in reply, reply
    # carol's invitation was written before the hub was asked: it failed, with why
    assert [g.state for g in grants(db) if g.recipient_hub == "carol"] == ["failed"]

    def shared() -> list[GrantRow]:
        return [g for g in grants(db) if g.recipient_hub != "carol"]

    for row in shared():
        move_deadline_to_the_past(db, row.id)
    # Passes run while the hub is down: the grants wait in `ending`, tried every pass.
    poll(
        lambda: all(g.state == "ending" and g.revoke_attempts >= 2 for g in shared()) or None,
        "failed revocation attempts",
    )
    assert share_users(clean_hub) == {"alice", "bob"}  # the hub still has them

    back = time.time()
    proxy.up()
    # The first pass that starts after the hub is back ends them: wait for two pass ends
    # (the second pass began after `back`), then everything must be done.
    first = poll(lambda: sweep_ended_after(app, back), "a pass after the hub returned")
    poll(lambda: sweep_ended_after(app, first), "the next pass")
    rows = shared()
    assert [g.state for g in rows] == ["expired"] * 2
    assert share_users(clean_hub) == set()
    for row in rows:
        assert row.ended_at is not None and row.expires_at is not None
        assert row.ended_at.timestamp() >= back
        assert row.ended_at.timestamp() - back < 10  # within a pass or two of 0.5 s
