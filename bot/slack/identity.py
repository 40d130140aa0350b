"""Who the bot token says we are (Slack's ``auth.test``, asked at start), and the Bolt
middleware that refuses requests from any other workspace or app.

Slack signs every request of an app with that app's one signing secret, whichever workspace
it comes from: an app installed in a second workspace (or a signing secret shared by two
apps) sends signed requests sharebot must not act on. They are acknowledged (Slack would
retry otherwise) and nothing else happens.

A bot token Slack refuses at start is logged as an ERROR naming ``SLACK_BOT_TOKEN``, and
``/readyz`` says not ready until sharebot is restarted with a good one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import advice_for

log = logging.getLogger(__name__)

#: auth.test errors that mean the token itself is no good (not that Slack is unwell).
TOKEN_REFUSED = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)


@dataclass(frozen=True)
class Workspace:
    """This install's workspace and app, as ``auth.test`` names them (``app_id`` when Slack
    says; it does for bot tokens)."""

    team_id: str
    app_id: str | None


class SlackIdentity:
    """``auth.test``'s answer, asked once (again only after Slack could not be reached)."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._lock = asyncio.Lock()
        self.workspace: Workspace | None = None
        #: Slack's error when it refused the bot token (then nothing else is asked).
        self.refused: str | None = None

    @property
    def not_ready(self) -> str | None:
        """Why sharebot cannot work with Slack (for ``/readyz``), or None."""
        if self.refused is None:
            return None
        return f"Slack refused the bot token ({self.refused}): check SLACK_BOT_TOKEN"

    async def learn(self) -> Workspace | None:
        """Ask ``auth.test`` unless answered already; None while Slack cannot be asked."""
        if self.workspace is not None or self.refused is not None:
            return self.workspace
        async with self._lock:
            if self.workspace is None and self.refused is None:
                await self._ask()
        return self.workspace

    async def _ask(self) -> None:
        try:
            response = await self._client.auth_test()
        except SlackApiError as err:
            error = str(err.response.get("error") or "unknown") if err.response else "unknown"
            if error in TOKEN_REFUSED:
                self.refused = error
                log.error(
                    "Slack refused SLACK_BOT_TOKEN (auth.test: %s): set it to %s, and reinstall "
                    "the app if the token was revoked. Until then sharebot cannot answer anyone, "
                    "and /readyz says not ready.",
                    error,
                    advice_for("SLACK_BOT_TOKEN"),
                )
            else:
                log.warning("auth.test failed (%s); asked again on the next request", error)
            return
        except (SlackClientError, OSError, TimeoutError) as err:
            log.warning(
                "could not reach Slack for auth.test (%s); asked again on the next request",
                err.__class__.__name__,
            )
            return
        team = response.get("team_id")
        app = response.get("app_id")
        if not isinstance(team, str) or not team:
            log.warning("auth.test named no team; requests are not checked for their workspace")
            return
        self.workspace = Workspace(team, app if isinstance(app, str) and app else None)
        log.info("Slack workspace %s, app %s", team, self.workspace.app_id or "(not named)")


def foreign(body: dict[str, Any], team_id: str | None, ours: Workspace) -> str | None:
    """Why a request is not for this install (another team or app named), or None.

    ``team_id`` is the team Bolt found in the request (for events the installing team of
    ``authorizations``, for modals opened across Slack Connect ``app_installed_team_id``).
    A request that names no team or app is left to the listeners.
    """
    if team_id and team_id != ours.team_id:  # (a signed fuzz sent ``true``: not ours either)
        return f"team {_shown(team_id)}"
    app = body.get("api_app_id")
    if ours.app_id is not None and isinstance(app, str) and app and app != ours.app_id:
        return f"app {_shown(app)}"
    return None


def _shown(value: object) -> str:
    """An id from a request as a log line may show it: Slack's ids are short and plain
    (anything but a string, which Slack never sends, shows as ``?``)."""
    text = value if isinstance(value, str) else ""
    kept = "".join(c for c in text[:40] if c.isascii() and (c.isalnum() or c in "_-."))
    return kept or "?"


def same_workspace_middleware(
    identity: SlackIdentity,
) -> Callable[..., Awaitable[BoltResponse | None]]:
    """A global Bolt middleware: signed requests naming another team or app are acknowledged
    (an empty 200) and go no further; one WARNING each, naming only the ids."""

    async def same_workspace(
        body: dict[str, Any],
        context: AsyncBoltContext,
        next: Callable[[], Awaitable[None]],  # Bolt passes it by this name
    ) -> BoltResponse | None:
        ours = await identity.learn()
        why = foreign(body, context.team_id, ours) if ours is not None else None
        if why is None:
            await next()
            return None
        log.warning(
            "ignored a signed %s request from %s (this install is team %s, app %s)",
            _shown(str(body.get("type") or body.get("command") or "Slack")),
            why,
            ours.team_id if ours else "?",
            (ours.app_id if ours else None) or "?",
        )
        return BoltResponse(status=200, body="")

    return same_workspace
