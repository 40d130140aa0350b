"""The environment a test of the settings starts from: only the required settings set."""

from __future__ import annotations

import pytest

from bot.config import env_names

#: A valid value for each setting without a default.
REQUIRED = {
    "SLACK_BOT_TOKEN": "xoxb-1234567890-1234567890123-abcdefghijklmnopqrstuvwx",
    "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
    "JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api/",
    "JUPYTERHUB_API_TOKEN": "0123456789abcdef",
    "JUPYTERHUB_PUBLIC_URL": "https://hub.example.org/",
}


def clean_settings_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Unset every sharebot setting, then set the required ones to :data:`REQUIRED`."""
    for name in env_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch
