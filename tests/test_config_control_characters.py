# ruff: noqa: E501  (the expected messages are data, kept whole so a reader sees exactly what a user sees)
"""Names, titles and texts shown to people refuse control characters; messages never carry them raw.

A line break in a name splits a log line and a summary; a right-to-left override (U+202E) makes a name display
in another order than it is stored. Instructions and descriptions may span lines; nothing else may.
"""

from __future__ import annotations

import unicodedata

import pytest

from hothat.config import load_config_text
from hothat.errors import ConfigurationError

BASE = """\
[municipality]
id = "testby"
name = "Testby kommun"
reference_prefix = "TB"

[[people]]
id = "per"
name = "Per"
contact = [{ sms = "070-174 06 05" }]

[holders]
municipal_security_strategist = ["per"]

[[parties]]
id = "s"
name = "Socialdemokraterna"

[[roles]]
id = "city_contact"
name = { sv = "Kontakt", en = "Contact" }

[[routines]]
id = "r"
name = "Rutin"
description = "Bilaga 3"

[[routines.steps]]
id = "1"
title = "Bedömning"
instruction = "Gör en bedömning."
owner = "municipal_security_strategist"
checklist = [{ id = "c", sv = "Stöd", en = "Support" }]
"""


def problems(old: str, new: str) -> list[tuple[str, str]]:
    assert old in BASE, old
    with pytest.raises(ConfigurationError) as caught:
        load_config_text(BASE.replace(old, new, 1), "testby.toml")
    return [(p.path, p.message) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'name = "Per"',
            'name = "Per\\nPersson"',
            [("people[0].name", "contains U+000A, a line break: write it on one line")],
        ),
        (
            'name = "Per"',
            'name = "Per\\rPersson"',
            [("people[0].name", "contains U+000D, a carriage return: write it on one line")],
        ),
        (
            'name = "Per"',
            'name = "Per\\tPersson"',
            [("people[0].name", "contains U+0009, a tab: write it on one line")],
        ),
        (
            'name = "Per"',
            'name = "Per\\u0085"',
            [("people[0].name", "contains U+0085, a control character: remove it")],
        ),
        (
            'name = "Per"',
            'name = "Per\\u0007"',
            [("people[0].name", "contains U+0007, a control character: remove it")],
        ),
        (
            'name = "Socialdemokraterna"',
            'name = "Social\\u202Edemokraterna"',
            [
                (
                    "parties[0].name",
                    "contains U+202E, a bidirectional control, which can make text display in another order than it is stored: remove it",
                )
            ],
        ),
        (
            'name = "Testby kommun"',
            'name = "Testby\\u2066 kommun"',
            [
                (
                    "municipality.name",
                    "contains U+2066, a bidirectional control, which can make text display in another order than it is stored: remove it",
                )
            ],
        ),
        (
            'title = "Bedömning"',
            'title = "Bedöm\\nning"',
            [
                (
                    "routines[0].steps[0].title",
                    "step 1: the Swedish text contains U+000A, a line break: write it on one line",
                )
            ],
        ),
        (
            'name = { sv = "Kontakt", en = "Contact" }',
            'name = { sv = "Kontakt", en = "Con\\u2028tact" }',
            [("roles[0].name.en", "contains U+2028, a line separator: remove it")],
        ),
        (
            'name = { sv = "Kontakt", en = "Contact" }',
            'name = { sv = "Kontakt", en = "Con\ttact" }',
            [("roles[0].name", "the English text contains U+0009, a tab: write it on one line")],
        ),
        (
            'name = "Rutin"',
            'name = "Ru\\u200btin"',
            [("routines[0].name.sv", "contains U+200B, a zero-width space: remove it")],
        ),
        (
            'en = "Support"',
            'en = "Sup\\nport"',
            [("routines[0].steps[0].checklist[0].en", "step 1: contains U+000A, a line break: write it on one line")],
        ),
        (
            'instruction = "Gör en bedömning."',
            'instruction = "Gör\\u202E en bedömning."',
            [
                (
                    "routines[0].steps[0].instruction.sv",
                    "step 1: contains U+202E, a bidirectional control, which can make text display in another order than it is stored: remove it",
                )
            ],
        ),
        (
            'description = "Bilaga 3"',
            'description = "Bilaga\\u0000 3"',
            [("routines[0].description.sv", "contains U+0000, a NUL character: remove it")],
        ),
    ],
)
def test_control_characters_are_refused_with_the_character_named(
    old: str, new: str, expected: list[tuple[str, str]]
) -> None:
    assert problems(old, new) == expected


def test_instructions_and_descriptions_may_span_lines() -> None:
    text = BASE.replace('instruction = "Gör en bedömning."', 'instruction = """Gör en bedömning.\n\tRing polisen."""')
    text = text.replace('description = "Bilaga 3"', 'description = "Bilaga 3\\nantagen 2018"')
    routine = load_config_text(text).routines["r"]
    assert routine.step("1").instruction.sv == "Gör en bedömning.\n\tRing polisen."
    assert routine.description.sv == "Bilaga 3\nantagen 2018"


def test_emoji_and_scripts_that_need_joiners_are_kept() -> None:
    name = "Mehrnāz \u200cRezā\u200d"  # zero-width (non-)joiners are how Persian and emoji are written
    assert load_config_text(BASE.replace('name = "Per"', f'name = "{name}"')).directory.people["per"].name == name


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('id = "per"', 'id = "per\\u202e"'),  # an id that is not one, echoed in the message
        ('name = "Per"', 'name = "Per"\n"nam\\u202ee\\n" = "x"'),  # an unknown key holding controls
        ('name = "Per"', 'name = "Per"\nlanguage = "s\\u202ev"'),  # a value that is not one of the choices
        ("[holders]", '[holders]\n"strat\\u202egist\\n" = ["per"]'),  # a key used as a path
    ],
)
def test_no_message_carries_a_control_character_raw(old: str, new: str) -> None:
    shown = "\n".join(path + ": " + message for path, message in problems(old, new))
    assert not [ch for ch in shown if ch != "\n" and unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"}], shown
    assert "\\u202e" in shown  # named, escaped
