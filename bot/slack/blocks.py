"""Block Kit builders (pure), with slack_sdk's models so Slack's limits are checked."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.domain.grants import Grant
from bot.slack import texts

ACCEPT_ACTION = "open_accept_link"


def invitation(grant: Grant, accept_url: str) -> list[Block]:
    """The recipient's DM. ``accept_url`` is secret: it lives only in this message."""
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=texts.invitation_dm(grant))),
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
