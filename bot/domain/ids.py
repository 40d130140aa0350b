"""Numbers read back from what Slack sends (button values, block ids): only ASCII digits,
and only as many as a database id (or a duration in seconds) can hold. ``str.isdigit``
alone lets through ``"²"`` (``int`` refuses it) and numbers too large for SQLite's or
PostgreSQL's integers, which a signed but forged click could carry."""

from __future__ import annotations

#: The largest id a 64-bit signed integer column holds.
MAX_ID = 2**63 - 1
#: The longest duration a click may carry, in seconds (ten years: beyond any limit).
MAX_SECONDS = 10 * 366 * 24 * 3600


def number_of(text: str | None, *, limit: int = MAX_ID) -> int | None:
    """``text`` as a non-negative integer no larger than ``limit``; None otherwise."""
    if not text or len(text) > 19 or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value <= limit else None
