"""Channels: how hothat hands a message to a provider, and what comes back.

A channel plugin subclasses :class:`Channel` and returns the class from ``hothat_register_channels``. The engine
builds one instance per configured ``[channels.NAME]`` table, validating the table with the class's ``Settings``
model, and calls :meth:`Channel.deliver` for each message. ``deliver`` raises one of the ``DeliveryError``
subclasses to steer the engine:

- ``RetryableDeliveryError``: transient (connect error, 5xx, 429); the engine retries on its clock, bounded.
- ``PermanentDeliveryError``: this contact point will not work; the engine moves to the next one at once.
- ``AmbiguousDeliveryError``: the provider may have sent it; never resent inside the same escalation level.

Acknowledgement is a human answer (a reply code, a keypress, a link click), never a transport status:
"delivered" or a call picked up by voicemail acknowledges nothing.
"""

from __future__ import annotations

import abc
import enum
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import attrs

from hothat._secrets import SecretError, SecretReading, SecretSettings, secret_context
from hothat.domain.people import Medium
from hothat.errors import DeliveryError

__all__ = [
    "Channel",
    "ChannelSettings",
    "DeliveryStatus",
    "Disclosure",
    "InboundEvent",
    "InboundKind",
    "InboundResult",
    "LogChannel",
    "MemoryChannel",
    "MessageKind",
    "OutboundMessage",
    "Receipt",
    "ReceiptStatus",
    "SecretError",
    "SecretReading",
    "SecretSettings",
    "secret_context",
]

log = logging.getLogger("hothat.channels")


class Disclosure(enum.StrEnum):
    """How much of an incident a message may carry.

    - ``minimal`` (SMS and voice by default): municipality, reference number, severity, the step, how to answer.
    - ``standard`` (e-mail by default): adds kind, time, party and the step's instruction.
    - ``full``: adds the description; only for channels the config marks as internal.

    A person with protected identity is never named, at any level.
    """

    MINIMAL = "minimal"
    STANDARD = "standard"
    FULL = "full"


class MessageKind(enum.StrEnum):
    """Why a message is sent."""

    NOTIFY = "notify"
    """A step needs its owner: please take it."""
    ESCALATION = "escalation"
    """Nobody took the step in time; you are the next level."""
    REMINDER = "reminder"
    """You took the step and its ``done_within`` has passed."""
    TAKEN = "taken"
    """Someone took the step you were asked about; no action needed."""
    INFORMED = "informed"
    """For your information: a step you are informed of has started."""
    UNRESOLVED = "unresolved"
    """Nobody could be reached for a step; you are the routine's ``unresolved_to``."""
    CLOSED = "closed"
    """The incident was closed."""


@attrs.frozen
class OutboundMessage:
    """One rendered message to one person over one medium.

    Attributes:
        key: a deterministic idempotency key (incident, step, person, kind, level, attempt).
        incident_id: the incident's id.
        reference: the municipality's reference number (the only incident identifier a recipient sees).
        municipality: the municipality's display name ("Oxelösunds kommun").
        step_id: the step the message is about (``""`` for incident-wide messages).
        kind: why it is sent.
        person_id: the recipient's person id (for the trail; never shown).
        medium: email, sms or voice.
        address: E.164 phone number or e-mail address.
        locale: ``"sv"`` or ``"en"``.
        disclosure: the level the text was rendered at.
        subject: a subject line (e-mail); for SMS and voice a short title.
        text: the plain-text body (for SMS already GSM-7 safe; for voice, the words to say).
        html: an HTML body for e-mail, escaped, or ``None``.
        reply_code: the SMS reply code for this recipient and step ("12": take it, "12n": can't).
        ack_url: the signed "I take it" link, if the channel takes links.
        decline_url: the signed "I can't" link.
        thread: a stable id per incident and recipient, for e-mail threading.
        sequence: 0 for the first message in ``thread``, then 1, 2, ... for follow-ups.
        prompt: a template id for prerecorded voice prompts (46elks has no text-to-speech).
        attempt: 0 for the first try, then 1, 2, ... for retries of the same message.
    """

    key: str
    incident_id: str
    reference: str
    municipality: str
    step_id: str
    kind: MessageKind
    person_id: str
    medium: Medium
    address: str
    locale: str
    disclosure: Disclosure
    subject: str
    text: str
    html: str | None = None
    reply_code: str | None = None
    ack_url: str | None = None
    decline_url: str | None = None
    thread: str = ""
    sequence: int = 0
    prompt: str | None = None
    attempt: int = 0


