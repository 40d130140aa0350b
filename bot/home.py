"""The App Home tab: gather what concerns one person and publish it (``views.publish``).

:meth:`HomeService.refresh` is the one seam the use cases call after a change that concerns
someone (share, accept, lapse, expiry, revoke, leave, extend, request, decision). It never
raises: a Home tab that could not be refreshed is logged and refreshed on the next change
or when the person opens it again.
"""

from __future__ import annotations

import asyncio
import logging

from bot.domain.grants import OPEN_STATES
from bot.errors import SlackDeliveryError
from bot.slack.home import HomeData, home_view
from bot.slack.messenger import SlackMessenger
from bot.store.decisions import Decisions
from bot.store.repository import Repository

log = logging.getLogger(__name__)


class HomeService:
    def __init__(
        self,
        *,
        repo: Repository,
        decisions: Decisions,
        messenger: SlackMessenger,
        approvers: tuple[str, ...] = (),
    ) -> None:
        self.repo = repo
        self.decisions = decisions
        self.messenger = messenger
        self.approvers = approvers

    async def data_for(self, slack_id: str) -> HomeData:
        link = await asyncio.to_thread(self.repo.link_of, slack_id)
        shared_by = await asyncio.to_thread(
            self.repo.grants, states=OPEN_STATES, owner_slack_id=slack_id
        )
        shared_with = await asyncio.to_thread(
            self.repo.grants, states=OPEN_STATES, recipient_slack_id=slack_id
        )
        pending = await asyncio.to_thread(self.decisions.pending)
        approvers = await self._approvers() if pending else frozenset()
        return HomeData(
            hub_user=link.hub_user if link else None,
            shared_by=shared_by,
            shared_with=shared_with,
            to_decide=[d for d in pending if slack_id in d.who_decides(approvers)],
            mine_pending=[d for d in pending if d.requester_slack_id == slack_id],
        )

    async def publish(self, slack_id: str) -> None:
        """Render and publish ``slack_id``'s Home tab. Raises SlackDeliveryError."""
        await self.messenger.publish_home(slack_id, home_view(await self.data_for(slack_id)))

    async def refresh(self, *slack_ids: str) -> None:
        """Publish the Home tab of each person once; failures are logged, never raised."""
        for slack_id in dict.fromkeys(s for s in slack_ids if s):
            try:
                await self.publish(slack_id)
            except SlackDeliveryError as err:
                log.warning("Home tab of %s not refreshed: %s", slack_id, err)
            except Exception:
                log.exception("Home tab of %s not refreshed", slack_id)

    async def _approvers(self) -> frozenset[str]:
        try:
            return await self.messenger.members(self.approvers)
        except SlackDeliveryError as err:
            log.warning("approver groups unknown for the Home tab: %s", err)
            return frozenset(a for a in self.approvers if a[:1] in ("U", "W"))
