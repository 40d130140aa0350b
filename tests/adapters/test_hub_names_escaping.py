"""Names from the hub (users, groups, servers, scopes) are shown in code spans they cannot
break out of: whatever the name, every rendered text keeps its code spans balanced, the
name stays inside one, and nothing of it reaches Slack as markup (``<``, ``>``, ``&``)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.app.messages import HomeTab
from bot.domain.access import AccessFlag, FlagKind, FlagState
from bot.domain.decisions import DecisionKind
from bot.domain.digest import Item, ItemKind, OwnerCount, Status
from bot.domain.digest import Reason as Stale
from bot.domain.reconcile import ExternalShare, ShareKind
from bot.slack import blocks, home_view, mrkdwn, texts
from tests.support.factories import NOW, make_decision, make_grant

NASTY = [
    "a`b",
    "`<!channel>`",
    "evil` <!here> `",
    "x&lt;y",
    "&amp;",
    "line\nbreak`",
    "``",
    "<http://evil.example|click>",
    "\u202eoops",
]
ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


def flag(name: str) -> AccessFlag:
    return AccessFlag(
        id=3,
        kind=FlagKind.UNEXPLAINED,
        state=FlagState.PENDING,
        grant_id=1,
        owner_hub=name,
        server=name,
        hub_user=name,
        scopes=frozenset({f"access:servers!server=owner/{name}", f"custom:{name}"}),
        created_at=NOW,
    )


def item(name: str, *, group: bool = False) -> Item:
    return Item(
        kind=ItemKind.EXTERNAL,
        id=1,
        server=name,
        who=name,
        who_is_group=group,
        since=NOW - timedelta(days=30),
        reasons=(Stale.EXTERNAL,),
        slack_id=None if group else "UALICE",
    )


def external(name: str, kind: ShareKind = ShareKind.USER) -> ExternalShare:
    return ExternalShare(
        id=1,
        owner_hub=name,
        server=name,
        kind=kind,
        name=name,
        scopes=(),
        hub_created_at=None,
        first_seen=NOW,
        last_seen=NOW,
    )


def _mrkdwn_of(payload: object) -> list[str]:
    """Every mrkdwn text in Block Kit JSON."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(payload)
    return found


def _blocks(built: Sequence[object]) -> list[str]:
    return _mrkdwn_of([b.to_dict() for b in built])  # type: ignore[attr-defined]


#: Everything that shows a hub name, each as name -> the texts it renders.
RENDERERS: dict[str, Callable[[str], list[str]]] = {
    "server label": lambda n: [mrkdwn.server_label(n, n), mrkdwn.server_label(n, "")],
    "unknown server": lambda n: [texts.unknown_server(n, ["", n, "gpu"])],
    "owner has no server": lambda n: [texts.owner_has_no_server("UOWNER", n)],
    "invitation": lambda n: [texts.invitation_dm(make_grant(owner_hub=n, server=n))],
    "misuse": lambda n: [
        texts.misused_owner(make_grant(server=n), n, True),
        texts.misused_recipient(make_grant(server=n), n),
    ],
    "flags": lambda n: [
        texts.unexplained_owner(make_grant(owner_hub=n), flag(n)),
        texts.flag_remove_failed(flag(n)),
        texts.flag_decided(flag(n)),
        *_blocks(blocks.unexplained_access(make_grant(owner_hub=n), flag(n))),
    ],
    "linking": lambda n: [
        texts.whoami(n, "oauth"),
        texts.unlinked(n),
        texts.linked_notice(n, n + "x"),
        texts.home_link_status(n),
    ],
    "digest": lambda n: [
        texts.digest_item(n, item(n)),
        texts.digest_item(n, item(n, group=True)),
        texts.digest_kept(item(n), NOW),
        texts.digest_external_revoked(external(n)),
        texts.digest_external_revoked(external(n, ShareKind.GROUP)),
        texts.digest_external_failed(external(n)),
        texts.digest_external_now_ours(external(n)),
        texts.digest_admin_summary([OwnerCount(n, 2, NOW)], [(n, item(n))]),
        *_blocks(blocks.digest(7, n, [(item(n), Status.OPEN, None)] * 2, 2, timedelta(days=7))),
    ],
    "decisions": lambda n: [
        texts.decision_summary(make_decision(owner_hub=n, server=n)),
        texts.decision_summary(make_decision(kind=DecisionKind.REQUEST, owner_hub=n, server=n)),
        texts.decision_requester_copy(make_decision(owner_hub=n, server=n)),
        *_blocks(blocks.decision_for_decider(make_decision(owner_hub=n, server=n))),
    ],
    "home": lambda n: _mrkdwn_of(
        home_view.home_view(
            HomeTab(
                hub_user=n,
                shared_by=[make_grant(owner_hub=n, server=n)],
                shared_with=[make_grant(id=2, owner_hub=n, server=n)],
                to_decide=[make_decision(owner_hub=n, server=n)],
                mine_pending=[],
            )
        ).to_dict()
    ),
    "grant texts": lambda n: [
        texts.list_shares([make_grant(owner_hub=n, server=n)]),
        texts.revoke_summary([make_grant(server=n)], [make_grant(server=n)]),
        texts.cannot_extend(make_grant(server=n)),
        texts.home_confirm(make_grant(server=n), owner=True),
    ],
}


