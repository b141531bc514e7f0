"""The voice channel: rate limits and provider failover on the way out, verified callbacks on the way in."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import ClassVar
from urllib.parse import urlsplit

import httpx
import phonenumbers

from hothat.channels import (
    Channel,
    ChannelSettings,
    Disclosure,
    InboundResult,
    OutboundMessage,
    Receipt,
    ReceiptStatus,
)
from hothat.domain.people import Medium
from hothat.errors import (
    AmbiguousDeliveryError,
    ConfigurationError,
    InboundError,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from hothat_phonetree._base import CallBook, CallScript, Env
from hothat_phonetree._elks import ElksProvider
from hothat_phonetree._settings import ElksVoiceSettings, SinchVoiceSettings, VoiceProviderSettings, VoiceSettings
from hothat_phonetree._sinch import SinchProvider
from hothat_phonetree._twilio import TwilioProvider
from hothat_sms import redact
from hothat_sms._base import RecentKeys, Refusal, Scope

__all__ = ["VoiceChannel"]

log = logging.getLogger("hothat_phonetree")

AnyProvider = ElksProvider | TwilioProvider | SinchProvider

_NOT_CALLABLE = {
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    phonenumbers.PhoneNumberType.SHARED_COST: "a shared-cost number",
}
# The request never left: safe to try again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The request may have reached the provider, which may be ringing the phone now: never dial again blindly.
_MAYBE_SENT = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.CloseError,
)


def _provider(settings: VoiceProviderSettings, env: Env) -> AnyProvider:
    if isinstance(settings, ElksVoiceSettings):
        return ElksProvider(settings, env)
    if isinstance(settings, SinchVoiceSettings):
        return SinchProvider(settings, env)
    return TwilioProvider(settings, env)


class _NumberLimiter:
    """At most ``count`` calls to one number per ``window`` seconds, and none closer than ``gap`` seconds.

    A call is counted from the moment it is *reserved* (before the request), so two steps calling the same
    person at the same moment cannot both pass; a reservation is released if no provider took the call.
    """

    def __init__(self, count: int, window: float, gap: float, clock: Callable[[], float]) -> None:
        self._count, self._window, self._gap, self._clock = count, window, gap, clock
        self._calls: dict[str, deque[float]] = {}

    def reserve(self, number: str) -> float:
        """Count a call to ``number`` now and return its stamp.

        Raises:
            RetryableDeliveryError: the number was called too often or too recently; ``retry_after`` says
                when the next call is allowed.
        """
        now = self._clock()
        calls = self._calls.setdefault(number, deque())
        while calls and calls[0] <= now - self._window:
            calls.popleft()
        waits = []
        if len(calls) >= self._count:
            waits.append(calls[0] + self._window - now)
        if calls and calls[-1] + self._gap > now:
            waits.append(calls[-1] + self._gap - now)
        if waits:
            wait = max(waits)
            raise RetryableDeliveryError(
                f"the number was called {len(calls)} time(s) in the last {self._window / 60:g} minutes; "
                f"the next call may go in {wait:.0f} s",
                channel="voice",
                address=redact(number),
                retry_after=max(wait, 1.0),
            )
        calls.append(now)
        if len(self._calls) > 10_000:  # forget numbers whose calls have all left the window
            for key in [k for k, v in self._calls.items() if not v or v[-1] <= now - self._window]:
                del self._calls[key]
        return now

    def release(self, number: str, stamp: float) -> None:
        """Take back a reservation: no call went out."""
        calls = self._calls.get(number)
        if calls and stamp in calls:
            calls.remove(stamp)


class VoiceChannel(Channel):
    """Phone calls through 46elks, Twilio or Sinch, tried in the configured order, answered with a key.

    Outbound (:meth:`deliver`) places a call and returns once a provider has taken it. Before any request the
    number is checked and counted against the per-number limits (``calls_per_number`` per ``rate_window``,
    ``min_gap`` apart: a ``RetryableDeliveryError`` with ``retry_after`` when over). Then, provider by provider:

    - taken (2xx): a :class:`~hothat.channels.Receipt` with the provider's call id;
    - the *number* is refused (invalid, unreachable): ``PermanentDeliveryError`` at once;
    - the provider fails for reasons of its own (credentials, credit, 429, a missing recording, and connect
      errors or 5xx on every one of ``attempts_per_provider`` tries): the next provider is tried;
    - no answer after the request went out (read timeout, dropped connection): ``AmbiguousDeliveryError`` at
      once, because the phone may be ringing and calling again would call the person twice.

    At most ``max_concurrent_calls`` calls are being placed through one provider account at once.

    Inbound (:meth:`parse_inbound`): the web app passes each callback on; the URL path ends
    ``/<provider>/<event>`` under ``public_base_url`` (see :meth:`webhook_url`). The answer it returns is the
    call's next step (TwiML, a 46elks action, SVAML). Key 1 acknowledges, key 2 declines (the engine moves on
    at once), star replays the message; busy, no answer, voicemail and "answered without a key" are call
    outcomes that acknowledge nothing.

    Args:
        settings: the ``[channels.voice]`` table.
        client: an ``httpx.AsyncClient`` to use (tests inject one); by default the channel makes its own and
            closes it in :meth:`aclose`.
        clock: a monotonic clock in seconds for the per-number limits (tests pass the engine's virtual clock).
    """

    name: ClassVar[str] = "voice"
    medium: ClassVar[Medium] = Medium.VOICE
    Settings: ClassVar[type[ChannelSettings]] = VoiceSettings
    default_disclosure: ClassVar[Disclosure] = Disclosure.MINIMAL

    def __init__(
        self,
        settings: ChannelSettings | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(settings)
        if not isinstance(self.settings, VoiceSettings):
            raise TypeError("VoiceChannel needs VoiceSettings")
        self.voice: VoiceSettings = self.settings
        self._timeout = self.voice.timeout.to_httpx()
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=self._timeout, follow_redirects=False, headers={"User-Agent": "hothat-phonetree"}
        )
        self.calls = CallBook(self.voice.call_memory)
        """The calls placed recently (their words, for star, and whether their outcome was told)."""
        env = Env(self.name, self.voice, self.calls)
        self._providers = {p.name: _provider(p, env) for p in self.voice.providers}
        self._slots = {p.name: asyncio.Semaphore(p.max_concurrent_calls) for p in self.voice.providers}
        self._limiter = _NumberLimiter(
            self.voice.calls_per_number,
            self.voice.rate_window.total_seconds(),
            self.voice.min_gap.total_seconds(),
            clock or time.monotonic,
        )
        self._recent = RecentKeys(self.voice.replay_memory)

    @property
    def concurrency(self) -> int:
        """The engine hands over at most as many calls as the first provider may place at once."""
        return max(1, self.voice.providers[0].max_concurrent_calls)

    # -------------------------------------------------------------------------------------------------------
    # Outbound
    # -------------------------------------------------------------------------------------------------------

    async def deliver(self, message: OutboundMessage) -> Receipt:
        """Call the person (see the class docs for the rules)."""
        shown = redact(message.address)
        self._check_number(message.address, shown)
        script = CallScript.of(message)
        stamp = self._limiter.reserve(message.address)
        placed = False
        try:
            receipt = await self._place(script, shown)
            placed = True
            return receipt
        except AmbiguousDeliveryError:
            placed = True  # the phone may be ringing: the call counts against the limits
            raise
        finally:
            if not placed:
                self._limiter.release(message.address, stamp)

    async def _place(self, script: CallScript, shown: str) -> Receipt:
        failures: list[tuple[str, Refusal]] = []
        for provider in self._providers.values():
            for attempt in range(1, self.voice.attempts_per_provider + 1):
                outcome = await self._try(provider, script, shown)
                if isinstance(outcome, Receipt):
                    return outcome
                refusal = outcome
                log.warning("call to %s via %s, try %d: %s", shown, provider.name, attempt, refusal.reason)
                if refusal.scope is Scope.RECIPIENT:
                    raise PermanentDeliveryError(f"{provider.name}: {refusal.reason}", channel=self.name, address=shown)
                if refusal.scope is not Scope.TRANSIENT:
                    break
            failures.append((provider.name, refusal))
        summary = "; ".join(f"{name}: {refusal.reason}" for name, refusal in failures)
        if any(r.scope in (Scope.TRANSIENT, Scope.RATE_LIMITED) for _, r in failures):
            waits = [r.retry_after for _, r in failures if r.retry_after is not None]
            raise RetryableDeliveryError(
                f"no voice provider placed the call: {summary}",
                channel=self.name,
                address=shown,
                retry_after=min(waits) if waits else None,
            )
        raise PermanentDeliveryError(f"no voice provider placed the call: {summary}", channel=self.name, address=shown)

    async def _try(self, provider: AnyProvider, script: CallScript, shown: str) -> Receipt | Refusal:
        try:
            request = provider.build(self._client, script)
        except ValueError as exc:  # this provider cannot place this call (a recording, a length): the next can
            return Refusal(Scope.PROVIDER, str(exc))
        request.extensions["timeout"] = self._timeout.as_dict()
        slots = self._slots[provider.name]
        try:
            await asyncio.wait_for(slots.acquire(), timeout=self.voice.timeout.pool)
        except TimeoutError:
            return Refusal(Scope.RATE_LIMITED, "too many calls being placed through this account at once", 30.0)
        try:
            response = await self._client.send(request)
        except _NOT_SENT as exc:
            return Refusal(Scope.TRANSIENT, f"could not connect ({type(exc).__name__})")
        except _MAYBE_SENT as exc:
            log.warning(
                "call to %s via %s: no answer after sending (%s): possibly placed",
                shown,
                provider.name,
                type(exc).__name__,
            )
            raise AmbiguousDeliveryError(
                f"{provider.name}: no answer after the request was sent ({type(exc).__name__}); "
                "the call may have been placed",
                channel=self.name,
                address=shown,
            ) from None
        except httpx.HTTPError as exc:  # a request httpx refused to send (bad URL, protocol): our setting
            return Refusal(Scope.PROVIDER, f"request not sent ({type(exc).__name__})")
        finally:
            slots.release()
        if not response.is_success:
            return provider.refused(response)
        call_id, raw = provider.accepted(response)
        self.calls.remember(script)
        log.info("call to %s placed by %s as %s", shown, provider.name, call_id or "-")
        return Receipt(
            channel=self.name,
            address=script.address,
            status=ReceiptStatus.ACCEPTED,
            provider_id=call_id,
            raw={"provider": provider.name, **raw},
        )

    def _check_number(self, address: str, shown: str) -> None:
        """Refuse a number no provider could call, before any request is made."""
        problem: str | None = None
        if not address.startswith("+") or not address[1:].isdigit():
            problem = "the address is not an E.164 phone number"
        elif self.voice.validate_numbers:
            try:
                number = phonenumbers.parse(address)
            except phonenumbers.NumberParseException:
                number = None
            if number is None or not phonenumbers.is_valid_number(number):
                problem = "the number is not a valid phone number"
            elif (kind := phonenumbers.number_type(number)) in _NOT_CALLABLE:
                problem = f"the number is {_NOT_CALLABLE[kind]}, which is never called"
        if problem:
            raise PermanentDeliveryError(problem, channel=self.name, address=shown)

    # -------------------------------------------------------------------------------------------------------
    # Callbacks
    # -------------------------------------------------------------------------------------------------------

    def webhook_url(self, provider: str, event: str = "callback") -> str:
        """The callback URL for ``provider`` and ``event``, without a call's parameters.

        Only Sinch needs one configured by hand: its application's callback URL (for DICE) must be
        ``webhook_url("sinch")``. Twilio and 46elks get theirs with each call.

        Raises:
            ConfigurationError: no provider is named ``provider``, or it is sent no such event.
        """
        found = self._providers.get(provider)
        if found is None:
            raise ConfigurationError(f"channels.{self.name}: no provider is named {provider!r}")
        if event not in found.events:
            raise ConfigurationError(f"channels.{self.name}: {provider} is sent {', '.join(sorted(found.events))}")
        return f"{self.voice.public_base_url}/{provider}/{event}"

    def parse_inbound(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> InboundResult:
        """Verify and parse one callback, and return the call's next step as the HTTP answer.

        Args:
            method: the HTTP method (only ``POST`` is accepted).
            url: the exact public URL the provider called, query string included (it carries the call's
                parameters and is signed; behind a proxy, rebuild it from the original scheme, host and path).
            headers: the request headers. For a 46elks ``allowed_ips`` check, the caller's address must be in
                the provider's ``client_ip_header`` (``X-Forwarded-For``; its last address is used).
            body: the raw request body.

        Returns:
            The events (acknowledge, decline, call outcome) and the exact HTTP answer (status, body, headers).

        Raises:
            InboundError: the request is forged, unsigned, stale, replayed, for an unknown path, or not a
                callback the provider sends. Answer 403 and keep nothing. The reason is logged, the content
                never.
        """
        provider: AnyProvider | None = None
        event = "?"
        try:
            if method.upper() != "POST":
                raise InboundError(f"callbacks are POST requests, not {method[:10]}")
            provider, event = self._route(url)
            lowered = {name.lower(): value for name, value in headers.items()}
            provider.verify(event, url, lowered, body)
            callback = provider.handle(event, url, lowered, body)
            if not self._recent.add_if_new(callback.replay_keys):
                raise InboundError("the callback was seen before (a replay)")
        except InboundError as exc:
            log.warning("voice callback refused (%s %s): %s", provider.name if provider else "?", event, exc)
            raise
        return InboundResult(
            events=callback.events, status=callback.status, body=callback.body, headers=dict(callback.headers)
        )

    def _route(self, url: str) -> tuple[AnyProvider, str]:
        segments = urlsplit(url).path.rstrip("/").split("/")
        if len(segments) >= 2 and segments[-2] in self._providers:
            provider = self._providers[segments[-2]]
            if segments[-1] in provider.events:
                return provider, segments[-1]
        raise InboundError("the callback path names no configured provider and event")

    async def aclose(self) -> None:
        """Close the HTTP client, if the channel made it."""
        if self._owns_client:
            await self._client.aclose()
