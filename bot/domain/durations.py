"""Durations as people type them: ``30m``, ``1h``, ``2h30m``, ``1d``, ``1w``."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.errors import CommandError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+)([smhdw])")
_WHOLE = re.compile(r"(?:\d+[smhdw])+")

MIN_SHARE = timedelta(minutes=1)


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
    for number, unit in _PART.findall(raw):
        if unit in seen:
            raise CommandError(f"`{text}` names `{unit}` twice.")
        seen.add(unit)
        seconds += int(number) * _UNITS[unit]
    if seconds == 0:
        raise CommandError(f"`{text}` is zero; a share must last at least 1m.")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """An exact, readable form: 90 minutes -> ``1h30m``, 8 days -> ``8d``, 14 days -> ``2w``."""
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


def check_share_duration(value: timedelta, maximum: timedelta) -> None:
    """Refuse durations outside [1m, maximum]."""
    if value < MIN_SHARE:
        raise CommandError(f"{format_duration(value)} is too short; a share lasts at least 1m.")
    if value > maximum:
        raise CommandError(
            f"{format_duration(value)} is longer than this workspace allows "
            f"({format_duration(maximum)}). Share for less, and share again later if needed."
        )
