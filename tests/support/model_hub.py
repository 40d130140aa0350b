"""An in-memory model of JupyterHub 6.1.1's sharing API, and faults in front of any hub.

:class:`ModelHub` holds users (each with the default server ``""``, plus named servers),
groups, share codes and shares, and serves the REST API under ``/hub/api/`` to the holder of
the service token (:meth:`ModelHub.transport`). Its semantics are the hub's: ``orm.py``
(``Share.grant``, ``Share.revoke``, ``ShareCode.exchange``, ``_apply_filter``) and
``apihandlers/shares.py`` (shapes, status codes, order of checks, pagination); the request
bodies are validated by copies of the hub's pydantic models. Quirks kept on purpose:

- a missing or wrong token is a 403 ("Missing or invalid credentials."), not a 401;
- ids come from SQLite (the hub's default database): a new row gets the largest id + 1, so
  deleting the newest code frees its id for the next one (``reuse_ids=False``: never reused);
- lists count expired codes in ``total`` and drop them after slicing (short pages);
- PATCH compares its ``scopes`` unfiltered (``"servers"`` removes nothing, only
  ``"servers!server=o/s"`` does), and ``"scopes": []`` revokes everything;
- an expired code is not listed, not accepted (400) and not deleted, until the hourly purge
  (:meth:`ModelHub.purge_expired`); only at its exact expiry instant does accepting delete it;
- ``DELETE share-codes?id=`` matches the id's start (``sc_1x`` is sc_1), and an empty id
  deletes all the server's codes;
- an unknown scope name, an unknown filter kind or ``{"user": ""}`` is a 500;
- an owner may direct-share with themself; only the accept page refuses it.

Served: ``GET /``, ``GET /user``, ``GET /users/{u}``, ``GET /users/{u}/shared[/{o}/{s}]``,
``GET /shares/{o}``, ``GET|POST|PATCH|DELETE /shares/{o}/{s}``, ``GET /share-codes/{o}``,
``GET|POST|DELETE /share-codes/{o}/{s}``; anything else is a 404 saying it is not modelled.

:class:`FaultyTransport` makes chosen requests fail before or after the hub (the model or a
real one) handled them. :class:`HubWorld` is what a stateful test sees of a hub from outside
sharebot, for the model (:class:`ModelWorld`) and a real hub (:class:`RealWorld`).

Left out: spawning (named servers count as running, default servers as stopped), users' own
tokens, the accept page's HTML and ``next``, filtered service scopes (``shares!group=x``),
expiring shares, and endpoints other than those routed in :meth:`ModelHub.handle`.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Protocol, Self, TypeVar
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.sandbox.hub import RunningHub

__all__ = [
    "SCOPE_NAMES",
    "SHAREBOT_SERVICE_SCOPES",
    "FaultKind",
    "FaultyTransport",
    "FiredFault",
    "HubWorld",
    "ModelHub",
    "ModelWorld",
    "RealWorld",
]

API_PREFIX = "/hub/api"
VERSION = "6.1.1"
PAGINATION_MEDIA_TYPE = "application/jupyterhub-pagination+json"
PAGE_DEFAULT_LIMIT, PAGE_MAX_LIMIT = 50, 200  # without the media type, the default is the max

# Kept as words (compact); a unit test compares them with jupyterhub.scopes.scope_definitions.
_SCOPE_WORDS = """
(no_scope) access:servers access:services admin-ui admin:auth_state admin:groups
admin:server_state admin:servers admin:services admin:users delete:groups delete:servers
delete:users groups groups:shares inherit list:groups list:services list:users proxy read:groups
read:groups:name read:groups:shares read:hub read:metrics read:roles read:roles:groups
read:roles:services read:roles:users read:servers read:services read:services:name read:shares
read:tokens read:users read:users:activity read:users:groups read:users:name read:users:shares
self servers shares shutdown start:servers tokens users users:activity users:shares
"""
_SHAREBOT_WORDS = """
access:servers delete:servers groups:shares list:users read:groups:shares read:servers
read:shares read:users:activity read:users:name read:users:shares servers shares start:servers
users:shares
"""
#: The scope names JupyterHub 6.1.1 knows (``jupyterhub.scopes.scope_definitions``).
SCOPE_NAMES = frozenset(_SCOPE_WORDS.split())
#: What a real hub reports (``GET /hub/api/user``) for the test harness's sharebot role.
SHAREBOT_SERVICE_SCOPES = tuple(_SHAREBOT_WORDS.split())
_FILTER_PREFIXES = ("!user=", "!service=", "!group=", "!server=")
_EXACT_FILTERS = frozenset({"!user", "!service", "!server"})
_AUTH_HEADER = re.compile(r"^(?:token|bearer)\s+([^\s]+)$", flags=re.IGNORECASE)
_SHARE_CODE_ID = re.compile(r"sc_(\d+)")  # used with .match: "sc_1x" is sc_1, like the hub
_NO_CREDENTIALS = "Missing or invalid credentials."
_READ_USER = (  # UserAPIHandler.get takes any of these
    "read:users",
    "read:users:name",
    "read:servers",
    "read:users:groups",
    "read:users:activity",
    "read:roles:users",
)


# -- request bodies: the hub's own validators (apihandlers/shares.py) -----------------------


class _ScopeNotFound(KeyError):
    """``jupyterhub.scopes.ScopeNotFound`` is a KeyError: pydantic lets it through, HTTP 500."""


def _check_scopes_exist(scopes: Iterable[str]) -> None:
    for scope in scopes:
        name, _, filter_ = scope.partition("!")
        if name not in SCOPE_NAMES:
            raise _ScopeNotFound(f"Scope '{scope}' for share does not exist")
        full = f"!{filter_}"
        if filter_ and full not in _EXACT_FILTERS and not full.startswith(_FILTER_PREFIXES):
            raise _ScopeNotFound(f"Scope filter {full} in scope '{scope}' does not exist")


class BaseShareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scopes: list[str] | None = None

    @field_validator("scopes")
    @classmethod
    def _scopes_exist(cls, scopes: list[str] | None) -> list[str] | None:
        if not scopes:
            return None  # so [] means "the default" (POST) and "everything" (PATCH)
        _check_scopes_exist(scopes)
        return scopes


class ShareGrantRequest(BaseShareRequest):
    user: str | None = None
    group: str | None = None

    @model_validator(mode="after")
    def _user_group_exclusive(self) -> Self:
        if self.user and self.group:
            raise ValueError("Expected exactly one of `user` or `group`, not both.")
        if self.user is None and self.group is None:
            raise ValueError("Specify exactly one of `user` or `group`")
        return self


class ShareRevokeRequest(ShareGrantRequest):
    pass


class ShareCodeGrantRequest(BaseShareRequest):
    expires_in: Annotated[int, Field(ge=60, le=525600 * 60)] = 86400


_Request = TypeVar("_Request", bound=BaseShareRequest)


class _HTTPError(Exception):
    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message


def _crash() -> _HTTPError:
    """What the hub answers when a handler raises something other than an HTTPError."""
    return _HTTPError(500, "Internal Server Error")


def _parse(model: type[_Request], body: Any) -> _Request:
    if not isinstance(body, dict):
        raise _crash()  # Model(**[...]) is a TypeError
    try:
        return model(**body)
    except ValidationError as err:
        raise _HTTPError(400, str(err)) from err


def _json_body(request: httpx.Request) -> Any:
    if not request.content:
        return {}
    try:
        return json.loads(request.content.strip().decode("utf-8", "replace")) or {}
    except ValueError as err:
        raise _HTTPError(400, "Invalid JSON in body of request") from err


def _apply_filter(scopes: Iterable[str], owner: str, server: str) -> list[str]:
    """``_Share._apply_filter``: every scope gets ``!server=owner/server``; other filters: 400."""
    server_filter = f"server={owner}/{server}"
    filtered = set()
    for scope in scopes:
        base, _, filter_ = scope.partition("!")
        if filter_ and filter_ != server_filter:
            raise _HTTPError(
                400, f"!{filter_} not allowed on sharing {scope}, only !{server_filter}"
            )
        filtered.add(f"{base}!{server_filter}")
    return sorted(filtered)


def _argument(request: httpx.Request, name: str) -> str | None:
    """Tornado's ``get_argument``: the last value, stripped."""
    values = request.url.params.get_list(name)
    return values[-1].strip() if values else None


