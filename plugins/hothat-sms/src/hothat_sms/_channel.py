"""The SMS channel: provider failover on the way out, verified webhooks on the way in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import ClassVar, Literal
from urllib.parse import urlencode, urlsplit

import httpx
import phonenumbers

from hothat.channels import Channel, ChannelSettings, InboundResult, OutboundMessage, Receipt, ReceiptStatus
from hothat.domain.people import Medium
from hothat.errors import (
    AmbiguousDeliveryError,
    ConfigurationError,
    InboundError,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from hothat.messages.gsm import SmsInfo, sms_info
from hothat_sms._base import AnyProvider, RecentKeys, Refusal, Scope
from hothat_sms._elks import ElksProvider
from hothat_sms._settings import ElksSettings, ProviderSettings, SmsSettings, TwilioSettings
from hothat_sms._sinch import SinchProvider
from hothat_sms._twilio import TwilioProvider

__all__ = ["SmsChannel", "redact"]

log = logging.getLogger("hothat_sms")

WebhookKind = Literal["inbound", "status"]

_TEST_NUMBERS = frozenset({"+4670000000"})
"""46elks' free test number: accepted, logged, never sent. ``phonenumbers`` calls it invalid."""

_SMS_TYPES = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
_TYPE_WORDS = {
    phonenumbers.PhoneNumberType.FIXED_LINE: "a landline",
    phonenumbers.PhoneNumberType.UAN: "a nationwide (010) number",
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER: "a personal (075) number",
    phonenumbers.PhoneNumberType.PAGER: "a pager",
    phonenumbers.PhoneNumberType.TOLL_FREE: "a toll-free number",
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    phonenumbers.PhoneNumberType.SHARED_COST: "a shared-cost number",
    phonenumbers.PhoneNumberType.VOIP: "a VoIP number",
}

# The request never left: safe to try again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The request may have reached the provider, and none of them takes an idempotency key.
_MAYBE_SENT = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.CloseError,
)


def redact(number: str) -> str:
    """A phone number fit for logs and errors: ``+46701740605`` → ``+4670*****05``."""
    if len(number) <= 6:
        return "*" * len(number)
    return number[:5] + "*" * (len(number) - 7) + number[-2:]


def _provider(settings: ProviderSettings, channel: str) -> AnyProvider:
    if isinstance(settings, ElksSettings):
        return ElksProvider(settings, channel)
    if isinstance(settings, TwilioSettings):
        return TwilioProvider(settings, channel)
    return SinchProvider(settings, channel)


