"""Slack user groups in a share: each member shared with like a named person.

``/share-server @course-tas 2h`` names a user group (``<!subteam^S…|@course-tas>``); its
members are read from Slack (``usergroups.users.list``) and added to the people named, so
that each gets one grant, one code and one DM through the one share path
(:meth:`bot.app.sharing.Sharing.share`). The owner (by Slack id or by hub user) and the
members not linked to a hub account are left out and named in the reply; a share that
would reach more than ``SHAREBOT_MAX_RECIPIENTS`` people is refused before anything is
done.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from bot.app.identity import IdentityResolver
from bot.app.outcomes import LeftOut, Reason, Refusal, Refused
from bot.app.ports import Say
from bot.domain import commands

log = logging.getLogger(__name__)

#: SHAREBOT_MAX_RECIPIENTS' default.
DEFAULT_MAX_RECIPIENTS = 200


def over_cap(count: int, cap: int) -> bool:
    """Whether a share reaching ``count`` people goes over ``cap`` (0: no cap)."""
    return cap > 0 and count > cap


def refuse_over_cap(count: int, cap: int) -> None:
    if over_cap(count, cap):
        raise Refused(
            Refusal(Reason.TOO_MANY_RECIPIENTS, count=count, cap=cap),
            f"a share with {count} people, more than {cap}",
        )


class Groups:
    def __init__(
        self,
        *,
        say: Say,
        identities: IdentityResolver,
        max_recipients: int = DEFAULT_MAX_RECIPIENTS,
    ) -> None:
        self.say = say
        self.identities = identities
        self.max_recipients = max_recipients  # SHAREBOT_MAX_RECIPIENTS

    async def expand(
        self, caller: str, cmd: commands.Share, now: datetime
    ) -> tuple[commands.Share, LeftOut]:
        """``cmd`` with its user groups' members among the recipients (the people named
        first, each once), and who was left out. Refuses a share over the cap, and one whose
        groups leave nobody to share with."""
        refuse_over_cap(len(cmd.recipients), self.max_recipients)
        if not cmd.groups:
            return cmd, LeftOut()
        members = await self.say.members(cmd.groups)
        named = set(cmd.recipients)
        extra = sorted(m for m in members if m not in named and m != caller)
        owner = caller in members and caller not in named
        # the cap before resolving anyone: a huge group costs one Slack call, no lookups
        refuse_over_cap(len(cmd.recipients) + len(extra), self.max_recipients)
        resolution = await self.identities.resolve([caller, *extra], now)
        links = resolution.hub_users
        owner_hub = links.get(caller)
        if owner_hub is None:
            raise Refused(
                Refusal(
                    Reason.NOT_LINKED_CALLER, people=(caller,), why=resolution.why_not.get(caller)
                )
            )
        same_hub_user = [m for m in extra if links.get(m) == owner_hub]
        unlinked = tuple(m for m in extra if m not in links)
        left_out = LeftOut(
            owner=owner or bool(same_hub_user),
            unlinked=unlinked,
            why_not={m: resolution.why_not[m] for m in unlinked if m in resolution.why_not},
        )
        added = tuple(m for m in extra if m in links and links[m] != owner_hub)
        if not cmd.recipients and not added:
            raise Refused(
                Refusal(Reason.NOBODY_TO_SHARE_WITH, people=unlinked, why_not=left_out.why_not),
                f"groups {', '.join(cmd.groups)}: nobody to share with",
            )
        log.info(
            "groups %s of %s: %d members shared with, %d not linked",
            ",".join(cmd.groups),
            caller,
            len(added),
            len(unlinked),
        )
        expanded = dataclasses.replace(cmd, recipients=(*cmd.recipients, *added), groups=())
        return expanded, left_out
