"""The App Home tab, rendered from what the store knows (pure; no I/O).

Four sections under the link status: shares of the person's servers (with Revoke, and
Extend for active shares with an end: the reminder's button, whose value names the deadline
it extends), what is
shared with them (with Leave), requests waiting for their decision (the same blocks and
buttons as the decision DMs) and their own pending requests (with Cancel). Slack allows at
most 100 blocks in a view: each section shows its newest items within a fair share of the
room and summarises the rest ("…and 37 more").

Admins (``SHAREBOT_ADMINS``) have a fifth, "All shares": every open grant of every owner,
a page at a time (Previous / Next), filtered by owner or server (a select), each with the
same Revoke button as the owner's. Its buttons carry the page and filter they lead to
(:func:`where_value`), so a click needs nothing remembered; its room is taken first.
"""

from __future__ import annotations

import json
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
    Option,
    OptionGroup,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.app.admin_view import AllShares, Where
from bot.app.messages import HOME_LIMIT
from bot.app.messages import HomeTab as HomeData
from bot.domain.grants import Grant, GrantState
from bot.domain.ids import number_of
from bot.slack import blocks, forms, texts

MAX_BLOCKS = HOME_LIMIT  # Slack's limit for a Home tab view
REVOKE_ACTION = "home_revoke"
LEAVE_ACTION = "home_leave"
# Previous, Next, Every owner (Slack wants distinct action ids within a block): each
# button's value is the Where it shows.
ALL_PREVIOUS_ACTION = "home_all_previous"
ALL_NEXT_ACTION = "home_all_next"
ALL_OWNERS_ACTION = "home_all_owners"
ALL_FILTER_ACTION = "home_all_filter"  # the select: each option's value is a Where

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
        forms.home_buttons(),
    ]
    admin = _all_shares(data.all_shares) if data.all_shares is not None else []
    fixed = len(out) + 3 * len(sections) + len(admin)  # divider, header, closing line each
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
    out.extend(admin)
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


def _all_shares(data: AllShares) -> list[Block]:
    """The admins' section: at most 5 blocks besides one per grant of the page."""
    where = data.where
    out: list[Block] = [
        DividerBlock(),
        HeaderBlock(text=texts.HOME_ALL_SHARES),
        _context(
            texts.home_all_summary(
                data.total,
                data.first,
                len(data.grants),
                where.page,
                data.pages,
                texts.home_all_filter(where.owner, where.server),
            )
        ),
    ]
    tools: list[StaticSelectElement | ButtonElement] = []
    select = _filter_select(data)
    if select is not None:
        tools.append(select)
    if where.filtered:
        tools.append(_page_button(texts.ALL_OWNERS_BUTTON, Where(), ALL_OWNERS_ACTION))
    if tools:
        out.append(ActionsBlock(block_id="home-all-filter", elements=tools))
    for grant in data.grants:
        out.append(_admin_grant_block(grant))
    if not data.grants:
        out.append(_context(texts.home_all_empty(where.filtered)))
    pages: list[ButtonElement] = []
    if data.has_previous:
        pages.append(
            _page_button(texts.PREVIOUS_BUTTON, where.at(where.page - 1), ALL_PREVIOUS_ACTION)
        )
    if data.has_next:
        pages.append(_page_button(texts.NEXT_BUTTON, where.at(where.page + 1), ALL_NEXT_ACTION))
    if pages:
        out.append(ActionsBlock(block_id="home-all-pages", elements=pages))
    return out


def _admin_grant_block(grant: Grant) -> SectionBlock:
    accessory = None
    if grant.state in (GrantState.INVITED, GrantState.ACTIVE):
        accessory = ButtonElement(
            text=texts.REVOKE_BUTTON,
            action_id=REVOKE_ACTION,  # the owner's button: revoke_grant lets admins too
            value=str(grant.id),
            style="danger",
            confirm=ConfirmObject(
                title=texts.REVOKE_BUTTON,
                text=texts.home_all_confirm(grant),
                confirm=texts.REVOKE_BUTTON,
                deny="Keep",
            ),
        )
    return SectionBlock(
        block_id=f"home-all-{grant.id}",  # the same grant may be in "Shared by you" too
        text=MarkdownTextObject(text=texts.home_all_share(grant)),
        accessory=accessory,
    )


def _page_button(text: str, where: Where, action_id: str) -> ButtonElement:
    return ButtonElement(text=text, action_id=action_id, value=where_value(where))


def _filter_select(data: AllShares) -> StaticSelectElement | None:
    """Owners, and their servers, with open grants (most grants first); names too long for
    an option's value are left out (they still show, unfiltered)."""
    chosen = data.where.at(0)
    owners: list[Option] = []
    initial: Option | None = None
    for owner, count in data.owners():
        option = _option(texts.filter_option_owner(owner, count), Where(0, owner))
        if option is not None:
            owners.append(option)
            if chosen == Where(0, owner):
                initial = option
    servers: list[Option] = []
    for p in data.servers():
        option = _option(
            texts.filter_option_server(p.owner, p.server, p.count), Where(0, p.owner, p.server)
        )
        if option is not None:
            servers.append(option)
            if chosen == Where(0, p.owner, p.server):
                initial = option
    groups = [
        OptionGroup(label=label, options=options)
        for label, options in ((texts.FILTER_OWNERS, owners), (texts.FILTER_SERVERS, servers))
        if options
    ]
    if not groups:
        return None
    return StaticSelectElement(
        action_id=ALL_FILTER_ACTION,
        placeholder=PlainTextObject(text=texts.FILTER_PLACEHOLDER),
        option_groups=groups,
        initial_option=initial,
    )


def _option(text: str, where: Where) -> Option | None:
    value = where_value(where)
    if len(value) > Option.value_max_length:
        return None
    return Option(text=PlainTextObject(text=text), value=value)


#: The longest page-or-filter value read from a click (a button's value is at most 2000).
WHERE_VALUE_LIMIT = 2000


def where_value(where: Where) -> str:
    """A page and filter as a button's or option's value: compact JSON."""
    data: dict[str, object] = {"p": where.page}
    if where.owner is not None:
        data["o"] = where.owner
    if where.server is not None:
        data["s"] = where.server
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def where_of(value: str | None) -> Where | None:
    """The page and filter a click carries; None for anything else (a forged value)."""
    if not value or len(value) > WHERE_VALUE_LIMIT:
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict) or set(data) - {"p", "o", "s"}:
        return None
    page, owner, server = data.get("p"), data.get("o"), data.get("s")
    if type(page) is not int or not all(v is None or isinstance(v, str) for v in (owner, server)):
        return None
    try:
        return Where(page, owner, server)
    except ValueError:
        return None


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
    return number_of(value)
