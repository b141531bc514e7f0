"""What a recipient's mail program sees: clean headers whatever an incident holds, one thread per incident."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pydantic
import pytest

from hothat.channels import MessageKind, OutboundMessage
from hothat_email import SmtpChannel, SmtpSettings, build_message

from .conftest import ServerFactory

Outbound = Callable[..., OutboundMessage]

EXPECTED_HEADERS = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "auto-submitted",
    "x-auto-response-suppress",
    "content-language",
    "mime-version",
    "content-type",
}

INJECTIONS = [
    "\r\nBcc: spy@evil.example",
    "\nX-Injected: 1",
    "\rCc: spy@evil.example",
    "\x00\r\n\r\n<html>body takeover</html>",
    "\u2028X-Injected: 2\u2029",
    "\u0085X-Injected: 3",
    "\x1b[31m\x7f\tX-Injected: 4",
]


def _settings(port: int, **overrides: Any) -> SmtpSettings:
    table: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_address": "hothat@oxelosund.example",
    }
    table.update(overrides)
    return SmtpSettings.model_validate(table)


@pytest.mark.parametrize("attack", INJECTIONS)
async def test_no_incident_field_can_add_a_header(smtp_server: ServerFactory, outbound: Outbound, attack: str) -> None:
    server = smtp_server(starttls=False, auth=False)
    channel = SmtpChannel(_settings(server.port))
    message = outbound(
        subject=f"Hot{attack}",
        reference=f"OX-2026-0042{attack}",
        municipality=f"Oxelösunds kommun{attack}",
    )
    await channel.deliver(message)

    [got] = server.received
    mail = got.message
    assert {name.lower() for name in mail} == EXPECTED_HEADERS
    assert got.rcpt_tos == ["anna.lind@oxelosund.example"]
    assert mail["Bcc"] is None
    assert mail["Cc"] is None
    assert mail["X-Injected"] is None
    subject = str(mail["Subject"])
    # The attack text stays visible but flattened onto the one subject line.
    assert subject.startswith("[Oxelösunds kommun")
    assert "\n" not in subject
    assert "\r" not in subject
    assert "\x00" not in subject
    assert all(part.get_content_type() in {"text/plain", "text/html"} for part in mail.iter_parts())


@pytest.mark.parametrize("attack", INJECTIONS)
@pytest.mark.parametrize("field", ["from_name", "reply_to", "from_address", "username", "host"])
def test_configuration_with_line_breaks_is_refused_at_load(field: str, attack: str) -> None:
    value = {
        "from_address": "hothat@oxelosund.example",
        "reply_to": "sakerhet@oxelosund.example",
        "host": "smtp.oxelosund.example",
    }.get(field, "Oxelösunds kommun")
    table = {"username": "hothat", "password": "secret", field: value + attack}
    with pytest.raises(pydantic.ValidationError) as caught:
        _settings(25, **table)
    assert field in str(caught.value)


@pytest.mark.parametrize(
    "address",
    [
        "anna.lind@oxelosund.example\r\nBcc: spy@evil.example",
        "anna.lind@oxelosund.example, spy@evil.example",
        "Anna <anna.lind@oxelosund.example>",
        '"anna\nlind"@oxelosund.example',
        "anna.lind@oxelosund.example\x00",
    ],
)
def test_a_recipient_address_is_one_plain_address(outbound: Outbound, address: str) -> None:
    with pytest.raises(ValueError, match=r"address|part before @|domain"):
        build_message(outbound(address=address), _settings(25))


async def test_from_name_and_reply_to_from_the_configuration(smtp_server: ServerFactory, outbound: Outbound) -> None:
    server = smtp_server(starttls=False, auth=False)
    settings = _settings(server.port, from_name='Säkerhet, "Oxelösund"', reply_to="sakerhet@oxelosund.example")
    await SmtpChannel(settings).deliver(outbound())
    mail = server.received[0].message
    [sender] = mail["From"].addresses
    assert sender.display_name == 'Säkerhet, "Oxelösund"'
    assert sender.addr_spec == "hothat@oxelosund.example"
    assert mail["Reply-To"] == "sakerhet@oxelosund.example"


def test_an_over_long_subject_is_shortened_keeping_the_case_number(outbound: Outbound) -> None:
    mail = build_message(outbound(subject="Hotfullt meddelande " * 30), _settings(25))
    subject = str(mail["Subject"])
    assert len(subject) <= 150
    assert subject.startswith("[Oxelösunds kommun] Ärende OX-2026-0042: Hotfullt meddelande")
    assert subject.endswith("meddelande…")


def test_a_subject_that_names_the_case_is_not_prefixed_twice(outbound: Outbound) -> None:
    builtin = "Oxelösunds kommun: ärende OX-2026-0042 (allvarligt), du behövs för steg larma (Larma säkerhet)"
    mail = build_message(outbound(subject=builtin), _settings(25))
    assert mail["Subject"] == (
        "[Oxelösunds kommun] Ärende OX-2026-0042 (allvarligt), du behövs för steg larma (Larma säkerhet)"
    )


@pytest.mark.parametrize("kind", [MessageKind.TAKEN, MessageKind.CLOSED, MessageKind.INFORMED])
def test_messages_that_ask_nothing_offer_no_answer_links(outbound: Outbound, kind: MessageKind) -> None:
    mail = build_message(outbound(kind=kind, sequence=1, text="Steg larma är taget av Bo.", html=None), _settings(25))
    plain, rich = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None
    assert rich is not None
    assert "Jag tar det" not in plain.get_content()
    assert "https://" not in rich.get_content()


def test_english_recipients_get_english_labels(outbound: Outbound) -> None:
    mail = build_message(outbound(locale="en", subject="Threat against an elected official"), _settings(25))
    assert mail["Subject"] == "[Oxelösunds kommun] Case OX-2026-0042: Threat against an elected official"
    assert mail["Content-Language"] == "en"
    plain = mail.get_body(("plain",))
    assert plain is not None
    assert "I'll take it: https://" in plain.get_content()


def test_links_the_core_already_placed_are_not_repeated(outbound: Outbound) -> None:
    ack = "https://intranet.oxelosund.example/hothat/l/ack.Zm9vYmFy"
    decline = "https://intranet.oxelosund.example/hothat/l/decline.YmF6cXV4"
    html = f'<p>Ta steget: <a href="{ack}">Jag tar det</a> <a href="{decline}">Jag kan inte</a></p>'
    text = f"Ta steget.\n\nJag tar det: {ack}\nJag kan inte: {decline}"
    mail = build_message(outbound(text=text, html=html), _settings(25))
    plain, rich = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None
    assert rich is not None
    assert plain.get_content().count(ack) == 1
    assert rich.get_content().count(ack) == 1
    assert rich.get_content().count(decline) == 1


def test_plain_text_becomes_escaped_html_when_the_core_gives_none(outbound: Outbound) -> None:
    text = "Avsändaren skrev <script>alert(1)</script> & hotade.\nRad två.\n\nStycke två."
    mail = build_message(outbound(text=text, html=None), _settings(25))
    rich = mail.get_body(("html",))
    assert rich is not None
    body = rich.get_content()
    assert "<script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; hotade.<br>" in body
    assert "<p>Stycke två.</p>" in body
    assert '<html lang="sv">' in body


async def test_follow_ups_thread_under_one_root(smtp_server: ServerFactory, outbound: Outbound) -> None:
    server = smtp_server(starttls=False, auth=False)
    channel = SmtpChannel(_settings(server.port))
    kinds = [MessageKind.NOTIFY, MessageKind.ESCALATION, MessageKind.TAKEN, MessageKind.CLOSED]
    for sequence, kind in enumerate(kinds):
        await channel.deliver(outbound(kind=kind, sequence=sequence, key=f"inc-1:{kind}", subject=f"{kind}"))

    mails = [r.message for r in server.received]
    ids = [str(m["Message-ID"]) for m in mails]
    root = "<hothat.inc-1.p-anna.0@oxelosund.example>"
    assert ids[0] == root
    assert len(set(ids)) == 4
    assert all(i.startswith(f"<hothat.inc-1.p-anna.{n}.") for n, i in enumerate(ids[1:], start=1))
    assert mails[0]["In-Reply-To"] is None
    assert mails[0]["References"] is None
    for mail in mails[1:]:
        assert mail["In-Reply-To"] == root
        assert mail["References"] == root
    # A second engine (after a restart) computes the same root for the same incident and person.
    assert build_message(outbound(sequence=2), _settings(25))["References"] == root


def test_two_follow_ups_never_share_a_message_id(outbound: Outbound) -> None:
    first = build_message(outbound(sequence=1, key="inc-1:3.2.1:0:2:0"), _settings(25))
    clash = build_message(outbound(sequence=1, key="inc-1:3.1.1:4:2:0"), _settings(25))
    again = build_message(outbound(sequence=1, key="inc-1:3.2.1:0:2:0"), _settings(25))
    assert first["Message-ID"] != clash["Message-ID"]
    assert first["Message-ID"] == again["Message-ID"]  # a redelivery of the same message is recognisable


def test_a_thread_id_unfit_for_a_message_id_is_hashed_stably(outbound: Outbound) -> None:
    odd = outbound(thread="inc 1/anna@x <y>")
    first, second = build_message(odd, _settings(25)), build_message(odd, _settings(25))
    assert first["Message-ID"] == second["Message-ID"]
    assert str(first["Message-ID"]).startswith("<hothat.")
    assert " " not in str(first["Message-ID"])
    other = build_message(outbound(thread="", address="bo@oxelosund.example"), _settings(25))
    assert other["Message-ID"] != first["Message-ID"]
