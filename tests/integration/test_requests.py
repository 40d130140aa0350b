"""Requests and approvals with buttons, against the real hub and the fake Slack API."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from bot.sandbox.fake_slack import FakeSlack
from bot.slack import blocks
from bot.store.models import DecisionRow
from tests.support.app import RunningApp, block_action, start_app, view_submission
from tests.support.hub import RunningHub
from tests.support.observe import decisions
from tests.support.stories import (
    accept_url_in,
    button_block,
    click,
    grants,
    move_deadline_to_the_past,
    share,
    share_users,
)

pytestmark = pytest.mark.integration


def updated_copies(slack: FakeSlack, containing: str) -> list[dict[str, Any]]:
    return [c.params for c in slack.calls("chat.update") if containing in str(c.params)]


def test_request_approve_accept_expire(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    reply = share(app, slack, "UALICE", "request <@UOWNER> 1h need the notebook")
    assert "Asked <@UOWNER>" in reply
    ask = slack.wait_for_dm("UOWNER", "asks for access")
    assert "need the notebook" in ask["text"] and "1h" in ask["text"]
    requester_copy = slack.wait_for_dm("UALICE", "waiting for <@UOWNER>")
    button_block(requester_copy, blocks.CANCEL_ACTION)
    assert button_block(ask, blocks.APPROVE_ACTION)[1] == str(decisions(db)[0].id)

    answer = click(app, slack, "UOWNER", ask, blocks.APPROVE_ACTION)
    assert "Approved by <@UOWNER>" in answer
    url = accept_url_in(slack.wait_for_dm("UALICE", "shared"))
    slack.wait_for(lambda: len(updated_copies(slack, "Approved by <@UOWNER>")) == 2)
    assert all(
        "actions" not in [b["type"] for b in c["blocks"]] for c in updated_copies(slack, "Approved")
    )
    [row] = grants(db)
    assert row.decision_id == decisions(db)[0].id
    # The requester hears of it by DM; the owner, who clicked, got the answer above.
    slack.wait_for_dm("UALICE", "Your request for")
    assert not [m for m in slack.dms_to("UOWNER") if "Your request" in m["text"]]
    [mine] = [c for c in updated_copies(slack, "Approved") if c["channel"] == "DUALICE"]
    assert "Your request to <@UOWNER>" in str(mine) and "waiting" not in str(mine)

    assert clean_hub.accept_share("alice", url).status_code == 302
    slack.wait_for_dm("UOWNER", "accepted", timeout=20)
    move_deadline_to_the_past(db, row.id)
    slack.wait_for_dm("UALICE", "has ended", timeout=20)
    assert share_users(clean_hub) == set()
    assert "already decided" in click(app, slack, "UOWNER", ask, blocks.APPROVE_ACTION)


def test_approve_for_less(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    share(app, slack, "UALICE", "request <@UOWNER> 1d")
    ask = slack.wait_for_dm("UOWNER", "asks for access")
    answer = click(app, slack, "UOWNER", ask, blocks.APPROVE_FOR_ACTION, selected="7200")
    assert "Approved for 2h" in answer
    slack.wait_for_dm("UALICE", "for 2h")
    [row] = grants(db)
    assert row.duration_seconds == 7200


def test_request_denied_with_reason(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    share(app, slack, "UALICE", "request <@UOWNER> 2h")
    ask = slack.wait_for_dm("UOWNER", "asks for access")
    block_id, value = button_block(ask, blocks.DENY_ACTION)
    app.interact(
        block_action(
            "UOWNER", blocks.DENY_ACTION, slack.new_response_url(), value=value, block_id=block_id
        )
    )
    opened = slack.wait_for(lambda: slack.calls("views.open"))[0]
    view = opened.params["view"]
    assert view["callback_id"] == blocks.DENY_MODAL and view["private_metadata"] == value
    values = {"reason": {"reason_input": {"type": "plain_text_input", "value": "not today"}}}
    response = app.interact(
        view_submission("UOWNER", blocks.DENY_MODAL, view["private_metadata"], values)
    )
    assert response.status_code == 200
    denied = slack.wait_for_dm("UALICE", "Denied by <@UOWNER>: not today")
    assert "Denied" in denied["text"]
    slack.wait_for(lambda: len(updated_copies(slack, "Denied by <@UOWNER>")) == 2)
    assert [d.state for d in decisions(db)] == ["denied"]
    assert grants(db) == [] and clean_hub.share_codes("owner") == []


def test_only_the_owner_decides_a_request(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    share(app, slack, "UALICE", "request <@UOWNER> 1h")
    ask = slack.wait_for_dm("UOWNER", "asks for access")
    for intruder in ("UCAROL", "UALICE"):
        assert "You can't approve this" in click(app, slack, intruder, ask, blocks.APPROVE_ACTION)
    assert "You can't approve this" in click(app, slack, "UCAROL", ask, blocks.DENY_ACTION)
    assert slack.calls("views.open") == []
    assert [d.state for d in decisions(db)] == ["pending"]
    assert grants(db) == []


def test_cancel_and_expiry(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    share(app, slack, "UALICE", "request <@UOWNER> 1h")
    ask = slack.wait_for_dm("UOWNER", "asks for access")
    mine = slack.wait_for_dm("UALICE", "waiting for")
    assert "Only the person who asked" in click(app, slack, "UOWNER", mine, blocks.CANCEL_ACTION)
    assert "Cancelled by <@UALICE>" in click(app, slack, "UALICE", mine, blocks.CANCEL_ACTION)
    assert "already decided" in click(app, slack, "UOWNER", ask, blocks.APPROVE_ACTION)
    slack.wait_for(lambda: len(updated_copies(slack, "Cancelled")) == 2)

    share(app, slack, "UALICE", "request <@UOWNER> 1h")
    _, second = decisions(db)
    with Session(db) as session, session.begin():
        session.execute(
            update(DecisionRow)
            .where(DecisionRow.id == second.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    slack.wait_for_dm("UALICE", "Expired at", timeout=20)
    slack.wait_for(lambda: len(updated_copies(slack, "Expired at")) == 2)
    assert [d.state for d in decisions(db)] == ["cancelled", "expired"]


@pytest.fixture
def policy_app(
    linked_env: dict[str, str], slack: FakeSlack, tmp_path: Path
) -> Iterator[RunningApp]:
    slack.add_usergroup("S0ADMINS", "hub-admins", ["UBOB"])
    env = {
        **linked_env,
        "SHAREBOT_APPROVAL_ABOVE": "1d",
        "SHAREBOT_APPROVERS": "UCAROL,UOWNER,@hub-admins",
        "SHAREBOT_APPROVAL_CHANNEL": "C0APPROVALS",
    }
    running = start_app(env, tmp_path)
    try:
        yield running
    finally:
        running.stop()


def test_policy_approval_in_a_channel(
    policy_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    assert "Invited" in share(policy_app, slack, "UOWNER", "<@UALICE> 1d")  # not above 1d
    reply = share(policy_app, slack, "UOWNER", "<@UALICE> 2d manage pairing")
    assert "needs approval because it is longer than 1d and it lets them start and stop" in reply
    posted = slack.wait_for(lambda: slack.messages("C0APPROVALS"))[0]
    assert "*Permissions:* access, and start/stop the server" in posted["text"]
    # nobody approves their own request, and others can't approve at all
    assert "never their own" in click(policy_app, slack, "UOWNER", posted, blocks.APPROVE_ACTION)
    assert "can't approve" in click(policy_app, slack, "UALICE", posted, blocks.APPROVE_ACTION)
    assert len(clean_hub.share_codes("owner")) == 1  # only the 1d share so far
    # a member of the @hub-admins group may
    assert "Approved by <@UBOB>" in click(policy_app, slack, "UBOB", posted, blocks.APPROVE_ACTION)
    slack.wait_for(lambda: updated_copies(slack, "Approved by <@UBOB>"))
    codes = clean_hub.share_codes("owner")
    assert len(codes) == 2
    assert "servers!server=owner/" in codes[1]["scopes"]
    slack.wait_for_dm("UOWNER", "Approved by <@UBOB>")


def test_concurrent_clicks_have_one_outcome(
    policy_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    for round_ in range(2):
        share(policy_app, slack, "UOWNER", "<@UALICE> 3d")
        posted = slack.wait_for(
            lambda r=round_: slack.messages("C0APPROVALS")[r:]  # type: ignore[misc]
        )[0]
        block_id, value = button_block(posted, blocks.APPROVE_ACTION)
        clicks = [("UCAROL", blocks.APPROVE_ACTION), ("UBOB", blocks.APPROVE_ACTION)]
        if round_ == 1:
            clicks = [("UCAROL", blocks.APPROVE_ACTION), ("UBOB", blocks.DENY_ACTION)]
        urls = [slack.new_response_url() for _ in clicks]
        payloads = [
            block_action(user, action, url, value=value, block_id=block_id)
            for (user, action), url in zip(clicks, urls, strict=True)
        ]
        if round_ == 1:  # the deny click opens a modal; its submission races the approval
            deny = payloads.pop()
            policy_app.interact(deny)
            slack.wait_for(lambda: slack.calls("views.open"))
            payloads.append(
                view_submission("UBOB", blocks.DENY_MODAL, value or "", {})  # type: ignore[arg-type]
            )
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            statuses = list(pool.map(lambda p: policy_app.interact(p).status_code, payloads))
        assert statuses == [200, 200]
        slack.wait_for(
            lambda r=round_: len(decisions(db)) == r + 1 and decisions(db)[r].state != "pending"
        )  # type: ignore[misc]
    first, second = decisions(db)
    assert first.state == "approved" and first.decided_by in ("UCAROL", "UBOB")
    assert second.state in ("approved", "denied")
    expected_codes = 1 + (1 if second.state == "approved" else 0)
    # the winner shares after its click is recorded: wait for that, then count
    slack.wait_for(lambda: len(grants(db)) == expected_codes)
    assert len(clean_hub.share_codes("owner")) == expected_codes
