"""Thin Bolt listeners: ack fast, parse, call the service, render."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.clock import utcnow
from bot.domain import commands
from bot.domain.durations import format_duration
from bot.errors import CommandError, SharebotError
from bot.linking import LinkingService
from bot.service import ShareService
from bot.slack import blocks, texts

log = logging.getLogger(__name__)

COMMAND = "/share-server"


def register(
    app: AsyncApp, service: ShareService, linking: LinkingService, *, max_duration: timedelta
) -> None:
    max_text = format_duration(max_duration)

    @app.command(COMMAND)
    async def share_server(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        caller = command["user_id"]
        try:
            cmd = commands.parse_command(command.get("text", ""), max_duration=max_duration)
        except CommandError as err:
            await ack(response_type="ephemeral", text=texts.with_usage(err.user_message, max_text))
            return
        if isinstance(cmd, commands.Help):
            await ack(response_type="ephemeral", text=texts.usage(max_text))
            return
        await ack()
        try:
            text = await run(service, linking, caller, cmd)
        except SharebotError as err:
            log.info("/share-server from %s refused: %s", caller, err)
            text = err.user_message
        except Exception:
            log.exception("/share-server from %s failed", caller)
            text = texts.internal_error()
        await respond(text=text, response_type="ephemeral", replace_original=False)

    @app.action(blocks.ACCEPT_ACTION)
    async def accept_link_clicked(ack: AsyncAck) -> None:
        # A link button opens the browser; Slack still sends the click, which we only ack.
        await ack()


async def run(
    service: ShareService, linking: LinkingService, caller: str, cmd: commands.Command
) -> str:
    now = utcnow()
    if isinstance(cmd, commands.LinkAccount):
        return await linking.issue(caller, now)
    if isinstance(cmd, commands.UnlinkAccount):
        return await linking.unlink(caller, now)
    if isinstance(cmd, commands.WhoAmI):
        return await linking.whoami(caller)
    if isinstance(cmd, commands.Share):
        return (await service.share(caller, cmd, now)).message()
    if isinstance(cmd, commands.ListShares):
        return await service.list_shares(caller)
    if isinstance(cmd, commands.Revoke):
        return await service.revoke(caller, cmd, now)
    raise AssertionError(f"unhandled command {cmd!r}")
