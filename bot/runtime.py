"""Wiring: build every long-lived object once from Settings, and close them together."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from bot.config import Settings
from bot.hub.client import HubClient
from bot.service import ShareService
from bot.slack.messenger import SlackMessenger, make_web_client
from bot.store.db import make_engine
from bot.store.repository import Repository


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    repo: Repository
    hub: HubClient
    messenger: SlackMessenger
    service: ShareService

    async def aclose(self) -> None:
        await self.hub.aclose()
        self.engine.dispose()


def build(settings: Settings, engine: Engine | None = None) -> Runtime:
    engine = engine or make_engine(settings.database_url)
    repo = Repository(engine)
    hub = HubClient(settings.hub_api_base, settings.jupyterhub_api_token.get_secret_value())
    messenger = SlackMessenger(
        make_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_base)
    )
    service = ShareService(
        hub=hub,
        repo=repo,
        messenger=messenger,
        public_url=settings.hub_public_origin,
        invite_ttl=settings.invite_ttl,
    )
    return Runtime(settings, engine, repo, hub, messenger, service)
