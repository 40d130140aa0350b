"""Self-service account linking through JupyterHub's OAuth (PKCE S256, state in the database).

    /share-server link  -> one-time link  GET  {public}/link/{nonce}
                        -> hub OAuth      GET  {hub}/hub/api/oauth2/authorize
                        -> callback       GET  {public}/oauth_callback?code&state
                        -> confirmation   POST {public}/link/confirm (CSRF token + cookie)

Every secret is random, single use, stored hashed (the PKCE verifier is erased after use),
and bound to the browser that opened the link by an HttpOnly cookie.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

from bot.domain.linking import LINK_TTL, FlowStep, new_secret, pkce_challenge, sha256_hex
from bot.errors import HubError, SharebotError
from bot.hub.client import HubClient
from bot.slack import texts
from bot.slack.messenger import SlackMessenger
from bot.store.link_flows import Flow, LinkFlows
from bot.store.repository import Repository

log = logging.getLogger(__name__)

COOKIE = "sharebot-link"


class LinkPageError(SharebotError):
    """A linking step failed; ``status``, ``title`` and the message make the page."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title


@dataclass(frozen=True)
class Confirmation:
    flow_id: int
    slack_user_id: str
    slack_name: str | None
    hub_user: str
    csrf_token: str


@dataclass(frozen=True)
class LinkingConfig:
    public_base: str | None  # SHAREBOT_PUBLIC_URL, ending in "/"
    hub_public_origin: str
    hub_api_path: str  # e.g. /hub/api
    client_id: str
    redirect_uri: str | None
    ttl: timedelta = LINK_TTL

    @property
    def cookie_path(self) -> str:
        return urlsplit(self.public_base or "/").path or "/"

    @property
    def secure_cookie(self) -> bool:
        return (self.public_base or "").startswith("https://")


