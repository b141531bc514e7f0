"""The rendered examples in docs/concepts/disclosure.md are the templates' real output.

Each example in the page follows a marker ``<!-- example: NAME -->`` and is compared with ``render`` of the
context below. After a deliberate wording change, regenerate the page's examples with::

    .venv/bin/python tests/test_messages_docs.py
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from hothat.channels import Disclosure, MessageKind
from hothat.domain import IncidentKind, Medium, Severity, Text
from hothat.messages import Actor, RenderContext, render

PAGE = Path(__file__).resolve().parents[1] / "docs" / "concepts" / "disclosure.md"
BLOCK = re.compile(r"<!-- example: (?P<name>[\w-]+) -->\n```text\n(?P<body>.*?)```\n", re.DOTALL)

BASE = RenderContext(
    municipality="Oxelösunds kommun",
    reference="OX-2026-0042",
    severity=Severity.SERIOUS,
    incident_kind=IncidentKind.THREAT,
    occurred_at=datetime(2026, 3, 14, 20, 30, tzinfo=UTC),
    timezone="Europe/Stockholm",
    party_name="Exempelpartiet",
    step_id="3.1.1",
    step_title=Text("Bedömning av situationen"),
    instruction=Text(
        "Den utsatte och partiets säkerhetsansvarig gör en bedömning av situationen och kontaktar vid behov "
        "kommunens säkerhetsstrateg."
    ),
    checklist=(Text("Den utsatte har fått initialt stöd"),),
    message_kind=MessageKind.NOTIFY,
    medium=Medium.SMS,
    locale="sv",
    disclosure=Disclosure.MINIMAL,
    reply_code="12",
    ack_url="https://hothat.oxelosund.example/link?t=v1.eyJ...",
    decline_url="https://hothat.oxelosund.example/link?t=v1.eyK...",
    ack_within=timedelta(minutes=30),
    targeted=Actor("Anna Andersson", "den utsatte", protected=True),
    description="Hotfullt brev i brevlådan hemma. Brevet är sparat i en plastficka.",
    recipient_role="partiets säkerhetsansvarig",
)

EXAMPLES: dict[str, RenderContext] = {
    "sms-minimal": BASE,
    "voice-minimal": attrs.evolve(BASE, medium=Medium.VOICE),
    "email-standard": attrs.evolve(BASE, medium=Medium.EMAIL, disclosure=Disclosure.STANDARD),
    "email-full": attrs.evolve(BASE, medium=Medium.EMAIL, disclosure=Disclosure.FULL, internal=True),
    "sms-escalation": attrs.evolve(BASE, message_kind=MessageKind.ESCALATION, level=1, reply_code="14"),
    "sms-taken-protected": attrs.evolve(
        BASE,
        message_kind=MessageKind.TAKEN,
        disclosure=Disclosure.STANDARD,
        taken_by=Actor("Karin Karlsson", "partiets säkerhetsansvarig", protected=True),
    ),
}


def _page_examples(page: str) -> dict[str, str]:
    return {match["name"]: match["body"] for match in BLOCK.finditer(page)}


def _rendered(context: RenderContext) -> str:
    rendered = render(context)
    text = rendered.text if rendered.text.endswith("\n") else rendered.text + "\n"
    if context.medium is Medium.EMAIL:
        return f"Ämne: {rendered.subject}\n\n{text}"
    return text


def test_page_shows_every_example_once() -> None:
    names = [match["name"] for match in BLOCK.finditer(PAGE.read_text(encoding="utf-8"))]
    assert sorted(names) == sorted(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_docs_example_is_the_real_rendering(name: str) -> None:
    shown = _page_examples(PAGE.read_text(encoding="utf-8"))
    assert shown.get(name) == _rendered(EXAMPLES[name]), (
        f"docs/concepts/disclosure.md example {name!r} differs from the templates; "
        "if the change is deliberate, regenerate them (see this module's docstring)"
    )


def regenerate() -> None:
    """Rewrite the page's examples from the templates (after a deliberate wording change)."""
    page = PAGE.read_text(encoding="utf-8")

    def replace(match: re.Match[str]) -> str:
        return f"<!-- example: {match['name']} -->\n```text\n{_rendered(EXAMPLES[match['name']])}```\n"

    PAGE.write_text(BLOCK.sub(replace, page), encoding="utf-8")


if __name__ == "__main__":
    regenerate()
