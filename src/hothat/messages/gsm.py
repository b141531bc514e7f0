"""SMS text: the GSM 03.38 alphabet, normalisation to it, and segment counting.

An SMS is sent in GSM-7 when every character is in the GSM 03.38 basic table or its extension table, and in
UCS-2 otherwise. A single en dash, curly quote or non-breaking space pushes a whole Swedish message to UCS-2,
which holds 70 characters per segment instead of 160. The letters å, ä, ö, Å, Ä, Ö, é, É, ü, Ü are in the
basic table and never cause that; typographic punctuation does, so :func:`normalize` replaces it first.

Counting rules (3GPP TS 23.038 and 23.040, as the providers bill):

- GSM-7: 160 septets in a single message, 153 per part once concatenated (the user data header takes the
  rest). An extension character (``{ } [ ] ~ \\ | ^ €`` and form feed) is an escape plus a byte: 2 septets,
  and the pair is never split across parts.
- UCS-2: 70 UTF-16 code units single, 67 per part. A character outside the Basic Multilingual Plane (most
  emoji) is a surrogate pair: 2 units, never split across parts.
- Empty text is one segment of zero units: providers bill (or refuse) it as one message, never as zero.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

import attrs

__all__ = [
    "BASIC",
    "EXTENSION",
    "SmsInfo",
    "is_gsm7",
    "normalize",
    "sms_info",
    "split",
]

BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The GSM 03.38 basic table: one septet each (0x1B, the escape, is not a character of its own)."""

EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")
"""The GSM 03.38 extension table: escape 0x1B plus one septet, so two septets each."""

_GSM7 = BASIC | EXTENSION

# Characters with a GSM-7 look-alike, as word processors, phones and web forms produce them. Every value
# is GSM-7 itself (tested), which keeps normalize() idempotent.
_DASH = "-"
_REPLACEMENTS: dict[str, str] = {
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\ufe63\uff0d", _DASH),
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u2035\u2039\u203a\u00b4\u0060\u02b9\u02bc", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\u02ba", '"'),
    "\u2026": "...",
    # Spaces: no-break, the typographic widths, narrow no-break, ideographic, and the tab.
    **dict.fromkeys("\t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a", " "),
    **dict.fromkeys("\u202f\u205f\u3000", " "),
    # Invisible characters that only carry layout hints: zero-width space, word joiner, BOM, soft hyphen.
    # Zero-width (non-)joiners are kept: they change how emoji and some scripts render.
    **dict.fromkeys("\u200b\u2060\ufeff\u00ad", ""),
    **dict.fromkeys("\u2028\u2029\u0085\u000b", "\n"),
    **dict.fromkeys("\u2022\u2023\u25e6\u2219\u00b7\u25cf\u25aa\u25a0\u25cb", _DASH),
    "\u2192": "->",
    "\u2190": "<-",
    "\u21d2": "=>",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u00d7": "x",
    "\u2044": "/",
    "\u2215": "/",
    "\u00a9": "(c)",
    "\u00ae": "(R)",
    "\u00a6": "|",
}


@attrs.frozen
class SmsInfo:
    """How a text travels as SMS.

    Attributes:
        encoding: ``"GSM-7"`` or ``"UCS-2"``.
        units: septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2.
        segments: how many SMS the provider sends and bills (at least 1).
        per_segment: the capacity of each segment in ``units``: 160 or 153 for GSM-7, 70 or 67 for UCS-2.
    """

    encoding: Literal["GSM-7", "UCS-2"]
    units: int
    segments: int
    per_segment: int


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` is in the GSM 03.38 basic or extension table."""
    return _GSM7.issuperset(text)


def normalize(text: str) -> str:
    """Replace characters that force UCS-2 with their GSM-7 look-alikes.

    Typographic dashes become ``-``, curly quotes and guillemets ``'`` or ``"``, the ellipsis ``...``, Unicode
    spaces and the tab a plain space, bullets ``-``; zero-width characters are removed. Letters with accents
    outside the GSM table lose the accent (``á`` → ``a``, ``ç`` → ``c``) and compatibility forms are unfolded
    (full-width ``１`` → ``1``); decomposed letters are composed first (``a`` + combining ring → ``å``).
    Letters that *are* in the table (å ä ö é ü ñ ...) are kept as they are.

    A character with no look-alike (emoji, Cyrillic, ``°``) is left in place, never turned into ``?``: the
    text then stays UCS-2 and :func:`sms_info` says so. ``normalize(normalize(t)) == normalize(t)``.
    """
    if is_gsm7(text):  # the common case, and GSM-7 text has no combining marks to compose
        return text
    return "".join(_normalize_cluster(cluster) for cluster in _clusters(text))


def _clusters(text: str) -> list[str]:
    """Split ``text`` into a base character and the combining marks that follow it."""
    clusters: list[str] = []
    for char in text:
        if clusters and unicodedata.category(char).startswith("M"):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def _normalize_cluster(cluster: str) -> str:
    composed = unicodedata.normalize("NFC", cluster)
    if is_gsm7(composed):
        return composed
    if cluster in _REPLACEMENTS:
        return _REPLACEMENTS[cluster]
    # Unfold compatibility forms and drop the accents; accept the result only if it is all GSM-7,
    # so a character with no look-alike stays visible instead of degrading silently.
    folded = "".join(
        _REPLACEMENTS.get(char, char)
        for char in unicodedata.normalize("NFKD", cluster)
        if not unicodedata.category(char).startswith("M")
    )
    if folded and is_gsm7(folded):
        return folded
    return cluster


def _units(char: str, gsm: bool) -> int:
    if gsm:
        return 2 if char in EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def _limits(gsm: bool) -> tuple[int, int]:
    """(single-message capacity, per-part capacity) in units."""
    return (160, 153) if gsm else (70, 67)


def _total_units(text: str, gsm: bool) -> int:
    if gsm:
        return len(text) + sum(text.count(char) for char in EXTENSION)
    # "surrogatepass" counts a lone surrogate as the one unit it is, as _units does.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def split(text: str) -> list[str]:
    """Split ``text`` into the parts a phone receives.

    A text that fits one message is one part; otherwise each part holds at most 153 septets (GSM-7) or 67
    UTF-16 units (UCS-2). An escape pair or a surrogate pair is never split: the part ends before it.
    ``"".join(split(t)) == t`` always; the empty text is one empty part.
    """
    gsm = is_gsm7(text)
    single, per_part = _limits(gsm)
    if _total_units(text, gsm) <= single:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        cost = _units(char, gsm)
        if used + cost > per_part:
            parts.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += cost
    parts.append("".join(current))
    return parts


def sms_info(text: str) -> SmsInfo:
    """Encoding, size and segment count of ``text`` as given; :func:`normalize` it first to save segments."""
    gsm = is_gsm7(text)
    single, per_part = _limits(gsm)
    units = _total_units(text, gsm)
    segments = 1 if units <= single else len(split(text))
    return SmsInfo(
        encoding="GSM-7" if gsm else "UCS-2",
        units=units,
        segments=segments,
        per_segment=single if segments == 1 else per_part,
    )
