"""The use cases: share, list, revoke, and the background sweep (accept, lapse, expire).

The only module that combines the hub, the store and Slack. Every method takes ``now``;
store calls run in a worker thread so the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import secrets
import socket
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ParamSpec, Protocol, TypeVar

from bot.aio import bounded
from bot.app.identity import IdentityResolver
from bot.app.notices import NoticeService
from bot.clock import utcnow
from bot.domain import commands
from bot.domain.access import (
    MANAGE,
    NO_SCOPES,
    AccessFlag,
    FlagKind,
    FlagState,
    Kept,
    NewFlag,
    Scopes,
    ShareMap,
    Verdict,
    earlier_access,
    grant_scopes,
    judge,
    kept_after,
    to_remove,
    union,
    visibly_gained,
)
from bot.domain.grants import (
    OPEN_STATES,
    UNACCEPTED_STATES,
    EndReason,
    Grant,
    GrantState,
    deadline_after_acceptance,
    extended_deadline,
    final_state,
    invitation_lapsed,
    invitation_stale,
    invitation_unconfirmed,
    is_due_to_expire,
    orphan_codes,
    reminder_due,
)
from bot.errors import (
    HubError,
    HubNotFound,
    NotLinked,
    SharebotError,
    ShareRefused,
    SlackDeliveryError,
)
from bot.hub.client import HubClient, ShareCodeInfo
from bot.slack import blocks, texts
from bot.slack.messenger import SlackMessenger
from bot.store.flags import Flags
from bot.store.outbox import Outbox, OutgoingNotice
from bot.store.repository import NewGrant, Repository

log = logging.getLogger(__name__)

# How long a replica may hold a grant it works on before another may take it over (it
# releases it as soon as it is done; this only matters when a process dies mid-work).
CLAIM_TTL = timedelta(minutes=5)

#: How much earlier than an invitation intent the hub's clock may date a code made for it.
CLOCK_SKEW = timedelta(seconds=60)

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class ShareOutcome:
    invited: list[Grant] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (slack id, reason)

    def message(self) -> str:
        lines = [texts.invited(g) for g in self.invited]
        lines += [texts.invite_failed(who, why) for who, why in self.failed]
        return "\n".join(lines)


@dataclass
class SweepReport:
    accepted: int = 0
    lapsed: int = 0
    ended: int = 0
    failures: int = 0
    expired_requests: int = 0
    reminded: int = 0
    recovered: int = 0  # interrupted invitations sent again (or closed) by this pass


class HomeRefresher(Protocol):
    """Republishes the App Home tab of the people a change concerns (bot.app.home)."""

    async def refresh(self, *slack_ids: str) -> None: ...


class _NoHome:
    async def refresh(self, *slack_ids: str) -> None:
        return None


# The people whose Home tab the running sweep pass will refresh (ShareService.sweep).
_PASS_HOMES: ContextVar[set[str] | None] = ContextVar("sharebot_pass_homes", default=None)


class ShareService:
    def __init__(
        self,
        *,
        hub: HubClient,
        repo: Repository,
        messenger: SlackMessenger,
        identities: IdentityResolver,
        public_url: str,
        invite_ttl: timedelta,
        home: HomeRefresher | None = None,
        remind_before: timedelta | None = timedelta(hours=1),
        remind_min_duration: timedelta = timedelta(days=1),
        worker: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        notices: NoticeService | None = None,
        claim_ttl: timedelta = CLAIM_TTL,
        admins: frozenset[str] = frozenset(),
        concurrency: int = 10,
        flags: Flags | None = None,
    ) -> None:
        # Names this process in grant claims (each claim adds its own token, so two tasks
        # of one process never hold a grant together). Fits grants.claimed_by (64).
        self.worker = worker or f"{socket.gethostname()[:40]}:{os.getpid()}"
        # Claims time out by the wall clock, not by the ``now`` a long pass started with.
        self.clock = clock
        self.hub = hub
        self.repo = repo
        self.messenger = messenger
        self.identities = identities
        self.public_url = public_url.rstrip("/")
        self.invite_ttl = invite_ttl
        self.home: HomeRefresher = home or _NoHome()
        self.remind_before = remind_before
        self.remind_min_duration = remind_min_duration
        self.admins = admins  # SHAREBOT_ADMINS: may revoke anyone's share by its button
        # Grant notices go through the outbox (written with the change, sent after it).
        self.notices = notices or NoticeService(Outbox(repo.engine), messenger)
        self.claim_ttl = claim_ttl
        # Access a link may have given someone else (bot.domain.access): removed or reported.
        self.flags = flags or Flags(repo.engine)
        # Grants ended at once by a pass (SHAREBOT_SWEEP_CONCURRENCY): revocations overlap
        # each other's hub and Slack calls instead of queueing one by one.
        self.concurrency = concurrency

    async def _refresh_home(self, *slack_ids: str) -> None:
        """Refresh these people's Home tabs now, or at the end of the running pass."""
        batch = _PASS_HOMES.get()
        if batch is None:
            await self.home.refresh(*slack_ids)
        else:
            batch.update(s for s in slack_ids if s)

    async def _db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    @asynccontextmanager
    async def _claimed(self, grant: Grant, now: datetime) -> AsyncIterator[Grant | None]:
        """Claim ``grant`` for this process; yield its fresh state, or None when another
        replica holds it or it has left the state it was in (someone finished first)."""
        token = await self._claim(grant)
        if token is None:
            log.debug("%s: another worker has it", grant.label)
            yield None
            return
        try:
            fresh = await self._db(self.repo.get, grant.id)
            yield fresh if fresh is not None and fresh.state is grant.state else None
        finally:
            await self._db(self.repo.release, grant.id, token)

    async def _claim(self, grant: Grant) -> str | None:
        """Claim ``grant`` under a new token; the token to release it with, or None."""
        token = f"{self.worker}:{secrets.token_hex(4)}"
        claimed = await self._db(
            self.repo.claim, grant.id, token, now=self.clock(), ttl=self.claim_ttl
        )
        return token if claimed else None

    # -- share --------------------------------------------------------------------------

    async def check(
        self, caller: str, cmd: commands.Share, now: datetime
    ) -> tuple[str, dict[str, str]]:
        """Everything that must hold before sharing: links, no self-share, the server exists.

        Returns the owner's hub user and each recipient's hub user.
        """
        owner_hub, recipients = await self._resolve(caller, cmd.recipients, now)
        await self.check_server(owner_hub, cmd.server)
        return owner_hub, recipients

    async def check_server(self, owner_hub: str, server: str) -> None:
        servers = await self.hub.server_names(owner_hub)
        if server not in servers:
            raise ShareRefused(
                f"{owner_hub} has no server {server!r}",
                user_message=texts.unknown_server(server, servers),
            )

    async def share(
        self,
        caller: str,
        cmd: commands.Share,
        now: datetime,
        *,
        decision_id: int | None = None,
    ) -> ShareOutcome:
        owner_hub, recipients = await self._resolve(caller, cmd.recipients, now)
        current = await self._current_shares(owner_hub, cmd.server)
        outcome = ShareOutcome()
        for slack_id, hub_user in recipients.items():
            try:
                outcome.invited.append(
                    await self._invite(
                        caller, owner_hub, slack_id, hub_user, cmd, current, now, decision_id
                    )
                )
            except SharebotError as err:
                if not outcome.invited and not outcome.failed and len(recipients) == 1:
                    raise
                log.warning(
                    "invitation of %s to %s/%s failed: %s", slack_id, owner_hub, cmd.server, err
                )
                outcome.failed.append((slack_id, err.user_message))
        await self._refresh_home(caller, *(g.recipient_slack_id for g in outcome.invited))
        return outcome

    async def _current_shares(self, owner_hub: str, server: str) -> ShareMap:
        """The server's shares, read before inviting (the scope ledger's starting point and
        the misuse baseline); also the check that the server exists (the hub answers 404),
        so a share costs one hub call less than :meth:`check` followed by the listing."""
        try:
            return await self.hub.share_map(owner_hub, server)
        except HubNotFound:
            await self.check_server(owner_hub, server)  # refuses, naming the servers there are
            raise

    async def _resolve(
        self, caller: str, recipients: tuple[str, ...], now: datetime
    ) -> tuple[str, dict[str, str]]:
        if caller in recipients:
            raise ShareRefused("self-share refused", user_message=texts.self_share())
        resolution = await self.identities.resolve([caller, *recipients], now)
        links = resolution.hub_users
        if caller not in links:
            raise NotLinked([caller], texts.not_linked_caller(resolution.why_not.get(caller)))
        missing = [r for r in recipients if r not in links]
        if missing:
            raise NotLinked(missing, texts.not_linked_recipients(missing, resolution.why_not))
        owner_hub = links[caller]
        mapped = {r: links[r] for r in recipients}
        if owner_hub in mapped.values():
            raise ShareRefused("self-share refused", user_message=texts.self_share())
        return owner_hub, mapped

    async def _invite(
        self,
        caller: str,
        owner_hub: str,
        slack_id: str,
        hub_user: str,
        cmd: commands.Share,
        current: ShareMap,
        now: datetime,
        decision_id: int | None,
    ) -> Grant:
        extras = (MANAGE,) if cmd.manage else ()
        earlier = await self._earlier_access(owner_hub, cmd.server, hub_user, current)
        # The intent first, held by this task: if the process dies anywhere below, the
        # sweep finds an invitation with no confirmed DM once the claim has run out.
        token = f"{self.worker}:{secrets.token_hex(4)}"
        grant = await self._db(
            self.repo.add_grant,
            NewGrant(
                owner_slack_id=caller,
                owner_hub=owner_hub,
                server=cmd.server,
                recipient_slack_id=slack_id,
                recipient_hub=hub_user,
                duration=cmd.duration,
                note=cmd.note,
                code_id=None,
                code_expires_at=None,
                scopes=grant_scopes(owner_hub, cmd.server, extras),
                earlier=earlier,
                baseline=current,
                extras=extras,
                decision_id=decision_id,
            ),
            now=now,
            intent=(token, self.claim_ttl),
        )
        try:
            return await self._issue(grant, now)
        except SharebotError as err:
            await self._db(
                self.repo.transition,
                grant,
                GrantState.FAILED,
                now=now,
                action="invite_failed",
                detail={"error": str(err)},
            )
            raise
        finally:
            await self._db(self.repo.release, grant.id, token)

    async def _earlier_access(
        self,
        owner_hub: str,
        server: str,
        hub_user: str,
        current: ShareMap,
    ) -> Scopes:
        """What ``hub_user`` holds on the server that no open grant of ours nor an
        unsettled flag accounts for: theirs to keep when a new grant ends."""
        held = current.get(hub_user, NO_SCOPES)
        if not held:
            return NO_SCOPES
        ours = await self._db(self.repo.for_holder, owner_hub, server, hub_user, states=OPEN_STATES)
        flagged = await self._db(
            self.flags.pending, owner_hub=owner_hub, server=server, hub_user=hub_user
        )
        return earlier_access(held, [g.ledger for g in ours], union(f.scopes for f in flagged))

    async def _earlier_at_use(self, grant: Grant) -> Scopes:
        """The recipient's earlier access when her code was used: what it was at the
        invitation, and what she held right before the use (the baseline) that no grant of
        ours ever gave her on that server (a share the owner made in the hub meanwhile).
        Scopes any grant of ours gave her are never counted: one that ended since the
        baseline was taken must not pass for earlier access."""
        assert grant.baseline is not None
        ever = await self._db(
            self.repo.for_holder,
            grant.owner_hub,
            grant.server,
            grant.recipient_hub,
            states=list(GrantState),
        )
        flagged = await self._db(
            self.flags.pending,
            owner_hub=grant.owner_hub,
            server=grant.server,
            hub_user=grant.recipient_hub,
        )
        held = grant.baseline.get(grant.recipient_hub, NO_SCOPES)
        ours = union([*(g.scopes for g in ever), *(f.scopes for f in flagged)])
        return grant.earlier | (held - ours)

    async def _issue(self, grant: Grant, now: datetime) -> Grant:
        """Make a share code for an unsent invitation, record it, DM the link, note the DM.

        The link holds the code, which is never stored: a DM that may not have gone out is
        recovered by making a new code (:meth:`_recover_invitation`), not by resending.
        Raises HubError or SlackDeliveryError (the code is withdrawn then).
        """
        code = await self.hub.create_share_code(
            grant.owner_hub,
            grant.server,
            expires_in=int(self.invite_ttl.total_seconds()),
            scopes=sorted(grant.scopes),
        )
        recorded = await self._db(
            self.repo.set_code, grant, code.id, code.expires_at or now + self.invite_ttl, now=now
        )
        if recorded is None:  # cancelled meanwhile (revoke before the DM): not ours to send
            await self._withdraw_code(dataclasses.replace(grant, code_id=code.id), now)
            raise ShareRefused(
                f"{grant.label}: closed while inviting", user_message=texts.share_closed()
            )
        grant = recorded
        log.info("%s invited (code %s)", grant.label, code.id)
        url = code.accept_url
        if not url.startswith(("http://", "https://")):
            url = self.public_url + url
        try:
            await self.messenger.dm(
                grant.recipient_slack_id, texts.invitation_dm(grant), blocks.invitation(grant, url)
            )
        except SlackDeliveryError:
            await self._withdraw_code(grant, now)
            raise
        await self._db(self.repo.invite_sent, grant, now=self.clock())
        return grant

    async def _recover_invitation(self, grant: Grant, now: datetime) -> bool:
        """An invitation whose writer died before confirming its DM: clean up, send again.

        Codes of the server that no grant knows and that were made since the intent (the
        writer may have died between the hub's answer and recording it) are deleted, and so
        is the grant's own code; then a new code is made and DMed. An invitation older than
        the link's lifetime is closed instead and the owner told. If the old link was used
        meanwhile (the DM did go out), the invitation is simply marked sent. False when the
        server has another invitation in flight (left for the next pass).
        """
        owner, server = grant.owner_hub, grant.server
        if await self._db(
            self.repo.live_intents, owner, server, now=self.clock(), other_than=grant.id
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
            await self._db(self.repo.invite_sent, grant, now=now, action="invite_recovered")
            return True
        others = await self._db(
            self.repo.grants, states=OPEN_STATES, owner_hub=owner, server=server
        )
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
            forgotten = await self._db(self.repo.set_code, grant, None, None, now=now)
            if forgotten is None:
                return True  # it moved on meanwhile
            grant = forgotten
        if invitation_stale(grant, now, self.invite_ttl):
            await self._fail_invitation(grant, now, "interrupted, too old to send again")
            return True
        try:
            await self._issue(grant, now)
        except SlackDeliveryError as err:
            await self._fail_invitation(grant, now, str(err))
            return True
        await self._db(self.repo.audit, "invite_reissued", now=now, grant_id=grant.id)
        log.info("%s: the interrupted invitation was sent again", grant.label)
        await self._refresh_home(grant.owner_slack_id, grant.recipient_slack_id)
        return True

    async def _fail_invitation(self, grant: Grant, now: datetime, error: str) -> None:
        await self._change(
            grant,
            GrantState.FAILED,
            now=now,
            action="invite_failed",
            detail={"error": error},
            notices=lambda g: [
                self._notice(
                    g, "not_recovered", g.owner_slack_id, texts.invitation_not_recovered(g)
                )
            ],
        )

    # -- notices (the outbox) -----------------------------------------------------------

    @staticmethod
    def _notice(grant: Grant, event: str, slack_id: str, text: str) -> OutgoingNotice:
        """A grant's notice; its key names the grant, the event and the audience."""
        audience = "owner" if slack_id == grant.owner_slack_id else "recipient"
        return OutgoingNotice(f"grant:{grant.id}:{event}:{audience}", slack_id, text)

    async def _change(
        self,
        grant: Grant,
        new_state: GrantState,
        *,
        now: datetime,
        notices: Callable[[Grant], list[OutgoingNotice]] | None = None,
        **kwargs: Any,
    ) -> Grant | None:
        """``repo.transition`` with its notices written in the same transaction, then a
        first try to deliver them (the sweep retries what Slack does not take)."""
        keys: list[str] = []

        def collect(changed: Grant) -> list[OutgoingNotice]:
            made = notices(changed) if notices is not None else []
            keys.extend(n.key for n in made)
            return made

        changed = await self._db(
            self.repo.transition,
            grant,
            new_state,
            now=now,
            notices=collect,
            notice_lease=self.notices.lease,
            **kwargs,
        )
        if changed is not None and keys:
            await self.notices.deliver(keys, now)  # leased to us by the transition
        return changed

    async def _tell(self, notices: list[OutgoingNotice]) -> None:
        """Enqueue notices not tied to a state change (a key already there is skipped)."""
        added = await self._db(
            self.notices.outbox.enqueue, notices, self.clock(), lease=self.notices.lease
        )
        await self.notices.deliver(added, self.clock())

    # -- who acts for an owner ----------------------------------------------------------

    async def hub_user_of(self, caller: str) -> str | None:
        """The hub user ``caller`` is linked to now. Owner (and recipient) actions follow the
        current link, never the Slack id a grant was made with: relinking moves the power,
        unlinking ends it."""
        link = await self._db(self.repo.link_of, caller)
        return link.hub_user if link else None

    async def may_act_as_owner(self, caller: str, grant: Grant) -> bool:
        return await self.hub_user_of(caller) == grant.owner_hub

    # -- list ---------------------------------------------------------------------------

    async def list_shares(self, caller: str) -> str:
        owner_hub = await self.hub_user_of(caller)
        if owner_hub is None:
            return texts.not_linked_caller()
        grants = await self._db(self.repo.grants, states=OPEN_STATES, owner_hub=owner_hub)
        return texts.list_shares(grants)

    # -- revoke -------------------------------------------------------------------------

    async def revoke(self, caller: str, cmd: commands.Revoke, now: datetime) -> str:
        owner_hub = await self.hub_user_of(caller)
        if owner_hub is None:
            return texts.not_linked_caller()
        grants = await self._db(
            self.repo.grants, states=OPEN_STATES, owner_hub=owner_hub, server=cmd.server
        )
        if not cmd.everyone:
            grants = [g for g in grants if g.recipient_slack_id in cmd.recipients]
        if not grants:
            where = f" on server `{cmd.server}`" if cmd.server else ""
            if not cmd.everyone:
                who = ", ".join(texts.user(r) for r in cmd.recipients)
                where = f" with {who}{where}"
            return texts.nothing_to_revoke(where)
        done: list[Grant] = []
        pending: list[Grant] = []
        for grant in grants:
            ended, final = await self._revoke_one(grant, caller, now)
            (done if ended else pending).append(final)
        return texts.revoke_summary(done, pending)

    async def revoke_grant(self, grant_id: int, caller: str, now: datetime) -> str:
        """Revoke one grant (a Home or digest Revoke button): whoever is linked to the hub
        user who owns the server, or an admin (SHAREBOT_ADMINS), who is then the actor in
        the audit log and is named to the owner. Anyone else, e.g. clicking a forwarded copy
        of the button or an old Slack account of the owner, changes nothing."""
        grant = await self._db(self.repo.get, grant_id)
        if grant is None:
            return texts.only_owner_revokes()
        owner = await self.may_act_as_owner(caller, grant)
        by_admin = not owner and caller in self.admins
        if not owner and not by_admin:
            return texts.only_owner_revokes()
        if not grant.state.is_open:
            return texts.share_closed()
        if by_admin:
            log.info("%s: revoked by admin %s", grant.label, caller)
            await self.messenger.notify(grant.owner_slack_id, texts.revoked_by_admin(grant, caller))
        done, final = await self._revoke_one(grant, caller, now)
        if not done:
            await self._refresh_home(grant.owner_slack_id, grant.recipient_slack_id)
        return texts.revoke_summary(*(([final], []) if done else ([], [final])))

    async def leave(self, grant_id: int, caller: str, now: datetime) -> str:
        """The recipient gives up a share (or declines an invitation): the revoke path,
        told to the owner. Only the recipient (by their current link) may."""
        grant = await self._db(self.repo.get, grant_id)
        if grant is None or await self.hub_user_of(caller) != grant.recipient_hub:
            return texts.only_recipient_leaves()
        if not grant.state.is_open:
            return texts.share_closed()
        done, final = await self._revoke_one(grant, caller, now, reason=EndReason.LEFT)
        if not done:
            await self._refresh_home(grant.owner_slack_id, grant.recipient_slack_id)
        return texts.left_answer(final, done)

    async def _revoke_one(
        self, grant: Grant, caller: str, now: datetime, *, reason: EndReason = EndReason.REVOKED
    ) -> tuple[bool, Grant]:
        """End one open grant, whatever its state: (done, the grant as it is now). Not done
        means the hub has not confirmed yet and the background pass goes on trying."""
        left = reason is EndReason.LEFT
        if grant.state is GrantState.INVITED:
            withdrawing = await self._db(
                self.repo.transition,
                grant,
                GrantState.WITHDRAWING,
                now=now,
                action="decline" if left else "withdraw",
                actor_slack_id=caller,
                end_reason=reason.value,
            )
            if withdrawing is None:  # accepted, lapsed or withdrawn meanwhile: look again
                return await self._again(grant, caller, now, reason)
            grant = withdrawing
        if grant.state is GrantState.WITHDRAWING:
            settled = await self._settle_withdrawal_claimed(grant, now)
            fresh = await self._db(self.repo.get, grant.id) or grant
            if settled and fresh.state is GrantState.ENDING:  # it had been accepted
                return await self._revoke_one(fresh, caller, now, reason=reason)
            return settled and not fresh.state.is_open, fresh
        if grant.state is GrantState.ACTIVE:
            ending = await self._start_ending(
                grant, reason, "left" if left else "revoke", now, caller
            )
            if ending is None:
                return await self._again(grant, caller, now, reason)
            grant = ending
        if grant.state is not GrantState.ENDING:
            return True, grant
        done = await self._finish(grant, now)
        return done, await self._db(self.repo.get, grant.id) or grant

    async def _again(
        self, grant: Grant, caller: str, now: datetime, reason: EndReason
    ) -> tuple[bool, Grant]:
        """A guarded change lost to another one: carry on from where the grant is now."""
        fresh = await self._db(self.repo.get, grant.id)
        if fresh is None or not fresh.state.is_open:
            return True, fresh or grant
        if fresh.state is grant.state:  # only its claim or deadline changed: not ours now
            return False, fresh
        return await self._revoke_one(fresh, caller, now, reason=reason)

    # -- the sweep ----------------------------------------------------------------------

    async def sweep(self, now: datetime) -> SweepReport:
        """One background pass: end what is due, settle withdrawals, judge used links,
        remove intruders, close lapsed links, remind.

        Each part runs whatever became of the others: a hub answer that cannot be read for
        one server, or a server that cannot be reached, delays nothing else (ending what is
        due comes first). Home tabs are refreshed once each at the end of the pass, not
        after every grant: an owner with many grants ending at once would otherwise have
        the whole tab rendered again for each of them.
        """
        report = SweepReport()
        homes: set[str] = set()
        token = _PASS_HOMES.set(homes)
        try:
            for part in (
                self._end_due,
                self._settle_withdrawals,
                self._check_all_invitations,
                self._watch_codes,
                self._settle_flags,
                self._remind,
            ):
                try:
                    await part(now, report)
                except Exception:  # one part's surprise must not stop the others
                    report.failures += 1
                    log.exception("sweep: %s failed; the next pass tries again", part.__name__)
            if report.accepted:  # an acceptance seen late may be due already
                await self._end_due(now, report)
        finally:
            _PASS_HOMES.reset(token)
            await bounded(
                self.concurrency,
                [functools.partial(self.home.refresh, slack_id) for slack_id in sorted(homes)],
            )
        return report

    async def _end_due(self, now: datetime, report: SweepReport) -> None:
        due = await self._db(self.repo.due, now, remind_before=None)
        for grant in due.to_end:
            if is_due_to_expire(grant, now):
                ending = await self._start_ending(grant, EndReason.EXPIRED, "expire", now)
                if ending is not None:
                    log.info("%s reached its deadline", grant.label)

        async def finish(grant: Grant) -> None:
            try:
                async with self._claimed(grant, now) as mine:
                    if mine is None:
                        return
                    if await self._finish_claimed(mine, now):
                        report.ended += 1
                        return
            except Exception:  # one grant's surprise must not stop the others' revocation
                log.exception("%s: ending failed; the next pass tries again", grant.label)
            report.failures += 1

        to_finish = await self._db(self.repo.grants, states=[GrantState.ENDING])
        await bounded(self.concurrency, [functools.partial(finish, g) for g in to_finish])

    async def _remind(self, now: datetime, report: SweepReport) -> None:
        due = await self._db(self.repo.due, now, remind_before=self.remind_before)
        report.reminded = await self._send_reminders(due.to_remind, now)

    async def _settle_withdrawals(self, now: datetime, report: SweepReport) -> None:
        for grant in await self._db(self.repo.grants, states=[GrantState.WITHDRAWING]):
            try:
                if not await self._settle_withdrawal_claimed(grant, now):
                    report.failures += 1
            except Exception:
                report.failures += 1
                log.exception("%s: withdrawal failed; the next pass tries again", grant.label)

    async def _check_all_invitations(self, now: datetime, report: SweepReport) -> None:
        invited = await self._db(self.repo.grants, states=[GrantState.INVITED])
        for grant in [g for g in invited if invitation_unconfirmed(g)]:
            # Held by a live worker (being sent now) unless its writer died: then it is ours.
            async with self._claimed(grant, now) as mine:
                if mine is None or not invitation_unconfirmed(mine):
                    continue
                try:
                    if await self._recover_invitation(mine, now):
                        report.recovered += 1
                except HubError as err:
                    report.failures += 1
                    log.warning("%s: cannot recover the invitation yet: %s", grant.label, err)
        by_server: dict[tuple[str, str], list[Grant]] = defaultdict(list)
        for grant in [g for g in invited if not invitation_unconfirmed(g)]:
            by_server[(grant.owner_hub, grant.server)].append(grant)
        for (owner, server), grants in by_server.items():
            try:
                await self._check_claimed_invitations(owner, server, grants, now, report)
            except SharebotError as err:
                report.failures += 1
                log.warning("cannot check invitations of %s/%s: %s", owner, server, err)
            except Exception:
                report.failures += 1
                log.exception("checking the invitations of %s/%s failed", owner, server)

    async def _check_claimed_invitations(
        self, owner: str, server: str, grants: list[Grant], now: datetime, report: SweepReport
    ) -> None:
        """Check the invitations to one server that no other replica is checking."""
        claimed: dict[int, str] = {}  # grant id -> claim token
        try:
            for grant in grants:
                token = await self._claim(grant)
                if token is not None:
                    claimed[grant.id] = token
            fresh = [await self._db(self.repo.get, grant_id) for grant_id in claimed]
            mine = [g for g in fresh if g is not None and g.state is GrantState.INVITED]
            if mine:
                await self._check_invitations(owner, server, mine, now, report)
        finally:
            for grant_id, token in claimed.items():
                await self._db(self.repo.release, grant_id, token)

    async def _check_invitations(
        self, owner: str, server: str, grants: list[Grant], now: datetime, report: SweepReport
    ) -> None:
        """Judge the invitations of one server (claimed by this task).

        The shares are read *before* the codes: for a code with no new exchange, what was
        read is a baseline from before any exchange of it. After a code was exchanged, the
        shares are read again: every exchange the codes counted is in that second read.
        """
        before = await self.hub.share_map(owner, server)
        codes = {c.id: c for c in await self.hub.share_codes(owner, server)}
        after: ShareMap | None = None
        for grant in grants:
            info = codes.get(grant.code_id or "")
            if info is not None and info.exchange_count <= grant.code_exchanges:
                if invitation_lapsed(grant, now):
                    await self._lapse(grant, now)
                    report.lapsed += 1
                elif grant.baseline != before:
                    await self._db(self.repo.code_seen, grant, now=now, baseline=before)
                continue
            if after is None:
                after = await self.hub.share_map(owner, server)
            baseline = grant.baseline if grant.baseline is not None else before
            if info is None:
                # The code is gone (expired, or deleted in the hub) without a use we saw:
                # the recipient's own use shows as growth; nobody else is judged.
                if not visibly_gained(grant.scopes, baseline, after, grant.recipient_hub):
                    await self._lapse(grant, now, code_gone=True)
                    report.lapsed += 1
                    continue
                verdict = Verdict(accepted=True)
            else:
                explained = await self._explained(owner, server, grant, codes, after)
                verdict = judge(
                    owner_hub=owner,
                    recipient=grant.recipient_hub,
                    code_scopes=grant.scopes,
                    baseline=baseline,
                    current=after,
                    explained=explained,
                )
            exchanges = info.exchange_count if info else grant.code_exchanges
            accepted_at = min(info.last_exchanged_at or now, now) if info else now
            if await self._judged(grant, verdict, exchanges, after, accepted_at, now):
                report.accepted += int(verdict.accepted)

    async def _explained(
        self,
        owner: str,
        server: str,
        grant: Grant,
        codes: dict[str, ShareCodeInfo],
        current: ShareMap,
    ) -> dict[str, Scopes]:
        """Per person, the scopes their own grants on the server may have given them since
        ``grant``'s baseline: accepted grants, and invitations of theirs whose code was
        exchanged (``codes``: the server's, as just read) while they hold what it gives
        (they may have used their own link)."""
        explained: dict[str, set[str]] = defaultdict(set)
        for other in await self._db(
            self.repo.grants,
            states=[GrantState.ACTIVE, GrantState.ENDING, *UNACCEPTED_STATES],
            owner_hub=owner,
            server=server,
        ):
            if other.id == grant.id:
                continue
            if other.state not in UNACCEPTED_STATES:
                explained[other.holder] |= other.scopes
                continue
            info = codes.get(other.code_id or "")
            if (
                info is not None
                and info.exchange_count > other.code_exchanges
                and other.scopes <= current.get(other.recipient_hub, NO_SCOPES)
            ):
                explained[other.recipient_hub] |= other.scopes
        return {user: frozenset(scopes) for user, scopes in explained.items()}

    async def _judged(
        self,
        grant: Grant,
        verdict: Verdict,
        exchanges: int,
        current: ShareMap,
        accepted_at: datetime,
        now: datetime,
    ) -> bool:
        """Record what the exchanges of an invitation's code mean (one transaction with the
        flags they raise), then delete the code and remove certain intruders. The grant is
        claimed by the caller; a revoke or leave may have moved it to withdrawing meanwhile,
        which changes where an acceptance leads (it ends at once, under the same claim).
        False if it moved on."""
        flags = [NewFlag(FlagKind.INTRUDER, u, s) for u, s in sorted(verdict.intruders.items())]
        flags += [
            NewFlag(FlagKind.UNEXPLAINED, u, s) for u, s in sorted(verdict.unexplained.items())
        ]
        judged: Grant | None = None
        for _ in range(2):  # once more if a withdrawal got in between
            judged = await self._record_verdict(
                grant, verdict, flags, exchanges, current, accepted_at, now
            )
            if judged is not None:
                break
            fresh = await self._db(self.repo.get, grant.id)
            if fresh is None or fresh.state not in UNACCEPTED_STATES:
                return False
            grant = fresh
        if judged is None:
            return False
        for user in verdict.intruders:
            log.warning("%s: the link was used by hub user %s", grant.label, user)
        for user in verdict.unexplained:
            log.warning(
                "%s: hub user %s gained access while the link was in use", grant.label, user
            )
        if await self._withdraw_code(judged, now):
            await self._db(self.repo.code_seen, judged, now=now, gone=True)
        await self._settle_flags_of(judged, now)
        if judged.state is GrantState.ACTIVE:
            log.info("%s accepted; ends at %s", judged.label, judged.expires_at)
        elif judged.state is GrantState.ENDING:  # accepted before its withdrawal: ends now
            await self._finish_claimed(judged, now)
        await self._refresh_home(grant.owner_slack_id, grant.recipient_slack_id)
        return True

    async def _record_verdict(
        self,
        grant: Grant,
        verdict: Verdict,
        flags: list[NewFlag],
        exchanges: int,
        current: ShareMap,
        accepted_at: datetime,
        now: datetime,
    ) -> Grant | None:
        common: dict[str, Any] = {
            "now": now,
            "flags": flags,
            "code_exchanges": exchanges,
            "code_uses": exchanges,
            "baseline": current,
            "detail": {"exchange_count": exchanges},
        }
        if verdict.accepted:
            accepted: dict[str, Any] = {
                "actor_hub": grant.recipient_hub,
                "accepted_at": accepted_at,
                "accepted_hub_user": grant.recipient_hub,
            }
            if grant.baseline is not None:
                accepted["earlier_scopes"] = sorted(await self._earlier_at_use(grant))
            if grant.state is GrantState.WITHDRAWING:  # accepted first: it ends now
                return await self._change(
                    grant, GrantState.ENDING, action="accept", **accepted, **common
                )
            return await self._change(
                grant,
                GrantState.ACTIVE,
                action="accept",
                expires_at=deadline_after_acceptance(accepted_at, grant.duration),
                notices=lambda g: [
                    self._notice(g, "accepted", g.owner_slack_id, texts.accepted_owner(g))
                ],
                **accepted,
                **common,
            )
        misused = bool(flags)
        return await self._change(
            grant,
            GrantState.REVOKED,
            action="link_spent",
            end_reason=(EndReason.MISUSED if misused else EndReason.REVOKED).value,
            ended_at=now,
            notices=lambda g: self._spent_notices(g, misused),
            **common,
        )

    def _spent_notices(self, grant: Grant, misused: bool) -> list[OutgoingNotice]:
        """The link was used by someone else (the owner hears of whom from the flags), or
        used and nobody holds its access now (removed in the hub)."""
        if misused:
            recipient = grant.recipient_slack_id
            return [self._notice(grant, "spent", recipient, texts.link_spent_recipient(grant))]
        return [self._notice(grant, "spent", grant.owner_slack_id, texts.link_spent_owner(grant))]

    async def _lapse(self, grant: Grant, now: datetime, *, code_gone: bool = False) -> None:
        lapsed = await self._change(
            grant,
            GrantState.LAPSED,
            now=now,
            action="lapse",
            ended_at=now,
            notices=lambda g: [self._notice(g, "lapsed", g.owner_slack_id, texts.lapsed_owner(g))],
        )
        if lapsed is None:
            return
        if code_gone or await self._withdraw_code(lapsed, now):
            await self._db(self.repo.code_seen, lapsed, now=now, gone=True)
        log.info("%s lapsed: the link expired unused", grant.label)
        await self._refresh_home(grant.owner_slack_id, grant.recipient_slack_id)

    # -- withdrawing an invitation ------------------------------------------------------

    async def _settle_withdrawal_claimed(self, grant: Grant, now: datetime) -> bool:
        """Settle a withdrawal unless another replica is at it; True when settled."""
        async with self._claimed(grant, now) as mine:
            if mine is None:
                return False
            try:
                return await self._settle_withdrawal(mine, now)
            except HubError as err:
                log.warning("%s: withdrawal not confirmed, will retry: %s", grant.label, err)
                await self._db(
                    self.repo.record_failure, grant, str(err), now=now, action="withdraw_failed"
                )
                return False

    async def _settle_withdrawal(self, grant: Grant, now: datetime) -> bool:
        """An invitation being withdrawn (revoked or declined): delete its code, then see
        whether it was used before the code went. An accepted one takes the ending path
        (its share is removed); a used one is judged like any; only an unused one, with its
        code confirmed gone, is cancelled. Raises HubError when the hub does not confirm."""
        owner, server = grant.owner_hub, grant.server
        uses = grant.code_uses
        codes = {c.id: c for c in await self.hub.share_codes(owner, server)}
        if grant.code_id is not None and not grant.code_gone:
            info = codes.get(grant.code_id)
            if info is not None:
                await self.hub.delete_share_code(owner, server, grant.code_id)
                uses = max(uses, info.exchange_count)
            # gone, and how often it was used: a failure below forgets neither
            await self._db(self.repo.code_seen, grant, now=now, gone=True, uses=uses)
        current = await self.hub.share_map(owner, server)
        baseline = grant.baseline if grant.baseline is not None else current
        if uses > grant.code_exchanges:
            verdict = judge(
                owner_hub=owner,
                recipient=grant.recipient_hub,
                code_scopes=grant.scopes,
                baseline=baseline,
                current=current,
                explained=await self._explained(owner, server, grant, codes, current),
            )
        elif grant.code_id is not None and visibly_gained(
            grant.scopes, baseline, current, grant.recipient_hub
        ):
            # used between the look at the codes and their deletion
            verdict = Verdict(accepted=True)
        else:
            return await self._cancel(grant, now)
        await self._judged(grant, verdict, uses, current, now, now)
        return True

    async def _cancel(self, grant: Grant, now: datetime) -> bool:
        left = grant.end_reason is EndReason.LEFT
        cancelled = await self._change(
            grant,
            GrantState.CANCELLED,
            now=now,
            action="declined" if left else "cancel",
            ended_at=now,
            notices=lambda g: [
                self._notice(g, "declined", g.owner_slack_id, texts.declined_owner(g))
                if left
                else self._notice(
                    g, "withdrawn", g.recipient_slack_id, texts.withdrawn_recipient(g)
                )
            ],
        )
        if cancelled is not None:
            log.info("%s: invitation withdrawn", grant.label)
            await self._refresh_home(grant.owner_slack_id, grant.recipient_slack_id)
        return True

    # -- watched codes and flags --------------------------------------------------------

    async def _watch_codes(self, now: datetime, report: SweepReport) -> None:
        """Codes of accepted or closed grants the hub has not confirmed gone (a deletion
        failed): delete them again, and judge any new use of them meanwhile."""
        watched = [
            g
            for g in await self._db(self.repo.watched)
            if g.state not in UNACCEPTED_STATES and not invitation_unconfirmed(g)
        ]
        by_server: dict[tuple[str, str], list[Grant]] = defaultdict(list)
        for grant in watched:
            by_server[(grant.owner_hub, grant.server)].append(grant)
        for (owner, server), grants in by_server.items():
            try:
                await self._watch_server_codes(owner, server, grants, now)
            except SharebotError as err:
                report.failures += 1
                log.warning("cannot check the codes of %s/%s: %s", owner, server, err)

    async def _watch_server_codes(
        self, owner: str, server: str, grants: list[Grant], now: datetime
    ) -> None:
        codes = {c.id: c for c in await self.hub.share_codes(owner, server)}
        current: ShareMap | None = None
        for grant in grants:
            info = codes.get(grant.code_id or "")
            if info is None:
                await self._db(self.repo.code_seen, grant, now=now, gone=True)
                continue
            if info.exchange_count > grant.code_exchanges:
                if current is None:
                    current = await self.hub.share_map(owner, server)
                verdict = judge(
                    owner_hub=owner,
                    recipient=grant.recipient_hub,
                    code_scopes=grant.scopes,
                    baseline=grant.baseline if grant.baseline is not None else current,
                    current=current,
                    explained=await self._explained(owner, server, grant, codes, current),
                )
                flags = [
                    *(NewFlag(FlagKind.INTRUDER, u, s) for u, s in verdict.intruders.items()),
                    *(NewFlag(FlagKind.UNEXPLAINED, u, s) for u, s in verdict.unexplained.items()),
                ]
                await self._db(
                    self.repo.code_seen,
                    grant,
                    now=now,
                    exchanges=info.exchange_count,
                    baseline=current,
                    flags=flags,
                )
            if await self._withdraw_code(grant, now):
                await self._db(self.repo.code_seen, grant, now=now, gone=True)
            await self._settle_flags_of(grant, now)

    async def _settle_flags(self, now: datetime, report: SweepReport) -> None:
        """Remove what certain intruders gained (retried until the hub confirms), and make
        sure the owner has been told of every unexplained access."""
        for flag in await self._db(self.flags.pending):
            try:
                await self._settle_flag(flag, now)
            except SharebotError as err:
                report.failures += 1
                log.warning("%s: not settled yet: %s", flag.label, err)

    async def _settle_flags_of(self, grant: Grant, now: datetime) -> None:
        for flag in await self._db(self.flags.pending, grant_id=grant.id):
            try:
                await self._settle_flag(flag, now)
            except SharebotError as err:
                log.warning("%s: not settled yet (the next pass retries): %s", flag.label, err)

    async def _settle_flag(self, flag: AccessFlag, now: datetime) -> None:
        grant = await self._db(self.repo.get, flag.grant_id) if flag.grant_id else None
        if flag.kind is FlagKind.UNEXPLAINED:
            held = await self.hub.share_map(flag.owner_hub, flag.server)
            if not flag.scopes & held.get(flag.hub_user, NO_SCOPES):
                await self._db(self.flags.settle, flag, FlagState.GONE, now=now)
                return  # revoked meanwhile (in the hub, say): nothing left to decide
            if grant is not None:
                await self._tell(
                    [
                        OutgoingNotice(
                            f"flag:{flag.id}:unexplained:owner",
                            grant.owner_slack_id,
                            texts.unexplained_owner(grant, flag),
                            [b.to_dict() for b in blocks.unexplained_access(grant, flag)],
                        )
                    ]
                )
            return
        try:
            settled = await self._remove_flagged(flag, now, by=None)
        except HubError:
            if grant is not None and flag.attempts == 0:  # said once; retried every pass
                await self._tell([self._flag_notice(grant, flag, "failing", removed=False)])
            raise
        if grant is not None and settled is not None:
            await self._tell([self._flag_notice(grant, flag, "settled", removed=True)])

    @staticmethod
    def _flag_notice(grant: Grant, flag: AccessFlag, event: str, removed: bool) -> OutgoingNotice:
        return OutgoingNotice(
            f"flag:{flag.id}:{event}:owner",
            grant.owner_slack_id,
            texts.misused_owner(grant, flag.hub_user, removed=removed),
        )

    async def _remove_flagged(
        self, flag: AccessFlag, now: datetime, *, by: str | None
    ) -> AccessFlag | None:
        """Take a flag's scopes off the hub, except what a grant of that person now
        justifies: settled as removed (or gone when nothing was left to take); None when
        someone else settled it first. Raises HubError (counted on the flag) when the hub
        refuses."""
        justified = await self._db(self.repo.for_holder, flag.owner_hub, flag.server, flag.hub_user)
        remove = flag.scopes - union(g.scopes for g in justified)
        held = (await self.hub.share_map(flag.owner_hub, flag.server)).get(flag.hub_user, NO_SCOPES)
        remove &= held
        if not remove:
            return await self._db(self.flags.settle, flag, FlagState.GONE, now=now, by=by)
        try:
            await self.hub.revoke_share(flag.owner_hub, flag.server, flag.hub_user, remove)
        except HubError as err:
            await self._db(self.flags.failed, flag, str(err), now=now)
            raise
        await self._db(self.repo.forget_scopes, flag.owner_hub, flag.server, flag.hub_user, remove)
        log.info("%s: removed %s", flag.label, ", ".join(sorted(remove)))
        return await self._db(
            self.flags.settle,
            flag,
            FlagState.REMOVED,
            now=now,
            by=by,
            detail={"removed": sorted(remove)},
        )

    async def decide_flag(self, flag_id: int, caller: str, keep: bool, now: datetime) -> str:
        """The owner's Revoke or Keep on an unexplained access (only whoever is linked to
        the server's owner, or an admin, may)."""
        flag = await self._db(self.flags.get, flag_id)
        if flag is None:
            return texts.flag_not_yours()
        owner = await self.hub_user_of(caller) == flag.owner_hub
        if not owner and caller not in self.admins:
            return texts.flag_not_yours()
        if flag.state is not FlagState.PENDING:
            return texts.flag_settled(flag)
        if keep:
            settled = await self._db(self.flags.settle, flag, FlagState.KEPT, now=now, by=caller)
        else:
            try:
                settled = await self._remove_flagged(flag, now, by=caller)
            except HubError as err:
                log.warning("%s: revoke by %s failed: %s", flag.label, caller, err)
                return texts.flag_remove_failed(flag)
        if settled is None:
            fresh = await self._db(self.flags.get, flag_id)
            return texts.flag_settled(fresh or flag)
        return texts.flag_decided(settled)

    # -- ending -------------------------------------------------------------------------

    async def _start_ending(
        self,
        grant: Grant,
        reason: EndReason,
        action: str,
        now: datetime,
        actor_slack_id: str | None = None,
    ) -> Grant | None:
        """active -> ending, with why; None if someone else moved the grant first (or, for
        an expiry, extended it since the deadline was read)."""
        return await self._db(
            self.repo.transition,
            grant,
            GrantState.ENDING,
            now=now,
            action=action,
            actor_slack_id=actor_slack_id,
            unchanged=("expires_at",) if reason is EndReason.EXPIRED else (),
            end_reason=reason.value,
        )

    async def _finish(self, grant: Grant, now: datetime) -> bool:
        """End an ``ending`` grant now, unless another replica is already doing it."""
        async with self._claimed(grant, now) as mine:
            if mine is None:
                return False  # another worker holds it: it confirms when the hub does
            return await self._finish_claimed(mine, now)

    async def _still_justifying(self, grant: Grant) -> list[Scopes]:
        """The scopes of the holder's other grants on the server that still give access:
        active ones, and invitations whose code has been exchanged (perhaps by the holder,
        before the background pass saw it)."""
        owner, server, holder = grant.owner_hub, grant.server, grant.holder
        others = [
            g
            for g in await self._db(
                self.repo.for_holder,
                owner,
                server,
                holder,
                states=[GrantState.ACTIVE, *UNACCEPTED_STATES],
            )
            if g.id != grant.id
        ]
        justifying = [g.scopes for g in others if g.state is GrantState.ACTIVE]
        unaccepted = [g for g in others if g.state in UNACCEPTED_STATES and g.code_id]
        if unaccepted:
            codes = {c.id: c for c in await self.hub.share_codes(owner, server)}
            for other in unaccepted:
                info = codes.get(other.code_id or "")
                if info is not None and info.exchange_count > other.code_exchanges:
                    justifying.append(other.scopes)
        return justifying

    async def _finish_claimed(self, grant: Grant, now: datetime) -> bool:
        """Remove from the hub what nothing justifies any more of an ending grant's scopes;
        True when done (the hub confirmed)."""
        reason = grant.end_reason or EndReason.EXPIRED
        try:
            others = await self._still_justifying(grant)
            remove = to_remove(grant.ledger, others)
            if remove:
                await self.hub.revoke_share(grant.owner_hub, grant.server, grant.holder, remove)
        except HubError as err:
            log.warning("%s: revocation failed, will retry: %s", grant.label, err)
            await self._db(
                self.repo.record_failure, grant, str(err), now=now, action="revoke_failed"
            )
            return False
        kept = kept_after(grant.ledger, others)
        ended = await self._change(
            grant,
            final_state(reason),
            now=now,
            action="expired" if reason is EndReason.EXPIRED else "revoked",
            detail={"removed": sorted(remove), "kept": kept.value},
            ended_at=now,
            removed={grant.holder: remove} if remove else None,
            notices=lambda _: self._end_notices(grant, reason, kept),
        )
        if ended is None:
            return True  # another pass or replica finished it
        log.info("%s ended (%s%s)", grant.label, reason, f", {kept} kept" if kept else "")
        await self._refresh_home(grant.owner_slack_id, grant.recipient_slack_id)
        return True

    def _end_notices(self, grant: Grant, reason: EndReason, kept: Kept) -> list[OutgoingNotice]:
        """Who is told that ``grant`` ended, and what (the texts speak of the grant as it
        was before it ended)."""
        owner, recipient = grant.owner_slack_id, grant.recipient_slack_id
        event = reason.value
        if reason is EndReason.EXPIRED:
            return [
                self._notice(grant, event, owner, texts.expired_owner(grant, kept)),
                self._notice(grant, event, recipient, texts.expired_recipient(grant, kept)),
            ]
        if reason is EndReason.LEFT:
            return [self._notice(grant, event, owner, texts.left_owner(grant, kept))]
        return [self._notice(grant, event, recipient, texts.revoked_recipient(grant, kept))]

    # -- reminders and extensions -------------------------------------------------------

    async def _send_reminders(self, active: list[Grant], now: datetime) -> int:
        """Tell owner (with Extend) and recipient of long grants that end soon, once.

        ``reminded_at`` is set by a guarded update before anything is sent, so two passes
        or two replicas never remind twice (a failed DM is not retried).
        """
        sent = 0
        for grant in active:
            if not reminder_due(grant, now, self.remind_before, self.remind_min_duration):
                continue
            marked = await self._db(self.repo.mark_reminded, grant, now=now)
            if marked is None:
                continue
            log.info("%s ends at %s: reminding", grant.label, grant.expires_at)
            try:
                await self.messenger.dm(
                    grant.owner_slack_id,
                    texts.reminder_owner(marked),
                    blocks.reminder_for_owner(marked),
                )
            except SlackDeliveryError as err:
                log.warning("%s: reminder to the owner not delivered: %s", grant.label, err)
            await self.messenger.notify(grant.recipient_slack_id, texts.reminder_recipient(marked))
            sent += 1
        return sent

    async def extend(
        self,
        grant: Grant,
        extra: timedelta,
        by: str,
        now: datetime,
        *,
        decision_id: int | None = None,
    ) -> Grant | None:
        """Push an active grant's deadline by ``extra`` (policy was checked by the caller).

        None when the grant is no longer active with the deadline ``grant`` has.
        """
        extended = await self._db(
            self.repo.extend,
            grant,
            extended_deadline(grant, extra),
            now=now,
            actor_slack_id=by,
            decision_id=decision_id,
        )
        if extended is None:
            return None
        log.info("%s extended to %s", extended.label, extended.expires_at)
        await self.messenger.notify(extended.recipient_slack_id, texts.extended_recipient(extended))
        await self._refresh_home(extended.owner_slack_id, extended.recipient_slack_id)
        return extended

    async def _withdraw_code(self, grant: Grant, now: datetime) -> bool:
        """Delete the grant's code; True when the hub confirmed it gone. A failure is
        audited and leaves the code watched (``code_gone`` unset): the background pass
        deletes it later and judges any use of it meanwhile."""
        if not grant.code_id:
            return True
        try:
            await self.hub.delete_share_code(grant.owner_hub, grant.server, grant.code_id)
        except HubError as err:
            log.warning("%s: could not delete share code %s: %s", grant.label, grant.code_id, err)
            await self._db(
                self.repo.audit,
                "code_delete_failed",
                now=now,
                grant_id=grant.id,
                detail={"error": str(err)},
            )
            return False
        return True
