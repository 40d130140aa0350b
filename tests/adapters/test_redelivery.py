"""Which Slack deliveries are retries of something already received (bot.slack.listeners)."""

from __future__ import annotations

import pytest

from bot.slack.listeners.events import is_redelivery


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, False),
        ({"x-slack-retry-num": ["1"], "x-slack-retry-reason": ["http_timeout"]}, True),
        ({"x-slack-retry-num": ["3"], "x-slack-retry-reason": ["http_timeout"]}, True),
        ({"x-slack-retry-num": ["1"], "x-slack-retry-reason": ["http_error"]}, False),
        ({"x-slack-retry-num": ["1"], "x-slack-retry-reason": ["connection_failed"]}, False),
        ({"x-slack-retry-num": ["1"]}, False),
        ({"x-slack-retry-reason": ["http_timeout"]}, False),
    ],
)
def test_only_timed_out_retries_are_redeliveries(
    headers: dict[str, list[str]], expected: bool
) -> None:
    assert is_redelivery(headers) is expected
