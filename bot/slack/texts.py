"""Every sentence sharebot says to people, in one place (bolt's ``logger/messages.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.domain.access import AccessFlag, FlagState, Kept
from bot.domain.decisions import Decision, DecisionKind, DecisionState, hub_group_in
from bot.domain.digest import Item, OwnerCount, Reason, Status
from bot.domain.durations import for_how_long, format_duration, is_until_revoked
from bot.domain.grants import Grant, GrantState, Listed
from bot.domain.reconcile import ExternalShare
from bot.slack.mrkdwn import code, cut, escape, server_label, user, when

USAGE = """*Share your JupyterHub server for a while*
• `/share-server @alice 1h` share your default server with Alice for an hour
• `/share-server @alice @bob 2h30m server:gpu pairing on the notebook` a named server, with a note
• `/share-server list` your shares and open invitations
• `/share-server revoke @alice` or `/share-server revoke all [server:NAME]` end access now
• `/share-server link` link your Slack and JupyterHub accounts (`unlink`, `whoami`)
• `/share-server help` this message
Durations: `30m`, `1h`, `2h30m`, `1d`, `1w` (at least 1m, at most {max}). Access starts when \
the person opens the link and ends automatically."""


def usage(max_duration: str) -> str:
    return USAGE.format(max=max_duration)


def to_whom(grant: Grant | Listed) -> str:
    """Who a grant is for: a person's mention, or the hub group's name."""
    if grant.for_group:
        return f"the hub group {code(grant.recipient_hub)}"
    return user(grant.recipient_slack_id)


def with_usage(message: str, max_duration: str) -> str:
    return f"{message}\n\n{usage(max_duration)}"


def not_linked_caller(reason: str | None = None) -> str:
    why = f" ({reason})" if reason else ""
    return (
        f"You are not linked to a JupyterHub account yet{why}, so nothing was shared. "
        "Run `/share-server link`, or ask a hub admin to run "
        "`sharebot link <your Slack member ID> <your hub username>`."
    )


def not_linked_recipients(slack_ids: list[str], reasons: dict[str, str] | None = None) -> str:
    reasons = reasons or {}
    people = ", ".join(
        user(s) + (f" ({escape(reasons[s])})" if s in reasons else "") for s in slack_ids
    )
    verb = "is" if len(slack_ids) == 1 else "are"
    return (
        f"{people} {verb} not linked to a JupyterHub account, so nothing was shared. "
        "They can run `/share-server link`, or a hub admin can link them with "
        "`sharebot link <Slack member ID> <hub username>`."
    )


def self_share() -> str:
    return "You cannot share your server with yourself. Nothing was shared."


def unknown_server(server: str, available: list[str]) -> str:
    names = ", ".join(
        code(f"server:{n}") if n else "your default server (no `server:`)" for n in available
    )
    return f"You have no server named {code(server)}. Nothing was shared. Your servers: {names}."


def owner_has_no_server(owner_slack_id: str, server: str) -> str:
    """To anyone but the owner: the server is not there, and nothing of the owner's others."""
    which = f"server named {code(server)}" if server else "default server"
    return f"{user(owner_slack_id)} has no {which}, so nothing was asked or shared."


def too_many_sent(sent: int, adding: int, per_minute: int) -> str:
    if sent >= per_minute:
        return (
            f"You have sent {sent} invitations and requests in the last minute; try again in "
            "a minute. Nothing was sent."
        )
    return (
        f"That would make {sent + adding} invitations and requests in a minute, more than the "
        f"{per_minute} allowed; try again in a minute, or with fewer people. Nothing was sent."
    )


def invited(grant: Grant) -> str:
    where = server_label(grant.owner_hub, grant.server)
    link_until = when(grant.code_expires_at or grant.created_at)
    length = (
        "until you revoke it"
        if is_until_revoked(grant.duration)
        else f"for {format_duration(grant.duration)} from when they accept"
    )
    return f"Invited {to_whom(grant)} to {where} {length}; their link works until {link_until}."


#: A share's reply lists each person invited up to this many; above it, one summary line.
LIST_INVITED_UP_TO = 10


def invited_many(grants: list[Grant]) -> str:
    first = grants[0]
    where = server_label(first.owner_hub, first.server)
    length = (
        "until you revoke it"
        if is_until_revoked(first.duration)
        else f"for {format_duration(first.duration)} from when each accepts"
    )
    until = when(first.code_expires_at or first.created_at)
    return (
        f"Invited {len(grants)} people to {where} {length}, each with their own link "
        f"(working until about {until}). `/share-server list` shows them."
    )


def sharing_progress(done: int, total: int) -> str:
    return f"Sharing with {total} people: {done} of {total} invitations sent so far…"


def left_out(owner: bool, unlinked: list[str], reasons: dict[str, str] | None = None) -> str:
    """The members of the user groups named who were not shared with."""
    lines = []
    if owner:
        lines.append("You are in the group yourself: left out.")
    if unlinked:
        reasons = reasons or {}
        shown = unlinked[:LIST_LEFT_OUT_UP_TO]
        people = ", ".join(
            user(s) + (f" ({escape(reasons[s])})" if s in reasons else "") for s in shown
        )
        more = len(unlinked) - len(shown)
        people += f" and {more} more" if more else ""
        verb = "is" if len(unlinked) == 1 else "are"
        lines.append(
            f"Left out: {people} {verb} not linked to a JupyterHub account (they can run "
            "`/share-server link`, then you can share with them)."
        )
    return "\n".join(lines)


