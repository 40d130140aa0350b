"""The Slack stand-in's modals: views.open and views.update recorded as they are now, the
update's hash checked like Slack's (driven by the real slack_sdk client over HTTP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox.fake_slack import BOT_TOKEN, FakeSlack

LOADING = {"type": "modal", "title": {"type": "plain_text", "text": "Wait"}, "blocks": []}
FORM = {**LOADING, "callback_id": "share_form", "private_metadata": "m"}


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(tokens={BOT_TOKEN}) as running:
        yield running


def test_modals_are_kept_as_they_are_now(fake: FakeSlack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=fake.api_url)
    opened = client.views_open(trigger_id="1.2.3", view=LOADING)["view"]
    assert fake.modals() == [fake.modals()[0]] and fake.modals("share_form") == []
    client.views_update(view_id=opened["id"], view=FORM, hash=opened["hash"])
    [now] = fake.modals("share_form")
    assert now["id"] == opened["id"] and now["private_metadata"] == "m"
    assert now["state"] == {"values": {}} and now["hash"] != opened["hash"]
    assert fake.wait_for_modal("share_form", timeout=1)["id"] == opened["id"]
    # the old version's hash no longer updates it (two updates racing: one wins)
    with pytest.raises(SlackApiError) as raised:
        client.views_update(view_id=opened["id"], view=LOADING, hash=opened["hash"])
    assert raised.value.response["error"] == "hash_conflict"
    with pytest.raises(SlackApiError):
        client.views_open(trigger_id="", view=LOADING)
    fake.reset()
    assert fake.modals() == []
    with pytest.raises(AssertionError, match="a modal 'share_form'"):
        fake.wait_for_modal("share_form", timeout=0.1)
