"""Invitations whose writer died before confirming the DM (an intent whose claim ran out):
the background pass cleans up after it and sends the invitation again."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.app.endings import Endings, db
from bot.app.messages import InvitationNotRecovered
from bot.app.sharing import Sharing
from bot.domain.access import visibly_gained
from bot.domain.grants import OPEN_STATES, Grant, GrantState, invitation_stale, orphan_codes
from bot.errors import SlackDeliveryError
from bot.store.audit import AuditLog

log = logging.getLogger(__name__)

#: How much earlier than an invitation intent the hub's clock may date a code made for it.
CLOCK_SKEW = timedelta(seconds=60)


class Recovery:
    def __init__(self, *, endings: Endings, sharing: Sharing, audit: AuditLog) -> None:
        self.endings = endings
        self.sharing = sharing
        self.hub = endings.hub
        self.grants = endings.grants
        self.audit = audit

    async def recover(self, grant: Grant, now: datetime) -> bool:
        """An invitation whose writer died before confirming its DM: clean up, send again.

        Codes of the server that no grant knows and that were made since the intent (the
        writer may have died between the hub's answer and recording it) are deleted, and so
        is the grant's own code; then a new code is made and DMed. An invitation older than
        the link's lifetime is closed instead and the owner told. If the old link was used
        meanwhile (the DM did go out), the invitation is simply marked sent. False when the
        server has another invitation in flight (left for the next pass).
        """
        owner, server = grant.owner_hub, grant.server
        if grant.for_group:  # no code, no DM: give the group its share (again) and start it
            if invitation_stale(grant, now, self.sharing.invite_ttl):
                await self._fail(grant, now, "interrupted, too old to share again")
            else:
                await self.sharing.activate_group(grant, now)
            return True
        if await db(
            self.grants.live_intents, owner, server, now=self.endings.clock(), other_than=grant.id
        ):
            return False
        codes = await self.hub.share_codes(owner, server)
        own = next((c for c in codes if grant.code_id and c.id == grant.code_id), None)
        used = own is not None and own.exchange_count > grant.code_exchanges
        if grant.code_id and own is None:
            current = await self.hub.share_map(owner, server)
            baseline = grant.baseline if grant.baseline is not None else current
            used = visibly_gained(grant.scopes, baseline, current, grant.recipient_hub)
        if used:
            log.info("%s: the interrupted invitation was delivered and used", grant.label)
            await db(self.grants.invite_sent, grant, now=now, action="invite_recovered")
            return True
        others = await db(self.grants.grants, states=OPEN_STATES, owner_hub=owner, server=server)
        known = {g.code_id for g in others if g.code_id and g.id != grant.id}
        doomed = orphan_codes(
            [(c.id, c.created_at) for c in codes if c.id != grant.code_id],
            known,
            grant.created_at,
            CLOCK_SKEW,
        )
        if own is not None:
            doomed.append(own.id)
        for code_id in doomed:
            log.warning(
                "%s: deleting share code %s left by an interrupted invitation", grant.label, code_id
            )
            await self.hub.delete_share_code(owner, server, code_id)
        if grant.code_id is not None:
            forgotten = await db(self.grants.set_code, grant, None, None, now=now)
            if forgotten is None:
                return True  # it moved on meanwhile
            grant = forgotten
        if invitation_stale(grant, now, self.sharing.invite_ttl):
            await self._fail(grant, now, "interrupted, too old to send again")
            return True
        try:
            await self.sharing.issue(grant, now)
        except SlackDeliveryError as err:
            await self._fail(grant, now, str(err))
            return True
        await db(self.audit.audit, "invite_reissued", now=now, grant_id=grant.id)
        log.info("%s: the interrupted invitation was sent again", grant.label)
        await self.endings.refresh_home(grant.owner_slack_id, grant.recipient_slack_id)
        return True

    async def _fail(self, grant: Grant, now: datetime, error: str) -> None:
        endings = self.endings
        await endings.change(
            grant,
            GrantState.FAILED,
            now=now,
            action="invite_failed",
            detail={"error": error},
            notices=lambda g: [
                endings.notice(g, "not_recovered", g.owner_slack_id, InvitationNotRecovered(g))
            ],
        )