#: Left-out members named in a reply at most (the reply stays within Slack's limits).
LIST_LEFT_OUT_UP_TO = 50


def too_many_recipients(count: int, cap: int) -> str:
    return (
        f"That would share with {count} people, more than the {cap} one share may reach here. "
        "Nothing was shared. Share with a smaller group, or ask a hub admin to raise "
        "SHAREBOT_MAX_RECIPIENTS."
    )


def nobody_to_share_with(unlinked: list[str], reasons: dict[str, str] | None = None) -> str:
    why = left_out(False, unlinked, reasons) if unlinked else "The groups have nobody else in them."
    return f"Nobody in those groups could be shared with, so nothing was shared. {why}"


def group_shared(grant: Grant) -> str:
    where = server_label(grant.owner_hub, grant.server)
    until = (
        "until you revoke it"
        if grant.expires_at is None
        else f"until {when(grant.expires_at)} ({format_duration(grant.duration)})"
    )
    return (
        f"Shared {where} with the hub group {code(grant.recipient_hub)} {until}: its members "
        "have access now (no invitation; tell them yourself). What the group had there "
        "before stays when it ends. `/share-server list` shows it; revoke it from there or "
        "with `/share-server revoke all`."
    )


def unknown_hub_group(group: str) -> str:
    return (
        f"The hub has no group {code(group)} (or would not share with it), so nothing was "
        "shared. Check the name with a hub admin (`/hub/admin` lists the groups)."
    )


def invite_failed(recipient_slack_id: str, reason: str) -> str:
    return f"Could not invite {user(recipient_slack_id)}: {reason}"


def invitation_dm(grant: Grant) -> str:
    note = f"\n> {escape(grant.note)}" if grant.note else ""
    manage = " (you may also start and stop it)" if "manage" in grant.extras else ""
    return (
        f"{user(grant.owner_slack_id)} shared {server_label(grant.owner_hub, grant.server)} with "
        f"you{manage} {for_how_long(grant.duration)}. Access starts when you accept; "
        f"the link works until {when(grant.code_expires_at or grant.created_at)} "
        f"and only once.{note}"
    )


ACCEPT_BUTTON = "Accept and open"


def accepted_owner(grant: Grant) -> str:
    who = to_whom(grant)
    ends = (
        f"Access ends {when(grant.expires_at)}."
        if grant.expires_at is not None
        else "Access lasts until you revoke it; your daily digest will list it."
    )
    return f"{who} accepted your share of {server_label(grant.owner_hub, grant.server)}. {ends}"


def misused_owner(grant: Grant, intruder: str, removed: bool) -> str:
    done = (
        "I removed the access that link gave them and deleted the link"
        if removed
        else "I could NOT remove that access yet; I keep trying"
    )
    return (
        f":warning: The link you sent to {to_whom(grant)} for "
        f"{server_label(grant.owner_hub, grant.server)} was used by hub user {code(intruder)}. "
        f"{done}. Share again with the right person if needed."
    )


def misused_recipient(grant: Grant, intruder: str) -> str:
    return (
        f":warning: The link {user(grant.owner_slack_id)} sent you for "
        f"{server_label(grant.owner_hub, grant.server)} was used by someone else "
        f"(hub user {code(intruder)}). Their access was removed. Never forward these links."
    )


def link_spent_owner(grant: Grant) -> str:
    return (
        f"The link you sent to {to_whom(grant)} for "
        f"{server_label(grant.owner_hub, grant.server)} was used, but nobody holds that "
        "access now (it may have been removed in JupyterHub). Share again if they still "
        "need it."
    )


def link_spent_recipient(grant: Grant) -> str:
    return (
        f":warning: The link {user(grant.owner_slack_id)} sent you for "
        f"{server_label(grant.owner_hub, grant.server)} was used by someone else, so it no "
        f"longer works. Ask {user(grant.owner_slack_id)} to share again, and never forward "
        "these links."
    )


def flag_remove_failed(flag: AccessFlag) -> str:
    return (
        f"JupyterHub did not confirm removing {code(flag.hub_user)}'s access to "
        f"{server_label(flag.owner_hub, flag.server)}; nothing changed. Try again in a minute."
    )


def unexplained_owner(grant: Grant, flag: AccessFlag) -> str:
    return (
        f":warning: Hub user {code(flag.hub_user)} gained access to "
        f"{server_label(grant.owner_hub, grant.server)} ({scopes_label(flag.scopes)}) while "
        f"the link you sent to {to_whom(grant)} was in use. sharebot cannot "
        f"tell whether {code(flag.hub_user)} used that link or you shared with them in "
        "JupyterHub. If you did not, revoke it."
    )


def scopes_label(scopes: frozenset[str]) -> str:
    """``access``, ``start and stop`` — the words for a set of server scopes."""
    words = []
    if any(s.startswith("access:servers") for s in scopes):
        words.append("access")
    if any(s.startswith("servers!") for s in scopes):
        words.append("start and stop")
    other = sorted(s for s in scopes if not s.startswith(("access:servers", "servers!")))
    words += [code(s) for s in other]
    return ", ".join(words) or "no scopes"


def flag_not_yours() -> str:
    return "Only the owner of the server (or a sharebot admin) can decide this. Nothing changed."


