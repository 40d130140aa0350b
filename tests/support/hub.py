"""The real-JupyterHub harness now lives in the package (``sharebot demo`` needs it at
runtime): :mod:`bot.testing.hub`. Re-exported here so test imports stay as they were."""

from __future__ import annotations

from bot.testing.hub import (
    ADMIN_SERVICE_NAME,
    CHP_NAME,
    COOKIE_SECRET_HEX,
    PROXY_PID_FILE,
    REPO_ROOT,
    SERVICE_NAME,
    SHAREBOT_SCOPES,
    ProxyNotFound,
    RunningHub,
    find_chp,
    free_port,
    sharebot_oauth_redirect,
    start_hub,
)

__all__ = [
    "ADMIN_SERVICE_NAME",
    "CHP_NAME",
    "COOKIE_SECRET_HEX",
    "PROXY_PID_FILE",
    "REPO_ROOT",
    "SERVICE_NAME",
    "SHAREBOT_SCOPES",
    "ProxyNotFound",
    "RunningHub",
    "find_chp",
    "free_port",
    "sharebot_oauth_redirect",
    "start_hub",
]
