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
) -> str:
    who = f"@{slack_name} ({slack_user_id})" if slack_name else slack_user_id
    return page(
        "Link your accounts?",
        f"<p>Link Slack user <strong>{escape(who)}</strong> to JupyterHub user "
        f"<strong>{escape(hub_user)}</strong>?</p>"
        "<p>People will then be able to share JupyterHub servers with you from Slack, and "
        "you with them.</p>"
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
    "Finish linking in the browser where you opened the link from Slack. Nothing was linked."
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
}


def problem(kind: PageProblem, detail: str | None = None) -> str:
    """What a linking page says when it cannot go on."""
    if kind is PageProblem.NOT_AUTHORIZED:
        return page_no_code(detail)
    return _PROBLEMS[kind]
