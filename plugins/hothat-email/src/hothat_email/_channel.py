"""The ``email.smtp`` channel: deliver one threaded mail per recipient with aiosmtplib."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import re
import ssl
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import aiosmtplib
from aiosmtplib.protocol import SMTPProtocol
from aiosmtplib.typing import Default

from hothat.channels import Channel, ChannelSettings, Disclosure, OutboundMessage, Receipt, ReceiptStatus
from hothat.domain.people import ContactPoint, Medium
from hothat.errors import (
    AmbiguousDeliveryError,
    ConfigurationError,
    DeliveryError,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from hothat_email._message import build_message
from hothat_email._settings import SmtpSettings

__all__ = ["SmtpChannel", "SmtpClient", "SmtpFactory"]

log = logging.getLogger("hothat.channels.email")

_CLOSE_WAIT = 2.0
"""Seconds to wait for a closing connection's TLS goodbye before the socket is cut."""


class SmtpClient(aiosmtplib.SMTP):
    """An ``aiosmtplib.SMTP`` that remembers whether the DATA command was issued, and can wait for its socket.

    From DATA on, a lost connection or a missing answer leaves it open whether the server took the mail, so
    the channel reports it as ambiguous; before DATA nothing can have been queued, so it is safe to retry.
    """

    data_started: bool = False

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._gone = asyncio.Event()
        self._last_transport: asyncio.BaseTransport | None = None

    def _on_connection_lost(self, protocol: SMTPProtocol) -> None:
        # aiosmtplib's hook: the socket is really closed now, after any TLS shutdown.
        super()._on_connection_lost(protocol)
        self._gone.set()

    def close(self) -> None:
        """Close the connection (see ``aiosmtplib.SMTP.close``); the socket closes a moment later."""
        if self.transport is not None:
            self._last_transport = self.transport
        super().close()

    async def wait_closed(self, timeout: float) -> None:
        """Close the connection and wait until its socket is closed; abort it if that takes over ``timeout``.

        A TLS connection closes with a round trip to the server, so without this wait a delivery could return
        (and an event loop end) while its socket is still open.
        """
        self.close()
        if self._last_transport is None or self._gone.is_set():
            return
        try:
            async with asyncio.timeout(timeout):
                await self._gone.wait()
        except TimeoutError:
            if isinstance(self._last_transport, asyncio.Transport):
                self._last_transport.abort()

    async def data(
        self,
        message: str | bytes,
        /,
        *,
        timeout: float | Literal[Default.token] | None = Default.token,
    ) -> aiosmtplib.SMTPResponse:
        """Send DATA and the content (see ``aiosmtplib.SMTP.data``), marking the point of no return first."""
        self.data_started = True
        return await super().data(message, timeout=timeout)


SmtpFactory = Callable[..., SmtpClient]
"""Builds the client of one conversation from ``aiosmtplib.SMTP`` keyword arguments (``SmtpClient``)."""


class _Phase(enum.Enum):
    CONNECT = "connect"
    STARTTLS = "starttls"
    LOGIN = "login"
    SEND = "send"


