"""sharebot's services for tests that drive the use cases directly: the product's own
wiring (:func:`bot.runtime.build`), on a test database, a hub of the test's choosing (a
scripted one over ``httpx.MockTransport``, the model hub, or a real one) and the Slack
stand-in over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Engine

from bot.clock import utcnow
from bot.config import Settings
from bot.hub.client import HubClient
from bot.runtime import Runtime, build
from bot.sandbox.slack_client import BOT_TOKEN, SIGNING_SECRET

HUB_API = "http://hub.test/hub/api"


def settings(slack_api_url: str, **overrides: Any) -> Settings:
    """Settings as a test sets them (field names, not environment variables)."""
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack_api_url,
        "jupyterhub_api_url": HUB_API,
        "jupyterhub_api_token": "test-hub-token",
        "jupyterhub_public_url": "https://hub.example.org",
        "digest_time": "off",
    }
    values.update(overrides)
    return Settings(**values)


def services(
    engine: Engine,
    slack_api_url: str,
    *,
    transport: httpx.AsyncBaseTransport,
    api_url: str = HUB_API,
    hub_token: str = "test-hub-token",
    clock: Callable[[], datetime] = utcnow,
    **overrides: Any,
) -> Runtime:
    """Every service, built once as ``sharebot serve`` builds them; close with
    ``await runtime.aclose()``."""
    hub = HubClient(api_url, hub_token, transport=transport)
    return build(
        settings(slack_api_url, jupyterhub_api_url=api_url, **overrides),
        engine,
        hub=hub,
        clock=clock,
    )
