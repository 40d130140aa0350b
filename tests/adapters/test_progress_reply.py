"""The progress a share with many people shows in its reply: at most three posts to the
response URL (Slack takes five), each after the first replacing the one before."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.listeners.commands import ProgressReply


class Respond:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []

    async def __call__(self, **kwargs: Any) -> None:
        self.posts.append(kwargs)


@pytest.mark.parametrize("total", [11, 12, 30, 200])
async def test_at_most_three_posts_in_place(total: int) -> None:
    respond = Respond()
    shown = ProgressReply(respond)  # type: ignore[arg-type]
    for done in range(1, total + 1):
        await shown(done, total)
    assert 1 <= len(respond.posts) <= 3
    assert [p["replace_original"] for p in respond.posts] == [False] + [True] * (
        len(respond.posts) - 1
    )
    assert respond.posts[0]["text"].startswith(f"Sharing with {total} people: 1 of {total}")
    assert all(p["response_type"] == "ephemeral" for p in respond.posts)
    assert shown.posted  # the answer then replaces the progress


async def test_small_shares_show_no_progress() -> None:
    respond = Respond()
    shown = ProgressReply(respond)  # type: ignore[arg-type]
    for done in range(1, 11):
        await shown(done, 10)
    assert respond.posts == [] and not shown.posted


async def test_calls_out_of_order_post_no_more() -> None:
    respond = Respond()
    shown = ProgressReply(respond)  # type: ignore[arg-type]
    for done in [3, 1, 2, 40, 39, 80, 81, 5, 119, 120]:
        await shown(done, 120)
    assert len(respond.posts) <= 3
