"""The admins' "All shares" section of the Home tab: every open grant of every owner, a page
at a time, filtered by owner or by one owner's server.

Pure apart from :func:`load`, which reads the store: :class:`Where` is what an admin asked
for (a page, a filter), :func:`clamp` keeps it inside what there is, and :class:`AllShares`
is what the Slack layer renders. Who may see it is :class:`bot.app.home.HomeService`'s
business (``SHAREBOT_ADMINS``); the Revoke buttons go through
:meth:`bot.app.sharing.Sharing.revoke_grant`, which checks again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.grants import OPEN_STATES, Grant
from bot.store.grants import Grants

#: Grants on one page (each one block; Slack allows 100 blocks in a Home view).
PER_PAGE = 20
#: Owners, and servers, offered in the filter (Slack allows 100 options in a group).
FILTER_OPTIONS = 100
#: Longest hub user or server name a filter accepts (the database's column width).
NAME_LIMIT = 255
#: The last page anyone can ask for (a forged click asks for anything).
PAGE_LIMIT = 100_000


@dataclass(frozen=True)
class Where:
    """A page of All shares, and its filter: one owner, or one server of one owner."""

    page: int = 0  # from 0
    owner: str | None = None
    server: str | None = None  # only with ``owner``

    def __post_init__(self) -> None:
        if not 0 <= self.page <= PAGE_LIMIT:
            raise ValueError(f"page {self.page} out of range")
        for name in (self.owner, self.server):
            if name is not None and len(name) > NAME_LIMIT:
                raise ValueError("a name longer than the hub allows")
        if self.server is not None and self.owner is None:
            raise ValueError("a server filter names its owner")

    @property
    def filtered(self) -> bool:
        return self.owner is not None

    def at(self, page: int) -> Where:
        return Where(page, self.owner, self.server)


@dataclass(frozen=True)
class Present:
    """An owner's server with open grants, and how many (the filter's choices)."""

    owner: str
    server: str
    count: int


@dataclass(frozen=True)
class AllShares:
    """One page of every open grant, newest first, with what the filter can offer."""

    where: Where  # clamped: the page exists (page 0 when there is nothing)
    grants: Sequence[Grant]
    total: int  # open grants matching the filter
    present: Sequence[Present] = ()  # servers with open grants, most grants first
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.where.page > 0

    @property
    def has_next(self) -> bool:
        return self.where.page + 1 < self.pages

    @property
    def first(self) -> int:
        """The position (from 1) of the page's first grant; 0 when there is none."""
        return self.where.page * self.per_page + 1 if self.grants else 0

    def owners(self) -> list[tuple[str, int]]:
        """Owners with open grants, most first (ties by name), at most FILTER_OPTIONS."""
        counts: dict[str, int] = {}
        for p in self.present:
            counts[p.owner] = counts.get(p.owner, 0) + p.count
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return ranked[:FILTER_OPTIONS]

    def servers(self) -> list[Present]:
        """Servers with open grants, most first (ties by owner, then name)."""
        ranked = sorted(self.present, key=lambda p: (-p.count, p.owner, p.server))
        return ranked[:FILTER_OPTIONS]


def clamp(where: Where, total: int, per_page: int = PER_PAGE) -> Where:
    """``where`` with its page moved onto the last page when past it (a revoke on the last
    page, or a stale Next button, shows what is there rather than an empty page)."""
    pages = max(1, -(-total // per_page))
    return where.at(min(where.page, pages - 1))


async def load(grants: Grants, where: Where, per_page: int = PER_PAGE) -> AllShares:
    """Read one page of every open grant (and the filter's choices) from the store."""
    present = await asyncio.to_thread(grants.open_servers, states=OPEN_STATES)
    page, total = await _page(grants, where, per_page)
    fitted = clamp(where, total, per_page)
    if fitted != where:  # past the end: read the last page instead
        page, total = await _page(grants, fitted, per_page)
        fitted = clamp(fitted, total, per_page)
    return AllShares(
        where=fitted,
        grants=page,
        total=total,
        present=[Present(o, s, n) for o, s, n in present],
        per_page=per_page,
    )


async def _page(grants: Grants, where: Where, per_page: int) -> tuple[list[Grant], int]:
    return await asyncio.to_thread(
        grants.newest_grants,
        states=OPEN_STATES,
        limit=per_page,
        offset=where.page * per_page,
        owner_hub=where.owner,
        server=where.server,
    )