class ReceiptStatus(enum.StrEnum):
    """What the provider said when it took the message."""

    ACCEPTED = "accepted"
    """Queued by the provider (most SMS and voice APIs)."""
    SENT = "sent"
    """Handed on (an SMTP server took the DATA)."""
    DELIVERED = "delivered"
    """Confirmed delivered (the log and memory channels; delivery reports)."""


@attrs.frozen
class Receipt:
    """What a channel got back for one recipient.

    Attributes:
        channel: the channel name.
        address: the recipient's address.
        status: accepted, sent or delivered.
        provider_id: the provider's message or call id, if any (used to match delivery reports).
        segments: SMS segments billed, if known.
        encoding: ``"GSM-7"`` or ``"UCS-2"`` for SMS.
        raw: the provider's answer with secrets removed (for the trail and debugging).
    """

    channel: str
    address: str
    status: ReceiptStatus = ReceiptStatus.ACCEPTED
    provider_id: str | None = None
    segments: int | None = None
    encoding: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict)


class InboundKind(enum.StrEnum):
    """What a provider callback means for the engine."""

    ACKNOWLEDGE = "acknowledge"
    """The person takes the step (reply code "12", key 1, the "I take it" link)."""
    DECLINE = "decline"
    """The person can't (reply "12n", key 2, the "I can't" link): move on at once."""
    DELIVERY = "delivery"
    """A delivery report (delivered or failed); never an acknowledgement."""
    CALL_OUTCOME = "call_outcome"
    """A voice call ended without a key: busy, no answer, voicemail, failed."""
    STOP = "stop"
    """The number asks for no more messages (STOP)."""
    START = "start"
    """The number asks to receive messages again (START)."""
    REPLY = "reply"
    """A reply that is not a code: kept for the trail without its text."""


class DeliveryStatus(enum.StrEnum):
    """The outcome reported for one message or call."""

    DELIVERED = "delivered"
    FAILED = "failed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    VOICEMAIL = "voicemail"
    ANSWERED_NO_KEY = "answered_no_key"


@attrs.frozen
class InboundEvent:
    """A provider callback turned into something the engine understands.

    Attributes:
        kind: what it means.
        channel: the channel that received it.
        address: the sender (phone number or e-mail address).
        reply_code: the code the person answered, when ``kind`` is acknowledge or decline via SMS.
        token: the link token, when the person clicked a link.
        message_key: our idempotency key, when the provider echoes it (voice calls, Sinch client_reference).
        provider_id: the provider's message or call id.
        status: the delivery or call outcome.
        received_at: when the provider said it happened, if it said.
    """

    kind: InboundKind
    channel: str
    address: str = ""
    reply_code: str | None = None
    token: str | None = None
    message_key: str | None = None
    provider_id: str | None = None
    status: DeliveryStatus | None = None
    received_at: datetime | None = None


@attrs.frozen
class InboundResult:
    """What ``parse_inbound`` returns: the events, and the exact HTTP answer to give the provider.

    Attributes:
        events: zero or more engine events.
        status: the HTTP status code to answer.
        body: the HTTP body (46elks wants an empty body; TwiML for Twilio voice).
        headers: extra response headers (``Content-Type``).
    """

    events: tuple[InboundEvent, ...] = ()
    status: int = 204
    body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)


class ChannelSettings(SecretSettings):
    """Base class of a channel's settings: the ``[channels.NAME]`` table of the municipality file.

    Subclasses add their fields. Unknown keys are refused so that a misspelled setting is an error, not a silent
    default. Secrets are ``pydantic.SecretStr`` fields, and each may be written three ways (see
    :class:`SecretSettings`): ``password = "..."``, ``password_env = "SMTP_PASSWORD"`` (an environment variable)
    or ``password_file = "/run/credentials/hothat/smtp"`` (a file, relative to the municipality file or absolute).
    A provider table nested inside subclasses :class:`SecretSettings` to get the same.
    """

    internal: bool = False
    """Mark a channel as internal: only then may it carry ``full`` disclosure."""


