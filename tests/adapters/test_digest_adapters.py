"""The digest's adapters: hub client calls (MockTransport) and the digest's Block Kit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx

from bot.domain.digest import Item, ItemKind, Reason, Status
from bot.hub.client import PAGE_LIMIT, HubClient
from bot.slack import blocks

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def client(handle: object) -> HubClient:
    return HubClient(
        "http://hub.test/hub/api",
        "tok",
        transport=httpx.MockTransport(handle),  # type: ignore[arg-type]
    )


def share_item(server: str, user: str | None = None, group: str | None = None) -> dict[str, object]:
    return {
        "server": {"name": server, "user": {"name": "owner"}},
        "scopes": [f"access:servers!server=owner/{server}"],
        "user": {"name": user} if user else None,
        "group": {"name": group} if group else None,
        "kind": "group" if group else "user",
        "created_at": "2026-11-01T10:00:00Z",
    }


async def test_owner_shares_follow_the_pages_of_every_server() -> None:
    seen: list[httpx.URL] = []
    pages = {
        0: ([share_item("", user="alice"), share_item("gpu", group="team")], {"offset": 2}),
        2: ([share_item("gpu", user="bob")], None),
    }

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        items, following = pages[int(request.url.params["offset"])]
        return httpx.Response(
            200,
            json={
                "items": items,
                "_pagination": {"offset": 0, "limit": 2, "total": 3, "next": following},
            },
        )

    shares = await client(handle).owner_shares("owner")
    assert [url.path for url in seen] == ["/hub/api/shares/owner"] * 2
    assert {url.params["limit"] for url in seen} == {str(PAGE_LIMIT)}
    assert [(s.server, s.user, s.group) for s in shares] == [
        ("", "alice", None),
        ("gpu", None, "team"),
        ("gpu", "bob", None),
    ]
    assert shares[0].created_at == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


async def test_group_shares_are_revoked_with_a_group_patch() -> None:
    bodies: list[tuple[str, str, object]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        bodies.append((request.method, request.url.path, json.loads(request.content)))
        return httpx.Response(200, json={})

    await client(handle).revoke_group_share("owner", "gpu", "team")
    assert bodies == [("PATCH", "/hub/api/shares/owner/gpu", {"group": "team"})]


async def test_last_activity_is_unknown_without_the_scope() -> None:
    def forbidden(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"message": "missing scope"})

    def name_only(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"kind": "user", "name": "alice"})

    def with_activity(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"name": "alice", "last_activity": "2026-11-20T08:00:00Z"})

    assert await client(forbidden).last_activity("alice") is None
    assert await client(name_only).last_activity("alice") is None
    assert await client(with_activity).last_activity("alice") == datetime(
        2026, 11, 20, 8, 0, tzinfo=UTC
    )


def item(n: int, kind: ItemKind = ItemKind.EXTERNAL) -> Item:
    return Item(
        kind, n, "", f"user{n}", False, NOW - timedelta(days=n), (Reason.EXTERNAL,), None, None
    )


def test_a_full_digest_stays_within_slacks_block_limit() -> None:
    rows: list[tuple[Item, Status, datetime | None]] = [
        (item(n), Status.OPEN, None) for n in range(20)
    ]
    built = blocks.digest(7, "owner", rows, 35, timedelta(days=7))
    assert len(built) <= 50
    payload = json.dumps([b.to_dict() for b in built])
    assert "the oldest 20 are listed" in payload
    assert payload.count(f'"{blocks.DIGEST_REVOKE_ACTION}"') == 20
    assert blocks.DIGEST_REVOKE_ALL_ACTION in payload
    block_ids = [b.to_dict().get("block_id") for b in built if b.to_dict().get("block_id")]
    assert len(block_ids) == len(set(block_ids))  # unique, as Slack requires
    assert {blocks.digest_message_id(b) for b in block_ids} == {7}


def test_handled_items_lose_their_buttons() -> None:
    rows = [
        (item(1), Status.REVOKED, NOW),
        (item(2, ItemKind.GRANT), Status.KEPT, NOW + timedelta(days=7)),
        (item(3), Status.OPEN, None),
    ]
    built = blocks.digest(3, "owner", rows, 3, timedelta(days=7))
    payload = json.dumps([b.to_dict() for b in built])
    assert "Revoked" in payload and "Kept" in payload
    assert payload.count(blocks.DIGEST_KEEP_ACTION) == 1  # only the open one
    assert blocks.DIGEST_REVOKE_ALL_ACTION not in payload  # one open item: no "all"


def test_digest_message_id() -> None:
    assert blocks.digest_message_id("digest-12") == 12
    assert blocks.digest_message_id("digest-12-3") == 12
    for other in (None, "", "decision-12", "digest-x", "digest-1-2-3"):
        assert blocks.digest_message_id(other) is None
