"""The scope ledger: who holds which scopes on a server, and why.

JupyterHub keeps one Share row per (server, user) and *merges* the scopes of every new
grant into it (keeping its ``created_at``), so a share's timestamp cannot tell whether a
person's access grew; only scope sets can. sharebot therefore records, for each grant:

- ``scopes``: exactly what its share code grants (``access:servers!server=o/s``, plus
  ``servers!server=o/s`` for ``manage``);
- ``earlier``: what the person held on that server when the invitation was made that no
  grant of ours accounts for (a share made in the hub, say): *earlier access*.

The rule every end follows (expiry, revoke, leave, the buttons, misuse)::

    removed = grant.scopes - grant.earlier - (scopes of the holder's other active grants)

so after every end the hub holds, for each person and server, exactly their earlier access
plus the scopes of their active grants.

Misuse is judged by scope growth against a baseline of the server's shares (taken when the
invitation was made, refreshed while its code is unused), never by comparing timestamps.
Who may have exchanged a code is anyone who now holds all its scopes (an exchange leaves
the exchanger holding them); a person whose growth is not explained by a grant of theirs
is a *suspect*. A suspect is certainly an intruder only when nobody else could have
exchanged the code; otherwise the owner may have shared with them directly in the hub
(which looks the same), so sharebot does not revoke but tells the owner, with a Revoke
button (:class:`Verdict`).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

Scopes = frozenset[str]
#: A server's shares as the hub lists them: hub user -> scopes.
ShareMap = Mapping[str, Scopes]

NO_SCOPES: Scopes = frozenset()

MANAGE = "manage"  # the extra permission: start and stop the server


def server_filter(owner_hub: str, server: str) -> str:
    """The hub's filter for one server (``server=owner/`` for the default server)."""
    return f"server={owner_hub}/{server}"


def grant_scopes(owner_hub: str, server: str, extras: Iterable[str] = ()) -> Scopes:
    """What a share code made for a grant gives: access, and with ``manage`` start/stop.

    Exactly the scopes the hub stores (it filters every scope to the server), so they can
    be compared with what ``GET /shares`` lists.
    """
    target = server_filter(owner_hub, server)
    scopes = {f"access:servers!{target}"}
    if MANAGE in extras:
        scopes.add(f"servers!{target}")
    return frozenset(scopes)


def union(sets: Iterable[Scopes]) -> Scopes:
    found: set[str] = set()
    for scopes in sets:
        found |= scopes
    return frozenset(found)


@dataclass(frozen=True)
class Held:
    """One grant's part in a person's access: what it gives and what was there before."""

    scopes: Scopes
    earlier: Scopes = NO_SCOPES

    @property
    def contribution(self) -> Scopes:
        """What this grant adds on top of the person's earlier access."""
        return self.scopes - self.earlier


def earlier_access(held: Scopes, ours: Iterable[Held], flagged: Scopes = NO_SCOPES) -> Scopes:
    """At an invitation: what the person holds that none of our open grants accounts for.

    ``ours`` are the person's open grants on the server (invited ones too: a code may have
    been exchanged before the background pass saw it); ``flagged`` is access sharebot has
    reported to the owner as unexplained and not yet settled, which is not earlier access
    either.
    """
    return held - union(g.contribution for g in ours) - flagged


def to_remove(grant: Held, others: Iterable[Scopes], undecided: Scopes = NO_SCOPES) -> Scopes:
    """At an end: the grant's scopes that nothing justifies any more.

    ``others`` are the scopes of the holder's other grants that still give access on the
    same server (active ones, and invited ones whose code the holder has exchanged).
    ``undecided`` is what pending unexplained flags hold for the owner's decision (access
    that may be a share the owner made in the hub): an end does not decide it for them;
    the owner's Revoke or Keep does.
    """
    return grant.scopes - grant.earlier - union(others) - undecided


def growth(before: ShareMap, after: ShareMap) -> dict[str, Scopes]:
    """Who holds scopes now that they did not hold in ``before``, and which."""
    grown = {user: scopes - before.get(user, NO_SCOPES) for user, scopes in after.items()}
    return {user: scopes for user, scopes in grown.items() if scopes}


@dataclass(frozen=True)
class Verdict:
    """What the exchanges of one grant's code mean.

    ``accepted``: the recipient holds the code's scopes and may have exchanged it (she
    gets the grant). ``intruders``: people who certainly used the code although it was not
    theirs, with the scopes they gained by it (to remove). ``unexplained``: people whose
    access grew by what the code gives but who may as well have been given it directly by
    the owner (to report, not to remove).
    """

    accepted: bool
    intruders: dict[str, Scopes] = field(default_factory=dict)
    unexplained: dict[str, Scopes] = field(default_factory=dict)

    @property
    def spent(self) -> bool:
        """The code was used, but not by its recipient: the invitation cannot go on."""
        return not self.accepted


