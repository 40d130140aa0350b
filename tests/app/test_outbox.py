"""The outbox: its rules, its store (one claimer wins), the messenger's hook, redelivery."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.app.notices import NoticeService, keep_undelivered
from bot.domain.outbox import (
    GIVE_UP_AFTER,
    NoticeState,
    gives_up,
    is_permanent,
    next_attempt,
    retry_delay,
)
from bot.errors import SlackDeliveryError
from bot.ops.metrics import Metrics
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.slack_client import BOT_TOKEN
from bot.slack.messenger import RATE_LIMIT_RETRIES, SlackMessenger, make_web_client
from bot.slack.port import SlackSay
from bot.store.models import AuditEvent
from bot.store.outbox import Notice, Outbox

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SECRET_TEXT = "alice accepted your share (secret-ish text)"


@pytest.fixture
def outbox(engine: Engine) -> Outbox:
    return Outbox(engine)


# -- the rules ------------------------------------------------------------------------------


def test_retries_back_off_from_30_seconds_to_at_most_an_hour() -> None:
    delays = [retry_delay(n) for n in range(1, 10)]
    assert delays[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert delays[-1] == timedelta(hours=1)
    assert delays == sorted(delays)
    assert retry_delay(10_000) == timedelta(hours=1)  # no overflow for absurd counts
    assert next_attempt(2, NOW) == NOW + timedelta(minutes=1)


def test_gives_up_after_a_day_of_tries() -> None:
    created = NOW - GIVE_UP_AFTER
    assert gives_up(created, 5, NOW)
    assert not gives_up(created + timedelta(seconds=1), 5, NOW)
    assert not gives_up(created, 0, NOW)  # never tried: try at least once


@pytest.mark.parametrize(
    ("code", "permanent"),
    [
        ("user_not_found", True),
        ("cannot_dm_bot", True),
        ("account_inactive", True),
        ("user_disabled", True),
        ("channel_not_found", True),
        ("internal_error", False),
        ("ratelimited", False),
        ("invalid_auth", False),  # a setting to fix; the notice is worth keeping
        (None, False),  # Slack not reached
    ],
)
def test_permanent_errors(code: str | None, permanent: bool) -> None:
    assert is_permanent(code) is permanent


# -- the store ------------------------------------------------------------------------------


def test_a_kept_notice_is_due_after_its_first_delay(outbox: Outbox) -> None:
    notice = outbox.add("UOWNER", SECRET_TEXT, "Slack refused: internal_error", NOW)
    assert notice.state is NoticeState.PENDING and notice.attempts == 1
    assert notice.next_attempt_at == NOW + timedelta(seconds=30)
    assert outbox.pending_count() == 1
    assert outbox.due(NOW + timedelta(seconds=29)) == []
    assert [n.id for n in outbox.due(NOW + timedelta(seconds=30))] == [notice.id]


def test_one_of_two_workers_claims_a_notice(outbox: Outbox) -> None:
    notice = outbox.add("UOWNER", SECRET_TEXT, "internal_error", NOW)
    at = NOW + timedelta(minutes=1)
    lease = timedelta(minutes=5)
    won: list[Notice | None] = []
    barrier = threading.Barrier(2)

    def claim() -> None:
        barrier.wait()
        won.append(outbox.claim(notice.id, at, lease))

    workers = [threading.Thread(target=claim) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    winners = [n for n in won if n is not None]
    assert len(winners) == 1 and winners[0].next_attempt_at == at + lease
    assert outbox.due(at) == []  # leased
    assert outbox.claim(notice.id, at + lease - timedelta(seconds=1), lease) is None
    # A sender that died holding it: the notice is due again once the lease runs out.
    assert outbox.claim(notice.id, at + lease, lease) is not None


def test_sent_failed_and_given_up_are_guarded(engine: Engine, outbox: Outbox) -> None:
    first = outbox.add("UOWNER", SECRET_TEXT, "internal_error", NOW)
    second = outbox.add("UALICE", SECRET_TEXT, "internal_error", NOW)
    later = NOW + timedelta(minutes=1)

    assert outbox.failed(first.id, "still down", later, later + timedelta(minutes=1))
    again = outbox.get(first.id)
    assert again is not None and again.attempts == 2 and again.last_error == "still down"
    assert outbox.sent(first.id, later)
    assert not outbox.sent(first.id, later)  # once
    assert not outbox.failed(first.id, "late", later, later)  # a sent notice stays sent
    sent = outbox.get(first.id)
    assert sent is not None and sent.state is NoticeState.SENT and sent.sent_at == later
    assert sent.text == ""  # no copy kept once delivered

    assert outbox.give_up(second.id, "Slack refused: user_not_found", later)
    assert not outbox.give_up(second.id, "again", later)
    assert outbox.claim(second.id, later, timedelta(minutes=5)) is None
    assert outbox.get(second.id).text == ""  # type: ignore[union-attr]
    assert outbox.pending_count() == 0

    with Session(engine) as session:
        [event] = session.scalars(select(AuditEvent)).all()
    assert event.action == "notice_given_up"
    assert event.detail["slack_user_id"] == "UALICE" and event.detail["attempts"] == 2
    assert SECRET_TEXT not in str(event.detail)


def outgoing(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value("sharebot_pending", {"work": "outgoing_messages"})


def test_pending_notices_are_a_gauge(engine: Engine, outbox: Outbox) -> None:
    metrics = Metrics(engine)
    assert outgoing(metrics) == 0
    notice = outbox.add("UOWNER", SECRET_TEXT, "internal_error", NOW)
    outbox.add("UALICE", SECRET_TEXT, "internal_error", NOW)
    assert outgoing(metrics) == 2
    outbox.sent(notice.id, NOW)
    assert outgoing(metrics) == 1


# -- the messenger's hook ------------------------------------------------------------------


class Kept:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, SlackDeliveryError]] = []

    async def __call__(self, user_id: str, text: str, error: SlackDeliveryError) -> None:
        self.calls.append((user_id, text, error))


async def test_notify_hands_a_refused_notice_to_the_hook(fake_slack: FakeSlack) -> None:
    kept = Kept()
    messenger = SlackMessenger(make_web_client(BOT_TOKEN, fake_slack.api_url), on_undelivered=kept)
    assert await messenger.notify("UOWNER", "first")  # delivered: nothing kept
    fake_slack.fail_next("chat.postMessage", error="internal_error")
    assert not await messenger.notify("UOWNER", "second")
    [(user, text, error)] = kept.calls
    assert (user, text, error.code) == ("UOWNER", "second", "internal_error")


@pytest.mark.parametrize("code", ["user_not_found", "cannot_dm_bot", "channel_not_found"])
async def test_notify_drops_a_notice_slack_will_never_take(
    fake_slack: FakeSlack, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    kept = Kept()
    messenger = SlackMessenger(make_web_client(BOT_TOKEN, fake_slack.api_url), on_undelivered=kept)
    fake_slack.fail_next("chat.postMessage", error=code)
    with caplog.at_level(logging.WARNING):
        assert not await messenger.notify("UGONE", SECRET_TEXT)
    assert kept.calls == []
    assert "dropped" in caplog.text and code in caplog.text
    assert SECRET_TEXT not in caplog.text


async def test_notify_survives_a_failing_hook(fake_slack: FakeSlack) -> None:
    async def broken(user_id: str, text: str, error: SlackDeliveryError) -> None:
        raise RuntimeError("database down")

    messenger = SlackMessenger(
        make_web_client(BOT_TOKEN, fake_slack.api_url), on_undelivered=broken
    )
    fake_slack.fail_next("chat.postMessage")
    assert not await messenger.notify("UOWNER", "text")  # logged, not raised


async def test_unreachable_slack_is_an_error_without_a_code() -> None:
    messenger = SlackMessenger(make_web_client(BOT_TOKEN, "http://127.0.0.1:9/api/"))
    messenger.client.retry_handlers.clear()
    with pytest.raises(SlackDeliveryError) as caught:
        await messenger.dm("UOWNER", "text")
    assert caught.value.code is None


# -- redelivery ------------------------------------------------------------------------------


@pytest.fixture
async def delivery(
    outbox: Outbox, fake_slack: FakeSlack
) -> AsyncIterator[tuple[SlackMessenger, NoticeService]]:
    messenger = SlackMessenger(
        make_web_client(BOT_TOKEN, fake_slack.api_url),
        on_undelivered=keep_undelivered(outbox, clock=lambda: NOW),
    )
    yield messenger, NoticeService(outbox, SlackSay(messenger))


async def test_a_refused_notice_is_delivered_once_by_a_later_pass(
    outbox: Outbox,
    fake_slack: FakeSlack,
    delivery: tuple[SlackMessenger, NoticeService],
    caplog: pytest.LogCaptureFixture,
) -> None:
    messenger, notices = delivery
    fake_slack.fail_next("chat.postMessage", error="internal_error")
    with caplog.at_level(logging.INFO):
        assert not await messenger.notify("UOWNER", SECRET_TEXT)
    assert outbox.pending_count() == 1
    assert fake_slack.dms_to("UOWNER") == []

    report = await notices.deliver_due(NOW + timedelta(seconds=10))  # not due yet
    assert (report.sent, report.failed) == (0, 0)

    # Two replicas' passes at the same moment: one sends it.
    at = NOW + timedelta(seconds=30)
    other = NoticeService(outbox, SlackSay(messenger))
    reports = await asyncio.gather(notices.deliver_due(at), other.deliver_due(at))
    assert sum(r.sent for r in reports) == 1
    assert [m["text"] for m in fake_slack.dms_to("UOWNER")] == [SECRET_TEXT]
    assert outbox.pending_count() == 0
    assert (await notices.deliver_due(at + timedelta(hours=2))).sent == 0
    assert SECRET_TEXT not in caplog.text


async def test_a_notice_failing_again_backs_off_then_is_given_up(
    outbox: Outbox, fake_slack: FakeSlack, delivery: tuple[SlackMessenger, NoticeService]
) -> None:
    _, notices = delivery
    notice = outbox.add("UOWNER", SECRET_TEXT, "internal_error", NOW)
    at = NOW + timedelta(seconds=30)
    fake_slack.fail_next("chat.postMessage", error="internal_error")
    report = await notices.deliver_due(at)
    assert report.failed == 1
    again = outbox.get(notice.id)
    assert again is not None and again.attempts == 2
    assert again.next_attempt_at == at + timedelta(minutes=1)
    assert again.last_error is not None and "internal_error" in again.last_error

    day_later = NOW + GIVE_UP_AFTER
    fake_slack.fail_next("chat.postMessage", error="internal_error")
    report = await notices.deliver_due(day_later)
    assert report.given_up == 1
    given_up = outbox.get(notice.id)
    assert given_up is not None and given_up.state is NoticeState.GIVEN_UP
    assert fake_slack.dms_to("UOWNER") == []


async def test_a_permanent_error_on_retry_gives_up_at_once(
    outbox: Outbox, fake_slack: FakeSlack, delivery: tuple[SlackMessenger, NoticeService]
) -> None:
    _, notices = delivery
    notice = outbox.add("UGONE", SECRET_TEXT, "internal_error", NOW)
    fake_slack.fail_next("chat.postMessage", error="account_inactive")
    report = await notices.deliver_due(NOW + timedelta(minutes=1))
    assert report.given_up == 1
    assert outbox.get(notice.id).state is NoticeState.GIVEN_UP  # type: ignore[union-attr]


async def test_a_pass_stops_while_slack_is_rate_limiting(
    outbox: Outbox, fake_slack: FakeSlack, delivery: tuple[SlackMessenger, NoticeService]
) -> None:
    _, notices = delivery
    first = outbox.add("UOWNER", SECRET_TEXT, "internal_error", NOW)
    second = outbox.add("UALICE", SECRET_TEXT, "internal_error", NOW)
    # the Slack client waits out RATE_LIMIT_RETRIES 429s; one more gives up.
    fake_slack.fail_next(
        "chat.postMessage", status=429, retry_after=0, times=RATE_LIMIT_RETRIES + 1
    )
    report = await notices.deliver_due(NOW + timedelta(minutes=1))
    assert (report.failed, report.sent) == (1, 0)
    assert outbox.get(first.id).attempts == 2  # type: ignore[union-attr]
    assert outbox.get(second.id).attempts == 1  # type: ignore[union-attr]  # left for later
