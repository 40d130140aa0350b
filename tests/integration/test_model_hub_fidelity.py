"""The model of the sharing API (tests/support/model_hub.py) against a real JupyterHub: one
scripted sequence of calls, run step by step on both; after each step the answers (times and
secrets masked), every user's scopes and every live code's exchange count must be the same."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bot.hub.client import HubClient
from tests.support.hub import RunningHub
from tests.support.model_hub import HubWorld, ModelHub, ModelWorld, RealWorld

pytestmark = pytest.mark.integration

HUB_USERS = ("owner", "alice", "bob", "carol")  # the session hub's (conftest.USERS)
NAMED = "fidelity"  # a named server of owner's, made for this test
SERVERS = (("owner", ""), ("owner", NAMED), ("alice", ""))
SECRETS = {"code", "accept_url"}
TIMES = {"created_at", "expires_at", "last_exchanged_at"}


@pytest.fixture
def worlds(clean_hub: RunningHub) -> Iterator[tuple[RealWorld, ModelWorld]]:
    clean_hub.create_named_server("owner", NAMED)
    real = RealWorld(clean_hub)
    real.reset()  # every server of every user, so that ids start at sc_1 like the model's
    model = ModelHub(lambda: datetime.now(UTC), users=HUB_USERS)
    model.add_user("owner", servers=(NAMED,))
    try:
        yield real, ModelWorld(model)
    finally:
        real.reset()
        real.close()
        clean_hub.delete_named_server("owner", NAMED)


def masked(value: Any, api_url: str) -> Any:
    if isinstance(value, dict):
        return {
            key: "<secret>"
            if key in SECRETS and item
            else "<time>"
            if key in TIMES and item
            else masked(item, api_url)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [masked(item, api_url) for item in value]
    if isinstance(value, str):
        return value.replace(api_url, "<api>")
    return value


def state(world: HubWorld) -> dict[str, Any]:
    return {
        f"{owner}/{server}": (
            world.all_scopes(owner, server),
            {code["id"]: code["exchange_count"] for code in world.live_codes(owner, server)},
        )
        for owner, server in SERVERS
    }


async def script(world: HubWorld) -> AsyncGenerator[tuple[str, Any], None]:
    """The operations; yields (step, what came back) after each."""
    http = httpx.AsyncClient(
        base_url=world.api_url + "/",
        transport=world.sharebot_transport(),
        headers={"Authorization": f"token {world.service_token}"},
    )

    async def call(method: str, path: str, **kw: Any) -> tuple[int, Any]:
        response = await http.request(method, path, **kw)
        return response.status_code, response.json() if response.content else None

    async def new_code(path: str, **body: Any) -> tuple[tuple[int, Any], str]:
        answer = await call("POST", path, json=body)
        return answer, answer[1]["accept_url"]

    async def created_at(owner: str, server: str, user: str) -> str:
        _, page = await call("GET", f"shares/{owner}/{server}")
        return str(next(i["created_at"] for i in page["items"] if i["user"]["name"] == user))

    answer, a = await new_code("share-codes/owner/")
    yield "code A: default scopes", answer
    answer, b = await new_code(
        "share-codes/owner/",
        scopes=["access:servers!server=owner/", "servers!server=owner/"],
        expires_in=3600,
    )
    yield "code B: servers!server= scope", answer
    answer, c = await new_code(f"share-codes/owner/{NAMED}", scopes=["servers"])
    yield "code C: an unfiltered scope on the named server", answer
    bad = {"scopes": [f"servers!server=owner/{NAMED}"]}
    yield "a filter for another server", await call("POST", "share-codes/owner/", json=bad)
    yield "an unknown scope", await call("POST", "share-codes/owner/", json={"scopes": ["nope"]})
    yield "expires_in too short", await call("POST", "share-codes/owner/", json={"expires_in": 59})

    yield "alice accepts A", world.accept("alice", a)
    first = await created_at("owner", "", "alice")
    yield "alice accepts A again", world.accept("alice", a)
    yield "bob accepts A", world.accept("bob", a)
    yield "owner accepts A", world.accept("owner", a)
    yield "alice accepts B", world.accept("alice", b)
    yield "alice's share kept its created_at", first == await created_at("owner", "", "alice")
    yield "carol accepts C", world.accept("carol", c)
    yield "a wrong code", world.accept("carol", a + "x")

    world.share_direct("owner", "", "carol", ["read:servers"])
    yield "direct share with carol, scopes", None
    body = {"user": "bob", "scopes": ["servers"]}
    yield "direct share with bob via the API", await call("POST", "shares/owner/", json=body)
    yield "alice shares with herself", await call("POST", "shares/alice/", json={"user": "alice"})
    yield "a share with nobody", await call("POST", "shares/owner/", json={"user": "nobody"})
    yield "a share with ''", await call("POST", "shares/owner/", json={"user": ""})

    body = {"user": "alice", "scopes": ["servers"]}
    yield "PATCH unfiltered scopes", await call("PATCH", "shares/owner/", json=body)
    body = {"user": "alice", "scopes": ["servers!server=owner/"]}
    yield "PATCH filtered scopes", await call("PATCH", "shares/owner/", json=body)
    world.revoke_direct("owner", "", "bob", ["servers!server=owner/", "read:servers"])
    yield "revoke bob's servers (and what he lacks)", None
    yield "PATCH all of carol's", await call("PATCH", "shares/owner/", json={"user": "carol"})
    body = {"user": "alice", "scopes": []}
    yield "PATCH with no scopes", await call("PATCH", "shares/owner/", json=body)
    yield "PATCH nobody", await call("PATCH", "shares/owner/", json={"user": "nobody"})
    yield "GET all of owner's shares", await call("GET", "shares/owner")

    yield "a page of one code", await call("GET", "share-codes/owner/", params={"limit": 1})
    yield "DELETE code A", await call("DELETE", "share-codes/owner/", params={"id": "sc_1"})
    yield "DELETE code A again", await call("DELETE", "share-codes/owner/", params={"id": "sc_1"})
    yield "bob accepts deleted A", world.accept("bob", a)
    answer, _ = await new_code("share-codes/owner/")
    yield "code D", answer
    yield (
        "DELETE code D as sc_4x",
        await call("DELETE", "share-codes/owner/", params={"id": "sc_4x"}),
    )
    answer, _ = await new_code("share-codes/owner/")
    yield "code E takes D's id", answer
    world.faults.arm("POST", "share-codes/owner/", kind="503", when="after")
    yield "a code made, its answer lost", await call("POST", "share-codes/owner/", json={})
    world.faults.arm("POST", "share-codes/owner/", kind="503", when="before")
    yield "a code never asked for", await call("POST", "share-codes/owner/", json={})
    world.faults.arm("GET", "share-codes/owner/", kind="malformed")
    yield "a malformed list of codes", await call("GET", "share-codes/owner/")
    yield "DELETE an empty id", await call("DELETE", "share-codes/owner/", params={"id": " "})
    yield "DELETE all of owner/'s codes", await call("DELETE", "share-codes/owner/")
    yield "bob accepts deleted B", world.accept("bob", b)
    yield "GET all of owner's codes", await call("GET", "share-codes/owner")

    client = HubClient(world.api_url, world.service_token, transport=world.sharebot_transport())
    codes = await client.share_codes("owner", NAMED)
    shares = await client.owner_shares("owner")
    yield (
        "HubClient",
        (
            [(i.id, i.exchange_count) for i in codes],
            [(s.server, s.user, s.scopes) for s in shares],
        ),
    )
    yield "DELETE the named server's shares", await call("DELETE", f"shares/owner/{NAMED}")
    await client.aclose()
    await http.aclose()


async def test_the_model_answers_and_ends_like_the_real_hub(
    worlds: tuple[RealWorld, ModelWorld],
) -> None:
    real, model = worlds
    real_steps, model_steps = script(real), script(model)
    steps = 0
    try:
        async for step, real_answer in real_steps:
            model_step, model_answer = await anext(model_steps)
            assert step == model_step
            assert masked(model_answer, model.api_url) == masked(real_answer, real.api_url), step
            assert state(model) == state(real), step
            steps += 1
        with pytest.raises(StopAsyncIteration):
            await anext(model_steps)
    finally:
        await real_steps.aclose()
        await model_steps.aclose()
    assert steps == 42
    # the script got somewhere: a share and a code are left on the named server
    assert state(real)[f"owner/{NAMED}"] == ({}, {"sc_3": 1})
