"""Error branches of the hub client, with httpx.MockTransport (happy paths use a real hub)."""

from __future__ import annotations

import json

import httpx
import pytest

from bot.errors import HubAuthError, HubError, HubNotFound, HubUnavailable
from bot.hub.client import HubClient

SECRET_CODE = "s3cr3t-code-value"


def client(handler: httpx.MockTransport) -> HubClient:
    return HubClient("http://hub.test/hub/api", "tok", transport=handler)


def answer(status: int, body: object = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body if body is not None else {"message": "nope"})

    return httpx.MockTransport(handle)


async def test_connection_refused_is_unavailable_with_advice() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(HubUnavailable) as info:
        await client(httpx.MockTransport(refuse)).shares("owner", "")
    assert "JUPYTERHUB_API_URL" in str(info.value)
    assert "nothing was shared" in info.value.user_message


async def test_timeout_is_unavailable() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(HubUnavailable, match="timed out"):
        await client(httpx.MockTransport(slow)).revoke_share("owner", "", "alice")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (403, HubAuthError),
        (401, HubAuthError),
        (404, HubNotFound),
        (500, HubUnavailable),
        (400, HubError),
    ],
)
async def test_status_mapping(status: int, error: type[HubError]) -> None:
    with pytest.raises(error) as info:
        await client(answer(status)).create_share_code("owner", "", expires_in=60)
    assert info.value.status == status


async def test_auth_error_names_the_role() -> None:
    with pytest.raises(HubAuthError) as info:
        await client(answer(403)).shares("owner", "")
    assert "JUPYTERHUB_API_TOKEN" in str(info.value) and "read:servers" in str(info.value)


async def test_non_json_answer() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, text="<html>login</html>"))
    with pytest.raises(HubError, match="/hub/api"):
        await client(transport).shares("owner", "")


async def test_pagination_follows_next_even_past_an_empty_page() -> None:
    pages = {
        0: {"items": [{"user": {"name": "a"}}], "_pagination": {"next": {"offset": 200}}},
        200: {"items": [], "_pagination": {"next": {"offset": 400}}},  # all expired
        400: {"items": [{"user": {"name": "b"}}], "_pagination": {"next": None}},
    }
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["offset"])
        assert request.url.params["limit"] == "200"
        return httpx.Response(200, json=pages[int(request.url.params["offset"])])

    shares = await client(httpx.MockTransport(handle)).shares("owner", "")
    assert [s.user for s in shares] == ["a", "b"]
    assert seen == ["0", "200", "400"]


async def test_paths_quote_names_and_default_server() -> None:
    paths: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        return httpx.Response(204)

    hub = client(httpx.MockTransport(handle))
    await hub.delete_share_code("o w", "", "sc_1")
    await hub.revoke_share("owner", "gpu", "alice")
    assert paths == ["/hub/api/share-codes/o%20w/?id=sc_1", "/hub/api/shares/owner/gpu"]


async def test_code_is_kept_out_of_repr() -> None:
    body = {
        "id": "sc_7",
        "expires_at": "2026-11-27T12:00:00Z",
        "accept_url": f"/hub/accept-share?code={SECRET_CODE}",
        "code": SECRET_CODE,
    }
    code = await client(answer(200, body)).create_share_code("owner", "", expires_in=60)
    assert code.id == "sc_7" and SECRET_CODE in code.accept_url
    assert SECRET_CODE not in repr(code)


async def test_deleting_a_missing_code_is_fine() -> None:
    await client(answer(404)).delete_share_code("owner", "", "sc_1")


async def test_revoke_sends_the_user() -> None:
    bodies: list[object] = []

    def handle(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={})

    await client(httpx.MockTransport(handle)).revoke_share("owner", "", "alice")
    assert bodies == [{"user": "alice"}]
