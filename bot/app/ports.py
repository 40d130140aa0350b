"""The ports the use cases speak through; ``bot.slack`` implements them and
``bot.runtime`` injects them.

:class:`Say` carries :mod:`bot.app.messages` to people: the implementation picks the
words and the blocks. A failure to deliver is a :class:`~bot.errors.SlackDeliveryError`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from bot.app.messages import HomeTab, Message, Posted, Rendered


class Say(Protocol):
    async def dm(self, slack_id: str, message: Message) -> Posted:
        """A direct message; raises SlackDeliveryError."""
        ...

    async def post(self, channel: str, message: Message) -> Posted:
        """A message in a channel; raises SlackDeliveryError."""
        ...

    async def update(self, posted: Posted, message: Message) -> None:
        """Replace a posted message; raises SlackDeliveryError."""
        ...

    async def notify(self, slack_id: str, message: Message) -> bool:
        """A direct message that is kept for another try when Slack does not take it
        (never raises); False when it was kept."""
        ...

    def render(self, message: Message) -> Rendered:
        """The message in words and blocks (for the outbox, written with its change)."""
        ...

    async def send(self, slack_id: str, rendered: Rendered) -> None:
        """Deliver a message rendered earlier (the outbox); raises SlackDeliveryError."""
        ...

    async def publish_home(self, slack_id: str, tab: HomeTab) -> None:
        """Replace the person's App Home tab; raises SlackDeliveryError."""
        ...

    async def members(self, entries: Sequence[str]) -> frozenset[str]:
        """The people named by user ids, user group ids and @handles."""
        ...

    async def user_info(self, slack_id: str) -> dict[str, Any] | None:
        """The person's profile as Slack gives it, or None."""
        ...

    async def team_id(self) -> str | None:
        """The workspace this app is installed in."""
        ...


#: Told how many of a share's invitations are done (sent or failed) out of how many, after
#: each one (the reply to a share with many people shows it while the DMs go out).
Progress = Callable[[int, int], Awaitable[None]]


class HomeRefresher(Protocol):
    """Republishes the App Home tab of the people a change concerns (bot.app.home)."""

    async def refresh(self, *slack_ids: str) -> None: ...


class NoHome:
    """A :class:`HomeRefresher` that publishes nothing (tests, the CLI)."""

    async def refresh(self, *slack_ids: str) -> None:
        return None
