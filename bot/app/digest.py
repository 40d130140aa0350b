"""Use cases of reconciliation and the daily digest.

- :meth:`DigestService.reconcile` compares every linked owner's shares in the hub with our
  grants (:mod:`bot.domain.reconcile`): grants whose share was removed in the hub are
  closed (``revoked_in_hub``, never revoked again), shares the bot did not make are
  recorded as external.
- :meth:`DigestService.run` reconciles, then sends each owner with stale shares one DM for
  the day. Each message is claimed in the database (a UNIQUE row per owner and day)
  *before* it is sent: two replicas, a second ``sharebot digest --now`` or a restart in the
  middle never send it twice. The price is honest at-most-once delivery: if the process
  dies between the claim and Slack's answer, or Slack refuses the message after its
  retries, that owner gets no digest that day (the failure is recorded and logged).
- The buttons (Revoke, Keep, Revoke all stale) act only for the owner the message was
  sent to, then update the message in place.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import ParamSpec, TypeVar

from bot.aio import bounded
from bot.app.messages import Digest, DigestSummary, Posted
from bot.app.outcomes import (
    DigestKept,
    ExternalNowOurs,
    ExternalRevoked,
    ExternalRevokeFailed,
    Reason,
    Refusal,
    Several,
)
from bot.app.ports import Say
from bot.app.reconcile import Reconciler, ReconcileReport
from bot.app.sharing import Sharing
from bot.domain.digest import (
    Item,
    ItemKind,
    Schedule,
    StaleRules,
    Status,
    due_day,
    external_status,
    grant_status,
    local_day,
    parse_ref,
    stale_items,
    summary,
)
from bot.domain.grants import OPEN_STATES, Grant, GrantState
from bot.domain.reconcile import ExternalShare, ShareKind
from bot.errors import HubError, SlackDeliveryError
from bot.hub.client import HubClient
from bot.store.digests import ADMIN, OWNER, Digests, Message
from bot.store.grants import Grants
from bot.store.links import Links

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

MAX_ITEMS = 20  # per message: two blocks each, within Slack's 50 blocks


@dataclass(frozen=True)
class DigestConfig:
    schedule: Schedule
    rules: StaleRules = field(default_factory=StaleRules)
    snooze: timedelta = timedelta(days=7)
    admin_channel: str | None = None
    # Slack's rate limit paces the digest: a 429 is waited out (slack_sdk's retry handler,
    # then here) and the same owner's digest is sent again, up to this many times.
    rate_limit_retries: int = 20
    # Owners reconciled, or sent their digest, at once (SHAREBOT_SWEEP_CONCURRENCY).
    concurrency: int = 10


@dataclass
class DigestReport:
    day: str = ""
    owners_with_stale: int = 0
    sent: int = 0
    already_sent: int = 0
    failed: int = 0
    admin_sent: bool = False
    reconcile: ReconcileReport = field(default_factory=ReconcileReport)


def runner_name() -> str:
    """Who runs a digest, for the record: host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


