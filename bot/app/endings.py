"""What the use cases that change grants share: claims on a grant, state changes with
their notices (the outbox hand-off), and ending a grant exactly.

Ending a grant removes from the hub only the scopes nothing justifies any more
(:func:`bot.domain.access.to_remove`): not the holder's earlier access, not what another
of the holder's grants on that server still gives. A grant is claimed while it is worked
on, so that two replicas (or two tasks of one) never end it twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from bot.app.messages import Audience, Ended, Message
from bot.app.notices import Later, NoticeService
from bot.app.ports import HomeRefresher, NoHome, Say
from bot.clock import utcnow
from bot.domain.access import NO_SCOPES, FlagKind, Kept, Scopes, kept_after, to_remove, union
from bot.domain.grants import (
    DEFAULT_REMINDERS,
    UNACCEPTED_STATES,
    EndReason,
    Grant,
    GrantState,
    ReminderRule,
    final_state,
)
from bot.errors import HubError
from bot.hub.client import HubClient
from bot.store.audit import AuditLog
from bot.store.flags import Flags
from bot.store.grants import Grants
from bot.store.outbox import OutgoingNotice

log = logging.getLogger(__name__)

#: How long a replica may hold a grant it works on before another may take it over (it
#: releases it as soon as it is done; this only matters when a process dies mid-work).
CLAIM_TTL = timedelta(minutes=5)

#: How often a claim held by someone else is asked for again (see :meth:`Endings.claimed`).
CLAIM_RETRY = 0.05
#: How long a person's revoke or leave waits for a claim a background pass holds.
CLAIM_PATIENCE = 5.0

P = ParamSpec("P")
T = TypeVar("T")

# The people whose Home tab the running background pass refreshes at its end.
_PASS_HOMES: ContextVar[set[str] | None] = ContextVar("sharebot_pass_homes", default=None)
# Within a pass's revocations: where the notices they wrote go for their first try, made
# once the revocations are done (:meth:`NoticeService.after`), not in the writer's slot.
_LATER_NOTICES: ContextVar[Later | None] = ContextVar("sharebot_later_notices", default=None)


@dataclass
class _Held:
    """The claim the current task holds in :meth:`Endings.claimed`: the end of the grant
    (:meth:`Endings.finish_claimed`) lets it go in the same write, and says so here."""

    grant_id: int
    token: str
    released: bool = False


_HELD: ContextVar[_Held | None] = ContextVar("sharebot_held_claim", default=None)


async def db(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """A store call, off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