def flag_settled(flag: AccessFlag) -> str:
    return f"This was settled already ({_flag_state(flag)}). Nothing changed."


def flag_decided(flag: AccessFlag) -> str:
    return f"Done: {code(flag.hub_user)} on {server_label(flag.owner_hub, flag.server)}: " + (
        _flag_state(flag) + "."
    )


def _flag_state(flag: AccessFlag) -> str:
    return {
        FlagState.PENDING: "waiting for a decision",
        FlagState.REMOVED: "the access was removed",
        FlagState.KEPT: "the access was kept",
        FlagState.GONE: "that access is no longer there",
    }[flag.state]


def lapsed_owner(grant: Grant) -> str:
    return (
        f"{to_whom(grant)} did not accept your share of "
        f"{server_label(grant.owner_hub, grant.server)} before the link expired. "
        "Share again if they still need it."
    )


def _kept(kept: Kept, *, you: bool) -> str:
    """What the person still has after a grant of theirs ended, said only when true."""
    if kept is Kept.EARLIER:
        return (
            " You keep the access you had before."
            if you
            else (" They keep the access they had before.")
        )
    if kept is Kept.OTHER_GRANT:
        return (
            " You still have access through another share."
            if you
            else (" They still have access through another share of yours.")
        )
    if kept is Kept.UNDECIDED:
        return (
            " Access of yours that the owner was asked about stays until they decide."
            if you
            else (
                " The access of theirs you were asked about stays until you decide"
                " (Revoke or I shared it: keep, in that message)."
            )
        )
    return ""


def expired_owner(grant: Grant, kept: Kept) -> str:
    return (
        f"{to_whom(grant)}'s access to "
        f"{server_label(grant.owner_hub, grant.server)} has ended.{_kept(kept, you=False)}"
    )


def expired_recipient(grant: Grant, kept: Kept) -> str:
    return (
        f"Your access to {server_label(grant.owner_hub, grant.server)} from "
        f"{user(grant.owner_slack_id)} has ended.{_kept(kept, you=True)}"
    )


def revoked_recipient(grant: Grant, kept: Kept) -> str:
    return (
        f"{user(grant.owner_slack_id)} ended your access to "
        f"{server_label(grant.owner_hub, grant.server)}.{_kept(kept, you=True)}"
    )


def withdrawn_recipient(grant: Grant) -> str:
    return (
        f"{user(grant.owner_slack_id)} withdrew the invitation to "
        f"{server_label(grant.owner_hub, grant.server)}; the link no longer works."
    )


def nothing_to_revoke(server_text: str) -> str:
    return f"You have no open shares{server_text} to revoke."


def revoke_summary(done: list[Grant], pending: list[Grant]) -> str:
    lines = []
    for grant in done:
        what = "withdrew the invitation of" if grant.accepted_at is None else "revoked access for"
        lines.append(f"• {what} {to_whom(grant)} on {server_label(grant.owner_hub, grant.server)}")
    for grant in pending:
        lines.append(
            f"• {to_whom(grant)} on {server_label(grant.owner_hub, grant.server)}: "
            "JupyterHub did not answer; I will keep trying and tell you when it is done"
        )
    return "\n".join(lines)


def list_shares(grants: Sequence[Grant | Listed]) -> str:
    if not grants:
        return (
            "You have no active shares or open invitations. Share with `/share-server @alice 1h`."
        )
    lines = ["*Your shares*"]
    for grant in grants:
        where = server_label(grant.owner_hub, grant.server)
        who = to_whom(grant)
        if grant.state.value == "invited":
            deadline = when(grant.code_expires_at or grant.created_at)
            lines.append(
                f"• {who} on {where}: invited for {format_duration(grant.duration)}, "
                f"link valid until {deadline}"
            )
        elif grant.state.value == "active" and grant.expires_at is not None:
            lines.append(f"• {who} on {where}: active until {when(grant.expires_at)}")
        elif grant.state.value == "active":
            lines.append(f"• {who} on {where}: active until you revoke it")
        else:
            lines.append(f"• {who} on {where}: being revoked (JupyterHub has not confirmed yet)")
    return "\n".join(lines)


def internal_error() -> str:
    return (
        "Something went wrong on sharebot's side; nothing was changed. "
        "The admins can see why in the logs."
    )


# -- account linking ------------------------------------------------------------------


def bad_path(why: str) -> str:
    return (
        f"Nothing was shared: {escape(why)}. Give a file on the server you share, as "
        "`path:lab/tree/analysis.ipynb` or its URL on this JupyterHub."
    )


def linking_not_configured() -> str:
    return (
        "Self-service linking is not set up on this workspace (SHAREBOT_PUBLIC_URL is unset). "
        "Ask a hub admin to run `sharebot link <your Slack member ID> <your hub username>`."
    )


def link_offer(url: str) -> str:
    return (
        f"<{url}|Link my JupyterHub account> — opens JupyterHub, where you log in as "
        "yourself; then confirm. The link works once, for 10 minutes, and only for you: "
        "do not share it."
    )


def unlinked(previous: str | None) -> str:
    if previous is None:
        return "You were not linked to a JupyterHub account."
    return f"Unlinked: you are no longer linked to hub user {code(previous)}."


