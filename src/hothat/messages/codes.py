"""SMS reply codes, GoAlert style: answer ``12`` to take a step, ``12n`` to say you can't.

Each recipient gets a short number per step they are asked about. People answer from a phone, in a hurry, so
the parser forgives case, spaces, full-width digits, trailing punctuation, a leading "ok"/"ja"/"yes" and a
decline written as a word ("12 nej", "12 no", "12 kan inte"). It refuses everything else, so a chatty reply
or a phone number is kept for the trail and never taken as an answer.

Keywords are kept to ``STOP``, ``STOPP`` and ``START``: the words the Swedish operators and the SMS providers
already honour. Words such as "avsluta" are not keywords, because a person answering an incident message may
mean "close the incident", not "stop sending me alarms".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from typing import Literal

import attrs

__all__ = ["MAX_CODE_DIGITS", "MIN_CODE", "Reply", "allocate_code", "parse_keyword", "parse_reply"]

MIN_CODE = 10
"""The smallest code: two digits at least, so a stray ``1`` is never an answer."""

MAX_CODE_DIGITS = 6
"""The longest code accepted; longer numbers (phone numbers, dates) are never codes."""

_ACCEPT_PREFIXES = ("ok", "okay", "okej", "ja", "yes")
_ACCEPT_SUFFIXES = ("", "ok", "okay", "okej", "ja", "j", "yes", "y")
_DECLINE_SUFFIXES = (
    "n",
    "nej",
    "no",
    "nope",
    "kan inte",
    "kaninte",
    "inte",
    "can't",
    "cant",
    "cannot",
    "can not",
)

_REPLY = re.compile(
    rf"(?:(?:{'|'.join(_ACCEPT_PREFIXES)})[\s,.:;!-]*)?"
    rf"(?P<code>[0-9]{{2,{MAX_CODE_DIGITS}}})"
    r"\s*(?P<word>[a-zåäö' ]*?)"
    r"[\s.,;:!?)]*"
)
_KEYWORDS: dict[str, Literal["stop", "start"]] = {"stop": "stop", "stopp": "stop", "start": "start"}


@attrs.frozen
class Reply:
    """An answer to a reply code.

    Attributes:
        code: the code, as allocated (``"12"``).
        decline: True for "I can't" (``12n``), False for "I take it" (``12``).
    """

    code: str
    decline: bool = False

    def __str__(self) -> str:
        """The canonical way to write the answer: ``12`` or ``12n``."""
        return f"{self.code}n" if self.decline else self.code


def _clean(text: str) -> str:
    # NFKC folds full-width digits and no-break spaces; apostrophe look-alikes become "'" for "can't".
    folded = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")
    return " ".join(folded.split())


def parse_reply(text: str) -> Reply | None:
    """Read an SMS answer as a reply code, or return ``None`` if it is not one.

    Accepted (any case, any spacing): ``12``, ``12n``, ``12 N``, ``12 nej``, ``12 no``, ``12 kan inte``,
    ``12 can't``, ``ok 12``, ``Ja, 12!``, ``12 ok``, ``１２``. Leading zeros are dropped (``012`` is ``12``).
    Refused: anything without a code, codes below 10 or longer than six digits, and any other words.
    Never raises.
    """
    match = _REPLY.fullmatch(_clean(text))
    if match is None:
        return None
    number = int(match["code"])
    if number < MIN_CODE:
        return None
    word = match["word"].strip()
    if word in _ACCEPT_SUFFIXES:
        return Reply(str(number), decline=False)
    if word in _DECLINE_SUFFIXES:
        return Reply(str(number), decline=True)
    return None


def parse_keyword(text: str) -> Literal["stop", "start"] | None:
    """Read ``STOP``/``STOPP`` as ``"stop"`` and ``START`` as ``"start"`` (any case, punctuation ignored)."""
    return _KEYWORDS.get(_clean(text).strip(".!?,;: "))


def allocate_code(in_use: Collection[str]) -> str:
    """The smallest free code: the lowest number from 10 up that is not in ``in_use``, as a string.

    Raises:
        ValueError: every code up to six digits is in use (a million open requests to one person).
    """
    taken = set(in_use)
    for number in range(MIN_CODE, 10**MAX_CODE_DIGITS):
        code = str(number)
        if code not in taken:
            return code
    raise ValueError("no free reply code: every code up to six digits is in use")
