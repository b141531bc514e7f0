"""GSM-7 normalisation and SMS segment counting, checked against the numbers providers bill."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hothat.messages import gsm
from hothat.messages.gsm import SmsInfo, is_gsm7, normalize, sms_info, split

TYPOGRAPHIC = sorted(gsm._REPLACEMENTS)
SWEDISH = "åäöÅÄÖéÉüÜñÑ"

gsm_text = st.text(alphabet=sorted(gsm.BASIC | gsm.EXTENSION), max_size=700)
any_text = st.text(max_size=400)
mixed_text = st.text(alphabet=st.sampled_from(sorted(gsm.BASIC | gsm.EXTENSION) + TYPOGRAPHIC), max_size=400)


def test_swedish_letters_are_gsm7() -> None:
    assert is_gsm7("Hej! Ärendet gäller Oxelösunds kommun, åtgärd krävs. Café, Über, señor.")
    assert normalize(SWEDISH) == SWEDISH


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Steg 3.1.1 – bedömning", "Steg 3.1.1 - bedömning"),
        ("a—b‑c‒d−e", "a-b-c-d-e"),
        ("“Akut” ’nu’ „så” «här» ‚x‛", '"Akut" \'nu\' "så" "här" \'x\''),
        ("Vänta…", "Vänta..."),
        ("kl.\u00a021.30\u202fidag\u2009nu", "kl. 21.30 idag nu"),
        ("noll\u200bbredd\ufeff\u2060", "nollbredd"),
        ("• punkt\n◦ underpunkt", "- punkt\n- underpunkt"),
        ("a\tb", "a b"),
        ("á í ó ú ê ç È", "a i o u e c E"),
        ("a\u030a o\u0308", "å ö"),  # decomposed letters are composed, not stripped
        ("１２ｎ", "12n"),
        ("½", "1/2"),
        ("5 × 3 → 15", "5 x 3 -> 15"),
        ("Emoji 🙂 stay", "Emoji 🙂 stay"),
        ("20 °C", "20 °C"),
        ("Привет", "Привет"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_every_replacement_is_gsm7() -> None:
    for char, replacement in gsm._REPLACEMENTS.items():
        assert is_gsm7(replacement), char


def test_unknown_characters_are_kept_so_callers_see_ucs2() -> None:
    text = normalize("Ring 🙂 nu")
    assert "?" not in text
    assert sms_info(text).encoding == "UCS-2"


@pytest.mark.parametrize(
    ("text", "info", "part_lengths"),
    [
        ("", SmsInfo("GSM-7", 0, 1, 160), [0]),
        ("a" * 160, SmsInfo("GSM-7", 160, 1, 160), [160]),
        ("a" * 161, SmsInfo("GSM-7", 161, 2, 153), [153, 8]),
        ("a" * 306, SmsInfo("GSM-7", 306, 2, 153), [153, 153]),
        ("a" * 307, SmsInfo("GSM-7", 307, 3, 153), [153, 153, 1]),
        ("€" * 80, SmsInfo("GSM-7", 160, 1, 160), [80]),
        # The escape pair is never split: 76 euro signs (152 septets) fill the first part.
        ("€" * 81, SmsInfo("GSM-7", 162, 2, 153), [76, 5]),
        ("a" * 152 + "€" + "b" * 10, SmsInfo("GSM-7", 164, 2, 153), [152, 11]),
        ("å" * 70 + "–", SmsInfo("UCS-2", 71, 2, 67), [67, 4]),
        ("ж" * 70, SmsInfo("UCS-2", 70, 1, 70), [70]),
        ("🙂" * 35, SmsInfo("UCS-2", 70, 1, 70), [35]),
        # A surrogate pair is never split: 33 emoji (66 units) fill the first part.
        ("🙂" * 36, SmsInfo("UCS-2", 72, 2, 67), [33, 3]),
    ],
)
def test_sms_info_and_split(text: str, info: SmsInfo, part_lengths: list[int]) -> None:
    assert sms_info(text) == info
    assert [len(part) for part in split(text)] == part_lengths


def test_one_typographic_character_makes_the_whole_text_ucs2() -> None:
    text = "Oxelösunds kommun: ärende OX-2026-0042 " * 3
    assert sms_info(text).segments == 1
    assert sms_info(text + "’").encoding == "UCS-2"
    assert sms_info(text + "’").segments == 2
    assert sms_info(normalize(text + "’")).segments == 1


def _units(part: str) -> int:
    if is_gsm7(part):
        return sum(2 if c in gsm.EXTENSION else 1 for c in part)
    return len(part.encode("utf-16-le")) // 2


@given(st.one_of(gsm_text, any_text))
def test_split_joins_back_fits_and_counts(text: str) -> None:
    parts = split(text)
    info = sms_info(text)
    assert "".join(parts) == text
    assert info.segments == len(parts)
    assert info.units == _units(text)
    limit = info.per_segment
    for part in parts:
        assert _units(part) <= limit
        assert is_gsm7(part) or info.encoding == "UCS-2"
    if info.segments > 1:
        assert limit in (153, 67)
        # Parts are filled greedily: each but the last could not take the next character.
        for part, following in itertools.pairwise(parts):
            assert _units(part + following[0]) > limit


@given(mixed_text)
def test_normalize_of_typographic_text_is_gsm7(text: str) -> None:
    assert is_gsm7(normalize(text))


@given(st.one_of(mixed_text, any_text))
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@given(gsm_text)
def test_normalize_leaves_gsm7_text_alone(text: str) -> None:
    assert normalize(text) == text
