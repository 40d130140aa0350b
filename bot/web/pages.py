"""The few HTML pages sharebot shows in a browser (account linking). Pure rendering."""

from __future__ import annotations

from html import escape

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
