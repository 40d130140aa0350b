"""``sharebot audit``: the audit log as CSV or JSON Lines, for a time window.

Pure apart from writing to the stream it is given: the CLI reads the events
(``AuditLog.audit_log``) and passes ``now`` in.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from bot.domain.durations import looks_like_duration, parse_duration
from bot.errors import CommandError
from bot.store.audit import Audit

Format = Literal["csv", "json"]

#: Columns of the CSV export, and keys of each JSON object, in this order.
FIELDS = ("id", "at", "action", "grant_id", "actor_slack_id", "actor_hub", "detail")


def parse_bound(option: str, text: str, now: datetime) -> datetime:
    """``7d`` (that long before ``now``) or an ISO 8601 time (UTC when it names no zone)."""
    raw = text.strip()
    if looks_like_duration(raw):
        try:
            return now - parse_duration(raw)
        except CommandError as err:
            raise CommandError(f"{option} {text!r}: {err}".replace("`", "")) from None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(
            f"{option} {text!r} is neither a duration (like 7d, 12h, 30m) nor an ISO 8601 "
            "time (like 2025-01-31 or 2025-01-31T08:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``: ``2025-01-31T08:00:00.123456Z``."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def record(event: Audit) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": iso(event.at),
        "action": event.action,
        "grant_id": event.grant_id,
        "actor_slack_id": event.actor_slack_id,
        "actor_hub": event.actor_hub,
        "detail": event.detail,
    }


def write(events: Iterable[Audit], fmt: Format, out: TextIO) -> int:
    """Write the events; returns how many. CSV has a header row and ``detail`` as JSON text;
    JSON is JSON Lines (one object per line, ``detail`` an object)."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for event in events:
            row = record(event)
            row["detail"] = json.dumps(row["detail"], sort_keys=True)
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
            count += 1
    else:
        for event in events:
            out.write(json.dumps(record(event), sort_keys=False) + "\n")
            count += 1
    return count
