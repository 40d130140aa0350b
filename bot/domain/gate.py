"""The accept gate, the pure parts: the gate token, the share code sealed under it, and
where a recipient's browser goes once the gate has let her through.

A grant's share code is stored only sealed (AES-GCM) under a key derived from the gate
token, and the token only as its SHA-256: the database alone never gives the code. The
token travels in the recipient's DM (``{public}/accept/{token}``) and, while she passes
the gate, in an HttpOnly cookie.
"""

from __future__ import annotations

import base64
import hashlib
import os
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.domain.linking import new_secret, sha256_hex

__all__ = ["NotebookPath", "new_gate_token", "parse_notebook_path", "seal", "sha256_hex", "unseal"]

_NONCE_BYTES = 12
_INFO = b"sharebot accept gate v1"
#: The longest notebook path accepted (a URL path, after decoding).
MAX_PATH = 1024
#: Where a path on a server may start: the pages of JupyterLab, Notebook 7 and classic.
PAGES = frozenset({"lab", "tree", "notebooks", "edit", "doc", "files", "view", "voila"})


def new_gate_token() -> str:
    return new_secret()


def _key(token: str) -> bytes:
    return hashlib.sha256(_INFO + b"\0" + token.encode()).digest()


def seal(code: str, token: str) -> str:
    """The share code, encrypted and authenticated under ``token``; URL-safe text."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_key(token)).encrypt(nonce, code.encode(), _INFO)
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(sealed: str, token: str) -> str | None:
    """The share code sealed under ``token``; None for another token or altered text."""
    try:
        raw = base64.urlsafe_b64decode(sealed.encode("ascii"))
        code = AESGCM(_key(token)).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _INFO)
    except (InvalidTag, ValueError):
        return None
    return code.decode()


# -- notebook paths -------------------------------------------------------------------------

_SAFE = re.compile(r"^[\w .@+~%,=()\[\]!$&'*;:-]+$")


@dataclass(frozen=True)
class NotebookPath:
    """Where on the shared server the recipient lands: ``lab/tree/analysis.ipynb``, say
    (relative to the server's URL, never outside it). ``None`` when it cannot be one."""

    path: str | None
    why_not: str = ""


def parse_notebook_path(text: str, *, owner_hub: str, server: str, hub_origin: str) -> NotebookPath:
    """``path:lab/tree/x.ipynb``'s value, or a pasted URL of a file on the shared server
    (``{hub}/user/{owner}/{server}/lab/tree/x.ipynb``), as a path under the server's URL.

    Refused: a URL on another host or of another server, ``..`` anywhere, a query or
    fragment, control characters, over :data:`MAX_PATH` characters.
    """
    text = text.strip()
    if not text:
        return NotebookPath(None, "the path is empty")
    if len(text) > MAX_PATH:
        return NotebookPath(None, f"the path is longer than {MAX_PATH} characters")
    parts = urlsplit(text)
    if parts.scheme or parts.netloc:
        hub = urlsplit(hub_origin)
        if (parts.scheme, parts.netloc) != (hub.scheme, hub.netloc):
            return NotebookPath(None, "the URL is not on this JupyterHub")
        if parts.query or parts.fragment:
            return NotebookPath(None, "the URL has a query or fragment")
        base = (
            f"/user/{quote(owner_hub)}/{quote(server)}/" if server else f"/user/{quote(owner_hub)}/"
        )
        prefix = urlsplit(hub_origin).path.rstrip("/") + base
        if not parts.path.startswith(prefix):
            return NotebookPath(None, "the URL is not on the server you are sharing")
        text = parts.path[len(prefix) :]
    elif "?" in text or "#" in text:
        return NotebookPath(None, "the path has a query or fragment")
    decoded = unquote(text).lstrip("/")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in decoded) or "\\" in decoded:
        return NotebookPath(None, "the path has characters a file path cannot have")
    segments = decoded.split("/")
    if any(seg in ("..", ".") for seg in segments):
        return NotebookPath(None, "the path has `.` or `..` in it: give it from the server's top")
    if not all(_SAFE.match(seg) for seg in segments if seg):
        return NotebookPath(None, "the path has characters a file path cannot have")
    normal = posixpath.normpath(decoded) if decoded else ""
    if normal in ("", "."):
        return NotebookPath(None, "the path is empty")
    if normal.split("/", 1)[0] not in PAGES:
        # `gpu/lab/…` under the default server is the named server gpu; `api/…` is no page
        return NotebookPath(
            None,
            "that is not a page of the server: start it with one of "
            + ", ".join(f"`{p}/`" for p in sorted(PAGES)),
        )
    return NotebookPath(normal + ("/" if decoded.endswith("/") else ""))


def server_url_path(base_path: str, owner_hub: str, server: str, path: str | None = None) -> str:
    """The URL path of a server (and a file on it) under the hub's ``base_path``."""
    url = f"{base_path.rstrip('/')}/user/{quote(owner_hub)}/"
    if server:
        url += f"{quote(server)}/"
    if path:
        url += quote(path)
    return url
