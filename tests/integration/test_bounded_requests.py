"""Bounded requests: a huge body is refused before it is read (by its Content-Length, or
counted while read), a request without Slack's headers before its body is looked at, and
the linking page's form by its field count and size. Against ``sharebot serve`` over HTTP,
measuring the server process's peak memory."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from bot.sandbox.fake_slack import FakeSlack
from bot.web.limits import DEFAULT_BODY_LIMIT, MIB, SLACK_BODY_LIMIT
from tests.support.app import RunningApp
from tests.support.processes import reset_peak, vm_hwm

pytestmark = pytest.mark.integration

HUGE = 200 * MIB

#: Peak RSS the server may gain over all the refused requests of a test.
MEMORY_ALLOWANCE = 30 * MIB


class Body:
    """A body of ``size`` bytes sent in 1 MiB chunks from a generator, counting what the
    client actually handed to the connection (never built in memory)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        chunk = b"x" * MIB
        while self.sent < self.size:
            self.sent += len(chunk)
            yield chunk


def slack_headers(*, signed_like: bool, declared: int | None) -> dict[str, str]:
    """Headers of a POST to /slack/events: with a fresh timestamp and a (wrong) signature
    when ``signed_like``, with no Slack headers otherwise; ``declared``: a Content-Length."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signed_like:
        headers["X-Slack-Request-Timestamp"] = str(int(time.time()))
        headers["X-Slack-Signature"] = "v0=" + "0" * 64
    if declared is not None:
        headers["Content-Length"] = str(declared)
    return headers


@pytest.mark.parametrize(
    ("signed_like", "declared", "status"),
    [
        (False, HUGE, 413),  # refused by its Content-Length
        (True, HUGE, 413),
        (False, None, 401),  # chunked, no Slack headers: refused before the body is read
        (True, None, 413),  # chunked, Slack-like headers: cut off at the limit while read
    ],
    ids=["unsigned, Content-Length", "signed-like, Content-Length", "unsigned, chunked", "chunked"],
)
def test_a_200_mib_post_is_refused_at_once_and_memory_stays_flat(
    signed_like: bool,
    declared: int | None,
    status: int,
    app: RunningApp,
    slack: FakeSlack,
) -> None:
    pid = app.process.pid
    before = reset_peak(pid)
    log_before = len(app.log())
    body = Body(HUGE)
    started = time.monotonic()
    with httpx.Client(timeout=30) as client:
        response = client.post(
            f"{app.url}/slack/events",
            content=body,
            headers=slack_headers(signed_like=signed_like, declared=declared),
        )
    took = time.monotonic() - started
    assert response.status_code == status, response.text
    assert response.headers["connection"] == "close"  # the rest is not read
    assert took < 5, f"took {took:.1f}s"
    # The server closed the connection long before the client could send it all.
    assert body.sent < HUGE // 4, f"the client sent {body.sent // MIB} MiB"
    grown = vm_hwm(pid) - before
    assert grown < MEMORY_ALLOWANCE, f"peak RSS grew by {grown / MIB:.1f} MiB"

    # Quietly: one line, without the body; and the app still serves Slack.
    new_lines = app.log()[log_before:].splitlines()
    assert len(new_lines) == 1, new_lines
    assert "xxxx" not in new_lines[0]
    assert "Traceback" not in app.log()
    ack = app.command("UOWNER", "help", slack.new_response_url())
    assert ack.status_code == 200


def test_ten_huge_posts_at_once_do_not_add_up(app: RunningApp) -> None:
    """Several at once (the issue's "a few at once get the process killed")."""
    from concurrent.futures import ThreadPoolExecutor

    pid = app.process.pid
    before = reset_peak(pid)

    def one(i: int) -> int:
        with httpx.Client(timeout=30) as client:
            headers = slack_headers(signed_like=True, declared=None if i % 2 else HUGE)
            return client.post(
                f"{app.url}/slack/events", content=Body(HUGE), headers=headers
            ).status_code

    with ThreadPoolExecutor(10) as pool:
        assert set(pool.map(one, range(10))) == {413}
    grown = vm_hwm(pid) - before
    assert grown < MEMORY_ALLOWANCE, f"peak RSS grew by {grown / MIB:.1f} MiB"


def test_bodies_within_the_limit_are_still_read(app: RunningApp) -> None:
    """The limit is not set below what Slack sends: a body just under it is read (and then
    refused for its signature, as it is not Slack's)."""
    headers = slack_headers(signed_like=True, declared=None)
    body = b"payload=" + b"x" * (SLACK_BODY_LIMIT - 100)
    response = httpx.post(f"{app.url}/slack/events", content=body, headers=headers, timeout=10)
    assert response.status_code == 401
    assert "without a valid signature" in app.log()


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": "{now}"},
        {"X-Slack-Signature": "v0=" + "0" * 64, "X-Slack-Request-Timestamp": "{old}"},
        {"X-Slack-Signature": "v0=" + "0" * 64, "X-Slack-Request-Timestamp": "1e9"},
    ],
    ids=["no timestamp", "no signature", "timestamp 6 minutes old", "timestamp not a number"],
)
def test_without_slack_headers_the_body_is_never_read(
    headers: dict[str, str], app: RunningApp
) -> None:
    now = int(time.time())
    sent = {k: v.format(now=now, old=now - 360) for k, v in headers.items()}
    body = Body(HUGE)
    with httpx.Client(timeout=30) as client:
        response = client.post(f"{app.url}/slack/events", content=body, headers=sent)
    assert response.status_code == 401
    assert body.sent < HUGE // 4
    assert "rejected a request to /slack/events: " in app.log()


def test_the_linking_form_is_bounded(app: RunningApp) -> None:
    url = f"{app.url}/link/confirm"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with httpx.Client(timeout=10) as client:
        # Too many fields, or a field too long: the page's own 400, not a traceback.
        many = "&".join(f"f{i}=1" for i in range(50))
        response = client.post(url, content=many, headers=form)
        assert response.status_code == 400
        assert "text/html" in response.headers["content-type"]
        long_field = "flow=1&csrf=" + "a" * 8000
        assert client.post(url, content=long_field, headers=form).status_code == 400
        # A body over the pages' limit: 413 before it is read.
        big = b"flow=1&csrf=" + b"a" * DEFAULT_BODY_LIMIT
        assert client.post(url, content=big, headers=form).status_code == 413
        # A well-formed form still reaches the page (which knows no such flow).
        assert client.post(url, content="flow=1&csrf=abc", headers=form).status_code in (
            400,
            403,
            404,
        )
    assert "Traceback" not in app.log()
