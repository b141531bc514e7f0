"""Delivery against a real aiosmtpd server on 127.0.0.1: TLS, login, refusals, dropped lines, silence."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pydantic
import pytest

from hothat.channels import OutboundMessage, ReceiptStatus
from hothat.errors import AmbiguousDeliveryError, PermanentDeliveryError, RetryableDeliveryError
from hothat_email import SmtpChannel, SmtpClient, SmtpSettings

from .conftest import PASSWORD, USERNAME, Handler, Server, ServerFactory, Tls

Outbound = Callable[..., OutboundMessage]


@pytest.fixture
def channel(tls: Tls) -> Callable[..., SmtpChannel]:
    def make(server: Server, **overrides: Any) -> SmtpChannel:
        table: dict[str, Any] = {
            "host": server.host,
            "port": server.port,
            "from_address": "hothat@oxelosund.example",
            "username": USERNAME,
            "password": PASSWORD,
            "ca_bundle": str(tls.ca_bundle),
            "timeout": 5,
        }
        table.update(overrides)
        table = {k: v for k, v in table.items() if v is not None}
        return SmtpChannel(SmtpSettings.model_validate(table), config_name="email")

    return make


async def test_starttls_and_login_deliver_one_mail(
    smtp_server: ServerFactory, channel: Callable[..., SmtpChannel], outbound: Outbound
) -> None:
    server = smtp_server()
    receipt = await channel(server).deliver(outbound())

    assert receipt.status is ReceiptStatus.SENT
    assert receipt.channel == "email.smtp"
    assert receipt.address == "anna.lind@oxelosund.example"
    assert receipt.raw["response"] == "2.0.0 Ok: queued as Q1"
    [got] = server.received
    assert got.tls
    assert got.authenticated
    assert got.mail_from == "hothat@oxelosund.example"
    assert got.rcpt_tos == ["anna.lind@oxelosund.example"]
    mail = got.message
    assert mail["Message-ID"] == receipt.provider_id == "<hothat.inc-1.p-anna.0@oxelosund.example>"
    assert mail["From"] == "Oxelösunds kommun <hothat@oxelosund.example>"
    assert mail["To"] == "anna.lind@oxelosund.example"
    assert mail["Subject"] == "[Oxelösunds kommun] Ärende OX-2026-0042: Hot mot förtroendevald – ta steget"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail["Precedence"] is None
    assert mail["In-Reply-To"] is None
    assert mail["Date"] is not None


async def test_implicit_tls_on_its_own_port(
    smtp_server: ServerFactory, channel: Callable[..., SmtpChannel], outbound: Outbound
) -> None:
    server = smtp_server(starttls=False, implicit_tls=True)
    await channel(server, security="tls").deliver(outbound())
    [got] = server.received
    assert got.authenticated


async def test_plain_smtp_is_possible_on_loopback(
    smtp_server: ServerFactory, channel: Callable[..., SmtpChannel], outbound: Outbound
) -> None:
    server = smtp_server(starttls=False, auth=False)
    await channel(server, security="none", username=None, password=None).deliver(outbound())
    [got] = server.received
    assert not got.tls


async def test_wrong_password_is_permanent_and_names_the_setting_not_the_secret(
    smtp_server: ServerFactory, channel: Callable[..., SmtpChannel], outbound: Outbound
) -> None:
    server = smtp_server()
    with pytest.raises(PermanentDeliveryError) as caught:
        await channel(server, password="fel-lösenord-123").deliver(outbound())

    error = caught.value
    assert "[channels.email]" in str(error)
    assert "username and password" in str(error)
    assert "535" in str(error)
    assert "fel-lösenord-123" not in str(error)
    assert "fel-lösenord-123" not in repr(error)
    assert error.channel == "email.smtp"
    assert error.address == "a…@oxelosund.example"
    assert server.received == []


async def test_untrusted_certificate_is_permanent_and_points_to_ca_bundle(
    smtp_server: ServerFactory, channel: Callable[..., SmtpChannel], outbound: Outbound
) -> None:
    server = smtp_server()
    with pytest.raises(PermanentDeliveryError, match=r"could not be verified .*ca_bundle in \[channels.email\]"):
        await channel(server, ca_bundle=None).deliver(outbound())
    assert server.received == []


async def test_a_server_without_starttls_gets_nothing_in_clear_text(
    smtp_server: ServerFactory, channel: Callable[..., SmtpChannel], outbound: Outbound
) -> None:
    server = smtp_server(starttls=False)
    with pytest.raises(PermanentDeliveryError, match=r'does not offer STARTTLS.*security = "tls"'):
        await channel(server).deliver(outbound())
    assert server.received == []


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ("550 5.1.1 <anna.lind@oxelosund.example>: no such user", PermanentDeliveryError),
        ("450 4.2.1 mailbox busy, try later", RetryableDeliveryError),
    ],
)
async def test_a_refused_recipient_is_classified_by_its_code(
    smtp_server: ServerFactory,
    channel: Callable[..., SmtpChannel],
    outbound: Outbound,
    answer: str,
    error: type[Exception],
) -> None:
    server = smtp_server()
    server.handler.refuse["anna.lind@oxelosund.example"] = answer
    with pytest.raises(error) as caught:
        await channel(server).deliver(outbound())
    assert answer[:3] in str(caught.value)
    # The server echoed the address; the error carries it redacted only.
    assert "anna.lind@" not in str(caught.value)
    assert server.received == []


async def test_a_line_dropped_before_data_is_retryable(
    smtp_server: ServerFactory, channel: Callable[..., SmtpChannel], outbound: Outbound
) -> None:
    server = smtp_server()
    server.handler.on_rcpt = "drop"
    with pytest.raises(RetryableDeliveryError, match="during send"):
        await channel(server).deliver(outbound())


async def test_a_line_dropped_after_data_is_ambiguous(
    smtp_server: ServerFactory, channel: Callable[..., SmtpChannel], outbound: Outbound
) -> None:
    server = smtp_server()
    server.handler.on_data = "drop"
    with pytest.raises(AmbiguousDeliveryError, match="may have been delivered") as caught:
        await channel(server).deliver(outbound())
    assert caught.value.address == "a…@oxelosund.example"


@pytest.mark.parametrize(("where", "error"), [("on_rcpt", RetryableDeliveryError), ("on_data", AmbiguousDeliveryError)])
async def test_a_silent_server_times_out_in_bounded_time(
    smtp_server: ServerFactory,
    channel: Callable[..., SmtpChannel],
    outbound: Outbound,
    where: str,
    error: type[Exception],
) -> None:
    server = smtp_server()
    setattr(server.handler, where, "hang")
    started = time.monotonic()
    with pytest.raises(error, match="timed out"):
        await channel(server, timeout=0.5).deliver(outbound())
    # One step waits 0.5 s; the whole conversation may take at most three times that.
    assert time.monotonic() - started < 1.5


async def test_nobody_listening_is_retryable(
    channel: Callable[..., SmtpChannel], outbound: Outbound, closed_port: int
) -> None:
    nobody = Server(host="127.0.0.1", port=closed_port, handler=Handler())
    with pytest.raises(RetryableDeliveryError, match="during connect"):
        await channel(nobody).deliver(outbound())


async def test_a_bad_recipient_address_is_permanent_without_connecting(
    smtp_server: ServerFactory, channel: Callable[..., SmtpChannel], outbound: Outbound
) -> None:
    server = smtp_server()
    with pytest.raises(PermanentDeliveryError, match="not a usable e-mail address"):
        await channel(server).deliver(outbound(address="anna.lind@oxelosund.example\r\nBcc: x@evil.example"))
    assert server.received == []


async def test_swedish_text_round_trips(
    smtp_server: ServerFactory, channel: Callable[..., SmtpChannel], outbound: Outbound
) -> None:
    server = smtp_server()
    text = "Åsa Öberg på Ängsvägen fick ett hotfullt brev – säkerhetssamordnaren kontaktas.\n\nÅÄÖ åäö é ü"
    await channel(server).deliver(outbound(subject="Hot – åtgärd krävs för Ärende ÅÄÖ", text=text))
    mail = server.received[0].message
    assert mail["Subject"] == "[Oxelösunds kommun] Ärende OX-2026-0042: Hot – åtgärd krävs för Ärende ÅÄÖ"
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content().replace("\r\n", "\n").startswith(text)
    assert "Åsa Öberg på Ängsvägen" in html.get_content()
    # Nothing non-ASCII went over the wire: the mail is 7-bit clean for any server.
    server.received[0].raw.decode("ascii")


async def test_the_answer_links_are_in_both_parts(
    smtp_server: ServerFactory, channel: Callable[..., SmtpChannel], outbound: Outbound
) -> None:
    server = smtp_server()
    message = outbound()
    await channel(server).deliver(message)
    mail = server.received[0].message
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert f"Jag tar det: {message.ack_url}" in plain.get_content()
    assert f"Jag kan inte: {message.decline_url}" in plain.get_content()
    assert f'href="{message.ack_url}"' in html.get_content()
    assert f'href="{message.decline_url}"' in html.get_content()


async def test_deliver_many_keeps_going_past_a_refused_recipient(
    smtp_server: ServerFactory, channel: Callable[..., SmtpChannel], outbound: Outbound
) -> None:
    server = smtp_server()
    server.handler.refuse["bo@oxelosund.example"] = "550 5.1.1 unknown"
    results = await channel(server).deliver_many(
        [outbound(address="bo@oxelosund.example", thread="inc-1.p-bo"), outbound()]
    )
    assert isinstance(results[0], PermanentDeliveryError)
    assert not isinstance(results[1], Exception)
    assert [r.rcpt_tos for r in server.received] == [["anna.lind@oxelosund.example"]]


async def test_each_mail_is_its_own_conversation(smtp_server: ServerFactory, tls: Tls, outbound: Outbound) -> None:
    server = smtp_server()
    clients: list[SmtpClient] = []

    def factory(**options: Any) -> SmtpClient:
        clients.append(SmtpClient(**options))
        return clients[-1]

    settings = SmtpSettings(
        host=server.host,
        port=server.port,
        from_address="hothat@oxelosund.example",
        username=USERNAME,
        password=pydantic.SecretStr(PASSWORD),
        ca_bundle=tls.ca_bundle,
    )
    channel = SmtpChannel(settings, smtp_factory=factory)
    for n in range(3):
        await channel.deliver(outbound(address=f"p{n}@oxelosund.example", thread=f"inc-1.p{n}"))
    assert len(clients) == 3
    assert len(server.received) == 3
    assert all(c.data_started and not c.is_connected for c in clients)
