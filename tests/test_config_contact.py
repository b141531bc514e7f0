"""Phone numbers and e-mail addresses as a municipality writes them."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hothat.config import load_config_text, parse_phone, validate_email
from hothat.errors import ConfigurationError

# The PTS ranges reserved for fiction: 070-174 06 05 ... 99 (mobile), 08-465 004 00 ... 99 (fixed).
fiction_mobile = st.integers(min_value=5, max_value=99)
separators = st.sampled_from(["", " ", "-", ".", "/", " - ", "  "])
prefixes = st.sampled_from(["0", "+46", "+46 ", "0046", "0046 ", "+46 (0)", "+46-"])


@st.composite
def written_mobile(draw: st.DrawFn) -> tuple[str, str]:
    """A PTS fiction mobile number written with a random prefix and random grouping, and its E.164."""
    last = draw(fiction_mobile)
    digits = f"7017406{last:02d}"
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=len(digits) - 1), max_size=4)))
    groups = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, len(digits)], strict=True)]
    body = groups[0] + "".join(draw(separators) + group for group in groups[1:])
    padding = draw(st.sampled_from(["", " ", "\t"]))
    return f"{padding}{draw(prefixes)}{body}{padding}", f"+46{digits}"


@given(written_mobile())
def test_any_way_of_writing_a_fiction_mobile_gives_the_same_e164(case: tuple[str, str]) -> None:
    text, e164 = case
    assert parse_phone(text, sms=True) == e164
    assert parse_phone(text) == e164


@given(st.integers(min_value=0, max_value=99))
def test_fiction_landlines_take_calls_but_not_sms(last: int) -> None:
    text = f"08-465 004 {last:02d}"
    assert parse_phone(text) == f"+468465004{last:02d}"
    with pytest.raises(ValueError, match="is a landline and cannot receive SMS: use voice"):
        parse_phone(text, sms=True)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("112", "is an emergency number"),
        ("911", "is an emergency number"),
        ("90000", "is an emergency number"),
        ("114 14", "is a short number"),
        ("1177", "is a short number"),
        ("0900-123 45 67", "is a premium-rate number"),
        ("0939-12 34 56", "is a premium-rate number"),
        ("070-174 06", "is not a valid Swedish phone number"),
        ("070-174 0", "is not a valid Swedish phone number"),
        ("+46 70 174 06 05 12", "is not a valid Swedish phone number"),
        ("+1 999 555 0100", "is not a valid phone number"),
        ("ring Per", "is not a phone number"),
        ("", "is not a phone number"),
        ("08-465 004 00 ext 12", "has an extension"),
    ],
)
def test_numbers_that_must_never_be_dialled_are_refused(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_phone(text)


def test_foreign_numbers_keep_their_country() -> None:
    assert parse_phone("+47 412 34 567", sms=True) == "+4741234567"


@given(st.text(max_size=40))
def test_garbage_phone_never_raises_anything_but_value_error(text: str) -> None:
    try:
        result = parse_phone(text, sms=True)
    except ValueError:
        return
    assert result.startswith("+")
    assert result[1:].isdigit()


@given(st.text(max_size=40))
def test_garbage_phone_in_a_file_never_raises_anything_but_configuration_error(text: str) -> None:
    document = f"""
[municipality]
id = "testby"
name = "Testby"
reference_prefix = "TB"
[[people]]
id = "per"
name = "Per"
contact = [{{ sms = {json.dumps(text)} }}]
[holders]
municipal_security_strategist = ["per"]
[[routines]]
id = "r"
name = "R"
[[routines.steps]]
id = "1"
title = "T"
owner = "municipal_security_strategist"
"""
    try:
        municipality = load_config_text(document, "garbage.toml")
    except ConfigurationError as exc:
        problems = exc.problems
    else:
        assert municipality.directory.people["per"].contacts[0].address.startswith("+")
        return
    assert problems
    assert all(p.source == "garbage.toml" for p in problems)


@given(st.text(max_size=200))
def test_a_garbage_file_never_raises_anything_but_configuration_error(text: str) -> None:
    with pytest.raises(ConfigurationError):
        load_config_text(text, "garbage.toml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("per@s.oxelosund.example", "per@s.oxelosund.example"),
        ("Per.Exempel+hothat@Kommun.Example", "Per.Exempel+hothat@kommun.example"),
        ("o'brien@kommun.example", "o'brien@kommun.example"),
        ("per@malmö.example", "per@malmö.example"),
        ("a@b.se", "a@b.se"),
    ],
)
def test_plain_addresses_are_accepted_with_the_domain_in_lower_case(text: str, expected: str) -> None:
    assert validate_email(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("per@kommun.example\r\nBcc: x@y.example", "line break"),
        ("per son@kommun.example", "space"),
        ("perkommun.example", "exactly one @"),
        ("per@@kommun.example", "exactly one @"),
        ("per@x@kommun.example", "exactly one @"),
        ("@kommun.example", "the part before @"),
        (".per@kommun.example", "the part before @"),
        ("per.@kommun.example", "the part before @"),
        ("pe..r@kommun.example", "the part before @"),
        ('"per"@kommun.example', "the part before @"),
        ("pär@kommun.example", "the part before @"),
        ("x" * 65 + "@kommun.example", "the part before @"),
        ("per@localhost", "a name with a dot"),
        ("per@-kommun.example", "a name with a dot"),
        ("per@kommun_x.example", "a name with a dot"),
        ("per@kommun.example.", "a name with a dot"),
        ("per@192.168.0.1", "not an IP address"),
        ("per@[192.168.0.1]", "a name with a dot"),
        ("per@" + "a" * 64 + ".example", "cannot be encoded"),
    ],
)
def test_unsafe_or_odd_addresses_are_refused(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate_email(text)


@given(st.text(max_size=80))
def test_garbage_email_never_raises_anything_but_value_error(text: str) -> None:
    try:
        address = validate_email(text)
    except ValueError:
        return
    assert address.count("@") == 1
    assert not any(ch.isspace() for ch in address)
