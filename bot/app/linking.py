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
import enum
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

from bot.app.messages import LinkAttempted, Linked
from bot.app.outcomes import LinkOffer, Reason, Refusal, Unlinked, WhoAmI
from bot.app.ports import Say
from bot.domain.linking import LINK_TTL, FlowStep, new_secret, pkce_challenge, sha256_hex
from bot.errors import HubError, SharebotError
from bot.hub.client import HubClient
from bot.store.link_flows import Flow, LinkFlows
from bot.store.links import Links

log = logging.getLogger(__name__)

COOKIE = "sharebot-link"


class PageProblem(enum.StrEnum):
    """Why a linking page could not go on (the web layer has the words for each)."""

    UNKNOWN_LINK = "unknown_link"
    USED_LINK = "used_link"
    EXPIRED_LINK = "expired_link"
    STATE_MISMATCH = "state_mismatch"
    OTHER_BROWSER = "other_browser"
    CSRF = "csrf"
    EXCHANGE_FAILED = "exchange_failed"
    NOT_AUTHORIZED = "not_authorized"  # detail: what the hub said
    INCOMPLETE_FORM = "incomplete_form"
    LINKED_ELSEWHERE = "linked_elsewhere"  # detail: the hub user
    # the accept gate (bot.app.gate)
    UNKNOWN_INVITATION = "unknown_invitation"
    INVITATION_ACCEPTED = "invitation_accepted"
    INVITATION_ENDED = "invitation_ended"
    INVITATION_EXPIRED = "invitation_expired"
    INVITATION_SPENT = "invitation_spent"
    NOT_ACCEPTED_YET = "not_accepted_yet"


class LinkPageError(SharebotError):
    """A linking step failed: the page shows ``status``, ``title`` and the problem."""

    def __init__(
        self, status: int, title: str, problem: PageProblem, detail: str | None = None
    ) -> None:
        super().__init__(f"{title}: {problem}", user_message=problem.value)
        self.status = status
        self.title = title
        self.problem = problem
        self.detail = detail


@dataclass(frozen=True)
class Confirmation:
    flow_id: int
    slack_user_id: str
    slack_name: str | None
    hub_user: str
    csrf_token: str
    replaces: str | None = None  # the hub user this Slack user is linked to now


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


