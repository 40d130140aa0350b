"""The docs name every setting; deploy/ artifacts are valid.

docs/configuration.md (and the README's table of required settings) are generated from
``bot/config.py`` with cog; ``./scripts/test`` runs ``cog --check`` on them.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import jsonschema
import pytest

from bot.config import env_names
from bot.slack.listeners import COMMAND
from tests.support.hub import SHAREBOT_SCOPES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SCHEMA_DIR = ROOT / "tests" / "data" / "slack-manifest-schema"
MANIFESTS = sorted((ROOT / "deploy").glob("slack-manifest*.json"))


@pytest.mark.parametrize("name", env_names())
def test_every_setting_is_in_the_reference(name: str) -> None:
    assert f"### `{name}`" in (DOCS / "configuration.md").read_text(), (
        f"{name} is not in docs/configuration.md: run `cog -r docs/configuration.md README.md`"
    )


def test_changelog_exists() -> None:
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()


@pytest.fixture(scope="module")
def manifest_schema() -> dict[str, object]:
    path = SCHEMA_DIR / "manifest.schema.1.0.0.json"
    if not path.exists():
        pytest.fail(f"Slack's manifest schema is missing at {path}")
    schema: dict[str, object] = json.loads(path.read_text())
    return schema


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid(path: Path, manifest_schema: dict[str, object]) -> None:
    manifest = json.loads(path.read_text())
    jsonschema.validate(manifest, manifest_schema)
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == COMMAND
    assert command["should_escape"] is True  # we parse <@U123|name> mentions
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "im:write"} <= scopes
    # the Home tab: enabled, and Slack tells us when someone opens it
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    events = manifest["settings"]["event_subscriptions"]
    assert "app_home_opened" in events["bot_events"]
    if not manifest["settings"]["socket_mode_enabled"]:
        assert events["request_url"] == manifest["settings"]["interactivity"]["request_url"]


def test_there_are_manifests() -> None:
    assert len(MANIFESTS) == 2


def test_hub_config_role_matches_what_the_tests_run_with() -> None:
    source = (ROOT / "deploy" / "jupyterhub_config.py").read_text()
    ast.parse(source)
    scopes = re.search(r'"scopes": \[([^\]]*)\]', source)
    assert scopes is not None
    assert tuple(json.loads(f"[{scopes.group(1)}]")) == SHAREBOT_SCOPES
    registering = (DOCS / "jupyterhub.md").read_text()
    for scope in SHAREBOT_SCOPES:
        assert f"`{scope}`" in registering
