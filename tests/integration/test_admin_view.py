"""The admin view, against the real hub and the Slack stand-in: All shares on an admin's
Home tab (filter, Revoke of another owner's share, the owner told who did it), what a
non-admin's forged clicks get, and `sharebot shares` as a subprocess in each format."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.app.admin_view import Where
from bot.ops.shares import FIELDS
from bot.sandbox.fake_slack import FakeSlack
from bot.slack import home_view as home
from bot.slack.home_view import where_of, where_value
from bot.store.models import AuditEvent
from tests.support.app import BOT_TOKEN, RunningApp, block_action, run_cli, start_app
from tests.support.home import accepted_share, open_home
from tests.support.hub import RunningHub
from tests.support.stories import direct_share, grants, share, share_users

pytestmark = pytest.mark.integration


@pytest.fixture
def admin_app(linked_env: dict[str, str], tmp_path: Path) -> Iterator[RunningApp]:
    running = start_app({**linked_env, "SHAREBOT_ADMINS": "UCAROL"}, tmp_path)
    try:
        yield running
    finally:
        running.stop()
        log = running.log()
        for secret in ("code=", BOT_TOKEN, linked_env["JUPYTERHUB_API_TOKEN"]):
            assert secret not in log


def click_view(
    app: RunningApp,
    user: str,
    view: dict[str, Any],
    action_id: str,
    *,
    block_id: str,
    value: str | None = None,
    selected: str | None = None,
) -> None:
    """A click on a Home tab (no response_url: the answer, if any, is a DM)."""
    payload = block_action(user, action_id, "", value=value, block_id=block_id, selected=selected)
    del payload["response_url"], payload["channel"]
    payload["container"] = {"type": "view", "view_id": view["id"]}
    payload["view"] = {"id": view["id"], "type": "home", "blocks": view["blocks"]}
    response = app.interact(payload)
    assert response.status_code == 200, response.text


def all_share_ids(view: dict[str, Any]) -> list[int]:
    return [
        int(b["block_id"].removeprefix("home-all-"))
        for b in view["blocks"]
        if b.get("block_id", "").startswith("home-all-") and b["block_id"][9:].isdigit()
    ]


def filter_value(view: dict[str, Any], where: Where) -> str:
    for block in view["blocks"]:
        for element in block.get("elements") or []:
            if element.get("action_id") != home.ALL_FILTER_ACTION:
                continue
            for group in element["option_groups"]:
                for option in group["options"]:
                    if where_of(option["value"]) == where:
                        return str(option["value"])
    raise AssertionError(f"no filter option for {where}")


def test_an_admin_revokes_another_owners_share_from_all_shares(
    admin_app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    row = accepted_share(admin_app, slack, clean_hub, db, "<@UALICE|alice> 1h")
    share(admin_app, slack, "UBOB", "<@UOWNER|owner> 2h")
    slack.wait_for_dm("UOWNER", "shared")
    bobs = next(g for g in grants(db) if g.owner_hub == "bob")

    open_home(admin_app, "UCAROL")
    view = slack.wait_for_home("UCAROL", "2 open shares (every owner)")
    assert sorted(all_share_ids(view)) == sorted([row.id, bobs.id])
    assert "`owner`'s default server of <@UOWNER> → <@UALICE> (`alice`)" in str(view["blocks"])

    # A non-admin's forged clicks: refused, shown nothing, nothing changed
    click_view(
        admin_app,
        "UALICE",
        view,
        home.ALL_NEXT_ACTION,
        block_id="home-all-pages",
        value=where_value(Where(0, "bob")),
    )
    slack.wait_for_dm("UALICE", "Only sharebot admins")
    assert "All shares" not in str((slack.home_view("UALICE") or {}).get("blocks"))
    click_view(
        admin_app,
        "UALICE",
        view,
        home.REVOKE_ACTION,
        block_id=f"home-all-{bobs.id}",
        value=str(bobs.id),
    )
    slack.wait_for_dm("UALICE", "Only the person who shared the server can revoke")
    assert {g.state for g in grants(db)} == {"active", "invited"}

    # The admin filters by owner, then revokes owner's share to alice
    click_view(
        admin_app,
        "UCAROL",
        view,
        home.ALL_FILTER_ACTION,
        block_id="home-all-filter",
        selected=filter_value(view, Where(0, "owner")),
    )
    view = slack.wait_for_home("UCAROL", "1 open share (`owner`'s servers)")
    assert all_share_ids(view) == [row.id]
    click_view(
        admin_app,
        "UCAROL",
        view,
        home.REVOKE_ACTION,
        block_id=f"home-all-{row.id}",
        value=str(row.id),
    )
    told = slack.wait_for_dm("UOWNER", "<@UCAROL>, a sharebot admin, revoked <@UALICE>'s access")
    assert "`owner`'s default server" in told["text"]
    slack.wait_for_dm("UALICE", "ended your access")
    slack.wait_for(lambda: share_users(clean_hub) == set(), timeout=20)
    assert {g.id: g.state for g in grants(db)} == {row.id: "revoked", bobs.id: "invited"}
    with Session(db) as session:
        actors = session.execute(
            select(AuditEvent.action, AuditEvent.actor_slack_id).where(
                AuditEvent.grant_id == row.id, AuditEvent.actor_slack_id.is_not(None)
            )
        ).all()
    assert ("revoke", "UCAROL") in actors and ("revoke", "UOWNER") not in actors
    # the admin's Home is refreshed, keeping the filter; "Every owner" clears it
    view = slack.wait_for_home("UCAROL", "No open shares match this filter")
    click_view(
        admin_app,
        "UCAROL",
        view,
        home.ALL_OWNERS_ACTION,
        block_id="home-all-filter",
        value=where_value(Where()),
    )
    view = slack.wait_for_home("UCAROL", "1 open share (every owner)")
    assert all_share_ids(view) == [bobs.id]


# -- sharebot shares ------------------------------------------------------------------------


def test_sharebot_shares_in_each_format_from_the_database_and_live(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    row = accepted_share(app, slack, clean_hub, db, "<@UALICE|alice> 1h")
    direct_share(clean_hub, "owner", "bob")  # made in the hub, not by sharebot
    found = run_cli(app.env, "digest", "--now", "--reconcile-only")
    assert found.returncode == 0 and "1 external shares found" in found.stdout, found.stderr

    result = run_cli(app.env, "shares", "--format", "json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [list(r) for r in records] == [list(FIELDS)] * 2
    ours, theirs = records
    assert ours["source"] == "grant" and ours["grant_id"] == row.id and ours["name"] == "alice"
    assert ours["state"] == "active" and ours["by_sharebot"] is True
    assert ours["slack_user"] == "UALICE" and ours["expires_at"].endswith("Z")
    assert theirs["source"] == "external" and theirs["name"] == "bob"
    assert theirs["by_sharebot"] is False and theirs["grant_id"] is None

    result = run_cli(app.env, "shares", "--format", "csv")
    assert result.returncode == 0, result.stderr
    table = list(csv.reader(io.StringIO(result.stdout)))
    assert table[0] == list(FIELDS) and len(table) == 3
    assert [r[FIELDS.index("by_sharebot")] for r in table[1:]] == ["true", "false"]

    result = run_cli(app.env, "shares")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "OWNER", "SERVER", "HOLDER", "SLACK", "STATE", "SINCE", "ENDS", "GRANT", "SHAREBOT",
    ]  # fmt: skip
    assert lines[1].split()[:5] == ["owner", "(default)", "alice", "UALICE", "active"]
    assert lines[2].split()[:5] == ["owner", "(default)", "bob", "-", "external"]
    assert lines[-1] == "2 shares"

    result = run_cli(app.env, "shares", "--owner", "bob")
    assert result.returncode == 0 and result.stdout == "no open shares\n"

    # --live: the hub's own list, each marked with the grant that explains it
    direct_share(clean_hub, "owner", "carol")  # not reconciled yet: only the hub knows
    result = run_cli(app.env, "shares", "--live", "--format", "json", "--owner", "owner")
    assert result.returncode == 0, result.stderr
    live = {r["name"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert set(live) == {"alice", "bob", "carol"}
    assert live["alice"]["by_sharebot"] is True and live["alice"]["grant_id"] == row.id
    assert live["carol"]["by_sharebot"] is False and live["carol"]["source"] == "hub"
    assert live["carol"]["since"] and live["carol"]["state"] == ""
    result = run_cli(app.env, "shares", "--live", "--format", "csv")  # every owner
    assert result.returncode == 0, result.stderr
    assert len(list(csv.DictReader(io.StringIO(result.stdout)))) == 3
    result = run_cli(app.env, "shares", "--live")
    assert result.returncode == 0 and result.stdout.splitlines()[-1] == "3 shares"

    everything = "".join(
        run_cli(app.env, "shares", *args).stdout
        for args in ((), ("--format", "json"), ("--live", "--format", "csv"))
    )
    for secret in ("code=", "sc_", "accept", app.env["JUPYTERHUB_API_TOKEN"], BOT_TOKEN):
        assert secret not in everything


def test_sharebot_shares_exit_codes(app: RunningApp, clean_hub: RunningHub, tmp_path: Path) -> None:
    wrong = run_cli(app.env, "shares", "--format", "yaml")
    assert wrong.returncode == 2 and "invalid choice" in wrong.stderr
    empty = {**app.env, "SHAREBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'none.sqlite'}"}
    result = run_cli(empty, "shares")
    assert result.returncode == 2 and "sharebot migrate" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("sharebot: database at none")
    down = {**app.env, "JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api/"}
    result = run_cli(down, "shares", "--live", "--owner", "owner")
    assert result.returncode == 1 and "the shares of owner could not be listed" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_cli(app.env, "shares", "--live", "--owner", "nobody-here")
    assert result.returncode == 1 and "nobody-here" in result.stderr
