"""The Slack client keeps its connections: one TCP connection for many calls."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.fake_slack import FakeSlack
from bot.slack.messenger import make_web_client

TOKEN = "xoxb-test"


async def test_one_connection_serves_many_calls() -> None:
    with FakeSlack(tokens={TOKEN}) as fake:
        client = make_web_client(TOKEN, fake.api_url)
        try:
            for i in range(5):
                await client.chat_postMessage(channel="UALICE", text=f"hello {i}")
        finally:
            await client.aclose()
        assert len(fake.dms_to("UALICE")) == 5
        assert fake.connections == 1
        # slack_sdk's default, for comparison: a new session and connection per call
        plain = AsyncWebClient(token=TOKEN, base_url=fake.api_url)
        for i in range(3):
            await plain.chat_postMessage(channel="UALICE", text=f"again {i}")
        assert fake.connections == 1 + 3


async def test_a_closed_client_opens_a_new_session_when_used_again() -> None:
    with FakeSlack(tokens={TOKEN}) as fake:
        client = make_web_client(TOKEN, fake.api_url)
        await client.auth_test()
        await client.aclose()
        await client.auth_test()
        await client.aclose()
        assert client.session is None
        assert fake.connections == 2
