"""The signed-request client for ``sharebot serve`` now lives in the package (``sharebot demo``
needs it at runtime): :mod:`bot.sandbox.slack_client`. Re-exported here for the tests."""

from __future__ import annotations

from bot.sandbox.slack_client import (
    BOT_TOKEN,
    SIGNING_SECRET,
    RunningApp,
    app_env,
    block_action,
    new_trigger_id,
    run_cli,
    sign,
    start_app,
    view_submission,
)

__all__ = [
    "BOT_TOKEN",
    "SIGNING_SECRET",
    "RunningApp",
    "app_env",
    "block_action",
    "new_trigger_id",
    "run_cli",
    "sign",
    "start_app",
    "view_submission",
]