def judge(
    *,
    owner_hub: str,
    recipient: str,
    code_scopes: Scopes,
    baseline: ShareMap,
    current: ShareMap,
    explained: Mapping[str, Scopes],
) -> Verdict:
    """Judge the exchanges of a code (call only when it has been exchanged since
    ``baseline`` was taken, or may have been).

    ``baseline``: the server's shares before any of these exchanges; ``current``: after
    all of them; ``explained``: per person, the scopes of their own grants that may have
    grown their access since the baseline (other codes of theirs that were exchanged,
    grants accepted since).
    """
    grown = growth(baseline, current)
    holds_all = {
        user
        for user, scopes in current.items()
        if user != owner_hub and code_scopes <= scopes  # an exchange leaves all of them
    }
    # An exchange leaves all of the code's scopes, but sharebot may have taken some of
    # them off since (another grant of that person's ended, a flag was removed): whoever
    # gained a part of them may have used the code too (never certainly: reported, not
    # removed).
    could_exchange = holds_all | {
        user for user, gained in grown.items() if user != owner_hub and gained & code_scopes
    }
    suspects: dict[str, Scopes] = {}
    for user, gained in grown.items():
        if user in (recipient, owner_hub) or user not in could_exchange:
            continue
        unexplained = (gained & code_scopes) - explained.get(user, NO_SCOPES)
        if unexplained:
            suspects[user] = unexplained
    accepted = recipient in holds_all
    verdict = Verdict(accepted=accepted)
    for user, gained in suspects.items():
        if could_exchange == {user} and user in holds_all:
            verdict.intruders[user] = gained
        else:
            verdict.unexplained[user] = gained
    return verdict


def without(shares: ShareMap, user: str, scopes: Scopes) -> dict[str, Scopes]:
    """``shares`` after ``scopes`` were removed from ``user`` (a row with none left goes)."""
    result = dict(shares)
    left = result.get(user, NO_SCOPES) - scopes
    if left:
        result[user] = left
    else:
        result.pop(user, None)
    return result


class FlagKind(enum.StrEnum):
    INTRUDER = "intruder"  # certainly used a link meant for someone else: removed
    UNEXPLAINED = "unexplained"  # a use of the link, or a share made in the hub: owner decides


class FlagState(enum.StrEnum):
    PENDING = "pending"
    REMOVED = "removed"  # the scopes were removed from the hub
    KEPT = "kept"  # the owner said it is theirs (a share made in the hub)
    GONE = "gone"  # nothing left to remove (revoked meanwhile, or now justified by a grant)


@dataclass(frozen=True)
class NewFlag:
    kind: FlagKind
    hub_user: str
    scopes: Scopes


@dataclass(frozen=True)
class AccessFlag:
    """Access a grant's link may have given to someone else (``bot.store.flags``)."""

    id: int
    kind: FlagKind
    state: FlagState
    grant_id: int | None
    owner_hub: str
    server: str
    hub_user: str
    scopes: Scopes
    created_at: datetime
    resolved_by: str | None = None
    attempts: int = 0
    last_error: str | None = None

    @property
    def label(self) -> str:
        """Stable form for logs: ``flag:3 owner/gpu -> carol``."""
        return f"flag:{self.id} {self.owner_hub}/{self.server} -> {self.hub_user}"


class Kept(enum.StrEnum):
    """What a person still has on the server after one of their grants ended."""

    NOTHING = "nothing"
    EARLIER = "earlier"  # the access they had before the grant
    OTHER_GRANT = "other_grant"  # another active grant of theirs on the same server
    UNDECIDED = "undecided"  # access reported to the owner as unexplained, still undecided


def kept_after(grant: Held, others: Iterable[Scopes], undecided: Scopes = NO_SCOPES) -> Kept:
    """What the end of ``grant`` leaves the person (arguments as in :func:`to_remove`)."""
    if grant.earlier:
        return Kept.EARLIER
    if grant.scopes & union(others):
        return Kept.OTHER_GRANT
    if grant.scopes & undecided:
        return Kept.UNDECIDED
    return Kept.NOTHING


def visibly_gained(code_scopes: Scopes, baseline: ShareMap, current: ShareMap, user: str) -> bool:
    """``user`` holds all of a code's scopes now and did not in ``baseline``: the code (or
    a share made meanwhile) gave them. When they held them already, a use of the code does
    not show."""
    return code_scopes <= current.get(user, NO_SCOPES) and not code_scopes <= baseline.get(
        user, NO_SCOPES
    )
