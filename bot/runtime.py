"""Wiring: build every long-lived object once from Settings, and close them together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import Engine

from bot.app.decisions import ApprovalConfig, DecisionService
from bot.app.home import HomeService
from bot.app.identity import IdentityResolver
from bot.app.linking import LinkingConfig, LinkingService
from bot.app.notices import NoticeService, keep_undelivered
from bot.app.sharing import ShareService
from bot.config import Settings
from bot.domain.decisions import Policy
from bot.hub.client import HubClient
from bot.ops.metrics import Metrics
from bot.slack.messenger import KeepAliveWebClient, SlackMessenger, make_web_client
from bot.store.db import make_engine
from bot.store.decisions import Decisions
from bot.store.flags import Flags
from bot.store.link_flows import LinkFlows
from bot.store.outbox import Outbox
from bot.store.repository import Repository


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    repo: Repository
    hub: HubClient
    messenger: SlackMessenger
    service: ShareService
    linking: LinkingService
    decisions: DecisionService
    metrics: Metrics
    notices: NoticeService

    async def aclose(self) -> None:
        await self.hub.aclose()
        if isinstance(self.messenger.client, KeepAliveWebClient):
            await self.messenger.client.aclose()
        self.engine.dispose()


def build(settings: Settings, engine: Engine | None = None) -> Runtime:
    engine = engine or make_engine(settings.database_url)
    metrics = Metrics(engine)
    repo = Repository(engine, on_audit=metrics.audited)
    hub = HubClient(
        settings.hub_api_base,
        settings.jupyterhub_api_token.get_secret_value(),
        observer=metrics.hub_call,
    )
    outbox = Outbox(engine)
    claim_ttl = timedelta(seconds=settings.claim_ttl)
    messenger = SlackMessenger(
        make_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_base),
        on_failure=metrics.slack_failed,
        on_undelivered=keep_undelivered(outbox),
    )
    identities = IdentityResolver(
        repo=repo,
        hub=hub,
        messenger=messenger,
        email_mapping=settings.email_mapping,
        email_domains=settings.email_domains,
    )
    notices = NoticeService(
        outbox,
        messenger,
        lease=claim_ttl,
        admin_channel=settings.admin_channel,
        on_given_up=metrics.notice_given_up,
    )
    decision_store = Decisions(engine)
    home = HomeService(
        repo=repo, decisions=decision_store, messenger=messenger, approvers=settings.approvers
    )
    service = ShareService(
        hub=hub,
        repo=repo,
        messenger=messenger,
        identities=identities,
        public_url=settings.hub_public_origin,
        invite_ttl=settings.invite_ttl,
        home=home,
        remind_before=settings.remind_before,
        remind_min_duration=settings.remind_min_duration,
        notices=notices,
        claim_ttl=claim_ttl,
        admins=frozenset(settings.admins),
        concurrency=settings.sweep_concurrency,
        flags=Flags(engine),
    )
    linking = LinkingService(
        config=LinkingConfig(
            public_base=settings.public_base,
            hub_public_origin=settings.hub_public_origin,
            hub_api_path=urlsplit(settings.hub_api_base).path.rstrip("/"),
            client_id=settings.jupyterhub_client_id,
            redirect_uri=settings.oauth_redirect_uri,
        ),
        hub=hub,
        repo=repo,
        flows=LinkFlows(engine),
        messenger=messenger,
    )
    decisions = DecisionService(
        shares=service,
        decisions=decision_store,
        messenger=messenger,
        config=ApprovalConfig(
            policy=Policy(approval_above=settings.approval_above),
            approvers=settings.approvers,
            channel=settings.approval_channel,
            ttl=settings.request_ttl,
            max_duration=settings.max_duration,
        ),
    )
    return Runtime(
        settings,
        engine,
        repo,
        hub,
        messenger,
        service,
        linking,
        decisions,
        metrics=metrics,
        notices=notices,
    )
