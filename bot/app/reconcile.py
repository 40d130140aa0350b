"""Reconciliation: what the hub really has, against what sharebot believes (the rules are
bot.domain.reconcile's). Every linked owner's shares are compared with our grants: grants
whose share was removed in the hub are closed (``revoked_in_hub``, never revoked again),
shares the bot did not make are recorded as external (for the digest)."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.aio import bounded
from bot.app.endings import db as _db_call
from bot.domain.grants import OPEN_STATES, EndReason, GrantState
from bot.domain.reconcile import HubShare, ShareKind, plan
from bot.errors import HubError
from bot.hub.client import HubClient
from bot.store.digests import Digests
from bot.store.grants import Grants

log = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    owners: int = 0
    revoked_in_hub: int = 0
    external_new: int = 0
    external_gone: int = 0
    failures: int = 0


class Reconciler:
    def __init__(
        self,
        *,
        hub: HubClient,
        grants: Grants,
        digests: Digests,
        interval: timedelta = timedelta(minutes=15),
        concurrency: int = 10,
    ) -> None:
        self.hub = hub
        self.grants = grants
        self.digests = digests
        self.interval = interval  # SHAREBOT_RECONCILE_INTERVAL
        self.concurrency = concurrency  # owners at once (SHAREBOT_SWEEP_CONCURRENCY)
        self.last_reconcile: datetime | None = None

    async def reconcile(self, now: datetime) -> ReconcileReport:
        """Compare every linked owner's hub shares with our grants and record the result."""
        report = ReconcileReport()
        owners = await _db_call(self.digests.linked_owners)

        async def one(owner_hub: str) -> None:
            report.owners += 1
            try:
                await self.reconcile_owner(owner_hub, now, report)
            except HubError as err:
                report.failures += 1
                log.warning("cannot reconcile the shares of %s: %s", owner_hub, err)

        await bounded(self.concurrency, [functools.partial(one, o) for o in sorted(owners)])
        self.last_reconcile = now
        if report.revoked_in_hub or report.external_new or report.external_gone:
            log.info(
                "reconciliation: %d grants revoked in the hub, %d external shares found, "
                "%d gone, %d failures",
                report.revoked_in_hub,
                report.external_new,
                report.external_gone,
                report.failures,
            )
        return report

    async def reconcile_if_due(self, now: datetime) -> ReconcileReport | None:
        interval = self.interval
        if self.last_reconcile is not None and now - self.last_reconcile < interval:
            return None
        return await self.reconcile(now)

    async def reconcile_owner(self, owner_hub: str, now: datetime, report: ReconcileReport) -> None:
        # Our grants first, then the hub: a grant only turns active after its share exists.
        grants = await _db_call(self.grants.grants, states=OPEN_STATES, owner_hub=owner_hub)
        listed = await self.hub.owner_shares(owner_hub)
        shares = [
            HubShare(
                s.server,
                ShareKind.GROUP if s.group else ShareKind.USER,
                s.group or s.user or "",
                s.scopes,
                s.created_at,
            )
            for s in listed
            if s.user or s.group
        ]
        known = await _db_call(self.digests.externals, owner_hub)
        result = plan(owner_hub, grants, shares, known)
        confirmed: dict[str, set[str]] = {}  # server -> users holding a share, asked again
        for grant in result.revoked_in_hub:
            # A second look at this one server before closing anything: an owner-wide
            # listing read page by page can skip a share when another is removed meanwhile.
            if grant.server not in confirmed:
                again = await self.hub.shares(owner_hub, grant.server)
                confirmed[grant.server] = {s.user for s in again if s.user}
            if grant.holder in confirmed[grant.server]:
                continue
            closed = await _db_call(
                self.grants.transition,
                grant,
                GrantState.REVOKED,
                now=now,
                action="revoked_in_hub",
                detail={"share_kept": False, "seen_by": "reconciliation"},
                end_reason=EndReason.REVOKED.value,
                ended_at=now,
            )
            if closed is not None:
                report.revoked_in_hub += 1
                log.info("%s: the share was removed in the hub; closed", grant.label)
        if result.external or result.gone:
            new = await _db_call(
                self.digests.record_external, owner_hub, result.external, result.gone, now
            )
            for share in new:
                log.info("%s: a share sharebot did not make", share.label)
            report.external_new += len(new)
            report.external_gone += len(result.gone)