class SmsChannel(Channel):
    """SMS through 46elks, Twilio or Sinch, tried in the configured order.

    Outbound (:meth:`deliver`), for each provider in turn:

    - accepted (2xx): a :class:`~hothat.channels.Receipt` with the provider's id, the segments and the
      encoding the text travels in;
    - the *number* is refused (invalid, landline, opted out): ``PermanentDeliveryError`` at once;
    - the provider fails for reasons of its own (credentials, balance, a refused request, 429, and connect
      errors or 5xx on every one of ``attempts_per_provider`` tries): the next provider is tried;
    - the answer never came (read timeout, dropped connection): ``AmbiguousDeliveryError`` at once, because
      the message may have gone out and resending could page the person twice.

    When every provider failed: ``RetryableDeliveryError`` if any failure was transient (with the shortest
    ``Retry-After`` any provider gave), else ``PermanentDeliveryError``.

    Inbound (:meth:`parse_inbound`): the web app passes each webhook request on; the URL path ends
    ``/<provider>/inbound`` (replies) or ``/<provider>/status`` (delivery reports), under
    ``public_base_url``.

    Args:
        settings: the ``[channels.sms]`` table.
        client: an ``httpx.AsyncClient`` to use (tests inject one); by default the channel makes its own and
            closes it in :meth:`aclose`.
    """

    name: ClassVar[str] = "sms"
    medium: ClassVar[Medium] = Medium.SMS
    Settings: ClassVar[type[ChannelSettings]] = SmsSettings

    def __init__(self, settings: ChannelSettings | None = None, *, client: httpx.AsyncClient | None = None) -> None:
        super().__init__(settings)
        if not isinstance(self.settings, SmsSettings):
            raise TypeError("SmsChannel needs SmsSettings")
        self.sms: SmsSettings = self.settings
        self._timeout = self.sms.timeout.to_httpx()
        self._owns_client = client is None
        # As many pooled connections as requests in flight, all kept alive: a burst reuses them.
        limits = httpx.Limits(max_connections=self.sms.max_requests, max_keepalive_connections=self.sms.max_requests)
        self._client = client or httpx.AsyncClient(
            timeout=self._timeout, limits=limits, follow_redirects=False, headers={"User-Agent": "hothat-sms"}
        )
        # Messages beyond max_requests wait here, not in httpx's pool: its queue is scanned whole at every
        # request (quadratic in a burst of thousands) and its pool timeout would count the wait as a failure.
        self._slots = asyncio.Semaphore(self.sms.max_requests)
        self._providers = {p.name: _provider(p, self.name) for p in self.sms.providers}
        self._recent = RecentKeys(self.sms.replay_memory)

    @property
    def concurrency(self) -> int:
        """The engine hands over at most ``max_requests`` messages at once: the rest wait in the engine, where
        waiting does not count against the delivery timeout."""
        return self.sms.max_requests

    # -------------------------------------------------------------------------------------------------------
    # Outbound
    # -------------------------------------------------------------------------------------------------------

    async def deliver(self, message: OutboundMessage) -> Receipt:
        """Send ``message`` through the first provider that takes it (see the class docs for the rules)."""
        shown = redact(message.address)
        self._check_number(message.address, shown)
        info = sms_info(message.text)
        failures: list[tuple[str, Refusal]] = []
        for provider in self._providers.values():
            status_url = self._url(provider, "status", ref=message.key)
            for attempt in range(1, self.sms.attempts_per_provider + 1):
                outcome = await self._try(provider, message, info, status_url, shown)
                if isinstance(outcome, Receipt):
                    return outcome
                refusal = outcome
                log.warning("sms to %s via %s, try %d: %s", shown, provider.name, attempt, refusal.reason)
                if refusal.scope is Scope.RECIPIENT:
                    raise PermanentDeliveryError(f"{provider.name}: {refusal.reason}", channel=self.name, address=shown)
                if refusal.scope is not Scope.TRANSIENT:
                    break
            failures.append((provider.name, refusal))
        summary = "; ".join(f"{name}: {refusal.reason}" for name, refusal in failures)
        if any(r.scope in (Scope.TRANSIENT, Scope.RATE_LIMITED) for _, r in failures):
            waits = [r.retry_after for _, r in failures if r.retry_after is not None]
            raise RetryableDeliveryError(
                f"no SMS provider took the message: {summary}",
                channel=self.name,
                address=shown,
                retry_after=min(waits) if waits else None,
            )
        raise PermanentDeliveryError(f"no SMS provider took the message: {summary}", channel=self.name, address=shown)

    async def _try(
        self,
        provider: AnyProvider,
        message: OutboundMessage,
        info: SmsInfo,
        status_url: str | None,
        shown: str,
    ) -> Receipt | Refusal:
        request = provider.build(self._client, message, status_url)
        request.extensions["timeout"] = self._timeout.as_dict()
        try:
            async with self._slots:
                response = await self._client.send(request)
        except _NOT_SENT as exc:
            return Refusal(Scope.TRANSIENT, f"could not connect ({type(exc).__name__})")
        except _MAYBE_SENT as exc:
            log.warning(
                "sms to %s via %s: no answer after sending (%s): possibly sent",
                shown,
                provider.name,
                type(exc).__name__,
            )
            raise AmbiguousDeliveryError(
                f"{provider.name}: no answer after the request was sent ({type(exc).__name__}); "
                "the SMS may have been sent",
                channel=self.name,
                address=shown,
            ) from None
        except httpx.HTTPError as exc:  # a request httpx refused to send (bad URL, protocol): our setting
            return Refusal(Scope.PROVIDER, f"request not sent ({type(exc).__name__})")
        if not response.is_success:
            return provider.refused(response)
        provider_id, raw = provider.accepted(response)
        log.info("sms to %s accepted by %s as %s", shown, provider.name, provider_id or "-")
        return Receipt(
            channel=self.name,
            address=message.address,
            status=ReceiptStatus.ACCEPTED,
            provider_id=provider_id,
            segments=info.segments,
            encoding=info.encoding,
            raw={"provider": provider.name, **raw},
        )

    def _check_number(self, address: str, shown: str) -> None:
        """Refuse a recipient no provider could text, before any request is made."""
        problem: str | None = None
        if not address.startswith("+") or not address[1:].isdigit():
            problem = "the address is not an E.164 phone number"
        elif self.sms.validate_numbers and address not in _TEST_NUMBERS:
            try:
                number = phonenumbers.parse(address)
            except phonenumbers.NumberParseException:
                number = None
            if number is None or not phonenumbers.is_valid_number(number):
                problem = "the number is not a valid phone number"
            elif (kind := phonenumbers.number_type(number)) not in _SMS_TYPES:
                problem = f"the number is {_TYPE_WORDS.get(kind, 'not a mobile number')}, which cannot take SMS"
        if problem:
            raise PermanentDeliveryError(problem, channel=self.name, address=shown)

    # -------------------------------------------------------------------------------------------------------
    # Webhooks
    # -------------------------------------------------------------------------------------------------------

    def webhook_url(self, provider: str, kind: WebhookKind) -> str:
        """The URL to give ``provider`` for incoming SMS (``"inbound"``) or delivery reports (``"status"``).

        It holds the provider's webhook token, if it uses one: treat it as a secret.

        Raises:
            ConfigurationError: ``public_base_url`` is not set, or no provider is named ``provider``.
        """
        if provider not in self._providers:
            raise ConfigurationError(f"channels.{self.name}: no provider is named {provider!r}")
        url = self._url(self._providers[provider], kind)
        if url is None:
            raise ConfigurationError(f"channels.{self.name}.public_base_url: set it to receive webhooks")
        return url

    def _url(self, provider: AnyProvider, kind: WebhookKind, ref: str | None = None) -> str | None:
        base = self.sms.public_base_url
        if base is None:
            return None
        query: dict[str, str] = {}
        token = provider.url_token
        if token is not None:
            query["token"] = token.get_secret_value()
        if ref is not None:
            query["ref"] = ref
        return f"{base}/{provider.name}/{kind}" + (f"?{urlencode(query)}" if query else "")

    def parse_inbound(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> InboundResult:
        """Verify and parse one webhook request.

        Args:
            method: the HTTP method (only ``POST`` is accepted).
            url: the exact public URL the provider called, query string included (Twilio signs it; behind a
                proxy, rebuild it from the original scheme, host and path).
            headers: the request headers. For a 46elks ``allowed_ips`` check, the caller's address must be in
                the provider's ``client_ip_header`` (``X-Forwarded-For``; its last address is used).
            body: the raw request body.

        Returns:
            The events and the exact HTTP answer to give (status, body, headers).

        Raises:
            InboundError: the request is forged, unsigned, replayed, for an unknown path, or not a callback
                the provider sends. Answer 403 and keep nothing. The reason is logged, the content never.
        """
        provider: AnyProvider | None = None
        kind = "?"
        try:
            if method.upper() != "POST":
                raise InboundError(f"webhooks are POST requests, not {method[:10]}")
            provider, kind = self._route(url)
            lowered = {name.lower(): value for name, value in headers.items()}
            provider.verify(url, lowered, body)
            callback = provider.parse(kind, url, lowered, body)
            if not self._recent.add_if_new(callback.replay_keys):
                raise InboundError("the callback was seen before (a replay)")
        except InboundError as exc:
            log.warning("sms webhook refused (%s %s): %s", provider.name if provider else "?", kind, exc)
            raise
        return InboundResult(
            events=callback.events, status=callback.status, body=callback.body, headers=dict(callback.headers)
        )

    def _route(self, url: str) -> tuple[AnyProvider, WebhookKind]:
        segments = urlsplit(url).path.rstrip("/").split("/")
        if len(segments) >= 2 and segments[-2] in self._providers and segments[-1] in ("inbound", "status"):
            kind: WebhookKind = "inbound" if segments[-1] == "inbound" else "status"
            return self._providers[segments[-2]], kind
        raise InboundError("the webhook path names no configured provider and kind")

    async def aclose(self) -> None:
        """Close the HTTP client, if the channel made it."""
        if self._owns_client:
            await self._client.aclose()