def whoami(hub_user: str | None, method: str | None) -> str:
    if hub_user is None:
        return "You are not linked to a JupyterHub account. Run `/share-server link`."
    how = {
        "oauth": "you logged in to JupyterHub",
        "admin": "an admin linked you",
        "email": "your Slack email matched",
    }.get(method or "", method or "")
    return f"You are linked to hub user {code(hub_user)} ({how})."


def linked_notice(hub_user: str, previous: str | None) -> str:
    tail = f" (it replaces {code(previous)})" if previous and previous != hub_user else ""
    return (
        f"Your Slack account is now linked to JupyterHub user {code(hub_user)}{tail}. "
        "If this was not you, run `/share-server unlink` and tell your hub admin."
    )


def link_attempted(hub_user: str, by: str) -> str:
    return (
        f"{user(by)} opened an account-linking page and signed in to JupyterHub as "
        f"{code(hub_user)}, the hub user your Slack account is linked to. Nothing changed: a hub "
        "user linked to you moves only after you run `/share-server unlink`. If you did not "
        "expect this, someone may have sent you their linking link; tell your hub admin."
    )


def gate_refused_owner(grant: Grant, hub_user: str) -> str:
    return (
        f"JupyterHub user {code(hub_user)} opened your invitation of "
        f"{to_whom(grant)} to {server_label(grant.owner_hub, grant.server)}; "
        "it is not theirs, so sharebot turned them away and nothing changed on the hub. "
        "The link may have been forwarded. Share with them if they should have access."
    )


def server_waiting_owner(grant: Grant) -> str:
    return (
        f"{to_whom(grant)} is waiting for your server: "
        f"{server_label(grant.owner_hub, grant.server)} is not running. Start it in JupyterHub "
        "so they can use the access you shared."
    )


def extras_label(extras: tuple[str, ...]) -> str:
    return "access, and start/stop the server" if "manage" in extras else "access"


def _notebook(path: str | None) -> str:
    return f"\n*Opens:* {code(path)}" if path else ""


def decision_summary(d: Decision) -> str:
    """Everything an approver needs to decide, in one mrkdwn text."""
    group = hub_group_in(d.recipients)
    who = f"the hub group {code(group)}" if group else ", ".join(user(r) for r in d.recipients)
    # an extension's reason is ours (with mentions); every other reason is the requester's
    said = d.reason if d.kind is DecisionKind.EXTENSION else escape(d.reason)
    reason = f"\n*Reason:* {said}" if d.reason else ""
    if d.kind is DecisionKind.REQUEST:
        head = f"{user(d.requester_slack_id)} asks for access to your server"
    elif d.kind is DecisionKind.MORE_TIME:
        head = (
            f"{user(d.requester_slack_id)} asks for more time: their share would last "
            f"{format_duration(d.duration)} longer"
        )
    elif d.kind is DecisionKind.EXTENSION:
        head = (
            f"{user(d.requester_slack_id)} wants to extend a share by "
            f"{format_duration(d.duration)}; policy asks for approval"
        )
    else:
        head = f"{user(d.requester_slack_id)} wants to share a server; policy asks for approval"
    return (
        f"{head}\n*Server:* {server_label(d.owner_hub, d.server)}\n*For:* {who}\n"
        f"*Duration:* {format_duration(d.duration)}\n*Permissions:* {extras_label(d.extras)}"
        f"{_notebook(d.path)}{reason}\n*Open until:* {when(d.expires_at)}"
    )


def decision_requester_copy(d: Decision) -> str:
    decider = "an approver" if d.kind.needs_approvers else user(d.owner_slack_id)
    where = server_label(d.owner_hub, d.server)
    if d.kind is DecisionKind.MORE_TIME:
        what = f"{format_duration(d.duration)} more on {where}"
        if d.state is not DecisionState.PENDING:
            return f"You asked {decider} for {what}."
        return f"Your request is waiting for {decider}: {what}. It expires {when(d.expires_at)}."
    what = f"{where} {for_how_long(d.duration)} ({extras_label(d.extras)})"
    if d.state is not DecisionState.PENDING:  # the outcome line follows this text
        return f"Your request to {decider}: {what}."
    return f"Your request is waiting for {decider}: {what}. It expires {when(d.expires_at)}."


def decision_outcome(d: Decision) -> str:
    """The line that replaces the buttons once a decision is made."""
    at = when(d.decided_at or d.expires_at)
    if d.state is DecisionState.APPROVED:
        shorter = (
            f" for {format_duration(d.approved_duration)}"
            if d.approved_duration and d.approved_duration != d.duration
            else ""
        )
        return f":white_check_mark: Approved{shorter} by {user(d.decided_by or '')} at {at}"
    if d.state is DecisionState.DENIED:
        why = f": {escape(d.decision_note)}" if d.decision_note else ""
        return f":x: Denied by {user(d.decided_by or '')}{why}"
    if d.state is DecisionState.EXPIRED:
        return f":hourglass: Expired at {at} without a decision"
    if d.state is DecisionState.CANCELLED:
        return f":no_entry_sign: Cancelled by {user(d.decided_by or d.requester_slack_id)}"
    if d.state is DecisionState.FAILED:
        return f":warning: Approved by {user(d.decided_by or '')}, but sharing failed: " + (
            d.decision_note or "see the logs"
        )
    return "Waiting for a decision"


