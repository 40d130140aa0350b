"""Shares with a Slack user group, end to end: a real JupyterHub with the group's members,
the Slack stand-in answering ``usergroups.users.list``, and sharebot over HTTP.

Each linked member gets one grant, one code and one DM; the owner and unlinked members
are left out and named; the reply shows progress in place; Slack's 429s are waited out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.stack import new_database
from bot.slack import blocks
from bot.store.db import make_engine
from tests.support.app import BOT_TOKEN, RunningApp, app_env, run_cli, start_app
from tests.support.hub import RunningHub, start_test_hub
from tests.support.stories import accept_url_in, click, grants, move_deadline_to_the_past

pytestmark = pytest.mark.integration

LINKED = {f"UM{n:02d}": f"m{n:02d}" for n in range(1, 13)}  # 12 linked members
UNLINKED = ("UM13", "UM14")  # in Slack and in the group, not linked to the hub
PEOPLE = {"UOWNER": "owner", **LINKED}
GROUP = "S0TAS"
MENTION = f"<!subteam^{GROUP}|@course-tas>"


@pytest.fixture(scope="module")
def group_hub(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[RunningHub]:
    running = start_test_hub(
        pytestconfig, tmp_path_factory.mktemp("groups-hub"), users=tuple(PEOPLE.values())
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def group_slack() -> Iterator[FakeSlack]:
    with FakeSlack(tokens={BOT_TOKEN}) as fake:
        for slack_id, name in PEOPLE.items():
            fake.add_user(slack_id, name=name, email=f"{name}@example.org")
        for slack_id in UNLINKED:
            fake.add_user(slack_id, name=slack_id.lower(), email=f"{slack_id}@elsewhere.org")
        fake.add_usergroup(GROUP, "course-tas", ["UOWNER", *LINKED, *UNLINKED])
        fake.add_usergroup("S0TWO", "two", ["UM01", "UM02"])
        yield fake


@pytest.fixture
def stack(
    group_hub: RunningHub, group_slack: FakeSlack, database_url: str
) -> Iterator[tuple[RunningHub, FakeSlack, str]]:
    """The module's hub and Slack stand-in, and a new database (SQLite, or PostgreSQL with
    SHAREBOT_TEST_DB_URL) with the owner and the linked members linked."""
    group_slack.reset()
    _clear(group_hub)
    new_database(database_url, PEOPLE.items(), by="tests").dispose()
    yield group_hub, group_slack, database_url
    _clear(group_hub)


def _clear(hub: RunningHub) -> None:
    with hub.client(hub.admin_token) as client:
        client.delete("shares/owner/")
        client.delete("share-codes/owner/")


def serve(
    stack: tuple[RunningHub, FakeSlack, str], tmp_path: Path, **env: str
) -> Iterator[RunningApp]:
    hub, slack, url = stack
    running = start_app(app_env(hub, slack.api_url, url, **env), tmp_path)
    try:
        yield running
    finally:
        running.stop()
        assert "code=" not in running.log()  # no accept link or code in the log


@pytest.fixture
def app(stack: tuple[RunningHub, FakeSlack, str], tmp_path: Path) -> Iterator[RunningApp]:
    yield from serve(stack, tmp_path)


def command(app: RunningApp, slack: FakeSlack, text: str) -> tuple[str, list[dict[str, object]]]:
    """Send ``text`` as the owner; the final answer and every post to its response URL."""
    url = slack.new_response_url()
    assert app.command("UOWNER", text, url).status_code == 200
    slack.wait_for(
        lambda: [r for r in slack.responses(url) if "so far" not in str(r["text"])], timeout=60
    )
    posts = slack.responses(url)
    return str(posts[-1]["text"]), posts


def test_a_user_group_and_a_person_share_with_each_linked_member_once(
    app: RunningApp, stack: tuple[RunningHub, FakeSlack, str], group_hub: RunningHub
) -> None:
    _, slack, url = stack
    final, posts = command(app, slack, f"{MENTION} <@UM01> <!subteam^S0TWO|@two> 2h lab")

    for slack_id in LINKED:
        slack.wait_for_dm(slack_id, "shared", timeout=30)
    assert all(len(slack.dms_to(s)) == 1 for s in LINKED)  # one DM each, UM01 named twice
    assert slack.dms_to("UOWNER") == [] and all(slack.dms_to(s) == [] for s in UNLINKED)
    engine = _engine(url)
    rows = grants(engine)
    assert sorted(r.recipient_slack_id for r in rows) == sorted(LINKED)
    assert len({r.code_id for r in rows}) == len(LINKED)  # one code each
    assert {r.state for r in rows} == {"invited"}
    assert len(group_hub.share_codes("owner")) == len(LINKED)

    assert "Invited 12 people" in final
    assert "You are in the group yourself" in final
    assert "<@UM13>" in final and "<@UM14>" in final and "not linked" in final
    # progress in place: at most 5 posts to the URL (Slack's limit), each later one replacing
    assert 2 <= len(posts) <= 5
    assert "of 12 invitations sent so far" in str(posts[0]["text"])
    assert posts[0].get("replace_original") is False
    assert all(p.get("replace_original") is True for p in posts[1:])

    invitation = slack.dms_to("UM07")[0]
    response = group_hub.accept_share("m07", accept_url_in(invitation))
    assert response.status_code == 302
    slack.wait_for_dm("UOWNER", "accepted", timeout=20)
    engine.dispose()


def test_dms_are_paced_by_slacks_rate_limit(
    app: RunningApp, stack: tuple[RunningHub, FakeSlack, str]
) -> None:
    _, slack, url = stack
    slack.rate_limit("chat.postMessage", per_second=4, burst=2)
    final, _ = command(app, slack, f"{MENTION} 1h")
    assert "Invited 12 people" in final, final
    refused = [c for c in slack.calls("chat.postMessage") if c.error == "ratelimited"]
    assert refused  # Slack said slow down, and the share waited it out: none lost
    assert all(len(slack.dms_to(s)) == 1 for s in LINKED)  # none twice
    engine = _engine(url)
    assert {r.state for r in grants(engine)} == {"invited"}
    engine.dispose()


@pytest.fixture
def capped_app(stack: tuple[RunningHub, FakeSlack, str], tmp_path: Path) -> Iterator[RunningApp]:
    yield from serve(stack, tmp_path, SHAREBOT_MAX_RECIPIENTS="5")


def test_a_group_over_the_cap_is_refused_before_anything_is_shared(
    capped_app: RunningApp, stack: tuple[RunningHub, FakeSlack, str], group_hub: RunningHub
) -> None:
    _, slack, url = stack
    final, _ = command(capped_app, slack, f"{MENTION} 1h")
    assert "more than the 5" in final and "Nothing was shared" in final
    assert "SHAREBOT_MAX_RECIPIENTS" in final
    assert slack.calls("chat.postMessage") == []
    assert group_hub.share_codes("owner") == []
    engine = _engine(url)
    assert grants(engine) == []
    engine.dispose()
    # a group within the cap still works
    final, posts = command(capped_app, slack, "<!subteam^S0TWO|@two> 1h")
    assert "Invited <@UM01>" in final and "Invited <@UM02>" in final
    assert len(posts) == 1  # small shares show no progress


def _engine(url: str) -> Engine:
    return make_engine(url)


# -- hub groups: /share-server group:NAME -------------------------------------------------

HUB_GROUP = "physics-101"
ACCESS = "access:servers!server=owner/"


def hub_groups(hub: RunningHub) -> dict[str, set[str]]:
    """The owner's default server's group shares: group -> scopes."""
    with hub.client(hub.admin_token) as client:
        items = client.get("shares/owner/").json()["items"]
    return {i["group"]["name"]: set(i["scopes"]) for i in items if i.get("group")}


@pytest.fixture
def physics(group_hub: RunningHub) -> Iterator[str]:
    with group_hub.client(group_hub.admin_token) as client:
        client.post(f"groups/{HUB_GROUP}", json={"users": ["m01", "m02"]})
    yield HUB_GROUP
    with group_hub.client(group_hub.admin_token) as client:
        client.delete(f"groups/{HUB_GROUP}")


def share_now(app: RunningApp, slack: FakeSlack, text: str) -> str:
    return command(app, slack, text)[0]


def test_a_hub_group_share_is_one_group_share_ended_on_time(
    app: RunningApp, stack: tuple[RunningHub, FakeSlack, str], physics: str
) -> None:
    hub, slack, url = stack
    reply = share_now(app, slack, f"group:{physics} 2h lab session")
    assert f"with the hub group `{physics}`" in reply, reply
    assert hub_groups(hub) == {physics: {ACCESS}}
    assert hub.share_codes("owner") == []  # no code, no DM
    assert [c for c in slack.calls("chat.postMessage") if not c.failed] == []
    engine = _engine(url)
    [row] = grants(engine)
    assert (row.state, row.recipient_kind, row.recipient_hub) == ("active", "group", physics)
    assert row.expires_at is not None

    listed = share_now(app, slack, "list")
    assert f"the hub group `{physics}`" in listed
    slack.wait_for_home("UOWNER", physics, timeout=20)

    move_deadline_to_the_past(engine, row.id)
    slack.wait_for_dm("UOWNER", "has ended", timeout=20)
    assert hub_groups(hub) == {}
    [row] = grants(engine)
    assert row.state == "expired"
    engine.dispose()


def test_a_hub_groups_earlier_access_is_kept(
    app: RunningApp, stack: tuple[RunningHub, FakeSlack, str], physics: str
) -> None:
    hub, slack, url = stack
    with hub.client(hub.admin_token) as client:  # start/stop given in the hub before
        earlier = ["servers!server=owner/"]
        response = client.post("shares/owner/", json={"group": physics, "scopes": earlier})
        assert response.status_code < 300, response.text
    share_now(app, slack, f"group:{physics} 1h")
    assert hub_groups(hub) == {physics: {ACCESS, *earlier}}
    engine = _engine(url)
    [row] = grants(engine)
    assert row.earlier_scopes == earlier and row.scopes == [ACCESS]
    reply = share_now(app, slack, "revoke all")
    assert "the hub group" in reply, reply
    assert hub_groups(hub) == {physics: set(earlier)}  # exactly what we added is gone
    [row] = grants(engine)
    assert row.state == "revoked"
    engine.dispose()


def test_an_unknown_hub_group_shares_nothing(
    app: RunningApp, stack: tuple[RunningHub, FakeSlack, str]
) -> None:
    hub, slack, url = stack
    reply = share_now(app, slack, "group:no-such-group 1h")
    assert "has no group `no-such-group`" in reply, reply
    assert hub_groups(hub) == {}
    engine = _engine(url)
    assert {r.state for r in grants(engine)} == {"failed"}
    engine.dispose()


@pytest.fixture
def approval_app(stack: tuple[RunningHub, FakeSlack, str], tmp_path: Path) -> Iterator[RunningApp]:
    yield from serve(
        stack, tmp_path, SHAREBOT_APPROVAL_FOR_GROUPS="true", SHAREBOT_APPROVERS="UM05"
    )


def test_policy_can_hold_hub_group_shares_for_an_approver(
    approval_app: RunningApp, stack: tuple[RunningHub, FakeSlack, str], physics: str
) -> None:
    hub, slack, _ = stack
    reply = share_now(approval_app, slack, f"group:{physics} 1h")
    assert "needs approval because it shares with a hub group" in reply, reply
    assert hub_groups(hub) == {}
    ask = slack.wait_for_dm("UM05", physics, timeout=20)
    assert "the hub group" in ask["text"]
    answer = click(approval_app, slack, "UM05", ask, blocks.APPROVE_ACTION)
    assert "Approved" in answer, answer
    deadline = time.monotonic() + 20
    while hub_groups(hub) != {physics: {ACCESS}}:
        assert time.monotonic() < deadline, hub_groups(hub)
        time.sleep(0.05)


@pytest.fixture
def open_ended(
    stack: tuple[RunningHub, FakeSlack, str], tmp_path: Path
) -> Iterator[tuple[RunningApp, dict[str, str]]]:
    hub, slack, url = stack
    env = app_env(hub, slack.api_url, url, SHAREBOT_ALLOW_UNTIL_REVOKED="true")
    running = start_app(env, tmp_path)
    try:
        yield running, env
    finally:
        running.stop()


def test_a_hub_group_share_without_an_end_is_in_the_digest(
    open_ended: tuple[RunningApp, dict[str, str]],
    stack: tuple[RunningHub, FakeSlack, str],
    physics: str,
) -> None:
    app, env = open_ended
    hub, slack, _ = stack
    assert "until you revoke it" in share_now(app, slack, f"group:{physics} until-revoked")
    done = run_cli(env, "digest", "--now")
    assert done.returncode == 0, done.stdout + done.stderr
    digest = slack.wait_for_dm("UOWNER", physics, timeout=20)
    assert f"hub group `{physics}`" in str(digest)
    assert hub_groups(hub) == {physics: {ACCESS}}


def test_share_again_shares_with_the_hub_group_again(
    app: RunningApp, stack: tuple[RunningHub, FakeSlack, str], physics: str
) -> None:
    hub, slack, url = stack
    share_now(app, slack, f"group:{physics} 1h")
    engine = _engine(url)
    [row] = grants(engine)
    move_deadline_to_the_past(engine, row.id)
    ended = slack.wait_for_dm("UOWNER", "has ended", timeout=20)
    assert f"the hub group `{physics}`" in ended["text"]
    assert hub_groups(hub) == {}
    answer = click(app, slack, "UOWNER", ended, blocks.SHARE_AGAIN_ACTION)
    assert f"with the hub group `{physics}`" in answer, answer
    assert hub_groups(hub) == {physics: {ACCESS}}
    again = [g for g in grants(engine) if g.id != row.id]
    assert [(g.state, g.recipient_kind) for g in again] == [("active", "group")]
    assert "already has an open share" in click(
        app, slack, "UOWNER", ended, blocks.SHARE_AGAIN_ACTION
    )
    engine.dispose()
