"""Render Slack messages as the plain text a person would read (pure; for ``sharebot demo``).

:func:`render_message` turns the parameters of a ``chat.postMessage`` / ``chat.update`` /
``response_url`` post into lines: section and context text, buttons as ``[Approve]``, menus as
``[Approve for less... v]``. :func:`plain` turns Slack mrkdwn into what the reader sees:
``<@U123>`` as ``@alice``, ``<url|label>`` as ``label``, dates as their fallback text.

Secrets never come out: a link that carries a share code (``accept-share``, ``code=``) or an
accept gate's token (``/accept/``) is shown as ``<accept link>``, as people only ever see it
behind a button or a label.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["EMOJI", "SECRET_LINK", "plain", "redact", "render_message"]

#: What is printed instead of an accept link or any other text carrying a share code.
SECRET_LINK = "<accept link>"

# A URL or bare query fragment that carries a share code. Deliberately broad: anything with
# `accept-share`, `code=` or `/accept/` in it is hidden whole, up to whitespace or a mrkdwn
# delimiter.
_SECRET_RE = re.compile(r"[^\s<>|]*(?:accept-share|code=|/accept/)[^\s<>|]*", re.IGNORECASE)
# Slack's angle-bracket escapes: <@U1>, <@U1|name>, <#C1|chan>, <!here>, <!date^...|fb>, <url|label>
_ANGLE_RE = re.compile(r"<([^<>]+)>")
# The emoji sharebot's texts use, as Slack shows them; other shortcodes stay as written.
EMOJI = {
    "white_check_mark": "\u2705",
    "x": "\u274c",
    "warning": "\u26a0\ufe0f",
    "hourglass": "\u231b",
    "hourglass_flowing_sand": "\u23f3",
    "link": "\U0001f517",
    "no_entry_sign": "\U0001f6ab",
    "pushpin": "\U0001f4cc",
    "heavy_minus_sign": "\u2796",
}
_EMOJI_RE = re.compile(r":([a-z0-9_+-]+):")


def redact(text: str) -> str:
    """``text`` with every accept link / share code replaced by :data:`SECRET_LINK`."""
    return _SECRET_RE.sub(SECRET_LINK, text)


def _is_secret(text: str) -> bool:
    return _SECRET_RE.search(text) is not None


def _angle(inner: str, names: Mapping[str, str]) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):  # a user mention
        user_id = target[1:]
        return "@" + (names.get(user_id) or label or user_id)
    if target.startswith("#"):  # a channel
        return "#" + (label or target[1:])
    if target.startswith("!"):  # <!here>, <!channel>, <!date^epoch^format|fallback>, ...
        if target.startswith("!date^"):
            return label or target
        if target.startswith("!subteam^"):
            return label or "@group"
        return "@" + target[1:]
    # a link: the reader sees its label (or the URL when it has none)
    if label:
        return SECRET_LINK if _is_secret(label) else label
    return SECRET_LINK if _is_secret(target) else target


def plain(text: str, names: Mapping[str, str] | None = None) -> str:
    """Slack mrkdwn as the reader sees it: mentions resolved with ``names`` (Slack user id ->
    display name), links as their labels, dates as their fallback, entities unescaped, and
    accept links hidden, known emoji shortcodes as emoji. Emphasis markers (``*bold*``,
    backticks) are kept: they read fine."""
    resolved = _ANGLE_RE.sub(lambda m: _angle(m.group(1), names or {}), text)
    resolved = _EMOJI_RE.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), resolved)
    return redact(html.unescape(resolved))


def _text_of(obj: Any, names: Mapping[str, str]) -> str:
    """The text of a text object (``plain_text`` or ``mrkdwn``) or a bare string."""
    if isinstance(obj, str):
        return plain(obj, names)
    if isinstance(obj, Mapping):
        text = obj.get("text")
        if isinstance(text, str):
            return plain(text, names) if obj.get("type") == "mrkdwn" else redact(text)
    return ""


def _element(element: Mapping[str, Any], names: Mapping[str, str]) -> str:
    kind = element.get("type")
    if kind == "button":
        return f"[{_text_of(element.get('text'), names)}]"
    if kind in ("static_select", "external_select", "users_select", "conversations_select"):
        label = _text_of(element.get("placeholder"), names) or "choose"
        return f"[{label} v]"
    if kind == "overflow":
        return "[...]"
    if kind == "image":
        return f"[image: {redact(str(element.get('alt_text', '')))}]"
    if kind in ("mrkdwn", "plain_text"):
        return _text_of(element, names)
    return f"[{kind}]"


def _rich_text(elements: Any, names: Mapping[str, str]) -> str:
    out: list[str] = []
    for element in elements if isinstance(elements, list) else []:
        if not isinstance(element, Mapping):
            continue
        kind = element.get("type")
        if kind == "text":
            out.append(redact(str(element.get("text", ""))))
        elif kind == "link":
            label = str(element.get("text") or "")
            url = str(element.get("url") or "")
            out.append(SECRET_LINK if _is_secret(url) and not label else redact(label or url))
        elif kind == "user":
            user_id = str(element.get("user_id", ""))
            out.append("@" + names.get(user_id, user_id))
        elif "elements" in element:
            out.append(_rich_text(element["elements"], names))
    return "".join(out)


def _block(block: Mapping[str, Any], names: Mapping[str, str]) -> list[str]:
    kind = block.get("type")
    lines: list[str] = []
    if kind in ("section", "header"):
        text = _text_of(block.get("text"), names)
        if text:
            lines.extend(text.splitlines())
        for field in block.get("fields") or []:
            lines.extend(_text_of(field, names).splitlines())
        accessory = block.get("accessory")
        if isinstance(accessory, Mapping):
            lines.append(_element(accessory, names))
    elif kind == "context":
        parts = [_element(e, names) for e in block.get("elements") or [] if isinstance(e, Mapping)]
        joined = " ".join(p for p in parts if p)
        if joined:
            lines.extend(joined.splitlines())
    elif kind == "actions":
        parts = [_element(e, names) for e in block.get("elements") or [] if isinstance(e, Mapping)]
        lines.append(" ".join(parts))
    elif kind == "divider":
        lines.append("----")
    elif kind == "input":
        label = _text_of(block.get("label"), names)
        lines.append(f"{label}: [________]")
    elif kind == "rich_text":
        lines.extend(_rich_text(block.get("elements"), names).splitlines())
    elif kind == "image":
        lines.append(f"[image: {redact(str(block.get('alt_text', '')))}]")
    return lines


def render_message(message: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[str]:
    """The lines a reader sees for a posted message: its blocks when it has any (Slack then
    shows ``text`` only in notifications), else its ``text``. Never an accept link."""
    names = names or {}
    blocks = message.get("blocks")
    lines: list[str] = []
    if isinstance(blocks, list) and blocks:
        for block in blocks:
            if isinstance(block, Mapping):
                lines.extend(_block(block, names))
    else:
        text = message.get("text")
        if isinstance(text, str):
            lines.extend(plain(text, names).splitlines())
    return [line.rstrip() for line in lines]
