"""The templates: what each disclosure level lets out, per medium and language, and that SMS stays small."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from hothat.channels import Disclosure, MessageKind
from hothat.domain import IncidentKind, Medium, Severity, Text
from hothat.messages import Actor, RenderContext, Rendered, is_gsm7, render, sms_info

PROTECTED_TAKER = Actor("Hemlig Hemlundsson", "partiets säkerhetsansvarig", protected=True)
PROTECTED_TARGET = Actor("Skyddad Skogsberg", "den utsatte", protected=True)
TAKER = Actor("Per Persson", "partiets säkerhetsansvarig")
TARGET = Actor("Anna Andersson", "den utsatte")
DESCRIPTION = "Hotfullt brev i brevlådan, avsändaren känd sedan tidigare."

# The step titles of the shipped Oxelösund example (src/hothat/data/oxelosund.toml), copied so this test
# keeps checking typical titles whatever the example becomes.
OXELOSUND_TITLES = [
    ("3.1.1", "Bedömning av situationen", "Assess the situation"),
    ("3.1.2", "Kontakt med polisen för bedömning", "Consult the police"),
    ("3.1.3", "Polisanmälan", "Police report"),
    ("3.2.1", "Initialt stöd och stödperson", "Initial support and support person"),
    ("3.2.2", "Sällskap till sjukvård", "Company to healthcare"),
    ("3.2.2b", "Sällskap hem", "Company home"),
    ("3.2.3", "Information till valda målgrupper", "Information to chosen groups"),
    ("3.2.3b", "Information till massmedia", "Information to the media"),
]


def context(**changes: Any) -> RenderContext:
    base = RenderContext(
        municipality="Oxelösunds kommun",
        reference="OX-2026-0042",
        severity=Severity.SERIOUS,
        incident_kind=IncidentKind.HARASSMENT,
        occurred_at=datetime(2026, 3, 14, 20, 30, tzinfo=UTC),
        timezone="Europe/Stockholm",
        party_name="Exempelpartiet",
        step_id="3.1.1",
        step_title=Text("Bedömning av situationen", "Assessment of the situation"),
        instruction=Text(
            "Den utsatte och partiets säkerhetsansvarig gör en bedömning av situationen och kontaktar vid "
            "behov kommunens säkerhetsstrateg.",
            "The targeted person and the party security contact assess the situation.",
        ),
        checklist=(Text("Den utsatte har fått initialt stöd", "The targeted person has initial support"),),
        message_kind=MessageKind.NOTIFY,
        medium=Medium.SMS,
        locale="sv",
        disclosure=Disclosure.MINIMAL,
        level=0,
        reply_code="12",
        ack_url="https://hothat.example/link?t=v1.ack",
        decline_url="https://hothat.example/link?t=v1.dec",
        ack_within=timedelta(minutes=15),
        taken_by=None,
        targeted=TARGET,
        description=DESCRIPTION,
        recipient_role="kommunens säkerhetsstrateg",
        internal=True,
    )
    return attrs.evolve(base, **changes)


def everything(rendered: Rendered) -> str:
    return "\n".join([rendered.subject, rendered.text, rendered.html or ""])


ALL = list(itertools.product(Medium, MessageKind, Disclosure, ("sv", "en"), (True, False)))


@pytest.mark.parametrize(("medium", "kind", "level", "locale", "internal"), ALL)
def test_protected_people_are_never_named(
    medium: Medium, kind: MessageKind, level: Disclosure, locale: str, internal: bool
) -> None:
    ctx = context(
        medium=medium,
        message_kind=kind,
        disclosure=level,
        locale=locale,
        internal=internal,
        taken_by=PROTECTED_TAKER,
        targeted=PROTECTED_TARGET,
    )
    out = everything(render(ctx))
    for name in (PROTECTED_TAKER.name, PROTECTED_TARGET.name):
        for word in name.split():
            assert word not in out
    if kind is MessageKind.TAKEN:
        assert PROTECTED_TAKER.role_name in out


@pytest.mark.parametrize(("medium", "kind", "level", "locale", "internal"), ALL)
def test_what_each_level_lets_out(
    medium: Medium, kind: MessageKind, level: Disclosure, locale: str, internal: bool
) -> None:
    ctx = context(
        medium=medium,
        message_kind=kind,
        disclosure=level,
        locale=locale,
        internal=internal,
        taken_by=TAKER,
        targeted=TARGET,
    )
    out = everything(render(ctx))
    full = level is Disclosure.FULL and internal
    assert (DESCRIPTION in out) is full
    assert (TARGET.name in out) is full
    if level is Disclosure.MINIMAL:
        for secret in (
            TAKER.name,
            "trakasserier",
            "harassment",
            "Exempelpartiet",
            "2026 kl",
            "2026 at",
            "21.30",
            "21:30",
            "säkerhetsstrateg",
            "initialt stöd",
            "initial support",
        ):
            assert secret not in out
    else:
        assert "Exempelpartiet" in out
        assert ("trakasserier" if locale == "sv" else "harassment") in out
    if kind is MessageKind.TAKEN:
        assert (TAKER.name if level is not Disclosure.MINIMAL else TAKER.role_name) in out


@pytest.mark.parametrize(("kind", "level", "locale"), list(itertools.product(MessageKind, Disclosure, ("sv", "en"))))
def test_every_sms_is_gsm7(kind: MessageKind, level: Disclosure, locale: str) -> None:
    ctx = context(
        message_kind=kind,
        disclosure=level,
        locale=locale,
        taken_by=TAKER,
        step_title=Text("Bedömning – “akut” … "),
        instruction=Text("Ring\u00a0säkerhetsstrategen – nu."),
        description="Brev med ’citat’\toch • punkter",
    )
    rendered = render(ctx)
    assert is_gsm7(rendered.text)
    assert rendered.sms == sms_info(rendered.text)
    assert rendered.sms.encoding == "GSM-7"
    assert rendered.html is None


@pytest.mark.parametrize("kind", list(MessageKind))
@pytest.mark.parametrize("locale", ["sv", "en"])
def test_minimal_sms_fits_one_segment(kind: MessageKind, locale: str) -> None:
    answer = (
        "Svara 123 om du tar det, 123n om du inte kan."
        if locale == "sv"
        else "Reply 123 to take it, 123n if you can't."
    )
    for (step_id, sv, en), severity in itertools.product(OXELOSUND_TITLES, Severity):
        ctx = context(
            step_id=step_id,
            step_title=Text(sv, en),
            message_kind=kind,
            severity=severity,
            locale=locale,
            reply_code="123",
            taken_by=TAKER,
        )
        rendered = render(ctx)
        assert rendered.sms is not None
        assert rendered.sms.segments == 1, rendered.text
        if kind in (MessageKind.NOTIFY, MessageKind.ESCALATION, MessageKind.UNRESOLVED):
            assert rendered.text.endswith(answer)


@pytest.mark.parametrize(("step_id", "sv", "en"), OXELOSUND_TITLES)
@pytest.mark.parametrize("severity", [Severity.ACUTE, Severity.SERIOUS])
@pytest.mark.parametrize("locale", ["sv", "en"])
@pytest.mark.parametrize("kind", [MessageKind.NOTIFY, MessageKind.REMINDER, MessageKind.INFORMED])
def test_minimal_sms_keeps_typical_titles_whole(
    step_id: str, sv: str, en: str, severity: Severity, locale: str, kind: MessageKind
) -> None:
    ctx = context(step_id=step_id, step_title=Text(sv, en), severity=severity, locale=locale, message_kind=kind)
    title = sv if locale == "sv" else en
    assert f"{step_id} ({title})" in render(ctx).text


def test_notify_minimal_sms_keeps_a_typical_title_whole() -> None:
    rendered = render(context())
    assert rendered.text == (
        "Oxelösunds kommun, ärende OX-2026-0042 (allvarlig). Du behövs för steg 3.1.1 (Bedömning av "
        "situationen). Svara 12 om du tar det, 12n om du inte kan."
    )
    assert rendered.sms is not None
    assert rendered.sms.units <= 160


def test_long_title_is_shortened_not_sent_in_three_segments() -> None:
    title = "Den utsatte har sällskap vid transport till hemmet eller annan vald plats i avvaktan på stödperson"
    rendered = render(context(step_id="3.2.2", step_title=Text(title)))
    assert rendered.sms is not None
    assert rendered.sms.segments == 1
    assert "steg 3.2.2 (Den utsatte har sällskap vid...). Svara 12" in rendered.text
    assert title not in rendered.text


def test_long_municipality_allows_two_segments_at_most() -> None:
    rendered = render(context(municipality="Kommunen " * 20, step_title=Text("Titel " * 40)))
    assert rendered.sms is not None
    assert rendered.sms.segments == 2
    assert "Svara 12" in rendered.text


def test_taken_message_names_role_of_protected_taker() -> None:
    rendered = render(
        context(
            message_kind=MessageKind.TAKEN,
            taken_by=PROTECTED_TAKER,
            disclosure=Disclosure.STANDARD,
            medium=Medium.EMAIL,
        )
    )
    assert "Steg 3.1.1 i ärende OX-2026-0042 är taget av partiets säkerhetsansvarig" in rendered.text
    rendered = render(context(message_kind=MessageKind.TAKEN, taken_by=TAKER, disclosure=Disclosure.STANDARD))
    assert "Steg 3.1.1 i ärende OX-2026-0042 är taget av Per Persson" in rendered.text
    assert "Svara" not in rendered.text


@pytest.mark.parametrize(
    ("kind", "sv", "en"),
    [
        (MessageKind.ESCALATION, "Ingen har svarat på steg 3.1.1", "No answer yet for step 3.1.1"),
        (
            MessageKind.REMINDER,
            "tiden för steg 3.1.1 (Bedömning av situationen) har gått ut",
            "the time for step 3.1.1 (Assessment of the situation) has run out",
        ),
        (MessageKind.UNRESOLVED, "Ingen kunde nås för steg 3.1.1", "Nobody was reached for step 3.1.1"),
        (MessageKind.INFORMED, "För kännedom: steg 3.1.1", "For your information: step 3.1.1"),
        (MessageKind.CLOSED, "ärende OX-2026-0042 är avslutat", "incident OX-2026-0042 is closed"),
    ],
)
def test_kind_wording(kind: MessageKind, sv: str, en: str) -> None:
    for medium in Medium:
        assert sv.lower() in render(context(message_kind=kind, medium=medium)).text.lower()
        assert en.lower() in render(context(message_kind=kind, medium=medium, locale="en")).text.lower()


@pytest.mark.parametrize("kind", list(MessageKind))
def test_only_asking_messages_carry_answer_instructions(kind: MessageKind) -> None:
    asking = kind in (MessageKind.NOTIFY, MessageKind.ESCALATION, MessageKind.UNRESOLVED)
    assert ("Svara 12 om du tar det, 12n om du inte kan." in render(context(message_kind=kind)).text) is asking
    voice = render(context(message_kind=kind, medium=Medium.VOICE)).text
    assert ("Tryck 1 om du tar ärendet, 2 om du inte kan, stjärna för att höra meddelandet igen." in voice) is asking
    assert "stjärna för att höra meddelandet igen" in voice
    email = render(context(message_kind=kind, medium=Medium.EMAIL))
    assert ("https://hothat.example/link?t=v1.ack" in email.text) is asking
    assert ('href="https://hothat.example/link?t=v1.dec"' in (email.html or "")) is asking


def test_time_is_shown_in_the_municipality_timezone() -> None:
    winter = render(context(disclosure=Disclosure.STANDARD, medium=Medium.EMAIL))
    assert "Tid: 14 mars 2026 kl. 21.30" in winter.text
    summer = render(context(disclosure=Disclosure.STANDARD, occurred_at=datetime(2026, 7, 1, 6, 5, tzinfo=UTC)))
    assert "Tid: 1 juli 2026 kl. 08.05" in summer.text
    english = render(context(disclosure=Disclosure.STANDARD, locale="en", medium=Medium.VOICE))
    assert "Time: 14 March 2026 at 21:30." in english.text


def test_full_falls_back_to_standard_on_a_channel_not_internal() -> None:
    assert render(context(disclosure=Disclosure.FULL, internal=False)).prompt == "notify.standard"
    assert render(context(disclosure=Disclosure.FULL, internal=True)).prompt == "notify.full"
    assert render(context(message_kind=MessageKind.ESCALATION, medium=Medium.VOICE)).prompt == "escalation.minimal"


def test_email_html_escapes_every_value() -> None:
    ctx = context(
        medium=Medium.EMAIL,
        disclosure=Disclosure.FULL,
        municipality="A & B <kommun>",
        description='<script>alert("x")</script>',
        party_name="<b>P</b>",
        ack_url='https://x.example/?a=1&b="2"',
    )
    html = render(ctx).html
    assert html is not None
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "A &amp; B &lt;kommun&gt;" in html
    assert "&lt;b&gt;P&lt;/b&gt;" in html
    assert 'href="https://x.example/?a=1&amp;b=&quot;2&quot;"' in html
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="sv">' in html


def test_english_and_fallback_locale() -> None:
    assert render(context(locale="en")).text.startswith("Oxelösunds kommun, incident OX-2026-0042 (serious).")
    assert "Reply 12 to take it, 12n if you can't." in render(context(locale="en")).text
    assert render(context(locale="fi")).text == render(context(locale="sv")).text


@pytest.mark.parametrize(
    ("within", "sv", "en"),
    [
        (timedelta(minutes=15), "Svara inom 15 minuter.", "Please answer within 15 minutes."),
        (timedelta(hours=1), "Svara inom 1 timme.", "Please answer within 1 hour."),
        (
            timedelta(hours=1, minutes=30),
            "Svara inom 1 timme och 30 minuter.",
            "Please answer within 1 hour and 30 minutes.",
        ),
        (
            timedelta(days=1, hours=2, minutes=1),
            "Svara inom 1 dygn, 2 timmar och 1 minut.",
            "Please answer within 1 day, 2 hours and 1 minute.",
        ),
    ],
)
def test_answer_deadline_in_words(within: timedelta, sv: str, en: str) -> None:
    assert sv in render(context(medium=Medium.VOICE, ack_within=within)).text
    assert en in render(context(medium=Medium.VOICE, ack_within=within, locale="en")).text


def test_minimal_sms_leaves_out_the_deadline_standard_keeps_it() -> None:
    assert "Svara inom" not in render(context()).text
    assert "Svara inom 15 minuter." in render(context(disclosure=Disclosure.STANDARD)).text


def test_incident_wide_message_without_a_step() -> None:
    rendered = render(context(message_kind=MessageKind.CLOSED, step_id="", step_title=Text("")))
    assert rendered.text == "Oxelösunds kommun: Ärende OX-2026-0042 är avslutat. Tack för din insats."
    assert rendered.subject == "Oxelösunds kommun: ärende OX-2026-0042 är avslutat"


def test_naive_occurred_at_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        context(occurred_at=datetime(2026, 3, 14, 21, 30))


def test_unknown_timezone_is_refused_when_the_context_is_built() -> None:
    with pytest.raises(ValueError, match="IANA timezone"):
        context(timezone="Europe/Oxelösund")
