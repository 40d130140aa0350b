"""The Slack layer has words for everything the use cases say and return."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import timedelta

from bot.app import messages, outcomes
from bot.app.outcomes import Reason, Refusal, RevokeResult
from bot.domain.access import AccessFlag, FlagKind, FlagState
from bot.domain.decisions import Decision, DecisionKind, DecisionState
from bot.slack import replies
from tests.support.factories import ACCESS, NOW, make_grant

GRANT = make_grant(accepted_at=NOW)
DECISION = Decision(
    id=7,
    kind=DecisionKind.REQUEST,
    state=DecisionState.PENDING,
    requester_slack_id="UALICE",
    owner_slack_id="UOWNER",
    owner_hub="owner",
    server="",
    recipients=("UALICE",),
    duration=timedelta(hours=1),
    extras=(),
    reason="",
    created_at=NOW,
    expires_at=NOW + timedelta(days=1),
)
FLAG = AccessFlag(3, FlagKind.UNEXPLAINED, FlagState.PENDING, 1, "owner", "", "carol", ACCESS, NOW)


def test_every_refusal_has_words() -> None:
    for reason in Reason:
        refused = Refusal(
            reason,
            grant=GRANT,
            decision=DECISION,
            flag=FLAG,
            server="gpu",
            available=("",),
            people=("UALICE",),
            total=timedelta(days=4),
            limit=timedelta(days=3),
        )
        assert replies.refusal(refused), reason


def test_every_message_and_outcome_has_a_renderer() -> None:
    base_render = replies.render.dispatch(object)
    for _, cls in inspect.getmembers(messages, inspect.isclass):
        if issubclass(cls, messages.Message) and cls is not messages.Message:
            assert replies.render.dispatch(cls) is not base_render, cls.__name__
    base_reply = replies.reply.dispatch(object)
    for _, cls in inspect.getmembers(outcomes, inspect.isclass):
        if cls.__module__ == outcomes.__name__ and dataclasses.is_dataclass(cls):
            if cls is outcomes.PostedTo:
                continue  # a part of other outcomes, not one
            assert replies.reply.dispatch(cls) is not base_reply, cls.__name__


def test_an_outcome_becomes_the_answer_people_read() -> None:
    done = RevokeResult(done=(GRANT,))
    assert replies.reply(done) == "• revoked access for <@UALICE> on `owner`'s default server"
    refused = Refusal(Reason.NOTHING_TO_REVOKE, people=("UBOB",), server="gpu")
    assert replies.reply(refused) == (
        "You have no open shares with <@UBOB> on server `gpu` to revoke."
    )
