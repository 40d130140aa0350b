"""The model of JupyterHub's sharing API (tests/support/model_hub.py), sharebot's HubClient
against it, and the fault-injecting transport. Fidelity to a real hub:
tests/integration/test_model_hub_fidelity.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.errors import HubError, HubNotFound, HubUnavailable
from bot.hub.client import HubClient
from tests.support.model_hub import (
    SCOPE_NAMES,
    FaultyTransport,
    HubWorld,
    ModelHub,
    ModelWorld,
)

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ACCESS = "access:servers!server=owner/"
SERVERS = "servers!server=owner/"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hub(clock: Clock) -> ModelHub:
    model = ModelHub(clock, users=("owner", "alice", "bob", "carol"))
    model.add_user("owner", servers=("gpu",))
    return model


@pytest.fixture
def api(hub: ModelHub) -> Iterator[httpx.Client]:
    """The REST API with the service token (a sync client: MockTransport serves both)."""
    with httpx.Client(
        base_url="http://hub.test/hub/api/",
        transport=hub.transport(),
        headers={"Authorization": f"token {hub.service_token}"},
    ) as client:
        yield client


def new_code(api: httpx.Client, server: str = "owner/", **body: Any) -> dict[str, Any]:
    response = api.post(f"share-codes/{server}", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def hub_client(transport: httpx.AsyncBaseTransport, hub: ModelHub) -> HubClient:
    return HubClient("http://hub.test/hub/api", hub.service_token, transport=transport)


# -- the API: auth, shapes ---------------------------------------------------------------------


def test_the_root_needs_no_token_everything_else_the_service_token(
    hub: ModelHub, api: httpx.Client
) -> None:
    with httpx.Client(base_url="http://hub.test/hub/api/", transport=hub.transport()) as anon:
        assert anon.get("").json() == {"version": "6.1.1"}
        missing = anon.get("shares/owner/")
        wrong = anon.get("shares/owner/", headers={"Authorization": "token nope"})
    # like the hub (scopes.py needs_scope): 403 "Missing or invalid credentials.", not 401
    for response in (missing, wrong):
        assert response.status_code == 403
        assert response.json()["message"] == "Missing or invalid credentials."
    me = api.get("user").json()
    assert (me["kind"], me["name"]) == ("service", "sharebot")
    assert "shares" in me["scopes"]
    bearer = api.get("shares/owner/", headers={"Authorization": f"Bearer {hub.service_token}"})
    assert bearer.status_code == 200


def test_unknown_paths_are_a_404_with_a_json_message(api: httpx.Client) -> None:
    response = api.get("groups")
    assert response.status_code == 404
    assert "groups" in response.json()["message"]
    assert api.post("shares/owner", json={"user": "alice"}).status_code == 405


def test_users_show_named_servers_and_404_for_strangers(hub: ModelHub, api: httpx.Client) -> None:
    owner = api.get("users/owner").json()
    assert list(owner["servers"]) == ["gpu"]  # running servers only; the default one is stopped
    assert owner["servers"]["gpu"]["url"] == "/user/owner/gpu/"
    assert api.get("users/alice").json()["last_activity"] is None
    assert api.get("users/nobody").status_code == 404


def test_a_new_code_and_its_listing(hub: ModelHub, api: httpx.Client) -> None:
    data = new_code(api)
    assert data["id"] == "sc_1"
    assert data["accept_url"] == f"/hub/accept-share?code={data['code']}"
    assert data["full_accept_url"] is None
    assert data["scopes"] == [ACCESS]
    assert data["created_at"] == "2026-01-01T12:00:00Z"
    assert data["expires_at"] == "2026-01-02T12:00:00Z"  # a day by default
    assert (data["exchange_count"], data["last_exchanged_at"]) == (0, None)
    assert data["server"] == {
        "user": {"name": "owner"},
        "name": "",
        "url": "/user/owner/",
        "full_url": None,
        "ready": False,
    }
    (listed,) = api.get("share-codes/owner/").json()["items"]
    assert "code" not in listed and "accept_url" not in listed
    assert listed == {
        k: v for k, v in data.items() if k not in ("code", "accept_url", "full_accept_url")
    }


@pytest.mark.parametrize(
    ("expires_in", "status"), [(59, 400), (60, 200), (31536000, 200), (31536001, 400)]
)
def test_expires_in_bounds(api: httpx.Client, expires_in: int, status: int) -> None:
    assert api.post("share-codes/owner/", json={"expires_in": expires_in}).status_code == status


@pytest.mark.parametrize("kind", ["share-codes", "shares"])
def test_scopes_get_the_server_filter_and_other_filters_are_refused(
    api: httpx.Client, kind: str
) -> None:
    def post(scopes: list[str]) -> httpx.Response:
        body: dict[str, Any] = {"scopes": scopes}
        if kind == "shares":
            body["user"] = "alice"
        return api.post(f"{kind}/owner/", json=body)

    assert post(["servers", ACCESS]).json()["scopes"] == [ACCESS, SERVERS]
    wrong_server = post(["servers!server=owner/gpu"])
    assert wrong_server.status_code == 400
    assert "only !server=owner/" in wrong_server.json()["message"]
    assert post(["servers!user=owner"]).status_code == 400
    assert post(["no-such-scope"]).status_code == 500  # the hub raises KeyError
    assert post(["servers!nonsense=x"]).status_code == 500
    assert post(["admin:users"]).status_code == 403  # sharebot does not hold it


# -- shares: grant merges, revoke removes --------------------------------------------------


def test_a_second_grant_merges_and_keeps_created_at(
    hub: ModelHub, api: httpx.Client, clock: Clock
) -> None:
    first = api.post("shares/owner/", json={"user": "alice"}).json()
    clock.advance(3600)
    code = new_code(api, scopes=["servers"])
    assert hub.exchange("alice", code["accept_url"])
    (share,) = api.get("shares/owner/").json()["items"]
    assert share["scopes"] == [ACCESS, SERVERS]
    assert share["created_at"] == first["created_at"] == "2026-01-01T12:00:00Z"
    assert share["user"] == {"name": "alice"} and share["group"] is None
    assert share["kind"] == "user"


def test_a_direct_grant_to_an_unknown_user_is_a_400(api: httpx.Client) -> None:
    response = api.post("shares/owner/", json={"user": "nobody"})
    assert response.status_code == 400
    assert response.json()["message"] == "No such user: nobody"
    assert api.post("shares/owner/", json={}).status_code == 400
    assert api.post("shares/owner/", json={"user": "alice", "group": "team"}).status_code == 400
    assert api.post("shares/owner/", json={"user": ""}).status_code == 500  # like the hub


def test_patch_with_scopes_removes_just_those_and_compares_them_unfiltered(
    hub: ModelHub, api: httpx.Client
) -> None:
    hub.share_direct("owner", "", "alice", ["servers", "read:servers"])
    assert hub.scopes_of("owner", "", "alice") == {SERVERS, "read:servers!server=owner/"}
    unfiltered = api.patch("shares/owner/", json={"user": "alice", "scopes": ["servers"]})
    assert unfiltered.json()["scopes"] == ["read:servers!server=owner/", SERVERS]  # no change
    removed = api.patch("shares/owner/", json={"user": "alice", "scopes": [SERVERS]})
    assert removed.json()["scopes"] == ["read:servers!server=owner/"]
    last = api.patch(
        "shares/owner/", json={"user": "alice", "scopes": ["read:servers!server=owner/"]}
    )
    assert last.json() == {}  # nothing left: the row is gone
    assert hub.all_scopes("owner", "") == {}


def test_patch_without_scopes_or_with_none_removes_everything(
    hub: ModelHub, api: httpx.Client
) -> None:
    hub.share_direct("owner", "", "alice", ["servers"])
    hub.share_direct("owner", "", "bob")
    assert api.patch("shares/owner/", json={"user": "alice", "scopes": []}).json() == {}
    assert api.patch("shares/owner/", json={"user": "bob"}).json() == {}
    assert api.patch("shares/owner/", json={"user": "nobody"}).json() == {}  # 200, like revoking
    assert hub.all_scopes("owner", "") == {}


def test_delete_removes_every_share_of_the_server_only(hub: ModelHub, api: httpx.Client) -> None:
    hub.share_direct("owner", "", "alice")
    hub.share_direct("owner", "", "bob")
    hub.share_direct("owner", "gpu", "carol")
    assert api.delete("shares/owner/").status_code == 204
    assert hub.all_scopes("owner", "") == {}
    assert hub.all_scopes("owner", "gpu") == {"carol": {"access:servers!server=owner/gpu"}}


def test_owner_shares_name_their_server(hub: ModelHub, api: httpx.Client) -> None:
    hub.share_direct("owner", "gpu", "alice")
    hub.share_direct("owner", "", "bob")
    items = api.get("shares/owner").json()["items"]
    assert [(i["server"]["name"], i["user"]["name"]) for i in items] == [
        ("gpu", "alice"),
        ("", "bob"),
    ]
    assert items[0]["server"]["ready"] is True
    assert api.get("shares/nobody").status_code == 404
    assert api.get("shares/owner/nosuch").json()["message"] == "No such server: owner/nosuch"


def test_groups_need_a_scope_sharebot_lacks_but_revoke_needs_none(
    hub: ModelHub, api: httpx.Client
) -> None:
    hub.add_group("team", members=("alice",))
    refused = api.post("shares/owner/", json={"group": "team"})
    assert refused.status_code == 403
    hub.share_group_direct("owner", "", "team")
    (item,) = api.get("users/alice/shared").json()["items"]
    assert (item["kind"], item["group"], item["user"]) == ("group", {"name": "team"}, None)
    assert hub.all_scopes("owner", "") == {}  # users only
    assert api.patch("shares/owner/", json={"group": "team"}).json() == {}
    assert api.get("users/alice/shared").json()["items"] == []


# -- codes: exchange, expiry, deletion, ids -------------------------------------------------


def test_exchange_counts_every_time_and_refuses_the_owner(
    hub: ModelHub, api: httpx.Client, clock: Clock
) -> None:
    code = new_code(api)
    assert hub.exchange("alice", code["accept_url"])
    clock.advance(5)
    assert hub.exchange("alice", code["code"])  # the bare code works too
    assert hub.exchange("bob", code["accept_url"])
    assert not hub.exchange("owner", code["accept_url"])  # "You can't share with yourself!"
    assert not hub.exchange("carol", "/hub/accept-share?code=wrong")
    (listed,) = hub.codes("owner", "")
    assert listed["exchange_count"] == 3
    assert listed["last_exchanged_at"] == "2026-01-01T12:00:05Z"
    assert hub.all_scopes("owner", "") == {"alice": {ACCESS}, "bob": {ACCESS}}
    assert hub.scopes_of("owner", "", "carol") == frozenset()
    with pytest.raises(ValueError, match="cannot log in"):
        hub.exchange("stranger", code["accept_url"])


def test_owners_may_direct_share_with_themselves(hub: ModelHub, api: httpx.Client) -> None:
    assert api.post("shares/owner/", json={"user": "owner"}).status_code == 200
    assert hub.scopes_of("owner", "", "owner") == {ACCESS}


def test_expired_codes_stay_in_the_count_until_purged(
    hub: ModelHub, api: httpx.Client, clock: Clock
) -> None:
    short = new_code(api, expires_in=60)
    new_code(api)
    clock.advance(61)
    page = api.get("share-codes/owner/").json()
    assert [item["id"] for item in page["items"]] == ["sc_2"]
    assert page["_pagination"]["total"] == 2  # counted before the expired one is dropped
    assert not hub.exchange("alice", short["accept_url"])  # "Invalid share code"; kept
    assert api.get("share-codes/owner/").json()["_pagination"]["total"] == 2
    assert hub.purge_expired() == 1
    assert api.get("share-codes/owner/").json()["_pagination"]["total"] == 1


def test_an_expired_code_is_found_by_id_not_by_code(api: httpx.Client, clock: Clock) -> None:
    short = new_code(api, expires_in=60)
    clock.advance(61)
    by_code = api.delete("share-codes/owner/", params={"code": short["code"]})
    assert by_code.status_code == 404
    assert api.delete("share-codes/owner/", params={"id": short["id"]}).status_code == 204


def test_a_code_exchanged_at_its_last_instant_is_deleted(
    hub: ModelHub, api: httpx.Client, clock: Clock
) -> None:
    code = new_code(api, expires_in=60)
    clock.advance(60)  # found (expires_at >= now) but expired (expires_at <= now)
    assert not hub.exchange("alice", code["accept_url"])
    assert api.delete("share-codes/owner/", params={"id": code["id"]}).status_code == 404
    assert hub.all_scopes("owner", "") == {}


def test_delete_codes_by_id_by_code_or_all(hub: ModelHub, api: httpx.Client) -> None:
    one, two, three, four = (new_code(api) for _ in range(4))
    gpu = new_code(api, "owner/gpu")

    def delete(server: str = "owner/", **params: str) -> httpx.Response:
        return api.delete(f"share-codes/{server}", params=params)

    assert delete(id=one["id"]).status_code == 204
    unknown = delete(id="sc_99")
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "No code found matching id=sc_99"
    assert delete(id=gpu["id"]).status_code == 404  # a code of another server
    assert delete(code=two["code"]).status_code == 204
    assert delete(id=f"{three['id']}-and-more").status_code == 204  # matched at the start only
    assert [c["id"] for c in hub.codes("owner", "")] == [four["id"]]
    assert delete().status_code == 204  # all of owner/'s, not owner/gpu's
    assert hub.codes("owner", "") == []
    assert [c["id"] for c in hub.codes("owner", "gpu")] == [gpu["id"]]
    assert delete("owner/gpu", id=" ").status_code == 204
    assert hub.codes("owner", "gpu") == []  # an empty id is no id: all of them


def test_ids_are_sqlite_rowids_unless_told_otherwise(clock: Clock) -> None:
    for reuse, expected in (
        (True, ["sc_1", "sc_2", "sc_2", "sc_1"]),
        (False, ["sc_1", "sc_2", "sc_3", "sc_4"]),
    ):
        hub = ModelHub(clock, users=("owner",), reuse_ids=reuse)
        with httpx.Client(
            base_url="http://hub.test/hub/api/",
            transport=hub.transport(),
            headers={"Authorization": f"token {hub.service_token}"},
        ) as api:
            ids = [new_code(api)["id"], new_code(api)["id"]]
            api.delete("share-codes/owner/", params={"id": "sc_2"})  # the newest: its id is free
            ids.append(new_code(api)["id"])
            api.delete("share-codes/owner/")
            ids.append(new_code(api)["id"])
        assert ids == expected


# -- pagination --------------------------------------------------------------------------------


def test_pages_of_at_most_200_with_next(hub: ModelHub, api: httpx.Client) -> None:
    for _ in range(450):
        new_code(api)
    first = api.get("share-codes/owner/").json()
    assert len(first["items"]) == 200
    assert first["_pagination"]["total"] == 450
    assert first["_pagination"]["next"] == {
        "offset": 200,
        "limit": 200,
        "url": "http://hub.test/hub/api/share-codes/owner/?offset=200&limit=200",
    }
    last = api.get("share-codes/owner/", params={"offset": 400, "limit": 500}).json()
    assert len(last["items"]) == 50
    assert last["_pagination"] == {"offset": 400, "limit": 200, "total": 450, "next": None}
    assert len(api.get("share-codes/owner/", params={"limit": 0}).json()["items"]) == 1
    pagination = {"Accept": "application/jupyterhub-pagination+json"}
    assert len(api.get("share-codes/owner/", headers=pagination).json()["items"]) == 50
    assert api.get("share-codes/owner/", params={"limit": "x"}).status_code == 400


async def test_hub_client_follows_short_pages_past_expired_codes(
    hub: ModelHub, api: httpx.Client, clock: Clock
) -> None:
    for index in range(450):
        new_code(api, expires_in=60 if index % 3 == 0 else 3600)
    clock.advance(120)
    client = hub_client(hub.transport(), hub)
    codes = await client.share_codes("owner", "")
    assert len(codes) == 300
    await client.aclose()


# -- sharebot's client against the model -------------------------------------------------


async def test_hub_client_round_trip(hub: ModelHub, clock: Clock) -> None:
    client = hub_client(hub.transport(), hub)
    assert await client.version() == "6.1.1"
    assert (await client.token_owner()).name == "sharebot"
    assert await client.server_names("owner") == ["", "gpu"]
    assert await client.user_exists("alice") and not await client.user_exists("nobody")
    code = await client.create_share_code(
        "owner", "gpu", expires_in=600, scopes=["access:servers!server=owner/gpu"]
    )
    assert code.expires_at == START + timedelta(seconds=600)
    assert hub.exchange("alice", code.accept_url)
    (info,) = await client.share_codes("owner", "gpu")
    assert (info.id, info.exchange_count, info.last_exchanged_at) == (code.id, 1, START)
    (share,) = await client.shares("owner", "gpu")
    assert (share.user, share.scopes, share.created_at) == (
        "alice",
        ("access:servers!server=owner/gpu",),
        START,
    )
    hub.share_direct("owner", "", "bob")
    owned = await client.owner_shares("owner")
    assert [(s.server, s.user) for s in owned] == [("gpu", "alice"), ("", "bob")]
    assert await client.last_activity("alice") == START
    await client.revoke_share("owner", "gpu", "alice")
    assert hub.all_scopes("owner", "gpu") == {}
    await client.delete_share_code("owner", "gpu", code.id)
    await client.delete_share_code("owner", "gpu", code.id)  # already gone: fine
    assert await client.share_codes("owner", "gpu") == []
    with pytest.raises(HubNotFound):
        await client.shares("owner", "nosuch")
    await client.aclose()


# -- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "when", "error", "reached"),
    [
        ("503", "before", HubUnavailable, False),
        ("503", "after", HubUnavailable, True),
        ("connect", "before", HubUnavailable, False),
        ("connect", "after", HubUnavailable, True),
        ("timeout", "before", HubUnavailable, False),
        ("timeout", "after", HubUnavailable, True),
    ],
)
async def test_faults_before_or_after_the_hub(
    hub: ModelHub, kind: Any, when: Any, error: type[Exception], reached: bool
) -> None:
    faults = FaultyTransport(hub.transport())
    faults.arm("POST", "/share-codes/owner/", kind=kind, when=when)
    assert faults.armed() == 1
    client = hub_client(faults, hub)
    with pytest.raises(error):
        await client.create_share_code("owner", "", expires_in=600)
    assert (len(hub.codes("owner", "")) == 1) is reached
    assert faults.armed() == 0
    (fired,) = faults.fired
    assert (fired.method, fired.path, fired.kind, fired.when) == (
        "POST",
        "/hub/api/share-codes/owner/",
        kind,
        when,
    )
    await client.create_share_code("owner", "", expires_in=600)  # fired once, then passes
    await client.aclose()


@pytest.mark.parametrize(
    ("kind", "when", "raised"),
    [
        ("connect", "before", httpx.ConnectError),
        ("connect", "after", httpx.RemoteProtocolError),  # connected, then lost
        ("timeout", "before", httpx.ReadTimeout),
        ("timeout", "after", httpx.ReadTimeout),
    ],
)
async def test_the_transport_errors_raised(
    hub: ModelHub, kind: Any, when: Any, raised: type[Exception]
) -> None:
    faults = FaultyTransport(hub.transport())
    faults.arm("*", "share-codes", kind=kind, when=when)
    async with httpx.AsyncClient(transport=faults) as http:
        with pytest.raises(raised):
            await http.get("http://hub.test/hub/api/share-codes/owner/")


async def test_malformed_answers(hub: ModelHub) -> None:
    hub.share_direct("owner", "", "alice")
    faults = FaultyTransport(hub.transport())
    client = hub_client(faults, hub)
    await client.create_share_code("owner", "", expires_in=600)

    # sharebot's client turns every answer it cannot read into a HubError for that call
    faults.arm("GET", "/share-codes/", kind="malformed")  # numbers become "many"
    with pytest.raises(HubError, match="cannot read"):
        await client.share_codes("owner", "")
    faults.arm("GET", "/shares/", kind="malformed")  # no numbers: the user key goes
    with pytest.raises(HubError, match="neither a user nor a group"):
        await client.shares("owner", "")
    faults.arm("POST", "/share-codes/", kind="malformed")  # the id goes, after the hub made it
    with pytest.raises(HubError, match="cannot read"):
        await client.create_share_code("owner", "", expires_in=600)
    assert len(hub.codes("owner", "")) == 2
    faults.arm("PATCH", "/shares/", kind="malformed")  # {} has nothing to drop: not JSON
    with pytest.raises(HubError, match="not JSON"):
        await client.revoke_share("owner", "", "alice")
    assert hub.all_scopes("owner", "") == {}
    assert [f.kind for f in faults.fired] == ["malformed"] * 4
    with pytest.raises(ValueError, match="after"):
        faults.arm("GET", "/", kind="malformed", when="before")
    await client.aclose()


async def test_arm_counts_matches_and_disarm(hub: ModelHub) -> None:
    faults = FaultyTransport(hub.transport())
    faults.arm("GET", "/shares/owner/", kind="503", times=2)
    faults.arm("DELETE", "id=sc_7", kind="503")
    assert faults.armed() == 3
    client = hub_client(faults, hub)
    await client.owner_shares("owner")  # /shares/owner without the slash: no match
    await client.delete_share_code("owner", "", "sc_1")  # not sc_7: passes (404, swallowed)
    for _ in range(2):
        with pytest.raises(HubUnavailable):
            await client.shares("owner", "")
    await client.shares("owner", "")
    assert faults.armed() == 1
    faults.disarm()
    assert faults.armed() == 0
    await client.delete_share_code("owner", "", "sc_7")
    assert len(faults.fired) == 2
    await client.aclose()


# -- the world, and the copy of the hub's scope names ---------------------------------------


def test_model_world(hub: ModelHub, clock: Clock) -> None:
    world: HubWorld = ModelWorld(hub)
    assert world.sharebot_transport() is world.faults
    world.share_direct("owner", "", "alice", ["servers"])
    assert world.scopes_of("owner", "", "alice") == {SERVERS}
    world.revoke_direct("owner", "", "alice", [SERVERS])
    assert world.all_scopes("owner", "") == {}
    with pytest.raises(ValueError, match="400"):
        world.share_direct("owner", "", "alice", ["servers!server=owner/gpu"])
    with pytest.raises(ValueError, match="No such user"):
        world.share_direct("owner", "", "nobody")
    with httpx.Client(
        base_url=world.api_url,
        transport=hub.transport(),
        headers={"Authorization": f"token {world.service_token}"},
    ) as api:
        code = new_code(api, "owner/")
    assert world.accept("bob", code["accept_url"])
    assert [c["exchange_count"] for c in world.live_codes("owner", "")] == [1]
    world.reset()
    assert world.live_codes("owner", "") == [] and world.all_scopes("owner", "") == {}


def test_the_scope_names_are_jupyterhubs() -> None:
    from jupyterhub.scopes import scope_definitions  # type: ignore[import-untyped]  # slow

    assert frozenset(scope_definitions) == SCOPE_NAMES
