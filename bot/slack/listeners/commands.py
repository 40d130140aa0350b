"""The slash command ``/share-server``: usage errors and help are the acknowledgement
itself; everything else is acknowledged empty and answered when the work is done."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.app.ports import Progress
from bot.clock import utcnow
from bot.domain import commands
from bot.domain.durations import format_duration
from bot.errors import CommandError
from bot.slack import texts
from bot.slack.listeners.common import Services, answer, once

COMMAND = "/share-server"


def register(
    app: AsyncApp,
    services: Services,
    *,
    max_duration: timedelta,
    allow_until_revoked: bool = False,
) -> None:
    max_text = format_duration(max_duration)

    def parse(command: dict[str, Any]) -> commands.Command:
        return commands.parse_command(
            command.get("text", ""),
            max_duration=max_duration,
            allow_until_revoked=allow_until_revoked,
        )

    async def share_ack(ack: AsyncAck, command: dict[str, Any]) -> None:
        """Usage errors and help are the acknowledgement itself; the rest is acked empty."""
        try:
            cmd = parse(command)
        except CommandError as err:
            await ack(response_type="ephemeral", text=texts.with_usage(err.user_message, max_text))
            return
        if isinstance(cmd, commands.Help):
            await ack(response_type="ephemeral", text=texts.usage(max_text))
            return
        await ack()

    async def share_server(command: dict[str, Any], respond: AsyncRespond) -> None:
        try:
            cmd = parse(command)
        except CommandError:
            return  # answered by the acknowledgement
        if isinstance(cmd, commands.Help):
            return
        caller = command["user_id"]
        shown = ProgressReply(respond)
        text = await answer(f"/share-server from {caller}", run(services, caller, cmd, shown))
        response_url = command.get("response_url")
        if isinstance(response_url, str) and response_url:  # the kept session, not Bolt's
            await services.messenger.respond(response_url, text, replace_original=shown.posted)
        else:
            await respond(text=text, response_type="ephemeral", replace_original=shown.posted)

    app.command(COMMAND)(ack=share_ack, lazy=[once(services, share_server)])


class ProgressReply:
    """A share with many people shows its progress in the reply while the DMs go out,
    replaced in place through the response URL. Slack takes at most five posts to one
    response URL: this posts at most three (the first invitation, a third, two thirds),
    leaving room for the answer that replaces them."""

    def __init__(self, respond: AsyncRespond, *, above: int = texts.LIST_INVITED_UP_TO) -> None:
        self.respond = respond
        self.above = above  # shares with at most this many people show no progress
        self.posted = False
        self._next = 1  # the count at which the next post is due
        self._posts = 0

    async def __call__(self, done: int, total: int) -> None:
        if total <= self.above or done < self._next or done >= total or self._posts >= 3:
            return
        third = max(1, total // 3)
        self._next = (done // third + 1) * third  # set before awaiting: calls overlap
        self._posts += 1
        replace = self.posted
        self.posted = True
        await self.respond(
            text=texts.sharing_progress(done, total),
            response_type="ephemeral",
            replace_original=replace,
        )


async def run(
    services: Services, caller: str, cmd: commands.Command, progress: Progress | None = None
) -> object:
    now = utcnow()
    if isinstance(cmd, commands.Share):
        return await services.decisions.share_or_hold(caller, cmd, now, progress=progress)
    if isinstance(cmd, commands.Request):
        return await services.decisions.request(caller, cmd, now)
    if isinstance(cmd, commands.ListShares):
        return await services.sharing.list_shares(caller)
    if isinstance(cmd, commands.Revoke):
        return await services.sharing.revoke(caller, cmd, now)
    if isinstance(cmd, commands.LinkAccount):
        return await services.linking.issue(caller, now)
    if isinstance(cmd, commands.UnlinkAccount):
        return await services.linking.unlink(caller, now)
    if isinstance(cmd, commands.WhoAmI):
        return await services.linking.whoami(caller)
    raise AssertionError(f"unhandled command {cmd!r}")
