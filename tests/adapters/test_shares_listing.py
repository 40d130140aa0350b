"""`sharebot shares`' rows and formats (bot.ops.shares), times fixed at ``NOW``."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from bot.domain.grants import GrantState
from bot.domain.reconcile import ExternalShare, ShareKind
from bot.hub.client import OwnerShare
from bot.ops import shares
from tests.support.factories import NOW, make_grant


def external(name: str, kind: ShareKind = ShareKind.USER) -> ExternalShare:
    return ExternalShare(
        id=3,
        owner_hub="owner",
        server="gpu",
        kind=kind,
        name=name,
        scopes=("access:servers!server=owner/gpu",),
        hub_created_at=None,
        first_seen=NOW - timedelta(days=2),
        last_seen=NOW,
    )


def test_stored_rows_sorted_with_stable_fields_and_no_secret() -> None:
    grant = make_grant(id=7, code_id="sc_secret_id", note="private note")
    until_revoked = make_grant(id=8, recipient_hub="bob", accepted_hub_user=None, expires_at=None)
    rows = shares.stored_rows([until_revoked, grant], [external("carol")])
    assert [(r.owner, r.server, r.name) for r in rows] == [
        ("owner", "", "alice"),
        ("owner", "", "bob"),
        ("owner", "gpu", "carol"),
    ]
    out = io.StringIO()
    shares.write(rows, "json", out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert all(tuple(r) == shares.FIELDS for r in records)
    assert records[0]["expires_at"] == "2026-11-26T12:05:00Z" and records[1]["expires_at"] is None
    assert records[2]["since"] == "2026-11-24T12:00:00Z" and records[2]["slack_user"] is None
    for fmt in ("json", "csv", "table"):
        out = io.StringIO()
        shares.write(rows, fmt, out)
        assert "sc_secret" not in out.getvalue() and "private" not in out.getvalue()


def test_csv_and_table() -> None:
    rows = shares.stored_rows([make_grant(id=7, expires_at=None)], [external("g", ShareKind.GROUP)])
    out = io.StringIO()
    shares.write(rows, "csv", out)
    parsed = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["by_sharebot"] for r in parsed] == ["true", "false"]
    assert parsed[0]["expires_at"] == "" and parsed[1]["grant_id"] == ""
    text = shares.table(rows)
    assert "until revoked" in text and "group:g" in text and text.endswith("2 shares\n")
    assert shares.table([]) == "no open shares\n"


def test_the_table_makes_hub_names_harmless_and_short() -> None:
    rows = shares.stored_rows([], [external("evil\x1b[2J\nname" + "x" * 80)])
    text = shares.table(rows)
    assert "\x1b" not in text and text.count("\n") == 3  # header, the row, the count
    assert max(len(c.strip()) for c in text.splitlines()[1].split("  ")) == shares.CELL_LIMIT


def test_live_rows_are_marked_by_the_grant_that_explains_them() -> None:
    ours = make_grant(id=7, accepted_hub_user="alice")
    invited = make_grant(
        id=9, state=GrantState.INVITED, recipient_hub="dan", accepted_hub_user=None
    )
    listed = [
        OwnerShare(user="alice", group=None, scopes=(), created_at=NOW, server=""),
        OwnerShare(user="dan", group=None, scopes=(), created_at=NOW, server=""),
        OwnerShare(user="alice", group=None, scopes=(), created_at=NOW, server="gpu"),
        OwnerShare(user=None, group="alice", scopes=(), created_at=NOW, server=""),
    ]
    rows = {
        (r.server, r.kind, r.name): r
        for r in (shares.from_hub("owner", s, [ours, invited]) for s in listed)
    }
    assert rows[("", "user", "alice")].grant_id == 7 and rows[("", "user", "alice")].by_sharebot
    assert rows[("", "user", "dan")].state == "invited"
    assert not rows[("gpu", "user", "alice")].by_sharebot  # another server
    assert not rows[("", "group", "alice")].by_sharebot  # a group is never ours
