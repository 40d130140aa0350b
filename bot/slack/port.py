"""The use cases' :class:`bot.app.ports.Say`, spoken in Slack: each message rendered by
:mod:`bot.slack.replies` and sent with :class:`bot.slack.messenger.SlackMessenger`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block

from bot.app.messages import HomeTab, Message, Posted, Rendered
from bot.slack.home_view import home_view
from bot.slack.messenger import SlackMessenger
from bot.slack.replies import render


def _blocks(rendered: Rendered) -> list[Block] | None:
    return Block.parse_all(rendered.blocks) if rendered.blocks else None


class SlackSay:
    def __init__(self, messenger: SlackMessenger) -> None:
        self.messenger = messenger

    def render(self, message: Message) -> Rendered:
        return render(message)

    async def dm(self, slack_id: str, message: Message) -> Posted:
        rendered = render(message)
        channel, ts = await self.messenger.dm_copy(slack_id, rendered.text, _blocks(rendered))
        return Posted(channel, ts)

    async def post(self, channel: str, message: Message) -> Posted:
        rendered = render(message)
        where, ts = await self.messenger.post(channel, rendered.text, _blocks(rendered))
        return Posted(where, ts)

    async def update(self, posted: Posted, message: Message) -> None:
        rendered = render(message)
        await self.messenger.update(posted.channel, posted.ts, rendered.text, _blocks(rendered))

    async def notify(self, slack_id: str, message: Message) -> bool:
        return await self.messenger.notify(slack_id, render(message).text)

    async def send(self, slack_id: str, rendered: Rendered) -> None:
        await self.messenger.dm(slack_id, rendered.text, _blocks(rendered))

    async def publish_home(self, slack_id: str, tab: HomeTab) -> None:
        await self.messenger.publish_home(slack_id, home_view(tab))

    async def members(self, entries: Sequence[str]) -> frozenset[str]:
        return await self.messenger.members(entries)

    async def user_info(self, slack_id: str) -> dict[str, Any] | None:
        return await self.messenger.user_info(slack_id)

    async def team_id(self) -> str | None:
        return await self.messenger.team_id()
