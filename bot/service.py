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
from bot.clock import utcnow
from bot.domain import commands
from bot.domain.grants import (
    OPEN_STATES,
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
    must_keep_share,
    orphan_codes,
    prior_access,
    reminder_due,
    unexpected_holders,
)
from bot.domain.requests import MANAGE, share_scopes
from bot.errors import (
    HubError,
    HubNotFound,
    NotLinked,
    SharebotError,
    ShareRefused,
    SlackDeliveryError,
)
from bot.hub.client import HubClient, Share, ShareCodeInfo
from bot.identity import IdentityResolver
from bot.notices import NoticeService
from bot.slack import blocks, texts
from bot.slack.messenger import SlackMessenger
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
    """Republishes the App Home tab of the people a change concerns (bot.home)."""

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
        holders = {s.user for s in current if s.user}
        outcome = ShareOutcome()
        for slack_id, hub_user in recipients.items():
            try:
                outcome.invited.append(
                    await self._invite(
                        caller, owner_hub, slack_id, hub_user, cmd, holders, now, decision_id
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

    async def _current_shares(self, owner_hub: str, server: str) -> list[Share]:
        """The server's shares, read before inviting; also the check that the server
        exists (the hub answers 404), so a share costs one hub call less than
        :meth:`check` followed by the listing."""
        try:
            return await self.hub.shares(owner_hub, server)
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
        holders: set[str],
        now: datetime,
        decision_id: int | None,
    ) -> Grant:
        open_for_pair = await self._db(
            self.repo.grants,
            states=OPEN_STATES,
            owner_hub=owner_hub,
            server=cmd.server,
            recipient_hub=hub_user,
        )
        prior = prior_access(hub_user in holders, open_for_pair)
        extras = (MANAGE,) if cmd.manage else ()
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
                had_prior_access=prior,
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
            scopes=share_scopes(grant.owner_hub, grant.server, grant.extras),
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
        used = own is not None and own.exchange_count > 0
        if grant.code_id and own is None and not grant.had_prior_access:
            used = grant.recipient_hub in await self._share_users(owner, server)
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

    # -- list ---------------------------------------------------------------------------

    async def list_shares(self, caller: str) -> str:
        grants = await self._db(self.repo.grants, states=OPEN_STATES, owner_slack_id=caller)
        return texts.list_shares(grants)

    # -- revoke -------------------------------------------------------------------------

    async def revoke(self, caller: str, cmd: commands.Revoke, now: datetime) -> str:
        grants = await self._db(
            self.repo.grants, states=OPEN_STATES, owner_slack_id=caller, server=cmd.server
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
            ended = await self._revoke_one(grant, caller, now)
            (done if ended else pending).append(grant)
        return texts.revoke_summary(done, pending)

    async def revoke_grant(self, grant_id: int, caller: str, now: datetime) -> str:
        """Revoke one grant (a Home or digest Revoke button): its owner, or an admin
        (SHAREBOT_ADMINS), who is then the actor in the audit log and is named to the owner.
        Anyone else, e.g. clicking a forwarded copy of the button, changes nothing."""
        grant = await self._db(self.repo.get, grant_id)
        by_admin = grant is not None and caller != grant.owner_slack_id and caller in self.admins
        if grant is None or (grant.owner_slack_id != caller and not by_admin):
            return texts.only_owner_revokes()
        if not grant.state.is_open:
            return texts.share_closed()
        if by_admin:
            log.info("%s: revoked by admin %s", grant.label, caller)
            await self.messenger.notify(grant.owner_slack_id, texts.revoked_by_admin(grant, caller))
        done = await self._revoke_one(grant, caller, now)
        if not done:
            await self._refresh_home(grant.owner_slack_id, grant.recipient_slack_id)
        return texts.revoke_summary(*(([grant], []) if done else ([], [grant])))

    async def leave(self, grant_id: int, caller: str, now: datetime) -> str:
        """The recipient gives up a share (or declines an invitation): the revoke path,
        told to the owner. Only the recipient may."""
        grant = await self._db(self.repo.get, grant_id)
        if grant is None or grant.recipient_slack_id != caller:
            return texts.only_recipient_leaves()
        if not grant.state.is_open:
            return texts.share_closed()
        done = await self._revoke_one(grant, caller, now, reason=EndReason.LEFT)
        if not done:
            await self._refresh_home(grant.owner_slack_id, grant.recipient_slack_id)
        return texts.left_answer(grant, done)

    async def _revoke_one(
        self, grant: Grant, caller: str, now: datetime, *, reason: EndReason = EndReason.REVOKED
    ) -> bool:
        left = reason is EndReason.LEFT
        if grant.state is GrantState.INVITED:
            await self._withdraw_code(grant, now)
            cancelled = await self._change(
                grant,
                GrantState.CANCELLED,
                now=now,
                action="left" if left else "cancel",
                actor_slack_id=caller,
                ended_at=now,
                notices=lambda g: [
                    self._notice(g, "declined", g.owner_slack_id, texts.declined_owner(g))
                    if left
                    else self._notice(
                        g, "withdrawn", g.recipient_slack_id, texts.withdrawn_recipient(g)
                    )
                ],
            )
            if cancelled is None:  # accepted or lapsed meanwhile: look again
                fresh = await self._db(self.repo.get, grant.id)
                if fresh is not None and fresh.state in (GrantState.ACTIVE, GrantState.ENDING):
                    return await self._revoke_one(fresh, caller, now, reason=reason)
                return True
            await self._refresh_home(grant.owner_slack_id, grant.recipient_slack_id)
            return True
        if grant.state is GrantState.ACTIVE:
            action = "left" if left else "revoke"
            ending = await self._start_ending(grant, reason, action, now, caller)
            if ending is None:
                fresh = await self._db(self.repo.get, grant.id)
                return fresh is None or not fresh.state.is_open
            grant = ending
        return await self._finish(grant, now)

    # -- the sweep ----------------------------------------------------------------------

    async def sweep(self, now: datetime) -> SweepReport:
        """One background pass: detect acceptances, close lapsed links, end what is due.

        Home tabs are refreshed once each at the end of the pass, not after every grant:
        an owner with many grants ending at once would otherwise have the whole tab
        rendered again for each of them.
        """
        report = SweepReport()
        homes: set[str] = set()
        token = _PASS_HOMES.set(homes)
        try:
            await self._sweep(now, report)
        finally:
            _PASS_HOMES.reset(token)
            await bounded(
                self.concurrency,
                [functools.partial(self.home.refresh, slack_id) for slack_id in sorted(homes)],
            )
        return report

    async def _sweep(self, now: datetime, report: SweepReport) -> None:
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
            except HubError as err:
                report.failures += 1
                log.warning("cannot check invitations of %s/%s: %s", owner, server, err)
        due = await self._db(self.repo.due, now, remind_before=self.remind_before)
        for grant in due.to_end:
            if is_due_to_expire(grant, now):
                ending = await self._start_ending(grant, EndReason.EXPIRED, "expire", now)
                if ending is not None:
                    log.info("%s reached its deadline", grant.label)
        report.reminded = await self._send_reminders(due.to_remind, now)

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
        codes = {c.id: c for c in await self.hub.share_codes(owner, server)}
        share_users: dict[str, datetime | None] | None = None
        for grant in grants:
            info = codes.get(grant.code_id or "")
            exchanged = info is not None and info.exchange_count > 0
            if not exchanged and info is None:
                # The code is gone (expired, or deleted in the hub): did they accept first?
                if share_users is None:
                    share_users = await self._share_users(owner, server)
                exchanged = grant.recipient_hub in share_users and not grant.had_prior_access
            if exchanged:
                if share_users is None:
                    share_users = await self._share_users(owner, server)
                await self._accept(grant, info, share_users, now)
                report.accepted += 1
            elif info is None or invitation_lapsed(grant, now):
                await self._lapse(grant, now)
                report.lapsed += 1

    async def _share_users(self, owner: str, server: str) -> dict[str, datetime | None]:
        return {s.user: s.created_at for s in await self.hub.shares(owner, server) if s.user}

    async def _accept(
        self,
        grant: Grant,
        info: ShareCodeInfo | None,
        share_users: dict[str, datetime | None],
        now: datetime,
    ) -> None:
        """Record an exchanged code; anyone but the recipient who used it loses access at once."""
        await self._withdraw_code(grant, now)  # single use: nobody else gets in with the link
        others = await self._db(
            self.repo.grants, states=OPEN_STATES, owner_hub=grant.owner_hub, server=grant.server
        )
        explained = {u for g in others if g.id != grant.id for u in (g.holder, g.recipient_hub)}
        intruders = unexpected_holders(
            grant, share_users, info.exchange_count if info else 1, explained
        )
        recipient_in = grant.recipient_hub in share_users or not intruders
        holder = grant.recipient_hub if recipient_in else intruders[0]
        accepted_at = min(info.last_exchanged_at or now, now) if info else now
        active = await self._change(
            grant,
            GrantState.ACTIVE,
            now=now,
            action="accept",
            actor_hub=holder,
            detail={"exchange_count": info.exchange_count if info else None},
            accepted_at=accepted_at,
            accepted_hub_user=holder,
            expires_at=deadline_after_acceptance(accepted_at, grant.duration),
            notices=lambda g: (
                [self._notice(g, "accepted", g.owner_slack_id, texts.accepted_owner(g))]
                if recipient_in
                else []
            ),
        )
        if active is None:
            return
        for intruder in intruders:
            log.warning("%s: the link was used by hub user %s", grant.label, intruder)
            await self._db(
                self.repo.audit,
                "link_misused",
                now=now,
                grant_id=grant.id,
                actor_hub=intruder,
                detail={"intended": grant.recipient_hub, "used_by": intruder},
            )
        if not recipient_in:
            # Only someone else got in: end the grant now (retried until the hub agrees).
            ending = await self._start_ending(active, EndReason.MISUSED, "revoke", now)
            if ending is not None:
                await self._finish(ending, now)
            intruders = intruders[1:]
        for intruder in intruders:
            await self._remove_intruder(active, intruder, now)
        if recipient_in:
            log.info("%s accepted; ends at %s", active.label, active.expires_at)
        await self._refresh_home(grant.owner_slack_id, grant.recipient_slack_id)

    async def _remove_intruder(self, grant: Grant, intruder: str, now: datetime) -> None:
        """Revoke the share of someone who used a link meant for another person."""
        try:
            await self.hub.revoke_share(grant.owner_hub, grant.server, intruder)
        except HubError as err:
            log.error("%s: could not revoke %s who used the link: %s", grant.label, intruder, err)
            await self._db(
                self.repo.audit,
                "intruder_revoke_failed",
                now=now,
                grant_id=grant.id,
                actor_hub=intruder,
                detail={"error": str(err)},
            )
            revoked = False
        else:
            revoked = True
        event = f"intruder:{intruder}"
        await self._tell(
            [
                self._notice(
                    grant,
                    event,
                    grant.owner_slack_id,
                    texts.misused_owner(grant, intruder, revoked),
                ),
                self._notice(
                    grant, event, grant.recipient_slack_id, texts.misused_recipient(grant, intruder)
                ),
            ]
        )

    async def _lapse(self, grant: Grant, now: datetime) -> None:
        await self._withdraw_code(grant, now)
        lapsed = await self._change(
            grant,
            GrantState.LAPSED,
            now=now,
            action="lapse",
            ended_at=now,
            notices=lambda g: [self._notice(g, "lapsed", g.owner_slack_id, texts.lapsed_owner(g))],
        )
        if lapsed is not None:
            log.info("%s lapsed: the link expired unused", grant.label)
            await self._refresh_home(grant.owner_slack_id, grant.recipient_slack_id)

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
                return True  # another worker holds it, or it has ended meanwhile
            return await self._finish_claimed(mine, now)

    async def _finish_claimed(self, grant: Grant, now: datetime) -> bool:
        """Remove the hub share of an ending grant (unless it must stay); True when done."""
        reason = grant.end_reason or EndReason.EXPIRED
        others = await self._db(
            self.repo.active_for_holder, grant.owner_hub, grant.server, grant.holder
        )
        # An intruder never had access before; the recipient's prior access is not theirs.
        kept = reason is not EndReason.MISUSED and must_keep_share(grant, others, now)
        if not kept:
            try:
                await self.hub.revoke_share(grant.owner_hub, grant.server, grant.holder)
            except HubError as err:
                log.warning("%s: revocation failed, will retry: %s", grant.label, err)
                await self._db(
                    self.repo.record_failure, grant, str(err), now=now, action="revoke_failed"
                )
                return False
        ended = await self._change(
            grant,
            final_state(reason),
            now=now,
            action="expired" if reason is EndReason.EXPIRED else "revoked",
            detail={"share_kept": kept},
            ended_at=now,
            notices=lambda _: self._end_notices(grant, reason, kept),
        )
        if ended is None:
            return True  # another pass or replica finished it
        log.info("%s ended (%s%s)", grant.label, reason, ", share kept" if kept else "")
        await self._refresh_home(grant.owner_slack_id, grant.recipient_slack_id)
        return True

    def _end_notices(self, grant: Grant, reason: EndReason, kept: bool) -> list[OutgoingNotice]:
        """Who is told that ``grant`` ended, and what (the texts speak of the grant as it
        was before it ended)."""
        owner, recipient = grant.owner_slack_id, grant.recipient_slack_id
        event = reason.value
        if reason is EndReason.MISUSED:
            return [
                self._notice(grant, event, owner, texts.misused_owner(grant, grant.holder, True)),
                self._notice(grant, event, recipient, texts.misused_recipient(grant, grant.holder)),
            ]
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

    async def _withdraw_code(self, grant: Grant, now: datetime) -> None:
        if not grant.code_id:
            return
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
