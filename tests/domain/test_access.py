"""The scope ledger and misuse by scope growth (bot.domain.access): pure rules."""

from __future__ import annotations

from bot.domain.access import (
    Held,
    Kept,
    earlier_access,
    grant_scopes,
    growth,
    judge,
    kept_after,
    to_remove,
    visibly_gained,
    without,
)
from tests.support.factories import ACCESS, MANAGE

START_STOP = MANAGE - ACCESS


def test_grant_scopes_are_what_the_hub_stores() -> None:
    assert grant_scopes("owner", "") == {"access:servers!server=owner/"}
    assert grant_scopes("owner", "gpu", ["manage"]) == {
        "access:servers!server=owner/gpu",
        "servers!server=owner/gpu",
    }


def test_earlier_access_is_what_no_grant_of_ours_accounts_for() -> None:
    assert earlier_access(frozenset(), []) == frozenset()
    # a share made in the hub: all of it is earlier access
    assert earlier_access(ACCESS, []) == ACCESS
    # access that our active grant gave is not earlier access
    assert earlier_access(ACCESS, [Held(ACCESS)]) == frozenset()
    # a manage grant over a share made in the hub: the access part stays earlier
    assert earlier_access(MANAGE, [Held(MANAGE, earlier=ACCESS)]) == ACCESS
    # an invitation of ours whose code was used before the pass saw it counts as ours
    assert earlier_access(ACCESS, [Held(ACCESS)], flagged=frozenset()) == frozenset()
    # access reported to the owner as unexplained is not earlier access either
    assert earlier_access(ACCESS, [], flagged=ACCESS) == frozenset()


def test_an_end_removes_what_nothing_justifies() -> None:
    # Dave had a share made in the hub; a manage grant ends: only start/stop goes
    assert to_remove(Held(MANAGE, earlier=ACCESS), []) == START_STOP
    # a plain grant with nothing before: everything it gave
    assert to_remove(Held(ACCESS), []) == ACCESS
    # another active plain grant still gives access: only start/stop goes
    assert to_remove(Held(MANAGE), [ACCESS]) == START_STOP
    # fully covered by another grant: nothing to remove
    assert to_remove(Held(ACCESS), [MANAGE]) == frozenset()
    # access reported to the owner and not yet decided stays for their decision
    assert to_remove(Held(MANAGE), [], undecided=ACCESS) == START_STOP


def test_kept_is_said_only_when_true() -> None:
    assert kept_after(Held(MANAGE, earlier=ACCESS), []) is Kept.EARLIER
    assert kept_after(Held(ACCESS), [ACCESS]) is Kept.OTHER_GRANT
    assert kept_after(Held(MANAGE), []) is Kept.NOTHING
    assert kept_after(Held(MANAGE), [], undecided=ACCESS) is Kept.UNDECIDED
    assert kept_after(Held(MANAGE), [], undecided=frozenset({"other"})) is Kept.NOTHING


def test_growth_and_without() -> None:
    before = {"dave": ACCESS}
    after = {"dave": MANAGE, "carol": ACCESS}
    assert growth(before, after) == {"dave": START_STOP, "carol": ACCESS}
    assert without(after, "dave", START_STOP) == {"dave": ACCESS, "carol": ACCESS}
    assert without(after, "carol", ACCESS) == {"dave": MANAGE}


def verdict(
    before: dict[str, frozenset[str]],
    after: dict[str, frozenset[str]],
    code: frozenset[str] = ACCESS,
    explained: dict[str, frozenset[str]] | None = None,
):  # type: ignore[no-untyped-def]
    return judge(
        owner_hub="owner",
        recipient="alice",
        code_scopes=code,
        baseline=before,
        current=after,
        explained=explained or {},
    )


def test_the_recipient_used_her_link() -> None:
    found = verdict({}, {"alice": ACCESS})
    assert found.accepted and not found.intruders and not found.unexplained


def test_someone_else_used_the_link_and_nobody_else_could_have() -> None:
    found = verdict({}, {"carol": ACCESS})
    assert not found.accepted and found.intruders == {"carol": ACCESS}


def test_a_holder_of_a_share_who_uses_a_manage_link_is_caught() -> None:
    # Dave holds a plain share; he uses Alice's manage link: he gained start/stop only
    found = verdict({"dave": ACCESS}, {"dave": MANAGE}, code=MANAGE)
    assert found.intruders == {"dave": START_STOP}


def test_an_open_invitation_of_ones_own_explains_nothing_unless_used() -> None:
    # Bob uses Alice's link; his own invitation's code was not exchanged: no explanation
    assert verdict({}, {"bob": ACCESS}).intruders == {"bob": ACCESS}
    # had he used his own link too, his access is explained by it
    assert verdict({}, {"bob": ACCESS}, explained={"bob": ACCESS}).intruders == {}


def test_a_share_made_directly_while_the_recipient_used_her_link_is_not_revoked() -> None:
    # Alice opened her link twice, the owner shared with Carol in the hub: cannot tell
    found = verdict({}, {"alice": ACCESS, "carol": ACCESS})
    assert found.accepted and not found.intruders
    assert found.unexplained == {"carol": ACCESS}


def test_access_the_code_does_not_give_is_not_judged() -> None:
    # Carol got start/stop only (a share made in the hub with other scopes)
    found = verdict({}, {"alice": ACCESS, "carol": START_STOP})
    assert found.accepted and not found.intruders and not found.unexplained


def test_someone_who_gained_a_part_of_what_the_link_gives_may_have_used_it() -> None:
    # Bob used Alice's manage link, then sharebot took his plain access off (his own
    # share ended): he holds start/stop only, and is reported, never removed for certain
    found = verdict({}, {"alice": MANAGE, "bob": START_STOP}, code=MANAGE)
    assert found.accepted and found.unexplained == {"bob": START_STOP}
    alone = verdict({}, {"bob": START_STOP}, code=MANAGE)
    assert not alone.accepted and not alone.intruders
    assert alone.unexplained == {"bob": START_STOP}


def test_the_owner_is_never_a_suspect() -> None:
    assert verdict({}, {"owner": ACCESS, "alice": ACCESS}).unexplained == {}


def test_visibly_gained() -> None:
    assert visibly_gained(ACCESS, {}, {"alice": ACCESS}, "alice")
    assert not visibly_gained(ACCESS, {"alice": ACCESS}, {"alice": ACCESS}, "alice")
    assert not visibly_gained(MANAGE, {}, {"alice": ACCESS}, "alice")
