"""Who is who: Slack users to hub users, from stored links or (optionally) Slack emails."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from bot.app.ports import Say
from bot.domain.linking import hub_user_from_slack_profile
from bot.errors import HubError
from bot.hub.client import HubClient
from bot.store.links import Links

log = logging.getLogger(__name__)


@dataclass
class Resolution:
    hub_users: dict[str, str] = field(default_factory=dict)
    why_not: dict[str, str] = field(default_factory=dict)  # slack id -> reason, when known


class IdentityResolver:
    """Stored links first; with SHAREBOT_EMAIL_MAPPING, map unlinked people by Slack email."""

    def __init__(
        self,
        *,
        links: Links,
        hub: HubClient,
        say: Say,
        email_mapping: str = "off",
        email_domains: tuple[str, ...] = (),
    ) -> None:
        self.links = links
        self.hub = hub
        self.say = say
        self.email_mapping = email_mapping
        self.email_domains = email_domains

    async def resolve(self, slack_ids: list[str], now: datetime) -> Resolution:
        found = await asyncio.to_thread(self.links.hub_users, slack_ids)
        result = Resolution(hub_users=dict(found))
        if self.email_mapping == "off":
            return result
        for slack_id in slack_ids:
            if slack_id in found:
                continue
            hub_user, reason = await self._by_email(slack_id, now)
            if hub_user:
                result.hub_users[slack_id] = hub_user
            else:
                result.why_not[slack_id] = reason
        return result

    async def _by_email(self, slack_id: str, now: datetime) -> tuple[str | None, str]:
        user = await self.say.user_info(slack_id)
        if user is None:
            return None, "Slack would not tell me who this is"
        match = hub_user_from_slack_profile(
            user,
            mode=self.email_mapping,
            domains=self.email_domains,
            team_id=await self.say.team_id(),
        )
        if match.hub_user is None:
            return None, match.reason
        try:
            exists = await self.hub.user_exists(match.hub_user)
        except HubError as err:
            log.warning("email mapping of %s: cannot ask the hub: %s", slack_id, err)
            return None, "JupyterHub could not be asked"
        if not exists:
            return None, f"JupyterHub has no user `{match.hub_user}`"
        holder = await asyncio.to_thread(self.links.slack_user_for, match.hub_user)
        if holder is not None and holder != slack_id:
            return None, f"hub user `{match.hub_user}` is linked to someone else"
        await asyncio.to_thread(
            self.links.link, slack_id, match.hub_user, method="email", by="email-mapping", now=now
        )
        log.info("linked Slack user %s to hub user %s by email", slack_id, match.hub_user)
        return match.hub_user, ""
