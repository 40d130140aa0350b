"""What a running sharebot did, as the integration tests read it: its last sweep (from
/metrics), the hub's log lines since an offset, the decisions stored."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.store.models import DecisionRow
from tests.support.app import RunningApp
from tests.support.hub import RunningHub

SWEEP = re.compile(r'^sharebot_job_last_success_timestamp_seconds\{job="sweep"\} (\S+)$', re.M)


def last_sweep(app: RunningApp) -> float:
    found = SWEEP.search(httpx.get(f"{app.url}/metrics", timeout=10).text)
    return float(found.group(1)) if found else 0.0


def hub_requests(hub: RunningHub, since: int, pattern: str) -> list[str]:
    text = hub.log_path.read_bytes()[since:].decode(errors="replace")
    return [line for line in text.splitlines() if re.search(pattern, line)]


def decisions(db: Engine) -> list[DecisionRow]:
    with Session(db) as session:
        return list(session.scalars(select(DecisionRow).order_by(DecisionRow.id)))
