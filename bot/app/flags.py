"""Access a link may have given someone it was not meant for (see bot.domain.access).

An *intruder* (certainly used someone else's link) loses what it gave, retried until the
hub confirms, and the owner is told. An *unexplained* gain (a use of the link, or a share
the owner made in the hub: the two look the same) is never revoked by itself: the owner
gets a DM with Revoke and "I shared it: keep", and decides.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.app.endings import Endings, db
from bot.app.messages import LinkMisused, UnexplainedAccess
from bot.app.outcomes import FlagDecided, Reason, Refusal
from bot.domain.access import NO_SCOPES, AccessFlag, FlagKind, FlagState, union
from bot.domain.grants import Grant
from bot.errors import HubError, SharebotError
from bot.store.flags import Flags
from bot.store.links import Links
from bot.store.outbox import OutgoingNotice

log = logging.getLogger(__name__)


class FlagService:
    def __init__(
        self,
        *,
        endings: Endings,
        flags: Flags,
        links: Links,
        admins: frozenset[str] = frozenset(),
    ) -> None:
        self.endings = endings
        self.hub = endings.hub
        self.grants = endings.grants
        self.flags = flags
        self.links = links
        self.admins = admins  # SHAREBOT_ADMINS: may decide for any owner

    async def settle_all(self, now: datetime) -> int:
        """Every pending flag once (the background pass); how many the hub refused."""
        failures = 0
        for flag in await db(self.flags.pending):
            try:
                await self.settle(flag, now)
            except SharebotError as err:
                failures += 1
                log.warning("%s: not settled yet: %s", flag.label, err)
        return failures

    async def settle_of(self, grant: Grant, now: datetime) -> None:
        """The flags a grant's link just raised, at once (failures: the next pass)."""
        for flag in await db(self.flags.pending, grant_id=grant.id):
            try:
                await self.settle(flag, now)
            except SharebotError as err:
                log.warning("%s: not settled yet (the next pass retries): %s", flag.label, err)

    async def settle(self, flag: AccessFlag, now: datetime) -> None:
        """Remove an intruder's gain; make sure the owner knows of an unexplained one (and
        forget it once it is gone from the hub)."""
        grant = await db(self.grants.get, flag.grant_id) if flag.grant_id else None
        if flag.kind is FlagKind.UNEXPLAINED:
            held = (await self.hub.share_map(flag.owner_hub, flag.server)).get(
                flag.hub_user, NO_SCOPES
            )
            if not flag.scopes & held:
                await db(self.flags.settle, flag, FlagState.GONE, now=now)
                return  # revoked meanwhile (in the hub, say): nothing left to decide
            if not flag.scopes <= held:  # partly revoked meanwhile: the rest is to decide
                await db(self.flags.narrow, flag, flag.scopes & held, now=now)
            if grant is not None:
                rendered = self.endings.say.render(UnexplainedAccess(grant, flag))
                await self.endings.tell(
                    [
                        OutgoingNotice(
                            f"flag:{flag.id}:unexplained:owner",
                            grant.owner_slack_id,
                            rendered.text,
                            rendered.blocks,
                        )
                    ]
                )
            return
        try:
            settled = await self.remove(flag, now, by=None)
        except HubError:
            if grant is not None and flag.attempts == 0:  # said once; retried every pass
                await self.endings.tell([self._misused(grant, flag, "failing", removed=False)])
            raise
        if grant is not None and settled is not None:
            await self.endings.tell([self._misused(grant, flag, "settled", removed=True)])

    def _misused(self, grant: Grant, flag: AccessFlag, event: str, removed: bool) -> OutgoingNotice:
        rendered = self.endings.say.render(LinkMisused(grant, flag.hub_user, removed))
        return OutgoingNotice(f"flag:{flag.id}:{event}:owner", grant.owner_slack_id, rendered.text)

    async def remove(self, flag: AccessFlag, now: datetime, *, by: str | None) -> AccessFlag | None:
        """Take a flag's scopes off the hub, except what a grant of that person now
        justifies: settled as removed (or gone when nothing was left to take); None when
        someone else settled it first. Raises HubError (counted on the flag) when the hub
        refuses."""
        justified = await db(self.grants.for_holder, flag.owner_hub, flag.server, flag.hub_user)
        remove = flag.scopes - union(g.scopes for g in justified)
        held = (await self.hub.share_map(flag.owner_hub, flag.server)).get(flag.hub_user, NO_SCOPES)
        remove &= held
        if not remove:
            return await db(self.flags.settle, flag, FlagState.GONE, now=now, by=by)
        try:
            await self.hub.revoke_share(flag.owner_hub, flag.server, flag.hub_user, remove)
        except HubError as err:
            await db(self.flags.failed, flag, str(err), now=now)
            raise
        await db(self.grants.forget_scopes, flag.owner_hub, flag.server, flag.hub_user, remove)
        log.info("%s: removed %s", flag.label, ", ".join(sorted(remove)))
        await self._gone_with(flag, remove, now)
        return await db(
            self.flags.settle,
            flag,
            FlagState.REMOVED,
            now=now,
            by=by,
            detail={"removed": sorted(remove)},
        )

    async def _gone_with(self, removed: AccessFlag, scopes: frozenset[str], now: datetime) -> None:
        """Other pending flags of the same person on the server lose the scopes just
        removed (and settle as gone when nothing is left): a later gain is a new flag."""
        for other in await db(
            self.flags.pending,
            owner_hub=removed.owner_hub,
            server=removed.server,
            hub_user=removed.hub_user,
        ):
            if other.id == removed.id or not other.scopes & scopes:
                continue
            left = other.scopes - scopes
            if left:
                await db(self.flags.narrow, other, left, now=now)
            else:
                await db(self.flags.settle, other, FlagState.GONE, now=now)

    async def decide(
        self, flag_id: int, caller: str, keep: bool, now: datetime
    ) -> FlagDecided | Refusal:
        """The owner's Revoke or Keep on an unexplained access (only whoever is linked to
        the server's owner now, or an admin, may)."""
        flag = await db(self.flags.get, flag_id)
        if flag is None:
            return Refusal(Reason.FLAG_NOT_YOURS)
        link = await db(self.links.link_of, caller)
        owner = link is not None and link.hub_user == flag.owner_hub
        if not owner and caller not in self.admins:
            return Refusal(Reason.FLAG_NOT_YOURS)
        if flag.state is not FlagState.PENDING:
            return Refusal(Reason.FLAG_SETTLED, flag=flag)
        if keep:
            settled = await db(self.flags.settle, flag, FlagState.KEPT, now=now, by=caller)
        else:
            try:
                settled = await self.remove(flag, now, by=caller)
            except HubError as err:
                log.warning("%s: revoke by %s failed: %s", flag.label, caller, err)
                return Refusal(Reason.FLAG_REMOVE_FAILED, flag=flag)
        if settled is None:
            fresh = await db(self.flags.get, flag_id)
            return Refusal(Reason.FLAG_SETTLED, flag=fresh or flag)
        return FlagDecided(settled)
