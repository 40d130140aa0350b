"""A scripted JupyterHub for unit tests of the services (served by ``httpx.MockTransport``)."""

from __future__ import annotations

import httpx


class FlakyHub:
    """A scripted hub: share-code creation works, PATCH fails ``failures`` times. Every
    share holds plain access (``access:servers!server=owner/server``); a PATCH removes it."""

    def __init__(self) -> None:
        self.patch_failures = 0
        self.patches = 0
        self.shares: set[str] = set()
        self.codes: dict[str, int] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path == "/hub/api/users/owner":
            return httpx.Response(200, json={"name": "owner", "servers": {}})
        if request.method == "GET" and path.startswith("/hub/api/shares/"):
            server = path.removeprefix("/hub/api/shares/")  # owner/server
            items = [
                {
                    "user": {"name": n},
                    "scopes": [f"access:servers!server={server}"],
                    "created_at": "2026-11-26T12:00:00Z",
                }
                for n in self.shares
            ]
            return httpx.Response(200, json={"items": items, "_pagination": {"next": None}})
        if request.method == "POST" and path.startswith("/hub/api/share-codes/"):
            code_id = f"sc_{len(self.codes) + 1}"
            self.codes[code_id] = 0
            return httpx.Response(
                200,
                json={
                    "id": code_id,
                    "expires_at": "2026-11-27T12:00:00Z",
                    "accept_url": "/hub/accept-share?code=xyz",
                },
            )
        if request.method == "GET" and path.startswith("/hub/api/share-codes/"):
            items: list[dict[str, object]] = [
                {"id": k, "exchange_count": v, "created_at": "2026-11-26T12:00:00Z"}
                for k, v in self.codes.items()
            ]
            return httpx.Response(200, json={"items": items, "_pagination": {"next": None}})
        if request.method == "DELETE" and path.startswith("/hub/api/share-codes/"):
            self.codes.pop(request.url.params["id"], None)
            return httpx.Response(204)
        if request.method == "PATCH":
            self.patches += 1
            if self.patch_failures:
                self.patch_failures -= 1
                return httpx.Response(503, json={"message": "hub restarting"})
            self.shares.clear()
            return httpx.Response(200, json={})
        return httpx.Response(404, json={"message": f"unexpected {request.method} {path}"})
