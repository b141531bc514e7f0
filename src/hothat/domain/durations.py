"""Durations as people write them in a municipality file: ``90s``, ``15m``, ``2h``, ``1d``, ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration"]

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
# Nine digits: enough for any timedelta (at most 999 999 999 days), so every formatted duration parses back.
_PART = re.compile(r"(\d{1,9})([dhms])")
_WHOLE = re.compile(r"(?:\d{1,9}[dhms])+")


def parse_duration(text: str) -> timedelta:
    """Parse ``"15m"``, ``"2h"``, ``"1h30m"``, ``"90s"`` or ``"1d"`` into a ``timedelta``.

    Units go from largest to smallest, each at most once. Raises ``ValueError`` with a message that says
    what is accepted.
    """
    cleaned = text.strip().lower().replace(" ", "")
    if not cleaned or not _WHOLE.fullmatch(cleaned):
        raise ValueError(f"{text!r} is not a duration: write a number and a unit, e.g. 90s, 15m, 2h, 1d or 1h30m")
    seen: list[str] = []
    total = 0
    for number, unit in _PART.findall(cleaned):
        if seen and "dhms".index(unit) <= "dhms".index(seen[-1]):
            raise ValueError(f"{text!r} is not a duration: give each unit once, largest first (e.g. 1h30m)")
        seen.append(unit)
        total += int(number) * _UNITS[unit]
    try:
        return timedelta(seconds=total)
    except OverflowError:
        raise ValueError(f"{text!r} is not a duration: it is too long; write at most 999999999d") from None


def format_duration(value: timedelta) -> str:
    """Write a ``timedelta`` the way ``parse_duration`` reads it (``0s`` for zero; whole seconds)."""
    seconds = int(value.total_seconds())
    if seconds < 0:
        return "-" + format_duration(-value)
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
