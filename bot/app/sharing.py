"""Sharing, as people ask for it: share, list, revoke, leave, extend.

Every method takes ``now`` and returns an outcome (:mod:`bot.app.outcomes`); what the
recipient is sent goes through the :class:`~bot.app.ports.Say` port. Owner (and
recipient) actions follow the caller's *current* link to a hub user, never the Slack id a
grant was made with.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Mapping
from datetime import datetime, timedelta
from urllib.parse import quote

from bot.aio import bounded, started
from bot.app.codes import Codes
from bot.app.endings import CLAIM_PATIENCE, Endings, db
from bot.app.gate import GateService
from bot.app.identity import IdentityResolver
from bot.app.messages import ExtendedForRecipient, Invitation, RevokedByAdmin
from bot.app.outcomes import (
    GroupShared,
    LeaveResult,
    LeftOut,
    Reason,
    Refusal,
    Refused,
    RevokeResult,
    ShareList,
    ShareOutcome,
)
from bot.app.ports import Progress
from bot.domain import commands
from bot.domain.access import MANAGE, NO_SCOPES, Scopes, ShareMap, earlier_access, grant_scopes
from bot.domain.access import union as union_of
from bot.domain.gate import parse_notebook_path
from bot.domain.grants import (
    OPEN_STATES,
    EndReason,
    Grant,
    GrantState,
    RecipientKind,
    deadline_after_acceptance,
    extended_deadline,
    invitation_unconfirmed,
    remind_at,
    shares_unread,
)
from bot.errors import HubError, HubNotFound, SharebotError, SlackDeliveryError
from bot.hub.client import ShareCode
from bot.store.flags import Flags
from bot.store.grants import NewGrant
from bot.store.links import Links

log = logging.getLogger(__name__)

#: Invitations of one share made at once (each a share code on the hub, then a DM): the
#: fan-out to a user group is paced by the hub's answers and Slack's rate limits (the Slack
#: client waits out a 429's Retry-After), not by a fixed sleep.
INVITE_AT_ONCE = 16


class Sharing:
    #: Invitations of one share sent at once (1: one after the other, in the recipients'
    #: order, as the property test's machine needs to replay a sequence exactly).
    invite_at_once = INVITE_AT_ONCE

    def __init__(
        self,
        *,
        endings: Endings,
        codes: Codes,
        links: Links,
        flags: Flags,
        identities: IdentityResolver,
        public_url: str,
        invite_ttl: timedelta,
        admins: frozenset[str] = frozenset(),
        gate: GateService | None = None,
    ) -> None:
        self.endings = endings
        self.codes = codes
        self.hub = endings.hub
        self.grants = endings.grants
        self.say = endings.say
        self.links = links
        self.flags = flags
        self.identities = identities
        self.public_url = public_url.rstrip("/")
        self.invite_ttl = invite_ttl
        self.admins = admins  # SHAREBOT_ADMINS: may revoke anyone's share by its button
        self.gate = gate  # the accept gate (bot.app.gate); None: the hub's own links

    # -- who acts ---------------------------------------------------------------------------

    async def hub_user_of(self, caller: str) -> str | None:
        """The hub user ``caller`` is linked to now. Owner (and recipient) actions follow the
        current link, never the Slack id a grant was made with: relinking moves the power,
        unlinking ends it."""
        link = await db(self.links.link_of, caller)
        return link.hub_user if link else None

    async def may_act_as_owner(self, caller: str, grant: Grant) -> bool:
        return await self.hub_user_of(caller) == grant.owner_hub

    # -- share ------------------------------------------------------------------------------

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
            raise Refused(
                Refusal(Reason.UNKNOWN_SERVER, server=server, available=tuple(servers)),
                f"{owner_hub} has no server {server!r}",
            )

    async def share(
        self,
        caller: str,
        cmd: commands.Share,
        now: datetime,
        *,
        decision_id: int | None = None,
        progress: Progress | None = None,
        left_out: LeftOut | None = None,
    ) -> ShareOutcome:
        """Invite each recipient: one grant, one code, one DM each, up to
        :attr:`invite_at_once` (:data:`INVITE_AT_ONCE`) at a time. ``progress`` is told
        after each invitation; ``left_out`` (members of user groups not shared with) is
        carried into the outcome."""
        owner_hub, recipients = await self._resolve(caller, cmd.recipients, now)
        cmd = dataclasses.replace(cmd, path=self.notebook_path(owner_hub, cmd.server, cmd.path))
        if len(recipients) == 1:
            # The server's shares are read while the intent is written and the hub makes
            # the code (:meth:`issue`), not before: one round trip to the hub, not two.
            async with started(self._current_shares(owner_hub, cmd.server)) as shares:
                return await self._share(
                    caller, owner_hub, recipients, cmd, now, decision_id, progress, left_out, shares
                )
        # a fan-out reads them once for all its invitations, first
        current = await self._current_shares(owner_hub, cmd.server)
        return await self._share(
            caller, owner_hub, recipients, cmd, now, decision_id, progress, left_out, current
        )

    async def _share(
        self,
        caller: str,
        owner_hub: str,
        recipients: dict[str, str],
        cmd: commands.Share,
        now: datetime,
        decision_id: int | None,
        progress: Progress | None,
        left_out: LeftOut | None,
        shares: ShareMap | Awaitable[ShareMap],
    ) -> ShareOutcome:
        """:meth:`share`, once the server's shares are read (a map) or being read (one
        recipient: their intent is written without them, and its code waits for them)."""
        current, reading = (shares, None) if isinstance(shares, Mapping) else (None, shares)
        invited: dict[str, Grant] = {}
        failed: dict[str, SharebotError] = {}
        total = len(recipients)
        # Every intent first, then the codes and DMs: a process killed in the middle of a
        # fan-out leaves each invitation not sent yet recorded, and the background pass
        # sends them once their claims ran out (none lost, none twice).
        intents = {
            slack_id: await self._intend(
                caller, owner_hub, slack_id, hub_user, cmd, current, now, decision_id
            )
            for slack_id, hub_user in recipients.items()
        }

        async def invite(slack_id: str) -> None:
            try:
                invited[slack_id] = await self._send(*intents[slack_id], now, reading)
            except SharebotError as err:
                if total == 1:
                    raise
                log.warning(
                    "invitation of %s to %s/%s failed: %s", slack_id, owner_hub, cmd.server, err
                )
                failed[slack_id] = err
            if progress is not None:
                try:
                    await progress(len(invited) + len(failed), total)
                except Exception:  # the progress shown is a courtesy: never stop the share
                    log.warning("share progress of %s not shown", caller, exc_info=True)

        await bounded(self.invite_at_once, [functools.partial(invite, s) for s in recipients])
        outcome = ShareOutcome(
            invited=[invited[s] for s in recipients if s in invited],
            failed=[(s, failed[s]) for s in recipients if s in failed],
            left_out=left_out or LeftOut(),
        )
        await self.endings.refresh_home(caller, *(g.recipient_slack_id for g in outcome.invited))
        return outcome

    def notebook_path(self, owner_hub: str, server: str, raw: str | None) -> str | None:
        """A share's (or request's) notebook path, checked against the server; refuses one
        that leaves it (bot.domain.gate.parse_notebook_path)."""
        if raw is None:
            return None
        where = parse_notebook_path(
            raw, owner_hub=owner_hub, server=server, hub_origin=self.public_url
        )
        if where.path is None:
            raise Refused(Refusal(Reason.BAD_PATH, server=server, why=where.why_not))
        return where.path

    async def _current_shares(self, owner_hub: str, server: str) -> ShareMap:
        """The server's shares, read before any code of the invitation exists (the scope
        ledger's starting point and the misuse baseline); also the check that the server
        exists (the hub answers 404), so a share costs one hub call less than :meth:`check`
        followed by the listing."""
        try:
            return await self.hub.share_map(owner_hub, server)
        except HubNotFound:
            await self.check_server(owner_hub, server)  # refuses, naming the servers there are
            raise

    async def _resolve(
        self, caller: str, recipients: tuple[str, ...], now: datetime
    ) -> tuple[str, dict[str, str]]:
        if caller in recipients:
            raise Refused(Refusal(Reason.SELF_SHARE))
        resolution = await self.identities.resolve([caller, *recipients], now)
        links = resolution.hub_users
        if caller not in links:
            raise Refused(
                Refusal(
                    Reason.NOT_LINKED_CALLER, people=(caller,), why=resolution.why_not.get(caller)
                )
            )
        missing = tuple(r for r in recipients if r not in links)
        if missing:
            raise Refused(
                Refusal(Reason.NOT_LINKED_RECIPIENTS, people=missing, why_not=resolution.why_not)
            )
        owner_hub = links[caller]
        mapped = {r: links[r] for r in recipients}
        if owner_hub in mapped.values():
            raise Refused(Refusal(Reason.SELF_SHARE))
        return owner_hub, mapped

    async def _intend(
        self,
        caller: str,
        owner_hub: str,
        slack_id: str,
        hub_user: str,
        cmd: commands.Share,
        current: ShareMap | None,
        now: datetime,
        decision_id: int | None,
    ) -> tuple[Grant, str]:
        """The invitation's intent, written before the hub is asked for a code and held
        (claimed) by this share: if the process dies before its DM is confirmed, the
        background pass finds an invitation with no confirmed DM once the claim ran out
        (bot.app.recovery). Returns the grant and the claim's token. Without ``current``
        (the server's shares not read yet), its baseline and earlier access are written
        with its code (:meth:`issue`)."""
        extras = (MANAGE,) if cmd.manage else ()
        earlier = (
            NO_SCOPES
            if current is None
            else await self._earlier_access(owner_hub, cmd.server, hub_user, current)
        )
        token = self.endings.new_token()
        grant = await db(
            self.grants.add_grant,
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
                path=cmd.path,
            ),
            now=now,
            intent=(token, self.endings.claim_ttl),
        )
        return grant, token

    async def _send(
        self, grant: Grant, token: str, now: datetime, shares: Awaitable[ShareMap] | None = None
    ) -> Grant:
        """Issue an intent written by :meth:`_intend` (its code, its DM), its claim renewed
        first: an intent that waited its turn longer than the claim lasts may have been taken
        over by the background pass, which then sends it (returned as it is now). An intent
        whose claim, written with it, has nearly all its lease left (a share with one
        person, sent at once) goes on as it is: nobody can have taken it over, the lease
        left is as long as a renewal would give, within a tenth, and a revoke meanwhile is
        caught by the code's guarded write (:meth:`issue`)."""
        ttl = self.endings.claim_ttl
        clock = self.endings.clock()
        if clock < grant.created_at + ttl / 10:
            fresh: Grant | None = grant
        else:
            fresh = await db(self.grants.claim, grant.id, token, now=clock, ttl=ttl)
        try:
            if fresh is None or not invitation_unconfirmed(fresh) or fresh.code_id is not None:
                log.info("%s: taken over by the background pass", grant.label)
                return fresh or grant
            try:
                return await self.issue(fresh, now, shares=shares)
            except SharebotError as err:
                await self._failed(fresh, err, now)
                raise
        finally:
            await db(self.grants.release, grant.id, token)

    async def _failed(self, grant: Grant, err: SharebotError, now: datetime) -> None:
        """An invitation the hub or Slack refused: failed, with why (audited)."""
        await db(
            self.grants.transition,
            grant,
            GrantState.FAILED,
            now=now,
            action="invite_failed",
            detail={"error": str(err)},
        )

    async def _earlier_access(
        self, owner_hub: str, server: str, hub_user: str, current: ShareMap
    ) -> Scopes:
        """What ``hub_user`` holds on the server that no open grant of ours, no unsettled
        flag and no use of a link no pass has judged yet accounts for: theirs to keep when
        a new grant ends."""
        held = current.get(hub_user, NO_SCOPES)
        if not held:
            return NO_SCOPES
        ours = await db(self.grants.for_holder, owner_hub, server, hub_user, states=OPEN_STATES)
        ours = [g for g in ours if not shares_unread(g)]  # no code yet: they gave nothing
        flagged = await db(
            self.flags.pending, owner_hub=owner_hub, server=server, hub_user=hub_user
        )
        unjudged = await self._gained_by_unjudged_links(owner_hub, server, hub_user, held)
        return earlier_access(
            held, [g.ledger for g in ours], union_of(f.scopes for f in flagged) | unjudged
        )

    async def _gained_by_unjudged_links(
        self, owner_hub: str, server: str, hub_user: str, held: Scopes
    ) -> Scopes:
        """What ``hub_user`` gained, since a watched code's baseline, of what that code
        gives, when the code has been used (or is gone) and no pass has judged it yet: a
        link not theirs may have given it, so it is not earlier access. The hub's codes are
        read only when such growth exists."""
        watched = [
            g
            for g in await db(self.grants.watched, owner_hub=owner_hub, server=server)
            if g.baseline is not None and (held - g.baseline.get(hub_user, NO_SCOPES)) & g.scopes
        ]
        if not watched:
            return NO_SCOPES
        codes = {c.id: c for c in await self.hub.share_codes(owner_hub, server)}
        return union_of(
            (held - g.baseline.get(hub_user, NO_SCOPES)) & g.scopes
            for g in watched
            if g.baseline is not None
            and (
                (info := codes.get(g.code_id or "")) is None
                or info.exchange_count > g.code_exchanges
            )
        )

    async def issue(
        self, grant: Grant, now: datetime, *, shares: Awaitable[ShareMap] | None = None
    ) -> Grant:
        """Make a share code for an unsent invitation, record it, DM the link, note the DM.
        An intent written before the server's shares were read (``shares_unread``) has them
        read while the code is made (``shares``: being read already), and its baseline and
        earlier access written with the code.

        The link holds the code, which is never stored: a DM that may not have gone out is
        recovered by making a new code (:mod:`bot.app.recovery`), not by resending.
        Raises HubError or SlackDeliveryError (the code is withdrawn then).
        """
        make = self.hub.create_share_code(
            grant.owner_hub,
            grant.server,
            expires_in=int(self.invite_ttl.total_seconds()),
            scopes=sorted(grant.scopes),
        )
        read: tuple[ShareMap, Scopes] | None = None
        if shares_unread(grant):
            reading = shares or self._current_shares(grant.owner_hub, grant.server)
            code, current = await self._make_and_read(grant, make, reading, now)
            earlier = await self._earlier_access(
                grant.owner_hub, grant.server, grant.recipient_hub, current
            )
            read = (current, earlier)
        else:
            code = await make
        recorded = await db(
            self.grants.set_code,
            grant,
            code.id,
            code.expires_at or now + self.invite_ttl,
            now=now,
            read=read,
        )
        if recorded is None:  # cancelled meanwhile (revoke before the DM): not ours to send
            await self.endings.withdraw_code(dataclasses.replace(grant, code_id=code.id), now)
            raise Refused(
                Refusal(Reason.CLOSED_WHILE_INVITING), f"{grant.label}: closed while inviting"
            )
        grant = recorded
        log.info("%s invited (code %s)", grant.label, code.id)
        if self.gate is not None and self.gate.enabled:
            url = await self.gate.issue(grant, code, self.public_url, now)
        else:
            url = code.accept_url
            if not url.startswith(("http://", "https://")):
                url = self.public_url + url
            landing = self.gate.direct_next(grant) if self.gate is not None else None
            if landing:
                url += f"&next={quote(landing, safe='')}"
        try:
            await self.say.dm(grant.recipient_slack_id, Invitation(grant, url))
        except SlackDeliveryError:
            await self.endings.withdraw_code(grant, now)
            raise
        await db(self.grants.invite_sent, grant, now=self.endings.clock())
        return grant

    async def _make_and_read(
        self,
        grant: Grant,
        make: Awaitable[ShareCode],
        reading: Awaitable[ShareMap],
        now: datetime,
    ) -> tuple[ShareCode, ShareMap]:
        """The code made and the server's shares read at once. Both are in before the link
        goes anywhere, so what was read is from before any use of the code: its baseline.
        A failed read withdraws the code made (the invitation fails); when both fail, the
        read's error is the one raised (it names the servers there are)."""
        made, shares = await asyncio.gather(make, reading, return_exceptions=True)
        if isinstance(shares, BaseException):
            if not isinstance(made, BaseException):
                await self.endings.withdraw_code(dataclasses.replace(grant, code_id=made.id), now)
            raise shares
        if isinstance(made, BaseException):
            raise made
        return made, shares

    # -- a hub group ------------------------------------------------------------------------

    async def share_with_group(
        self, caller: str, cmd: commands.Share, now: datetime, *, decision_id: int | None = None
    ) -> GroupShared:
        """Share the caller's server with the hub group ``cmd.hub_group``: one group share on
        the hub with exactly the grant's scopes, active at once, ended on time like a
        person's grant (the group's earlier access, what it held that no open grant of ours
        gives, is kept: bot.domain.access)."""
        group = cmd.hub_group
        if not group:
            raise ValueError("share_with_group needs a hub group")
        owner_hub = await self.hub_user_of(caller)
        if owner_hub is None:
            raise Refused(Refusal(Reason.NOT_LINKED_CALLER, people=(caller,)))
        extras = (MANAGE,) if cmd.manage else ()
        try:
            held = (await self.hub.group_share_map(owner_hub, cmd.server)).get(group, NO_SCOPES)
        except HubNotFound:
            await self.check_server(owner_hub, cmd.server)  # refuses, naming the servers
            raise
        ours = await db(
            self.grants.for_holder,
            owner_hub,
            cmd.server,
            group,
            states=OPEN_STATES,
            kind=RecipientKind.GROUP,
        )
        token = self.endings.new_token()
        grant = await db(
            self.grants.add_grant,
            NewGrant(
                owner_slack_id=caller,
                owner_hub=owner_hub,
                server=cmd.server,
                recipient_slack_id="",
                recipient_hub=group,
                duration=cmd.duration,
                note=cmd.note,
                code_id=None,
                code_expires_at=None,
                scopes=grant_scopes(owner_hub, cmd.server, extras),
                earlier=earlier_access(held, [g.ledger for g in ours]),
                extras=extras,
                decision_id=decision_id,
                recipient_kind=RecipientKind.GROUP,
            ),
            now=now,
            intent=(token, self.endings.claim_ttl),
        )
        try:
            shared = await self.activate_group(grant, now)
        except SharebotError as err:
            await self._failed(grant, err, now)
            if isinstance(err, HubNotFound) or (isinstance(err, HubError) and err.status == 400):
                raise Refused(
                    Refusal(Reason.UNKNOWN_HUB_GROUP, why=group), f"{grant.label}: {err}"
                ) from None
            raise
        finally:
            await db(self.grants.release, grant.id, token)
        await self.endings.refresh_home(caller)
        return GroupShared(shared)

    async def activate_group(self, grant: Grant, now: datetime) -> Grant:
        """Give a hub group's grant its share on the hub and start its time (also what the
        background pass does for one a stopped process left half done: the hub merges the
        same scopes again, so doing it twice is harmless)."""
        await self.hub.share_with_group(grant.owner_hub, grant.server, grant.holder, grant.scopes)
        active = await db(
            self.grants.transition,
            grant,
            GrantState.ACTIVE,
            now=now,
            action="group_shared",
            accepted_at=now,
            expires_at=deadline_after_acceptance(now, grant.duration),
            invite_sent_at=now,
        )
        if active is None:  # changed meanwhile (revoked): the hub share ends with it
            return await db(self.grants.get, grant.id) or grant
        log.info("%s shared", active.label)
        return active

    # -- list -------------------------------------------------------------------------------

    async def list_shares(self, caller: str) -> ShareList | Refusal:
        owner_hub = await self.hub_user_of(caller)
        if owner_hub is None:
            return Refusal(Reason.NOT_LINKED_CALLER, people=(caller,))
        listed = await db(self.grants.listing, states=OPEN_STATES, owner_hub=owner_hub)
        return ShareList(tuple(listed))

    # -- revoke and leave -------------------------------------------------------------------

    async def revoke(
        self, caller: str, cmd: commands.Revoke, now: datetime
    ) -> RevokeResult | Refusal:
        owner_hub = await self.hub_user_of(caller)
        if owner_hub is None:
            return Refusal(Reason.NOT_LINKED_CALLER, people=(caller,))
        grants = await db(
            self.grants.grants, states=OPEN_STATES, owner_hub=owner_hub, server=cmd.server
        )
        if not cmd.everyone:
            grants = [g for g in grants if g.recipient_slack_id in cmd.recipients]
        if not grants:
            return Refusal(
                Reason.NOTHING_TO_REVOKE,
                server=cmd.server,
                people=() if cmd.everyone else tuple(cmd.recipients),
            )
        done: list[Grant] = []
        pending: list[Grant] = []
        for grant in grants:
            ended, final = await self.revoke_one(grant, caller, now)
            (done if ended else pending).append(final)
        return RevokeResult(tuple(done), tuple(pending))

    async def revoke_grant(
        self, grant_id: int, caller: str, now: datetime
    ) -> RevokeResult | Refusal:
        """Revoke one grant (a Home or digest Revoke button): whoever is linked to the hub
        user who owns the server, or an admin (SHAREBOT_ADMINS), who is then the actor in
        the audit log and is named to the owner. Anyone else, e.g. clicking a forwarded copy
        of the button or an old Slack account of the owner, changes nothing."""
        grant = await db(self.grants.get, grant_id)
        if grant is None:
            return Refusal(Reason.ONLY_OWNER_REVOKES)
        owner = await self.may_act_as_owner(caller, grant)
        by_admin = not owner and caller in self.admins
        if not owner and not by_admin:
            return Refusal(Reason.ONLY_OWNER_REVOKES)
        if not grant.state.is_open:
            return Refusal(Reason.SHARE_CLOSED)
        if by_admin:
            log.info("%s: revoked by admin %s", grant.label, caller)
            await self.say.notify(grant.owner_slack_id, RevokedByAdmin(grant, caller))
        done, final = await self.revoke_one(grant, caller, now)
        if not done:
            await self.endings.refresh_home(grant.owner_slack_id, grant.recipient_slack_id)
        if by_admin:
            await self.endings.refresh_home(caller)  # their All shares no longer lists it
        return RevokeResult((final,), ()) if done else RevokeResult((), (final,))

    async def leave(self, grant_id: int, caller: str, now: datetime) -> LeaveResult | Refusal:
        """The recipient gives up a share (or declines an invitation): the revoke path,
        told to the owner. Only the recipient (by their current link) may."""
        grant = await db(self.grants.get, grant_id)
        if grant is None or await self.hub_user_of(caller) != grant.recipient_hub:
            return Refusal(Reason.ONLY_RECIPIENT_LEAVES)
        if not grant.state.is_open:
            return Refusal(Reason.SHARE_CLOSED)
        done, final = await self.revoke_one(grant, caller, now, reason=EndReason.LEFT)
        if not done:
            await self.endings.refresh_home(grant.owner_slack_id, grant.recipient_slack_id)
        return LeaveResult(final, done)

    async def revoke_one(
        self, grant: Grant, caller: str, now: datetime, *, reason: EndReason = EndReason.REVOKED
    ) -> tuple[bool, Grant]:
        """End one open grant, whatever its state: (done, the grant as it is now). Not done
        means the hub has not confirmed yet and the background pass goes on trying."""
        left = reason is EndReason.LEFT
        if grant.state is GrantState.INVITED:
            withdrawing = await db(
                self.grants.transition,
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
            await self.codes.settle_withdrawal_claimed(grant, now, wait=CLAIM_PATIENCE)
            fresh = await db(self.grants.get, grant.id) or grant
            if fresh.state is GrantState.ENDING:  # it had been accepted: end it now
                return await self.revoke_one(fresh, caller, now, reason=reason)
            # still withdrawing: the hub has not confirmed (the background pass goes on)
            return not fresh.state.is_open, fresh
        if grant.state is GrantState.ACTIVE:
            action = "left" if left else "revoke"
            ending = await self.endings.start_ending(grant, reason, action, now, caller)
            if ending is None:
                return await self._again(grant, caller, now, reason)
            grant = ending
        if grant.state is not GrantState.ENDING:
            return True, grant
        done = await self.endings.finish(grant, now, wait=CLAIM_PATIENCE)
        ended = await db(self.grants.get, grant.id)
        fresh = ended if ended is not None else grant
        return done or not fresh.state.is_open, fresh  # (someone else may have finished it)

    async def _again(
        self, grant: Grant, caller: str, now: datetime, reason: EndReason
    ) -> tuple[bool, Grant]:
        """A guarded change lost to another one: carry on from where the grant is now."""
        fresh = await db(self.grants.get, grant.id)
        if fresh is None or not fresh.state.is_open:
            return True, fresh or grant
        if fresh.state is grant.state:  # only its claim or deadline changed: not ours now
            return False, fresh
        return await self.revoke_one(fresh, caller, now, reason=reason)

    # -- extend -----------------------------------------------------------------------------

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
        deadline = extended_deadline(grant, extra)
        extended = await db(
            self.grants.extend,
            grant,
            deadline,
            now=now,
            actor_slack_id=by,
            decision_id=decision_id,
            # a hub group has nobody in Slack to remind or tell
            remind_at=None if grant.for_group else remind_at(now, deadline, self.endings.reminders),
        )
        if extended is None:
            return None
        log.info("%s extended to %s", extended.label, extended.expires_at)
        if not extended.for_group:
            await self.say.notify(extended.recipient_slack_id, ExtendedForRecipient(extended))
        await self.endings.refresh_home(extended.owner_slack_id, extended.recipient_slack_id)
        return extended