def authorize_url(config: LinkingConfig, state: str, verifier: str) -> str:
    """The hub's OAuth authorize URL for a flow (PKCE S256)."""
    query = urlencode(
        {
            "client_id": config.client_id,
            "redirect_uri": config.redirect_uri or "",
            "response_type": "code",
            "state": state,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    return f"{config.hub_public_origin}{config.hub_api_path}/oauth2/authorize?{query}"


async def hub_user_of(
    *,
    hub: HubClient,
    config: LinkingConfig,
    flows: LinkFlows,
    flow: Flow,
    code: str | None,
    error: str | None,
    now: datetime,
) -> str:
    """Who the hub says the browser is: the OAuth code exchanged (PKCE), the token used once
    to ask, never stored. A refusal or a failed exchange ends the flow for good."""
    if error or not code:
        await asyncio.to_thread(flows.fail, flow, now=now)
        raise LinkPageError(400, "Not authorized", PageProblem.NOT_AUTHORIZED, error)
    assert flow.code_verifier is not None
    try:
        token = await hub.exchange_oauth_code(
            code=code,
            client_id=config.client_id,
            redirect_uri=config.redirect_uri or "",
            code_verifier=flow.code_verifier,
        )
        hub_user = await hub.identify(token)
    except HubError as err:
        log.warning("signing in %s through the hub failed: %s", flow.slack_user_id, err)
        await asyncio.to_thread(flows.fail, flow, now=now)
        raise LinkPageError(
            502, "JupyterHub did not confirm", PageProblem.EXCHANGE_FAILED
        ) from None
    del token  # used once, never stored
    return hub_user


def check_usable(flow: Flow, step: FlowStep, now: datetime) -> None:
    if flow.expires_at <= now:
        raise LinkPageError(410, "Link expired", PageProblem.EXPIRED_LINK)
    if flow.step is not step:
        raise LinkPageError(410, "Link already used", PageProblem.USED_LINK)


def check_browser(flow: Flow, browser: str | None) -> None:
    if (
        not browser
        or flow.browser_hash is None
        or not hmac.compare_digest(sha256_hex(browser), flow.browser_hash)
    ):
        raise LinkPageError(400, "Different browser", PageProblem.OTHER_BROWSER)


class LinkingService:
    def __init__(
        self,
        *,
        config: LinkingConfig,
        hub: HubClient,
        links: Links,
        flows: LinkFlows,
        say: Say,
    ) -> None:
        self.config = config
        self.hub = hub
        self.links = links
        self.flows = flows
        self.say = say

    # -- Slack side ---------------------------------------------------------------------

    async def issue(self, slack_user_id: str, now: datetime) -> LinkOffer | Refusal:
        if self.config.public_base is None:
            return Refusal(Reason.LINKING_NOT_CONFIGURED)
        nonce = new_secret()
        await asyncio.to_thread(
            self.flows.issue, slack_user_id, sha256_hex(nonce), now=now, ttl=self.config.ttl
        )
        return LinkOffer(f"{self.config.public_base}link/{nonce}")

    async def unlink(self, slack_user_id: str, now: datetime) -> Unlinked:
        previous = await asyncio.to_thread(
            self.links.unlink, slack_user_id, by=slack_user_id, now=now
        )
        return Unlinked(previous.hub_user if previous else None)

    async def whoami(self, slack_user_id: str) -> WhoAmI:
        link = await asyncio.to_thread(self.links.link_of, slack_user_id)
        return WhoAmI(link.hub_user if link else None, link.method if link else None)

    # -- browser side -------------------------------------------------------------------

    async def start(self, nonce: str, now: datetime) -> tuple[str, str]:
        """Open the one-time link: returns (hub authorize URL, browser cookie value)."""
        flow = await asyncio.to_thread(self.flows.by_nonce, sha256_hex(nonce))
        if flow is None:
            raise LinkPageError(404, "Unknown link", PageProblem.UNKNOWN_LINK)
        check_usable(flow, FlowStep.ISSUED, now)
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
            raise LinkPageError(410, "Link already used", PageProblem.USED_LINK)
        return authorize_url(self.config, state, verifier), browser

    async def flow_of(self, state: str | None) -> Flow:
        """The flow an OAuth callback's ``state`` belongs to (linking, or an accept gate)."""
        if not state:
            raise LinkPageError(400, "Missing state", PageProblem.STATE_MISMATCH)
        flow = await asyncio.to_thread(self.flows.by_state, sha256_hex(state))
        if flow is None:
            raise LinkPageError(400, "State mismatch", PageProblem.STATE_MISMATCH)
        return flow

    async def callback(
        self,
        *,
        flow: Flow,
        code: str | None,
        error: str | None,
        browser: str | None,
        now: datetime,
    ) -> Confirmation:
        check_browser(flow, browser)
        check_usable(flow, FlowStep.AUTHORIZING, now)
        hub_user = await hub_user_of(
            hub=self.hub,
            config=self.config,
            flows=self.flows,
            flow=flow,
            code=code,
            error=error,
            now=now,
        )
        holder = await asyncio.to_thread(self.links.slack_user_of, hub_user)
        if holder is not None and holder != flow.slack_user_id:
            # Someone else's hub identity: never moved from the Slack user who has it by a
            # link page (which anyone can be sent); they unlink first, and they are told.
            await asyncio.to_thread(self.flows.fail, flow, now=now)
            log.warning(
                "account linking: hub user %s is linked to %s; %s was not linked to it",
                hub_user,
                holder,
                flow.slack_user_id,
            )
            await self.say.notify(holder, LinkAttempted(hub_user, flow.slack_user_id))
            raise LinkPageError(409, "Already linked", PageProblem.LINKED_ELSEWHERE, hub_user)
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
            raise LinkPageError(410, "Link already used", PageProblem.USED_LINK)
        user = await self.say.user_info(flow.slack_user_id)
        name = None
        if user:
            profile = user.get("profile") or {}
            name = profile.get("display_name") or profile.get("real_name") or user.get("name")
        current = await asyncio.to_thread(self.links.link_of, flow.slack_user_id)
        replaces = current.hub_user if current and current.hub_user != hub_user else None
        return Confirmation(flow.id, flow.slack_user_id, name, hub_user, csrf, replaces)

    async def confirm(
        self, *, flow_id: int, csrf: str | None, browser: str | None, now: datetime
    ) -> tuple[str, str]:
        """Store the link; returns (Slack user id, hub user)."""
        flow = await asyncio.to_thread(self.flows.get, flow_id)
        if flow is None:
            raise LinkPageError(400, "Unknown request", PageProblem.STATE_MISMATCH)
        check_browser(flow, browser)
        if (
            not csrf
            or flow.csrf_hash is None
            or not hmac.compare_digest(sha256_hex(csrf), flow.csrf_hash)
        ):
            raise LinkPageError(403, "Request not verified", PageProblem.CSRF)
        check_usable(flow, FlowStep.CONFIRMING, now)
        assert flow.hub_user is not None
        holder = await asyncio.to_thread(self.links.slack_user_of, flow.hub_user)
        if holder is not None and holder != flow.slack_user_id:  # linked since the callback
            await asyncio.to_thread(self.flows.fail, flow, now=now)
            await self.say.notify(holder, LinkAttempted(flow.hub_user, flow.slack_user_id))
            raise LinkPageError(409, "Already linked", PageProblem.LINKED_ELSEWHERE, flow.hub_user)
        if not await asyncio.to_thread(self.flows.advance, flow, FlowStep.DONE, now=now):
            raise LinkPageError(410, "Link already used", PageProblem.USED_LINK)
        previous = await asyncio.to_thread(
            self.links.link,
            flow.slack_user_id,
            flow.hub_user,
            method="oauth",
            by=flow.hub_user,
            now=now,
        )
        log.info("linked Slack user %s to hub user %s via OAuth", flow.slack_user_id, flow.hub_user)
        await self.say.notify(
            flow.slack_user_id, Linked(flow.hub_user, previous.hub_user if previous else None)
        )
        return flow.slack_user_id, flow.hub_user
