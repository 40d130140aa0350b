"""Thin Bolt listeners, one module per surface (the Bolt starter template's layout): each
acks fast, parses, calls a use case and renders its outcome (:mod:`bot.slack.replies`)."""

from __future__ import annotations

from datetime import timedelta

from slack_bolt.async_app import AsyncApp

from bot.slack.listeners import commands, decisions, digest, events, forms, grants
from bot.slack.listeners.commands import COMMAND
from bot.slack.listeners.common import Services

__all__ = ["COMMAND", "Services", "register_all"]


def register_all(
    app: AsyncApp,
    services: Services,
    *,
    max_duration: timedelta,
    allow_until_revoked: bool = False,
    form_key: bytes | None = None,
) -> None:
    events.register(app, services)  # first: its middleware acknowledges Slack's retries
    commands.register(
        app, services, max_duration=max_duration, allow_until_revoked=allow_until_revoked
    )
    decisions.register(app, services)
    grants.register(app, services)
    digest.register(app, services)
    if form_key is not None:  # the forms (shortcuts, the Home tab's buttons, modals)
        forms.register(
            app,
            services,
            max_duration=max_duration,
            allow_until_revoked=allow_until_revoked,
            key=form_key,
        )