def request_sent(d: Decision, posted_to: str) -> str:
    if d.kind is DecisionKind.MORE_TIME:
        return (
            f"Asked {posted_to} for {format_duration(d.duration)} more on "
            f"{server_label(d.owner_hub, d.server)}. I will DM you the answer; the request "
            f"expires {when(d.expires_at)}."
        )
    return (
        f"Asked {posted_to} for {server_label(d.owner_hub, d.server)} "
        f"{for_how_long(d.duration)}. I will DM you the answer; the request expires "
        f"{when(d.expires_at)}."
    )


def held_for_approval(d: Decision, reasons: list[str], posted_to: str) -> str:
    return (
        f"Not shared yet: this share needs approval because {' and '.join(reasons)}. "
        f"I asked {posted_to}; you will get a DM when someone decides "
        f"(open until {when(d.expires_at)})."
    )


def no_approvers() -> str:
    return (
        "This share needs an approver, but none is configured (SHAREBOT_APPROVERS), "
        "so nothing was shared. Ask your hub admin."
    )


def no_other_decider() -> str:
    return (
        "Nobody can approve this: every approver is among the people it gives access to, "
        "and nobody approves their own access. Ask your workspace admin to add another "
        "approver (SHAREBOT_APPROVERS). Nothing was shared."
    )


def self_request() -> str:
    return "You can't request your own server."


def decision_gone() -> str:
    return "That request is gone."


def shorter_only() -> str:
    return "Pick a duration shorter than the one asked for."


def not_a_decider(d: Decision) -> str:
    if not d.kind.needs_approvers:
        return f"You can't approve this: only {user(d.owner_slack_id)} decides on their server."
    return "You can't approve this: only the configured approvers can, and never their own."


def only_requester_cancels() -> str:
    return "Only the person who asked can cancel this request."


def already_decided(d: Decision) -> str:
    return f"Nothing changed; this was already decided. {decision_outcome(d)}."


def decided_for_clicker(d: Decision) -> str:
    return f"Done. {decision_outcome(d)}."


def decision_result_dm(d: Decision, detail: str = "") -> str:
    where = server_label(d.owner_hub, d.server)
    return f"Your request for {where}: {decision_outcome(d)}.{(' ' + detail) if detail else ''}"


DENY_MODAL_TITLE = "Deny request"
DENY_REASON_LABEL = "Reason (optional, shown to the requester)"


# -- the daily digest -------------------------------------------------------------------

DIGEST_REVOKE_BUTTON = "Revoke"
FLAG_KEEP_BUTTON = "I shared it: keep"
DIGEST_KEEP_BUTTON = "Keep"
DIGEST_REVOKE_ALL_BUTTON = "Revoke all stale"

_REASONS = {
    Reason.EXTERNAL: "not made with sharebot",
    Reason.NO_END: "has no end date",
    Reason.REVOKE_FAILING: "revocation keeps failing in JupyterHub",
    Reason.INACTIVE: "not used lately",
}


def digest_fallback(count: int) -> str:
    """The notification text of a digest (what shows when blocks cannot)."""
    if count == 0:
        return "Your shares digest: nothing left to review."
    noun = "share" if count == 1 else "shares"
    return f"Your shares digest: {count} {noun} to review."


def digest_intro(count: int, shown: int) -> str:
    what = "One of your shares" if count == 1 else f"{count} of your shares"
    more = f" (the oldest {shown} are listed; see `/share-server list`)" if shown < count else ""
    return (
        f"*Daily digest:* {what} may have outlived {'its' if count == 1 else 'their'} "
        f"purpose{more}. Revoke what is no longer needed, or Keep it."
    )


def digest_item(owner_hub: str, item: Item) -> str:
    if item.who_is_group:
        who = f"hub group {code(item.who)}"
    elif item.slack_id:
        who = f"{user(item.slack_id)} ({code(item.who)})"
    else:
        who = f"hub user {code(item.who)}"
    active = when(item.last_activity) if item.last_activity else "unknown"
    activity = "" if item.who_is_group else f" · last active {active}"
    why = ", ".join(_REASONS[r] for r in item.reasons)
    return (
        f"{who} on {server_label(owner_hub, item.server)}\n"
        f"since {when(item.since)}{activity} · _{why}_"
    )


def digest_item_status(status: Status, at: datetime | None) -> str:
    moment = f" {when(at)}" if at else ""
    if status is Status.KEPT:
        return f":pushpin: Kept; not shown again before{moment}"
    if status is Status.REVOKED:
        return f":white_check_mark: Revoked{moment}"
    if status is Status.GONE:
        return ":heavy_minus_sign: No longer in JupyterHub"
    return ""


def digest_footer(snooze: str) -> str:
    return (
        f"Keep hides a share from the digest for {snooze}. Shares not made with sharebot are "
        "never revoked unless you click Revoke."
    )


REVOKE_ALL_CONFIRM_TITLE = "Revoke all?"
REVOKE_ALL_CONFIRM_TEXT = "Everyone listed here that is still open loses access now."


def digest_unknown_item() -> str:
    return "This digest entry is no longer known, so nothing changed."


def digest_not_yours() -> str:
    return "You can't act on this digest: only the owner of these shares can. Nothing changed."


def digest_already_handled() -> str:
    return "Nothing changed; this share was already revoked or is gone."


def digest_nothing_left() -> str:
    return "Nothing left to revoke in this digest."


