"""The voice page can not drift from the code: its TOML examples validate, its Swedish is what is said."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hothat.channels import Disclosure, MessageKind
from hothat.domain import IncidentKind, Medium, Severity, Text
from hothat.messages.templates import RenderContext, render
from hothat_phonetree import EN, SV, TEMPLATE_IDS, VoiceChannel, VoiceSettings

PAGE_PATH = Path(__file__).parents[3] / "docs" / "plugins" / "phonetree.md"
PAGE = PAGE_PATH.read_text(encoding="utf-8")
CHANNEL_BLOCKS = [b for b in re.findall(r"```toml\n(.*?)```", PAGE, flags=re.DOTALL) if "channels.voice" in b]


def test_the_page_has_examples() -> None:
    assert len(CHANNEL_BLOCKS) >= 4


@pytest.mark.parametrize("block", CHANNEL_BLOCKS)
def test_each_toml_example_validates(block: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in re.findall(r'_env = "([A-Z_]+)"', block):
        monkeypatch.setenv(variable, "dmFsdWUtZm9yLXRoZS1kb2NzLXRlc3Q=")  # base64, as a Sinch secret must be
    data = tomllib.loads(block)["channels"]["voice"]
    if "plugin" in data:
        table = dict(data)
        assert table.pop("plugin") == VoiceChannel.name
    else:  # a provider table on its own
        table = {"public_base_url": "https://intranet.oxelosund.se/hothat/hooks/voice", "providers": data["providers"]}
    VoiceSettings.model_validate(table)


def test_what_the_person_hears_is_what_the_templates_say() -> None:
    context = RenderContext(
        municipality="Oxelösunds kommun",
        reference="OX-2026-0042",
        severity=Severity.SERIOUS,
        incident_kind=IncidentKind.THREAT,
        occurred_at=datetime(2026, 11, 20, 20, 40, tzinfo=UTC),
        step_id="3.1.1",
        step_title=Text("Bedömning av situationen", "Assess the situation"),
        message_kind=MessageKind.NOTIFY,
        medium=Medium.VOICE,
        disclosure=Disclosure.MINIMAL,
        ack_within=timedelta(minutes=15),
    )
    quoted = " ".join(line.removeprefix("> ") for line in PAGE.splitlines() if line.startswith("> "))

    assert quoted == render(context).text


def test_the_page_quotes_the_channels_own_words_and_lists_every_prompt_id() -> None:
    prose = " ".join(PAGE.split())  # sentences may wrap
    for words in (SV, EN):
        for sentence in (words.acknowledged, words.declined, words.goodbye):
            assert sentence in prose
    assert SV.invalid in prose
    for prompt in TEMPLATE_IDS:
        assert f"`{prompt}`" in prose