def _iso(value: datetime | None) -> str | None:
    """``jupyterhub.utils.isoformat``."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def _same(secret: str, given: str) -> bool:
    return secrets.compare_digest(secret.encode(), given.encode())


def _code_of(accept_url_or_code: str) -> str:
    if "code=" not in accept_url_or_code:
        return accept_url_or_code
    return parse_qs(urlsplit(accept_url_or_code).query).get("code", [""])[0]


# -- the model -------------------------------------------------------------------------------


@dataclass
class _Server:
    owner: str
    name: str
    ready: bool
    started: datetime | None


@dataclass
class _User:
    name: str
    servers: dict[str, _Server]
    last_activity: datetime | None = None


@dataclass
class _Code:
    id: int
    code: str = field(repr=False)
    owner: str
    server: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    exchange_count: int = 0
    last_exchanged_at: datetime | None = None


@dataclass
class _Share:
    id: int
    owner: str
    server: str
    scopes: list[str]
    created_at: datetime
    user: str | None = None
    group: str | None = None


_Row = TypeVar("_Row", _Code, _Share)
_Answer = tuple[int, Any]  # status, JSON body (None: no body)


class ModelHub:
    """JupyterHub's sharing API in memory. ``now`` is the clock (timezone-aware UTC)."""

    def __init__(
        self,
        now: Callable[[], datetime],
        *,
        users: Iterable[str] = (),
        service_name: str = "sharebot",
        service_token: str | None = None,
        service_scopes: Iterable[str] = SHAREBOT_SERVICE_SCOPES,
        reuse_ids: bool = True,
    ) -> None:
        self._clock = now
        self.service_name = service_name
        self.service_token = service_token or secrets.token_hex(16)
        self.service_scopes = frozenset(service_scopes)
        self.reuse_ids = reuse_ids
        self._users: dict[str, _User] = {}
        self._groups: dict[str, set[str]] = {}
        self._codes: dict[int, _Code] = {}
        self._shares: dict[int, _Share] = {}
        self._last_id = {"codes": 0, "shares": 0}
        for name in users:
            self.add_user(name)

    def now(self) -> datetime:
        value = self._clock()
        if value.tzinfo is None:
            raise ValueError("ModelHub's clock must be timezone-aware")
        return value.astimezone(UTC)

    # -- the admin's view (no HTTP) ------------------------------------------------------

    def add_user(self, name: str, servers: Iterable[str] = ()) -> None:
        """A user with the default server (stopped) and ``servers`` (named, running)."""
        user = self._users.setdefault(name, _User(name, {"": _Server(name, "", False, None)}))
        for server in servers:
            if server and server not in user.servers:
                user.servers[server] = _Server(name, server, True, self.now())
                user.last_activity = self.now()

    def add_group(self, name: str, members: Iterable[str] = ()) -> None:
        self._groups.setdefault(name, set()).update(members)

    def delete_server(self, owner: str, server: str) -> None:
        """Remove a named server; its shares and codes go with it (cascade)."""
        if not server:
            raise ValueError("the default server cannot be removed")
        del self._users[owner].servers[server]
        self._drop(lambda row: (row.owner, row.server) == (owner, server))

    def delete_user(self, name: str) -> None:
        """Remove a user; their servers, shares and codes, and shares with them, go too."""
        del self._users[name]
        for members in self._groups.values():
            members.discard(name)
        self._drop(lambda row: row.owner == name or getattr(row, "user", None) == name)

    def scopes_of(self, owner: str, server: str, user: str) -> frozenset[str]:
        row = self._find_share(owner, server, user=user)
        return frozenset(row.scopes) if row else frozenset()

    def all_scopes(self, owner: str, server: str) -> dict[str, frozenset[str]]:
        return {
            row.user: frozenset(row.scopes)
            for row in self._shares.values()
            if (row.owner, row.server) == (owner, server) and row.user is not None
        }

    def share_direct(
        self, owner: str, server: str, user: str, scopes: list[str] | None = None
    ) -> None:
        """``POST /shares/{owner}/{server}`` by an admin (raises ValueError where it is a 4xx)."""
        self._admin(
            lambda: self._grant_request(
                owner, server, {"user": user, "scopes": scopes}, SCOPE_NAMES
            )
        )

    def share_group_direct(
        self, owner: str, server: str, group: str, scopes: list[str] | None = None
    ) -> None:
        self._admin(
            lambda: self._grant_request(
                owner, server, {"group": group, "scopes": scopes}, SCOPE_NAMES
            )
        )

    def revoke_direct(
        self, owner: str, server: str, user: str, scopes: list[str] | None = None
    ) -> None:
        """``PATCH /shares/{owner}/{server}`` by an admin: scopes compared as given."""
        self._admin(lambda: self._revoke_request(owner, server, {"user": user, "scopes": scopes}))

    def codes(self, owner: str, server: str) -> list[dict[str, Any]]:
        """The server's live codes as the API lists them (without the code)."""
        rows = sorted(self._codes.values(), key=lambda row: row.id)
        return [
            self._code_model(row)
            for row in rows
            if (row.owner, row.server) == (owner, server) and not self._expired(row)
        ]

    def exchange(self, user: str, accept_url_or_code: str) -> bool:
        """``user`` logs in and POSTs the code to the accept page; True when it was accepted."""
        if user not in self._users:
            raise ValueError(f"{user!r} is no hub user and cannot log in")
        self._users[user].last_activity = self.now()
        row = self._find_code(_code_of(accept_url_or_code))
        if row is None or row.owner == user:  # 400 "Invalid share code", "...with yourself!"
            return False
        if self._expired(row):  # found at its last instant: exchange() deletes it, page 500s
            del self._codes[row.id]
            return False
        self._grant(row.owner, row.server, row.scopes, user=user)
        row.exchange_count += 1  # counted even when nothing changed, like the hub
        row.last_exchanged_at = self.now()
        return True

    def purge_expired(self) -> int:
        """The hub's hourly ``purge_expired_tokens``: delete expired codes."""
        return self._drop(lambda row: isinstance(row, _Code) and row.expires_at < self.now())

    def reset(self) -> None:
        """No shares and no codes anywhere (users, groups and servers stay)."""
        self._drop(lambda row: True)

    # -- HTTP ---------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        try:
            status, body = self._route(request)
        except _HTTPError as err:
            status, body = err.status, {"status": err.status, "message": err.message}
        except _ScopeNotFound:
            status, body = 500, {"status": 500, "message": "Internal Server Error"}
        if body is None:
            return httpx.Response(status)
        return httpx.Response(status, json=body)

    def _route(self, request: httpx.Request) -> _Answer:
        path = request.url.raw_path.decode("ascii").split("?", 1)[0]
        if not path.startswith(API_PREFIX):
            raise _HTTPError(404, f"not modelled: {request.method} {path}")
        parts = [unquote(part) for part in path[len(API_PREFIX) :].split("/")[1:]]
        method = request.method
        match parts:
            case [] | [""]:
                self._allow(method, {"GET"})
                return 200, {"version": VERSION}
            case ["user"]:
                self._allow(method, {"GET"})
                self._authorize(request, message=None)
                return 200, self._self_model()
            case ["users", name]:
                self._allow(method, {"GET"})
                self._authorize(request, *_READ_USER)
                return 200, self._user_model(name)
            case ["users", name, "shared", *rest] if len(rest) in (0, 2):
                self._allow(method, {"GET"})
                self._authorize(request, "read:users:shares")
                return self._shared_with(request, name, *rest)
            case ["shares", owner, *rest] if len(rest) <= 1:
                self._allow(method, {"GET", "POST", "PATCH", "DELETE"})
                server = rest[0] if rest else None
                self._authorize(request, "read:shares" if method == "GET" else "shares")
                return self._shares_endpoint(request, owner, server)
            case ["share-codes", owner, *rest] if len(rest) <= 1:
                self._allow(method, {"GET", "POST", "DELETE"})
                server = rest[0] if rest else None
                self._authorize(request, "read:shares" if method == "GET" else "shares")
                return self._codes_endpoint(request, owner, server)
        raise _HTTPError(404, f"not modelled: {method} {path}")

    @staticmethod
    def _allow(method: str, methods: set[str]) -> None:
        if method not in methods:
            raise _HTTPError(405)

    def _authorize(
        self, request: httpx.Request, *any_of: str, message: str | None = _NO_CREDENTIALS
    ) -> None:
        match = _AUTH_HEADER.match(request.headers.get("Authorization", ""))
        if not match or not _same(match.group(1), self.service_token):
            raise _HTTPError(403, message)
        if any_of and not self.service_scopes.intersection(any_of):
            raise _HTTPError(
                403,
                "Action is not authorized with current scopes; "
                f"requires any of [{', '.join(any_of)}]",
            )

    def _shares_endpoint(self, request: httpx.Request, owner: str, server: str | None) -> _Answer:
        if request.method == "GET":
            if server is None:
                self._user(owner)
                rows = [row for row in self._shares.values() if row.owner == owner]
            else:
                self._server(owner, server)
                rows = [r for r in self._shares.values() if (r.owner, r.server) == (owner, server)]
            return 200, self._page(request, rows, self._share_model)
        if server is None:
            raise _HTTPError(405)
        if request.method == "POST":
            return 200, self._share_model(
                self._grant_request(owner, server, _json_body(request), self.service_scopes)
            )
        if request.method == "PATCH":
            row = self._revoke_request(owner, server, _json_body(request))
            return 200, self._share_model(row) if row else {}
        self._server(owner, server)
        self._drop(
            lambda row: isinstance(row, _Share) and (row.owner, row.server) == (owner, server)
        )
        return 204, None

    def _grant_request(self, owner: str, server: str, body: Any, held: frozenset[str]) -> _Share:
        request = _parse(ShareGrantRequest, body)
        scopes = _apply_filter(
            request.scopes or [f"access:servers!server={owner}/{server}"], owner, server
        )
        self._server(owner, server)
        _may_grant(scopes, held)
        kind, name = ("user", request.user) if request.user else ("group", request.group)
        if not name:
            raise _crash()  # {"user": ""}: neither branch binds share_with (UnboundLocalError)
        if f"read:{kind}s:name" not in held:
            raise _HTTPError(403, f"Need scope 'read:{kind}s:name' to share with {kind}s by name")
        if name not in (self._users if kind == "user" else self._groups):
            raise _HTTPError(400, f"No such {kind}: {name}")
        return self._grant(owner, server, scopes, **{kind: name})

    def _revoke_request(self, owner: str, server: str, body: Any) -> _Share | None:
        request = _parse(ShareRevokeRequest, body)
        self._server(owner, server)
        if request.user:
            if request.user not in self._users:
                return None  # "No such user is the same as revoking"
            return self._revoke(owner, server, request.scopes, user=request.user)
        if request.group:
            if request.group not in self._groups:
                return None
            return self._revoke(owner, server, request.scopes, group=request.group)
        raise _crash()

    def _codes_endpoint(self, request: httpx.Request, owner: str, server: str | None) -> _Answer:
        if request.method == "GET":
            if server is None:
                self._user(owner)
                rows = [row for row in self._codes.values() if row.owner == owner]
            else:
                self._server(owner, server)
                rows = [r for r in self._codes.values() if (r.owner, r.server) == (owner, server)]
            return 200, self._page(request, rows, self._code_model, expired=self._expired)
        if server is None:
            raise _HTTPError(405)
        if request.method == "POST":
            return 200, self._new_code(owner, server, _json_body(request))
        code, code_id = _argument(request, "code"), _argument(request, "id")
        self._server(owner, server)
        if code:
            row = self._find_code(code, owner, server)
            if row is None:
                raise _HTTPError(404, "No matching code found")
            del self._codes[row.id]
        elif code_id:
            match = _SHARE_CODE_ID.match(code_id)
            found = self._codes.get(int(match.group(1))) if match else None
            if found is None or (found.owner, found.server) != (owner, server):
                raise _HTTPError(404, f"No code found matching id={code_id}")
            del self._codes[found.id]
        else:  # no id, or an empty one: every code of the server
            self._drop(
                lambda row: isinstance(row, _Code) and (row.owner, row.server) == (owner, server)
            )
        return 204, None

    def _new_code(self, owner: str, server: str, body: Any) -> dict[str, Any]:
        request = _parse(ShareCodeGrantRequest, body)
        scopes = _apply_filter(
            request.scopes or [f"access:servers!server={owner}/{server}"], owner, server
        )
        _may_grant(scopes, self.service_scopes)
        self._server(owner, server)
        now = self.now()
        row = _Code(
            id=self._new_id(self._codes, "codes"),
            code=secrets.token_urlsafe(32),
            owner=owner,
            server=server,
            scopes=scopes,
            created_at=now,
            expires_at=now + timedelta(seconds=request.expires_in),
        )
        self._codes[row.id] = row
        model = self._code_model(row)
        model["code"] = row.code
        model["accept_url"] = "/hub/accept-share?" + urlencode({"code": row.code})
        model["full_accept_url"] = None
        return model

    def _shared_with(self, request: httpx.Request, name: str, *rest: str) -> _Answer:
        user = self._users.get(name)
        if rest:
            owner, server = rest
            row = self._find_share(owner, server, user=name) if user else None
            if row is None:
                raise _HTTPError(404, f"No such share for user {name} on {owner}/{server}")
            return 200, self._share_model(row)
        if user is None:
            raise _HTTPError(404, f"No such user: {name}")
        groups = {group for group, members in self._groups.items() if name in members}
        rows = [r for r in self._shares.values() if r.user == name or r.group in groups]
        return 200, self._page(request, rows, self._share_model)

    # -- semantics (orm.py) -------------------------------------------------------------

    def _grant(
        self,
        owner: str,
        server: str,
        scopes: Iterable[str],
        *,
        user: str | None = None,
        group: str | None = None,
    ) -> _Share:
        """``Share.grant``: merge into the existing row, keeping its ``created_at``."""
        wanted = set(scopes)
        row = self._find_share(owner, server, user=user, group=group)
        if row is None:
            row = _Share(
                self._new_id(self._shares, "shares"), owner, server, sorted(wanted), self.now()
            )
            row.user, row.group = user, group
            self._shares[row.id] = row
        elif not wanted <= set(row.scopes):
            row.scopes = sorted(wanted | set(row.scopes))
        return row

    def _revoke(
        self,
        owner: str,
        server: str,
        scopes: list[str] | None,
        *,
        user: str | None = None,
        group: str | None = None,
    ) -> _Share | None:
        """``Share.revoke``: everything (no scopes) or exactly the given strings."""
        row = self._find_share(owner, server, user=user, group=group)
        if row is None:
            return None
        left = [] if scopes is None else [s for s in row.scopes if s not in scopes]
        if not left:
            del self._shares[row.id]
            return None
        row.scopes = left
        return row

    def _expired(self, row: _Code) -> bool:
        return row.expires_at <= self.now()  # Expiring.expired

    def _find_code(
        self, code: str, owner: str | None = None, server: str | None = None
    ) -> _Code | None:
        """``ShareCode.find``: skips codes past their expiry (not those expiring right now)."""
        for row in self._codes.values():
            here = owner is None or (row.owner, row.server) == (owner, server)
            if here and row.expires_at >= self.now() and _same(row.code, code):
                return row
        return None

    def _find_share(
        self, owner: str, server: str, *, user: str | None = None, group: str | None = None
    ) -> _Share | None:
        for row in self._shares.values():
            if (row.owner, row.server, row.user, row.group) == (owner, server, user, group):
                return row
        return None

    def _new_id(self, table: dict[int, Any], name: str) -> int:
        if self.reuse_ids:  # SQLite without AUTOINCREMENT: largest rowid + 1
            return max(table, default=0) + 1
        self._last_id[name] += 1
        return self._last_id[name]

    def _drop(self, doomed: Callable[[_Code | _Share], bool]) -> int:
        gone = 0
        for table in (self._codes, self._shares):
            for key in [key for key, row in table.items() if doomed(row)]:
                del table[key]
                gone += 1
        return gone

    def _user(self, name: str) -> _User:
        user = self._users.get(name)
        if user is None:
            raise _HTTPError(404)
        return user

    def _server(self, owner: str, server: str) -> _Server:
        user = self._users.get(owner)
        if user is None or server not in user.servers:
            raise _HTTPError(404, f"No such server: {owner}/{server}")
        return user.servers[server]

    def _admin(self, call: Callable[[], object]) -> None:
        try:
            call()
        except _HTTPError as err:
            raise ValueError(f"the hub would answer {err.status}: {err.message}") from err
        except _ScopeNotFound as err:
            raise ValueError(f"the hub would answer 500: {err}") from err

    # -- shapes (apihandlers/shares.py, apihandlers/base.py) ----------------------------

    def _page(
        self,
        request: httpx.Request,
        rows: Sequence[_Row],
        model: Callable[[_Row], dict[str, Any]],
        *,
        expired: Callable[[_Row], bool] = lambda row: False,
    ) -> dict[str, Any]:
        """``_share_list_model``: count all, slice by id, then drop expired ones."""
        offset, limit = _pagination(request)
        ordered = sorted(rows, key=lambda row: row.id)
        items = [model(row) for row in ordered[offset : offset + limit] if not expired(row)]
        following = None
        if offset + limit < len(ordered):
            query = parse_qs(request.url.query.decode(), keep_blank_values=True)
            query["offset"], query["limit"] = [str(offset + limit)], [str(limit)]
            url = str(request.url.copy_with(query=urlencode(query, doseq=True).encode()))
            following = {"offset": offset + limit, "limit": limit, "url": url}
        pagination = {"offset": offset, "limit": limit, "total": len(ordered), "next": following}
        return {"items": items, "_pagination": pagination}

    def _server_model(self, owner: str, server: str) -> dict[str, Any]:
        srv = self._users[owner].servers[server]
        return {
            "user": {"name": owner},
            "name": server,
            "url": _server_url(owner, server),
            "full_url": None,
            "ready": srv.ready,
        }

    def _share_model(self, row: _Share) -> dict[str, Any]:
        return {
            "server": self._server_model(row.owner, row.server),
            "scopes": list(row.scopes),
            "user": {"name": row.user} if row.user else None,
            "group": {"name": row.group} if row.group else None,
            "kind": "group" if row.group else "user",
            "created_at": _iso(row.created_at),
        }

    def _code_model(self, row: _Code) -> dict[str, Any]:
        return {
            "server": self._server_model(row.owner, row.server),
            "scopes": list(row.scopes),
            "id": f"sc_{row.id}",
            "created_at": _iso(row.created_at),
            "expires_at": _iso(row.expires_at),
            "exchange_count": row.exchange_count,
            "last_exchanged_at": _iso(row.last_exchanged_at),
        }

    def _self_model(self) -> dict[str, Any]:
        return {
            "admin": False,
            "kind": "service",
            "name": self.service_name,
            "token_id": "a1",
            "session_id": None,
            "scopes": sorted(self.service_scopes),
        }

    def _user_model(self, name: str) -> dict[str, Any]:
        user = self._user(name)
        model: dict[str, Any] = {"kind": "user", "admin": False, "name": name}
        if "read:users:activity" in self.service_scopes:
            model["last_activity"] = _iso(user.last_activity)
        if "read:servers" in self.service_scopes:  # running servers only
            model["servers"] = {
                srv.name: _running_server_model(srv) for srv in user.servers.values() if srv.ready
            }
        model["user_info"] = None
        return model


