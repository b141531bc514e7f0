"""Characters that must not reach a person's screen raw: control, format and separator characters.

A name with a line break splits a log line or a summary in two; a right-to-left override (U+202E) makes a
text display in another order than it is stored, so what a reader sees is not what the file says. This module
says which characters those are, names one for a message (``U+202E, a right-to-left override``) and escapes
them for printing. It imports nothing from hothat, so every layer may use it.
"""

from __future__ import annotations

import json
import unicodedata

__all__ = ["describe", "escape", "hidden_characters", "quoted"]

# Zero-width (non-)joiners are part of how Persian, Indic scripts and emoji are written: kept.
_ALLOWED_FORMAT = {"\u200c", "\u200d"}
_BIDI = {"\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))}
_NAMES = {
    "\t": "a tab",
    "\n": "a line break",
    "\r": "a carriage return",
    "\x00": "a NUL character",
    "\u2028": "a line separator",
    "\u2029": "a paragraph separator",
    "\ufeff": "a byte-order mark",
    "\u200b": "a zero-width space",
    "\u00ad": "a soft hyphen",
}


def _hidden(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category in {"Cc", "Zl", "Zp"} or (category == "Cf" and ch not in _ALLOWED_FORMAT)


def hidden_characters(text: str, *, allow: str = "") -> list[str]:
    """The control, format and separator characters in ``text``, in order, except those in ``allow``."""
    return [ch for ch in text if ch not in allow and _hidden(ch)]


def describe(ch: str) -> str:
    """``"U+000A, a line break"``: a character named for a message, never shown raw."""
    if ch in _BIDI:
        what = "a bidirectional control, which can make text display in another order than it is stored"
    else:
        what = _NAMES.get(ch, "a control character" if unicodedata.category(ch) == "Cc" else "an invisible character")
    return f"U+{ord(ch):04X}, {what}"


def escape(text: str, *, keep: str = "") -> str:
    """``text`` with every hidden character but those in ``keep`` written as ``\\n``, ``\\t`` or ``\\uXXXX``."""
    if not any(_hidden(ch) and ch not in keep for ch in text):
        return text
    short = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
    return "".join((short.get(ch) or f"\\u{ord(ch):04x}") if ch not in keep and _hidden(ch) else ch for ch in text)


def quoted(text: str) -> str:
    """Text in double quotes as TOML writes it, every hidden character escaped (so it prints as one safe line)."""
    inner = json.dumps(text, ensure_ascii=False)[1:-1]  # escapes quotes, backslashes and C0 controls
    return f'"{escape(inner)}"'
