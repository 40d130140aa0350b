"""The accept gate's pure parts: the sealed code, notebook paths, the mode and its words."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import load_settings
from bot.domain.commands import Request, Share, parse_command
from bot.domain.gate import new_gate_token, parse_notebook_path, seal, server_url_path, unseal
from bot.errors import ConfigError
from bot.slack import texts
from tests.support.factories import make_grant
from tests.support.settings import REQUIRED

PUBLIC = "https://hub.example.org/services/sharebot/"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("SHAREBOT_PUBLIC_URL", "SHAREBOT_ACCEPT_GATE", "SHAREBOT_EMAIL_MAPPING"):
        monkeypatch.delenv(name, raising=False)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


@given(st.text(min_size=1, max_size=200))
def test_a_sealed_code_opens_only_with_its_token(code: str) -> None:
    token = new_gate_token()
    sealed = seal(code, token)
    assert token not in sealed and (len(code) < 16 or code not in sealed)
    assert unseal(sealed, token) == code
    assert unseal(sealed, new_gate_token()) is None
    raw = bytearray(base64.urlsafe_b64decode(sealed))
    raw[len(raw) // 2] ^= 1
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode()
    assert unseal(tampered, token) is None
    assert unseal("not base64 at all!", token) is None


def test_seal_is_fresh_each_time() -> None:
    token = new_gate_token()
    assert seal("abc", token) != seal("abc", token)


def where(text: str, server: str = "") -> tuple[str | None, str]:
    found = parse_notebook_path(
        text, owner_hub="owner", server=server, hub_origin="https://hub.example.org"
    )
    return found.path, found.why_not


def test_notebook_paths() -> None:
    assert where("lab/tree/analysis.ipynb") == ("lab/tree/analysis.ipynb", "")
    assert where("/lab/tree/a b.ipynb")[0] == "lab/tree/a b.ipynb"
    url = "https://hub.example.org/user/owner/gpu/lab/tree/x.ipynb"
    assert where(url, "gpu")[0] == "lab/tree/x.ipynb"
    assert "not a page of the server" in where(url, "")[1]  # gpu's URL, not the default's
    assert "not on this JupyterHub" in where("https://evil.example/user/owner/lab")[1]
    assert "`..`" in where("../alice/x.ipynb")[1]
    assert "`..`" in where("lab/tree/%2e%2e/%2e%2e/x")[1]
    assert "query" in where("lab/tree/x.ipynb?token=1")[1]
    assert "characters" in where("lab/tree/x\x00.ipynb")[1]
    assert "not a page of the server" in where("api/contents")[1]
    assert "longer than" in where("a" * 2000)[1]
    assert "empty" in where("  ")[1]


@given(st.text(max_size=300))
def test_a_path_never_leaves_the_server(text: str) -> None:
    path, why = where(text, "gpu")
    assert (path is None) == bool(why)
    if path is not None:
        assert ".." not in path.split("/") and not path.startswith("/")
        assert server_url_path("", "owner", "gpu", path).startswith("/user/owner/gpu/")


def test_share_takes_a_path_or_a_pasted_link() -> None:
    def share(text: str) -> Share:
        cmd = parse_command(text, max_duration=timedelta(days=7))
        assert isinstance(cmd, Share)
        return cmd

    assert share("<@U1> 1h path:lab/tree/a.ipynb").path == "lab/tree/a.ipynb"
    assert share("<@U1> 1h <https://hub/user/o/lab/tree/a.ipynb> a note").path == (
        "https://hub/user/o/lab/tree/a.ipynb"
    )
    assert share("<@U1> 1h <https://hub/x|label>").path == "https://hub/x"
    assert share("<@U1> 1h just a note").path is None


def test_the_mode_says_which_and_why(clean_env: pytest.MonkeyPatch) -> None:
    on, why = load_settings().accept_gate_mode
    assert not on and "SHAREBOT_PUBLIC_URL is unset" in why
    clean_env.setenv("SHAREBOT_PUBLIC_URL", PUBLIC)
    on, why = load_settings().accept_gate_mode
    assert on and "only the recipient" in why and f"{PUBLIC}accept/" in why
    clean_env.setenv("SHAREBOT_ACCEPT_GATE", "off")
    on, why = load_settings().accept_gate_mode
    assert not on and "SHAREBOT_ACCEPT_GATE=off" in why


def test_localpart_mapping_needs_domains(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SHAREBOT_EMAIL_MAPPING", "localpart")
    with pytest.raises(ConfigError, match="SHAREBOT_EMAIL_DOMAINS"):
        load_settings()
    clean_env.setenv("SHAREBOT_EMAIL_DOMAINS", "example.org")
    assert load_settings().email_mapping == "localpart"


def test_request_takes_a_path_and_the_words_show_it() -> None:
    cmd = parse_command(
        "request <@U2> 2h path:lab/tree/thesis.ipynb", max_duration=timedelta(days=7)
    )
    assert isinstance(cmd, Request) and cmd.path == "lab/tree/thesis.ipynb"
    grant = make_grant(path="lab/tree/thesis.ipynb")
    assert "opens `lab/tree/thesis.ipynb`" in texts.home_shared_by(grant)
    assert "opens" not in texts.home_shared_with(make_grant())