def _may_grant(scopes: Iterable[str], held: frozenset[str]) -> None:
    for scope in scopes:
        if scope.partition("!")[0] not in held:
            raise _HTTPError(403, f"Do not have permission to grant share with scope {scope}")


def _pagination(request: httpx.Request) -> tuple[int, int]:
    """``APIHandler.get_api_pagination``."""
    accepts = {s.strip().lower() for s in request.headers.get("Accept", "").strip().split(",")}
    default = PAGE_DEFAULT_LIMIT if PAGINATION_MEDIA_TYPE in accepts else PAGE_MAX_LIMIT
    offset, limit = _argument(request, "offset"), _argument(request, "limit")
    try:
        start = abs(int(offset)) if offset is not None else 0
        size = abs(int(limit)) if limit is not None else default
    except ValueError as err:
        raise _HTTPError(400, "Invalid argument type, offset and limit must be integers") from err
    return start, min(max(size, 1), PAGE_MAX_LIMIT)


def _server_url(owner: str, server: str) -> str:
    path = f"/user/{quote(owner, safe='@~')}/"
    return f"{path}{quote(server, safe='@~')}/" if server else path


def _running_server_model(srv: _Server) -> dict[str, Any]:
    started = _iso(srv.started)
    return {
        "name": srv.name,
        "display_name": srv.name,
        "full_name": f"{srv.owner}/{srv.name}",
        "last_activity": started,
        "started": started,
        "pending": None,
        "ready": True,
        "stopped": False,
        "url": _server_url(srv.owner, srv.name),
        "user_options": {},
        "progress_url": f"/hub/api/users/{quote(srv.owner, safe='@~')}/servers/"
        f"{quote(srv.name, safe='@~')}/progress",
        "full_url": None,
        "full_progress_url": None,
    }


