"""A small JupyterHub REST client for the sharing API.

Failures become :mod:`bot.errors` with advice for the operator; the share code and the
accept URL never appear in a log line or an error message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from bot.errors import HubAuthError, HubError, HubNotFound, HubUnavailable
from bot.hub.scopes import REQUIRED

#: Told about every API call: method, endpoint template (see :func:`endpoint_template`),
#: seconds taken, and the error it raised (None on success). Used for metrics.
CallObserver = Callable[[str, str, float, HubError | None], None]

log = logging.getLogger(__name__)

T = TypeVar("T")

PAGE_LIMIT = 200  # the hub caps pages at 200
NOTHING_SHARED = "JupyterHub could not be reached, so nothing was shared. Try again in a minute."


@dataclass(frozen=True)
class ShareCode:
    """A new share code. ``accept_url`` holds the secret: never log or store it."""

    id: str
    expires_at: datetime | None
    accept_url: str

    def __repr__(self) -> str:  # keep the secret out of tracebacks and debug logs
        return f"ShareCode(id={self.id!r}, expires_at={self.expires_at!r})"


@dataclass(frozen=True)
class ShareCodeInfo:
    id: str
    exchange_count: int
    last_exchanged_at: datetime | None
    expires_at: datetime | None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Share:
    user: str | None
    group: str | None
    scopes: tuple[str, ...]
    created_at: datetime | None


@dataclass(frozen=True)
class OwnerShare(Share):
    """A share in the list of all an owner's shares: it names its server."""

    server: str = ""


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _server_path(owner: str, server: str) -> str:
    return f"{quote(owner, safe='')}/{quote(server, safe='')}"


# Path shapes by first segment: a literal keeps its name, a placeholder replaces whatever is
# there. Only these words ever reach a metric label, never a username or a server name.
_USER_SUBRESOURCES = {"shared": ("{owner}", "{server}"), "servers": ("{server}",)}
_SHAPES: dict[str, tuple[str, ...]] = {
    "users": ("{user}",),
    "shares": ("{owner}", "{server}"),
    "share-codes": ("{owner}", "{server}"),
    "groups": ("{group}",),
    "services": ("{service}",),
}
_LITERALS = frozenset({"user", "oauth2", "token", "authorize", "info", "proxy", "health"})


def endpoint_template(path: str) -> str:
    """A low-cardinality name for an API path.

    ``shares/alice/gpu`` -> ``shares/{owner}/{server}``; unknown words become placeholders.
    """
    parts = path.split("?", 1)[0].lstrip("/").split("/")  # "shares/a/" ends in "" (default)
    if parts == [""]:
        return "/"
    head, rest = parts[0], parts[1:]
    if head not in _SHAPES and head not in _LITERALS:
        return "{other}"
    out = [head]
    shape = list(_SHAPES.get(head, ()))
    for index, part in enumerate(rest):
        if shape:
            out.append(shape.pop(0))
        elif head == "users" and index == 1 and part in _USER_SUBRESOURCES:
            out.append(part)
            shape = list(_USER_SUBRESOURCES[part])
        elif part in _LITERALS:
            out.append(part)
        else:
            out.append("{arg}")
    return "/".join(out)


@dataclass(frozen=True)
class TokenOwner:
    """Who a token belongs to (``GET /hub/api/user``) and its scopes, as the hub expands them."""

    kind: str
    name: str
    scopes: tuple[str, ...]


