"""The forms' pure parts: what a modal remembers (sealed, bound to whoever opened it), the
duration choices, and the hub links in a message.

A modal's ``private_metadata`` comes back with every submission and click in it. sharebot
puts there who opened it, the hub user it was opened for and the servers the hub listed
for that owner, and seals it (HMAC-SHA256 under a key derived from the signing secret):
a submission by anyone else, with other servers, or of an altered or old form is refused.
The server a form names is then always one the hub listed for that owner; the share use
case checks it on the hub once more.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.domain.durations import UNTIL_REVOKED_WORD, format_duration
from bot.domain.gate import parse_notebook_path

__all__ = [
    "MAX_AGE",
    "MAX_METADATA",
    "Sealed",
    "duration_choices",
    "form_key",
    "hub_links",
    "notebook_in",
    "seal",
    "seal_fitting",
    "unseal",
]

#: Slack's limit for a view's private_metadata.
MAX_METADATA = 3000
#: How long a form may stay open before its submission is refused (open it again).
MAX_AGE = timedelta(hours=12)
_INFO = b"sharebot forms v1"
_CHOICES = (
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(days=1),
    timedelta(weeks=1),
)


def form_key(signing_secret: str) -> bytes:
    """The forms' sealing key, derived from the Slack signing secret (the same on every
    replica and the worker process; never the secret itself)."""
    return hmac.new(signing_secret.encode(), _INFO, hashlib.sha256).digest()


@dataclass(frozen=True)
class Sealed:
    """What a form remembers. ``user``: who opened it (the only one who may submit it);
    ``kind``: ``share`` or ``request``; ``hub_user``: the owner's hub user the ``servers``
    were read for (the opener's for a share, the chosen owner's for a request);
    ``owner``: the chosen owner's Slack id (requests); ``issued``: epoch seconds."""

    user: str
    kind: str
    issued: int
    hub_user: str = ""
    servers: tuple[str, ...] = ()
    owner: str = ""

    def server_at(self, index: str | None) -> str | None:
        """The server an option's value (its index) stands for; None for anything else."""
        if index is None or not index.isdigit() or len(index) > 3:
            return None
        n = int(index)
        return self.servers[n] if n < len(self.servers) else None


def seal(data: Sealed, key: bytes) -> str:
    """``data`` as private_metadata: JSON and its MAC, URL-safe text. Raises ValueError when
    it does not fit Slack's limit (the caller shows fewer servers)."""
    body = json.dumps(
        {
            "u": data.user,
            "k": data.kind,
            "t": data.issued,
            "h": data.hub_user,
            "s": list(data.servers),
            "o": data.owner,
        },
        separators=(",", ":"),
    ).encode()
    text = _b64(body) + "." + _b64(_mac(body, key))
    if len(text) > MAX_METADATA:
        raise ValueError(f"sealed form data of {len(text)} characters")
    return text


def seal_fitting(data: Sealed, key: bytes) -> tuple[str, Sealed]:
    """:func:`seal`, leaving off servers from the end until it fits Slack's limit; returns
    the text and what it holds (the form lists those servers)."""
    while True:
        try:
            return seal(data, key), data
        except ValueError:
            if not data.servers:
                raise
            data = dataclasses.replace(data, servers=data.servers[: len(data.servers) * 3 // 4])


def unseal(text: object, key: bytes, *, user: str, kind: str, now: datetime) -> Sealed | None:
    """What the form remembers, when ``text`` is ours unaltered, opened by ``user``, of
    ``kind`` and not older than :data:`MAX_AGE`; None otherwise."""
    if not isinstance(text, str) or len(text) > MAX_METADATA or text.count(".") != 1:
        return None
    payload, mac = text.split(".")
    try:
        body = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        given = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
    except ValueError:
        return None
    if not hmac.compare_digest(given, _mac(body, key)):
        return None
    try:
        raw: Any = json.loads(body)
        data = Sealed(
            user=str(raw["u"]),
            kind=str(raw["k"]),
            issued=int(raw["t"]),
            hub_user=str(raw["h"]),
            servers=tuple(str(s) for s in raw["s"]),
            owner=str(raw["o"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    age = now.timestamp() - data.issued
    if data.user != user or data.kind != kind or not -60 <= age <= MAX_AGE.total_seconds():
        return None
    return data


def _mac(body: bytes, key: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def duration_choices(max_duration: timedelta, allow_until_revoked: bool) -> list[str]:
    """The durations a form offers as choices, as the command's words (``1h``): the usual
    ones within the workspace's limit, and ``until-revoked`` where allowed."""
    words = [format_duration(d) for d in _CHOICES if d <= max_duration]
    if max_duration not in _CHOICES:
        words.append(format_duration(max_duration))
    if allow_until_revoked:
        words.append(UNTIL_REVOKED_WORD)
    return words


#: Links as Slack writes them in a message's text: ``<https://…>`` or ``<https://…|label>``.
_LINK = re.compile(r"<(https?://[^|>\s]{1,2000})(?:\|[^>]*)?>")
#: How much of a message is looked at for links.
MAX_SCANNED = 8000


def hub_links(text: str, hub_origin: str) -> list[str]:
    """The links in a Slack message's text that point at this hub (at most 10)."""
    origin = hub_origin.rstrip("/")
    found = []
    for match in _LINK.finditer(text[:MAX_SCANNED]):
        url = match.group(1)
        if url == origin or url.startswith(origin + "/"):
            found.append(url)
        if len(found) == 10:
            break
    return found


def notebook_in(
    text: str, *, owner_hub: str, servers: tuple[str, ...], hub_origin: str
) -> tuple[str, str] | None:
    """(server, path) of the first link in ``text`` to a file on one of the owner's
    ``servers`` (as the command's ``path:`` would take it); None when there is none."""
    for url in hub_links(text, hub_origin):
        for server in servers:
            where = parse_notebook_path(
                url, owner_hub=owner_hub, server=server, hub_origin=hub_origin
            )
            if where.path is not None:
                return server, where.path
    return None
