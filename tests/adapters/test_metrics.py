"""Metrics: endpoint templates, the three seams (hub calls, Slack failures, audit), gauges."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from bot.domain.grants import EndReason, GrantState
from bot.errors import HubAuthError, HubNotFound, HubUnavailable, SlackDeliveryError
from bot.hub.client import HubClient, endpoint_template
from bot.ops.metrics import Metrics
from bot.sandbox.fake_slack import FakeSlack
from bot.slack.messenger import SlackMessenger, make_web_client
from bot.store.db import make_engine
from bot.store.grants import Grants, NewGrant
from tests.support import factories

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return samples(metrics).get((name, tuple(sorted(labels.items()))))


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("", "/"),
        ("user", "user"),
        ("users/alice", "users/{user}"),
        ("users/alice/shared/owner/gpu", "users/{user}/shared/{owner}/{server}"),
        ("users/alice/servers/gpu", "users/{user}/servers/{server}"),
        ("users/alice/tokens", "users/{user}/{arg}"),
        ("shares/alice/", "shares/{owner}/{server}"),
        ("shares/alice/gpu", "shares/{owner}/{server}"),
        ("share-codes/al%2Fice/gpu", "share-codes/{owner}/{server}"),
        ("oauth2/token", "oauth2/token"),
        ("secret-thing/alice", "{other}"),
    ],
)
def test_endpoint_template(path: str, template: str) -> None:
    assert endpoint_template(path) == template


async def test_hub_calls_are_timed_by_template_and_failures_counted() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/hub/api/share-codes"):
            return httpx.Response(403, json={"message": "nope"})
        if request.url.path.startswith("/hub/api/users/ghost"):
            return httpx.Response(404, json={"message": "no such user"})
        if request.url.path.startswith("/hub/api/users/down"):
            raise httpx.ConnectError("refused")
        return httpx.Response(200, json={"items": [], "_pagination": {"next": None}})

    metrics = Metrics()
    hub = HubClient(
        "http://hub/hub/api",
        "t0ken",
        transport=httpx.MockTransport(answer),
        observer=metrics.hub_call,
    )
    async with hub:
        await hub.shares("alice", "gpu")
        with pytest.raises(HubAuthError):
            await hub.create_share_code("alice", "gpu", expires_in=60)
        assert not await hub.user_exists("ghost")
        with pytest.raises(HubUnavailable):
            await hub.user_exists("down")

    count = "sharebot_hub_request_duration_seconds_count"
    assert value(metrics, count, method="GET", endpoint="shares/{owner}/{server}") == 1
    assert value(metrics, count, method="POST", endpoint="share-codes/{owner}/{server}") == 1
    assert value(metrics, count, method="GET", endpoint="users/{user}") == 2
    assert value(metrics, "sharebot_failures_total", kind="hub_auth") == 1
    assert value(metrics, "sharebot_failures_total", kind="hub_unavailable") == 1
    assert value(metrics, "sharebot_failures_total", kind="hub_refused") == 0  # 404 is an answer
    text = metrics.exposition().decode()
    assert "alice" not in text and "ghost" not in text and "gpu" not in text


def test_hub_not_found_is_not_a_failure() -> None:
    metrics = Metrics()
    metrics.hub_call("GET", "users/{user}", 0.01, HubNotFound("gone", status=404))
    assert all(
        value(metrics, "sharebot_failures_total", kind=k) == 0
        for k in ("hub_unavailable", "hub_auth", "hub_refused", "slack_delivery")
    )


async def test_slack_delivery_failures_are_counted() -> None:
    metrics = Metrics()
    with FakeSlack(tokens={"xoxb-test"}) as fake:
        client = make_web_client("xoxb-test", fake.api_url)
        client.retry_handlers.clear()
        messenger = SlackMessenger(client, on_failure=metrics.slack_failed)
        await messenger.dm("UALICE", "hello")
        assert value(metrics, "sharebot_failures_total", kind="slack_delivery") == 0
        fake.fail_next("chat.postMessage", error="channel_not_found")
        with pytest.raises(SlackDeliveryError):
            await messenger.dm("UALICE", "hello again")
        assert value(metrics, "sharebot_failures_total", kind="slack_delivery") == 1
        fake.fail_next("chat.postMessage", error="channel_not_found")
        assert not await messenger.notify("UALICE", "best effort")  # swallowed, still counted
    assert value(metrics, "sharebot_failures_total", kind="slack_delivery") == 2


def new_grant(recipient: str = "alice") -> NewGrant:
    return factories.new_grant(recipient_slack_id="U" + recipient.upper(), recipient_hub=recipient)


def test_grant_counters_follow_the_audit_log_and_gauges_read_the_database(engine: Engine) -> None:
    metrics = Metrics(engine)
    repo = Grants(engine, on_audit=metrics.audited)
    first = repo.add_grant(new_grant("alice"), now=NOW)
    repo.add_grant(new_grant("bob"), now=NOW)
    assert value(metrics, "sharebot_grants_created_total") == 2
    assert value(metrics, "sharebot_grants", state="invited") == 2
    assert value(metrics, "sharebot_pending", work="invitations") == 2

    active = repo.transition(first, GrantState.ACTIVE, now=NOW, action="accept")
    assert active is not None
    ending = repo.transition(
        active, GrantState.ENDING, now=NOW, action="expire", end_reason=EndReason.EXPIRED.value
    )
    assert ending is not None
    assert value(metrics, "sharebot_pending", work="revocations") == 1
    repo.record_failure(ending, "hub down", now=NOW, action="revoke_failed")
    assert value(metrics, "sharebot_revocations_total", result="failed") == 1
    assert value(metrics, "sharebot_revocations_total", result="ok") == 0
    repo.transition(ending, GrantState.EXPIRED, now=NOW, action="expired")
    assert value(metrics, "sharebot_revocations_total", result="ok") == 1
    # A lost race changes nothing and counts nothing.
    assert repo.transition(ending, GrantState.EXPIRED, now=NOW, action="expired") is None
    assert value(metrics, "sharebot_revocations_total", result="ok") == 1

    assert value(metrics, "sharebot_grants", state="expired") == 1
    assert value(metrics, "sharebot_grants", state="ending") == 0
    assert value(metrics, "sharebot_pending", work="decisions") == 0
    assert value(metrics, "sharebot_database_up") == 1


def test_a_database_that_does_not_answer_is_reported_not_raised() -> None:
    broken = make_engine("sqlite:////nonexistent-dir/for/sure/db.sqlite")
    metrics = Metrics(broken)
    assert value(metrics, "sharebot_database_up") == 0
    assert value(metrics, "sharebot_grants", state="invited") is None


def test_job_last_success() -> None:
    metrics = Metrics()
    assert value(metrics, "sharebot_job_last_success_timestamp_seconds", job="sweep") is None
    metrics.job_succeeded("sweep", NOW)
    metrics.job_succeeded("digest")
    assert value(metrics, "sharebot_job_last_success_timestamp_seconds", job="sweep") == (
        NOW.timestamp()
    )
    digest = value(metrics, "sharebot_job_last_success_timestamp_seconds", job="digest")
    assert digest is not None and digest > datetime(2020, 1, 1, tzinfo=UTC).timestamp()


def test_registries_are_independent() -> None:
    one, two = Metrics(), Metrics()
    one.grants_created.inc()
    assert value(one, "sharebot_grants_created_total") == 1
    assert value(two, "sharebot_grants_created_total") == 0