class LinkingService:
    def __init__(
        self,
        *,
        config: LinkingConfig,
        hub: HubClient,
        repo: Repository,
        flows: LinkFlows,
        messenger: SlackMessenger,
    ) -> None:
        self.config = config
        self.hub = hub
        self.repo = repo
        self.flows = flows
        self.messenger = messenger

    # -- Slack side ---------------------------------------------------------------------

    async def issue(self, slack_user_id: str, now: datetime) -> str:
        if self.config.public_base is None:
            return texts.linking_not_configured()
        nonce = new_secret()
        await asyncio.to_thread(
            self.flows.issue, slack_user_id, sha256_hex(nonce), now=now, ttl=self.config.ttl
        )
        return texts.link_offer(f"{self.config.public_base}link/{nonce}")

    async def unlink(self, slack_user_id: str, now: datetime) -> str:
        previous = await asyncio.to_thread(
            self.repo.unlink, slack_user_id, by=slack_user_id, now=now
        )
        return texts.unlinked(previous.hub_user if previous else None)

    async def whoami(self, slack_user_id: str) -> str:
        link = await asyncio.to_thread(self.repo.link_of, slack_user_id)
        return texts.whoami(link.hub_user if link else None, link.method if link else None)

    # -- browser side -------------------------------------------------------------------

    async def start(self, nonce: str, now: datetime) -> tuple[str, str]:
        """Open the one-time link: returns (hub authorize URL, browser cookie value)."""
        flow = await asyncio.to_thread(self.flows.by_nonce, sha256_hex(nonce))
        if flow is None:
            raise LinkPageError(404, "Unknown link", texts.PAGE_UNKNOWN_LINK)
        self._check_usable(flow, FlowStep.ISSUED, now)
        state, verifier, browser = new_secret(), new_secret(), new_secret()
        won = await asyncio.to_thread(
            self.flows.advance,
            flow,
            FlowStep.AUTHORIZING,
            now=now,
            state_hash=sha256_hex(state),
            browser_hash=sha256_hex(browser),
            code_verifier=verifier,
        )
        if not won:
            raise LinkPageError(410, "Link already used", texts.PAGE_USED_LINK)
        query = urlencode(
            {
                "client_id": self.config.client_id,
                "redirect_uri": self.config.redirect_uri or "",
                "response_type": "code",
                "state": state,
                "code_challenge": pkce_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        authorize = f"{self.config.hub_public_origin}{self.config.hub_api_path}/oauth2/authorize"
        return f"{authorize}?{query}", browser

    async def callback(
        self,
        *,
        code: str | None,
        state: str | None,
        error: str | None,
        browser: str | None,
        now: datetime,
    ) -> Confirmation:
        if not state:
            raise LinkPageError(400, "Missing state", texts.PAGE_STATE_MISMATCH)
        flow = await asyncio.to_thread(self.flows.by_state, sha256_hex(state))
        if flow is None:
            raise LinkPageError(400, "State mismatch", texts.PAGE_STATE_MISMATCH)
        self._check_browser(flow, browser)
        self._check_usable(flow, FlowStep.AUTHORIZING, now)
        if error or not code:
            await asyncio.to_thread(self.flows.fail, flow, now=now)
            raise LinkPageError(400, "Not authorized", texts.page_no_code(error))
        assert flow.code_verifier is not None
        try:
            token = await self.hub.exchange_oauth_code(
                code=code,
                client_id=self.config.client_id,
                redirect_uri=self.config.redirect_uri or "",
                code_verifier=flow.code_verifier,
            )
            hub_user = await self.hub.identify(token)
        except HubError as err:
            log.warning("account linking for %s failed at the hub: %s", flow.slack_user_id, err)
            await asyncio.to_thread(self.flows.fail, flow, now=now)
            raise LinkPageError(
                502, "JupyterHub did not confirm", texts.PAGE_EXCHANGE_FAILED
            ) from None
        del token  # used once, never stored
        csrf = new_secret()
        won = await asyncio.to_thread(
            self.flows.advance,
            flow,
            FlowStep.CONFIRMING,
            now=now,
            hub_user=hub_user,
            csrf_hash=sha256_hex(csrf),
            code_verifier=None,
        )
        if not won:
            raise LinkPageError(410, "Link already used", texts.PAGE_USED_LINK)
        user = await self.messenger.user_info(flow.slack_user_id)
        name = None
        if user:
            profile = user.get("profile") or {}
            name = profile.get("display_name") or profile.get("real_name") or user.get("name")
        return Confirmation(flow.id, flow.slack_user_id, name, hub_user, csrf)

    async def confirm(
        self, *, flow_id: int, csrf: str | None, browser: str | None, now: datetime
    ) -> tuple[str, str]:
        """Store the link; returns (Slack user id, hub user)."""
        flow = await asyncio.to_thread(self.flows.get, flow_id)
        if flow is None:
            raise LinkPageError(400, "Unknown request", texts.PAGE_STATE_MISMATCH)
        self._check_browser(flow, browser)
        if (
            not csrf
            or flow.csrf_hash is None
            or not hmac.compare_digest(sha256_hex(csrf), flow.csrf_hash)
        ):
            raise LinkPageError(403, "Request not verified", texts.PAGE_CSRF)
        self._check_usable(flow, FlowStep.CONFIRMING, now)
        assert flow.hub_user is not None
        if not await asyncio.to_thread(self.flows.advance, flow, FlowStep.DONE, now=now):
            raise LinkPageError(410, "Link already used", texts.PAGE_USED_LINK)
        previous = await asyncio.to_thread(
            self.repo.link,
            flow.slack_user_id,
            flow.hub_user,
            method="oauth",
            by=flow.hub_user,
            now=now,
        )
        log.info("linked Slack user %s to hub user %s via OAuth", flow.slack_user_id, flow.hub_user)
        await self.messenger.notify(
            flow.slack_user_id,
            texts.linked_notice(flow.hub_user, previous.hub_user if previous else None),
        )
        return flow.slack_user_id, flow.hub_user

    @staticmethod
    def _check_usable(flow: Flow, step: FlowStep, now: datetime) -> None:
        if flow.expires_at <= now:
            raise LinkPageError(410, "Link expired", texts.PAGE_EXPIRED_LINK)
        if flow.step is not step:
            raise LinkPageError(410, "Link already used", texts.PAGE_USED_LINK)

    @staticmethod
    def _check_browser(flow: Flow, browser: str | None) -> None:
        if (
            not browser
            or flow.browser_hash is None
            or not hmac.compare_digest(sha256_hex(browser), flow.browser_hash)
        ):
            raise LinkPageError(400, "Different browser", texts.PAGE_OTHER_BROWSER)
