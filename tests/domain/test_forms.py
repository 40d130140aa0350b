"""The forms' pure parts: the sealed memory of a modal, the duration choices, hub links."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.forms import (
    MAX_AGE,
    MAX_METADATA,
    Sealed,
    duration_choices,
    form_key,
    hub_links,
    notebook_in,
    seal,
    seal_fitting,
    unseal,
)

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
KEY = form_key("0123456789abcdef0123456789abcdef")
DATA = Sealed("UOWNER", "share", int(NOW.timestamp()), "owner", ("", "gpu"))
HUB = "https://hub.example.org"


def test_sealed_memory_comes_back_for_its_opener_only() -> None:
    text = seal(DATA, KEY)
    assert unseal(text, KEY, user="UOWNER", kind="share", now=NOW) == DATA
    assert unseal(text, KEY, user="UBOB", kind="share", now=NOW) is None
    assert unseal(text, KEY, user="UOWNER", kind="request", now=NOW) is None
    assert unseal(text, form_key("f" * 32), user="UOWNER", kind="share", now=NOW) is None


def test_sealed_memory_altered_or_old_is_refused() -> None:
    text = seal(DATA, KEY)
    body, mac = text.split(".")
    other = seal(dataclasses.replace(DATA, servers=("", "gpu", "secret")), KEY)
    assert (
        unseal(other.split(".")[0] + "." + mac, KEY, user="UOWNER", kind="share", now=NOW) is None
    )
    assert unseal(body + "." + mac[::-1], KEY, user="UOWNER", kind="share", now=NOW) is None
    later = NOW + MAX_AGE + timedelta(seconds=1)
    assert unseal(text, KEY, user="UOWNER", kind="share", now=later) is None
    assert unseal(text, KEY, user="UOWNER", kind="share", now=NOW + MAX_AGE) == DATA
    for junk in (None, 42, "", ".", "a.b.c", "!!!.???", "x" * (MAX_METADATA + 1)):
        assert unseal(junk, KEY, user="UOWNER", kind="share", now=NOW) is None


def test_servers_are_named_by_their_index_only() -> None:
    assert DATA.server_at("0") == "" and DATA.server_at("1") == "gpu"
    for value in (None, "2", "-1", "gpu", "", "1000", " 1"):
        assert DATA.server_at(value) is None


def test_too_many_servers_are_left_off_until_the_memory_fits() -> None:
    many = dataclasses.replace(DATA, servers=tuple("s" * 200 + str(n) for n in range(100)))
    with pytest.raises(ValueError):
        seal(many, KEY)
    text, kept = seal_fitting(many, KEY)
    assert len(text) <= MAX_METADATA and 0 < len(kept.servers) < 100
    assert kept.servers == many.servers[: len(kept.servers)]
    assert unseal(text, KEY, user="UOWNER", kind="share", now=NOW) == kept


def test_duration_choices_stay_within_the_limit() -> None:
    assert duration_choices(timedelta(hours=8), False) == ["30m", "1h", "2h", "4h", "8h"]
    assert duration_choices(timedelta(weeks=1), True) == [
        "30m",
        "1h",
        "2h",
        "4h",
        "1d",
        "1w",
        "until-revoked",
    ]
    assert duration_choices(timedelta(minutes=10), False) == ["10m"]


def test_hub_links_are_the_ones_on_this_hub() -> None:
    text = (
        f"see <{HUB}/user/owner/lab/tree/a.ipynb|a.ipynb> and <https://evil.example/x> "
        f"and <{HUB}.evil.example/user/owner/lab/tree/b.ipynb> and <{HUB}/hub/home>"
    )
    assert hub_links(text, HUB + "/") == [f"{HUB}/user/owner/lab/tree/a.ipynb", f"{HUB}/hub/home"]
    assert hub_links("<" * 100_000, HUB) == []


def test_a_notebook_link_names_the_server_and_the_path() -> None:
    servers = ("", "gpu")
    named = f"<{HUB}/user/owner/gpu/lab/tree/fit.ipynb>"
    default = f"<{HUB}/user/owner/lab/tree/fit.ipynb>"
    elsewhere = f"<{HUB}/user/bob/lab/tree/fit.ipynb> <{HUB}/user/owner/lab/tree/../../x>"
    found = notebook_in(named, owner_hub="owner", servers=servers, hub_origin=HUB)
    assert found == ("gpu", "lab/tree/fit.ipynb")
    found = notebook_in(default, owner_hub="owner", servers=servers, hub_origin=HUB)
    assert found == ("", "lab/tree/fit.ipynb")
    assert notebook_in(elsewhere, owner_hub="owner", servers=servers, hub_origin=HUB) is None
