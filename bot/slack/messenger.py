"""Outgoing Slack messages through slack_sdk's AsyncWebClient, errors mapped to ours."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import SlackDeliveryError

log = logging.getLogger(__name__)


def make_web_client(token: str, base_url: str) -> AsyncWebClient:
    """The one AsyncWebClient: Slack's base URL (or GovSlack's, or a test fake), with retries."""
    client = AsyncWebClient(token=token, base_url=base_url, timeout=15)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    client.retry_handlers.append(AsyncConnectionErrorRetryHandler(max_retry_count=2))
    return client


class SlackMessenger:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._team_id: str | None = None

    async def dm(self, user_id: str, text: str, blocks: Sequence[Block] | None = None) -> str:
        """Send a direct message; returns the message ts. Raises SlackDeliveryError."""
        try:
            opened = await self.client.conversations_open(users=user_id)
            channel = opened["channel"]["id"]
            kwargs: dict[str, Any] = {"channel": channel, "text": text}
            if blocks:
                kwargs["blocks"] = [b.to_dict() for b in blocks]
            posted = await self.client.chat_postMessage(**kwargs)
            return str(posted["ts"])
        except SlackApiError as err:
            error = err.response.get("error") if err.response is not None else None
            raise SlackDeliveryError(
                f"Slack refused a DM to {user_id}: {error}",
                user_message=f"Slack would not let me message <@{user_id}> ({error}).",
            ) from None
        except (SlackClientError, OSError, TimeoutError) as err:
            raise SlackDeliveryError(
                f"cannot reach Slack to DM {user_id}: {err.__class__.__name__}. "
                "Check SLACK_API_URL and the network.",
                user_message=f"Slack could not be reached to message <@{user_id}>.",
            ) from None

    async def user_info(self, user_id: str) -> dict[str, Any] | None:
        """Slack's ``users.info`` user object, or None when Slack won't say."""
        try:
            response = await self.client.users_info(user=user_id)
        except (SlackClientError, OSError, TimeoutError) as err:
            log.warning("users.info for %s failed: %s", user_id, err.__class__.__name__)
            return None
        user = response.get("user")
        return dict(user) if isinstance(user, dict) else None

    async def team_id(self) -> str | None:
        """This workspace's team id (``auth.test``), asked once."""
        if self._team_id is None:
            try:
                response = await self.client.auth_test()
            except (SlackClientError, OSError, TimeoutError) as err:
                log.warning("auth.test failed: %s", err.__class__.__name__)
                return None
            self._team_id = str(response.get("team_id") or "") or None
        return self._team_id

    async def notify(self, user_id: str, text: str) -> bool:
        """Best-effort notice: failures are logged, never raised."""
        try:
            await self.dm(user_id, text)
        except SlackDeliveryError as err:
            log.warning("notice not delivered: %s", err)
            return False
        return True
