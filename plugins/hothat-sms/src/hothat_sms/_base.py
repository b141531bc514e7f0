"""What every SMS provider adapter does, and the helpers they share."""

from __future__ import annotations

import abc
import base64
import enum
import hmac
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import parse_qs, parse_qsl, urlsplit

import attrs
import httpx
from pydantic import SecretStr

from hothat.channels import InboundEvent, InboundKind, OutboundMessage
from hothat.errors import InboundError
from hothat.messages.codes import parse_keyword, parse_reply
from hothat_sms._settings import BaseProviderSettings, ElksSettings, SinchSettings, TwilioSettings

__all__ = ["AnyProvider", "Callback", "Provider", "Refusal", "Scope"]

log = logging.getLogger("hothat_sms")

S = TypeVar("S", bound=BaseProviderSettings)

_MAX_FIELDS = 200


class RecentKeys:
    """A bounded, thread-safe set of recently seen callback keys (oldest forgotten first).

    Shared by the SMS and voice channels to refuse replayed provider callbacks.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._keys: OrderedDict[tuple[str, ...], None] = OrderedDict()
        self._lock = threading.Lock()

    def add_if_new(self, keys: Iterable[tuple[str, ...]]) -> bool:
        """Remember ``keys`` and return True, or return False (remembering nothing) if any was seen."""
        keys = tuple(keys)
        with self._lock:
            if any(key in self._keys for key in keys):
                return False
            for key in keys:
                self._keys[key] = None
            while len(self._keys) > self._size:
                self._keys.popitem(last=False)
            return True


class Scope(enum.Enum):
    """Whose problem a refused send is: it decides between failing over, retrying and giving up."""

    RECIPIENT = "recipient"
    """This number cannot take SMS (invalid, landline, opted out): no provider will do better."""
    PROVIDER = "provider"
    """This provider cannot send for us now (credentials, balance, a setting): try the next provider."""
    TRANSIENT = "transient"
    """A passing fault (connect error, 5xx): try this provider again, then the next."""
    RATE_LIMITED = "rate_limited"
    """The provider asked us to slow down (429): try the next provider, retry later."""


@attrs.frozen
class Refusal:
    """Why a provider did not take a message. ``reason`` never holds a number, a text or a secret."""

    scope: Scope
    reason: str
    retry_after: float | None = None


@attrs.frozen
class Callback:
    """A verified callback, parsed.

    Attributes:
        events: what it means for the engine.
        replay_keys: what identifies it; a callback whose key was seen before is refused as a replay.
        status: the HTTP status to answer.
        body: the HTTP body to answer.
        headers: extra response headers.
    """

    events: tuple[InboundEvent, ...] = ()
    replay_keys: tuple[tuple[str, ...], ...] = ()
    status: int = 204
    body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)


class Provider(abc.ABC, Generic[S]):
    """One provider account: builds send requests, reads answers, verifies and parses callbacks.

    Args:
        settings: the provider's table.
        channel: the channel's name, for the events it makes.
    """

    kind: ClassVar[str]

    def __init__(self, settings: S, channel: str) -> None:
        self.settings = settings
        self.channel = channel

    @property
    def name(self) -> str:
        """The provider's name in webhook paths and logs."""
        return self.settings.name

    @property
    def url_token(self) -> SecretStr | None:
        """The secret every webhook URL of this provider carries, if it uses one."""
        return None

    @abc.abstractmethod
    def build(self, client: httpx.AsyncClient, message: OutboundMessage, status_url: str | None) -> httpx.Request:
        """The send request for ``message``; ``status_url`` is where to report delivery, if anywhere."""

    @abc.abstractmethod
    def accepted(self, response: httpx.Response) -> tuple[str | None, dict[str, Any]]:
        """The provider's message id and a redacted summary of a 2xx answer (no text, no numbers)."""

    @abc.abstractmethod
    def refused(self, response: httpx.Response) -> Refusal:
        """What a non-2xx answer means."""

    @abc.abstractmethod
    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        """Check that a callback comes from the provider. ``headers`` have lower-case names.

        Raises:
            InboundError: it does not.
        """

    @abc.abstractmethod
    def parse(self, kind: str, url: str, headers: Mapping[str, str], body: bytes) -> Callback:
        """Parse a verified callback; ``kind`` is ``"inbound"`` (a reply) or ``"status"`` (a delivery report).

        Raises:
            InboundError: the body is not a callback this provider sends.
        """

    def _text_events(
        self, sender: str, text: str, provider_id: str | None, received_at: datetime | None
    ) -> tuple[InboundEvent, ...]:
        """An incoming SMS as one event: STOP/START, a reply code, or a reply kept without its text."""
        address = e164(sender)
        keyword = parse_keyword(text)
        common: dict[str, Any] = {
            "channel": self.channel,
            "address": address,
            "provider_id": provider_id,
            "received_at": received_at,
        }
        if keyword == "stop":
            return (InboundEvent(kind=InboundKind.STOP, **common),)
        if keyword == "start":
            return (InboundEvent(kind=InboundKind.START, **common),)
        reply = parse_reply(text)
        if reply is None:
            return (InboundEvent(kind=InboundKind.REPLY, **common),)
        kind = InboundKind.DECLINE if reply.decline else InboundKind.ACKNOWLEDGE
        return (InboundEvent(kind=kind, reply_code=reply.code, **common),)


