"""The forms' views and how their submissions are read (bot.slack.forms), without Slack."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.domain import commands
from bot.domain.durations import UNTIL_REVOKED
from bot.domain.forms import Sealed
from bot.slack import forms, texts
from tests.support.forms import request_values, share_values

LIMITS = forms.Limits(timedelta(days=7))
SEALED = Sealed("UOWNER", "share", 0, "owner", ("", "gpu"))
REQUEST = Sealed("UALICE", "request", 0, "owner", ("",), "UOWNER")


def view(values: dict[str, Any]) -> dict[str, Any]:
    return {"state": {"values": values}}


def no_path_problem(owner_hub: str, server: str, raw: str) -> str | None:
    return None


def read_share(values: dict[str, Any], **kwargs: Any) -> forms.Read:
    check = kwargs.pop("check_path", no_path_problem)
    return forms.read_share(
        "UOWNER",
        kwargs.pop("sealed", SEALED),
        view(values),
        kwargs.pop("limits", LIMITS),
        check_path=check,
    )


def test_a_good_form_is_the_commands_share() -> None:
    values = share_values(
        ["UALICE", "UBOB", "UALICE"], server="1", manage=True, note=" hi ", path="lab/tree/a"
    )
    read = read_share(values)
    assert read.errors == {}
    assert read.command == commands.Share(
        ("UALICE", "UBOB"), timedelta(hours=1), "gpu", "hi", True, "lab/tree/a"
    )


def test_the_typed_duration_wins_and_is_read_by_the_commands_rule() -> None:
    read = read_share(share_values(["UALICE"], typed="2h30m"))
    assert isinstance(read.command, commands.Share)
    assert read.command.duration == timedelta(hours=2, minutes=30)
    for typed, block, words in (
        ("5x", forms.TYPED_BLOCK, "is not a duration"),
        ("90", forms.TYPED_BLOCK, "needs a unit"),
        ("8d", forms.TYPED_BLOCK, "longer than this workspace allows"),
        ("until-revoked", forms.TYPED_BLOCK, "not enabled here"),
        ("x" * 41, forms.TYPED_BLOCK, "at most 40"),
    ):
        read = read_share(share_values(["UALICE"], typed=typed))
        assert read.command is None and words in read.errors[block], typed
    read = read_share(share_values(["UALICE"], choice="until-revoked"))
    assert "not enabled here" in read.errors[forms.DURATION_BLOCK]
    until = forms.Limits(timedelta(days=7), allow_until_revoked=True)
    read = read_share(share_values(["UALICE"], choice="until-revoked"), limits=until)
    assert isinstance(read.command, commands.Share) and read.command.duration == UNTIL_REVOKED
    read = read_share(share_values(["UALICE"], choice=None))
    assert read.errors == {forms.DURATION_BLOCK: texts.FORM_NO_DURATION}


def test_every_field_is_checked_and_bounded() -> None:
    read = read_share(share_values(["UOWNER"], server="2", note="n" * 501))
    assert set(read.errors) == {forms.PEOPLE_BLOCK, forms.SERVER_BLOCK, forms.NOTE_BLOCK}
    assert read.errors[forms.PEOPLE_BLOCK] == texts.self_share()
    assert read_share(share_values([])).errors == {forms.PEOPLE_BLOCK: texts.FORM_BAD_PEOPLE}
    assert forms.PEOPLE_BLOCK in read_share(share_values(["<@UALICE>"])).errors
    many = [f"U{n:04d}X" for n in range(forms.MAX_PEOPLE + 1)]
    assert "at most 20" in read_share(share_values(many)).errors[forms.PEOPLE_BLOCK]
    assert forms.PEOPLE_BLOCK in read_share(share_values(many * 3)).errors
    path = read_share(share_values(["UALICE"], path="p" * 1025)).errors[forms.PATH_BLOCK]
    assert "at most 1024" in path
    mangled = share_values(["UALICE"])
    mangled[forms.NOTE_BLOCK][forms.NOTE_ACTION]["value"] = ["not", "text"]
    assert forms.NOTE_BLOCK in read_share(mangled).errors
    assert read_share({}).errors  # nothing at all
    stale = read_share(share_values(["UALICE"]), sealed=None)
    assert stale.errors == {forms.PEOPLE_BLOCK: texts.FORM_STALE}


def test_the_path_is_checked_for_the_owner_and_the_server_chosen() -> None:
    seen: list[tuple[str, str, str]] = []

    def check(owner_hub: str, server: str, raw: str) -> str | None:
        seen.append((owner_hub, server, raw))
        return "not on your server"

    read = read_share(share_values(["UALICE"], server="1", path="lab/x"), check_path=check)
    assert seen == [("owner", "gpu", "lab/x")]
    assert read.errors == {forms.PATH_BLOCK: "not on your server"}


def test_a_request_names_the_owner_whose_servers_were_shown() -> None:
    def read(values: dict[str, Any], sealed: Sealed | None = REQUEST) -> forms.Read:
        return forms.read_request("UALICE", sealed, view(values), LIMITS)

    good = read(request_values("UOWNER", reason="for the lab"))
    assert good.command == commands.Request("UOWNER", timedelta(hours=1), "", "for the lab")
    assert read(request_values("UBOB")).errors == {forms.OWNER_BLOCK: texts.FORM_OWNER_CHANGED}
    assert read(request_values("UALICE")).errors == {forms.OWNER_BLOCK: texts.self_request()}
    assert read(request_values("UOWNER", server="1")).errors == {
        forms.SERVER_BLOCK: texts.FORM_BAD_SERVER
    }
    not_picked = Sealed("UALICE", "request", 0)
    assert forms.OWNER_BLOCK in read(request_values("UOWNER"), not_picked).errors
    assert read(request_values("UOWNER"), None).errors == {forms.OWNER_BLOCK: texts.FORM_STALE}


def test_the_share_form_lists_the_servers_by_index_with_the_prefill() -> None:
    prefill = forms.Prefill(people=("UALICE",), server="gpu", path="lab/tree/a", intro="hi")
    built = forms.share_modal("sealed", ("", "gpu"), LIMITS, prefill=prefill).to_dict()
    assert built["callback_id"] == forms.SHARE_MODAL and built["private_metadata"] == "sealed"
    by_id = {b.get("block_id"): b for b in built["blocks"]}
    select = by_id[forms.SERVER_BLOCK]["element"]
    assert [(o["value"], o["text"]["text"]) for o in select["options"]] == [
        ("0", "default server"),
        ("1", "gpu"),
    ]
    assert select["initial_option"]["value"] == "1"
    assert by_id[forms.PEOPLE_BLOCK]["element"]["initial_users"] == ["UALICE"]
    assert by_id[forms.PEOPLE_BLOCK]["element"]["max_selected_items"] == forms.MAX_PEOPLE
    assert by_id[forms.PATH_BLOCK]["element"]["initial_value"] == "lab/tree/a"
    assert by_id[forms.NOTE_BLOCK]["element"]["max_length"] == commands.MAX_NOTE
    choices = by_id[forms.DURATION_BLOCK]["element"]
    assert [o["value"] for o in choices["options"]] == ["30m", "1h", "2h", "4h", "1d", "1w"]
    assert choices["initial_option"]["value"] == "1h"


def test_long_server_names_fit_an_option() -> None:
    built = forms.share_modal("m", ("x" * 255,), LIMITS).to_dict()  # validate_json passed
    select = next(b for b in built["blocks"] if b.get("block_id") == forms.SERVER_BLOCK)
    assert len(select["element"]["options"][0]["text"]["text"]) == 75


def test_the_request_form_shows_servers_once_the_owner_is_picked() -> None:
    empty = forms.request_modal("m", LIMITS).to_dict()
    ids = [b.get("block_id") for b in empty["blocks"]]
    assert forms.SERVER_BLOCK not in ids and texts.FORM_PICK_OWNER in str(empty["blocks"])
    owner_block = empty["blocks"][0]
    assert owner_block["block_id"] == forms.OWNER_BLOCK and owner_block["dispatch_action"] is True
    picked = forms.request_modal("m", LIMITS, owner="UOWNER", servers=("",)).to_dict()
    assert forms.SERVER_BLOCK in [b.get("block_id") for b in picked["blocks"]]
    assert picked["blocks"][0]["element"]["initial_user"] == "UOWNER"
    why = forms.request_modal("m", LIMITS, owner="UOWNER", why_none="not linked").to_dict()
    assert "not linked" in str(why["blocks"])
    assert forms.SERVER_BLOCK not in [b.get("block_id") for b in why["blocks"]]


def test_errors_are_short() -> None:
    assert len(forms.bounded_errors({"b": "x" * 5000})["b"]) <= 300
