"""The App Home tab, rendered from what the store knows (pure; no I/O).

Four sections under the link status: shares of the person's servers (with Revoke, and
Extend for active shares with an end: the reminder's button, whose value names the deadline
it extends), what is
shared with them (with Leave), requests waiting for their decision (the same blocks and
buttons as the decision DMs) and their own pending requests (with Cancel). Slack allows at
most 100 blocks in a view: each section shows its newest items within a fair share of the
room and summarises the rest ("…and 37 more").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.app.messages import HOME_LIMIT
from bot.app.messages import HomeTab as HomeData
from bot.domain.grants import Grant, GrantState
from bot.slack import blocks, texts

MAX_BLOCKS = HOME_LIMIT  # Slack's limit for a Home tab view
REVOKE_ACTION = "home_revoke"
LEAVE_ACTION = "home_leave"

T = TypeVar("T")


@dataclass
class _Section:
    title: str
    per_item: int  # blocks per item
    items: list[Block] = field(default_factory=list)  # rendered, newest first
    count: int = 0
    more_hint: str | None = None


def home_view(data: HomeData) -> View:
    sections = [
        _section(
            texts.HOME_TO_DECIDE,
            data.to_decide,
            blocks.decision_for_decider,
            per_item=2,
            newest=lambda d: d.created_at,
        ),
        _section(
            texts.HOME_SHARED_BY,
            data.shared_by,
            lambda g: [_grant_block(g, owner=True), _owner_actions(g)],
            per_item=2,
            newest=lambda g: g.created_at,
            more_hint="`/share-server list`",
            total=data.shared_by_total,
        ),
        _section(
            texts.HOME_SHARED_WITH,
            data.shared_with,
            lambda g: [_grant_block(g, owner=False)],
            per_item=1,
            newest=lambda g: g.created_at,
            total=data.shared_with_total,
        ),
        _section(
            texts.HOME_MINE_PENDING,
            data.mine_pending,
            blocks.decision_for_requester,
            per_item=2,
            newest=lambda d: d.created_at,
        ),
    ]
    out: list[Block] = [
        HeaderBlock(text=texts.HOME_TITLE),
        SectionBlock(text=MarkdownTextObject(text=texts.home_link_status(data.hub_user))),
    ]
    fixed = len(out) + 3 * len(sections)  # divider, header and a closing line each
    shown = _fair_counts([(s.count, s.per_item) for s in sections], MAX_BLOCKS - fixed)
    for section, count in zip(sections, shown, strict=True):
        out.append(DividerBlock())
        out.append(HeaderBlock(text=section.title))
        out.extend(section.items[: count * section.per_item])
        hidden = section.count - count
        if section.count == 0:
            out.append(_context(texts.home_empty(section.title)))
        elif hidden:
            out.append(_context(texts.home_more(hidden, section.more_hint)))
    view = View(type="home", blocks=out)
    view.validate_json()
    return view


def _section(
    title: str,
    items: Sequence[T],
    render: Callable[[T], list[Block]],
    *,
    per_item: int,
    newest: Callable[[T], object],
    more_hint: str | None = None,
    total: int | None = None,
) -> _Section:
    ordered = sorted(items, key=newest, reverse=True)  # type: ignore[arg-type]
    count = len(ordered) if total is None else max(total, len(ordered))
    section = _Section(title, per_item, count=count, more_hint=more_hint)
    budget = MAX_BLOCKS // per_item  # never render more than could ever be shown
    for item in ordered[:budget]:
        rendered = render(item)
        assert len(rendered) == per_item
        section.items.extend(rendered)
    return section


def _fair_counts(wanted: list[tuple[int, int]], room: int) -> list[int]:
    """How many items of each section fit in ``room`` blocks, sharing it fairly.

    ``wanted`` is (items, blocks per item) per section. Sections that need less than an
    equal share get all they need; the others split what is left equally.
    """
    counts = [0] * len(wanted)
    left = list(range(len(wanted)))
    while left:
        share = room // len(left)
        small = [i for i in left if wanted[i][0] * wanted[i][1] <= share]
        if not small:
            for i in left:
                counts[i] = share // wanted[i][1]
            break
        for i in small:
            counts[i] = wanted[i][0]
            room -= wanted[i][0] * wanted[i][1]
            left.remove(i)
    return counts


def _grant_block(grant: Grant, *, owner: bool) -> SectionBlock:
    text = texts.home_shared_by(grant) if owner else texts.home_shared_with(grant)
    accessory = None
    if grant.state in (GrantState.INVITED, GrantState.ACTIVE):
        accessory = ButtonElement(
            text=texts.REVOKE_BUTTON if owner else texts.LEAVE_BUTTON,
            action_id=REVOKE_ACTION if owner else LEAVE_ACTION,
            value=str(grant.id),
            style="danger",
            confirm=ConfirmObject(
                title=texts.REVOKE_BUTTON if owner else texts.LEAVE_BUTTON,
                text=texts.home_confirm(grant, owner=owner),
                confirm=texts.REVOKE_BUTTON if owner else texts.LEAVE_BUTTON,
                deny="Keep",
            ),
        )
    return SectionBlock(
        block_id=f"home-grant-{grant.id}",
        text=MarkdownTextObject(text=text),
        accessory=accessory,
    )


def _owner_actions(grant: Grant) -> Block:
    """Under each share of the owner's: Extend (the reminder's button) when it is active
    and has an end, otherwise a line saying why not."""
    if grant.state is GrantState.ACTIVE and grant.expires_at is not None:
        return ActionsBlock(
            block_id=f"home-extend-{grant.id}",
            elements=[
                ButtonElement(
                    text=texts.extend_button(grant),
                    action_id=blocks.EXTEND_ACTION,
                    value=f"{grant.id}@{int(grant.expires_at.timestamp())}",
                )
            ],
        )
    return _context(texts.home_no_extend(grant))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def grant_id_of(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None
