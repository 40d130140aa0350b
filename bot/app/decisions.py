"""Use cases of requests and approvals: open, approve, deny, cancel, expire.

Each decision is a guarded state change in the database (one click wins); after it, every
posted copy of the message is updated and the people concerned are told. Nobody decides a
grant that gives them access (:meth:`bot.domain.decisions.Decision.who_decides`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.app.endings import db
from bot.app.groups import Groups
from bot.app.limits import SendLimit
from bot.app.messages import (
    CopyFor,
    DecisionClosed,
    DecisionCopy,
    DecisionResult,
    ExtensionReason,
    Posted,
)
from bot.app.outcomes import (
    Decided,
    Extended,
    ExtensionHeld,
    GroupShared,
    Held,
    LeftOut,
    PostedTo,
    Reason,
    Refusal,
    Refused,
    RequestSent,
    ShareOutcome,
)
from bot.app.ports import HomeRefresher, Progress, Say
from bot.app.sharing import Sharing
from bot.domain import commands
from bot.domain.access import MANAGE
from bot.domain.decisions import (
    HUB_GROUP_PREFIX,
    Decision,
    DecisionKind,
    DecisionState,
    Policy,
    hub_group_in,
    is_overdue,
)
from bot.domain.durations import is_until_revoked
from bot.domain.grants import OPEN_STATES, Grant, GrantState, length_after_extension
from bot.errors import SharebotError, SlackDeliveryError
from bot.store.decisions import Decisions
from bot.store.grants import Grants
from bot.store.links import Links

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApprovalConfig:
    policy: Policy
    approvers: tuple[str, ...] = ()  # user ids, group ids, @handles
    channel: str | None = None  # post approvals here instead of DMing approvers
    ttl: timedelta = timedelta(hours=24)
    max_duration: timedelta | None = None  # SHAREBOT_MAX_DURATION: no share lasts longer
    allow_until_revoked: bool = False  # SHAREBOT_ALLOW_UNTIL_REVOKED (for Share again)


class DecisionService:
    def __init__(
        self,
        *,
        sharing: Sharing,
        decisions: Decisions,
        grants: Grants,
        links: Links,
        say: Say,
        config: ApprovalConfig,
        home: HomeRefresher,
        limit: SendLimit | None = None,
        groups: Groups | None = None,
    ) -> None:
        self.sharing = sharing
        self.groups = groups  # Slack user groups' members, the cap (bot.app.groups)
        self.decisions = decisions
        self.grants = grants
        self.links = links
        self.say = say
        self.config = config
        self.home = home
        self.limit = limit  # SHAREBOT_RATE_LIMIT_PER_MINUTE (None: no limit)

    # -- entry points from slash commands ----------------------------------------------------

    async def share_or_hold(
        self,
        caller: str,
        cmd: commands.Share,
        now: datetime,
        *,
        decision_id: int | None = None,
        progress: Progress | None = None,
    ) -> ShareOutcome | GroupShared | Held:
        """Share now, or hold the share for an approver when policy says so.

        ``decision_id`` names the owner's approved request this share carries out (the
        per-person limit counted the request already). Slack user groups named are expanded
        into their members first (bot.app.groups); ``progress`` is told of each invitation.
        """
        left_out = LeftOut()
        if self.groups is not None and cmd.hub_group is None:
            cmd, left_out = await self.groups.expand(caller, cmd, now)
        if decision_id is None:
            await self._within_limit(caller, max(1, len(cmd.recipients)), now)
        extras = (MANAGE,) if cmd.manage else ()
        hub_group = cmd.hub_group is not None
        reasons = self.config.policy.reasons(cmd.duration, extras, hub_group=hub_group)
        if not reasons:
            return await self._share_now(
                caller, cmd, now, decision_id=decision_id, progress=progress, left_out=left_out
            )
        if not self.config.approvers:
            raise Refused(Refusal(Reason.NO_APPROVERS), "approval needed, no approvers")
        if hub_group:
            owner_hub = await self.sharing.hub_user_of(caller)
            if owner_hub is None:
                raise Refused(Refusal(Reason.NOT_LINKED_CALLER, people=(caller,)))
            await self.sharing.check_server(owner_hub, cmd.server)
        else:
            owner_hub, _ = await self.sharing.check(caller, cmd, now)
        decision = await db(
            self.decisions.add,
            kind=DecisionKind.APPROVAL,
            requester_slack_id=caller,
            owner_slack_id=caller,
            owner_hub=owner_hub,
            server=cmd.server,
            recipients=(HUB_GROUP_PREFIX + cmd.hub_group,) if cmd.hub_group else cmd.recipients,
            duration=cmd.duration,
            extras=extras,
            reason=cmd.note,
            now=now,
            ttl=self.config.ttl,
            path=self.sharing.notebook_path(owner_hub, cmd.server, cmd.path),
        )
        posted_to = await self._post_for_deciders(decision)
        await self._refresh_homes(decision)
        return Held(decision, tuple(reasons), posted_to, left_out)

    async def _share_now(
        self,
        caller: str,
        cmd: commands.Share,
        now: datetime,
        *,
        decision_id: int | None = None,
        progress: Progress | None = None,
        left_out: LeftOut | None = None,
    ) -> ShareOutcome | GroupShared:
        if cmd.hub_group is not None:
            return await self.sharing.share_with_group(caller, cmd, now, decision_id=decision_id)
        return await self.sharing.share(
            caller, cmd, now, decision_id=decision_id, progress=progress, left_out=left_out
        )

    async def request(self, caller: str, cmd: commands.Request, now: datetime) -> RequestSent:
        """Someone asks an owner for access to the owner's server."""
        as_share = commands.Share(
            (caller,), cmd.duration, cmd.server, cmd.reason, cmd.manage, cmd.path
        )
        if caller == cmd.owner:
            raise Refused(Refusal(Reason.SELF_REQUEST), "self-request")
        await self._within_limit(caller, 1, now)
        try:
            owner_hub, _ = await self.sharing.check(cmd.owner, as_share, now)
        except SharebotError as err:
            raise seen_by(caller, cmd.owner, err) from None
        path = self.sharing.notebook_path(owner_hub, cmd.server, cmd.path)
        decision = await db(
            self.decisions.add,
            kind=DecisionKind.REQUEST,
            requester_slack_id=caller,
            owner_slack_id=cmd.owner,
            owner_hub=owner_hub,
            server=cmd.server,
            recipients=(caller,),
            duration=cmd.duration,
            extras=(MANAGE,) if cmd.manage else (),
            reason=cmd.reason,
            now=now,
            ttl=self.config.ttl,
            path=path,
        )
        posted_to = await self._post_for_deciders(decision)
        await self._refresh_homes(decision)
        return RequestSent(decision, posted_to)

    async def extend(
        self, grant_id: int, offered_deadline: int | None, clicker: str, now: datetime
    ) -> Extended | ExtensionHeld | Refusal:
        """The owner's Extend: by the grant's own duration, at once or through approval.

        ``offered_deadline`` (epoch seconds) is the deadline the button was shown for; once
        the deadline moved, the button extends nothing (double clicks).
        """
        grant = await db(self.grants.get, grant_id)
        if grant is None or not await self.sharing.may_act_as_owner(clicker, grant):
            return Refusal(Reason.ONLY_OWNER_EXTENDS)
        if grant.state is not GrantState.ACTIVE or grant.expires_at is None:
            return Refusal(Reason.CANNOT_EXTEND, grant=grant)
        if offered_deadline is not None and int(grant.expires_at.timestamp()) != offered_deadline:
            return Refusal(Reason.ALREADY_EXTENDED, grant=grant)
        if grant.expires_at <= now:  # due: the background pass is ending it
            return Refusal(Reason.CANNOT_EXTEND, grant=grant)
        return await self._extend_or_hold(grant, grant.duration, clicker, now)

    async def _extend_or_hold(
        self, grant: Grant, extra: timedelta, clicker: str, now: datetime
    ) -> Extended | ExtensionHeld | Refusal:
        """Extend ``grant`` by ``extra`` for its owner (``clicker``), at once or through an
        approver when policy (SHAREBOT_APPROVAL_ABOVE, manage) says so."""
        total = length_after_extension(grant, extra)
        limit = self.config.max_duration
        if limit is not None and total > limit:
            return Refusal(Reason.EXTENSION_OVER_LIMIT, grant=grant, total=total, limit=limit)
        reasons = self.config.policy.reasons(total, grant.extras)
        if not reasons:
            extended = await self.sharing.extend(grant, extra, clicker, now)
            if extended is None:
                return await self._not_extended(grant.id)
            return Extended(extended)
        if not self.config.approvers:
            return Refusal(Reason.NO_APPROVERS)
        decision = await db(
            self.decisions.add_extension,
            grant_id=grant.id,
            requester_slack_id=clicker,
            owner_slack_id=clicker,
            owner_hub=grant.owner_hub,
            server=grant.server,
            recipients=(grant.recipient_slack_id,),
            duration=extra,
            extras=grant.extras,
            reason=self.say.render(ExtensionReason(grant, total)).text,
            now=now,
            ttl=self.config.ttl,
        )
        if decision is None:
            return Refusal(Reason.EXTENSION_PENDING)
        posted_to = await self._post_for_deciders(decision)
        await self._refresh_homes(decision)
        return ExtensionHeld(decision, tuple(reasons), posted_to)

    async def ask_more_time(
        self, grant_id: int, offered_deadline: int | None, clicker: str, now: datetime
    ) -> RequestSent | Refusal:
        """The recipient's "Ask for more time" (their reminder): a request to the owner to
        extend the share by its own duration. The owner approves (for as long or less) or
        denies; approved, it is extended under the same policy as the owner's Extend.

        Only the recipient, by their current link, may ask; once the deadline moved, the
        button asks nothing (it was extended meanwhile).
        """
        grant = await db(self.grants.get, grant_id)
        if grant is None or await self.sharing.hub_user_of(clicker) != grant.recipient_hub:
            return Refusal(Reason.ONLY_RECIPIENT_ASKS)
        if grant.state is not GrantState.ACTIVE or grant.expires_at is None:
            return Refusal(Reason.CANNOT_EXTEND, grant=grant)
        if offered_deadline is not None and int(grant.expires_at.timestamp()) != offered_deadline:
            return Refusal(Reason.ALREADY_EXTENDED, grant=grant)
        if grant.expires_at <= now:
            return Refusal(Reason.CANNOT_EXTEND, grant=grant)
        extra = grant.duration
        limit = self.config.max_duration
        total = length_after_extension(grant, extra)
        if limit is not None and total > limit:
            return Refusal(Reason.EXTENSION_OVER_LIMIT, grant=grant, total=total, limit=limit)
        await self._within_limit(clicker, 1, now)
        decision = await db(
            self.decisions.add_extension,
            kind=DecisionKind.MORE_TIME,
            grant_id=grant.id,
            requester_slack_id=clicker,
            owner_slack_id=grant.owner_slack_id,
            owner_hub=grant.owner_hub,
            server=grant.server,
            recipients=(clicker,),
            duration=extra,
            extras=grant.extras,
            reason="",
            now=now,
            ttl=min(self.config.ttl, grant.expires_at - now),  # moot once the share ended
        )
        if decision is None:
            return Refusal(Reason.MORE_TIME_PENDING)
        posted_to = await self._post_for_deciders(decision)
        await self._refresh_homes(decision)
        return RequestSent(decision, posted_to)

    async def share_again(
        self, grant_id: int, clicker: str, now: datetime
    ) -> ShareOutcome | GroupShared | Held | Refusal:
        """The owner's "Share again" (their end-of-share DM): a new share with the same
        person, server, duration, permissions, note and path, through :meth:`share_or_hold`
        (links, the server, policy and the per-person limit are judged as for the command).

        Refused when ``clicker`` is not the owner by their current link, the share has not
        ended, the person has an open share of the server already (a second click), or the
        duration is no longer allowed here.
        """
        grant = await db(self.grants.get, grant_id)
        if grant is None or not await self.sharing.may_act_as_owner(clicker, grant):
            return Refusal(Reason.ONLY_OWNER_SHARES_AGAIN)
        if grant.state.is_open:
            return Refusal(Reason.SHARE_AGAIN_NOT_ENDED, grant=grant)
        if grant.for_group:
            still_open = await db(
                self.grants.for_holder,
                grant.owner_hub,
                grant.server,
                grant.holder,
                states=OPEN_STATES,
                kind=grant.recipient_kind,
            )
        else:
            still_open = await db(
                self.grants.grants,
                states=OPEN_STATES,
                owner_hub=grant.owner_hub,
                server=grant.server,
                recipient_slack_id=grant.recipient_slack_id,
            )
        if still_open:
            return Refusal(Reason.SHARE_AGAIN_OPEN, grant=still_open[-1])
        limit = self.config.max_duration
        if is_until_revoked(grant.duration):
            if not self.config.allow_until_revoked:
                return Refusal(Reason.SHARE_AGAIN_TOO_LONG, grant=grant)
        elif limit is not None and grant.duration > limit:
            return Refusal(Reason.SHARE_AGAIN_TOO_LONG, grant=grant, limit=limit)
        cmd = commands.Share(
            () if grant.for_group else (grant.recipient_slack_id,),
            grant.duration,
            grant.server,
            grant.note,
            MANAGE in grant.extras,
            path=grant.path,
            hub_group=grant.recipient_hub if grant.for_group else None,
        )
        log.info("%s: shared again by %s", grant.label, clicker)
        return await self.share_or_hold(clicker, cmd, now)

    async def _within_limit(self, caller: str, adding: int, now: datetime) -> None:
        if self.limit is not None:
            await self.limit.check(caller, adding, now)

    async def _not_extended(self, grant_id: int) -> Refusal:
        fresh = await db(self.grants.get, grant_id)
        if fresh is None:
            return Refusal(Reason.EXTENSION_GONE)
        if fresh.state is GrantState.ACTIVE:
            return Refusal(Reason.ALREADY_EXTENDED, grant=fresh)
        return Refusal(Reason.CANNOT_EXTEND, grant=fresh)

    async def _post_for_deciders(self, decision: Decision) -> PostedTo:
        """Post the decider copies (and the requester's copy); returns who was asked."""
        try:
            if not decision.kind.needs_approvers:  # a request, or more time: the owner
                targets = [("dm", decision.owner_slack_id)]
                posted_to = PostedTo(people=(decision.owner_slack_id,))
            else:
                approvers = await self._approvers()
                deciders = decision.who_decides(approvers)
                if not deciders:
                    reason = Reason.NO_OTHER_DECIDER if approvers else Reason.NO_APPROVERS
                    raise Refused(Refusal(reason), "no one may approve")
                if self.config.channel:
                    targets = [("channel", self.config.channel)]
                    posted_to = PostedTo(channel=self.config.channel)
                else:
                    targets = [("dm", d) for d in sorted(deciders)]
                    posted_to = PostedTo(people=tuple(sorted(deciders)))
            copy = DecisionCopy(decision, CopyFor.DECIDER)
            for kind, target in targets:
                if kind == "dm":
                    posted = await self.say.dm(target, copy)
                else:
                    posted = await self.say.post(target, copy)
                await db(self.decisions.add_copy, decision.id, posted.channel, posted.ts, "decider")
        except SharebotError:
            await db(
                self.decisions.move,
                decision,
                DecisionState.CANCELLED,
                now=decision.created_at,
                note="could not be delivered",
                unless_overdue=False,
            )
            raise
        try:
            posted = await self.say.dm(
                decision.requester_slack_id, DecisionCopy(decision, CopyFor.REQUESTER)
            )
            await db(self.decisions.add_copy, decision.id, posted.channel, posted.ts, "requester")
        except SlackDeliveryError as err:
            log.warning("%s: requester copy not delivered: %s", decision.label, err)
        return posted_to

    async def _approvers(self) -> frozenset[str]:
        return await self.say.members(self.config.approvers)

    # -- clicks -------------------------------------------------------------------------------

    async def approve(
        self, decision_id: int, clicker: str, now: datetime, duration: timedelta | None = None
    ) -> Decided | Refusal:
        decision = await self._decidable(decision_id, clicker)
        if isinstance(decision, Refusal):
            return decision
        if duration is not None and not timedelta(0) < duration <= decision.duration:
            return Refusal(Reason.SHORTER_ONLY, decision=decision)
        won = await db(
            self.decisions.move,
            decision,
            DecisionState.APPROVED,
            now=now,
            by=clicker,
            approved_duration=duration or decision.duration,
        )
        if won is None:
            return await self._lost(decision_id)
        log.info("%s approved by %s", won.label, clicker)
        await self._refresh_copies(won)
        failure = await self._carry_out(won, now)
        await self._refresh_homes(won)
        return Decided(won, failure)

    async def deny(
        self, decision_id: int, clicker: str, note: str, now: datetime
    ) -> Decided | Refusal:
        decision = await self._decidable(decision_id, clicker)
        if isinstance(decision, Refusal):
            return decision
        won = await db(
            self.decisions.move,
            decision,
            DecisionState.DENIED,
            now=now,
            by=clicker,
            note=note.strip()[:500] or None,
        )
        if won is None:
            return await self._lost(decision_id)
        log.info("%s denied by %s", won.label, clicker)
        await self._refresh_copies(won)
        await self.say.notify(won.requester_slack_id, DecisionResult(won))
        await self._refresh_homes(won)
        return Decided(won)

    async def cancel(self, decision_id: int, clicker: str, now: datetime) -> Decided | Refusal:
        decision = await self._load(decision_id)
        if clicker != decision.requester_slack_id:
            return Refusal(Reason.ONLY_REQUESTER_CANCELS)
        if decision.state is not DecisionState.PENDING:
            return Refusal(Reason.ALREADY_DECIDED, decision=decision)
        won = await db(self.decisions.move, decision, DecisionState.CANCELLED, now=now, by=clicker)
        if won is None:
            return await self._lost(decision_id)
        await self._refresh_copies(won)
        await self._refresh_homes(won)
        return Decided(won)

    async def can_decide(self, decision_id: int, clicker: str) -> Refusal | None:
        """None when ``clicker`` may decide; otherwise why not."""
        decision = await self._decidable(decision_id, clicker)
        return decision if isinstance(decision, Refusal) else None

    async def _decidable(self, decision_id: int, clicker: str) -> Decision | Refusal:
        """The decision, when it waits for a decision and ``clicker`` is one of its deciders."""
        decision = await self._load(decision_id)
        if clicker not in await self._deciders(decision):
            return Refusal(Reason.NOT_A_DECIDER, decision=decision)
        if decision.state is not DecisionState.PENDING:
            return Refusal(Reason.ALREADY_DECIDED, decision=decision)
        return decision

    # -- background ----------------------------------------------------------------------------

    async def expire_overdue(self, now: datetime) -> int:
        expired = 0
        for decision in await db(self.decisions.pending):
            if not is_overdue(decision, now):
                continue
            won = await db(
                self.decisions.move, decision, DecisionState.EXPIRED, now=now, unless_overdue=False
            )
            if won is None:
                continue
            expired += 1
            log.info("%s expired without a decision", won.label)
            await self._refresh_copies(won)
            await self.say.notify(won.requester_slack_id, DecisionResult(won))
            await self._refresh_homes(won)
        return expired

    # -- helpers -------------------------------------------------------------------------------

    async def _load(self, decision_id: int) -> Decision:
        decision = await db(self.decisions.get, decision_id)
        if decision is None:
            raise Refused(Refusal(Reason.DECISION_GONE), f"no decision {decision_id}")
        return decision

    async def _deciders(self, decision: Decision) -> frozenset[str]:
        if decision.kind.needs_approvers:
            return decision.who_decides(await self._approvers())
        # A request is decided by whoever is linked to the server's owner now.
        owner = decision.owner_slack_id
        linked = await db(self.links.hub_users, [owner])
        if linked.get(owner) != decision.owner_hub:
            return frozenset()
        return decision.who_decides(frozenset())

    async def _lost(self, decision_id: int) -> Refusal:
        return Refusal(Reason.ALREADY_DECIDED, decision=await self._load(decision_id))

    async def _carry_out(self, decision: Decision, now: datetime) -> SharebotError | None:
        """Run the approved share as the owner; a failure is recorded, told, and returned."""
        hub_group = hub_group_in(decision.recipients)
        cmd = commands.Share(
            () if hub_group else decision.recipients,
            decision.approved_duration or decision.duration,
            decision.server,
            decision.reason,
            MANAGE in decision.extras,
            decision.path,
            hub_group=hub_group,
        )
        result: object
        try:
            if decision.kind is DecisionKind.EXTENSION:
                result = await self._extend_approved(decision, now)
            elif decision.kind is DecisionKind.MORE_TIME:
                result = await self._more_time_approved(decision, now)
            elif decision.kind is DecisionKind.REQUEST:
                # the owner agreed; the workspace policy may still want an approver
                result = await self.share_or_hold(
                    decision.owner_slack_id, cmd, now, decision_id=decision.id
                )
            else:
                result = await self._share_now(
                    decision.owner_slack_id, cmd, now, decision_id=decision.id
                )
        except SharebotError as err:
            log.warning("%s: approved but sharing failed: %s", decision.label, err)
            failed = await db(
                self.decisions.move,
                decision,
                DecisionState.FAILED,
                now=now,
                note=err.user_message,
                unless_overdue=False,
            )
            if failed is not None:
                await self._refresh_copies(failed)
                decision = failed
            for person in _told_by_dm(decision):
                await self.say.notify(person, DecisionResult(decision))
            return seen_by(decision.decided_by or "", decision.owner_slack_id, err)
        for person in _told_by_dm(decision):
            await self.say.notify(person, DecisionResult(decision, result))
        return None

    async def _extend_approved(self, decision: Decision, now: datetime) -> Extended:
        """Carry out an approved extension; refused when the share is gone."""
        grant: Grant | None = None
        if decision.grant_id is not None:
            grant = await db(self.grants.get, decision.grant_id)
        extended = None
        if grant is not None and grant.state is GrantState.ACTIVE:
            extended = await self.sharing.extend(
                grant,
                decision.approved_duration or decision.duration,
                decision.decided_by or decision.requester_slack_id,
                now,
                decision_id=decision.id,
            )
        if extended is None:
            raise Refused(
                Refusal(Reason.EXTENSION_GONE), f"{decision.label}: the grant is no longer active"
            )
        return Extended(extended)

    async def _more_time_approved(
        self, decision: Decision, now: datetime
    ) -> Extended | ExtensionHeld:
        """The owner agreed to give the recipient more time: extend (or hold for an
        approver, as the owner's own Extend would); refused when the share is gone."""
        grant: Grant | None = None
        if decision.grant_id is not None:
            grant = await db(self.grants.get, decision.grant_id)
        if grant is None or grant.state is not GrantState.ACTIVE or grant.expires_at is None:
            raise Refused(
                Refusal(Reason.EXTENSION_GONE), f"{decision.label}: the grant is no longer active"
            )
        extra = decision.approved_duration or decision.duration
        owner = decision.decided_by or decision.owner_slack_id
        result = await self._extend_or_hold(grant, extra, owner, now)
        if isinstance(result, Refusal):
            raise Refused(result, f"{decision.label}: not extended ({result.reason})")
        return result

    async def _refresh_homes(self, decision: Decision) -> None:
        """The Home tabs of everyone the decision concerns: requester, owner, deciders."""
        try:
            deciders = await self._deciders(decision)
        except SharebotError as err:
            log.warning("%s: deciders unknown for the Home tab: %s", decision.label, err)
            deciders = frozenset()
        await self.home.refresh(
            decision.requester_slack_id, decision.owner_slack_id, *sorted(deciders)
        )

    async def _refresh_copies(self, decision: Decision) -> None:
        """Replace the buttons of every posted copy with the outcome."""
        for copy in await db(self.decisions.copies, decision.id):
            try:
                await self.say.update(
                    Posted(copy.channel, copy.ts), DecisionClosed(decision, copy.audience)
                )
            except SlackDeliveryError as err:
                log.warning("%s: could not update a copy: %s", decision.label, err)


def _told_by_dm(decision: Decision) -> list[str]:
    """Who hears of a decision's result by DM: the requester and the owner, but not the
    person who decided (their click is answered directly)."""
    people = dict.fromkeys((decision.requester_slack_id, decision.owner_slack_id))
    return [p for p in people if p != decision.decided_by]


def seen_by(viewer: str, owner: str, err: SharebotError) -> SharebotError:
    """``err`` as ``viewer`` may see it. An unknown server's refusal names the owner's
    servers (:data:`Reason.UNKNOWN_SERVER`): for the owner only. Anyone else, someone
    requesting access or an approver, hears only that the owner has no such server."""
    if viewer == owner or not isinstance(err, Refused):
        return err
    if err.refusal.reason is not Reason.UNKNOWN_SERVER:
        return err
    refusal = Refusal(Reason.OWNER_HAS_NO_SERVER, server=err.refusal.server, people=(owner,))
    return Refused(refusal, f"{owner}'s server {err.refusal.server!r} not found")
