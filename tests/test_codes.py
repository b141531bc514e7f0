"""Reply codes: what people type on a phone, read the way they meant it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hothat.messages.codes import Reply, allocate_code, parse_keyword, parse_reply


@pytest.mark.parametrize(
    "text",
    [
        "12",
        " 12 ",
        "12.",
        "12!",
        "ok 12",
        "OK, 12",
        "Ok12",
        "ja 12",
        "Ja, 12!",
        "yes 12",
        "okej: 12",
        "12 ok",
        "12 ja",
        "12 JA",
        "１２",
        "012",
        "\u00a012\n",
    ],
)
def test_acknowledgements(text: str) -> None:
    assert parse_reply(text) == Reply("12", decline=False)


@pytest.mark.parametrize(
    "text",
    [
        "12n",
        "12N",
        "12 n",
        "12  N.",
        " 12 nej ",
        "12 Nej!",
        "12nej",
        "12 no",
        "12 kan inte",
        "12 kan  inte",
        "12 can't",
        "12 can’t",
        "12 cannot",
        "ok 12n",
        "ja 12 n",
        "１２ｎ",
    ],
)
def test_declines(text: str) -> None:
    assert parse_reply(text) == Reply("12", decline=True)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hej",
        "ok",
        "n",
        "1",
        "1n",
        "09",
        "12345678901",
        "0701740605",
        "1234567",
        "12 hej",
        "12 jag tar det inte",
        "12n12",
        "1 2",
        "nej",
        "STOP",
        "12.5",
        "-12",
        "12 34",
        "٣٤",
    ],
)
def test_not_replies(text: str) -> None:
    assert parse_reply(text) is None


def test_six_digit_codes_are_codes() -> None:
    assert parse_reply("123456n") == Reply("123456", decline=True)


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("STOP", "stop"),
        ("stop", "stop"),
        (" Stopp! ", "stop"),
        ("START", "start"),
        ("start.", "start"),
        ("avsluta", None),
        ("stop 12", None),
        ("12", None),
        ("", None),
    ],
)
def test_keywords(text: str, keyword: str | None) -> None:
    assert parse_keyword(text) == keyword


def test_allocate_code_gives_the_smallest_free_code_from_10() -> None:
    assert allocate_code([]) == "10"
    assert allocate_code({"10", "11", "13"}) == "12"
    assert allocate_code([str(n) for n in range(10, 100)]) == "100"
    assert allocate_code(["1", "2", "x"]) == "10"


@given(st.text())
def test_parse_reply_never_raises(text: str) -> None:
    result = parse_reply(text)
    assert result is None or int(result.code) >= 10


@given(st.lists(st.integers(min_value=10, max_value=999_999).map(str), max_size=30), st.booleans())
def test_allocated_codes_round_trip(in_use: list[str], decline: bool) -> None:
    code = allocate_code(in_use)
    assert code not in in_use
    reply = Reply(code, decline=decline)
    assert parse_reply(str(reply)) == reply
    assert parse_reply(f" OK {str(reply).upper()}. ") == reply