def digest_kept(item: Item, until: datetime) -> str:
    return f"Kept {code(item.who)}'s access; it won't be in your digest before {when(until)}."


def digest_external_revoked(share: ExternalShare) -> str:
    who = f"hub group {code(share.name)}" if share.kind.value == "group" else code(share.name)
    return f"• revoked access for {who} on {server_label(share.owner_hub, share.server)}"


def digest_external_failed(share: ExternalShare) -> str:
    return (
        f"• {code(share.name)} on {server_label(share.owner_hub, share.server)}: JupyterHub did "
        "not answer, so nothing changed. Try again in a minute."
    )


def digest_external_now_ours(share: ExternalShare) -> str:
    return (
        f"• {code(share.name)} on {server_label(share.owner_hub, share.server)} now also has a "
        "share from you through sharebot; use `/share-server revoke` to end it."
    )


def digest_admin_summary(counts: list[OwnerCount], oldest: list[tuple[str, Item]]) -> str:
    total = sum(c.count for c in counts)
    lines = [f"*Shares digest:* {total} stale shares across {len(counts)} owners."]
    lines += [f"• {code(c.owner_hub)}: {c.count} (oldest since {when(c.oldest)})" for c in counts]
    if oldest:
        lines.append("*Oldest:*")
        lines += [
            f"• {code(item.who)} on {server_label(owner, item.server)} since {when(item.since)}"
            for owner, item in oldest
        ]
    return "\n".join(lines)


# -- reminders and extensions -----------------------------------------------------------


def extend_button(grant: Grant) -> str:
    return f"Extend by {format_duration(grant.duration)}"


def reminder_owner(grant: Grant) -> str:
    assert grant.expires_at is not None
    return (
        f":hourglass_flowing_sand: {to_whom(grant)}'s access to "
        f"{server_label(grant.owner_hub, grant.server)} ends {when(grant.expires_at)}. "
        f"Need more time? Extend it by {format_duration(grant.duration)}."
    )


def reminder_recipient(grant: Grant) -> str:
    assert grant.expires_at is not None
    return (
        f":hourglass_flowing_sand: Your access to {server_label(grant.owner_hub, grant.server)} "
        f"from {user(grant.owner_slack_id)} ends {when(grant.expires_at)}. Save your work, "
        f"or ask {user(grant.owner_slack_id)} for more time."
    )


def more_time_button(grant: Grant) -> str:
    return f"Ask for {format_duration(grant.duration)} more"


def only_recipient_asks() -> str:
    return (
        "Only the person the server was shared with can ask for more time on this share. "
        "Nothing changed."
    )


def more_time_pending() -> str:
    return "You already asked for more time on this share; the owner has not decided yet."


SHARE_AGAIN_BUTTON = "Share again"


def share_again_open(grant: Grant) -> str:
    return (
        f"Nothing shared: {to_whom(grant)} already has an open share of "
        f"{server_label(grant.owner_hub, grant.server)}. See `/share-server list`."
    )


def share_again_not_ended(grant: Grant) -> str:
    return (
        f"This share of {server_label(grant.owner_hub, grant.server)} has not ended "
        f"({grant.state}), so there is nothing to share again."
    )


def share_again_too_long(grant: Grant | None, limit: timedelta | None) -> str:
    assert grant is not None
    if limit is None:
        return (
            "Nothing shared: shares without an end (until revoked) are not allowed here any "
            "more. Share for a duration with `/share-server`."
        )
    return (
        f"Nothing shared: that share lasted {format_duration(grant.duration)}, longer than "
        f"the {format_duration(limit)} shares may last here now. Share for less with "
        "`/share-server`."
    )


def only_owner_shares_again() -> str:
    return "Only the person who shared the server can share it again. Nothing changed."


def only_owner_extends() -> str:
    return "Only the person who shared the server can extend this share. Nothing changed."


def cannot_extend(grant: Grant) -> str:
    return (
        f"This share of {server_label(grant.owner_hub, grant.server)} is no longer active "
        f"({grant.state}), so it can't be extended. Share again with `/share-server`."
    )


def extension_over_limit(grant: Grant, total: timedelta, limit: timedelta) -> str:
    return (
        f"Extending this share of {server_label(grant.owner_hub, grant.server)} would make it "
        f"last {format_duration(total)} in all, longer than the {format_duration(limit)} "
        "that shares may last here. It ends as planned; share again afterwards if needed."
    )


def already_extended(grant: Grant) -> str:
    until = when(grant.expires_at) if grant.expires_at else "its end"
    return f"Nothing changed: this share was already extended; it now lasts until {until}."


def extended_owner(grant: Grant) -> str:
    assert grant.expires_at is not None
    return (
        f"Extended: {to_whom(grant)} keeps access to "
        f"{server_label(grant.owner_hub, grant.server)} until {when(grant.expires_at)}."
    )


def extended_recipient(grant: Grant) -> str:
    assert grant.expires_at is not None
    return (
        f"{user(grant.owner_slack_id)} extended your access to "
        f"{server_label(grant.owner_hub, grant.server)}: it now ends {when(grant.expires_at)}."
    )


def extension_held(d: Decision, reasons: list[str], posted_to: str) -> str:
    return (
        f"Not extended yet: the longer share needs approval because {' and '.join(reasons)}. "
        f"I asked {posted_to}; you will get a DM when someone decides "
        f"(open until {when(d.expires_at)})."
    )


