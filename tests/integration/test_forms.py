"""The forms end to end: a signed shortcut (or the Home tab's button) opens a modal the
Slack stand-in records, a signed submission of it runs the command's own use case against
the real hub; what is wrong comes back on the field (``response_action: errors``)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.slack_client import shortcut, submit_view, view_action
from bot.slack import blocks, forms, texts
from tests.support.app import RunningApp
from tests.support.forms import (
    block,
    open_by_shortcut,
    open_from_home,
    open_on_message,
    pick_owner,
    request_values,
    share_values,
    submit,
    wait_for_log,
)
from tests.support.hub import RunningHub
from tests.support.observe import decisions
from tests.support.stories import accept_url_in, button_block, grants, share_users

pytestmark = pytest.mark.integration


def open_share_form(app: RunningApp, slack: FakeSlack, user: str = "UOWNER") -> dict[str, object]:
    return open_by_shortcut(app, slack, user, forms.SHARE_SHORTCUT, forms.SHARE_MODAL)


def test_share_form_invites_through_the_share_use_case(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    view = open_share_form(app, slack)
    # opened at once (views.open), then filled with the servers the hub lists (views.update)
    assert [c.method for c in slack.calls() if c.method.startswith("views.")][:2] == [
        "views.open",
        "views.update",
    ]
    server = block(view, forms.SERVER_BLOCK)
    assert server is not None
    assert [o["text"]["text"] for o in server["element"]["options"]] == ["default server"]

    values = share_values(["UALICE", "UBOB"], note="pairing", path="lab/tree/a.ipynb")
    assert submit(app, "UOWNER", view, values) is None  # closed: no errors

    invitation = slack.wait_for_dm("UALICE", "shared", timeout=20)
    assert "pairing" in invitation["text"]
    url = accept_url_in(invitation)
    assert url.startswith(f"{clean_hub.public_url}/hub/accept-share?code=")
    slack.wait_for_dm("UBOB", "shared", timeout=20)
    answer = slack.wait_for_dm("UOWNER", "Invited <@UALICE>", timeout=20)
    assert "for 1h" in answer["text"]
    assert len(clean_hub.share_codes("owner")) == 2  # one code each, on the hub
    rows = grants(db)
    assert sorted(r.recipient_slack_id for r in rows) == ["UALICE", "UBOB"]
    assert {r.path for r in rows} == {"lab/tree/a.ipynb"} and {r.state for r in rows} == {"invited"}

    assert clean_hub.accept_share("alice", url).status_code == 302
    slack.wait_for_dm("UOWNER", "accepted", timeout=20)
    assert share_users(clean_hub) == {"alice"}


def test_a_bad_duration_comes_back_on_the_field(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    view = open_share_form(app, slack)
    answer = submit(app, "UOWNER", view, share_values(["UALICE"], typed="5x"))
    assert answer["response_action"] == "errors"
    assert "`5x` is not a duration" in answer["errors"][forms.TYPED_BLOCK]

    answer = submit(app, "UOWNER", view, share_values(["UALICE"], choice=None, typed="9w"))
    assert "longer than this workspace allows" in answer["errors"][forms.TYPED_BLOCK]

    answer = submit(app, "UOWNER", view, share_values(["UALICE"], choice=None))
    assert answer["errors"] == {forms.DURATION_BLOCK: "Pick a duration or type one, e.g. 1h."}

    bad_path = share_values(["UOWNER"], path="lab/tree/../../../etc/passwd")
    answer = submit(app, "UOWNER", view, bad_path)
    assert set(answer["errors"]) == {forms.PEOPLE_BLOCK, forms.PATH_BLOCK}  # self, the path
    assert "`..`" in answer["errors"][forms.PATH_BLOCK]

    assert submit(app, "UOWNER", view, share_values(["UALICE"], typed="45m")) is None
    assert "for 45m" in slack.wait_for_dm("UOWNER", "Invited <@UALICE>", timeout=20)["text"]
    assert len(grants(db)) == 1  # the refused submissions shared nothing
    assert len(clean_hub.share_codes("owner")) == 1


def test_a_form_is_only_its_openers_and_names_only_the_hubs_servers(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    view = open_share_form(app, slack)
    # someone else submitting the owner's form (its sealed memory names the owner)
    answer = submit(app, "UBOB", view, share_values(["UALICE"]))
    assert answer["errors"] == {forms.PEOPLE_BLOCK: texts.FORM_STALE}
    # a server the hub did not list: only the indices of the listed ones mean anything
    answer = submit(app, "UOWNER", view, share_values(["UALICE"], server="1"))
    assert answer["errors"] == {forms.SERVER_BLOCK: texts.FORM_BAD_SERVER}
    answer = submit(app, "UOWNER", view, share_values(["UALICE"], server="gpu"))
    assert forms.SERVER_BLOCK in answer["errors"]
    # altered memory: another server list, the seal no longer matches
    metadata = str(view["private_metadata"])
    forged = {**view, "private_metadata": metadata[:-2] + ("AA" if metadata[-2:] != "AA" else "BB")}
    answer = submit(app, "UOWNER", forged, share_values(["UALICE"]))
    assert answer["errors"] == {forms.PEOPLE_BLOCK: texts.FORM_STALE}
    # bounded: a note over the command's limit, too many people
    answer = submit(app, "UOWNER", view, share_values(["UALICE"], note="x" * 501))
    assert "at most 500" in answer["errors"][forms.NOTE_BLOCK]
    crowd = [f"U{n:04d}X" for n in range(forms.MAX_PEOPLE + 1)]
    answer = submit(app, "UOWNER", view, share_values(crowd))
    assert "at most 20 people" in answer["errors"][forms.PEOPLE_BLOCK]
    assert grants(db) == [] and clean_hub.share_codes("owner") == []
    assert not slack.dms_to("UALICE")


def test_the_home_tab_opens_the_form(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    app.event({"type": "app_home_opened", "user": "UOWNER", "tab": "home"})
    home = slack.wait_for_home("UOWNER", "Share my server", timeout=20)
    button_block(home, forms.HOME_SHARE_ACTION)
    button_block(home, forms.HOME_REQUEST_ACTION)
    view = open_from_home(app, slack, "UOWNER", forms.HOME_SHARE_ACTION, forms.SHARE_MODAL)
    assert submit(app, "UOWNER", view, share_values(["UCAROL"], choice="30m")) is None
    slack.wait_for_dm("UCAROL", "shared", timeout=20)
    assert [r.recipient_slack_id for r in grants(db)] == ["UCAROL"]


def test_share_with_the_author_of_a_message(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    link = f"{clean_hub.public_url}/user/owner/lab/tree/results/fit.ipynb"
    message = {"user": "UALICE", "text": f"the fit diverges, see <{link}|fit.ipynb>", "ts": "5.5"}
    view = open_on_message(app, slack, "UOWNER", message)
    people = block(view, forms.PEOPLE_BLOCK)
    path = block(view, forms.PATH_BLOCK)
    assert people is not None and people["element"]["initial_users"] == ["UALICE"]
    assert path is not None and path["element"]["initial_value"] == "lab/tree/results/fit.ipynb"

    values = share_values(["UALICE"], path=path["element"]["initial_value"])
    assert submit(app, "UOWNER", view, values) is None
    slack.wait_for_dm("UALICE", "shared", timeout=20)
    [row] = grants(db)
    assert row.path == "lab/tree/results/fit.ipynb"

    # a link to someone else's server is not pre-filled; nor is the caller as the author
    other = f"{clean_hub.public_url}/user/bob/lab/tree/x.ipynb"
    view = open_on_message(app, slack, "UOWNER", {"user": "UOWNER", "text": f"<{other}>"})
    people = block(view, forms.PEOPLE_BLOCK)
    path = block(view, forms.PATH_BLOCK)
    assert people is not None and "initial_users" not in people["element"]
    assert path is not None and "initial_value" not in path["element"]


def test_request_form_lists_the_owners_servers_and_asks(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    view = open_by_shortcut(app, slack, "UALICE", forms.REQUEST_SHORTCUT, forms.REQUEST_MODAL)
    assert block(view, forms.SERVER_BLOCK) is None  # no owner yet, no servers
    with_servers = pick_owner(app, slack, "UALICE", view, "UOWNER")
    server = block(with_servers, forms.SERVER_BLOCK)
    assert server is not None
    assert [o["text"]["text"] for o in server["element"]["options"]] == ["default server"]

    # the owner in the form changed, but the servers shown are the old owner's
    answer = submit(app, "UALICE", with_servers, request_values("UBOB"))
    assert answer["errors"] == {forms.OWNER_BLOCK: texts.FORM_OWNER_CHANGED}
    answer = submit(app, "UALICE", with_servers, request_values("UOWNER", choice="2x"))
    assert "`2x`" in answer["errors"][forms.DURATION_BLOCK]

    values = request_values("UOWNER", reason="need the notebook")
    assert submit(app, "UALICE", with_servers, values) is None
    ask = slack.wait_for_dm("UOWNER", "asks for access", timeout=20)
    assert "need the notebook" in ask["text"] and "1h" in ask["text"]
    button_block(ask, blocks.APPROVE_ACTION)
    slack.wait_for_dm("UALICE", "Asked <@UOWNER>", timeout=20)
    [decision] = decisions(db)
    assert decision.requester_slack_id == "UALICE" and decision.owner_slack_id == "UOWNER"


def test_request_form_from_home_and_an_owner_click_by_someone_else(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub
) -> None:
    view = open_from_home(app, slack, "UALICE", forms.HOME_REQUEST_ACTION, forms.REQUEST_MODAL)
    payload = view_action(
        "UBOB", view, forms.OWNER_ACTION, forms.OWNER_BLOCK, {"selected_user": "UOWNER"}
    )
    assert app.interact(payload).status_code == 200
    wait_for_log(app, "an owner picked in a request form that is not the clicker's")
    picked = pick_owner(app, slack, "UALICE", view, "UOWNER")
    assert block(picked, forms.SERVER_BLOCK) is not None
    updates = [c for c in slack.calls("views.update") if c.params.get("view_id") == view["id"]]
    # the form's first filling, and Alice's pick: Bob's click updated nothing
    assert len(updates) == 2


def test_a_person_not_linked_is_told_in_the_form(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub
) -> None:
    assert app.interact(shortcut("UDAVE", forms.SHARE_SHORTCUT)).status_code == 200
    view = slack.wait_for(
        lambda: next((v for v in slack.modals() if "not linked" in str(v.get("blocks"))), None),
        timeout=20,
    )
    assert "submit" not in view


def test_a_replayed_submission_shares_once_and_manage_goes_through_policy(
    app: RunningApp, slack: FakeSlack, clean_hub: RunningHub, db: Engine
) -> None:
    view = open_share_form(app, slack)
    payload = submit_view("UOWNER", view, share_values(["UALICE"]))
    for _ in range(2):  # the same signed submission twice (one trigger id)
        assert app.interact(payload).status_code == 200
    slack.wait_for_dm("UOWNER", "Invited <@UALICE>", timeout=20)
    wait_for_log(app, "share_submitted: a replay of an invocation already taken on")
    assert len(grants(db)) == 1 and len(clean_hub.share_codes("owner")) == 1

    # manage: the command's policy (an approver always), here none is configured
    assert submit(app, "UOWNER", view, share_values(["UBOB"], manage=True)) is None
    slack.wait_for_dm("UOWNER", "needs an approver", timeout=20)
    assert len(grants(db)) == 1
