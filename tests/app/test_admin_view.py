"""The admins' All shares on the Home tab: paging, the filter, what non-admins get, and the
store's queries behind it (a real SQLite database; times fixed at ``NOW``)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.app import admin_view
from bot.app.admin_view import PER_PAGE, AllShares, Present, Where, clamp
from bot.app.home import HomeService
from bot.app.messages import HomeTab
from bot.app.outcomes import Reason, Refusal
from bot.domain.grants import OPEN_STATES, Grant, GrantState
from bot.slack import home_view as home
from bot.slack.home_view import MAX_BLOCKS, home_view, where_of, where_value
from bot.store.decisions import Decisions
from bot.store.grants import Grants
from bot.store.links import Links
from tests.support.factories import NOW, make_grant, new_grant

OWNERS = ("owner", "alice", "bob")


def grant(i: int, **changes: object) -> Grant:
    owner = OWNERS[i % 3]
    defaults = {
        "id": i,
        "owner_hub": owner,
        "owner_slack_id": f"U{owner.upper()}",
        "server": "gpu" if i % 2 else "",
        "recipient_slack_id": f"U{i:05d}",
        "recipient_hub": f"user{i}",
        "accepted_hub_user": f"user{i}",
        "created_at": NOW - timedelta(minutes=1000 - i),
        "expires_at": NOW + timedelta(hours=2),
    }
    return make_grant(**{**defaults, **changes})


def page_of(grants: list[Grant], where: Where, **kw: Any) -> AllShares:
    """What ``admin_view.load`` makes of these grants, without a database."""
    chosen = [
        g
        for g in sorted(grants, key=lambda g: g.created_at, reverse=True)
        if where.owner in (None, g.owner_hub) and where.server in (None, g.server)
    ]
    fitted = clamp(where, len(chosen))
    start = fitted.page * PER_PAGE
    present = Counter((g.owner_hub, g.server) for g in grants)
    return AllShares(
        where=fitted,
        grants=chosen[start : start + PER_PAGE],
        total=len(chosen),
        present=[Present(o, s, n) for (o, s), n in present.items()],
        **kw,
    )


def rendered(tab: HomeTab) -> dict[str, Any]:
    return home_view(tab).to_dict()


def elements(view: dict[str, Any], action_id: str) -> list[dict[str, Any]]:
    found = []
    for block in view["blocks"]:
        items = list(block.get("elements") or [])
        if block.get("accessory"):
            items.append(block["accessory"])
        found += [e for e in items if isinstance(e, dict) and e.get("action_id") == action_id]
    return found


def all_revokes(view: dict[str, Any]) -> list[str]:
    return [
        b["accessory"]["value"]
        for b in view["blocks"]
        if b.get("block_id", "").startswith("home-all-") and b.get("accessory")
    ]


def page_button(view: dict[str, Any], action_id: str) -> Where | None:
    [button] = elements(view, action_id) or [None]
    return where_of(button["value"]) if button else None


# -- paging -----------------------------------------------------------------------------


def test_93_shares_in_pages_of_20_newest_first_with_previous_and_next() -> None:
    grants = [grant(i) for i in range(1, 94)]
    first = rendered(HomeTab(hub_user="carol", all_shares=page_of(grants, Where())))
    assert all_revokes(first) == [str(i) for i in range(93, 73, -1)]
    assert page_button(first, home.ALL_PREVIOUS_ACTION) is None
    assert page_button(first, home.ALL_NEXT_ACTION) == Where(1)
    assert "93 open shares (every owner) · 1 to 20 · page 1 of 5" in str(first["blocks"])

    last = rendered(HomeTab(hub_user="carol", all_shares=page_of(grants, Where(4))))
    assert all_revokes(last) == [str(i) for i in range(13, 0, -1)]
    assert page_button(last, home.ALL_PREVIOUS_ACTION) == Where(3)
    assert page_button(last, home.ALL_NEXT_ACTION) is None
    assert "· 81 to 93 · page 5 of 5" in str(last["blocks"])


def test_a_page_past_the_end_shows_the_last_one() -> None:
    assert clamp(Where(9, "alice"), total=41) == Where(2, "alice")
    assert clamp(Where(3), total=0) == Where(0)
    assert clamp(Where(1), total=20) == Where(0) and clamp(Where(1), total=21) == Where(1)
    shares = page_of([grant(i) for i in range(1, 30)], Where(7))
    assert shares.where == Where(1) and len(shares.grants) == 9 and not shares.has_next


def test_the_section_fits_beside_full_sections_and_block_ids_stay_unique() -> None:
    mine = [grant(i, owner_hub="carol", owner_slack_id="UCAROL") for i in range(1, 301)]
    tab = HomeTab(
        hub_user="carol",
        shared_by=mine[:100],
        shared_by_total=300,
        shared_with=[grant(i, recipient_slack_id="UCAROL") for i in range(301, 401)],
        all_shares=page_of(mine, Where(1)),  # the admin's own shares are in both sections
    )
    view = rendered(tab)
    assert len(view["blocks"]) <= MAX_BLOCKS
    assert len(all_revokes(view)) == PER_PAGE  # the admin's page is never squeezed
    ids = [b["block_id"] for b in view["blocks"] if "block_id" in b]
    assert [k for k, n in Counter(ids).items() if n > 1] == []
    assert len(elements(view, home.REVOKE_ACTION)) > PER_PAGE  # "Shared by you" has room too


def test_no_section_for_others_and_an_empty_one_says_so() -> None:
    text = str(rendered(HomeTab(hub_user="alice"))["blocks"])
    assert "All shares" not in text
    empty = rendered(HomeTab(hub_user="carol", all_shares=page_of([], Where())))
    assert "Nobody is sharing a server right now." in str(empty["blocks"])
    assert elements(empty, home.ALL_FILTER_ACTION) == []  # nothing to filter by


def test_an_admin_revoke_names_the_owner_and_ending_grants_have_no_button() -> None:
    ending = grant(2, state=GrantState.ENDING)
    view = rendered(HomeTab(hub_user="carol", all_shares=page_of([grant(1), ending], Where())))
    [revoke] = elements(view, home.REVOKE_ACTION)  # the owner's action: revoke_grant checks
    assert revoke["value"] == "1"
    assert "<@UALICE> will be told you did it" in revoke["confirm"]["text"]["text"]
    text = str(view["blocks"])
    assert "`alice/gpu` of <@UALICE> → <@U00001> (`user1`): active until" in text
    assert "ending (JupyterHub has not confirmed yet)" in text


# -- the filter -------------------------------------------------------------------------


def test_the_filter_offers_owners_and_servers_and_shows_the_chosen_one() -> None:
    grants = [grant(i) for i in range(1, 31)]
    view = rendered(HomeTab(hub_user="carol", all_shares=page_of(grants, Where(0, "alice"))))
    [select] = elements(view, home.ALL_FILTER_ACTION)
    owners, servers = select["option_groups"]
    assert [o["text"]["text"] for o in owners["options"]] == [
        "alice (10)",
        "bob (10)",
        "owner (10)",
    ]
    assert {where_of(o["value"]) for o in servers["options"]} == {
        Where(0, o, s) for o in OWNERS for s in ("", "gpu")
    }
    assert where_of(select["initial_option"]["value"]) == Where(0, "alice")
    assert all_revokes(view) and all(int(v) % 3 == OWNERS.index("alice") for v in all_revokes(view))
    assert page_button(view, home.ALL_OWNERS_ACTION) == Where()  # back to every owner
    assert "10 open shares (`alice`'s servers)" in str(view["blocks"])

    one = rendered(HomeTab(hub_user="carol", all_shares=page_of(grants, Where(0, "bob", "gpu"))))
    assert "(`bob/gpu`)" in str(one["blocks"])
    assert {
        where_of(v) for v in [elements(one, home.ALL_FILTER_ACTION)[0]["initial_option"]["value"]]
    } == {Where(0, "bob", "gpu")}
    assert (
        page_button(
            rendered(HomeTab(hub_user="c", all_shares=page_of(grants, Where()))),
            home.ALL_OWNERS_ACTION,
        )
        is None
    )


def test_the_filter_stays_within_slacks_limits() -> None:
    many = [grant(i, owner_hub=f"owner{i:03d}", server="s" * (i % 7)) for i in range(1, 251)] + [
        grant(300, owner_hub="o" * 200)
    ]  # too long for an option's value: left out
    view = rendered(HomeTab(hub_user="carol", all_shares=page_of(many, Where())))  # validates
    [select] = elements(view, home.ALL_FILTER_ACTION)
    for group in select["option_groups"]:
        assert len(group["options"]) <= 100
        assert all(
            len(o["value"]) <= 150 and len(o["text"]["text"]) <= 75 for o in group["options"]
        )
    assert "o" * 200 in str(view["blocks"])  # still listed, on its page


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "7",
        "[1]",
        '{"p": -1}',
        '{"p": 100001}',
        '{"p": true}',
        '{"p": 1.5}',
        '{"p": 0, "s": "gpu"}',  # a server names its owner
        '{"p": 0, "o": 5}',
        '{"p": 0, "x": 1}',
        '{"p": 0, "o": "' + "a" * 256 + '"}',
        "{" * 3000,
    ],
)
def test_a_forged_or_broken_value_is_no_page(value: str | None) -> None:
    assert where_of(value) is None


def test_values_round_trip() -> None:
    for where in (Where(), Where(3), Where(0, "alice"), Where(2, "ålice", 'gpu "1"')):
        assert where_of(where_value(where)) == where


# -- the store and the service ----------------------------------------------------------


class _Published:
    """The Say port's Home half: what was published to whom."""

    def __init__(self) -> None:
        self.tabs: dict[str, HomeTab] = {}

    async def publish_home(self, slack_id: str, tab: HomeTab) -> None:
        self.tabs[slack_id] = tab


