"""Wiring, the only place services are built: every long-lived object once from Settings
(cosmic-python's bootstrap), closed together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import Engine

from bot.app.codes import Codes
from bot.app.decisions import ApprovalConfig, DecisionService
from bot.app.digest import DigestConfig, DigestService
from bot.app.endings import Endings
from bot.app.flags import FlagService
from bot.app.gate import GateConfig, GateService
from bot.app.groups import Groups
from bot.app.home import HomeService
from bot.app.identity import IdentityResolver
from bot.app.jobs import Jobs
from bot.app.limits import SendLimit
from bot.app.linking import LinkingConfig, LinkingService
from bot.app.notices import NoticeService, keep_undelivered
from bot.app.reconcile import Reconciler
from bot.app.recovery import Recovery
from bot.app.replays import Replays
from bot.app.sharing import Sharing
from bot.app.sweep import Sweep
from bot.clock import utcnow
from bot.config import Settings
from bot.domain.decisions import Policy
from bot.domain.digest import StaleRules
from bot.hub.client import HubClient
from bot.ops.metrics import Metrics
from bot.slack.messenger import KeepAliveWebClient, SlackMessenger, make_web_client
from bot.slack.port import SlackSay
from bot.store.audit import AuditLog
from bot.store.db import make_engine
from bot.store.decisions import Decisions
from bot.store.digests import Digests
from bot.store.flags import Flags
from bot.store.gates import Gates
from bot.store.grants import Grants
from bot.store.invocations import Invocations
from bot.store.link_flows import LinkFlows
from bot.store.links import Links
from bot.store.outbox import Outbox
from bot.store.sent import Sent


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    hub: HubClient
    messenger: SlackMessenger  # the raw Slack client (Bolt's, the listeners')
    say: SlackSay  # the use cases' port
    grants: Grants
    links: Links
    audit: AuditLog
    metrics: Metrics
    notices: NoticeService
    home: HomeService
    sharing: Sharing
    flags: FlagService
    sweep: Sweep
    decisions: DecisionService
    digest: DigestService
    reconciler: Reconciler
    linking: LinkingService
    gate: GateService
    jobs: Jobs
    replays: Replays

    async def aclose(self) -> None:
        await self.gate.aclose()
        await self.hub.aclose()
        if isinstance(self.messenger.client, KeepAliveWebClient):
            await self.messenger.client.aclose()
        self.engine.dispose()


def build(
    settings: Settings,
    engine: Engine | None = None,
    *,
    hub: HubClient | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Runtime:
    """Everything, once. ``engine``, ``hub`` and ``clock`` replace what the settings would
    make (the sandbox and the tests put a scripted hub or a moved clock in)."""
    engine = engine or make_engine(settings.database_url)
    metrics = Metrics(engine)
    audited = metrics.audited  # every store counts what it audits, once committed
    grants = Grants(engine, on_audit=audited)
    links = Links(engine, on_audit=audited)
    audit = AuditLog(engine, on_audit=audited)
    flag_store = Flags(engine, on_audit=audited)
    outbox = Outbox(engine, on_audit=audited)
    decision_store = Decisions(engine, on_audit=audited)
    digests = Digests(engine, on_audit=audited)
    hub = hub or HubClient(
        settings.hub_api_base,
        settings.jupyterhub_api_token.get_secret_value(),
        observer=metrics.hub_call,
    )
    messenger = SlackMessenger(
        make_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_base),
        on_failure=metrics.slack_failed,
        on_undelivered=keep_undelivered(outbox),
    )
    say = SlackSay(messenger)
    claim_ttl = timedelta(seconds=settings.claim_ttl)
    notices = NoticeService(
        outbox,
        say,
        lease=claim_ttl,
        admin_channel=settings.admin_channel,
        on_given_up=metrics.notice_given_up,
        clock=clock,
    )
    admins = frozenset(settings.admins)
    home = HomeService(
        grants=grants,
        links=links,
        decisions=decision_store,
        say=say,
        approvers=settings.approvers,
        admins=admins,
    )
    endings = Endings(
        hub=hub,
        grants=grants,
        audit=audit,
        say=say,
        notices=notices,
        flags=flag_store,
        home=home,
        clock=clock,
        claim_ttl=claim_ttl,
        reminders=settings.reminder_rule,
    )
    flags = FlagService(endings=endings, flags=flag_store, links=links, admins=admins)
    codes = Codes(endings=endings, flags=flags)
    linking_config = LinkingConfig(
        public_base=settings.public_base,
        hub_public_origin=settings.hub_public_origin,
        hub_api_path=urlsplit(settings.hub_api_base).path.rstrip("/"),
        client_id=settings.jupyterhub_client_id,
        redirect_uri=settings.oauth_redirect_uri,
    )
    flows = LinkFlows(engine, on_audit=audited)
    gate_on, gate_why = settings.accept_gate_mode
    gate = GateService(
        config=GateConfig(enabled=gate_on, why=gate_why, linking=linking_config),
        hub=hub,
        gates=Gates(engine, on_audit=audited),
        flows=flows,
        endings=endings,
        codes=codes,
        say=say,
    )
    identities = IdentityResolver(
        links=links,
        hub=hub,
        say=say,
        email_mapping=settings.email_mapping,
        email_domains=settings.email_domains,
    )
    sharing = Sharing(
        endings=endings,
        codes=codes,
        links=links,
        flags=flag_store,
        identities=identities,
        public_url=settings.hub_public_origin,
        invite_ttl=settings.invite_ttl,
        admins=admins,
        gate=gate,
    )
    sweep = Sweep(
        endings=endings,
        codes=codes,
        flags=flags,
        recovery=Recovery(endings=endings, sharing=sharing, audit=audit),
        concurrency=settings.sweep_concurrency,
    )
    decisions = DecisionService(
        sharing=sharing,
        decisions=decision_store,
        grants=grants,
        links=links,
        say=say,
        config=ApprovalConfig(
            policy=Policy(
                approval_above=settings.approval_above, for_groups=settings.approval_for_groups
            ),
            approvers=settings.approvers,
            channel=settings.approval_channel,
            ttl=settings.request_ttl,
            max_duration=settings.max_duration,
            allow_until_revoked=settings.allow_until_revoked,
        ),
        home=home,
        limit=SendLimit(Sent(engine), settings.rate_limit_per_minute),
        groups=Groups(say=say, identities=identities, max_recipients=settings.max_recipients),
    )
    replays = Replays(Invocations(engine))
    reconciler = Reconciler(
        hub=hub,
        grants=grants,
        digests=digests,
        interval=settings.reconcile_interval,
        concurrency=settings.sweep_concurrency,
    )
    digest = DigestService(
        hub=hub,
        grants=grants,
        links=links,
        digests=digests,
        reconciler=reconciler,
        sharing=sharing,
        say=say,
        config=DigestConfig(
            schedule=settings.digest_schedule,
            rules=StaleRules(stale_after=settings.stale_after, inactivity=settings.stale_inactive),
            snooze=settings.snooze,
            admin_channel=settings.admin_channel,
            concurrency=settings.sweep_concurrency,
        ),
    )
    linking = LinkingService(config=linking_config, hub=hub, links=links, flows=flows, say=say)
    jobs = Jobs(
        sweep=sweep,
        decisions=decisions,
        notices=notices,
        digest=digest,
        reconciler=reconciler,
        interval=settings.sweep_interval,
        on_success=metrics.job_succeeded,
        clock=clock,
        replays=replays,
    )
    return Runtime(
        settings=settings,
        engine=engine,
        hub=hub,
        messenger=messenger,
        say=say,
        grants=grants,
        links=links,
        audit=audit,
        metrics=metrics,
        notices=notices,
        home=home,
        sharing=sharing,
        flags=flags,
        sweep=sweep,
        decisions=decisions,
        digest=digest,
        reconciler=reconciler,
        linking=linking,
        gate=gate,
        jobs=jobs,
        replays=replays,
    )
