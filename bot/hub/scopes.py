"""The JupyterHub scopes sharebot's service role needs, and how to tell whether a token has them.

``REQUIRED`` is the one list: ``deploy/jupyterhub_config.py`` grants exactly it (a test checks),
docs/jupyterhub.md explains each, and ``sharebot check`` compares it with what the hub reports
for the token (``GET /hub/api/user`` -> ``scopes``). :func:`over_broad` names what the token holds
beyond that (``sharebot check`` and ``sharebot serve`` warn about it). Pure: no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

#: Scopes sharebot cannot work without, with what each is for.
REQUIRED: dict[str, str] = {
    "shares": "create and delete share codes, list and revoke shares",
    "read:users:name": "check that a hub user exists (linking, email mapping)",
    "read:users:shares": "see what a user has been given",
    "list:users": "walk users (reconciliation)",
    "read:servers": "list a user's named servers",
}

#: Scopes only some features need.
OPTIONAL: dict[str, str] = {
    "servers": "`manage` shares (start/stop rights for the recipient)",
    "read:users:activity": "recipients' last activity in the digest (and SHAREBOT_STALE_INACTIVE)",
    "read:groups:name": "shares with hub groups (`/share-server group:NAME`)",
}

#: Scopes docs/jupyterhub.md recommends narrowing with a filter (``shares!group=slack-sharing``).
NARROWABLE = frozenset({"shares", "servers"})

#: JupyterHub's scope hierarchy (``jupyterhub.scopes.scope_definitions`` "subscopes"; a test
#: compares the two). A token holding a key also holds everything below it.
SUBSCOPES: dict[str, tuple[str, ...]] = {
    "admin:users": ("admin:auth_state", "users", "read:roles:users", "delete:users"),
    "users": ("read:users", "list:users", "users:activity"),
    "list:users": ("read:users:name",),
    "read:users": ("read:users:name", "read:users:groups", "read:users:activity"),
    "users:activity": ("read:users:activity",),
    "admin:servers": ("admin:server_state", "servers"),
    "servers": ("read:servers", "start:servers", "delete:servers"),
    "read:servers": ("read:users:name",),
    "users:shares": ("read:users:shares",),
    "groups:shares": ("read:groups:shares",),
    "shares": ("access:servers", "read:shares", "users:shares", "groups:shares"),
    # not needed by sharebot; listed so that a warning about them names only the broadest
    "read:roles": ("read:roles:users", "read:roles:services", "read:roles:groups"),
    "tokens": ("read:tokens",),
    "admin:groups": ("groups", "read:roles:groups", "delete:groups"),
    "groups": ("read:groups", "list:groups"),
    "list:groups": ("read:groups:name",),
    "read:groups": ("read:groups:name",),
    "admin:services": ("list:services", "read:services", "read:roles:services"),
    "list:services": ("read:services:name",),
    "read:services": ("read:services:name",),
}


class Grant(enum.StrEnum):
    EXACT = "granted"
    IMPLIED = "implied"  # by a broader scope the token holds
    FILTERED = "filtered"  # only for some resources (``scope!filter``)
    MISSING = "missing"


@dataclass(frozen=True)
class ScopeStatus:
    scope: str
    status: Grant
    via: str = ""  # the parent scope, or the filter(s)

    @property
    def ok(self) -> bool:
        """Good enough to run: held, implied, or narrowed where narrowing is recommended."""
        if self.status is Grant.FILTERED:
            return self.scope in NARROWABLE
        return self.status is not Grant.MISSING

    def describe(self) -> str:
        if self.status is Grant.IMPLIED:
            return f"{self.scope} (implied by {self.via})"
        if self.status is Grant.FILTERED:
            return f"{self.scope} (only {self.via})"
        return self.scope


def _below(scope: str) -> set[str]:
    """Every scope ``scope`` implies, itself excluded."""
    found: set[str] = set()
    todo = list(SUBSCOPES.get(scope, ()))
    while todo:
        sub = todo.pop()
        if sub not in found:
            found.add(sub)
            todo.extend(SUBSCOPES.get(sub, ()))
    return found


def evaluate(needed: Iterable[str], granted: Iterable[str]) -> list[ScopeStatus]:
    """How each needed scope stands given the token's scopes (exact match or a known parent)."""
    held = set()
    parents: dict[str, str] = {}
    filters: dict[str, list[str]] = {}
    for entry in granted:
        base, bang, resource = entry.partition("!")
        if bang:
            for scope in {base, *_below(base)}:
                filters.setdefault(scope, []).append(resource)
            continue
        held.add(base)
        for implied in _below(base):
            parents.setdefault(implied, base)
    result = []
    for scope in needed:
        if scope in held:
            result.append(ScopeStatus(scope, Grant.EXACT))
        elif scope in parents:
            result.append(ScopeStatus(scope, Grant.IMPLIED, parents[scope]))
        elif scope in filters:
            result.append(ScopeStatus(scope, Grant.FILTERED, ", ".join(sorted(filters[scope]))))
        else:
            result.append(ScopeStatus(scope, Grant.MISSING))
    return result


#: Why some scopes that sharebot never needs are dangerous in its hands (for the warning).
DANGEROUS: dict[str, str] = {
    "admin:users": "create, change and delete any user",
    "admin:servers": "read and change any server's state",
    "admin:groups": "change any group's membership",
    "admin-ui": "the admin page",
    "admin:auth_state": "read users' stored credentials",
    "tokens": "create tokens for users",
    "inherit": "everything its owner may do",
    "users": "change users",
    "delete:users": "delete users",
    "access:services": "act on other services",
    "proxy": "change the proxy's routes",
    "shutdown": "stop the hub",
}


def allowed() -> frozenset[str]:
    """Every scope sharebot may use: the required and optional ones and what they imply."""
    wanted = {*REQUIRED, *OPTIONAL}
    return frozenset(wanted | {sub for scope in wanted for sub in _below(scope)})


def over_broad(granted: Iterable[str]) -> list[str]:
    """The token's scopes that sharebot never needs, broadest first named once.

    ``granted`` is what the hub reports for the token (``GET /hub/api/user`` -> ``scopes``,
    already expanded: ``admin:users`` arrives with ``users``, ``delete:users`` and the rest).
    A scope is over-broad when its base (the part before ``!``) is neither needed nor implied
    by a needed scope; a filter does not make ``admin:users!group=x`` harmless. A flagged
    scope implied by another flagged one is left out, so the warning names ``admin:users``
    rather than its dozen sub-scopes. Pure.
    """
    ok = allowed()
    extra = sorted({entry for entry in granted if entry.partition("!")[0] not in ok})
    bases = {entry.partition("!")[0] for entry in extra}
    implied = {sub for base in bases for sub in _below(base)}
    return [entry for entry in extra if entry.partition("!")[0] not in implied]


def describe_over_broad(extra: Iterable[str]) -> str:
    """``admin:users (create, change and delete any user), tokens (...)`` for a log line."""
    parts = []
    for entry in extra:
        why = DANGEROUS.get(entry.partition("!")[0])
        parts.append(f"{entry} ({why})" if why else entry)
    return ", ".join(parts)
