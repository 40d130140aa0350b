"""The Slack layer's words for what the use cases say and return.

:func:`render` turns a :mod:`bot.app.messages` message into text and blocks;
:func:`reply` turns an outcome of :mod:`bot.app.outcomes` (or a refusal, or an error)
into the text of an ephemeral answer. The sentences themselves are in
:mod:`bot.slack.texts`, the blocks in :mod:`bot.slack.blocks`; this module picks which.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import singledispatch

from slack_sdk.models.blocks import Block

from bot.app import messages as m
from bot.app import outcomes as o
from bot.app.outcomes import Reason, Refusal
from bot.domain.access import AccessFlag
from bot.domain.decisions import Decision
from bot.domain.grants import EndReason, Grant
from bot.errors import SharebotError
from bot.slack import blocks, mrkdwn, texts


def _rendered(text: str, message_blocks: list[Block] | None = None) -> m.Rendered:
    return m.Rendered(text, [b.to_dict() for b in message_blocks] if message_blocks else None)


# -- messages ------------------------------------------------------------------------------


@singledispatch
def render(message: m.Message) -> m.Rendered:
    raise TypeError(f"no words for {type(message).__name__}")


@render.register
def _(message: m.Invitation) -> m.Rendered:
    grant = message.grant
    return _rendered(texts.invitation_dm(grant), blocks.invitation(grant, message.accept_url))


@render.register
def _(message: m.Accepted) -> m.Rendered:
    return _rendered(texts.accepted_owner(message.grant))


@render.register
def _(message: m.Lapsed) -> m.Rendered:
    return _rendered(texts.lapsed_owner(message.grant))


@render.register
def _(message: m.Ended) -> m.Rendered:
    grant, kept = message.grant, message.kept
    owner = message.audience is m.Audience.OWNER
    if message.reason is EndReason.EXPIRED:
        if owner:
            text = texts.expired_owner(grant, kept)
            return _rendered(text, blocks.ended_for_owner(grant, text))
        return _rendered(texts.expired_recipient(grant, kept))
    if message.reason is EndReason.LEFT:
        text = texts.left_owner(grant, kept)
        return _rendered(text, blocks.ended_for_owner(grant, text))
    return _rendered(texts.revoked_recipient(grant, kept))


@render.register
def _(message: m.Withdrawn) -> m.Rendered:
    return _rendered(texts.withdrawn_recipient(message.grant))


@render.register
def _(message: m.Declined) -> m.Rendered:
    return _rendered(texts.declined_owner(message.grant))


@render.register
def _(message: m.LinkSpent) -> m.Rendered:
    if message.misused:
        return _rendered(texts.link_spent_recipient(message.grant))
    return _rendered(texts.link_spent_owner(message.grant))


@render.register
def _(message: m.LinkMisused) -> m.Rendered:
    return _rendered(texts.misused_owner(message.grant, message.intruder, message.removed))


@render.register
def _(message: m.UnexplainedAccess) -> m.Rendered:
    return _rendered(
        texts.unexplained_owner(message.grant, message.flag),
        blocks.unexplained_access(message.grant, message.flag),
    )


@render.register
def _(message: m.InvitationNotRecovered) -> m.Rendered:
    return _rendered(texts.invitation_not_recovered(message.grant))


@render.register
def _(message: m.RevokedByAdmin) -> m.Rendered:
    return _rendered(texts.revoked_by_admin(message.grant, message.admin))


@render.register
def _(message: m.Reminder) -> m.Rendered:
    if message.audience is m.Audience.OWNER:
        return _rendered(
            texts.reminder_owner(message.grant), blocks.reminder_for_owner(message.grant)
        )
    return _rendered(
        texts.reminder_recipient(message.grant), blocks.reminder_for_recipient(message.grant)
    )


@render.register
def _(message: m.ExtendedForRecipient) -> m.Rendered:
    return _rendered(texts.extended_recipient(message.grant))


@render.register
def _(message: m.ExtensionReason) -> m.Rendered:
    return _rendered(texts.extension_reason(message.grant, message.total))


@render.register
def _(message: m.DecisionCopy) -> m.Rendered:
    decision = message.decision
    if message.audience is m.CopyFor.DECIDER:
        return _rendered(texts.decision_summary(decision), blocks.decision_for_decider(decision))
    return _rendered(
        texts.decision_requester_copy(decision), blocks.decision_for_requester(decision)
    )


@render.register
def _(message: m.DecisionClosed) -> m.Rendered:
    return _rendered(
        texts.decision_outcome(message.decision),
        blocks.decision_closed(message.decision, message.audience),
    )


@render.register
def _(message: m.DecisionResult) -> m.Rendered:
    detail = reply(message.detail) if message.detail is not None else ""
    return _rendered(texts.decision_result_dm(message.decision, detail))


@render.register
def _(message: m.Digest) -> m.Rendered:
    return _rendered(
        texts.digest_fallback(message.still_open),
        blocks.digest(
            message.message_id,
            message.owner_hub,
            list(message.statuses),
            message.total,
            message.snooze,
        ),
    )


@render.register
def _(message: m.DigestSummary) -> m.Rendered:
    text = texts.digest_admin_summary(list(message.counts), list(message.oldest))
    return _rendered(text, blocks.text_message(text))


@render.register
def _(message: m.Linked) -> m.Rendered:
    return _rendered(texts.linked_notice(message.hub_user, message.previous))


@render.register
def _(message: m.LinkAttempted) -> m.Rendered:
    return _rendered(texts.link_attempted(message.hub_user, message.by))


@render.register
def _(message: m.ServerWaiting) -> m.Rendered:
    return _rendered(texts.server_waiting_owner(message.grant))


@render.register
def _(message: m.GateRefused) -> m.Rendered:
    return _rendered(texts.gate_refused_owner(message.grant, message.hub_user))


@render.register
def _(message: m.NoticeGivenUp) -> m.Rendered:
    return _rendered(
        texts.notice_given_up_admin(message.slack_id, message.key, message.attempts, message.error)
    )


# -- replies ---------------------------------------------------------------------------------


@singledispatch
def reply(outcome: object) -> str:
    """The ephemeral answer for an outcome (a string is already one)."""
    if isinstance(outcome, str):
        return outcome
    raise TypeError(f"no words for {type(outcome).__name__}")


@reply.register
def _(error: SharebotError) -> str:
    if isinstance(error, o.Refused):
        return refusal(error.refusal)
    return error.user_message


@reply.register
def _(outcome: Refusal) -> str:
    return refusal(outcome)


@reply.register
def _(outcome: o.ShareOutcome) -> str:
    if len(outcome.invited) > texts.LIST_INVITED_UP_TO:
        lines = [texts.invited_many(outcome.invited)]
    else:
        lines = [texts.invited(g) for g in outcome.invited]
    lines += [texts.invite_failed(who, reply(why)) for who, why in outcome.failed]
    if outcome.left_out:
        lines.append(_left_out(outcome.left_out))
    return "\n".join(lines)


@reply.register
def _left_out(left: o.LeftOut) -> str:
    return texts.left_out(left.owner, list(left.unlinked), dict(left.why_not))


@reply.register
def _(outcome: o.GroupShared) -> str:
    return texts.group_shared(outcome.grant)


@reply.register
def _(outcome: o.ShareList) -> str:
    return texts.list_shares(list(outcome.grants))


@reply.register
def _(outcome: o.RevokeResult) -> str:
    return texts.revoke_summary(list(outcome.done), list(outcome.pending))


@reply.register
def _(outcome: o.LeaveResult) -> str:
    return texts.left_answer(outcome.grant, outcome.done)


@reply.register
def _(outcome: o.FlagDecided) -> str:
    return texts.flag_decided(outcome.flag)


@reply.register
def _(outcome: o.Held) -> str:
    decision = outcome.decision
    held = texts.held_for_approval(decision, list(outcome.reasons), posted_to(outcome.posted_to))
    return f"{held}\n{_left_out(outcome.left_out)}" if outcome.left_out else held


@reply.register
def _(outcome: o.RequestSent) -> str:
    return texts.request_sent(outcome.decision, posted_to(outcome.posted_to))


@reply.register
def _(outcome: o.Extended) -> str:
    return texts.extended_owner(outcome.grant)


@reply.register
def _(outcome: o.ExtensionHeld) -> str:
    decision = outcome.decision
    return texts.extension_held(decision, list(outcome.reasons), posted_to(outcome.posted_to))


@reply.register
def _(outcome: o.Decided) -> str:
    detail = reply(outcome.detail) if outcome.detail is not None else ""
    return texts.decided_for_clicker(outcome.decision) + (f" {detail}" if detail else "")


@reply.register
def _(outcome: o.DigestKept) -> str:
    return texts.digest_kept(outcome.item, outcome.until)


@reply.register
def _(outcome: o.ExternalRevoked) -> str:
    return texts.digest_external_revoked(outcome.share)


@reply.register
def _(outcome: o.ExternalRevokeFailed) -> str:
    return texts.digest_external_failed(outcome.share)


@reply.register
def _(outcome: o.ExternalNowOurs) -> str:
    return texts.digest_external_now_ours(outcome.share)


@reply.register
def _(outcome: o.Several) -> str:
    return "\n".join(reply(one) for one in outcome.outcomes)


@reply.register
def _(outcome: o.LinkOffer) -> str:
    return texts.link_offer(outcome.url)


@reply.register
def _(outcome: o.Unlinked) -> str:
    return texts.unlinked(outcome.previous)


@reply.register
def _(outcome: o.WhoAmI) -> str:
    return texts.whoami(outcome.hub_user, outcome.method)


def posted_to(to: o.PostedTo) -> str:
    if to.channel is not None:
        return f"the approvers in <#{to.channel}>"
    return ", ".join(mrkdwn.user(p) for p in to.people)


def _nothing_to_revoke(refused: Refusal) -> str:
    where = f" on server {mrkdwn.code(refused.server)}" if refused.server else ""
    if refused.people:
        who = ", ".join(mrkdwn.user(r) for r in refused.people)
        where = f" with {who}{where}"
    return texts.nothing_to_revoke(where)


def _over_limit(refused: Refusal) -> str:
    assert refused.grant is not None and refused.total is not None and refused.limit
    return texts.extension_over_limit(refused.grant, refused.total, refused.limit)


def _about_grant(say: Callable[[Grant], str]) -> Callable[[Refusal], str]:
    def words(refused: Refusal) -> str:
        assert refused.grant is not None, refused
        return say(refused.grant)

    return words


def _about_decision(say: Callable[[Decision], str]) -> Callable[[Refusal], str]:
    def words(refused: Refusal) -> str:
        assert refused.decision is not None, refused
        return say(refused.decision)

    return words


def _about_flag(say: Callable[[AccessFlag], str]) -> Callable[[Refusal], str]:
    def words(refused: Refusal) -> str:
        assert refused.flag is not None, refused
        return say(refused.flag)

    return words


_REFUSALS: dict[Reason, Callable[[Refusal], str]] = {
    Reason.SELF_SHARE: lambda _: texts.self_share(),
    Reason.UNKNOWN_SERVER: lambda r: texts.unknown_server(r.server or "", list(r.available)),
    Reason.OWNER_HAS_NO_SERVER: lambda r: texts.owner_has_no_server(
        r.people[0] if r.people else "", r.server or ""
    ),
    Reason.NOT_LINKED_CALLER: lambda r: texts.not_linked_caller(r.why),
    Reason.NOT_LINKED_RECIPIENTS: lambda r: texts.not_linked_recipients(
        list(r.people), dict(r.why_not)
    ),
    Reason.SHARE_CLOSED: lambda _: texts.share_closed(),
    Reason.CLOSED_WHILE_INVITING: lambda _: texts.share_closed(),
    Reason.ONLY_OWNER_REVOKES: lambda _: texts.only_owner_revokes(),
    Reason.ONLY_RECIPIENT_LEAVES: lambda _: texts.only_recipient_leaves(),
    Reason.ONLY_ADMINS: lambda _: texts.only_admins(),
    Reason.NOTHING_TO_REVOKE: _nothing_to_revoke,
    Reason.FLAG_NOT_YOURS: lambda _: texts.flag_not_yours(),
    Reason.FLAG_SETTLED: _about_flag(texts.flag_settled),
    Reason.FLAG_REMOVE_FAILED: _about_flag(texts.flag_remove_failed),
    Reason.NO_APPROVERS: lambda _: texts.no_approvers(),
    Reason.NO_OTHER_DECIDER: lambda _: texts.no_other_decider(),
    Reason.SELF_REQUEST: lambda _: texts.self_request(),
    Reason.ONLY_OWNER_EXTENDS: lambda _: texts.only_owner_extends(),
    Reason.CANNOT_EXTEND: _about_grant(texts.cannot_extend),
    Reason.ALREADY_EXTENDED: _about_grant(texts.already_extended),
    Reason.EXTENSION_OVER_LIMIT: _over_limit,
    Reason.EXTENSION_PENDING: lambda _: texts.extension_pending(),
    Reason.EXTENSION_GONE: lambda _: texts.extension_failed_gone(),
    Reason.ONLY_RECIPIENT_ASKS: lambda _: texts.only_recipient_asks(),
    Reason.MORE_TIME_PENDING: lambda _: texts.more_time_pending(),
    Reason.ONLY_OWNER_SHARES_AGAIN: lambda _: texts.only_owner_shares_again(),
    Reason.SHARE_AGAIN_OPEN: _about_grant(texts.share_again_open),
    Reason.SHARE_AGAIN_NOT_ENDED: _about_grant(texts.share_again_not_ended),
    Reason.SHARE_AGAIN_TOO_LONG: lambda r: texts.share_again_too_long(r.grant, r.limit),
    Reason.DECISION_GONE: lambda _: texts.decision_gone(),
    Reason.NOT_A_DECIDER: _about_decision(texts.not_a_decider),
    Reason.ALREADY_DECIDED: _about_decision(texts.already_decided),
    Reason.ONLY_REQUESTER_CANCELS: lambda _: texts.only_requester_cancels(),
    Reason.SHORTER_ONLY: lambda _: texts.shorter_only(),
    Reason.DIGEST_UNKNOWN_ITEM: lambda _: texts.digest_unknown_item(),
    Reason.DIGEST_NOT_YOURS: lambda _: texts.digest_not_yours(),
    Reason.DIGEST_ALREADY_HANDLED: lambda _: texts.digest_already_handled(),
    Reason.DIGEST_NOTHING_LEFT: lambda _: texts.digest_nothing_left(),
    Reason.LINKING_NOT_CONFIGURED: lambda _: texts.linking_not_configured(),
    Reason.TOO_MANY_SENT: lambda r: texts.too_many_sent(r.sent, r.adding, r.per_minute),
    Reason.BAD_PATH: lambda r: texts.bad_path(r.why or ""),
    Reason.TOO_MANY_RECIPIENTS: lambda r: texts.too_many_recipients(r.count, r.cap),
    Reason.UNKNOWN_HUB_GROUP: lambda r: texts.unknown_hub_group(r.why or ""),
    Reason.NOBODY_TO_SHARE_WITH: lambda r: texts.nobody_to_share_with(
        list(r.people), dict(r.why_not)
    ),
}


def refusal(refused: Refusal) -> str:
    """The words for why nothing was done (every reason has them: a test checks)."""
    return _REFUSALS[refused.reason](refused)