def _spans(text: str) -> list[str]:
    """The contents of the text's code spans (the text must have them balanced)."""
    parts = text.split("`")
    assert len(parts) % 2 == 1, f"unbalanced code spans in {text!r}"
    return parts[1::2]


def _outside(text: str) -> list[str]:
    return text.split("`")[0::2]


@pytest.mark.parametrize("what", sorted(RENDERERS))
@settings(max_examples=60, deadline=None)
@given(name=st.text(min_size=1, max_size=40))  # "" is the default server: other words
@example(name=NASTY[0])
@example(name=NASTY[1])
@example(name=NASTY[2])
@example(name=NASTY[3])
@example(name=NASTY[5])
@example(name=NASTY[6])
@example(name=NASTY[7])
@example(name=NASTY[8])
def test_a_hub_name_stays_inside_its_code_span(what: str, name: str) -> None:
    render = RENDERERS[what]
    shown = mrkdwn.code(name)[1:-1]
    baseline = render("plain-name")
    rendered = render(name)
    assert len(rendered) == len(baseline)
    for text, base in zip(rendered, baseline, strict=True):
        spans = _spans(text)
        for span in spans:
            assert "<" not in span and ">" not in span, text
            assert not ENTITY.search(span), text
            assert "\n" not in span, text
        # Outside its code spans the text is the same whatever the name: the name is in
        # them, all of it, and changes nothing else (no mention, link or formatting).
        if len(text) < 2900 and "…" not in text:
            assert _outside(text) == _outside(base), (text, base)
            if "plain-name" in base:
                assert any(shown in span for span in spans), text


@given(st.text())
def test_code_never_lets_the_name_out(name: str) -> None:
    span = mrkdwn.code(name)
    assert span.startswith("`") and span.endswith("`") and span.count("`") == 2
    assert "<" not in span and ">" not in span and not ENTITY.search(span)


def test_code_shows_the_name_as_the_hub_has_it() -> None:
    assert mrkdwn.code("gpu-1") == "`gpu-1`"
    assert mrkdwn.code("a`b") == "`a\u02cbb`"
    assert mrkdwn.code("x&lt;y") == "`x&amp;lt;y`"  # never decoded: shown as the hub has it
    assert mrkdwn.code("<!channel>") == "`&lt;!channel&gt;`"
    assert mrkdwn.code("two\nlines") == "`two lines`"


@given(st.text(max_size=300), st.integers(min_value=2, max_value=200))
def test_a_cut_keeps_markup_whole(name: str, limit: int) -> None:
    text = f"<@UOWNER> shared {mrkdwn.code(name)} and {mrkdwn.server_label(name, name)} <!here>"
    cut = mrkdwn.cut(text, limit)
    assert len(cut) <= limit
    assert cut.count("`") % 2 == 0
    assert cut.count("<") == cut.count(">")
    if "&" in cut:
        assert not re.search(r"&[a-z]*$", cut.removesuffix("…").removesuffix("`"))


def test_long_names_are_cut_without_breaking_the_section() -> None:
    long = "`" * 4000
    [section, *_] = json.loads(
        json.dumps(
            [
                b.to_dict()
                for b in blocks.decision_for_decider(make_decision(owner_hub=long, server=long))
            ]
        )
    )
    text = section["text"]["text"]
    assert len(text) <= blocks.SECTION_TEXT_LIMIT and text.endswith("…")
    assert text.count("`") % 2 == 0
