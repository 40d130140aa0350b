"""Block Kit builders (pure), with slack_sdk's models so Slack's limits are checked."""

from __future__ import annotations

from datetime import datetime, timedelta

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    InputBlock,
    InteractiveElement,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.domain.access import AccessFlag
from bot.domain.decisions import Decision, shorter_durations
from bot.domain.digest import Item, Status
from bot.domain.durations import format_duration
from bot.domain.grants import Grant
from bot.domain.ids import number_of
from bot.slack import mrkdwn, texts

ACCEPT_ACTION = "open_accept_link"

SECTION_TEXT_LIMIT = 3000


def _section(text: str) -> SectionBlock:
    # Slack's limit for a section's text; the cut leaves no code span or mention open
    return SectionBlock(text=MarkdownTextObject(text=mrkdwn.cut(text, SECTION_TEXT_LIMIT)))


def invitation(grant: Grant, accept_url: str) -> list[Block]:
    """The recipient's DM. ``accept_url`` is secret: it lives only in this message."""
    blocks: list[Block] = [
        _section(texts.invitation_dm(grant)),
        ActionsBlock(
            block_id=f"grant-{grant.id}",
            elements=[
                ButtonElement(
                    text=texts.ACCEPT_BUTTON,
                    action_id=ACCEPT_ACTION,
                    url=accept_url,
                    value=str(grant.id),
                    style="primary",
                )
            ],
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="You will log in to JupyterHub if needed. The link works once; "
                    "do not forward it."
                )
            ]
        ),
    ]
    for block in blocks:
        block.validate_json()
    return blocks


# -- reminders and extensions -----------------------------------------------------------

EXTEND_ACTION = "grant_extend"


def reminder_for_owner(grant: Grant) -> list[Block]:
    """The owner's reminder: when access ends, and Extend (only the owner may click).

    The button carries the grant id and the deadline it extends (``42@1764158400``), so a
    second click after the deadline moved extends nothing.
    """
    assert grant.expires_at is not None
    return _checked(
        [
            _section(texts.reminder_owner(grant)),
            ActionsBlock(
                block_id=f"extend-{grant.id}",
                elements=[
                    ButtonElement(
                        text=texts.extend_button(grant),
                        action_id=EXTEND_ACTION,
                        value=f"{grant.id}@{int(grant.expires_at.timestamp())}",
                        style="primary",
                    )
                ],
            ),
        ]
    )


MORE_TIME_ACTION = "grant_more_time"


def reminder_for_recipient(grant: Grant) -> list[Block]:
    """The recipient's reminder: when access ends, and Ask for more time (a request to the
    owner; only the recipient may click). The button's value is an Extend target."""
    assert grant.expires_at is not None
    return _checked(
        [
            _section(texts.reminder_recipient(grant)),
            ActionsBlock(
                block_id=f"more-time-{grant.id}",
                elements=[
                    ButtonElement(
                        text=texts.more_time_button(grant),
                        action_id=MORE_TIME_ACTION,
                        value=f"{grant.id}@{int(grant.expires_at.timestamp())}",
                    )
                ],
            ),
        ]
    )


SHARE_AGAIN_ACTION = "grant_share_again"


def ended_for_owner(grant: Grant, text: str) -> list[Block]:
    """The owner's end-of-share DM: what ended, and Share again (the same person, server,
    duration and permissions, through the share use case and policy)."""
    return _checked(
        [
            _section(text),
            ActionsBlock(
                block_id=f"share-again-{grant.id}",
                elements=[
                    ButtonElement(
                        text=texts.SHARE_AGAIN_BUTTON,
                        action_id=SHARE_AGAIN_ACTION,
                        value=str(grant.id),
                    )
                ],
            ),
        ]
    )


def extend_target(value: str | None) -> tuple[int, int] | None:
    """(grant id, deadline as epoch seconds) from an Extend button's value."""
    grant_id, _, epoch = (value or "").partition("@")
    found, deadline = number_of(grant_id), number_of(epoch)
    return None if found is None or deadline is None else (found, deadline)


# -- unexplained access -----------------------------------------------------------------

FLAG_REVOKE_ACTION = "flag_revoke"
FLAG_KEEP_ACTION = "flag_keep"


def unexplained_access(grant: Grant, flag: AccessFlag) -> list[Block]:
    """The owner's DM about access a link may have given someone: Revoke or Keep (only
    whoever is linked to the server's owner may click; the buttons carry the flag id)."""
    return _checked(
        [
            _section(texts.unexplained_owner(grant, flag)),
            ActionsBlock(
                block_id=f"flag-{flag.id}",
                elements=[
                    ButtonElement(
                        text=texts.REVOKE_BUTTON,
                        action_id=FLAG_REVOKE_ACTION,
                        value=str(flag.id),
                        style="danger",
                    ),
                    ButtonElement(
                        text=texts.FLAG_KEEP_BUTTON, action_id=FLAG_KEEP_ACTION, value=str(flag.id)
                    ),
                ],
            ),
        ]
    )


def flag_id_of(value: str | None) -> int | None:
    return number_of(value)


# -- requests and approvals -------------------------------------------------------------

APPROVE_ACTION = "decision_approve"
APPROVE_FOR_ACTION = "decision_approve_for"
DENY_ACTION = "decision_deny"
CANCEL_ACTION = "decision_cancel"
DENY_MODAL = "decision_deny_modal"
DENY_REASON_BLOCK = "reason"
DENY_REASON_INPUT = "reason_input"