def _fill(engine: Engine, count: int) -> Grants:
    grants = Grants(engine)
    for i in range(count):
        owner = OWNERS[i % 3]
        grants.add_grant(
            new_grant(
                owner_hub=owner,
                owner_slack_id=f"U{owner.upper()}",
                server="gpu" if i % 2 else "",
                recipient_hub=f"user{i}",
                recipient_slack_id=f"U{i:05d}",
                code_id=f"sc_{i}",
            ),
            now=NOW + timedelta(seconds=i),
        )
    return grants


def test_the_store_pages_and_counts_every_open_grant(engine: Engine) -> None:
    grants = _fill(engine, 45)
    closed = grants.get(45)
    assert closed is not None
    grants.transition(closed, GrantState.FAILED, now=NOW, action="invite_failed")
    page, total = grants.newest_grants(states=OPEN_STATES, limit=20, offset=20)
    assert total == 44 and [g.id for g in page] == list(range(24, 4, -1))
    page, total = grants.newest_grants(
        states=OPEN_STATES, limit=20, owner_hub="alice", server="gpu"
    )
    assert {(g.owner_hub, g.server) for g in page} == {("alice", "gpu")} and total == len(page)
    present = grants.open_servers(states=OPEN_STATES)
    assert sum(n for _, _, n in present) == 44
    assert present[0][2] >= present[-1][2]