AnyProvider = Provider[ElksSettings] | Provider[TwilioSettings] | Provider[SinchSettings]
"""A provider adapter of any kind."""


def basic_auth(user: str, password: SecretStr) -> str:
    """An HTTP Basic ``Authorization`` value."""
    raw = f"{user}:{password.get_secret_value()}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def e164(number: str) -> str:
    """A provider's rendering of a phone number as E.164: Sinch drops the ``+``, people type spaces."""
    compact = "".join(number.split())
    if compact.isdigit():
        return "+" + compact
    return compact


def form_fields(body: bytes) -> list[tuple[str, str]]:
    """The fields of a form-encoded body, in order.

    Raises:
        InboundError: the body is not UTF-8 form encoding (or has absurdly many fields).
    """
    try:
        return parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=bool(body),
            max_num_fields=_MAX_FIELDS,
        )
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        raise InboundError("the callback body is not form encoded") from exc


def query_value(url: str, name: str) -> str | None:
    """The first value of query parameter ``name``."""
    values = parse_qs(urlsplit(url).query, keep_blank_values=True).get(name)
    return values[0] if values else None


def check_url_token(url: str, expected: SecretStr) -> None:
    """Refuse a callback whose URL does not carry ``token=<expected>`` (compared in constant time).

    Raises:
        InboundError: the token is missing or wrong.
    """
    given = query_value(url, "token")
    if given is None:
        raise InboundError("the callback URL has no token")
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise InboundError("the callback URL has a wrong token")


def json_object(response: httpx.Response) -> dict[str, Any]:
    """A response's JSON object, or ``{}`` when it has none."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from a ``Retry-After`` header (a number or an HTTP date), if it has a usable one."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, min(seconds, 86_400.0))


def by_status(response: httpx.Response) -> Refusal:
    """The meaning of an HTTP status when a provider says nothing more specific."""
    status = response.status_code
    if status == 429:
        return Refusal(Scope.RATE_LIMITED, "rate limited (HTTP 429)", retry_after(response.headers))
    if status >= 500:
        return Refusal(Scope.TRANSIENT, f"server error (HTTP {status})")
    if status in (401, 403):
        return Refusal(Scope.PROVIDER, f"credentials or account refused (HTTP {status})")
    return Refusal(Scope.PROVIDER, f"request refused (HTTP {status})")


def parse_time(value: object) -> datetime | None:
    """An ISO-8601 time from a callback, as an aware UTC datetime (providers send naive times in UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def pick(data: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """The fields ``names`` of ``data`` that are present: a redacted summary for a receipt."""
    return {name: data[name] for name in names if data.get(name) is not None}