def decision_for_decider(decision: Decision) -> list[Block]:
    """The approver's (or owner's) copy: the facts and Approve / Approve for less / Deny."""
    elements: list[InteractiveElement] = [
        ButtonElement(
            text="Approve",
            action_id=APPROVE_ACTION,
            value=str(decision.id),
            style="primary",
        )
    ]
    shorter = shorter_durations(decision.duration)
    if shorter:
        elements.append(
            StaticSelectElement(
                placeholder="Approve for less…",
                action_id=APPROVE_FOR_ACTION,
                options=[
                    Option(text=format_duration(d), value=str(int(d.total_seconds())))
                    for d in shorter
                ],
            )
        )
    elements.append(
        ButtonElement(text="Deny", action_id=DENY_ACTION, value=str(decision.id), style="danger")
    )
    return _checked(
        [
            _section(texts.decision_summary(decision)),
            ActionsBlock(block_id=f"decision-{decision.id}", elements=elements),
        ]
    )


def decision_for_requester(decision: Decision) -> list[Block]:
    return _checked(
        [
            _section(texts.decision_requester_copy(decision)),
            ActionsBlock(
                block_id=f"decision-{decision.id}",
                elements=[
                    ButtonElement(
                        text="Cancel request", action_id=CANCEL_ACTION, value=str(decision.id)
                    )
                ],
            ),
        ]
    )


def decision_closed(decision: Decision, audience: str) -> list[Block]:
    """Any copy after the decision: the facts, and the outcome instead of buttons."""
    text = (
        texts.decision_summary(decision)
        if audience == "decider"
        else texts.decision_requester_copy(decision)
    )
    return _checked(
        [
            _section(text),
            ContextBlock(elements=[MarkdownTextObject(text=texts.decision_outcome(decision))]),
        ]
    )


def deny_modal(decision_id: int) -> View:
    view = View(
        type="modal",
        callback_id=DENY_MODAL,
        private_metadata=str(decision_id),
        title=PlainTextObject(text=texts.DENY_MODAL_TITLE),
        submit=PlainTextObject(text="Deny"),
        close=PlainTextObject(text="Back"),
        blocks=[
            InputBlock(
                block_id=DENY_REASON_BLOCK,
                label=texts.DENY_REASON_LABEL,
                optional=True,
                element=PlainTextInputElement(
                    action_id=DENY_REASON_INPUT, multiline=True, max_length=500
                ),
            )
        ],
    )
    view.validate_json()
    return view


def decision_id_of(block_id: str | None, value: str | None = None) -> int | None:
    """The decision id a click is about, from the button's value or the block id."""
    for candidate in (value, (block_id or "").removeprefix("decision-")):
        if (found := number_of(candidate)) is not None:
            return found
    return None


def _checked(blocks: list[Block]) -> list[Block]:
    for block in blocks:
        block.validate_json()
    return blocks


# -- the daily digest -------------------------------------------------------------------

DIGEST_REVOKE_ACTION = "digest_revoke"
DIGEST_KEEP_ACTION = "digest_keep"
DIGEST_REVOKE_ALL_ACTION = "digest_revoke_all"


def digest(
    message_id: int,
    owner_hub: str,
    items: list[tuple[Item, Status, datetime | None]],
    total: int,
    snooze: timedelta,
) -> list[Block]:
    """An owner's digest: each stale share with Revoke and Keep (or what became of it),
    then Revoke all stale. Buttons carry only the item (``grant:12``); every block id
    names the digest message (``digest-7``, ``digest-7-2``)."""
    still_open = [item for item, status, _ in items if status is Status.OPEN]
    result: list[Block] = [_section(texts.digest_intro(total, len(items)))]
    for n, (item, status, at) in enumerate(items):
        result.append(_section(texts.digest_item(owner_hub, item)))
        if status is Status.OPEN:
            result.append(
                ActionsBlock(
                    block_id=f"digest-{message_id}-{n}",
                    elements=[
                        ButtonElement(
                            text=texts.DIGEST_REVOKE_BUTTON,
                            action_id=DIGEST_REVOKE_ACTION,
                            value=item.ref,
                            style="danger",
                        ),
                        ButtonElement(
                            text=texts.DIGEST_KEEP_BUTTON,
                            action_id=DIGEST_KEEP_ACTION,
                            value=item.ref,
                        ),
                    ],
                )
            )
        else:
            result.append(
                ContextBlock(
                    elements=[MarkdownTextObject(text=texts.digest_item_status(status, at))]
                )
            )
    if len(still_open) > 1:
        result.append(
            ActionsBlock(
                block_id=f"digest-{message_id}",
                elements=[
                    ButtonElement(
                        text=texts.DIGEST_REVOKE_ALL_BUTTON,
                        action_id=DIGEST_REVOKE_ALL_ACTION,
                        value=str(message_id),
                        style="danger",
                        confirm=ConfirmObject(
                            title=texts.REVOKE_ALL_CONFIRM_TITLE,
                            text=texts.REVOKE_ALL_CONFIRM_TEXT,
                            confirm=texts.DIGEST_REVOKE_ALL_BUTTON,
                            deny="Cancel",
                        ),
                    )
                ],
            )
        )
    result.append(
        ContextBlock(
            elements=[MarkdownTextObject(text=texts.digest_footer(format_duration(snooze)))]
        )
    )
    return _checked(result)


def digest_message_id(block_id: str | None) -> int | None:
    """The digest message a click came from, from the block id (``digest-7-2`` -> 7)."""
    parts = (block_id or "").split("-")
    if len(parts) in (2, 3) and parts[0] == "digest":
        return number_of(parts[1])
    return None


def text_message(text: str) -> list[Block]:
    """A plain message as sections, split to stay within Slack's limits."""
    chunks: list[str] = []
    for line in text.split("\n"):
        if chunks and len(chunks[-1]) + len(line) + 1 <= SECTION_TEXT_LIMIT:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line)
    return _checked([_section(chunk) for chunk in chunks[:49]])
