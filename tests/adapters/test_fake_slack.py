"""Tests of bot.sandbox.fake_slack, driven by the real slack_sdk clients over HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.fake_slack import BOT_TOKEN, Call, FakeSlack, message_text

TOKEN = BOT_TOKEN


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(tokens={TOKEN}, team_id="T0TEST") as f:
        yield f


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.api_url)


@pytest.fixture
def aclient(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=fake.api_url)


BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Grant *approved* for alice"}},
    {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": "revoke",
                "text": {"type": "plain_text", "text": "Revoke"},
                "value": "g1",
            }
        ],
    },
]


def test_urls(fake: FakeSlack) -> None:
    assert fake.api_url == f"http://127.0.0.1:{fake.port}/api/"
    assert fake.url == f"http://127.0.0.1:{fake.port}"


def test_not_started_has_no_url() -> None:
    with pytest.raises(RuntimeError):
        _ = FakeSlack().api_url


def test_auth_test_sync(client: WebClient, fake: FakeSlack) -> None:
    resp = client.auth_test()
    assert resp["ok"] is True
    assert resp["team_id"] == "T0TEST"
    assert resp["user_id"] == "UBOT"
    assert resp["bot_id"] == "BBOT"
    assert resp["url"].startswith("https://")
    assert resp["team"] and resp["user"]
    assert [c.method for c in fake.calls()] == ["auth.test"]
    assert "token" not in fake.calls()[0].params


async def test_auth_test_async(aclient: AsyncWebClient) -> None:
    resp = await aclient.auth_test()
    assert resp["user_id"] == "UBOT"
    assert resp["team_id"] == "T0TEST"


def test_open_dm_and_post_blocks(client: WebClient, fake: FakeSlack) -> None:
    opened = client.conversations_open(users="U123")
    channel = opened["channel"]["id"]
    assert channel == "DU123" == fake.dm_channel("U123")
    assert client.conversations_open(users=["U123"])["channel"]["id"] == channel  # stable

    resp = client.chat_postMessage(channel=channel, text="approved", blocks=BLOCKS)
    assert resp["channel"] == channel
    assert resp["message"]["blocks"] == BLOCKS
    ts = resp["ts"]
    assert ts.startswith("17") and "." in ts

    [params] = fake.messages(channel)
    assert params["blocks"] == BLOCKS
    assert params["text"] == "approved"
    assert fake.dms_to("U123") == [params]
    assert fake.messages("C999") == []
    assert fake.wait_for_dm("U123", contains="Revoke")["text"] == "approved"


def test_post_to_user_id_counts_as_dm(client: WebClient, fake: FakeSlack) -> None:
    resp = client.chat_postMessage(channel="U555", text="hello there")
    assert resp["channel"] == "DU555"
    assert fake.dms_to("U555")[0]["channel"] == "U555"
    assert fake.wait_for_dm("U555", "hello")["text"] == "hello there"


def test_ts_unique_and_increasing(client: WebClient) -> None:
    stamps = [client.chat_postMessage(channel="C1", text=str(i))["ts"] for i in range(5)]
    assert stamps[0] == "1700000000.000100"
    assert len(set(stamps)) == 5
    assert stamps == sorted(stamps, key=float)


def test_form_encoded_json_blocks_are_decoded(client: WebClient, fake: FakeSlack) -> None:
    # api_call(params=...) sends a form; blocks must then be a JSON string, as for Slack.
    blocks_json = json.dumps(BLOCKS)
    client.api_call(
        "chat.postMessage", params={"channel": "C1", "text": "x", "blocks": blocks_json}
    )
    [params] = fake.messages("C1")
    assert params["blocks"] == BLOCKS


def test_form_encoded_python_list_is_rejected(client: WebClient, fake: FakeSlack) -> None:
    # urlencode() turns a list into its Python repr, which is not JSON: Slack rejects it.
    with pytest.raises(SlackApiError) as excinfo:
        client.api_call("chat.postMessage", params={"channel": "C1", "blocks": BLOCKS})
    assert excinfo.value.response["error"] == "invalid_blocks_format"
    assert fake.messages() == []


async def test_async_client_sends_params_in_query_string(
    aclient: AsyncWebClient, fake: FakeSlack
) -> None:
    resp = await aclient.conversations_open(users="U9")
    assert resp["channel"]["id"] == "DU9"
    resp = await aclient.chat_postMessage(channel="DU9", text="hi", blocks=BLOCKS)
    assert resp["ok"]
    assert fake.dms_to("U9")[0]["blocks"] == BLOCKS


def test_chat_update_and_delete(client: WebClient, fake: FakeSlack) -> None:
    posted = client.chat_postMessage(channel="C1", text="pending")
    ts = posted["ts"]
    updated = client.chat_update(channel="C1", ts=ts, text="done", blocks=BLOCKS)
    assert updated["ts"] == ts
    assert updated["text"] == "done"
    current = fake.current_message("C1", ts)
    assert current is not None and current["blocks"] == BLOCKS
    assert fake.calls("chat.update")[0].params["text"] == "done"

    with pytest.raises(SlackApiError) as excinfo:
        client.chat_update(channel="C1", ts="1.000000", text="nope")
    assert excinfo.value.response["error"] == "message_not_found"
    assert fake.calls("chat.update")[-1].failed

    client.chat_delete(channel="C1", ts=ts)
    assert fake.current_message("C1", ts) is None
    with pytest.raises(SlackApiError):
        client.chat_delete(channel="C1", ts=ts)


def test_post_ephemeral(client: WebClient, fake: FakeSlack) -> None:
    resp = client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert resp["message_ts"]
    assert fake.calls("chat.postEphemeral")[0].params["user"] == "U1"
    assert fake.messages() == []


def test_invalid_token(fake: FakeSlack) -> None:
    bad = WebClient(token="xoxb-wrong", base_url=fake.api_url)
    with pytest.raises(SlackApiError) as excinfo:
        bad.auth_test()
    assert excinfo.value.response.status_code == 200
    assert excinfo.value.response["error"] == "invalid_auth"
    none = WebClient(base_url=fake.api_url)
    with pytest.raises(SlackApiError) as excinfo:
        none.chat_postMessage(channel="C1", text="x")
    assert excinfo.value.response["error"] == "invalid_auth"
    assert [c.error for c in fake.calls()] == ["invalid_auth", "invalid_auth"]
    assert fake.messages() == []


async def test_invalid_token_async(fake: FakeSlack) -> None:
    bad = AsyncWebClient(token="xoxb-wrong", base_url=fake.api_url)
    with pytest.raises(SlackApiError) as excinfo:
        await bad.auth_test()
    assert excinfo.value.response["error"] == "invalid_auth"


def test_token_param_accepted_and_not_recorded(fake: FakeSlack) -> None:
    resp = httpx.post(fake.api_url + "auth.test", data={"token": TOKEN})
    assert resp.json()["ok"] is True
    assert fake.calls()[0].params == {}


def test_users_info_and_lookup(client: WebClient, fake: FakeSlack) -> None:
    fake.add_user("U1", name="alice", email="alice@example.edu")
    fake.add_user("U2", name="guest", is_restricted=True, deleted=True)

    user = client.users_info(user="U1")["user"]
    assert user["id"] == "U1"
    assert user["name"] == "alice"
    assert user["team_id"] == "T0TEST"
    assert user["profile"]["email"] == "alice@example.edu"
    assert user["is_bot"] is False
    assert user["is_email_confirmed"] is True

    guest = client.users_info(user="U2")["user"]
    assert guest["is_restricted"] is True and guest["deleted"] is True
    assert "email" not in guest["profile"]

    with pytest.raises(SlackApiError) as excinfo:
        client.users_info(user="U404")
    assert excinfo.value.response["error"] == "user_not_found"

    found = client.users_lookupByEmail(email="ALICE@example.edu")["user"]
    assert found["id"] == "U1"
    with pytest.raises(SlackApiError) as excinfo:
        client.users_lookupByEmail(email="nobody@example.edu")
    assert excinfo.value.response["error"] == "users_not_found"


async def test_users_info_async(aclient: AsyncWebClient, fake: FakeSlack) -> None:
    fake.add_user("U1", name="alice", email="a@example.edu")
    resp = await aclient.users_info(user="U1")  # GET with a query string
    assert resp["user"]["profile"]["email"] == "a@example.edu"


def test_views_publish_and_open(client: WebClient, fake: FakeSlack) -> None:
    home = {"type": "home", "blocks": BLOCKS}
    resp = client.views_publish(user_id="U1", view=home)
    assert resp["view"]["type"] == "home"
    assert resp["view"]["id"]
    home_view = fake.home_view("U1")
    assert home_view is not None and home_view["blocks"] == BLOCKS
    assert fake.calls("views.publish")[0].params["view"] == home

    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Share"}, "blocks": []}
    opened = client.views_open(trigger_id="123.456", view=modal)
    assert opened["view"]["type"] == "modal"
    updated = client.views_update(view_id=opened["view"]["id"], view=modal)
    assert updated["view"]["id"] == opened["view"]["id"]


def test_unknown_method(client: WebClient, fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.api_call("nonsense.method")
    assert excinfo.value.response.status_code == 200
    assert excinfo.value.response["error"] == "unknown_method"
    assert fake.calls("nonsense.method")[0].failed


def test_ratelimit_retry_sync(fake: FakeSlack) -> None:
    client = WebClient(token=TOKEN, base_url=fake.api_url)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    fake.fail_next("chat.postMessage", status=429, retry_after=1)

    resp = client.chat_postMessage(channel="C1", text="eventually")

    assert resp["ok"] is True
    attempts = fake.calls("chat.postMessage")
    assert [c.failed for c in attempts] == [True, False]
    assert attempts[0].error == "ratelimited"
    assert attempts[1].at - attempts[0].at >= 1.0
    assert len(fake.messages("C1")) == 1


async def test_ratelimit_retry_async(fake: FakeSlack) -> None:
    client = AsyncWebClient(
        token=TOKEN,
        base_url=fake.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    fake.fail_next("users.info", status=429, retry_after=0)
    fake.add_user("U1", name="alice")
    resp = await client.users_info(user="U1")
    assert resp["user"]["name"] == "alice"
    assert len(fake.calls("users.info")) == 2


def test_sustained_rate_limit_lets_a_burst_through_then_answers_429(
    client: WebClient, fake: FakeSlack
) -> None:
    fake.rate_limit("chat.postMessage", per_second=0.5, burst=2)
    client.chat_postMessage(channel="UALICE", text="one")
    client.chat_postMessage(channel="UALICE", text="two")
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="UALICE", text="three")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["retry-after"] == "2"
    assert [c.failed for c in fake.calls("chat.postMessage")] == [False, False, True]
    client.auth_test()  # other methods are not limited
    fake.reset()
    client.chat_postMessage(channel="UALICE", text="after reset")


def test_ratelimit_without_retry_raises(client: WebClient, fake: FakeSlack) -> None:
    fake.fail_next("auth.test", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as excinfo:
        client.auth_test()
    assert excinfo.value.response.status_code == 429
    assert excinfo.value.response.headers["Retry-After"] == "7"
    assert excinfo.value.response["error"] == "ratelimited"
    assert client.auth_test()["ok"]  # the fault was used up


def test_injected_errors(client: WebClient, fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", error="channel_not_found", times=2)
    fake.fail_next("chat.postMessage", status=500, error="internal_error")
    for expected_status in (200, 200, 500):
        with pytest.raises(SlackApiError) as excinfo:
            client.chat_postMessage(channel="C1", text="x")
        assert excinfo.value.response.status_code == expected_status
    assert client.chat_postMessage(channel="C1", text="x")["ok"]
    assert [c.error for c in fake.calls("chat.postMessage")] == [
        "channel_not_found",
        "channel_not_found",
        "internal_error",
        None,
    ]
    assert len(fake.messages()) == 1


def test_wait_for_times_out_with_summary(client: WebClient, fake: FakeSlack) -> None:
    client.chat_postMessage(channel="C1", text="something else")
    started = time.monotonic()
    with pytest.raises(AssertionError) as excinfo:
        fake.wait_for_dm("U1", contains="never", timeout=0.2)
    assert time.monotonic() - started < 2
    text = str(excinfo.value)
    assert "timed out" in text
    assert "chat.postMessage" in text and "something else" in text
    assert TOKEN not in text

    with pytest.raises(AssertionError, match="no calls"):
        FakeSlack().wait_for(lambda: False, timeout=0.05)


def test_wait_for_wakes_on_new_call(client: WebClient, fake: FakeSlack) -> None:
    def later() -> None:
        time.sleep(0.2)
        client.chat_postMessage(channel="U7", text="your access expires soon")

    thread = threading.Thread(target=later)
    thread.start()
    try:
        started = time.monotonic()
        # The predicate may itself query the fake (it runs without the lock held).
        msg = fake.wait_for(lambda: next(iter(fake.dms_to("U7")), None), timeout=5)
        assert time.monotonic() - started < 3
    finally:
        thread.join()
    assert msg["text"] == "your access expires soon"


def test_message_text_includes_blocks() -> None:
    text = message_text({"text": "t", "blocks": BLOCKS})
    assert "Grant *approved* for alice" in text and "Revoke" in text and "g1" in text


def test_response_url(fake: FakeSlack) -> None:
    url = fake.new_response_url()
    assert url.startswith(f"{fake.url}/response/")
    assert fake.new_response_url() != url

    resp = httpx.post(url, json={"text": "Done", "response_type": "ephemeral", "blocks": BLOCKS})
    assert resp.status_code == 200
    assert resp.text == "ok"
    assert resp.headers["content-type"].startswith("text/plain")
    assert fake.responses() == [{"text": "Done", "response_type": "ephemeral", "blocks": BLOCKS}]
    assert fake.responses(url)[0]["text"] == "Done"
    call = fake.calls("response_url")[0]
    assert isinstance(call, Call) and call.url == url

    unknown = httpx.post(f"{fake.url}/response/nope", json={"text": "x"})
    assert unknown.status_code == 404
    assert len(fake.responses()) == 1

    fake.fail_next("response_url", status=500, error="boom")
    assert httpx.post(url, json={"text": "y"}).status_code == 500
    assert [c.failed for c in fake.calls("response_url")] == [False, True, True]


def test_reset(client: WebClient, fake: FakeSlack) -> None:
    fake.add_user("U1", name="alice")
    client.chat_postMessage(channel="C1", text="x")
    fake.fail_next("auth.test")
    fake.reset()
    assert fake.calls() == [] and fake.messages() == []
    assert client.auth_test()["ok"]  # pending faults cleared
    assert client.users_info(user="U1")["ok"]  # users kept


def test_explicit_port_and_restart() -> None:
    first = FakeSlack().start()
    port = first.port
    first.stop()
    first.stop()  # idempotent
    with FakeSlack(port=port) as second:
        assert second.port == port
        assert WebClient(token=TOKEN, base_url=second.api_url).auth_test()["ok"]


def test_on_call_listener_sees_calls(fake: FakeSlack) -> None:
    seen: list[Call] = []
    with FakeSlack(on_call=seen.append) as f:
        WebClient(token=TOKEN, base_url=f.api_url).auth_test()
    assert [c.method for c in seen] == ["auth.test"]
