"""kill -9 at each step of a share, then a normal restart on the same database: it converges.

The crashing process is :mod:`tests.support.crashing_serve` (a real SIGKILL, no hooks in the
product); claims last 3 s (``SHAREBOT_CLAIM_TTL``) so the dead process's work is taken over
quickly. Every wait is a poll with a deadline.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.slack_client import RunningApp
from bot.store.models import AuditEvent, GrantRow, OutboxRow
from tests.support.faults import (
    command_until_killed,
    poll,
    start_crashing,
    start_normal,
    wait_killed,
)
from tests.support.hub import RunningHub
from tests.support.observe import hub_requests
from tests.support.stories import (
    accept_url_in,
    grants,
    move_deadline_to_the_past,
    share_users,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def apps() -> Iterator[list[RunningApp]]:
    started: list[RunningApp] = []
    yield started
    for app in started:
        app.stop()
    for app in started:
        log = app.log()
        assert "Traceback" not in log, log[-3000:]
        assert "code=" not in log  # no accept link in any log


def the_grant(db: Engine) -> GrantRow:
    [row] = grants(db)
    return row


def code_ids(hub: RunningHub) -> list[str]:
    return sorted(str(c["id"]) for c in hub.share_codes("owner"))


def invitations(slack: FakeSlack, user: str = "UALICE") -> list[str]:
    return [accept_url_in(m) for m in slack.dms_to(user) if "shared" in m["text"]]


def actions(db: Engine) -> list[str]:
    with Session(db) as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def sent_notices(db: Engine) -> list[str]:
    with Session(db) as session:
        return [
            str(k)
            for k in session.scalars(select(OutboxRow.dedupe_key).where(OutboxRow.state == "sent"))
        ]


def recovered_invitation(
    slack: FakeSlack, hub: RunningHub, db: Engine, apps: list[RunningApp], env: dict[str, str]
) -> str:
    """After the restart: one invitation DM, whose code is the only one of the server."""
    apps.append(start_normal(env, apps[0].log_path.parent))
    poll(lambda: invitations(slack) or None, "the invitation DM after the restart")
    row = poll(
        lambda: ((r := the_grant(db)).invite_sent_at is not None and r) or None, "DM recorded"
    )
    assert row.state == "invited" and row.code_id
    assert code_ids(hub) == [row.code_id]  # the orphan (or the old code) was deleted
    [url] = invitations(slack)
    return url


def accepted_by_alice(hub: RunningHub, db: Engine, url: str) -> None:
    assert hub.accept_share("alice", url).status_code == 302
    poll(lambda: the_grant(db).state == "active" or None, "the acceptance")
    assert share_users(hub) == {"alice"}
    poll(lambda: code_ids(hub) == [] or None, "the used code deleted")


def test_crash_after_the_code_is_created(
    linked_env: dict[str, str],
    tmp_path: Path,
    apps: list[RunningApp],
    slack: FakeSlack,
    clean_hub: RunningHub,
    db: Engine,
) -> None:
    apps.append(start_crashing(linked_env, tmp_path, "bot.hub.client:HubClient.create_share_code"))
    command_until_killed(apps[0], "UOWNER", "<@UALICE> 1h", slack.new_response_url())
    wait_killed(apps[0])
    row = the_grant(db)
    assert row.state == "invited" and row.code_id is None and row.invite_sent_at is None
    assert len(code_ids(clean_hub)) == 1  # the hub has a code the bot does not know
    log_start = clean_hub.log_path.stat().st_size

    url = recovered_invitation(slack, clean_hub, db, apps, linked_env)
    # The orphan was deleted (the hub may hand its id out again: ids are its row ids).
    assert hub_requests(clean_hub, log_start, r"DELETE /hub/api/share-codes/owner/")
    assert "invite_reissued" in actions(db)
    accepted_by_alice(clean_hub, db, url)


def test_crash_before_the_dm(
    linked_env: dict[str, str],
    tmp_path: Path,
    apps: list[RunningApp],
    slack: FakeSlack,
    clean_hub: RunningHub,
    db: Engine,
) -> None:
    apps.append(start_crashing(linked_env, tmp_path, "bot.slack.port:SlackSay.dm", before=True))
    command_until_killed(apps[0], "UOWNER", "<@UALICE> 1h", slack.new_response_url())
    wait_killed(apps[0])
    row = the_grant(db)
    assert row.code_id and row.invite_sent_at is None and invitations(slack) == []
    log_start = clean_hub.log_path.stat().st_size

    url = recovered_invitation(slack, clean_hub, db, apps, linked_env)
    # The old code was deleted and a new one made (its link was never seen by anyone).
    assert hub_requests(clean_hub, log_start, r"DELETE /hub/api/share-codes/owner/")
    assert hub_requests(clean_hub, log_start, r"POST /hub/api/share-codes/owner/")
    assert "invite_reissued" in actions(db)
    accepted_by_alice(clean_hub, db, url)


def test_crash_after_acceptance(
    linked_env: dict[str, str],
    tmp_path: Path,
    apps: list[RunningApp],
    slack: FakeSlack,
    clean_hub: RunningHub,
    db: Engine,
) -> None:
    # The first grant transition is the acceptance (invited -> active), in the sweep.
    apps.append(start_crashing(linked_env, tmp_path, "bot.store.grants:Grants.transition"))
    apps[0].command("UOWNER", "<@UALICE> 1h", slack.new_response_url())
    url = accept_url_in(slack.wait_for_dm("UALICE", "shared", timeout=20))
    assert clean_hub.accept_share("alice", url).status_code == 302
    wait_killed(apps[0])
    assert the_grant(db).state == "active"
    assert [m for m in slack.dms_to("UOWNER") if "accepted" in m["text"]] == []

    apps.append(start_normal(linked_env, tmp_path))
    slack.wait_for_dm("UOWNER", "accepted", timeout=30)
    poll(lambda: sent_notices(db) or None, "the notice marked sent")
    assert sent_notices(db) == [f"grant:{the_grant(db).id}:accepted:owner"]
    assert code_ids(clean_hub) == []  # the used code is gone
    assert len([m for m in slack.dms_to("UOWNER") if "accepted" in m["text"]]) == 1


def test_crash_during_revocation(
    linked_env: dict[str, str],
    tmp_path: Path,
    apps: list[RunningApp],
    slack: FakeSlack,
    clean_hub: RunningHub,
    db: Engine,
) -> None:
    apps.append(start_crashing(linked_env, tmp_path, "bot.hub.client:HubClient.revoke_share"))
    apps[0].command("UOWNER", "<@UALICE> 1h", slack.new_response_url())
    url = accept_url_in(slack.wait_for_dm("UALICE", "shared", timeout=20))
    accepted_by_alice(clean_hub, db, url)
    move_deadline_to_the_past(db, the_grant(db).id)
    wait_killed(apps[0])  # right after the hub's PATCH, before the grant is marked ended
    assert the_grant(db).state == "ending"

    apps.append(start_normal(linked_env, tmp_path))
    poll(lambda: the_grant(db).state == "expired" or None, "the revocation to finish")
    assert share_users(clean_hub) == set()
    slack.wait_for_dm("UALICE", "has ended", timeout=20)
    assert len([m for m in slack.dms_to("UALICE") if "has ended" in m["text"]]) == 1
