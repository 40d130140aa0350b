"""The manifests declare the forms' shortcuts, by the callback ids the app listens for, and
stay valid against Slack's manifest schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from bot.slack import forms

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy").glob("slack-manifest*.json"))
SCHEMAS = [
    ROOT / "tests" / "data" / "slack-manifest-schema" / "manifest.schema.1.0.0.json",
    Path("/work/shared/slack-manifest-schema/manifest.schema.1.0.0.json"),
]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_the_shortcuts_are_the_ones_the_app_listens_for(path: Path) -> None:
    manifest = json.loads(path.read_text())
    shortcuts = {s["callback_id"]: s["type"] for s in manifest["features"]["shortcuts"]}
    assert shortcuts == {
        forms.SHARE_SHORTCUT: "global",
        forms.REQUEST_SHORTCUT: "global",
        forms.AUTHOR_SHORTCUT: "message",
    }
    assert manifest["settings"]["interactivity"]["is_enabled"] is True  # shortcuts need it


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
@pytest.mark.parametrize("schema", [s for s in SCHEMAS if s.exists()], ids=lambda p: str(p))
def test_the_manifest_with_shortcuts_is_valid(path: Path, schema: Path) -> None:
    jsonschema.validate(json.loads(path.read_text()), json.loads(schema.read_text()))
