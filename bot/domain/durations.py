"""Durations as people type them: ``30m``, ``1h``, ``2h30m``, ``1d``, ``1w``.

A share without an end (``until-revoked``, when SHAREBOT_ALLOW_UNTIL_REVOKED allows it) has
the duration :data:`UNTIL_REVOKED`: it compares longer than any limit (so approval policy
treats it as above every threshold and "approve for less" offers every shorter step), is
stored as NULL (:func:`to_seconds`) and is never added to a time (such grants get no
deadline; see ``bot.domain.grants.deadline_after_acceptance``).
"""

from __future__ import annotations

import re
from datetime import timedelta

from bot.errors import CommandError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+)([smhdw])")
_WHOLE = re.compile(r"(?:\d+[smhdw])+")

MIN_SHARE = timedelta(minutes=1)
#: Longer than any limit anyone sets, far below what a timedelta can hold (and far from
#: UNTIL_REVOKED, which a parsed duration must never be mistaken for).
LONGEST = timedelta(days=100 * 365)
UNTIL_REVOKED = timedelta.max
UNTIL_REVOKED_WORD = "until-revoked"


def is_until_revoked(value: timedelta) -> bool:
    # whole days: a value that went through seconds and back still counts
    return value.days >= UNTIL_REVOKED.days


def to_seconds(value: timedelta) -> int | None:
    """For the database: whole seconds, or None for until revoked."""
    return None if is_until_revoked(value) else int(value.total_seconds())


def from_seconds(seconds: int | None) -> timedelta:
    """From the database: NULL is until revoked."""
    return UNTIL_REVOKED if seconds is None else timedelta(seconds=seconds)


def looks_like_duration(text: str) -> bool:
    """True when ``text`` has the shape of a duration (digits with units)."""
    return bool(_WHOLE.fullmatch(text.strip().lower())) or text.strip().isdigit()


def parse_duration(text: str) -> timedelta:
    """Parse ``2h30m`` into a timedelta.

    Units: s, m, h, d, w. Each unit at most once, largest first is not required.
    Raises CommandError with a message that shows valid examples.
    """
    raw = text.strip().lower()
    if raw.isdigit():
        raise CommandError(
            f"`{text}` needs a unit: try `{raw}m`, `{raw}h` or `{raw}d`.",
        )
    if not _WHOLE.fullmatch(raw):
        raise CommandError(
            f"`{text}` is not a duration. Use forms like `30m`, `1h`, `2h30m`, `1d`."
        )
    seen: set[str] = set()
    seconds = 0
    too_long = CommandError(f"`{text[:40]}` is too long; no share lasts past 100 years.")
    for number, unit in _PART.findall(raw):
        if unit in seen:
            raise CommandError(f"`{text}` names `{unit}` twice.")
        seen.add(unit)
        if len(number) > 12:  # also keeps int() away from its 4300-digit limit
            raise too_long
        seconds += int(number) * _UNITS[unit]
    if seconds == 0:
        raise CommandError(f"`{text}` is zero; a share must last at least 1m.")
    if seconds > LONGEST.total_seconds():
        raise too_long
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """An exact, readable form: 90 minutes -> ``1h30m``, 8 days -> ``8d``, 14 days -> ``2w``."""
    if is_until_revoked(value):
        return "until revoked"
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "0s"
    if seconds % _UNITS["w"] == 0:
        return f"{seconds // _UNITS['w']}w"
    parts = []
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size:
            count, seconds = divmod(seconds, size)
            parts.append(f"{count}{unit}")
    return "".join(parts)


def for_how_long(value: timedelta) -> str:
    """``for 1h``, or ``until revoked``: how long a share lasts, in a sentence."""
    return "until revoked" if is_until_revoked(value) else f"for {format_duration(value)}"


def check_share_duration(value: timedelta, maximum: timedelta) -> None:
    """Refuse durations outside [1m, maximum]."""
    if value < MIN_SHARE:
        raise CommandError(f"{format_duration(value)} is too short; a share lasts at least 1m.")
    if value > maximum:
        raise CommandError(
            f"{format_duration(value)} is longer than this workspace allows "
            f"({format_duration(maximum)}). Share for less, and share again later if needed."
        )