def extension_pending() -> str:
    return "An extension of this share is already waiting for approval. Nothing changed."


def extension_failed_gone() -> str:
    return "the share ended before the extension was approved"


# -- leaving and revoking from the Home tab ---------------------------------------------


def only_owner_revokes() -> str:
    return "Only the person who shared the server can revoke this share. Nothing changed."


def revoked_by_admin(grant: Grant, admin: str) -> str:
    return (
        f"{user(admin)}, a sharebot admin, revoked {to_whom(grant)}'s access "
        f"to {server_label(grant.owner_hub, grant.server)}."
    )


def only_recipient_leaves() -> str:
    return "Only the person the server was shared with can leave this share. Nothing changed."


def share_closed() -> str:
    return "This share has already ended. Nothing changed."


def left_owner(grant: Grant, kept: Kept) -> str:
    return (
        f"{to_whom(grant)} left your share of "
        f"{server_label(grant.owner_hub, grant.server)}; their access has ended."
        f"{_kept(kept, you=False)}"
    )


def declined_owner(grant: Grant) -> str:
    return (
        f"{to_whom(grant)} declined your invitation to "
        f"{server_label(grant.owner_hub, grant.server)}; the link no longer works."
    )


def left_answer(grant: Grant, done: bool) -> str:
    where = server_label(grant.owner_hub, grant.server)
    if not done:
        return (
            f"You are leaving {where}; JupyterHub did not answer yet. I will keep trying and "
            f"tell {user(grant.owner_slack_id)} when it is done."
        )
    if grant.accepted_at is None:
        return f"Declined the invitation to {where}; {user(grant.owner_slack_id)} was told."
    return f"You left {where}; {user(grant.owner_slack_id)} was told."


# -- the Home tab -----------------------------------------------------------------------

HOME_TITLE = "sharebot"
HOME_SHARED_BY = "Shared by you"
HOME_SHARED_WITH = "Shared with you"
HOME_TO_DECIDE = "Waiting for your decision"
HOME_MINE_PENDING = "Your pending requests"
REVOKE_BUTTON = "Revoke"
FLAG_KEEP_BUTTON = "I shared it: keep"
LEAVE_BUTTON = "Leave"


def home_link_status(hub_user: str | None) -> str:
    if hub_user is None:
        return (
            ":link: You are not linked to a JupyterHub account yet. Run `/share-server link` "
            "to link it; then share with `/share-server @alice 1h`."
        )
    return (
        f":white_check_mark: Linked to JupyterHub user {code(hub_user)}. "
        "Share with `/share-server @alice 1h`; `/share-server help` for more."
    )


def _home_state(grant: Grant) -> str:
    if grant.state.value == "invited":
        return f"invited, link valid until {when(grant.code_expires_at or grant.created_at)}"
    if grant.state.value == "active" and grant.expires_at is not None:
        return f"active until {when(grant.expires_at)}"
    if grant.state.value == "active":
        return "active until revoked"
    return "ending (JupyterHub has not confirmed yet)"


def _opens(path: str | None) -> str:
    """Where a share lands its recipient (a notebook path), or nothing."""
    return f", opens {code(path)}" if path else ""


def home_shared_by(grant: Grant) -> str:
    return (
        f"{to_whom(grant)} on {server_label(grant.owner_hub, grant.server)}: "
        f"{_home_state(grant)} ({format_duration(grant.duration)}{_opens(grant.path)})"
    )


def home_no_extend(grant: Grant) -> str:
    """Under an owner's share on the Home tab that has no Extend button: why not."""
    if grant.state is GrantState.INVITED:
        return "Not accepted yet; it can be extended once it is."
    if grant.state is GrantState.ACTIVE:
        return "No end: it lasts until revoked."
    return "Being closed on the hub."


def home_shared_with(grant: Grant) -> str:
    return (
        f"{server_label(grant.owner_hub, grant.server)} from {user(grant.owner_slack_id)}: "
        f"{_home_state(grant)} ({format_duration(grant.duration)}{_opens(grant.path)})"
    )


def home_empty(section: str) -> str:
    return {
        HOME_SHARED_BY: "You are not sharing any server right now.",
        HOME_SHARED_WITH: "Nobody is sharing a server with you right now.",
        HOME_TO_DECIDE: "No requests are waiting for you.",
        HOME_MINE_PENDING: "You have no pending requests.",
    }.get(section, "Nothing here.")


def home_more(hidden: int, where: str | None = None) -> str:
    return f"…and {hidden} more" + (f" — {where}" if where else "")


def home_confirm(grant: Grant, *, owner: bool) -> str:
    """The confirmation dialog's text (Slack allows 300 characters there)."""
    where = cut(server_label(grant.owner_hub, grant.server), 200)
    if owner:
        return f"End {to_whom(grant)}'s access to {where} now?"
    return f"Give up your access to {where} now?"


# -- All shares (the admins' Home tab section) -------------------------------------------

HOME_ALL_SHARES = "All shares"
PREVIOUS_BUTTON = "Previous"
NEXT_BUTTON = "Next"
ALL_OWNERS_BUTTON = "Every owner"
FILTER_PLACEHOLDER = "Filter by owner or server"
FILTER_OWNERS = "Owners"
FILTER_SERVERS = "Servers"


def only_admins() -> str:
    return "Only sharebot admins (`SHAREBOT_ADMINS`) can see every share. Nothing changed."


