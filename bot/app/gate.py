"""The accept gate: an invitation's button opens sharebot's page, which lets only the
recipient through to the hub's accept page, and learns of the acceptance at once.

    DM button          GET  {public}/accept/{token}
    -> hub OAuth       GET  {hub}/hub/api/oauth2/authorize   (no page if signed in already)
    -> callback        GET  {public}/oauth_callback?code&state       (who is this?)
       the recipient:  302  {hub}/hub/accept-share?code=…&next={public path}accepted/{grant}
       anyone else:    a page saying whose invitation it is; the owner told once; audited
    -> after the POST  GET  {public}/accepted/{grant}  -> the code judged now -> the server

The share code is stored only sealed under the gate token (bot.domain.gate), the token only
hashed. The flow's state lives in the database (``link_flows``), so any replica can finish
it. If the hub does not send the browser back (an old hub, a ``next`` it refuses), a close
watch on the code for a couple of minutes notices the acceptance; the background pass stays
the backstop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urlsplit

from bot.aio import KeptTasks
from bot.app.codes import Codes
from bot.app.endings import Endings, db
from bot.app.linking import (
    LinkingConfig,
    LinkPageError,
    PageProblem,
    authorize_url,
    check_browser,
    check_usable,
    hub_user_of,
)
from bot.app.messages import GateRefused, ServerWaiting
from bot.app.ports import Say
from bot.domain.access import MANAGE
from bot.domain.gate import new_gate_token, seal, server_url_path, unseal
from bot.domain.grants import EndReason, Grant, GrantState, invitation_lapsed
from bot.domain.linking import FlowStep, new_secret, sha256_hex
from bot.errors import SharebotError
from bot.hub.client import HubClient, ShareCode
from bot.store.gates import Gates
from bot.store.link_flows import Flow, LinkFlows

log = logging.getLogger(__name__)

COOKIE = "sharebot-accept"
#: How long, after the recipient passed the gate, her code is watched closely.
WATCH_FOR = timedelta(minutes=2)
WATCH_EVERY = 0.5  # seconds


@dataclass(frozen=True)
class GateConfig:
    enabled: bool
    why: str  # for the start-up log and `sharebot check`
    linking: LinkingConfig

    @property
    def public_base(self) -> str:
        assert self.linking.public_base is not None
        return self.linking.public_base

    @property
    def hub_base_path(self) -> str:
        """The hub's base URL path ("" for /): its API path less ``/hub/api``."""
        api = self.linking.hub_api_path.rstrip("/")
        return api[: -len("/hub/api")] if api.endswith("/hub/api") else ""


@dataclass(frozen=True)
class PassThrough:
    """The recipient passed: send her browser to the hub's accept page (a secret URL). When
    the server is not running, a page says so first (``server_down``), and whether she can
    start it herself (``manage``)."""

    url: str
    grant: Grant
    server_down: bool = False

    @property
    def manage(self) -> bool:
        return MANAGE in self.grant.extras

    def __repr__(self) -> str:
        return f"PassThrough(<hub accept URL>, server_down={self.server_down})"


@dataclass(frozen=True)
class NotYours:
    """Someone else signed in: the page says whose invitation it is and what to do."""

    grant: Grant
    hub_user: str
    recipient_name: str | None
    owner_name: str | None


