"""The App Home tab: gather what concerns one person and publish it (``views.publish``).

:meth:`HomeService.refresh` is the one seam the use cases call after a change that concerns
someone (share, accept, lapse, expiry, revoke, leave, extend, request, decision). It never
raises: a Home tab that could not be refreshed is logged and refreshed on the next change
or when the person opens it again.

Refreshes of one person's Home are coalesced: while one publish runs, the refreshes asked
for meanwhile wait for it and are then served by a single publish rendered after all of
them (a burst of shares by one owner costs two renders, not one per share). A caller still
returns only after a publish that started after its own call has finished.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from bot.app import admin_view
from bot.app.admin_view import Where
from bot.app.messages import HOME_LIMIT, HomeTab
from bot.app.outcomes import Reason, Refusal
from bot.app.ports import Say
from bot.domain.grants import OPEN_STATES, Grant
from bot.errors import SlackDeliveryError
from bot.store.decisions import Decisions
from bot.store.grants import Grants
from bot.store.links import Links

log = logging.getLogger(__name__)


@dataclass
class _Refreshes:
    """One person's Home: refreshes asked for, and how many the last publish covered."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    asked: int = 0
    covered: int = 0


class HomeService:
    def __init__(
        self,
        *,
        grants: Grants,
        links: Links,
        decisions: Decisions,
        say: Say,
        approvers: tuple[str, ...] = (),
        admins: frozenset[str] = frozenset(),
    ) -> None:
        self.grants = grants
        self.links = links
        self.decisions = decisions
        self.say = say
        self.approvers = approvers
        self.admins = admins  # SHAREBOT_ADMINS: their Home has "All shares"
        # The page and filter each admin last asked for, so that a refresh for another
        # reason keeps their place (a view preference, at most one per admin; another
        # replica shows the first page, and every click carries its own page and filter).
        self._admin_where: dict[str, Where] = {}
        self._refreshes: dict[str, _Refreshes] = {}

    async def data_for(self, slack_id: str) -> HomeTab:
        link = await asyncio.to_thread(self.links.link_of, slack_id)
        # What the person's current link owns and was given: a Slack user who is no longer
        # linked to a hub user sees (and may act on) none of its shares. Only the newest
        # that could ever be shown, and the totals: an owner with thousands of open shares
        # costs the same as one with a hundred.
        shared_by: list[Grant] = []
        shared_with: list[Grant] = []
        by_total = with_total = 0
        if link is not None:
            shared_by, by_total = await asyncio.to_thread(
                self.grants.newest_grants,
                states=OPEN_STATES,
                limit=HOME_LIMIT,
                owner_hub=link.hub_user,
            )
            shared_with, with_total = await asyncio.to_thread(
                self.grants.newest_grants,
                states=OPEN_STATES,
                limit=HOME_LIMIT,
                recipient_hub=link.hub_user,
            )
        all_shares = None
        if slack_id in self.admins:
            where = self._admin_where.get(slack_id, Where())
            all_shares = await admin_view.load(self.grants, where)
        pending = await asyncio.to_thread(self.decisions.pending)
        approvers = await self._approvers() if pending else frozenset()
        return HomeTab(
            hub_user=link.hub_user if link else None,
            shared_by=shared_by,
            shared_with=shared_with,
            shared_by_total=by_total,
            shared_with_total=with_total,
            to_decide=[d for d in pending if slack_id in d.who_decides(approvers)],
            mine_pending=[d for d in pending if d.requester_slack_id == slack_id],
            all_shares=all_shares,
        )

    async def show_all_shares(self, slack_id: str, where: Where) -> Refusal | None:
        """An admin's click in All shares (a page, a filter): their Home tab shows it.

        Anyone else (a forged or copied button) is refused and shown nothing more."""
        if slack_id not in self.admins:
            log.info("All shares asked for by %s, who is not an admin: refused", slack_id)
            return Refusal(Reason.ONLY_ADMINS)
        self._admin_where[slack_id] = where
        await self.refresh(slack_id)
        return None

    async def publish(self, slack_id: str) -> None:
        """Render and publish ``slack_id``'s Home tab. Raises SlackDeliveryError."""
        await self.say.publish_home(slack_id, await self.data_for(slack_id))

    async def refresh(self, *slack_ids: str) -> None:
        """Publish the Home tab of each person once; failures are logged, never raised."""
        for slack_id in dict.fromkeys(s for s in slack_ids if s):
            await self._refresh(slack_id)

    async def _refresh(self, slack_id: str) -> None:
        state = self._refreshes.setdefault(slack_id, _Refreshes())
        state.asked += 1
        mine = state.asked
        async with state.lock:
            if state.covered >= mine:
                return  # a publish rendered after this call has finished meanwhile
            covers = state.asked
            try:
                await self.publish(slack_id)
            except SlackDeliveryError as err:
                log.warning("Home tab of %s not refreshed: %s", slack_id, err)
            except Exception:
                log.exception("Home tab of %s not refreshed", slack_id)
            state.covered = covers
            if state.asked == covers:
                del self._refreshes[slack_id]  # nobody waiting: forget this person

    async def _approvers(self) -> frozenset[str]:
        try:
            return await self.say.members(self.approvers)
        except SlackDeliveryError as err:
            log.warning("approver groups unknown for the Home tab: %s", err)
            return frozenset(a for a in self.approvers if a[:1] in ("U", "W"))
