"""mrkdwn, Slack's markup: people's own words made inert, dates in each reader's time zone,
mentions, server names. The small pieces every sentence of :mod:`bot.slack.texts` uses."""

from __future__ import annotations

import unicodedata
from datetime import datetime

#: What a backtick in a name becomes inside a code span: MODIFIER LETTER GRAVE ACCENT looks
#: alike and cannot end the span.
BACKTICK_LOOKALIKE = "\u02cb"


def escape(text: str) -> str:
    """Someone's own words (a note, a reason) made inert in mrkdwn: ``&``, ``<``, ``>`` become
    ``&amp;``, ``&lt;``, ``&gt;`` (https://api.slack.com/reference/surfaces/formatting#escaping),
    so ``<!channel>``, ``<@U123>`` or ``<http://evil|click>`` show as typed and notify nobody.

    Slash-command text arrives already escaped by Slack, but with ``should_escape`` it turns a
    typed ``@channel`` into ``<!channel>``; modal input arrives raw. Both go through here:
    the three entities are decoded first, so escaping twice changes nothing (a person who
    literally types ``&lt;`` sees ``<``, the one price of that).
    """
    plain = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(name: str) -> str:
    """A name from the hub (a user, a group, a server, a scope) or a typed server name, in a
    code span it cannot break out of: ``&``, ``<``, ``>`` escaped (never decoded first: a
    name is shown exactly as the hub has it), a backtick replaced by a look-alike
    (:data:`BACKTICK_LOOKALIKE`), line breaks and other control or format characters (bidi
    overrides included) by spaces: a code span ends at a line break. A server named
    ``x`<!channel>`` is then shown as the one span ``x&lt;!channel&gt;`` with a look-alike
    backtick after the x, and pings nobody."""
    inert = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    inert = inert.replace("`", BACKTICK_LOOKALIKE)
    inert = "".join(
        " " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in inert
    )
    return f"`{inert}`"


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, ending in ``…`` when cut. The cut never
    splits an entity (``&amp;``) or a mention, date or link (``<@U123>``), and a code span
    it would leave open is closed."""
    if len(text) <= limit:
        return text
    head = text[: max(limit - 2, 0)]
    for opener, closer in (("&", ";"), ("<", ">")):
        start = head.rfind(opener)
        if start != -1 and closer not in head[start:]:
            head = head[:start]
    if head.count("`") % 2:
        return head + "`…"
    return head + "…"


def when(moment: datetime) -> str:
    """Slack date formatting: each reader sees their own local time."""
    epoch = int(moment.timestamp())
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"


def user(slack_id: str) -> str:
    return f"<@{slack_id}>"


def server_label(owner_hub: str, server: str) -> str:
    """``owner/server`` (names from the hub) as one unbreakable code span."""
    return code(f"{owner_hub}/{server}") if server else f"{code(owner_hub)}'s default server"