def home_all_filter(owner: str | None, server: str | None) -> str:
    if owner is None:
        return "every owner"
    if server is None:
        return f"{code(owner)}'s servers"
    return server_label(owner, server)


def home_all_summary(total: int, first: int, shown: int, page: int, pages: int, of: str) -> str:
    """``93 open shares (every owner) · 21 to 40 · page 2 of 5``."""
    noun = "open share" if total == 1 else "open shares"
    head = f"{total} {noun} ({of})"
    if not shown:
        return head
    return f"{head} · {first} to {first + shown - 1} · page {page + 1} of {pages}"


def home_all_empty(filtered: bool) -> str:
    if filtered:
        return "No open shares match this filter any more: show every owner."
    return "Nobody is sharing a server right now."


def home_all_share(grant: Grant) -> str:
    return (
        f"{server_label(grant.owner_hub, grant.server)} of {user(grant.owner_slack_id)} "
        f"→ {to_whom(grant)} ({code(grant.holder)}): "
        f"{_home_state(grant)} ({format_duration(grant.duration)})"
    )


def home_all_confirm(grant: Grant) -> str:
    """The confirmation of an admin's Revoke (at most 300 characters)."""
    where = cut(server_label(grant.owner_hub, grant.server), 150)
    return (
        f"End {to_whom(grant)}'s access to {where} now? "
        f"{user(grant.owner_slack_id)} will be told you did it."
    )


def filter_option_owner(owner: str, count: int) -> str:
    """An option's plain text (at most 75 characters): ``alice (12)``."""
    return _plain_cut(owner, f" ({count})")


def filter_option_server(owner: str, server: str, count: int) -> str:
    name = f"{owner}/{server}" if server else f"{owner}/ (default)"
    return _plain_cut(name, f" ({count})")


def _plain_cut(name: str, tail: str, limit: int = 75) -> str:
    flat = "".join(" " if not c.isprintable() else c for c in name)
    room = limit - len(tail)
    return (flat if len(flat) <= room else flat[: room - 1] + "…") + tail


def extension_reason(grant: Grant, total: timedelta) -> str:
    assert grant.expires_at is not None
    return (
        f"extend {to_whom(grant)}'s access (now ending {when(grant.expires_at)}) "
        f"to {format_duration(total)} in all"
    )


# -- reliability (the outbox and invitation recovery) -----------------------------------


def notice_given_up_admin(slack_id: str, key: str | None, attempts: int, error: str) -> str:
    """For the admin channel: a message Slack kept refusing (never the message itself)."""
    what = f" ({code(key)})" if key else ""
    return (
        f":warning: A message to {user(slack_id)}{what} was given up after {attempts} tries: "
        f"{error}. See the log and `sharebot audit` for what it was about."
    )


def invitation_not_recovered(grant: Grant) -> str:
    """To the owner: an invitation interrupted (a restart) and too old to send again."""
    return (
        f"Your invitation of {to_whom(grant)} to "
        f"{server_label(grant.owner_hub, grant.server)} could not be completed (sharebot "
        "restarted while sending it). Share again if they still need access."
    )


# -- the forms (bot.slack.forms) ----------------------------------------------------------

SHARE_FORM_TITLE = "Share my server"
REQUEST_FORM_TITLE = "Request access"
SHARE_FORM_SUBMIT = "Share"
REQUEST_FORM_SUBMIT = "Ask"
HOME_SHARE_BUTTON = "Share my server"
HOME_REQUEST_BUTTON = "Request access"
FORM_LOADING = "Reading the servers from JupyterHub…"
FORM_PEOPLE = "People"
FORM_SERVER = "Server"
FORM_OWNER = "Whose server"
FORM_DURATION = "For how long"
FORM_DURATION_TYPED = "Or type a duration"
FORM_DURATION_HINT = "e.g. 45m, 2h30m, 3d; typed wins over the choice"
FORM_PERMISSIONS = "Permissions"
FORM_MANAGE = "Also let them start and stop the server"
FORM_NOTE = "Note (optional, shown to them)"
FORM_REASON = "Reason (optional, shown to the owner)"
FORM_PATH = "Notebook to open (optional)"
FORM_PATH_HINT = "lab/tree/analysis.ipynb, or a link to the file on the hub"
FORM_PICK_OWNER = "Pick the owner to see their servers."
FORM_DEFAULT_SERVER = "default server"
FORM_NO_DURATION = "Pick a duration or type one, e.g. 1h."
FORM_STALE = "This form is too old or was not opened by you: close it and open it again."
FORM_BAD_PEOPLE = "Pick people from the list."
FORM_BAD_SERVER = "Pick one of the servers listed."
FORM_OWNER_CHANGED = "The servers shown are not this owner's yet: pick the owner again."
FORM_DONE = "Working on it: the answer comes in this DM."


def form_too_many_people(limit: int) -> str:
    return f"Pick at most {limit} people at a time."


def form_owner_servers(owner_slack_id: str) -> str:
    return f"The servers of {user(owner_slack_id)}, as JupyterHub lists them."


def form_from_message(author: str | None, path: str | None) -> str:
    """The line at the top of a form opened on a message."""
    who = f"with {user(author)}" if author else "(the author is not a person I can share with)"
    where = f", opening {code(path)}" if path else ""
    return f"Sharing from a message {who}{where}."
