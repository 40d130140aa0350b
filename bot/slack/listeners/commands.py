"""The slash command ``/share-server``: usage errors and help are the acknowledgement
itself; everything else is acknowledged empty and answered when the work is done."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

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
        text = await answer(f"/share-server from {caller}", run(services, caller, cmd))
        response_url = command.get("response_url")
        if isinstance(response_url, str) and response_url:  # the kept session, not Bolt's
            await services.messenger.respond(response_url, text)
        else:
            await respond(text=text, response_type="ephemeral", replace_original=False)

    app.command(COMMAND)(ack=share_ack, lazy=[once(services, share_server)])


async def run(services: Services, caller: str, cmd: commands.Command) -> object:
    now = utcnow()
    if isinstance(cmd, commands.Share):
        return await services.decisions.share_or_hold(caller, cmd, now)
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