# -- faults ----------------------------------------------------------------------------------

FaultKind = Literal["503", "connect", "timeout", "malformed"]
When = Literal["before", "after"]
#: Keys a reader cannot do without; "malformed" drops the first one an answer has.
_REQUIRED_KEYS = ("id", "accept_url", "version", "user", "group", "name", "scopes", "status")


@dataclass
class _Armed:
    method: str
    path_contains: str
    kind: FaultKind
    when: When
    times: int


@dataclass(frozen=True)
class FiredFault:
    method: str
    path: str  # the request's path and query, as sent
    kind: FaultKind
    when: When


class FaultyTransport(httpx.AsyncBaseTransport):
    """Wraps an async transport; armed requests fail instead of (``before``) or after
    (``after``: the hub did the work, the answer is lost) reaching it.

    Kinds: ``503`` (a JSON error answer), ``connect`` (``httpx.ConnectError`` before; after,
    ``httpx.RemoteProtocolError``, since a connection that was made cannot fail to connect),
    ``timeout`` (``httpx.ReadTimeout``), ``malformed`` (always after: the real answer with
    its JSON corrupted: in a list every item's numbers become ``"many"``, or when an item has
    none its first required key goes; a dict loses its first required key; an answer with
    nothing to corrupt (``{}``, 204) gets a body that is not JSON).
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.fired: list[FiredFault] = []
        self._armed: list[_Armed] = []

    def arm(
        self,
        method: str,
        path_contains: str,
        *,
        times: int = 1,
        kind: FaultKind,
        when: When | None = None,
    ) -> None:
        """The next ``times`` requests with ``method`` ("*": any) whose path and query
        contain ``path_contains`` fail. ``when`` defaults to before (after for malformed)."""
        when = when or ("after" if kind == "malformed" else "before")
        if kind == "malformed" and when == "before":
            raise ValueError("a malformed answer needs the hub's answer: use when='after'")
        if times < 1:
            raise ValueError("times must be at least 1")
        self._armed.append(_Armed(method.upper(), path_contains, kind, when, times))

    def armed(self) -> int:
        """How many faults are still to fire."""
        return sum(fault.times for fault in self._armed)

    def disarm(self) -> None:
        self._armed.clear()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        fault = self._take(request)
        if fault is None:
            return await self.inner.handle_async_request(request)
        self.fired.append(
            FiredFault(request.method, request.url.raw_path.decode(), fault.kind, fault.when)
        )
        if fault.when == "before":
            return _fail(request, fault.kind, after=False)
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        await response.aclose()
        if fault.kind != "malformed":
            return _fail(request, fault.kind, after=True)
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")
        ]
        return httpx.Response(
            response.status_code, headers=headers, content=_corrupt(body), request=request
        )

    async def aclose(self) -> None:
        await self.inner.aclose()

    def _take(self, request: httpx.Request) -> _Armed | None:
        path = request.url.raw_path.decode()
        for fault in self._armed:
            if fault.method in ("*", request.method) and fault.path_contains in path:
                fault.times -= 1
                if not fault.times:
                    self._armed.remove(fault)
                return fault
        return None


def _fail(request: httpx.Request, kind: FaultKind, *, after: bool) -> httpx.Response:
    if kind == "503":
        body = {"status": 503, "message": "injected fault: the hub is unavailable"}
        return httpx.Response(503, json=body, request=request)
    if kind == "connect" and after:
        raise httpx.RemoteProtocolError("injected fault: server disconnected", request=request)
    if kind == "connect":
        raise httpx.ConnectError("injected fault: connection refused", request=request)
    raise httpx.ReadTimeout("injected fault: read timed out", request=request)


def _corrupt(body: bytes) -> bytes:
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("items"), list) and data["items"]:
        data = {**data, "items": [_corrupt_item(item) for item in data["items"]]}
    elif isinstance(data, list) and data:
        data = [_corrupt_item(item) for item in data]
    elif isinstance(data, dict) and data:
        data = _drop_required(data)
    else:
        return b"<html>injected fault: not JSON</html>"
    return json.dumps(data).encode()


def _corrupt_item(item: Any) -> Any:
    if not isinstance(item, dict):
        return "many"
    numbers = [k for k, v in item.items() if isinstance(v, int | float) and not isinstance(v, bool)]
    if numbers:
        return {**item, **dict.fromkeys(numbers, "many")}
    return _drop_required(item) if item else item


def _drop_required(data: dict[str, Any]) -> dict[str, Any]:
    gone = next((key for key in _REQUIRED_KEYS if key in data), next(iter(data)))
    return {key: value for key, value in data.items() if key != gone}


# -- worlds: a hub seen from outside sharebot ------------------------------------------------


class HubWorld(Protocol):
    faults: FaultyTransport  # in front of sharebot's HubClient
    api_url: str  # for HubClient
    service_token: str

    def sharebot_transport(self) -> httpx.AsyncBaseTransport: ...
    def scopes_of(self, owner: str, server: str, user: str) -> frozenset[str]: ...
    def all_scopes(self, owner: str, server: str) -> dict[str, frozenset[str]]: ...
    def share_direct(
        self, owner: str, server: str, user: str, scopes: list[str] | None = None
    ) -> None: ...
    def revoke_direct(
        self, owner: str, server: str, user: str, scopes: list[str] | None = None
    ) -> None: ...
    def accept(self, user: str, accept_url: str) -> bool: ...
    def live_codes(self, owner: str, server: str) -> list[dict[str, Any]]: ...
    def reset(self) -> None: ...


class ModelWorld:
    api_url = "http://hub.test/hub/api"

    def __init__(self, hub: ModelHub) -> None:
        self.hub = hub
        self.service_token = hub.service_token
        self.faults = FaultyTransport(hub.transport())

    def sharebot_transport(self) -> httpx.AsyncBaseTransport:
        return self.faults

    def scopes_of(self, owner: str, server: str, user: str) -> frozenset[str]:
        return self.hub.scopes_of(owner, server, user)

    def all_scopes(self, owner: str, server: str) -> dict[str, frozenset[str]]:
        return self.hub.all_scopes(owner, server)

    def share_direct(
        self, owner: str, server: str, user: str, scopes: list[str] | None = None
    ) -> None:
        self.hub.share_direct(owner, server, user, scopes)

    def revoke_direct(
        self, owner: str, server: str, user: str, scopes: list[str] | None = None
    ) -> None:
        self.hub.revoke_direct(owner, server, user, scopes)

    def accept(self, user: str, accept_url: str) -> bool:
        return self.hub.exchange(user, accept_url)

    def live_codes(self, owner: str, server: str) -> list[dict[str, Any]]:
        return self.hub.codes(owner, server)

    def reset(self) -> None:
        self.hub.reset()


class RealWorld:
    """A :class:`RunningHub`, seen with its admin token and its accept page. ``close()`` it."""

    def __init__(self, hub: RunningHub) -> None:
        self.hub = hub
        self.api_url = hub.api_url
        self.service_token = hub.service_token
        self.faults = FaultyTransport(httpx.AsyncHTTPTransport())
        self._api = hub.client()  # kept open: a client per call makes each call 3 times slower

    def close(self) -> None:
        self._api.close()

    def sharebot_transport(self) -> httpx.AsyncBaseTransport:
        return self.faults

    def scopes_of(self, owner: str, server: str, user: str) -> frozenset[str]:
        return self.all_scopes(owner, server).get(user, frozenset())

    def all_scopes(self, owner: str, server: str) -> dict[str, frozenset[str]]:
        return {
            item["user"]["name"]: frozenset(item["scopes"])
            for item in self._pages(f"/shares/{_path(owner, server)}")
            if item.get("user")
        }

    def share_direct(
        self, owner: str, server: str, user: str, scopes: list[str] | None = None
    ) -> None:
        self._admin("POST", f"/shares/{_path(owner, server)}", {"user": user, "scopes": scopes})

    def revoke_direct(
        self, owner: str, server: str, user: str, scopes: list[str] | None = None
    ) -> None:
        self._admin("PATCH", f"/shares/{_path(owner, server)}", {"user": user, "scopes": scopes})

    def accept(self, user: str, accept_url: str) -> bool:
        response = self.hub.accept_share(user, accept_url)
        location = response.headers.get("location", "")
        return response.status_code == 302 and "accept-share" not in location

    def live_codes(self, owner: str, server: str) -> list[dict[str, Any]]:
        return self._pages(f"/share-codes/{_path(owner, server)}")

    def reset(self) -> None:
        for user in self._pages("/users", include_stopped_servers="1"):
            for server in {"", *(user.get("servers") or {})}:
                for kind in ("shares", "share-codes"):
                    self._api.delete(f"/{kind}/{_path(user['name'], server)}").raise_for_status()

    def _pages(self, path: str, **params: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            response = self._api.get(
                path,
                params={**params, "offset": offset, "limit": PAGE_MAX_LIMIT},
                headers={"Accept": PAGINATION_MEDIA_TYPE},
            )
            response.raise_for_status()
            page = response.json()
            items.extend(page["items"])
            following = page["_pagination"]["next"]
            offset = int(following["offset"]) if following else None
        return items

    def _admin(self, method: str, path: str, body: dict[str, Any]) -> None:
        response = self._api.request(method, path, json=body)
        if response.is_error:
            raise ValueError(f"the hub answered {response.status_code}: {response.text[:200]}")


def _path(owner: str, server: str) -> str:
    return f"{quote(owner, safe='')}/{quote(server, safe='')}"