class SmtpChannel(Channel):
    """Sends alert mail through an SMTP server (submission on 587 with STARTTLS, or implicit TLS on 465).

    Each message is one conversation: connect, STARTTLS, login, one mail to one recipient, QUIT. Alerts are
    few and minutes apart, longer than servers keep an idle connection, and separate conversations keep one
    recipient's failure from touching another's (measured on loopback with STARTTLS and a login: 10-25 ms
    per mail, against 4-6 ms over one reused connection).

    Args:
        settings: the validated ``[channels.NAME]`` table.
        smtp_factory: builds the SMTP client from ``aiosmtplib.SMTP`` keyword arguments; tests inject one to
            observe or alter connections. It must return an :class:`SmtpClient`.
        config_name: the table's name, used in error messages (``[channels.email]``).
    """

    name: ClassVar[str] = "email.smtp"
    medium: ClassVar[Medium] = Medium.EMAIL
    Settings: ClassVar[type[ChannelSettings]] = SmtpSettings
    default_disclosure: ClassVar[Disclosure] = Disclosure.STANDARD

    def __init__(
        self,
        settings: ChannelSettings | None = None,
        *,
        smtp_factory: SmtpFactory | None = None,
        config_name: str | None = None,
    ) -> None:
        if not isinstance(settings, SmtpSettings):
            raise ConfigurationError(
                f"channel {self.name!r} needs settings (host, from_address, ...) from a [channels.NAME] table"
            )
        super().__init__(settings)
        self.smtp_settings: SmtpSettings = settings
        self._factory: SmtpFactory = smtp_factory or SmtpClient
        self._table = f"[channels.{config_name}]" if config_name else f'the [channels] table of plugin "{self.name}"'

    def _client_options(self) -> dict[str, Any]:
        s = self.smtp_settings
        context: ssl.SSLContext | None = None
        if s.security != "none":
            context = ssl.create_default_context(cafile=str(s.ca_bundle) if s.ca_bundle else None)
        return {
            "hostname": s.host,
            "port": s.effective_port,
            "use_tls": s.security == "tls",
            # STARTTLS is issued explicitly (below), so a server that does not offer it is an error, never a
            # silent downgrade to clear text (aiosmtplib's default of None would be).
            "start_tls": False,
            "tls_context": context,
            "timeout": s.timeout,
        }

    async def deliver(self, message: OutboundMessage) -> Receipt:
        """Send ``message`` as one mail and return the receipt for its recipient.

        Raises:
            RetryableDeliveryError: the server could not be reached, dropped the line or did not answer before
                the mail's content was sent, or answered with a temporary (4xx) error.
            PermanentDeliveryError: a bad recipient address, a refused recipient (5xx), failed login, an
                untrusted certificate or a server without STARTTLS.
            AmbiguousDeliveryError: the line dropped or timed out after DATA: the mail may have been taken.
        """
        s = self.smtp_settings
        redacted = ContactPoint(Medium.EMAIL, message.address).redacted()
        try:
            mail = build_message(message, s)
        except ValueError as exc:
            raise PermanentDeliveryError(
                f"not a usable e-mail address ({redacted}): {_scrub(str(exc), message.address)}",
                channel=self.name,
                address=redacted,
            ) from None
        recipient = mail["To"].addresses[0].addr_spec
        client = self._factory(**self._client_options())
        phase = _Phase.CONNECT
        sent = False
        try:
            async with asyncio.timeout(3 * s.timeout):
                await client.connect()
                if s.security == "starttls":
                    phase = _Phase.STARTTLS
                    await client.starttls()
                if s.username is not None and s.password is not None:
                    phase = _Phase.LOGIN
                    await client.login(s.username, s.password.get_secret_value())
                phase = _Phase.SEND
                refused, response = await client.send_message(mail, sender=s.from_address, recipients=[recipient])
            sent = True
        except (aiosmtplib.SMTPException, OSError, TimeoutError, ValueError) as exc:
            kind, detail = self._classify(exc, phase, client.data_started, message.address)
            log.info("%s: %s to %s: %s: %s", self.name, message.reference, redacted, kind.__name__, detail)
            raise kind(detail, channel=self.name, address=redacted) from None
        finally:
            if not sent:
                await client.wait_closed(min(s.timeout, _CLOSE_WAIT))
        await self._quit(client)
        if recipient in refused:
            # Only with several recipients (aiosmtplib raises when all are refused); kept for safety.
            kind, detail = self._refused(refused[recipient].code, refused[recipient].message, message.address)
            raise kind(detail, channel=self.name, address=redacted)
        mid = str(mail["Message-ID"])
        log.debug("%s: %s %s sent to %s as %s", self.name, message.reference, message.kind, redacted, mid)
        return Receipt(
            channel=self.name,
            address=message.address,
            status=ReceiptStatus.SENT,
            provider_id=mid,
            raw={"server": f"{s.host}:{s.effective_port}", "response": _scrub(response, message.address)},
        )

    async def _quit(self, client: SmtpClient) -> None:
        # The mail is taken (or refused) already: a slow or failing QUIT changes nothing.
        with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            async with asyncio.timeout(self.smtp_settings.timeout):
                await client.quit()
        await client.wait_closed(min(self.smtp_settings.timeout, _CLOSE_WAIT))

    def _refused(self, code: int, text: str, address: str) -> tuple[type[DeliveryError], str]:
        detail = f"{self.smtp_settings.host} refused the recipient: {code} {_scrub(text, address)}"
        return _by_code(code), detail

    def _classify(
        self, exc: BaseException, phase: _Phase, data_started: bool, address: str
    ) -> tuple[type[DeliveryError], str]:
        """Map an aiosmtplib or socket error to the delivery error class that tells the engine what to do."""
        s = self.smtp_settings
        server = f"{s.host}:{s.effective_port}"
        cause = exc.__cause__ if isinstance(exc.__cause__, ssl.SSLError) else exc
        if isinstance(cause, ssl.SSLCertVerificationError):
            return PermanentDeliveryError, (
                f"the TLS certificate of {server} could not be verified ({cause.verify_message}); if the "
                f"server uses the municipality's own CA, set ca_bundle in {self._table}"
            )
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            return PermanentDeliveryError, (
                f"{server} refused the login ({exc.code} {exc.message}); check username and password "
                f"(or password_env) in {self._table}"
            )
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            refused = next((r for r in exc.recipients if r.recipient == address), exc.recipients[0])
            return self._refused(refused.code, refused.message, address)
        if isinstance(exc, aiosmtplib.SMTPSenderRefused):
            return _by_code(exc.code), (
                f"{server} refused the sender ({exc.code} {exc.message}); check from_address and the login "
                f"in {self._table}"
            )
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            # A definite answer, even to DATA, means the mail was not taken: retry on 4xx, give up on 5xx.
            return _by_code(exc.code), f"{server} answered {exc.code} {_scrub(exc.message, address)}"
        if isinstance(exc, (TimeoutError, OSError)):  # aiosmtplib's disconnect and timeout errors included
            what = "timed out" if isinstance(exc, TimeoutError) else f"failed ({_scrub(str(exc), address)})"
            if data_started:
                return AmbiguousDeliveryError, (
                    f"the conversation with {server} {what} after the mail's content was sent; it may have "
                    "been delivered"
                )
            return RetryableDeliveryError, f"the conversation with {server} {what} during {phase.value}"
        if phase is _Phase.STARTTLS:
            return PermanentDeliveryError, (
                f'{server} does not offer STARTTLS, and security = "starttls" never falls back to clear '
                f'text; if the server takes implicit TLS, set security = "tls" (port 465) in {self._table}'
            )
        if phase is _Phase.LOGIN:
            return PermanentDeliveryError, (
                f"{server} offers no login method hothat can use ({exc}); check the server, or remove "
                f"username and password from {self._table}"
            )
        if isinstance(exc, (aiosmtplib.SMTPNotSupported, ValueError)):
            return PermanentDeliveryError, f"{server} cannot take this mail: {_scrub(str(exc), address)}"
        return RetryableDeliveryError, f"SMTP error with {server}: {_scrub(str(exc), address)}"


def _by_code(code: int) -> type[DeliveryError]:
    """4xx is temporary (RFC 5321 4.2.1): try again later; anything else refused is permanent."""
    return RetryableDeliveryError if 400 <= code < 500 else PermanentDeliveryError


def _scrub(text: str, address: str) -> str:
    """Server answers often echo the recipient; keep full addresses out of errors and the trail."""
    if not address.strip():
        return text
    return re.sub(re.escape(address.strip()), ContactPoint(Medium.EMAIL, address).redacted(), text, flags=re.I)
