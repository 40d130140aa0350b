from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import SettingDoc, advice_for, env_names, load_settings, setting_docs
from bot.errors import ConfigError
from tests.support.settings import REQUIRED, clean_settings_env


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    return clean_settings_env(monkeypatch)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///sharebot.sqlite"
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.sweep_interval == 30
    assert settings.max_duration == timedelta(days=7)
    assert settings.invite_ttl == timedelta(hours=24)
    assert settings.slack_api_base == "https://slack.com/api/"
    assert settings.hub_api_base == "http://127.0.0.1:8081/hub/api"
    assert settings.hub_public_origin == "https://hub.example.org"
    assert not settings.socket_mode
    assert "xoxb" not in repr(settings)  # secrets stay out of reprs and logs


def test_overrides(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SHAREBOT_MAX_DURATION", "12h")
    clean_env.setenv("SHAREBOT_INVITE_TTL", "2h30m")
    clean_env.setenv("SLACK_API_URL", "http://127.0.0.1:9999/api")
    clean_env.setenv("SLACK_APP_TOKEN", "xapp-1")
    settings = load_settings()
    assert settings.max_duration == timedelta(hours=12)
    assert settings.invite_ttl == timedelta(hours=2, minutes=30)
    assert settings.slack_api_base == "http://127.0.0.1:9999/api/"
    assert settings.socket_mode


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_missing_names_the_variable(clean_env: pytest.MonkeyPatch, name: str) -> None:
    clean_env.delenv(name)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"{name} is not set: set it to ")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("SHAREBOT_MAX_DURATION", "forever", "not a duration"),
        ("SHAREBOT_INVITE_TTL", "400d", "outside 1m..365d"),
        ("SHAREBOT_INVITE_TTL", "30s", "outside 1m..365d"),
        ("SHAREBOT_PORT", "99999", "SHAREBOT_PORT is invalid"),
        ("SHAREBOT_SWEEP_INTERVAL", "0", "SHAREBOT_SWEEP_INTERVAL is invalid"),
        ("JUPYTERHUB_API_URL", "hub:8081", "must start with http"),
        ("SLACK_BOT_TOKEN", "xoxb-your-token-here", "placeholder"),
        ("JUPYTERHUB_API_TOKEN", "changeme", "placeholder"),
        ("SLACK_SIGNING_SECRET", " ", "is empty"),
    ],
)
def test_invalid(clean_env: pytest.MonkeyPatch, name: str, value: str, fragment: str) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert fragment in str(info.value)
    assert str(info.value).startswith(name)
    if name.endswith(("_TOKEN", "_SECRET")) and value.strip():
        assert value not in str(info.value)  # a secret is never echoed back


def test_every_setting_is_declared_with_its_meaning_and_advice() -> None:
    docs = setting_docs()
    assert [d.env for d in docs] == env_names()
    for doc in docs:
        assert doc.meaning.endswith("."), doc.env  # a sentence in the reference
        # advice follows "set it to" and is followed by the message's own full stop
        assert doc.advice and doc.advice[0].islower() and not doc.advice.endswith("."), doc.env


def test_required_settings_are_the_ones_without_a_default() -> None:
    required = {d.env for d in setting_docs() if d.required}
    assert required == set(REQUIRED)
    assert all(d.default is None for d in setting_docs() if d.required)


@pytest.mark.parametrize(
    "doc", [d for d in setting_docs() if d.default is not None], ids=lambda d: d.env
)
def test_the_documented_default_is_the_default(
    clean_env: pytest.MonkeyPatch, doc: SettingDoc
) -> None:
    unset = load_settings()
    clean_env.setenv(doc.env, doc.default or "")
    assert load_settings() == unset


def test_a_rule_across_settings_names_the_variable_to_set(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SHAREBOT_APPROVAL_ABOVE", "1d")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value) == (
        "SHAREBOT_APPROVERS is not set, but SHAREBOT_APPROVAL_ABOVE needs approvers: "
        f"set it to {advice_for('SHAREBOT_APPROVERS')}."
    )
