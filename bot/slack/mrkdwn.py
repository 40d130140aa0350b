"""mrkdwn, Slack's markup: people's own words made inert, dates in each reader's time zone,
mentions, server names. The small pieces every sentence of :mod:`bot.slack.texts` uses."""

from __future__ import annotations

from datetime import datetime


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


def when(moment: datetime) -> str:
    """Slack date formatting: each reader sees their own local time."""
    epoch = int(moment.timestamp())
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"


def user(slack_id: str) -> str:
    return f"<@{slack_id}>"


def server_label(owner_hub: str, server: str) -> str:
    return f"`{owner_hub}/{server}`" if server else f"`{owner_hub}`'s default server"
