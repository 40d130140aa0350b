"""The few HTML pages sharebot shows in a browser (account linking). Pure rendering."""

from __future__ import annotations

from html import escape

from bot.app.linking import PageProblem

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · sharebot</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;
line-height:1.5}}button{{font-size:1rem;padding:.5rem 1.25rem}}</style></head>
<body><h1>{title}</h1>
{body}
</body></html>
"""


def page(title: str, body_html: str) -> str:
    return _PAGE.format(title=escape(title), body=body_html)


def message(title: str, text: str) -> str:
    return page(title, f"<p>{escape(text)}</p>")


def confirm(
    *,
    action: str,
    flow_id: int,
    csrf: str,
    slack_user_id: str,
    slack_name: str | None,
    hub_user: str,
    replaces: str | None = None,
) -> str:
    who = f"@{slack_name} ({slack_user_id})" if slack_name else slack_user_id
    instead = (
        f"<p>It is linked to JupyterHub user <strong>{escape(replaces)}</strong> now; that "
        "link ends.</p>"
        if replaces
        else ""
    )
    return page(
        "Link your accounts?",
        f"<p>Link Slack user <strong>{escape(who)}</strong> to JupyterHub user "
        f"<strong>{escape(hub_user)}</strong>?</p>{instead}"
        f"<p>What changes: in Slack, <strong>{escape(who)}</strong> will act as "
        f"<strong>{escape(hub_user)}</strong>. Servers shared with {escape(hub_user)} through "
        f"sharebot are offered to that Slack user, and that Slack user can share "
        f"{escape(hub_user)}'s servers. Only continue if <strong>you</strong> are "
        f"{escape(who)} in Slack: if someone sent you this link, close this page.</p>"
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="flow" value="{flow_id}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        '<button type="submit">Link accounts</button></form>',
    )


def linked(slack_user_id: str, hub_user: str) -> str:
    return message(
        "Linked",
        f"Slack user {slack_user_id} is now linked to JupyterHub user {hub_user}. "
        "You can close this page.",
    )


def not_yours(*, recipient: str, owner: str, hub_user: str) -> str:
    """Someone other than the recipient came to an invitation's gate."""
    return page(
        "This invitation is not yours",
        f"<p>This invitation is for <strong>@{escape(recipient)}</strong>; you are signed in "
        f"to JupyterHub as <strong>{escape(hub_user)}</strong>. Nothing changed on the hub.</p>"
        f"<p>Ask <strong>@{escape(owner)}</strong> to share with you, or ask for access in "
        f"Slack: <code>/share-server request @{escape(owner)} 1h</code>.</p>"
        "<p>If this is your invitation, sign out of JupyterHub and open the link again.</p>",
    )


def server_not_running(*, owner: str, server: str, manage: bool, continue_url: str) -> str:
    """The recipient passed the gate, but the server does not run: say so, then go on."""
    what = f"{owner}/{server}" if server else f"{owner}'s default server"
    then = (
        "You may start and stop it: once you have accepted, JupyterHub offers to start it."
        if manage
        else f"sharebot has told {owner} that you are waiting. Your access starts when you "
        "accept, and you can open the server once it runs."
    )
    return page(
        "The server is not running",
        f"<p><strong>{escape(what)}</strong> is not running right now.</p>"
        f"<p>{escape(then)}</p>"
        f'<p><a href="{escape(continue_url)}" rel="noreferrer">Continue to accept the '
        "invitation</a></p>",
    )


# -- what went wrong, in words --------------------------------------------------------------

PAGE_UNKNOWN_LINK = "This link is not valid. Run /share-server link in Slack to get a new one."
PAGE_USED_LINK = (
    "This link was already used. Links work once; run /share-server link in Slack for a new one."
)
PAGE_EXPIRED_LINK = (
    "This link has expired (links last 10 minutes). Run /share-server link in Slack again."
)
PAGE_STATE_MISMATCH = (
    "This request does not belong to a linking sharebot started, so nothing was linked. "
    "Start again with /share-server link in Slack."
)
PAGE_OTHER_BROWSER = (
    "Finish in the browser where you opened the link from Slack. Nothing was changed."
)
PAGE_CSRF = "This form could not be verified, so nothing was linked. Start again from Slack."
PAGE_EXCHANGE_FAILED = (
    "JupyterHub did not confirm who you are, so nothing was linked. Try again in a minute; "
    "if it keeps failing, tell your hub admin (the details are in sharebot's log)."
)


def page_no_code(error: str | None) -> str:
    why = f" (JupyterHub said: {error})" if error else ""
    return f"JupyterHub did not authorize the link{why}, so nothing was linked."


# -- requests and approvals -------------------------------------------------------------


_PROBLEMS = {
    PageProblem.UNKNOWN_LINK: PAGE_UNKNOWN_LINK,
    PageProblem.USED_LINK: PAGE_USED_LINK,
    PageProblem.EXPIRED_LINK: PAGE_EXPIRED_LINK,
    PageProblem.STATE_MISMATCH: PAGE_STATE_MISMATCH,
    PageProblem.OTHER_BROWSER: PAGE_OTHER_BROWSER,
    PageProblem.CSRF: PAGE_CSRF,
    PageProblem.EXCHANGE_FAILED: PAGE_EXCHANGE_FAILED,
    PageProblem.INCOMPLETE_FORM: "This form is incomplete.",
    PageProblem.UNKNOWN_INVITATION: (
        "This invitation link is not valid (it may have been replaced by a newer one). Nothing "
        "changed. Open the newest invitation from sharebot in Slack, or ask the owner to share "
        "again."
    ),
    PageProblem.INVITATION_ACCEPTED: (
        "This invitation was already accepted. Open the server from the JupyterHub home page; "
        "sharebot's Home tab in Slack shows your shares."
    ),
    PageProblem.INVITATION_ENDED: (
        "This invitation was withdrawn or has ended, so it no longer gives access. Ask the "
        "owner to share again, or use /share-server request in Slack."
    ),
    PageProblem.INVITATION_EXPIRED: (
        "This invitation has expired unused. Ask the owner to share again, or use "
        "/share-server request in Slack."
    ),
    PageProblem.INVITATION_SPENT: (
        "This invitation's link was already used, so it no longer works. Ask the owner to "
        "share again if you still need access."
    ),
    PageProblem.NOT_ACCEPTED_YET: (
        "JupyterHub has not recorded your acceptance yet. Open the invitation from Slack "
        "again and press Accept on JupyterHub's page."
    ),
}


def problem(kind: PageProblem, detail: str | None = None) -> str:
    """What a linking or accept page says when it cannot go on."""
    if kind is PageProblem.NOT_AUTHORIZED:
        return page_no_code(detail)
    if kind is PageProblem.LINKED_ELSEWHERE:
        return (
            f"JupyterHub user {detail} is already linked to another Slack account, so nothing "
            "was linked; that person has been told. To move the link, they run "
            "/share-server unlink in Slack first (or a hub admin relinks it)."
        )
    return _PROBLEMS[kind]
