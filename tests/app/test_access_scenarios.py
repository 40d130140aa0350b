"""Sequences the stateful property test (tests/app/test_access_property.py) reaches only
now and then, written out: the same machine, the same promise checked after each pass."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.access_machine import OWNER, AccessMachine, on_the_model

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[AccessMachine]:
    with on_the_model(tmp_path, START) as Scripted:
        running = Scripted()
        yield running
        running.teardown()


def scopes(machine: AccessMachine, user: str) -> frozenset[str]:
    return machine.world.scopes_of(OWNER, "", user)


def test_an_end_keeps_what_an_acceptance_no_pass_has_seen_gives(machine: AccessMachine) -> None:
    machine.share({"UALICE"}, "", manage=False, minutes=30)
    machine.background_pass()
    machine.recipient_accepts(0)
    machine.background_pass()  # the 30m share is active
    machine.share({"UALICE"}, "", manage=False, minutes=180)
    machine.recipient_accepts(1)  # she uses the second link too; no pass has seen it
    machine.time_passes(70)  # the first one is due
    machine.background_pass()  # checks: the second is active, and she holds its access
    assert scopes(machine, "alice") == {f"access:servers!server={OWNER}/"}


def test_a_link_that_gives_back_what_a_revoke_took_is_judged_as_misuse(
    machine: AccessMachine,
) -> None:
    machine.share({"UBOB"}, "", manage=True, minutes=180)
    machine.background_pass()
    machine.recipient_accepts(0)
    machine.background_pass()  # Bob holds access and start/stop
    machine.share({"UALICE"}, "", manage=True, minutes=180)
    machine.background_pass()  # Alice's link's baseline: Bob with both
    machine.owner_revokes("UBOB", "")  # Bob's share ends: both scopes go
    machine.someone_else_accepts(1, "bob")  # ... and he uses Alice's link to get them back
    machine.background_pass()
    assert scopes(machine, "bob") == frozenset()


def test_a_withdrawal_that_meets_an_unseen_acceptance_ends_the_share(
    machine: AccessMachine,
) -> None:
    machine.share({"UALICE"}, "", manage=True, minutes=180)
    machine.recipient_accepts(0)
    machine.owner_revokes("UALICE", "")
    machine.background_pass()
    assert scopes(machine, "alice") == frozenset()


def test_a_link_used_twice_and_a_share_made_in_the_hub_meanwhile(machine: AccessMachine) -> None:
    machine.share({"UALICE"}, "", manage=False, minutes=180)
    machine.recipient_accepts(0)
    machine.recipient_accepts(0)
    machine.owner_shares_in_the_hub("carol", "", manage=False)
    machine.background_pass()  # Carol's access is kept, and reported to the owner
    assert scopes(machine, "carol") == {f"access:servers!server={OWNER}/"}
    [flag] = machine.h.flags.pending()
    assert flag.hub_user == "carol"


def test_an_acceptance_seen_in_the_same_pass_explains_that_persons_growth(
    machine: AccessMachine,
) -> None:
    machine.share({"UBOB"}, "", manage=False, minutes=180)  # judged first in the pass
    machine.share({"UALICE"}, "", manage=False, minutes=180)
    machine.recipient_accepts(0)  # Bob uses his link
    machine.recipient_accepts(1)  # Alice hers: Bob's growth is his own grant's, not misuse
    machine.background_pass()
    assert machine.h.flags.pending() == []


def test_an_end_keeps_nothing_for_a_link_someone_else_used(machine: AccessMachine) -> None:
    # found by the property test on a real hub (JupyterHub 5.2.1)
    machine.share({"UALICE"}, "", manage=False, minutes=30)
    machine.recipient_accepts(0)
    machine.background_pass()  # Alice's plain share is active
    machine.share({"UALICE"}, "", manage=True, minutes=180)
    machine.someone_else_accepts(1, "carol")  # Carol uses Alice's manage link
    machine.time_passes(70)  # the plain share is due
    machine.background_pass()  # checks: Alice holds nothing now, Carol nothing either
    assert scopes(machine, "alice") == frozenset()


def test_earlier_access_removed_in_the_hub_before_the_use_is_not_kept(
    machine: AccessMachine,
) -> None:
    # found by the property test in CI
    machine.owner_shares_in_the_hub("bob", "", manage=False)
    machine.share({"UBOB"}, "", manage=True, minutes=180)  # earlier access: plain access
    machine.owner_revokes_in_the_hub("bob", "")  # a pass sees Bob hold nothing now
    machine.recipient_accepts(0)
    machine.background_pass()
    machine.time_passes(200)
    machine.background_pass()  # his grant ended, and nothing he had before is left
    assert scopes(machine, "bob") == frozenset()


def test_a_withdrawal_confirmed_late_does_not_take_a_newer_links_access(
    machine: AccessMachine,
) -> None:
    # found by the property test in CI
    machine.share({"UALICE"}, "", manage=False, minutes=30)
    machine.hub_fault(method="GET", path="shares/", kind="503", after=False)
    machine.recipient_leaves(0)  # the code goes; the hub's shares cannot be read
    machine.share({"UALICE"}, "", manage=False, minutes=30)
    machine.recipient_accepts(1)  # she uses the new link
    machine.background_pass()  # the first is cancelled, the second is hers
    [_, second] = machine.grants()
    assert second.state.value == "active"
    assert scopes(machine, "alice") == {f"access:servers!server={OWNER}/"}


def test_a_link_used_by_someone_whose_own_share_then_ended_is_still_judged(
    machine: AccessMachine,
) -> None:
    # found by a 1,000-example run of the property test: Bob used Alice's manage link and
    # his own plain one; his leave ended his (its access taken off), so he no longer held
    # all that Alice's link gives, and its judgment did not count him among its users
    machine.share({"UALICE"}, "", manage=True, minutes=180)
    machine.share({"UBOB"}, "", manage=False, minutes=180)
    machine.background_pass()  # both links' baselines: nobody holds anything
    machine.recipient_accepts(0)
    machine.someone_else_accepts(0, "bob")  # Bob uses Alice's link ...
    machine.recipient_accepts(1)  # ... and his own
    machine.recipient_leaves(1)  # he leaves his: its access goes, start/stop stays
    machine.background_pass()  # Alice's link is judged
    [flag] = machine.h.flags.pending()
    assert flag.hub_user == "bob"
    assert flag.scopes == scopes(machine, "bob") == {f"servers!server={OWNER}/"}


def test_access_from_a_link_no_pass_has_judged_is_not_earlier_access(
    machine: AccessMachine,
) -> None:
    # found by a 1,000-example run of the property test: Alice used Bob's link, then was
    # invited herself before any pass saw it; what she held then passed for earlier access
    # (hers to keep), and Carol's use of her link made her look like its rightful user
    machine.share({"UBOB"}, "", manage=True, minutes=180)
    machine.background_pass()  # Bob's link's baseline: nobody holds anything
    machine.someone_else_accepts(0, "alice")  # Alice uses Bob's link
    machine.share({"UALICE"}, "", manage=True, minutes=180)  # no pass has seen that use
    machine.someone_else_accepts(1, "carol")  # Carol uses Alice's link
    machine.background_pass()
    machine.owner_revokes("UALICE", "")
    machine.background_pass()
    assert scopes(machine, "alice") == frozenset()


def test_a_flag_whose_access_an_acceptance_seen_late_took_away_is_settled_in_that_pass(
    machine: AccessMachine,
) -> None:
    # found by a 1,000-example run of the property test: Bob's own links, seen used only
    # once they were due, ended in the pass's second round of ends, after the flags were
    # settled: the access his flags named was gone, and the flags stayed pending (since,
    # an end leaves flagged access to the owner's decision: it stays, and so do the flags)
    machine.share({"UALICE", "UBOB"}, "", manage=True, minutes=30)
    machine.share({"UALICE", "UBOB"}, "", manage=False, minutes=30)
    machine.background_pass()
    alices_manage, bobs_manage, alices_plain, bobs_plain = (g.id for g in machine.grants())

    def link(grant_id: int) -> int:
        return [i.grant_id for i in machine.live_links()].index(grant_id)

    machine.someone_else_accepts(link(alices_manage), "bob")
    machine.recipient_accepts(link(alices_plain))
    machine.background_pass()  # Bob's gains are reported (he may have been given them)
    assert {f.hub_user for f in machine.h.flags.pending()} == {"bob"}
    machine.recipient_accepts(link(bobs_manage))
    machine.recipient_accepts(link(bobs_plain))
    machine.time_passes(200)
    machine.background_pass()  # his links are seen used, already due: they end at once
    # what he held before his own links, reported and not yet decided, stays the owner's
    # to decide (an end does not decide it for them); the flags name what he holds
    flagged = frozenset().union(*(f.scopes for f in machine.h.flags.pending()))
    assert flagged and scopes(machine, "bob") == flagged
    while machine.h.flags.pending():
        machine.owner_decides_a_flag(0, keep=False)
    machine.background_pass()
    assert scopes(machine, "bob") == frozenset()
    assert machine.h.flags.pending() == []


def test_a_removal_the_hub_made_but_answered_with_an_error_settles_the_flag(
    machine: AccessMachine,
) -> None:
    # found by a 500-example run: the owner's Remove reached the hub, whose answer was a
    # 503; the flag is settled as gone by the next pass, and nothing else changes
    machine.share({"UALICE"}, "gpu", manage=False, minutes=30)
    machine.owner_shares_in_the_hub("carol", "gpu", manage=False)
    machine.recipient_accepts(0)
    machine.background_pass()  # Carol's access is reported: Alice may have used her link
    [flag] = machine.h.flags.pending()
    assert flag.hub_user == "carol"
    machine.hub_fault(method="PATCH", path="shares/", kind="503", after=True)
    machine.owner_decides_a_flag(0, keep=False)
    machine.background_pass()
    assert machine.world.scopes_of(OWNER, "gpu", "carol") == frozenset()
    assert machine.h.flags.pending() == []


def test_an_end_leaves_access_the_owner_was_asked_about_to_the_owner(
    machine: AccessMachine,
) -> None:
    machine.share({"UALICE"}, "", manage=False, minutes=180)
    machine.recipient_accepts(0)
    machine.recipient_accepts(0)
    machine.owner_shares_in_the_hub("carol", "", manage=False)
    machine.background_pass()  # Carol's hub share is reported to the owner, undecided
    [flag] = machine.h.flags.pending()
    assert flag.hub_user == "carol"
    machine.share({"UCAROL"}, "", manage=False, minutes=30)  # her earlier access: none yet
    carols = machine.live_links().index(machine.invitations[-1])
    machine.recipient_accepts(carols)
    machine.background_pass()
    machine.owner_revokes("UCAROL", "")  # her grant ends; the owner has not decided
    machine.background_pass()
    assert scopes(machine, "carol") == {f"access:servers!server={OWNER}/"}
    assert [f.id for f in machine.h.flags.pending()] == [flag.id]


def test_access_the_owner_kept_is_earlier_access_of_that_persons_open_grants(
    machine: AccessMachine,
) -> None:
    machine.share({"UALICE"}, "", manage=False, minutes=180)
    machine.share({"UBOB"}, "", manage=False, minutes=180)  # Bob's own invitation, open
    machine.background_pass()
    machine.recipient_accepts(0)  # Alice uses her link ...
    machine.someone_else_accepts(0, "bob")  # ... and so does Bob
    machine.background_pass()  # Bob's gain is reported: it may be a share made in the hub
    [flag] = machine.h.flags.pending()
    assert flag.hub_user == "bob"
    machine.owner_decides_a_flag(0, keep=True)  # "I shared it: keep"
    bobs = machine.live_links().index(machine.invitations[1])
    machine.recipient_accepts(bobs)
    machine.background_pass()
    machine.owner_revokes("UBOB", "")  # his grant ends: what the owner kept stays
    machine.background_pass()
    assert scopes(machine, "bob") == {f"access:servers!server={OWNER}/"}