class DigestService:
    def __init__(
        self,
        *,
        hub: HubClient,
        grants: Grants,
        links: Links,
        digests: Digests,
        reconciler: Reconciler,
        sharing: Sharing,
        say: Say,
        config: DigestConfig,
        runner: str | None = None,
    ) -> None:
        self.hub = hub
        self.grants = grants
        self.links = links
        self.digests = digests
        self.reconciler = reconciler
        self.sharing = sharing
        self.say = say
        self.config = config
        self.runner = runner or runner_name()

    async def _db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    # -- the digest ---------------------------------------------------------------------

    async def run_if_due(self, now: datetime) -> DigestReport | None:
        """The digest, when today's is due and no run has completed today."""
        day = due_day(self.config.schedule, now)
        if day is None or await self._db(self.digests.finished, day):
            return None
        return await self.run(now)

    async def run(self, now: datetime) -> DigestReport:
        """Reconcile, then send today's digest to every owner who has not had it yet.

        Ignores the time of day (``sharebot digest --now``), never the once-per-day record.
        """
        day = local_day(self.config.schedule, now)
        report = DigestReport(day=day.isoformat())
        report.reconcile = await self.reconciler.reconcile(now)
        run_id = await self._db(self.digests.start_run, day, self.runner, now)
        owners = await self._db(self.digests.linked_owners)
        per_owner: dict[str, list[Item]] = {}

        async def one(owner_hub: str, slack_id: str) -> None:
            items = await self.stale_for(owner_hub, now)
            per_owner[owner_hub] = items
            if items:
                await self._send_owner_digest(day, run_id, owner_hub, slack_id, items, now, report)

        await bounded(
            self.config.concurrency,
            [functools.partial(one, o, s) for o, s in sorted(owners.items())],
        )
        if self.config.admin_channel and report.owners_with_stale:
            report.admin_sent = await self._admin_summary(day, run_id, per_owner, now)
        await self._db(self.digests.finish_run, run_id, report.sent, now)
        return report

    async def _send_owner_digest(
        self,
        day: date,
        run_id: int,
        owner_hub: str,
        slack_id: str,
        items: list[Item],
        now: datetime,
        report: DigestReport,
    ) -> None:
        """Claim today's digest of one owner (once per day, whoever runs it) and send it."""
        report.owners_with_stale += 1
        shown = items[:MAX_ITEMS]
        message_id = await self._db(
            self.digests.claim,
            day=day,
            kind=OWNER,
            owner_hub=owner_hub,
            target=slack_id,
            run_id=run_id,
            items=shown,
            now=now,
        )
        if message_id is None:
            report.already_sent += 1
            return
        statuses: list[tuple[Item, Status, datetime | None]] = [
            (item, Status.OPEN, None) for item in shown
        ]
        digest = Digest(
            message_id, owner_hub, tuple(statuses), len(items), self.config.snooze, len(items)
        )
        try:
            posted = await self._send_paced(slack_id, digest)
        except SlackDeliveryError as err:
            report.failed += 1
            log.error("digest for %s not delivered (not retried today): %s", owner_hub, err)
            await self._db(self.digests.failed, message_id, str(err))
            return
        await self._db(self.digests.sent, message_id, posted.channel, posted.ts, now)
        report.sent += 1
        log.info("digest:%d sent to %s (%d stale shares)", message_id, owner_hub, len(items))

    async def _send_paced(self, slack_id: str, digest: Digest) -> Posted:
        """DM a digest as fast as Slack allows: no fixed pause between owners; when Slack
        still says ``ratelimited`` after the client's own retries, wait ``Retry-After`` and
        send again, so that a rate limit slows the digest down but loses no one's."""
        for _ in range(self.config.rate_limit_retries):
            try:
                return await self.say.dm(slack_id, digest)
            except SlackDeliveryError as err:
                if err.code != "ratelimited":
                    raise
                await asyncio.sleep(1.0 if err.retry_after is None else err.retry_after)
        return await self.say.dm(slack_id, digest)

    async def _admin_summary(
        self, day: date, run_id: int, per_owner: dict[str, list[Item]], now: datetime
    ) -> bool:
        assert self.config.admin_channel is not None
        message_id = await self._db(
            self.digests.claim,
            day=day,
            kind=ADMIN,
            owner_hub="",
            target=self.config.admin_channel,
            run_id=run_id,
            items=[],
            now=now,
        )
        if message_id is None:
            return False
        counts, oldest = summary(per_owner)
        try:
            posted = await self.say.post(
                self.config.admin_channel, DigestSummary(tuple(counts), tuple(oldest))
            )
        except SlackDeliveryError as err:
            log.error("digest summary not delivered to the admin channel: %s", err)
            await self._db(self.digests.failed, message_id, str(err))
            return False
        await self._db(self.digests.sent, message_id, posted.channel, posted.ts, now)
        return True

    async def stale_for(self, owner_hub: str, now: datetime) -> list[Item]:
        """The owner's stale shares at ``now``, with the recipients' last activity."""
        grants = await self._db(
            self.grants.grants, states=[GrantState.ACTIVE, GrantState.ENDING], owner_hub=owner_hub
        )
        externals = await self._db(self.digests.externals, owner_hub)
        if self.config.rules.inactivity:
            names = {g.holder for g in grants if not g.for_group} | {
                e.name for e in externals if e.kind is ShareKind.USER
            }
        else:  # activity only for display: ask about the stale ones (users, not groups)
            items = stale_items(grants, externals, now, self.config.rules)
            names = {i.who for i in items if not i.who_is_group}
        activity = {name: await self._last_activity(name) for name in sorted(names)}
        return stale_items(grants, externals, now, self.config.rules, activity)

    async def _last_activity(self, user: str) -> datetime | None:
        """Activity is a detail of the digest: a hub that fails to tell it is "unknown"."""
        try:
            return await self.hub.last_activity(user)
        except HubError as err:
            log.warning("last activity of %s unknown: %s", user, err)
            return None

    # -- buttons ------------------------------------------------------------------------

    async def revoke(self, message_id: int, ref: str, clicker: str, now: datetime) -> object:
        found = await self._owned_item(message_id, ref, clicker)
        if isinstance(found, Refusal):
            return found
        message, item = found
        answer = await self._revoke_item(message, item, clicker, now)
        await self.refresh(message, now)
        return answer

    async def keep(
        self, message_id: int, ref: str, clicker: str, now: datetime
    ) -> DigestKept | Refusal:
        found = await self._owned_item(message_id, ref, clicker)
        if isinstance(found, Refusal):
            return found
        message, item = found
        until = now + self.config.snooze
        if item.kind is ItemKind.GRANT:
            kept = await self._db(self.digests.snooze_grant, item.id, until, clicker, now)
        else:
            share = await self._db(self.digests.external, item.id)
            kept = share is not None and await self._db(
                self.digests.snooze_external, share, until, clicker, now
            )
        await self.refresh(message, now)
        return DigestKept(item, until) if kept else Refusal(Reason.DIGEST_ALREADY_HANDLED)

    async def revoke_all(self, message_id: int, clicker: str, now: datetime) -> object:
        message = await self._owned(message_id, clicker)
        if isinstance(message, Refusal):
            return message
        answers: list[object] = []
        for item in message.items:
            status, _ = await self._status(item, now)
            if status is Status.OPEN:
                answers.append(await self._revoke_item(message, item, clicker, now))
        await self.refresh(message, now)
        return Several(tuple(answers)) if answers else Refusal(Reason.DIGEST_NOTHING_LEFT)

    async def refresh(self, message: Message, now: datetime) -> None:
        """Show each item's current state in the digest message (buttons where still open)."""
        if message.channel is None or message.ts is None:
            return
        statuses = []
        for item in message.items:
            status, at = await self._status(item, now)
            statuses.append((item, status, at))
        open_count = sum(1 for _, status, _ in statuses if status is Status.OPEN)
        digest = Digest(
            message.id,
            message.owner_hub,
            tuple(statuses),
            len(statuses),
            self.config.snooze,
            open_count,
        )
        try:
            await self.say.update(Posted(message.channel, message.ts), digest)
        except SlackDeliveryError as err:
            log.warning("digest:%d could not be updated: %s", message.id, err)

    async def _owned_item(
        self, message_id: int, ref: str, clicker: str
    ) -> tuple[Message, Item] | Refusal:
        """The digest message and the item a button names, when ``clicker`` owns it."""
        message = await self._owned(message_id, clicker)
        if isinstance(message, Refusal):
            return message
        item = _item_of(message, ref)
        if item is None:
            return Refusal(Reason.DIGEST_UNKNOWN_ITEM)
        return message, item

    async def _owned(self, message_id: int, clicker: str) -> Message | Refusal:
        """The digest message when ``clicker`` is its owner (and still linked to the hub
        user it is about), else the refusal."""
        message = await self._db(self.digests.message, message_id)
        if message is None or message.kind != OWNER:
            return Refusal(Reason.DIGEST_UNKNOWN_ITEM)
        linked = await self._db(self.links.slack_user_for, message.owner_hub)
        if clicker != message.target or linked != clicker:
            log.warning("digest:%d: %s clicked a digest that is not theirs", message.id, clicker)
            return Refusal(Reason.DIGEST_NOT_YOURS)
        return message

    async def _status(self, item: Item, now: datetime) -> tuple[Status, datetime | None]:
        if item.kind is ItemKind.GRANT:
            return grant_status(await self._db(self.grants.get, item.id), now)
        return external_status(await self._db(self.digests.external, item.id), now)

    async def _revoke_item(
        self, message: Message, item: Item, clicker: str, now: datetime
    ) -> object:
        if item.kind is ItemKind.GRANT:
            grant = await self._db(self.grants.get, item.id)
            if grant is None or grant.owner_hub != message.owner_hub:
                return Refusal(Reason.DIGEST_UNKNOWN_ITEM)
            if not grant.state.is_open:
                return Refusal(Reason.DIGEST_ALREADY_HANDLED)
            return await self.sharing.revoke_grant(grant.id, clicker, now)
        share = await self._db(self.digests.external, item.id)
        if share is None or share.owner_hub != message.owner_hub:
            return Refusal(Reason.DIGEST_UNKNOWN_ITEM)
        if not share.present:
            return Refusal(Reason.DIGEST_ALREADY_HANDLED)
        if await self._covered_by_grant(share):
            return ExternalNowOurs(share)
        try:
            if share.kind is ShareKind.GROUP:
                await self.hub.revoke_group_share(share.owner_hub, share.server, share.name)
            else:
                await self.hub.revoke_share(share.owner_hub, share.server, share.name)
        except HubError as err:
            log.warning("%s: revocation from the digest failed: %s", share.label, err)
            return ExternalRevokeFailed(share)
        await self._db(self.digests.external_revoked, share, clicker, now)
        log.info("%s revoked from the digest by %s", share.label, clicker)
        return ExternalRevoked(share)

    async def _covered_by_grant(self, share: ExternalShare) -> bool:
        """An open grant of ours now gives this user access: revoking would end it too."""
        if share.kind is not ShareKind.USER:
            return False
        grants: list[Grant] = await self._db(
            self.grants.grants, states=OPEN_STATES, owner_hub=share.owner_hub, server=share.server
        )
        return any(share.name in (g.holder, g.recipient_hub) for g in grants)


def _item_of(message: Message, ref: str) -> Item | None:
    parsed = parse_ref(ref)
    for item in message.items:
        if parsed is not None and (item.kind, item.id) == parsed:
            return item
    return None
