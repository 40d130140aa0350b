"""Reconciliation: what the hub really has, against what sharebot believes.

For one owner, given our open grants (read *before* listing the hub's shares) and the
hub's shares of all the owner's servers, :func:`plan` says what to record::

    our ACTIVE grant, its share missing in the hub   -> revoked in the hub: close it,
                                                        never revoke it again
    a hub share no open grant of ours explains       -> external: recorded, reported in
                                                        the digest, never revoked by itself
    a recorded external share missing in the hub     -> gone

Grants are read before shares so that a grant accepted in between is not mistaken for one
revoked in the hub: a grant only becomes ACTIVE after its share exists. Invited grants are
left to the sweep (their share appears when the link is used), and so are ending grants
(the sweep's revocation is idempotent).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.grants import OPEN_STATES, Grant, GrantState


class ShareKind(enum.StrEnum):
    USER = "user"
    GROUP = "group"


@dataclass(frozen=True)
class HubShare:
    """One share as the hub lists it (``GET /hub/api/shares/{owner}``)."""

    server: str
    kind: ShareKind
    name: str
    scopes: tuple[str, ...] = ()
    created_at: datetime | None = None

    @property
    def key(self) -> tuple[str, ShareKind, str]:
        return (self.server, self.kind, self.name)


@dataclass(frozen=True)
class ExternalShare:
    """A share sharebot did not make, as recorded by reconciliation."""

    id: int
    owner_hub: str
    server: str
    kind: ShareKind
    name: str
    scopes: tuple[str, ...]
    hub_created_at: datetime | None
    first_seen: datetime
    last_seen: datetime
    gone_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    snoozed_until: datetime | None = None

    @property
    def key(self) -> tuple[str, ShareKind, str]:
        return (self.server, self.kind, self.name)

    @property
    def since(self) -> datetime:
        """Since when the share exists: the hub's creation time, else when we first saw it."""
        return self.hub_created_at or self.first_seen

    @property
    def present(self) -> bool:
        """Still in the hub as far as we know."""
        return self.gone_at is None and self.revoked_at is None

    @property
    def label(self) -> str:
        """Stable form for logs: ``external:3 owner/gpu -> user alice``."""
        return f"external:{self.id} {self.owner_hub}/{self.server} -> {self.kind} {self.name}"


def kind_of(grant: Grant) -> ShareKind:
    """The kind of hub share a grant gives: a user's, or a hub group's."""
    return ShareKind.GROUP if grant.for_group else ShareKind.USER


@dataclass
class Plan:
    revoked_in_hub: list[Grant] = field(default_factory=list)
    external: list[HubShare] = field(default_factory=list)
    gone: list[ExternalShare] = field(default_factory=list)


def plan(
    owner_hub: str, grants: list[Grant], shares: list[HubShare], known: list[ExternalShare]
) -> Plan:
    """What to record for ``owner_hub`` (see the module docstring)."""
    mine = [g for g in grants if g.owner_hub == owner_hub and g.state in OPEN_STATES]
    in_hub = {s.key for s in shares}
    explained = {(g.server, kind_of(g), name) for g in mine for name in (g.holder, g.recipient_hub)}
    result = Plan()
    result.revoked_in_hub = [
        g
        for g in mine
        if g.state is GrantState.ACTIVE and (g.server, kind_of(g), g.holder) not in in_hub
    ]
    result.external = [s for s in shares if s.key not in explained]
    result.gone = [
        e for e in known if e.owner_hub == owner_hub and e.present and e.key not in in_hub
    ]
    return result