class Channel(abc.ABC):
    """The base class of every delivery channel.

    Class attributes:
        name: the channel's name in config and the trail, ``"<medium>.<provider>"`` (``"sms.46elks"``).
        medium: the medium it serves.
        Settings: the pydantic model of its ``[channels.NAME]`` table.
        default_disclosure: the level used unless the config says otherwise.
    """

    name: ClassVar[str]
    medium: ClassVar[Medium]
    Settings: ClassVar[type[ChannelSettings]] = ChannelSettings
    default_disclosure: ClassVar[Disclosure] = Disclosure.MINIMAL

    def __init__(self, settings: ChannelSettings | None = None) -> None:
        self.settings = settings if settings is not None else self.Settings()

    @property
    def concurrency(self) -> int:
        """How many messages the engine hands to this channel at once (default 16).

        The engine queues the rest itself, and a message's ``deliver_timeout`` only starts when it is handed over:
        time spent waiting in a queue must never turn a message that was not sent into "possibly sent". A channel
        with its own limit (connections, concurrent calls) returns it here.
        """
        return 16

    @abc.abstractmethod
    async def deliver(self, message: OutboundMessage) -> Receipt:
        """Hand one message to the provider.

        Returns a :class:`Receipt` once the provider has taken it. Raises ``RetryableDeliveryError``,
        ``PermanentDeliveryError`` or ``AmbiguousDeliveryError``; anything else is treated as retryable and logged.
        """

    async def deliver_many(self, messages: Sequence[OutboundMessage]) -> list[Receipt | DeliveryError]:
        """Deliver several messages; the default delivers them one by one. Providers with batch APIs override."""
        results: list[Receipt | DeliveryError] = []
        for message in messages:
            try:
                results.append(await self.deliver(message))
            except DeliveryError as exc:
                results.append(exc)
        return results

    def parse_inbound(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> InboundResult:
        """Verify and parse a provider callback. The default refuses: this channel takes no callbacks."""
        from hothat.errors import InboundError

        raise InboundError(f"channel {self.name!r} takes no callbacks")

    async def aclose(self) -> None:  # noqa: B027 - optional hook, empty by design
        """Release connections. Called once when the engine stops."""

    async def __aenter__(self) -> Channel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class LogChannel(Channel):
    """Writes each message to the ``hothat.delivery`` logger: for demos and dry runs.

    The log line names the reference, step, kind and redacted address, never the text (which may hold
    incident details) unless ``show_text`` is set.
    """

    class Settings(ChannelSettings):
        show_text: bool = False
        medium: Medium = Medium.SMS

    name: ClassVar[str] = "log"
    medium: ClassVar[Medium] = Medium.SMS

    async def deliver(self, message: OutboundMessage) -> Receipt:
        settings = self.settings
        assert isinstance(settings, LogChannel.Settings)
        logger = logging.getLogger("hothat.delivery")
        logger.info(
            "%s %s step %s to %s via %s",
            message.reference,
            message.kind,
            message.step_id or "-",
            message.person_id,
            message.medium,
        )
        if settings.show_text:
            logger.info("%s", message.text)
        return Receipt(
            channel=self.name,
            address=message.address,
            status=ReceiptStatus.DELIVERED,
            provider_id=message.key,
        )


class MemoryChannel(Channel):
    """Keeps every delivered message in ``sent``: for tests and simulation.

    ``fail_with`` maps an address to an exception to raise instead of delivering, to script failures.
    """

    name: ClassVar[str] = "memory"
    medium: ClassVar[Medium] = Medium.SMS

    def __init__(self, settings: ChannelSettings | None = None) -> None:
        super().__init__(settings)
        self.sent: list[OutboundMessage] = []
        self.fail_with: dict[str, DeliveryError] = {}

    async def deliver(self, message: OutboundMessage) -> Receipt:
        error = self.fail_with.get(message.address)
        if error is not None:
            raise error
        self.sent.append(message)
        return Receipt(
            channel=self.name,
            address=message.address,
            status=ReceiptStatus.DELIVERED,
            provider_id=message.key,
        )
