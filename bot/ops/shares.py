"""``sharebot shares``: the open shares, as a table, CSV or JSON Lines.

From the database (the default): sharebot's open grants, and the shares reconciliation
found on the hub that sharebot did not make (still present as far as it knows). With
``--live``: what the hub has now, every share of every server of each owner, each marked
with the open grant that explains it, if any (the matching rule is reconciliation's:
:func:`bot.domain.reconcile.plan`).

Pure apart from :func:`live_rows` (the hub) and writing to the stream it is given. Never
a share code, its id, an accept link or a note: only who holds what, since when, until when.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from bot.domain.grants import Grant
from bot.domain.reconcile import ExternalShare
from bot.errors import HubError
from bot.hub.client import HubClient, OwnerShare

Format = Literal["table", "csv", "json"]

#: Columns of the CSV, keys of each JSON object, in this order: a stable interface.
FIELDS = (
    "source",  # grant (ours), external (reconciliation found it), hub (--live)
    "owner",  # the hub user whose server it is
    "server",  # "" for the default server
    "kind",  # user | group
    "name",  # who holds it: a hub user (or group)
    "slack_user",  # the grant's recipient in Slack; "" for others
    "state",  # a grant's state (invited, active, ending, withdrawing); external; "" if none
    "since",  # ISO 8601 UTC: accepted (else invited), or the hub's creation time
    "expires_at",  # ISO 8601 UTC; "" until revoked or not ours
    "grant_id",  # our grant; "" for others
    "by_sharebot",  # true when an open grant of sharebot's explains it
)


@dataclass(frozen=True)
class Row:
    source: str
    owner: str
    server: str
    kind: str
    name: str
    slack_user: str | None
    state: str
    since: datetime | None
    expires_at: datetime | None
    grant_id: int | None
    by_sharebot: bool

    def record(self) -> dict[str, Any]:
        """The JSON object (times as ISO 8601 UTC, absent values as null)."""
        data = asdict(self)
        data["since"] = iso(self.since) if self.since else None
        data["expires_at"] = iso(self.expires_at) if self.expires_at else None
        return {k: data[k] for k in FIELDS}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def from_grant(grant: Grant) -> Row:
    return Row(
        source="grant",
        owner=grant.owner_hub,
        server=grant.server,
        kind=grant.recipient_kind.value,
        name=grant.holder,
        slack_user=grant.recipient_slack_id or None,
        state=grant.state.value,
        since=grant.accepted_at or grant.created_at,
        expires_at=grant.expires_at,
        grant_id=grant.id,
        by_sharebot=True,
    )


def from_external(share: ExternalShare) -> Row:
    return Row(
        source="external",
        owner=share.owner_hub,
        server=share.server,
        kind=share.kind.value,
        name=share.name,
        slack_user=None,
        state="external",
        since=share.since,
        expires_at=None,
        grant_id=None,
        by_sharebot=False,
    )


def from_hub(owner: str, share: OwnerShare, grants: Sequence[Grant]) -> Row:
    """A share the hub lists, with the open grant of ours that explains it (if any)."""
    name = share.group or share.user or ""
    group = bool(share.group)
    ours = next(
        (
            g
            for g in grants
            if g.owner_hub == owner
            and g.server == share.server
            and g.for_group == group
            and name in (g.holder, g.recipient_hub)
        ),
        None,
    )
    return Row(
        source="hub",
        owner=owner,
        server=share.server,
        kind="group" if share.group else "user",
        name=name,
        slack_user=(ours.recipient_slack_id or None) if ours else None,
        state=ours.state.value if ours else "",
        since=share.created_at,
        expires_at=ours.expires_at if ours else None,
        grant_id=ours.id if ours else None,
        by_sharebot=ours is not None,
    )


def stored_rows(grants: Iterable[Grant], externals: Iterable[ExternalShare]) -> list[Row]:
    return ordered([*map(from_grant, grants), *map(from_external, externals)])


async def live_rows(
    hub: HubClient, owners: Iterable[str], grants: Sequence[Grant]
) -> tuple[list[Row], list[tuple[str, HubError]]]:
    """Every owner's shares as the hub has them now; (rows, the owners it could not list)."""
    rows: list[Row] = []
    failed: list[tuple[str, HubError]] = []
    for owner in sorted(set(owners)):
        try:
            listed = await hub.owner_shares(owner)
        except HubError as err:
            failed.append((owner, err))
            continue
        rows += [from_hub(owner, share, grants) for share in listed if share.user or share.group]
    return ordered(rows), failed


def ordered(rows: Iterable[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (r.owner, r.server, r.kind, r.name, r.grant_id or 0))


def write(rows: Sequence[Row], fmt: Format, out: TextIO) -> None:
    """CSV has a header row (empty cells for absent values, ``true``/``false``); JSON is
    JSON Lines; the table is for people (names made printable, times to the minute)."""
    if fmt == "json":
        for row in rows:
            out.write(json.dumps(row.record(), ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            record = row.record()
            record["by_sharebot"] = "true" if row.by_sharebot else "false"
            writer.writerow({k: "" if v is None else v for k, v in record.items()})
    else:
        out.write(table(rows))


#: The table's columns: heading, and the cell of a row.
_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("OWNER", lambda r: r.owner),
    ("SERVER", lambda r: r.server or "(default)"),
    ("HOLDER", lambda r: r.name if r.kind == "user" else f"group:{r.name}"),
    ("SLACK", lambda r: r.slack_user or "-"),
    ("STATE", lambda r: r.state or "-"),
    ("SINCE", lambda r: _minute(r.since)),
    ("ENDS", lambda r: _ends(r)),
    ("GRANT", lambda r: str(r.grant_id) if r.grant_id is not None else "-"),
    ("SHAREBOT", lambda r: "yes" if r.by_sharebot else "no"),
)
#: The widest a name is shown in the table (the JSON and CSV have it whole).
CELL_LIMIT = 40


def table(rows: Sequence[Row]) -> str:
    if not rows:
        return "no open shares\n"
    cells = [[_printable(cell(r)) for _, cell in _COLUMNS] for r in rows]
    heads = [h for h, _ in _COLUMNS]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    lines = [heads, *cells]
    text = "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )
    return text + f"\n{len(rows)} share{'s' if len(rows) != 1 else ''}\n"


def _minute(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ") if moment else "-"


def _ends(row: Row) -> str:
    if row.expires_at is not None:
        return _minute(row.expires_at)
    return "until revoked" if row.grant_id is not None else "-"


def _printable(text: str) -> str:
    """No terminal control from a hub name: non-printable characters become ``?``."""
    flat = "".join(c if c.isprintable() else "?" for c in text)
    return flat if len(flat) <= CELL_LIMIT else flat[: CELL_LIMIT - 1] + "…"