class GateService:
    def __init__(
        self,
        *,
        config: GateConfig,
        hub: HubClient,
        gates: Gates,
        flows: LinkFlows,
        endings: Endings,
        codes: Codes,
        say: Say,
    ) -> None:
        self.config = config
        self.hub = hub
        self.gates = gates
        self.flows = flows
        self.endings = endings
        self.grants = endings.grants
        self.codes = codes
        self.say = say
        self.watches = KeptTasks()
        self._watched: set[int] = set()  # grants watched by this process now

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    # -- the invitation ---------------------------------------------------------------------

    async def issue(self, grant: Grant, code: ShareCode, hub_origin: str, now: datetime) -> str:
        """Put an invitation's new code behind the gate; the link for the DM (a secret)."""
        accept = code.accept_url
        if not accept.startswith(("http://", "https://")):
            accept = hub_origin + accept
        token = new_gate_token()
        await db(self.gates.put, grant.id, sha256_hex(token), seal(accept, token), now=now)
        return f"{self.config.public_base}accept/{token}"

    def direct_next(self, grant: Grant) -> str | None:
        """Without the gate: where the hub's accept page sends her (a notebook path)."""
        if not grant.path:
            return None
        return server_url_path(self.config.hub_base_path, grant.owner_hub, grant.server, grant.path)

    # -- the browser ------------------------------------------------------------------------

    async def open(self, token: str, now: datetime) -> tuple[str, str]:
        """The DM's link opened: (the hub's authorize URL, the browser's cookie value)."""
        gate = await db(self.gates.by_token, sha256_hex(token))
        if gate is None:
            raise LinkPageError(404, "Unknown invitation", PageProblem.UNKNOWN_INVITATION)
        grant = await db(self.grants.get, gate.grant_id)
        if grant is None:
            raise LinkPageError(404, "Unknown invitation", PageProblem.UNKNOWN_INVITATION)
        self._check_open(grant, now)
        state, verifier, browser = new_secret(), new_secret(), new_secret()
        await db(
            self.flows.start_gate,
            grant.recipient_slack_id,
            grant.id,
            nonce_hash=sha256_hex(new_secret()),
            state_hash=sha256_hex(state),
            browser_hash=sha256_hex(browser),
            code_verifier=verifier,
            now=now,
            ttl=self.config.linking.ttl,
        )
        return authorize_url(self.config.linking, state, verifier), f"{browser}.{token}"

    async def callback(
        self,
        *,
        flow: Flow,
        code: str | None,
        error: str | None,
        cookie: str | None,
        now: datetime,
    ) -> PassThrough | NotYours:
        """The hub said who the browser is: the recipient passes, anyone else is turned away."""
        assert flow.grant_id is not None
        browser, _, token = (cookie or "").partition(".")
        check_browser(flow, browser)
        check_usable(flow, FlowStep.AUTHORIZING, now)
        hub_user = await hub_user_of(
            hub=self.hub,
            config=self.config.linking,
            flows=self.flows,
            flow=flow,
            code=code,
            error=error,
            now=now,
        )
        if not await db(self.flows.advance, flow, FlowStep.DONE, now=now, hub_user=hub_user):
            raise LinkPageError(410, "Link already used", PageProblem.USED_LINK)
        gate = await db(self.gates.by_token, sha256_hex(token)) if token else None
        grant = await db(self.grants.get, flow.grant_id)
        if gate is None or grant is None or gate.grant_id != grant.id:
            raise LinkPageError(400, "Different browser", PageProblem.OTHER_BROWSER)
        if hub_user != grant.recipient_hub:
            return await self._turn_away(grant, hub_user, now)
        self._check_open(grant, now)
        accept = unseal(gate.sealed_code, token)
        if accept is None:  # altered, or sealed under another token: never a guess
            raise LinkPageError(400, "Different browser", PageProblem.OTHER_BROWSER)
        back = urlsplit(f"{self.config.public_base}accepted/{grant.id}").path
        log.info("%s: the recipient passed the accept gate", grant.label)
        self.watch(grant)
        down = not await self._ready(grant)
        if down and MANAGE not in grant.extras:  # she cannot start it: the owner can
            notice = self.endings.notice(
                grant, "waiting", grant.owner_slack_id, ServerWaiting(grant)
            )
            await self.endings.tell([notice])  # once per invitation (the notice's key)
        return PassThrough(f"{accept}&next={quote(back, safe='')}", grant, down)

    async def accepted(self, grant_id: int, cookie: str | None, now: datetime) -> str:
        """The hub sent her back after the accept POST: judge the code now; the URL of the
        server (and notebook) to open."""
        _, _, token = (cookie or "").partition(".")
        gate = await db(self.gates.by_token, sha256_hex(token)) if token else None
        if gate is None or gate.grant_id != grant_id:
            raise LinkPageError(400, "Different browser", PageProblem.OTHER_BROWSER)
        grant, looked = await self.settle(grant_id, now)
        if grant is None:
            raise LinkPageError(404, "Unknown invitation", PageProblem.UNKNOWN_INVITATION)
        if grant.state is GrantState.INVITED:
            if looked:  # the hub counts no use of her code
                raise LinkPageError(409, "Not accepted yet", PageProblem.NOT_ACCEPTED_YET)
            return self.server_url(grant)  # not known yet: the hub decides what she may open
        if grant.state is not GrantState.ACTIVE:
            raise self._closed(grant)
        if MANAGE in grant.extras and not await self._ready(grant):
            return self.spawn_url(grant)  # hers to start now
        return self.server_url(grant)

    async def _ready(self, grant: Grant) -> bool:
        """Whether the server runs; when the hub cannot say, assume it does (the hub's own
        pages say otherwise)."""
        try:
            return await self.hub.server_ready(grant.owner_hub, grant.server)
        except SharebotError as err:
            log.info("%s: cannot tell whether the server runs: %s", grant.label, err)
            return True

    def spawn_url(self, grant: Grant) -> str:
        """The hub's page that starts the server (for someone with start/stop rights)."""
        tail = f"/{quote(grant.server)}" if grant.server else ""
        base = self.config.linking.hub_public_origin + self.config.hub_base_path.rstrip("/")
        return f"{base}/hub/spawn/{quote(grant.owner_hub)}{tail}"

    def server_url(self, grant: Grant) -> str:
        path = server_url_path(self.config.hub_base_path, grant.owner_hub, grant.server, grant.path)
        return self.config.linking.hub_public_origin + path

    # -- knowing at once --------------------------------------------------------------------

    async def settle(self, grant_id: int, now: datetime) -> tuple[Grant | None, bool]:
        """Judge an invitation's code now (claimed like the background pass does): the
        grant as it is then, and whether its code was looked at (not when another replica
        holds it, or the hub did not answer: the pass sees to it)."""
        grant = await db(self.grants.get, grant_id)
        if grant is None or grant.state is not GrantState.INVITED:
            return grant, True
        looked = False
        async with self.endings.claimed(grant, wait=2.0) as mine:
            if mine is not None and mine.state is GrantState.INVITED:
                try:
                    await self.codes.check(mine.owner_hub, mine.server, [mine], now)
                    looked = True
                except SharebotError as err:
                    log.warning("%s: the acceptance is left to the pass: %s", grant.label, err)
        return await db(self.grants.get, grant_id), looked

    def watch(self, grant: Grant) -> None:
        """Look at the code every half second for a while: an acceptance is known at once
        even when the browser does not come back through sharebot. One watch per grant
        and process, however often the recipient passes the gate."""
        if grant.id in self._watched:
            return
        self._watched.add(grant.id)
        self.watches.start(self._watch(grant.id))

    async def _watch(self, grant_id: int) -> None:
        try:
            await self._watch_until(grant_id, time.monotonic() + WATCH_FOR.total_seconds())
        finally:
            self._watched.discard(grant_id)

    async def _watch_until(self, grant_id: int, deadline: float) -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(WATCH_EVERY)
            grant = await db(self.grants.get, grant_id)
            if grant is None or grant.state is not GrantState.INVITED:
                return
            try:
                codes = await self.hub.share_codes(grant.owner_hub, grant.server)
                info = next((c for c in codes if c.id == grant.code_id), None)
                if info is None or info.exchange_count > grant.code_exchanges:
                    _, looked = await self.settle(grant_id, self.endings.clock())
                    if looked:
                        return
            except SharebotError as err:  # the background pass is the backstop
                log.info("%s: watching the code failed, left to the pass: %s", grant_id, err)
                return

    async def aclose(self) -> None:
        await self.watches.cancel()

    # -- words ------------------------------------------------------------------------------

    async def _turn_away(self, grant: Grant, hub_user: str, now: datetime) -> NotYours:
        log.warning("%s: hub user %s was turned away at the accept gate", grant.label, hub_user)
        if await db(self.gates.refused, grant.id, hub_user, now=now):
            await self.say.notify(grant.owner_slack_id, GateRefused(grant, hub_user))
        return NotYours(
            grant,
            hub_user,
            await self._name(grant.recipient_slack_id),
            await self._name(grant.owner_slack_id),
        )

    async def _name(self, slack_id: str) -> str | None:
        user = await self.say.user_info(slack_id)
        if not user:
            return None
        profile = user.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or user.get("name")
        return str(name) if name else None

    def _check_open(self, grant: Grant, now: datetime) -> None:
        if grant.state is GrantState.INVITED:
            if invitation_lapsed(grant, now):
                raise LinkPageError(410, "Invitation expired", PageProblem.INVITATION_EXPIRED)
            return
        raise self._closed(grant)

    @staticmethod
    def _closed(grant: Grant) -> LinkPageError:
        if grant.state in (GrantState.ACTIVE, GrantState.ENDING) and grant.accepted_at:
            return LinkPageError(409, "Already accepted", PageProblem.INVITATION_ACCEPTED)
        if grant.state is GrantState.LAPSED:
            return LinkPageError(410, "Invitation expired", PageProblem.INVITATION_EXPIRED)
        if grant.end_reason is EndReason.MISUSED or (
            grant.state is GrantState.REVOKED and grant.accepted_at is None and grant.code_exchanges
        ):
            return LinkPageError(410, "Link already used", PageProblem.INVITATION_SPENT)
        return LinkPageError(410, "Invitation ended", PageProblem.INVITATION_ENDED)
