"""The life of an invitation's share code: its use judged (acceptance or misuse, by scope
growth: bot.domain.access.judge), its withdrawal confirmed by the hub, its lapse, and the
watch on a code the hub has not confirmed gone.

Every judgment is written in one transaction with the flags it raises, before the code is
deleted: a process that dies in between forgets nothing. The code is then deleted (a
failure leaves it watched), certain intruders lose what it gave them, and an accepted
invitation that was being withdrawn ends at once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from bot.app.endings import Endings, db
from bot.app.flags import FlagService
from bot.app.messages import Accepted, Declined, Lapsed, LinkSpent, Withdrawn
from bot.domain.access import (
    NO_SCOPES,
    FlagKind,
    NewFlag,
    Scopes,
    ShareMap,
    Verdict,
    judge,
    union,
    visibly_gained,
)
from bot.domain.grants import (
    UNACCEPTED_STATES,
    EndReason,
    Grant,
    GrantState,
    deadline_after_acceptance,
    invitation_lapsed,
    remind_at,
)
from bot.errors import HubError
from bot.hub.client import ShareCodeInfo
from bot.store.outbox import OutgoingNotice

log = logging.getLogger(__name__)


class Codes:
    def __init__(self, *, endings: Endings, flags: FlagService) -> None:
        self.endings = endings
        self.hub = endings.hub
        self.grants = endings.grants
        self.flags = flags

    # -- invitations ----------------------------------------------------------------------

    async def check(
        self, owner: str, server: str, grants: list[Grant], now: datetime
    ) -> tuple[int, int]:
        """Judge the invitations of one server (claimed by the caller): (accepted, lapsed).

        The shares are read *before* the codes: for a code with no new exchange, what was
        read is a baseline from before any exchange of it. After a code was exchanged, the
        shares are read again: every exchange the codes counted is in that second read.
        """
        accepted = lapsed = 0
        before = await self.hub.share_map(owner, server)
        codes = {c.id: c for c in await self.hub.share_codes(owner, server)}
        after: ShareMap | None = None
        unused: list[Grant] = []
        for grant in grants:
            info = codes.get(grant.code_id or "")
            if info is not None and info.exchange_count <= grant.code_exchanges:
                if invitation_lapsed(grant, now):
                    await self.lapse(grant, now)
                    lapsed += 1
                else:
                    unused.append(grant)
                continue
            if after is None:
                after = await self.hub.share_map(owner, server)
            baseline = grant.baseline if grant.baseline is not None else before
            if info is None:
                # The code is gone (expired, or deleted in the hub) without a use we saw:
                # the recipient's own use shows as growth; nobody else is judged.
                if not visibly_gained(grant.scopes, baseline, after, grant.recipient_hub):
                    await self.lapse(grant, now, code_gone=True)
                    lapsed += 1
                    continue
                verdict = Verdict(accepted=True)
            else:
                verdict = await self._judge(grant, grant.recipient_hub, baseline, after, codes)
            exchanges = info.exchange_count if info else grant.code_exchanges
            accepted_at = min(info.last_exchanged_at or now, now) if info else now
            if await self.judged(grant, verdict, exchanges, after, accepted_at, now):
                accepted += int(verdict.accepted)
        await self._refresh_baselines(
            owner, server, unused, before, codes, judged=after is not None, now=now
        )
        return accepted, lapsed

    async def _refresh_baselines(
        self,
        owner: str,
        server: str,
        unused: list[Grant],
        before: ShareMap,
        codes: dict[str, ShareCodeInfo],
        *,
        judged: bool,
        now: datetime,
    ) -> None:
        """Fresh baselines for the codes nobody used: the shares read before the codes. When
        something was judged in this check, a judgment may have removed scopes (an
        intruder's) since then, and a baseline that still counted them would hide their
        coming back: the shares are read again, then the codes, and only codes still unused
        in that second look get the second read (an exchange in between shows in its count,
        and is judged by the next pass against the old baseline)."""
        if not unused:
            return
        if judged:
            before = await self.hub.share_map(owner, server)
            codes = {c.id: c for c in await self.hub.share_codes(owner, server)}
        for grant in unused:
            info = codes.get(grant.code_id or "")
            if info is None or info.exchange_count > grant.code_exchanges:
                continue
            if grant.baseline != before:
                await db(self.grants.code_seen, grant, now=now, baseline=before)

    async def _judge(
        self,
        grant: Grant,
        recipient: str,
        baseline: ShareMap,
        current: ShareMap,
        codes: dict[str, ShareCodeInfo],
    ) -> Verdict:
        """What the exchanges of ``grant``'s code since ``baseline`` mean (bot.domain.access)."""
        owner, server = grant.owner_hub, grant.server
        return judge(
            owner_hub=owner,
            recipient=recipient,
            code_scopes=grant.scopes,
            baseline=baseline,
            current=current,
            explained=await self.explained(owner, server, grant, codes, current),
        )

    async def explained(
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
        for other in await db(
            self.grants.grants,
            states=[GrantState.ACTIVE, GrantState.ENDING, *UNACCEPTED_STATES],
            owner_hub=owner,
            server=server,
        ):
            if other.id == grant.id or other.for_group:  # a group's share is not a person's
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

    async def judged(
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
        flags = _flags(verdict)
        judged: Grant | None = None
        for _ in range(2):  # once more if a withdrawal got in between
            judged = await self._record(grant, verdict, flags, exchanges, current, accepted_at, now)
            if judged is not None:
                break
            fresh = await db(self.grants.get, grant.id)
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
        if await self.endings.withdraw_code(judged, now):
            await db(self.grants.code_seen, judged, now=now, gone=True)
        await self.flags.settle_of(judged, now)
        if judged.state is GrantState.ACTIVE:
            log.info("%s accepted; ends at %s", judged.label, judged.expires_at)
        elif judged.state is GrantState.ENDING:  # accepted before its withdrawal: ends now
            await self.endings.finish_claimed(judged, now)
        await self.endings.refresh_home(grant.owner_slack_id, grant.recipient_slack_id)
        return True

    async def _record(
        self,
        grant: Grant,
        verdict: Verdict,
        flags: list[NewFlag],
        exchanges: int,
        current: ShareMap,
        accepted_at: datetime,
        now: datetime,
    ) -> Grant | None:
        endings = self.endings
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
                accepted["earlier_scopes"] = sorted(await self.earlier_at_use(grant))
            if grant.state is GrantState.WITHDRAWING:  # accepted first: it ends now
                return await endings.change(
                    grant, GrantState.ENDING, action="accept", **accepted, **common
                )
            deadline = deadline_after_acceptance(accepted_at, grant.duration)
            return await endings.change(
                grant,
                GrantState.ACTIVE,
                action="accept",
                expires_at=deadline,
                remind_at=remind_at(accepted_at, deadline, endings.reminders),
                notices=lambda g: [endings.notice(g, "accepted", g.owner_slack_id, Accepted(g))],
                **accepted,
                **common,
            )
        misused = bool(flags)
        return await endings.change(
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
        to = grant.recipient_slack_id if misused else grant.owner_slack_id
        return [self.endings.notice(grant, "spent", to, LinkSpent(grant, misused))]

    async def earlier_at_use(self, grant: Grant) -> Scopes:
        """The recipient's earlier access when her code was used: what she held right
        before the use (the baseline) that was earlier access at the invitation or that no
        grant of ours ever gave her on that server (a share the owner made in the hub
        meanwhile). Earlier access she no longer held at the baseline (the owner removed it
        in the hub) is gone, and scopes any grant of ours gave her are never counted: one
        that ended since the baseline was taken must not pass for earlier access."""
        assert grant.baseline is not None
        owner, server, recipient = grant.owner_hub, grant.server, grant.recipient_hub
        ever = await db(self.grants.for_holder, owner, server, recipient, states=list(GrantState))
        flagged = await db(
            self.flags.flags.pending, owner_hub=owner, server=server, hub_user=recipient
        )
        held = grant.baseline.get(recipient, NO_SCOPES)
        ours = union([*(g.scopes for g in ever), *(f.scopes for f in flagged)])
        return (grant.earlier & held) | (held - ours)

    async def lapse(self, grant: Grant, now: datetime, *, code_gone: bool = False) -> None:
        endings = self.endings
        lapsed = await endings.change(
            grant,
            GrantState.LAPSED,
            now=now,
            action="lapse",
            ended_at=now,
            notices=lambda g: [endings.notice(g, "lapsed", g.owner_slack_id, Lapsed(g))],
        )
        if lapsed is None:
            return
        if code_gone or await endings.withdraw_code(lapsed, now):
            await db(self.grants.code_seen, lapsed, now=now, gone=True)
        log.info("%s lapsed: the link expired unused", grant.label)
        await endings.refresh_home(grant.owner_slack_id, grant.recipient_slack_id)

    # -- withdrawing an invitation --------------------------------------------------------

    async def settle_withdrawal_claimed(
        self, grant: Grant, now: datetime, *, wait: float = 0.0
    ) -> bool:
        """Settle a withdrawal unless another replica is at it; True when settled."""
        async with self.endings.claimed(grant, wait=wait) as mine:
            if mine is None:
                return False
            try:
                return await self.settle_withdrawal(mine, now)
            except HubError as err:
                log.warning("%s: withdrawal not confirmed, will retry: %s", grant.label, err)
                await db(
                    self.grants.record_failure, grant, str(err), now=now, action="withdraw_failed"
                )
                return False

    async def settle_withdrawal(self, grant: Grant, now: datetime) -> bool:
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
            await db(self.grants.code_seen, grant, now=now, gone=True, uses=uses)
        current = await self.hub.share_map(owner, server)
        baseline = grant.baseline if grant.baseline is not None else current
        if uses > grant.code_exchanges:
            verdict = await self._judge(grant, grant.recipient_hub, baseline, current, codes)
        elif grant.code_id is not None and await self._gained_by_it(
            grant, baseline, current, codes
        ):
            # used between the look at the codes and their deletion
            verdict = Verdict(accepted=True)
        else:
            return await self._cancel(grant, now)
        await self.judged(grant, verdict, uses, current, now, now)
        return True

    async def _gained_by_it(
        self, grant: Grant, baseline: ShareMap, current: ShareMap, codes: dict[str, ShareCodeInfo]
    ) -> bool:
        """Whether the recipient's access grew since ``baseline`` by scopes of this grant's
        code that none of her other grants explains (an invitation of hers whose code she
        used meanwhile, one accepted since): only then may this code have given them.
        When another grant explains them, cancelling this one leaves her exactly that
        grant's access (a retry after a failed read may come long after the deletion)."""
        recipient = grant.recipient_hub
        explained = await self.explained(grant.owner_hub, grant.server, grant, codes, current)
        unexplained = grant.scopes - explained.get(recipient, NO_SCOPES)
        return bool(unexplained) and visibly_gained(unexplained, baseline, current, recipient)

    async def _cancel(self, grant: Grant, now: datetime) -> bool:
        endings = self.endings
        left = grant.end_reason is EndReason.LEFT
        cancelled = await endings.change(
            grant,
            GrantState.CANCELLED,
            now=now,
            action="declined" if left else "cancel",
            ended_at=now,
            notices=lambda g: [
                endings.notice(g, "declined", g.owner_slack_id, Declined(g))
                if left
                else endings.notice(g, "withdrawn", g.recipient_slack_id, Withdrawn(g))
            ],
        )
        if cancelled is not None:
            log.info("%s: invitation withdrawn", grant.label)
            await endings.refresh_home(grant.owner_slack_id, grant.recipient_slack_id)
        return True

    # -- watched codes ----------------------------------------------------------------------

    async def watch(self, owner: str, server: str, grants: list[Grant], now: datetime) -> None:
        """Codes of accepted or closed grants the hub has not confirmed gone (a deletion
        failed) on one server: delete them again, and judge any new use of them meanwhile.
        Once a grant is no longer active, a use of its link by its own recipient gives her
        nothing either: she is judged like anyone."""
        codes = {c.id: c for c in await self.hub.share_codes(owner, server)}
        current: ShareMap | None = None
        for listed in grants:
            # Claimed, and read again: another replica may have judged and deleted the code
            # since the list was read (the deadline wake-up lines replicas' passes up).
            async with self.endings.claimed(listed) as grant:
                if grant is None or grant.code_gone or grant.code_id != listed.code_id:
                    continue
                current = await self._watch_one(grant, codes, current, owner, server, now)

    async def _watch_one(
        self,
        grant: Grant,
        codes: dict[str, ShareCodeInfo],
        current: ShareMap | None,
        owner: str,
        server: str,
        now: datetime,
    ) -> ShareMap | None:
        """One watched code (claimed): gone, or judged if used, then deleted again; the
        server's shares as read for a judgment (read once for the server)."""
        info = codes.get(grant.code_id or "")
        if info is None:
            await db(self.grants.code_seen, grant, now=now, gone=True)
            return current
        if info.exchange_count > grant.code_exchanges:
            if current is None:
                current = await self.hub.share_map(owner, server)
            recipient = grant.recipient_hub if grant.state is GrantState.ACTIVE else ""
            baseline = grant.baseline if grant.baseline is not None else current
            verdict = await self._judge(grant, recipient, baseline, current, codes)
            await db(
                self.grants.code_seen,
                grant,
                now=now,
                exchanges=info.exchange_count,
                baseline=current,
                flags=_flags(verdict),
            )
        if await self.endings.withdraw_code(grant, now):
            await db(self.grants.code_seen, grant, now=now, gone=True)
        await self.flags.settle_of(grant, now)
        return current


def _flags(verdict: Verdict) -> list[NewFlag]:
    """The flags a verdict raises: certain intruders first, then unexplained gains."""
    return [
        *(NewFlag(FlagKind.INTRUDER, u, s) for u, s in sorted(verdict.intruders.items())),
        *(NewFlag(FlagKind.UNEXPLAINED, u, s) for u, s in sorted(verdict.unexplained.items())),
    ]