class HubClient:
    """Async client for ``JUPYTERHUB_API_URL`` authenticated with the service token."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: CallObserver | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._observer = observer
        self._client = httpx.AsyncClient(
            base_url=self.api_url + "/",
            headers={"Authorization": f"token {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        self.latency_seconds = 0.0

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HubClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the hub and the token ----------------------------------------------------------

    async def version(self) -> str:
        """The hub's version (``GET /hub/api/``, needs no scope)."""
        data = await self._request("GET", "", what="the hub's API root")
        version = data.get("version") if isinstance(data, dict) else None
        if not version:
            raise HubError(
                f"{self.api_url}/ answered without a version. Does JUPYTERHUB_API_URL end "
                "in /hub/api?"
            )
        return str(version)

    async def token_owner(self) -> TokenOwner:
        """The service token's owner and scopes (``GET /hub/api/user``)."""
        data = await self._request("GET", "user", what="the token's owner")
        if not isinstance(data, dict):
            raise HubError("the hub did not describe the token's owner")
        return TokenOwner(
            kind=str(data.get("kind") or "user"),
            name=str(data.get("name") or ""),
            scopes=tuple(str(s) for s in data.get("scopes") or ()),
        )

    # -- users and servers --------------------------------------------------------------

    async def user_exists(self, name: str) -> bool:
        try:
            await self._request("GET", f"users/{quote(name, safe='')}", what=f"user {name}")
        except HubNotFound:
            return False
        return True

    async def server_names(self, owner: str) -> list[str]:
        """Names of the owner's servers, stopped ones included (sharing needs only the
        server's record); ``""`` is the default server."""
        names = set(await self._servers_of(owner))
        names.add("")  # every user has the default server record
        return sorted(names)

    async def _servers_of(self, owner: str) -> dict[str, Any]:
        """The owner's server models by name, stopped ones included."""
        data = await self._request(
            "GET",
            f"users/{quote(owner, safe='')}",
            params={"include_stopped_servers": "1"},
            what=f"user {owner}",
        )
        servers = data.get("servers") if isinstance(data, dict) else None
        return servers if isinstance(servers, dict) else {}

    async def server_ready(self, owner: str, server: str) -> bool:
        """Whether the owner's server is running and ready (a stopped or missing one: no)."""
        model = (await self._servers_of(owner)).get(server)
        return isinstance(model, dict) and model.get("ready") is True

    # -- share codes --------------------------------------------------------------------

    async def create_share_code(
        self, owner: str, server: str, *, expires_in: int, scopes: list[str] | None = None
    ) -> ShareCode:
        body: dict[str, Any] = {"expires_in": expires_in}
        if scopes:
            body["scopes"] = scopes
        data = await self._request(
            "POST",
            f"share-codes/{_server_path(owner, server)}",
            json=body,
            what=f"server {owner}/{server}",
        )
        try:
            return ShareCode(
                id=_text(data["id"]),
                expires_at=parse_time(data.get("expires_at")),
                accept_url=_text(data.get("full_accept_url") or data["accept_url"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise _malformed("POST", f"share-codes/{_server_path(owner, server)}", err) from err

    async def share_codes(self, owner: str, server: str) -> list[ShareCodeInfo]:
        return await self._items(
            f"share-codes/{_server_path(owner, server)}",
            lambda item: ShareCodeInfo(
                id=_text(item["id"]),
                exchange_count=_count(item.get("exchange_count")),
                last_exchanged_at=parse_time(item.get("last_exchanged_at")),
                expires_at=parse_time(item.get("expires_at")),
                created_at=parse_time(item.get("created_at")),
            ),
            what=f"server {owner}/{server}",
        )

    async def delete_share_code(self, owner: str, server: str, code_id: str) -> None:
        """Delete one code; a code that is already gone is fine."""
        try:
            await self._request(
                "DELETE",
                f"share-codes/{_server_path(owner, server)}",
                params={"id": code_id},
                what=f"share code {code_id} of {owner}/{server}",
            )
        except HubNotFound:
            log.info("share code %s of %s/%s was already gone", code_id, owner, server)

    # -- shares -------------------------------------------------------------------------

    async def shares(self, owner: str, server: str) -> list[Share]:
        return await self._items(
            f"shares/{_server_path(owner, server)}",
            lambda item: _one_holder(
                Share(
                    user=_name(item.get("user")),
                    group=_name(item.get("group")),
                    scopes=_scopes(item.get("scopes")),
                    created_at=parse_time(item.get("created_at")),
                )
            ),
            what=f"server {owner}/{server}",
        )

    async def share_map(self, owner: str, server: str) -> dict[str, frozenset[str]]:
        """The server's user shares: hub user -> scopes (what the scope ledger compares)."""
        return {s.user: frozenset(s.scopes) for s in await self.shares(owner, server) if s.user}

    async def revoke_share(
        self, owner: str, server: str, user: str, scopes: frozenset[str] | None = None
    ) -> None:
        """Remove ``scopes`` from ``user``'s share of the server (all of them when None);
        idempotent, and the hub keeps the other scopes of the share."""
        body: dict[str, Any] = {"user": user}
        if scopes is not None:
            body["scopes"] = sorted(scopes)
        await self._request(
            "PATCH",
            f"shares/{_server_path(owner, server)}",
            json=body,
            what=f"share of {owner}/{server} with {user}",
        )

    async def revoke_group_share(
        self, owner: str, server: str, group: str, scopes: frozenset[str] | None = None
    ) -> None:
        """Remove ``scopes`` (every scope when None) from the hub group ``group``'s share of
        the server (idempotent; the hub keeps the group's other scopes)."""
        body: dict[str, Any] = {"group": group}
        if scopes is not None:
            body["scopes"] = sorted(scopes)
        await self._request(
            "PATCH",
            f"shares/{_server_path(owner, server)}",
            json=body,
            what=f"share of {owner}/{server} with group {group}",
        )

    async def group_share_map(self, owner: str, server: str) -> dict[str, frozenset[str]]:
        """The server's group shares: hub group -> scopes."""
        return {s.group: frozenset(s.scopes) for s in await self.shares(owner, server) if s.group}

    async def share_with_group(
        self, owner: str, server: str, group: str, scopes: frozenset[str]
    ) -> None:
        """Share the server with the hub group ``group`` directly (no code): the hub merges
        ``scopes`` into the group's share. An unknown group is a HubNotFound or a 400."""
        await self._request(
            "POST",
            f"shares/{_server_path(owner, server)}",
            json={"group": group, "scopes": sorted(scopes)},
            what=f"group {group} on {owner}/{server}",
        )

    async def owner_shares(self, owner: str) -> list[OwnerShare]:
        """Every share of every server of ``owner`` (``GET /shares/{owner}``, paginated)."""
        return await self._items(
            f"shares/{quote(owner, safe='')}",
            lambda item: _one_holder(
                OwnerShare(
                    server=_name(item.get("server")) or "",
                    user=_name(item.get("user")),
                    group=_name(item.get("group")),
                    scopes=_scopes(item.get("scopes")),
                    created_at=parse_time(item.get("created_at")),
                )
            ),
            what=f"shares of {owner}",
        )

    async def last_activity(self, user: str) -> datetime | None:
        """When ``user`` was last active, or None when unknown.

        The hub shows ``last_activity`` only with the ``read:users:activity`` scope; without
        it (or for a user that is gone) the answer is None rather than an error.
        """
        try:
            data = await self._request("GET", f"users/{quote(user, safe='')}", what=f"user {user}")
        except (HubAuthError, HubNotFound):
            return None
        return parse_time(data.get("last_activity")) if isinstance(data, dict) else None

    # -- OAuth (account linking) -------------------------------------------------------

    async def exchange_oauth_code(
        self, *, code: str, client_id: str, redirect_uri: str, code_verifier: str
    ) -> str:
        """Trade an authorization code for an access token (client secret = service token)."""
        data = await self._request(
            "POST",
            "oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": client_id,
                "client_secret": self._token,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            },
            authorization="",
            what="OAuth token exchange",
        )
        token = data.get("access_token") if isinstance(data, dict) else None
        if not token:
            raise HubError("the hub's token endpoint answered without an access_token")
        return str(token)

    async def identify(self, access_token: str) -> str:
        """The hub username an OAuth access token belongs to."""
        data = await self._request(
            "GET", "user", authorization=f"Bearer {access_token}", what="the token's owner"
        )
        name = data.get("name") if isinstance(data, dict) else None
        if not name or data.get("kind", "user") != "user":
            raise HubError("the hub did not name a user for the OAuth token")
        return str(name)

    # -- plumbing -----------------------------------------------------------------------

    async def _items(
        self, path: str, parse: Callable[[dict[str, Any]], T], *, what: str
    ) -> list[T]:
        """Every item of a paginated listing, each read by ``parse``. An answer sharebot
        cannot read (a missing key, a count that is not a number, a page that is not an
        object) is a :class:`HubError` for this call alone, never a crash of the caller."""
        items: list[T] = []
        try:
            async for item in self._pages(path, what=what):
                items.append(parse(item))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise _malformed("GET", path, err) from err
        return items

    async def _pages(self, path: str, *, what: str) -> AsyncIterator[dict[str, Any]]:
        offset = 0
        while True:
            data = await self._request(
                "GET", path, params={"offset": offset, "limit": PAGE_LIMIT}, what=what
            )
            if isinstance(data, list):  # an old hub without pagination
                for item in data:
                    yield item
                return
            items = data.get("items") or []
            for item in items:
                yield item
            # Follow ``next``, not the item count: the hub drops expired items after paging.
            following = (data.get("_pagination") or {}).get("next")
            if not following:
                return
            next_offset = int(following.get("offset", offset + PAGE_LIMIT))
            if next_offset <= offset:
                return
            offset = next_offset

    async def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: dict[str, str] | None = None,
        authorization: str | None = None,
    ) -> Any:
        """One API call. ``authorization`` replaces the service token ("" sends none)."""
        request = self._client.build_request(method, path, params=params, json=json, data=data)
        if authorization is not None:
            del request.headers["Authorization"]
            if authorization:
                request.headers["Authorization"] = authorization
        started = time.perf_counter()
        failure: HubError | None = None
        try:
            response = await self._client.send(request)
            return self._result(response, method, path, what)
        except httpx.TimeoutException as err:
            failure = HubUnavailable(
                f"{method} {self.api_url}/{path} timed out. Is the hub up and reachable "
                "from this host? Check JUPYTERHUB_API_URL.",
                user_message=NOTHING_SHARED,
            )
            raise failure from err
        except httpx.TransportError as err:
            failure = HubUnavailable(
                f"cannot connect to JupyterHub at {self.api_url} ({err.__class__.__name__}: "
                f"{err}). Is the hub running and JUPYTERHUB_API_URL right?",
                user_message=NOTHING_SHARED,
            )
            raise failure from err
        except HubError as err:
            failure = err
            raise
        finally:
            self.latency_seconds = time.perf_counter() - started
            if self._observer is not None:
                self._observer(method, endpoint_template(path), self.latency_seconds, failure)

    def _result(self, response: httpx.Response, method: str, path: str, what: str) -> Any:
        status = response.status_code
        # Operators read the URL called, not the path below the API ("" for its root);
        # a 404's message (shown in Slack, as user_message) keeps the short path.
        url = f"{self.api_url}/{path}"
        if status < 300:
            if status == 204 or not response.content:
                return {}
            try:
                return response.json()
            except ValueError as err:
                raise HubError(
                    f"{method} {url}: the hub answered {status} with a body that is not "
                    "JSON. Does JUPYTERHUB_API_URL end in /hub/api?",
                    status=status,
                    user_message=NOTHING_SHARED,
                ) from err
        reason = _hub_message(response)
        if status == 404:
            raise HubNotFound(f"{what} not found ({method} {path}: {reason})", status=status)
        if status in (401, 403):
            raise HubAuthError(
                f"JupyterHub refused {method} {url} with {status} ({reason}). Check "
                "JUPYTERHUB_API_TOKEN and that the sharebot service has the role from the "
                f"README (scopes {', '.join(REQUIRED)}). `sharebot check` lists what is "
                "missing.",
                status=status,
                user_message="sharebot is not allowed to do that on JupyterHub; "
                "nothing was shared. Ask your hub admin to check sharebot's role.",
            )
        if status >= 500:
            raise HubUnavailable(
                f"JupyterHub failed {method} {url} with {status} ({reason}).",
                status=status,
                user_message=NOTHING_SHARED,
            )
        if 300 <= status < 400:  # the API answers, it does not redirect: a wrong URL
            where = response.headers.get("location", "")[:200]
            raise HubError(
                f"{method} {url} was redirected ({status}{f' to {where}' if where else ''}) "
                "instead of answering: that is not JupyterHub's API. Set JUPYTERHUB_API_URL "
                "to the hub's API as this host reaches it (it ends in /hub/api).",
                status=status,
                user_message=NOTHING_SHARED,
            )
        raise HubError(
            f"JupyterHub refused {method} {url} with {status} ({reason}).",
            status=status,
            user_message=f"JupyterHub refused: {reason}. Nothing was shared.",
        )


def _malformed(method: str, path: str, err: Exception) -> HubError:
    return HubError(
        f"{method} {path}: JupyterHub answered with something sharebot cannot read "
        f"({err.__class__.__name__}: {err}). Is JUPYTERHUB_API_URL the API of JupyterHub "
        "5 or later?",
        user_message="JupyterHub gave an answer sharebot could not read; nothing was changed. "
        "Try again, or ask your hub admin to check sharebot's log.",
    )


S = TypeVar("S", bound=Share)


def _one_holder(share: S) -> S:
    """A share names a user or a group: one without either is an answer we cannot read."""
    if (share.user is None) == (share.group is None):
        raise ValueError("a share naming neither a user nor a group (or both)")
    return share


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {type(value).__name__}")
    return value


def _name(value: Any) -> str | None:
    """The ``name`` of a user/group/server object in an answer (None when absent)."""
    if value is None:
        return None
    name = value["name"]
    if not isinstance(name, str):
        raise ValueError(f"expected a name, got {type(name).__name__}")
    return name


def _count(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a count, got {value!r:.40}")
    return value


def _scopes(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ValueError("expected a list of scopes")
    return tuple(value)


def _hub_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason_phrase or "no detail"
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return response.reason_phrase or "no detail"
