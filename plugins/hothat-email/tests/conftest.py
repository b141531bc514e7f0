"""A real aiosmtpd server on 127.0.0.1 for the e-mail channel's tests, plus message and TLS fixtures."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from hothat.channels import Disclosure, MessageKind, OutboundMessage
from hothat.domain.people import Medium

USERNAME = "hothat"
PASSWORD = "rätt-lösen-0xF00"  # a distinctive secret, so a leak into messages is easy to spot

Action = Literal["accept", "drop", "hang"]


@attrs.define
class Received:
    """One mail the server took: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    tls: bool
    authenticated: bool

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class Handler:
    """Collects what the server receives; ``on_rcpt`` / ``on_data`` script a dropped line or silence."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse: dict[str, str] = {}
        self.on_rcpt: Action = "accept"
        self.on_data: Action = "accept"
        # Awaited by a "hang" action and never set: the server stays silent until the client gives up.
        self.never = asyncio.Event()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        if self.on_rcpt == "drop":
            assert server.transport is not None
            server.transport.close()
            return "421 4.3.0 closing"
        if self.on_rcpt == "hang":
            await self.never.wait()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.on_data == "drop":
            # The content has arrived; the line drops before the server says whether it took the mail.
            assert server.transport is not None
            server.transport.close()
            return "421 4.3.0 closing"
        if self.on_data == "hang":
            await self.never.wait()
        content = envelope.content
        assert isinstance(content, bytes)
        self.received.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                raw=content,
                tls=session.ssl is not None,
                authenticated=bool(session.authenticated),
            )
        )
        return f"250 2.0.0 Ok: queued as Q{len(self.received)}"


def _authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (USERNAME.encode(), PASSWORD.encode())
    # handled=False makes aiosmtpd answer 535 itself; with the default it would send nothing at all.
    return AuthResult(success=ok, handled=False)


@attrs.define
class Server:
    """A running aiosmtpd server and what it received."""

    host: str
    port: int
    handler: Handler

    @property
    def received(self) -> list[Received]:
        return self.handler.received


class _Controller(Controller):
    """A Controller on a port the OS picks, so parallel test runs never race for one.

    The stock Controller cannot take port 0: after binding it connects to ``self.port`` to start the server,
    so the real port is read from the bound socket first.
    """

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that is bound but not listening: connecting is refused, and nobody else can take it."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


@attrs.frozen
class Tls:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost."""

    ca_bundle: Path
    server_context: ssl.SSLContext


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    path = tmp_path_factory.mktemp("ca") / "municipal-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return Tls(ca_bundle=path, server_context=context)


ServerFactory = Callable[..., Server]


@pytest.fixture
def smtp_server(tls: Tls) -> Iterator[ServerFactory]:
    """Start aiosmtpd servers: ``smtp_server(starttls=True, auth=True, implicit_tls=False)``."""
    controllers: list[Controller] = []

    def start(*, starttls: bool = True, auth: bool = True, implicit_tls: bool = False) -> Server:
        handler = Handler()
        options: dict[str, Any] = {}
        if starttls:
            options.update(tls_context=tls.server_context, require_starttls=True)
        if auth:
            options.update(authenticator=_authenticate, auth_required=True)
        if implicit_tls:
            # aiosmtpd cannot see implicit TLS, so it must offer AUTH "without TLS" (aiosmtpd issue 281); it
            # warns when that is combined with auth_required, so here a login is offered but not enforced.
            options.update(ssl_context=tls.server_context, auth_require_tls=False, auth_required=False)
        controller = _Controller(handler, hostname="127.0.0.1", port=0, **options)
        controller.start()
        controllers.append(controller)
        return Server(host="127.0.0.1", port=controller.port, handler=handler)

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def outbound() -> Callable[..., OutboundMessage]:
    """Build an OutboundMessage like the core renders for e-mail; keyword arguments override fields."""

    def make(**overrides: Any) -> OutboundMessage:
        fields: dict[str, Any] = {
            "key": "inc-1/notify_security/p-anna/notify/0/0",
            "incident_id": "inc-1",
            "reference": "OX-2026-0042",
            "municipality": "Oxelösunds kommun",
            "step_id": "notify_security",
            "kind": MessageKind.NOTIFY,
            "person_id": "p-anna",
            "medium": Medium.EMAIL,
            "address": "anna.lind@oxelosund.example",
            "locale": "sv",
            "disclosure": Disclosure.STANDARD,
            "subject": "Hot mot förtroendevald – ta steget",
            "text": "Ärende OX-2026-0042 (allvarligt): hot mot förtroendevald.\n\nRing säkerhetssamordnaren.",
            "ack_url": "https://intranet.oxelosund.example/hothat/l/ack.Zm9vYmFy",
            "decline_url": "https://intranet.oxelosund.example/hothat/l/decline.YmF6cXV4",
            "thread": "inc-1.p-anna",
            "sequence": 0,
        }
        fields.update(overrides)
        return OutboundMessage(**fields)

    return make
