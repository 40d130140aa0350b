"""Answers through a command's response_url go over the messenger's kept session: one
TCP connection for many answers (Bolt's ``respond`` opens one each time)."""

from __future__ import annotations

import pytest

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.slack_client import BOT_TOKEN
from bot.slack.messenger import SlackMessenger, make_web_client


async def test_answers_share_one_connection(fake_slack: FakeSlack) -> None:
    client = make_web_client(BOT_TOKEN, fake_slack.api_url)
    messenger = SlackMessenger(client)
    urls = [fake_slack.new_response_url() for _ in range(5)]
    before = fake_slack.connections
    try:
        for i, url in enumerate(urls):
            await messenger.respond(url, f"answer {i}")
    finally:
        await client.aclose()
    for i, url in enumerate(urls):
        [answer] = fake_slack.responses(url)
        assert answer["text"] == f"answer {i}"
        assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert fake_slack.connections - before == 1


async def test_an_answer_that_cannot_go_is_logged_not_raised(
    fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_web_client(BOT_TOKEN, fake_slack.api_url)
    try:
        await SlackMessenger(client).respond("http://127.0.0.1:9/nowhere", "lost")
    finally:
        await client.aclose()
    assert "answer through the response_url not delivered" in caplog.text
    assert "nowhere" not in caplog.text  # the URL is not logged
