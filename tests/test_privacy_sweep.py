"""Privacy sweep: every outbound message of an Oxelösund drill, on every medium and at every disclosure level.

The targeted person (Lena Kask) and one of the security strategists (Karin Lindqvist, who takes steps, so others are
told who took them) have protected identity. The incident has a description naming the targeted person and a
perpetrator. For each level (minimal, standard, full on a channel marked internal; full on any other channel is
refused when the file is loaded) the same drill runs and every SMS, call script and e-mail (subject, text, HTML) is
checked:

- no protected person is named, at any level;
- the description appears only at full, on an internal channel (and even there without the protected name);
- at minimal, no party name, incident kind or time of the incident;
- no phone number or e-mail address of anyone in the directory appears in any message.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from reliability_kit import FRIDAY_NIGHT, OXELOSUND_TEXT, TOKEN_SECRET, plugins

from hothat.channels import MemoryChannel, OutboundMessage
from hothat.config import load_config_text
from hothat.domain import Medium, Municipality
from hothat.engine import Engine, VirtualClock
from hothat.errors import ConfigurationError

PROTECTED = ("Lena Kask", "Karin Lindqvist")
DESCRIPTION = "Lena Kask fick ett hotbrev i brevlådan på Storgatan 5; avsändaren tros vara Nils Nilsson."
DESCRIPTION_PARTS = ("hotbrev", "Storgatan", "Nils Nilsson", "brevlådan")
OCCURRED = datetime(2026, 11, 20, 19, 37, tzinfo=UTC)  # 20.37 in Oxelösund
MINIMAL_FORBIDDEN = ("Socialdemokraterna", "trakasserier", "harassment", "20.37", "20:37", "november", "November")


def municipality(level: str, internal: bool) -> Municipality:
    head, _, rest = OXELOSUND_TEXT.partition("# --8<-- [start:channels]")
    _, _, tail = rest.partition("# --8<-- [end:channels]")
    head = head.replace('name = "Karin Lindqvist"', 'name = "Karin Lindqvist"\nprotected_identity = true')
    tables = "".join(
        f'\n[channels.{medium}]\nplugin = "memory"\nmedium = "{medium}"\ndisclosure = "{level}"\n'
        f"internal = {'true' if internal else 'false'}\n"
        for medium in ("sms", "voice", "email")
    )
    return load_config_text(head + tables + tail, "oxelosund.toml")


async def drill(
    level: str, internal: bool, description: str = DESCRIPTION
) -> tuple[Municipality, list[OutboundMessage]]:
    """Report, escalate, let the protected strategist take 3.1.1, answer, remind, complete and close."""
    muni = municipality(level, internal)
    engine = Engine(muni, clock=VirtualClock(FRIDAY_NIGHT), plugins=plugins(), token_secret=TOKEN_SECRET)
    async with engine:
        incident = await engine.report(
            kind="harassment",
            severity="serious",
            targeted="lena",
            party="s",
            description=description,
            occurred_at=OCCURRED,
        )
        await engine.advance("31m")  # 3.1.1 and 3.2.1: Per, then Anna, then the strategists
        await engine.acknowledge(incident.id, step="3.1.1", person="karin", via="sms")
        await engine.acknowledge(incident.id, step="3.2.1", person="per", via="sms")
        await engine.advance("3h")  # done_within passes: reminders name who took the step
        await engine.record_fact(incident.id, "strategist_needed", True, by="karin")
        await engine.complete(incident.id, step="3.1.1", person="karin", note="Bedömt")
        await engine.advance("1h")
        await engine.close(incident.id, by="karin", reason="Klart")
        await engine.idle()
        sent = [m for b in engine._bindings.values() if isinstance(b.channel, MemoryChannel) for m in b.channel.sent]
    return muni, sent


def rendered(message: OutboundMessage) -> str:
    return "\n".join([message.subject, message.text, message.html or ""])


def contacts(muni: Municipality) -> set[str]:
    """Every address in the directory, in the forms a message could show it."""
    out = set()
    for person in muni.directory.people.values():
        for contact in person.contacts:
            out.add(contact.address)
            if contact.medium is not Medium.EMAIL:
                digits = contact.address.removeprefix("+46")
                out |= {"0" + digits, f"0{digits[:2]}-{digits[2:5]} {digits[5:7]} {digits[7:]}"}
    return out


def names_in(text: str) -> list[str]:
    words = {w for name in PROTECTED for w in (name, *name.split())}
    return [w for w in words if re.search(rf"\b{re.escape(w)}\b", text, re.IGNORECASE)]


LEVELS = [("minimal", False), ("standard", False), ("full", True)]


def test_full_disclosure_on_a_channel_not_marked_internal_is_refused_at_load() -> None:
    with pytest.raises(ConfigurationError, match="only for internal channels"):
        municipality("full", internal=False)


@pytest.mark.parametrize(("level", "internal"), LEVELS, ids=["minimal", "standard", "full-internal"])
async def test_every_message_keeps_to_its_level(level: str, internal: bool) -> None:
    muni, sent = await drill(level, internal)
    assert {m.medium for m in sent} == {Medium.SMS, Medium.VOICE, Medium.EMAIL}
    assert {m.kind for m in sent} >= {"notify", "escalation", "taken", "reminder", "closed"}
    shows_description = level == "full" and internal
    addresses = contacts(muni)
    problems = []
    for message in sent:
        text = rendered(message)
        where = f"{message.kind} {message.medium} to {message.person_id}"
        if names_in(text):
            problems.append(f"{where} names {names_in(text)}")
        if not shows_description and any(part in text for part in DESCRIPTION_PARTS):
            problems.append(f"{where} carries the description at {level}")
        if level == "minimal" and any(word in text for word in MINIMAL_FORBIDDEN):
            problems.append(f"{where} carries {[w for w in MINIMAL_FORBIDDEN if w in text]} at minimal")
        if any(address in text for address in addresses):
            problems.append(f"{where} shows a phone number or address: {[a for a in addresses if a in text]}")
    assert problems == []
    if shows_description:
        assert any("Storgatan" in rendered(m) for m in sent if m.medium is Medium.EMAIL), "full shows the description"
    if level != "minimal":
        assert any("Socialdemokraterna" in rendered(m) for m in sent), "standard and up show the party"


async def test_a_protected_surname_alone_is_not_shown_at_full() -> None:
    _, sent = await drill("full", True, description="Kask fick ett hotbrev; Lena är rädd.")
    assert [m.kind for m in sent if names_in(rendered(m))] == []
