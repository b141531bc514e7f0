"""Durations as a municipality file writes them: ``90s``, ``15m``, ``2h``, ``1d``, ``1h30m``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hothat.domain.durations import format_duration, parse_duration

whole_seconds = st.integers(min_value=0, max_value=timedelta.max.days * 86400 + 86399).map(
    lambda s: timedelta(seconds=s)
)


@given(whole_seconds)
def test_format_then_parse_gives_the_same_duration(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value


@given(
    st.lists(
        st.tuples(st.sampled_from("dhms"), st.integers(0, 999_999)),
        min_size=1,
        max_size=4,
        unique_by=lambda t: t[0],
    )
)
def test_parse_reads_units_largest_first_and_format_is_canonical(parts: list[tuple[str, int]]) -> None:
    parts.sort(key=lambda t: "dhms".index(t[0]))
    text = "".join(f"{n}{unit}" for unit, n in parts)
    size = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    value = parse_duration(text)
    assert value == timedelta(seconds=sum(n * size[unit] for unit, n in parts))
    assert parse_duration(format_duration(value)) == value
    assert format_duration(parse_duration(format_duration(value))) == format_duration(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 1H 30M ", timedelta(minutes=90)),
        ("0s", timedelta(0)),
    ],
)
def test_the_documented_forms(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=90), "1m30s"),
        (timedelta(hours=26), "1d2h"),
        (timedelta(0), "0s"),
        (timedelta(minutes=-5), "-5m"),
    ],
)
def test_format(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "15",
        "m",
        "15 min",
        "1m1h",
        "1h1h",
        "-5m",
        "1.5h",
        "1w",
        "15mm",
        "h1",
        "1234567890s",
        "999999999d24h",
        "15m!",
    ],
)
def test_invalid_strings_raise_value_error_saying_what_to_write(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@given(st.text(max_size=20))
def test_any_string_parses_or_raises_value_error(text: str) -> None:
    try:
        value = parse_duration(text)
    except ValueError:
        return
    assert value >= timedelta(0)
