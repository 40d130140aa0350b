"""Use cases of requests and approvals: open, approve, deny, cancel, expire.

Each decision is a guarded state change in the database (one click wins); after it, every
posted copy of the message is updated and the people concerned are told.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.app.sharing import HomeRefresher, ShareService
from bot.domain import commands
from bot.domain.access import MANAGE
from bot.domain.decisions import (
    Decision,
    DecisionKind,
    DecisionState,
    Policy,
    is_overdue,
)
from bot.domain.grants import Grant, GrantState, length_after_extension
from bot.errors import SharebotError, ShareRefused, SlackDeliveryError
from bot.slack import blocks, texts
from bot.slack.messenger import SlackMessenger
from bot.store.decisions import Decisions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApprovalConfig:
    policy: Policy
    approvers: tuple[str, ...] = ()  # user ids, group ids, @handles
    channel: str | None = None  # post approvals here instead of DMing approvers
    ttl: timedelta = timedelta(hours=24)
    max_duration: timedelta | None = None  # SHAREBOT_MAX_DURATION: no share lasts longer


class DecisionService:
    def __init__(
        self,
        *,
        shares: ShareService,
        decisions: Decisions,
        messenger: SlackMessenger,
        config: ApprovalConfig,
        home: HomeRefresher | None = None,
    ) -> None:
        self.shares = shares
        self.decisions = decisions
        self.messenger = messenger
        self.config = config
        self.home: HomeRefresher = home or shares.home

    # -- entry points from slash commands ------------------------------------------------

    async def share_or_hold(
        self, caller: str, cmd: commands.Share, now: datetime, *, decision_id: int | None = None
    ) -> str:
        """Share now, or hold the share for an approver when policy says so.

        ``decision_id`` names the owner's approved request this share carries out.
        """
        extras = (MANAGE,) if cmd.manage else ()
        reasons = self.config.policy.reasons(cmd.duration, extras)
        if not reasons:
            outcome = await self.shares.share(caller, cmd, now, decision_id=decision_id)
            return outcome.message()
        if not self.config.approvers:
            raise ShareRefused("approval needed, no approvers", user_message=texts.no_approvers())
        owner_hub, _ = await self.shares.check(caller, cmd, now)
        decision = await asyncio.to_thread(
            self.decisions.add,
            kind=DecisionKind.APPROVAL,
            requester_slack_id=caller,
            owner_slack_id=caller,
            owner_hub=owner_hub,
            server=cmd.server,
            recipients=cmd.recipients,
            duration=cmd.duration,
            extras=extras,
            reason=cmd.note,
            now=now,
            ttl=self.config.ttl,
        )
        posted_to = await self._post_for_deciders(decision)
        await self._refresh_homes(decision)
        return texts.held_for_approval(decision, reasons, posted_to)

    async def request(self, caller: str, cmd: commands.Request, now: datetime) -> str:
        """Someone asks an owner for access to the owner's server."""
        as_share = commands.Share((caller,), cmd.duration, cmd.server, cmd.reason, cmd.manage)
        if caller == cmd.owner:
            raise ShareRefused("self-request", user_message="You can't request your own server.")
        owner_hub, _ = await self.shares.check(cmd.owner, as_share, now)
        decision = await asyncio.to_thread(
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
        )
        posted_to = await self._post_for_deciders(decision)
        await self._refresh_homes(decision)
        return texts.request_sent(decision, posted_to)

    async def extend(
        self, grant_id: int, offered_deadline: int | None, clicker: str, now: datetime
    ) -> str:
        """The owner's Extend: by the grant's own duration, at once or through approval.

        ``offered_deadline`` (epoch seconds) is the deadline the button was shown for; once
        the deadline moved, the button extends nothing (double clicks).
        """
        grant = await asyncio.to_thread(self.shares.repo.get, grant_id)
        if grant is None or not await self.shares.may_act_as_owner(clicker, grant):
            return texts.only_owner_extends()
        if grant.state is not GrantState.ACTIVE or grant.expires_at is None:
            return texts.cannot_extend(grant)
        if offered_deadline is not None and int(grant.expires_at.timestamp()) != offered_deadline:
            return texts.already_extended(grant)
        if grant.expires_at <= now:  # due: the sweep is ending it
            return texts.cannot_extend(grant)
        extra = grant.duration
        total = length_after_extension(grant, extra)
        if self.config.max_duration is not None and total > self.config.max_duration:
            return texts.extension_over_limit(grant, total, self.config.max_duration)
        reasons = self.config.policy.reasons(total, grant.extras)
        if not reasons:
            extended = await self.shares.extend(grant, extra, clicker, now)
            if extended is None:
                return await self._not_extended(grant.id)
            return texts.extended_owner(extended)
        if not self.config.approvers:
            return texts.no_approvers()
        decision = await asyncio.to_thread(
            self.decisions.add_extension,
            grant_id=grant.id,
            requester_slack_id=clicker,
            owner_slack_id=clicker,
            owner_hub=grant.owner_hub,
            server=grant.server,
            recipients=(grant.recipient_slack_id,),
            duration=extra,
            extras=grant.extras,
            reason=texts.extension_reason(grant, length_after_extension(grant, extra)),
            now=now,
            ttl=self.config.ttl,
        )
        if decision is None:
            return texts.extension_pending()
        posted_to = await self._post_for_deciders(decision)
        await self._refresh_homes(decision)
        return texts.extension_held(decision, reasons, posted_to)

    async def _not_extended(self, grant_id: int) -> str:
        fresh = await asyncio.to_thread(self.shares.repo.get, grant_id)
        if fresh is not None and fresh.state is GrantState.ACTIVE:
            return texts.already_extended(fresh)
        return texts.extension_failed_gone() if fresh is None else texts.cannot_extend(fresh)

    async def _post_for_deciders(self, decision: Decision) -> str:
        """Post the decider copies (and the requester's copy); returns who was asked."""
        text = texts.decision_summary(decision)
        decider_blocks = blocks.decision_for_decider(decision)
        try:
            if decision.kind is DecisionKind.REQUEST:
                targets = [("dm", decision.owner_slack_id)]
                posted_to = texts.user(decision.owner_slack_id)
            else:
                approvers = await self._approvers()
                deciders = decision.who_decides(approvers)
                if not deciders:
                    raise ShareRefused(
                        "no one may approve",
                        user_message=texts.no_other_decider()
                        if approvers
                        else texts.no_approvers(),
                    )
                if self.config.channel:
                    targets = [("channel", self.config.channel)]
                    posted_to = f"the approvers in <#{self.config.channel}>"
                else:
                    targets = [("dm", d) for d in sorted(deciders)]
                    posted_to = ", ".join(texts.user(d) for d in sorted(deciders))
            for kind, target in targets:
                if kind == "dm":
                    channel, ts = await self.messenger.dm_copy(target, text, decider_blocks)
                else:
                    channel, ts = await self.messenger.post(target, text, decider_blocks)
                await asyncio.to_thread(
                    self.decisions.add_copy, decision.id, channel, ts, "decider"
                )
        except SharebotError:
            await asyncio.to_thread(
                self.decisions.move,
                decision,
                DecisionState.CANCELLED,
                now=decision.created_at,
                note="could not be delivered",
                unless_overdue=False,
            )
            raise
        try:
            channel, ts = await self.messenger.dm_copy(
                decision.requester_slack_id,
                texts.decision_requester_copy(decision),
                blocks.decision_for_requester(decision),
            )
            await asyncio.to_thread(self.decisions.add_copy, decision.id, channel, ts, "requester")
        except SlackDeliveryError as err:
            log.warning("%s: requester copy not delivered: %s", decision.label, err)
        return posted_to

    async def _approvers(self) -> frozenset[str]:
        return await self.messenger.members(self.config.approvers)

    # -- clicks ---------------------------------------------------------------------------

    async def approve(
        self, decision_id: int, clicker: str, now: datetime, duration: timedelta | None = None
    ) -> str:
        """Returns the ephemeral answer for the clicker."""
        decision = await self._load(decision_id)
        if clicker not in await self._deciders(decision):
            return texts.not_a_decider(decision)
        if decision.state is not DecisionState.PENDING:
            return texts.already_decided(decision)
        if duration is not None and not timedelta(0) < duration <= decision.duration:
            return "Pick a duration shorter than the one asked for."
        won = await asyncio.to_thread(
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
        detail = await self._carry_out(won, now)
        await self._refresh_homes(won)
        return texts.decided_for_clicker(won) + (f" {detail}" if detail else "")

    async def deny(self, decision_id: int, clicker: str, note: str, now: datetime) -> str:
        decision = await self._load(decision_id)
        if clicker not in await self._deciders(decision):
            return texts.not_a_decider(decision)
        if decision.state is not DecisionState.PENDING:
            return texts.already_decided(decision)
        won = await asyncio.to_thread(
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
        await self.messenger.notify(won.requester_slack_id, texts.decision_result_dm(won))
        await self._refresh_homes(won)
        return texts.decided_for_clicker(won)

    async def cancel(self, decision_id: int, clicker: str, now: datetime) -> str:
        decision = await self._load(decision_id)
        if clicker != decision.requester_slack_id:
            return texts.only_requester_cancels()
        if decision.state is not DecisionState.PENDING:
            return texts.already_decided(decision)
        won = await asyncio.to_thread(
            self.decisions.move, decision, DecisionState.CANCELLED, now=now, by=clicker
        )
        if won is None:
            return await self._lost(decision_id)
        await self._refresh_copies(won)
        await self._refresh_homes(won)
        return texts.decided_for_clicker(won)

    async def can_decide(self, decision_id: int, clicker: str) -> str | None:
        """None when ``clicker`` may decide; otherwise the answer to show them."""
        decision = await self._load(decision_id)
        if clicker not in await self._deciders(decision):
            return texts.not_a_decider(decision)
        if decision.state is not DecisionState.PENDING:
            return texts.already_decided(decision)
        return None

    # -- background -----------------------------------------------------------------------

    async def expire_overdue(self, now: datetime) -> int:
        expired = 0
        for decision in await asyncio.to_thread(self.decisions.pending):
            if not is_overdue(decision, now):
                continue
            won = await asyncio.to_thread(
                self.decisions.move, decision, DecisionState.EXPIRED, now=now, unless_overdue=False
            )
            if won is None:
                continue
            expired += 1
            log.info("%s expired without a decision", won.label)
            await self._refresh_copies(won)
            await self.messenger.notify(won.requester_slack_id, texts.decision_result_dm(won))
            await self._refresh_homes(won)
        return expired

    # -- helpers --------------------------------------------------------------------------

    async def _load(self, decision_id: int) -> Decision:
        decision = await asyncio.to_thread(self.decisions.get, decision_id)
        if decision is None:
            raise ShareRefused(f"no decision {decision_id}", user_message="That request is gone.")
        return decision

    async def _deciders(self, decision: Decision) -> frozenset[str]:
        if decision.kind.needs_approvers:
            return decision.who_decides(await self._approvers())
        # A request is decided by whoever is linked to the server's owner now.
        owner = decision.owner_slack_id
        linked = await asyncio.to_thread(self.shares.repo.hub_users, [owner])
        if linked.get(owner) != decision.owner_hub:
            return frozenset()
        return decision.who_decides(frozenset())

    async def _lost(self, decision_id: int) -> str:
        return texts.already_decided(await self._load(decision_id))

    async def _carry_out(self, decision: Decision, now: datetime) -> str:
        """Run the approved share as the owner; a failure is recorded and told."""
        cmd = commands.Share(
            decision.recipients,
            decision.approved_duration or decision.duration,
            decision.server,
            decision.reason,
            MANAGE in decision.extras,
        )
        try:
            if decision.kind is DecisionKind.EXTENSION:
                result = await self._extend_approved(decision, now)
            elif decision.kind is DecisionKind.REQUEST:
                # the owner agreed; the workspace policy may still want an approver
                result = await self.share_or_hold(
                    decision.owner_slack_id, cmd, now, decision_id=decision.id
                )
            else:
                outcome = await self.shares.share(
                    decision.owner_slack_id, cmd, now, decision_id=decision.id
                )
                result = outcome.message()
        except SharebotError as err:
            log.warning("%s: approved but sharing failed: %s", decision.label, err)
            failed = await asyncio.to_thread(
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
                await self.messenger.notify(person, texts.decision_result_dm(decision))
            return err.user_message
        for person in _told_by_dm(decision):
            await self.messenger.notify(person, texts.decision_result_dm(decision, result))
        return ""

    async def _extend_approved(self, decision: Decision, now: datetime) -> str:
        """Carry out an approved extension; raises ShareRefused when the share is gone."""
        grant: Grant | None = None
        if decision.grant_id is not None:
            grant = await asyncio.to_thread(self.shares.repo.get, decision.grant_id)
        extended = None
        if grant is not None and grant.state is GrantState.ACTIVE:
            extended = await self.shares.extend(
                grant,
                decision.approved_duration or decision.duration,
                decision.decided_by or decision.requester_slack_id,
                now,
                decision_id=decision.id,
            )
        if extended is None:
            raise ShareRefused(
                f"{decision.label}: the grant is no longer active",
                user_message=texts.extension_failed_gone(),
            )
        return texts.extended_owner(extended)

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
        for copy in await asyncio.to_thread(self.decisions.copies, decision.id):
            try:
                await self.messenger.update(
                    copy.channel,
                    copy.ts,
                    texts.decision_outcome(decision),
                    blocks.decision_closed(decision, copy.audience),
                )
            except SlackDeliveryError as err:
                log.warning("%s: could not update a copy: %s", decision.label, err)


def _told_by_dm(decision: Decision) -> list[str]:
    """Who hears of a decision's result by DM: the requester and the owner, but not the
    person who decided (their click is answered directly)."""
    people = dict.fromkeys((decision.requester_slack_id, decision.owner_slack_id))
    return [p for p in people if p != decision.decided_by]
