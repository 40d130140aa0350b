"""Outgoing Slack messages through slack_sdk's AsyncWebClient, errors mapped to ours."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.domain.outbox import is_permanent
from bot.errors import SlackDeliveryError

log = logging.getLogger(__name__)
#: slack_sdk's webhook client logs a retry at INFO with the response_url in it: a URL that
#: lets anyone answer in the conversation for 30 minutes is not for the log.
_WEBHOOK_LOG = logging.getLogger(f"{__name__}.response_url")
_WEBHOOK_LOG.setLevel(logging.WARNING)

#: Told of a notice Slack did not take (user id, text, error), unless the error is permanent.
UndeliveredHook = Callable[[str, str, SlackDeliveryError], Awaitable[None]]


class KeepAliveWebClient(AsyncWebClient):
    """An AsyncWebClient that keeps one aiohttp session (pooled keep-alive connections,
    cached DNS) per event loop. slack_sdk's default, without a session, opens a new session,
    DNS lookup and TCP (and TLS) connection for every call. Close with :meth:`aclose`."""

    async def api_call(self, *args: Any, **kwargs: Any) -> Any:
        self.kept_session()
        return await super().api_call(*args, **kwargs)

    def kept_session(self) -> aiohttp.ClientSession:
        """The session of the running loop (made on first use)."""
        session = self.session
        loop = asyncio.get_running_loop()
        if session is None or session.closed or getattr(session, "_loop", loop) is not loop:
            session = self.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                trust_env=self.trust_env_in_session,
            )
        return session

    async def aclose(self) -> None:
        if self.session is not None and not self.session.closed:
            await self.session.close()
        self.session = None


def without_session(client: AsyncWebClient) -> AsyncWebClient:
    """The same client (token, base URL, retries) without a kept session: the one to give
    Bolt. Bolt gives each request a client sharing its app client's session, and deep-copies
    requests for lazy listeners; an aiohttp session cannot be copied. Bolt itself calls Slack
    rarely (``auth.test`` once, ``views.open``); our messages go through the kept session."""
    return AsyncWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        retry_handlers=list(client.retry_handlers),
    )


#: How many times one call waits out Slack's 429 ``Retry-After`` and tries again: a fan-out
#: to a user group is paced by these waits (16 invitations at once against Slack's limit),
#: and a DM that gave up after a few would be an invitation lost (its code withdrawn).
RATE_LIMIT_RETRIES = 12


def make_web_client(token: str, base_url: str) -> KeepAliveWebClient:
    """The one AsyncWebClient: Slack's base URL (or GovSlack's, or a test fake), with retries."""
    client = KeepAliveWebClient(token=token, base_url=base_url, timeout=15)
    client.retry_handlers.append(
        AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)
    )
    client.retry_handlers.append(AsyncConnectionErrorRetryHandler(max_retry_count=2))
    return client


class SlackMessenger:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        on_failure: Callable[[], None] | None = None,
        on_undelivered: UndeliveredHook | None = None,
    ) -> None:
        self.client = client
        self._team_id: str | None = None
        self._on_failure = on_failure  # told of every failed delivery (metrics)
        self._on_undelivered = on_undelivered  # keeps failed notices (the outbox)

    async def dm(self, user_id: str, text: str, blocks: Sequence[Block] | None = None) -> str:
        """Send a direct message; returns the message ts. Raises SlackDeliveryError."""
        return (await self.dm_copy(user_id, text, blocks))[1]

    async def dm_copy(
        self, user_id: str, text: str, blocks: Sequence[Block] | None = None
    ) -> tuple[str, str]:
        """Send a direct message; returns (channel, ts) to update it later.

        Posted to the user id: Slack delivers it in the app's DM with that user and answers
        with the DM's channel id. One call, not a ``conversations.open`` first (a Tier 3
        method, which a digest to thousands of owners would run into).
        """
        async with self._errors(f"a DM to <@{user_id}>", user_id):
            return await self._post(user_id, text, blocks)

    async def post(
        self, channel: str, text: str, blocks: Sequence[Block] | None = None
    ) -> tuple[str, str]:
        """Post in a channel; returns (channel, ts)."""
        async with self._errors(f"a message in <#{channel}>", channel):
            return await self._post(channel, text, blocks)

    async def update(
        self, channel: str, ts: str, text: str, blocks: Sequence[Block] | None = None
    ) -> None:
        async with self._errors(f"an update of message {ts}", channel):
            await self.client.chat_update(
                channel=channel, ts=ts, text=text, blocks=[b.to_dict() for b in blocks or ()]
            )

    async def respond(
        self, response_url: str, text: str, *, replace_original: bool = False
    ) -> None:
        """An ephemeral answer to a command or click through its ``response_url``, on the
        kept session. (Bolt's ``respond`` opens a new aiohttp session and TCP connection
        each time: the biggest cost of a `list` in the web process, profiled under load.)
        Failures are logged, as Bolt's ``respond`` leaves them to the caller."""
        session = (
            self.client.kept_session() if isinstance(self.client, KeepAliveWebClient) else None
        )
        webhook = AsyncWebhookClient(
            response_url, timeout=int(self.client.timeout), session=session, logger=_WEBHOOK_LOG
        )
        try:
            answer = await webhook.send(
                text=text, response_type="ephemeral", replace_original=replace_original
            )
        except (aiohttp.ClientError, TimeoutError, SlackClientError) as err:
            log.warning("answer through the response_url not delivered: %s", type(err).__name__)
            return
        if answer.status_code != 200:
            log.warning("answer through the response_url refused: HTTP %s", answer.status_code)

    async def publish_home(self, user_id: str, view: View) -> None:
        """Replace ``user_id``'s App Home tab with ``view`` (``views.publish``)."""
        async with self._errors(f"the Home tab of <@{user_id}>", user_id):
            await self.client.views_publish(user_id=user_id, view=view.to_dict())

    async def open_view(self, trigger_id: str, view: View) -> str:
        """Open a modal (``views.open``); returns its view id, for :meth:`update_view`."""
        async with self._errors("a dialog", "views.open"):
            opened = await self.client.views_open(trigger_id=trigger_id, view=view.to_dict())
        return str((opened.get("view") or {}).get("id") or "")

    async def update_view(self, view_id: str, view: View, view_hash: str | None = None) -> None:
        """Replace an open modal (``views.update``); with ``view_hash``, only the version
        of the view that hash names (Slack refuses it once the view changed since)."""
        async with self._errors("an update of a dialog", "views.update"):
            await self.client.views_update(view_id=view_id, view=view.to_dict(), hash=view_hash)

    async def members(self, entries: Sequence[str]) -> frozenset[str]:
        """Slack user ids named by user IDs, user group IDs (S...) and group @handles."""
        users = {e for e in entries if e[:1] in ("U", "W")}
        groups = [e for e in entries if e[:1] == "S" or e.startswith("@")]
        if not groups:
            return frozenset(users)
        async with self._errors("a user group lookup", "usergroups"):
            handles: dict[str, str] = {}
            if any(g.startswith("@") for g in groups):
                listing = await self.client.usergroups_list()
                found: list[dict[str, Any]] = listing.get("usergroups") or []
                handles = {f"@{g['handle']}": str(g["id"]) for g in found}
            for group in groups:
                group_id = handles.get(group, group) if group.startswith("@") else group
                if group_id.startswith("@"):
                    log.warning("user group %s not found", group)
                    continue
                listed = await self.client.usergroups_users_list(usergroup=group_id)
                users.update(listed.get("users", []))
        return frozenset(users)

    async def _post(
        self, channel: str, text: str, blocks: Sequence[Block] | None
    ) -> tuple[str, str]:
        kwargs: dict[str, Any] = {"channel": channel, "text": text}
        if blocks:
            kwargs["blocks"] = [b.to_dict() for b in blocks]
        posted = await self.client.chat_postMessage(**kwargs)
        return str(posted["channel"]), str(posted["ts"])

    @contextlib.asynccontextmanager
    async def _errors(self, what: str, target: str) -> AsyncIterator[None]:
        try:
            yield
        except SlackApiError as err:
            self._failed()
            error = err.response.get("error") if err.response is not None else None
            raise SlackDeliveryError(
                f"Slack refused {what} ({target}): {error}",
                code=str(error) if error else None,
                user_message=f"Slack would not let me send {what} ({error}).",
                retry_after=_retry_after(err),
            ) from None
        except (SlackClientError, OSError, TimeoutError) as err:
            self._failed()
            raise SlackDeliveryError(
                f"cannot reach Slack for {what} ({target}): {err.__class__.__name__}. "
                "Check SLACK_API_URL and the network.",
                user_message=f"Slack could not be reached for {what}.",
            ) from None

    def _failed(self) -> None:
        if self._on_failure is not None:
            self._on_failure()

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
        """A notice that is never raised: True when Slack took it now.

        When Slack refuses it or cannot be reached, ``on_undelivered`` is told (the outbox
        keeps it and the background pass tries again), unless the error is permanent
        (:data:`bot.domain.outbox.PERMANENT_ERRORS`): then it is only logged.
        """
        try:
            await self.dm(user_id, text)
        except SlackDeliveryError as err:
            if is_permanent(err.code) or self._on_undelivered is None:
                log.warning("notice to %s not delivered, dropped: %s", user_id, err)
                return False
            log.warning("notice to %s not delivered, kept to retry: %s", user_id, err)
            try:
                await self._on_undelivered(user_id, text, err)
            except Exception:
                log.exception("notice to %s could not be kept for a retry; it is lost", user_id)
            return False
        return True


def _retry_after(err: SlackApiError) -> float | None:
    """Slack's ``Retry-After`` on a 429 (the client's own retries already waited it out)."""
    headers = getattr(err.response, "headers", None) or {}
    for name, value in dict(headers).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            try:
                return float(raw)
            except (TypeError, ValueError):
                return None
    return None