class Endings:
    def __init__(
        self,
        *,
        hub: HubClient,
        grants: Grants,
        audit: AuditLog,
        say: Say,
        notices: NoticeService,
        flags: Flags,
        home: HomeRefresher | None = None,
        clock: Callable[[], datetime] = utcnow,
        claim_ttl: timedelta = CLAIM_TTL,
        worker: str | None = None,
        reminders: ReminderRule | None = DEFAULT_REMINDERS,
    ) -> None:
        self.hub = hub
        self.grants = grants
        self.audit = audit
        self.say = say
        self.notices = notices
        self.flags = flags  # pending unexplained flags: an end leaves them to the owner
        self.home: HomeRefresher = home or NoHome()
        # Claims time out by the wall clock, not by the ``now`` a long pass started with.
        self.clock = clock
        self.claim_ttl = claim_ttl
        # When the coming end of a grant is announced (None: never); set at acceptance and
        # at each extension (bot.domain.grants.remind_at).
        self.reminders = reminders
        # Names this process in grant claims (each claim adds its own token, so two tasks
        # of one process never hold a grant together). Fits grants.claimed_by (64).
        self.worker = worker or f"{socket.gethostname()[:40]}:{os.getpid()}"

    # -- claims ---------------------------------------------------------------------------

    @asynccontextmanager
    async def claimed(self, grant: Grant, *, wait: float = 0.0) -> AsyncIterator[Grant | None]:
        """Claim ``grant`` for this task; yield its fresh state, or None when another
        replica holds it or it has left the state it was in (someone finished first).

        ``wait`` (seconds): how long to keep asking while someone else holds it. A person's
        revoke waits a little for a background pass that holds the grant (for the length of
        a hub call), so that the answer says what happened rather than "later"."""
        claim = await self.claim(grant)
        deadline = time.monotonic() + wait
        while claim is None and time.monotonic() < deadline:
            await asyncio.sleep(CLAIM_RETRY)
            claim = await self.claim(grant)
        if claim is None:
            log.debug("%s: another worker has it", grant.label)
            yield None
            return
        token, fresh = claim
        held, outer = _Held(grant.id, token), _HELD.get()
        _HELD.set(held)
        try:
            yield fresh if fresh.state is grant.state else None
        finally:
            _HELD.set(outer)
            if not held.released:
                await db(self.grants.release, grant.id, token)

    async def claim(self, grant: Grant) -> tuple[str, Grant] | None:
        """Claim ``grant`` under a new token: the token to release it with and the grant as
        it is now, or None."""
        token = self.new_token()
        fresh = await db(self.grants.claim, grant.id, token, now=self.clock(), ttl=self.claim_ttl)
        return (token, fresh) if fresh is not None else None

    def new_token(self) -> str:
        return f"{self.worker}:{secrets.token_hex(4)}"

    # -- Home tabs -------------------------------------------------------------------------

    async def refresh_home(self, *slack_ids: str) -> None:
        """Refresh these people's Home tabs now, or at the end of the running pass."""
        batch = _PASS_HOMES.get()
        if batch is None:
            await self.home.refresh(*slack_ids)
        else:
            batch.update(s for s in slack_ids if s)

    @contextmanager
    def homes_at_the_end(self) -> Iterator[set[str]]:
        """Within: Home tab refreshes are collected (the caller publishes them after)."""
        homes: set[str] = set()
        token = _PASS_HOMES.set(homes)
        try:
            yield homes
        finally:
            _PASS_HOMES.reset(token)

    # -- state changes and their notices (the outbox) ----------------------------------

    def notice(self, grant: Grant, event: str, slack_id: str, message: Message) -> OutgoingNotice:
        """A grant's notice, in the Slack layer's words; its key names the grant, the event
        and the audience (so it is written once)."""
        audience = "owner" if slack_id == grant.owner_slack_id else "recipient"
        rendered = self.say.render(message)
        return OutgoingNotice(
            f"grant:{grant.id}:{event}:{audience}", slack_id, rendered.text, rendered.blocks
        )

    async def change(
        self,
        grant: Grant,
        new_state: GrantState,
        *,
        now: datetime,
        notices: Callable[[Grant], list[OutgoingNotice]] | None = None,
        **kwargs: Any,
    ) -> Grant | None:
        """``Grants.transition`` with its notices written in the same transaction, then a
        first try to deliver them (the background pass retries what Slack does not take).
        None when someone else moved the grant first."""
        keys: list[str] = []

        def collect(changed: Grant) -> list[OutgoingNotice]:
            made = notices(changed) if notices is not None else []
            keys.extend(n.key for n in made)
            return made

        changed = await db(
            self.grants.transition,
            grant,
            new_state,
            now=now,
            notices=collect,
            notice_lease=self.notices.lease,
            **kwargs,
        )
        if changed is not None and keys:
            later = _LATER_NOTICES.get()
            if later is not None:
                later(keys, now)  # leased to us at ``now``; tried when the block is left
            else:
                await self.notices.deliver(keys, now)  # leased to us by the transition
        return changed

    @asynccontextmanager
    async def notices_after(self, width: int) -> AsyncIterator[None]:
        """Within: the notices written by :meth:`change` are not tried at once but when
        the block is left, ``width`` batches at a time (:meth:`NoticeService.after`): a
        pass's revocations do not wait for Slack."""
        async with self.notices.after(width) as later:
            token = _LATER_NOTICES.set(later)
            try:
                yield
            finally:
                _LATER_NOTICES.reset(token)

    async def tell(self, notices: list[OutgoingNotice]) -> None:
        """Enqueue notices not tied to a state change (a key already there is skipped)."""
        added = await db(
            self.notices.outbox.enqueue, notices, self.clock(), lease=self.notices.lease
        )
        await self.notices.deliver(added, self.clock())

    # -- ending ---------------------------------------------------------------------------

    async def start_ending(
        self,
        grant: Grant,
        reason: EndReason,
        action: str,
        now: datetime,
        actor_slack_id: str | None = None,
    ) -> Grant | None:
        """active -> ending, with why; None if someone else moved the grant first (or, for
        an expiry, extended it since the deadline was read)."""
        return await db(
            self.grants.transition,
            grant,
            GrantState.ENDING,
            now=now,
            action=action,
            actor_slack_id=actor_slack_id,
            unchanged=("expires_at",) if reason is EndReason.EXPIRED else (),
            end_reason=reason.value,
        )

    async def start_endings(
        self, grants: list[Grant], reason: EndReason, action: str, now: datetime
    ) -> list[Grant]:
        """:meth:`start_ending` of several grants in one write; those that moved."""
        if not grants:
            return []
        return await db(
            self.grants.transition_many,
            grants,
            GrantState.ENDING,
            now=now,
            action=action,
            unchanged=("expires_at",) if reason is EndReason.EXPIRED else (),
            end_reason=reason.value,
        )

    async def finish(self, grant: Grant, now: datetime, *, wait: float = 0.0) -> bool:
        """End an ``ending`` grant now, unless another replica is already doing it (then
        False: this caller cannot say the hub has confirmed)."""
        async with self.claimed(grant, wait=wait) as mine:
            if mine is None:
                return False
            return await self.finish_claimed(mine, now)

    async def still_justifying(self, grant: Grant) -> list[Scopes]:
        """The scopes of the holder's other grants on the server that still give access:
        active ones, and invitations whose code has been exchanged (perhaps by the holder,
        before the background pass saw it)."""
        owner, server, holder = grant.owner_hub, grant.server, grant.holder
        others = [
            g
            for g in await db(
                self.grants.for_holder,
                owner,
                server,
                holder,
                states=[GrantState.ACTIVE, *UNACCEPTED_STATES],
                kind=grant.recipient_kind,
            )
            if g.id != grant.id
        ]
        justifying = [g.scopes for g in others if g.state is GrantState.ACTIVE]
        unaccepted = [g for g in others if g.state in UNACCEPTED_STATES and g.code_id]
        if unaccepted:
            codes = {c.id: c for c in await self.hub.share_codes(owner, server)}
            used = [
                other
                for other in unaccepted
                if (info := codes.get(other.code_id or "")) is not None
                and info.exchange_count > other.code_exchanges
            ]
            if used:
                # Only one the holder may have used herself: she holds all it gives (then
                # its judgment will find her accepted). A link someone else used keeps
                # nothing of hers.
                held = (await self.hub.share_map(owner, server)).get(holder, NO_SCOPES)
                justifying += [other.scopes for other in used if other.scopes <= held]
        return justifying

    async def undecided(self, grant: Grant) -> Scopes:
        """What pending unexplained flags hold of the holder's access on the server, for
        the owner to decide (Revoke or keep): an end must not take it, or a share the owner
        made in the hub is lost before they say it is theirs. (A group's grant has none.)"""
        if grant.for_group:
            return NO_SCOPES
        pending = await db(
            self.flags.pending,
            kind=FlagKind.UNEXPLAINED,
            owner_hub=grant.owner_hub,
            server=grant.server,
            hub_user=grant.holder,
        )
        return union(f.scopes for f in pending)

    async def finish_claimed(self, grant: Grant, now: datetime) -> bool:
        """Remove from the hub what nothing justifies any more of an ending grant's scopes
        (the caller holds its claim); True when done (the hub confirmed)."""
        reason = grant.end_reason or EndReason.EXPIRED
        try:
            others = await self.still_justifying(grant)
            undecided = await self.undecided(grant)
            remove = to_remove(grant.ledger, others, undecided)
            if remove and grant.for_group:
                await self.hub.revoke_group_share(
                    grant.owner_hub, grant.server, grant.holder, remove
                )
            elif remove:
                await self.hub.revoke_share(grant.owner_hub, grant.server, grant.holder, remove)
        except HubError as err:
            log.warning("%s: revocation failed, will retry: %s", grant.label, err)
            await db(self.grants.record_failure, grant, str(err), now=now, action="revoke_failed")
            return False
        kept = kept_after(grant.ledger, others, undecided)
        held = _HELD.get()  # the claim goes with the end, in one write
        release = held.token if held is not None and held.grant_id == grant.id else None
        ended = await self.change(
            grant,
            final_state(reason),
            now=now,
            action="expired" if reason is EndReason.EXPIRED else "revoked",
            detail={"removed": sorted(remove), "kept": kept.value},
            ended_at=now,
            removed={grant.holder: remove} if remove and not grant.for_group else None,
            notices=lambda _: self.end_notices(grant, reason, kept),
            release=release,
        )
        if ended is None:
            return True  # another pass or replica finished it
        if held is not None and release is not None:
            held.released = True
        log.info("%s ended (%s%s)", grant.label, reason, f", {kept} kept" if kept else "")
        await self.refresh_home(grant.owner_slack_id, grant.recipient_slack_id)
        return True

    def end_notices(self, grant: Grant, reason: EndReason, kept: Kept) -> list[OutgoingNotice]:
        """Who is told that ``grant`` ended (the words speak of the grant as it was before
        it ended): both sides of an expiry, the owner of a leave, the recipient of a revoke."""
        audiences = {
            EndReason.EXPIRED: (Audience.OWNER, Audience.RECIPIENT),
            EndReason.LEFT: (Audience.OWNER,),
        }.get(reason, (Audience.RECIPIENT,))
        if grant.for_group:  # a hub group has nobody in Slack to tell: its owner hears
            audiences = tuple(a for a in audiences if a is Audience.OWNER)
        return [
            self.notice(
                grant,
                reason.value,
                grant.owner_slack_id if to is Audience.OWNER else grant.recipient_slack_id,
                Ended(grant, reason, kept, to),
            )
            for to in audiences
        ]

    async def withdraw_code(self, grant: Grant, now: datetime) -> bool:
        """Delete the grant's code; True when the hub confirmed it gone. A failure is
        audited and leaves the code watched (``code_gone`` unset): the background pass
        deletes it later and judges any use of it meanwhile."""
        if not grant.code_id:
            return True
        try:
            await self.hub.delete_share_code(grant.owner_hub, grant.server, grant.code_id)
        except HubError as err:
            log.warning("%s: could not delete share code %s: %s", grant.label, grant.code_id, err)
            await db(
                self.audit.audit,
                "code_delete_failed",
                now=now,
                grant_id=grant.id,
                detail={"error": str(err)},
            )
            return False
        return True
