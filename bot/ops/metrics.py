"""Prometheus metrics, served at ``GET /metrics``. docs/operations.md lists every one.

One :class:`Metrics` per runtime, each with its own ``CollectorRegistry`` (nothing global, so
tests can build as many as they like). Counters are fed from three seams, not from the domain:

* the hub client's call observer (latency by method and endpoint template, hub failures),
* the Slack messenger's failure hook (deliveries Slack refused or that never arrived),
* the repository's audit hook (grants created, revocations done or failed).

Gauges about the state of things (grants by state, pending work) are read from the database
when Prometheus scrapes, by :class:`StoreCollector`, so every replica reports the same truth.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from bot.domain.decisions import DecisionState
from bot.domain.grants import GrantState
from bot.domain.outbox import NoticeState
from bot.errors import HubAuthError, HubError, HubNotFound, HubUnavailable
from bot.store.models import DecisionRow, GrantRow, OutboxRow

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST

#: Failure kinds (the ``kind`` label of ``sharebot_failures_total``).
FAILURE_KINDS = ("hub_unavailable", "hub_auth", "hub_refused", "slack_delivery")

#: Audit actions that end a grant's hub share (ending -> expired | revoked), and a failed try.
_REVOKED_ACTIONS = frozenset({"expired", "revoked", "flag_removed"})
_REVOKE_FAILED_ACTIONS = frozenset({"revoke_failed", "withdraw_failed", "flag_remove_failed"})

# Hub calls are local API calls: most take milliseconds; a slow hub shows in the top buckets.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def hub_failure_kind(error: HubError) -> str | None:
    """The ``kind`` label for a hub error; None for answers that are not failures (404)."""
    if isinstance(error, HubNotFound):
        return None
    if isinstance(error, HubUnavailable):
        return "hub_unavailable"
    if isinstance(error, HubAuthError):
        return "hub_auth"
    return "hub_refused"


class Metrics:
    """sharebot's metrics. Build one per runtime; pass ``engine`` for the scrape-time gauges."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.grants_created = Counter(
            "sharebot_grants_created", "Grants created (one per recipient invited).", registry=r
        )
        self.revocations = Counter(
            "sharebot_revocations",
            "Attempts to end a grant's hub share: ok (the hub confirmed, or the share was "
            "kept on purpose) or failed (retried on the next pass).",
            ["result"],
            registry=r,
        )
        self.failures = Counter(
            "sharebot_failures",
            "Failures talking to the hub or delivering Slack messages, by kind.",
            ["kind"],
            registry=r,
        )
        self.hub_latency = Histogram(
            "sharebot_hub_request_duration_seconds",
            "Time taken by JupyterHub API calls, by HTTP method and endpoint template.",
            ["method", "endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.notices_given_up = Counter(
            "sharebot_notices_given_up",
            "Outbox notices given up (Slack refused them for good, or for a day).",
            registry=r,
        )
        self.job_last_success = Gauge(
            "sharebot_job_last_success_timestamp_seconds",
            "Unix time of each periodic job's last successful run.",
            ["job"],
            registry=r,
        )
        for result in ("ok", "failed"):
            self.revocations.labels(result=result)
        for kind in FAILURE_KINDS:
            self.failures.labels(kind=kind)
        if engine is not None:
            r.register(StoreCollector(engine))

    # -- the seams ------------------------------------------------------------------------

    def hub_call(self, method: str, endpoint: str, seconds: float, error: HubError | None) -> None:
        """:data:`bot.hub.client.CallObserver`."""
        self.hub_latency.labels(method=method, endpoint=endpoint).observe(seconds)
        kind = hub_failure_kind(error) if error is not None else None
        if kind is not None:
            self.failures.labels(kind=kind).inc()

    def slack_failed(self) -> None:
        """A Slack Web API call that Slack refused or that could not reach Slack."""
        self.failures.labels(kind="slack_delivery").inc()

    def notice_given_up(self) -> None:
        """A notice the outbox stopped trying to deliver."""
        self.notices_given_up.inc()

    def audited(self, action: str) -> None:
        """Told of every audit event once its transaction has committed."""
        if action == "invite":
            self.grants_created.inc()
        elif action in _REVOKED_ACTIONS:
            self.revocations.labels(result="ok").inc()
        elif action in _REVOKE_FAILED_ACTIONS:
            self.revocations.labels(result="failed").inc()

    def job_succeeded(self, job: str, at: datetime | None = None) -> None:
        """Record a periodic job's successful run (``job`` is a fixed name: sweep, digest)."""
        self.job_last_success.labels(job=job).set(at.timestamp() if at else time.time())

    # -- exposition -----------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes (reads the database: call off the event loop)."""
        return generate_latest(self.registry)


class StoreCollector(Collector):
    """Gauges computed from the database at scrape time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def describe(self) -> Iterator[Metric]:
        return iter(self._families())

    def _families(self) -> tuple[GaugeMetricFamily, ...]:
        return (
            GaugeMetricFamily(
                "sharebot_database_up", "1 when the database answered this scrape, else 0."
            ),
            GaugeMetricFamily("sharebot_grants", "Grants by state.", labels=["state"]),
            GaugeMetricFamily(
                "sharebot_pending",
                "Work waiting: invitations (links not used yet), revocations (grants in "
                "`ending`, retried every pass), decisions (requests and approvals) and "
                "outgoing_messages (notices Slack refused, in the outbox to retry).",
                labels=["work"],
            ),
        )

    def collect(self) -> Iterator[Metric]:
        up, grants, pending = self._families()
        try:
            with self.engine.connect() as connection:
                by_state = dict(
                    connection.execute(
                        select(GrantRow.state, func.count()).group_by(GrantRow.state)
                    ).all()
                )
                decisions = connection.execute(
                    select(func.count())
                    .select_from(DecisionRow)
                    .where(DecisionRow.state == DecisionState.PENDING.value)
                ).scalar_one()
                outgoing = connection.execute(
                    select(func.count())
                    .select_from(OutboxRow)
                    .where(OutboxRow.state == NoticeState.PENDING.value)
                ).scalar_one()
        except SQLAlchemyError as err:
            log.warning("metrics: cannot read the database: %s", err.__class__.__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for state in GrantState:
            grants.add_metric([state.value], by_state.get(state.value, 0))
        pending.add_metric(["invitations"], by_state.get(GrantState.INVITED.value, 0))
        ending = (GrantState.ENDING, GrantState.WITHDRAWING)  # the hub has not confirmed yet
        pending.add_metric(["revocations"], sum(by_state.get(s.value, 0) for s in ending))
        pending.add_metric(["decisions"], decisions)
        pending.add_metric(["outgoing_messages"], outgoing)
        yield up
        yield grants
        yield pending