async def test_only_admins_get_the_section_and_their_place_is_kept(engine: Engine) -> None:
    grants = _fill(engine, 45)
    say = _Published()
    service = HomeService(
        grants=grants,
        links=Links(engine),
        decisions=Decisions(engine),
        say=say,  # type: ignore[arg-type]
        admins=frozenset({"UCAROL"}),
    )
    assert (await service.data_for("UALICE")).all_shares is None
    shares = (await service.data_for("UCAROL")).all_shares
    assert shares is not None and shares.total == 45 and len(shares.grants) == PER_PAGE

    refused = await service.show_all_shares("UALICE", Where(1))
    assert refused == Refusal(Reason.ONLY_ADMINS)
    assert say.tabs == {}  # nothing published for a forged click

    assert await service.show_all_shares("UCAROL", Where(2)) is None
    shown = say.tabs["UCAROL"].all_shares
    assert shown is not None and shown.where == Where(2) and len(shown.grants) == 5
    await service.refresh("UCAROL")  # a refresh for another reason keeps the page
    again = say.tabs["UCAROL"].all_shares
    assert again is not None and again.where == Where(2)

    await service.show_all_shares("UCAROL", Where(0, "bob", ""))
    only = say.tabs["UCAROL"].all_shares
    assert only is not None and {(g.owner_hub, g.server) for g in only.grants} == {("bob", "")}


async def test_load_reads_the_last_page_when_asked_past_it(engine: Engine) -> None:
    grants = _fill(engine, 25)
    shares = await admin_view.load(grants, Where(9))
    assert shares.where == Where(1) and [g.id for g in shares.grants] == [5, 4, 3, 2, 1]
