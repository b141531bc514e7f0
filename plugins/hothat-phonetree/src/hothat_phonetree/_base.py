"""What every voice provider adapter does, and what they share: the call's script, its parameters, memory."""

from __future__ import annotations

import abc
import base64
import enum
import hashlib
import hmac
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import attrs
import httpx
from pydantic import SecretStr

from hothat.channels import DeliveryStatus, InboundEvent, InboundKind, MessageKind, OutboundMessage
from hothat.errors import InboundError
from hothat_phonetree._settings import ElksVoiceSettings, SinchVoiceSettings, TwilioVoiceSettings, VoiceSettings
from hothat_phonetree._words import Words, words_for
from hothat_sms._base import Refusal, e164

__all__ = ["MAX_TURNS", "CallBook", "CallParams", "CallScript", "Callback", "Env", "Key", "VoiceProvider"]

log = logging.getLogger("hothat_phonetree")

S = TypeVar("S", ElksVoiceSettings, TwilioVoiceSettings, SinchVoiceSettings)

MAX_TURNS = 6
"""How many times one call replays its message (star, a wrong key) before it hangs up as unanswered."""

_ASKING = frozenset({MessageKind.NOTIFY, MessageKind.ESCALATION, MessageKind.UNRESOLVED})
_MACHINE = ("machine", "fax")


@attrs.frozen
class CallScript:
    """What one call says and how its keys are read.

    Attributes:
        key: the engine's message key (maps a keypress to incident, step and person).
        address: the number called.
        text: the words to say (providers with text-to-speech).
        locale: ``"sv"`` or ``"en"``.
        asking: whether the call asks the person to take a step (keys 1 and 2 mean something).
        prompt: the template id for a recording (46elks), ``"notify.minimal"``.
    """

    key: str
    address: str
    text: str
    locale: str
    asking: bool
    prompt: str

    @classmethod
    def of(cls, message: OutboundMessage) -> CallScript:
        """The script for one of the engine's messages."""
        locale = "en" if message.locale == "en" else "sv"
        prompt = message.prompt or f"{message.kind}.{message.disclosure}"
        return cls(message.key, message.address, message.text, locale, message.kind in _ASKING, prompt)

    @property
    def words(self) -> Words:
        """The channel's own sentences in the call's language."""
        return words_for(self.locale)

    @property
    def params(self) -> CallParams:
        """The parameters the call's first callbacks carry."""
        return CallParams(self.key, self.asking, self.locale, self.prompt, 0)


@attrs.frozen
class CallParams:
    """What travels with a call in its callback URLs (or Sinch's signed ``custom`` field).

    Attributes:
        key: the engine's message key.
        asking: whether keys 1 and 2 mean something.
        locale: the call's language.
        prompt: the recording's template id (46elks).
        turn: how many times the message was replayed (star or a wrong key); distinct per callback.
    """

    key: str
    asking: bool
    locale: str
    prompt: str
    turn: int = 0

    def pairs(self) -> list[tuple[str, str]]:
        """The query parameters, in a fixed order."""
        asking = "1" if self.asking else "0"
        return [("k", self.key), ("a", asking), ("l", self.locale), ("p", self.prompt), ("n", str(self.turn))]

    def next_turn(self) -> CallParams:
        """The same call, one replay later."""
        return attrs.evolve(self, turn=self.turn + 1)

    @property
    def words(self) -> Words:
        """The channel's own sentences in the call's language."""
        return words_for(self.locale)

    @classmethod
    def parse(cls, values: Mapping[str, str]) -> CallParams:
        """Read the parameters back.

        Raises:
            InboundError: one is missing or malformed.
        """
        try:
            key, asking, locale, prompt, turn = (values[n] for n in ("k", "a", "l", "p", "n"))
            if not key or asking not in ("0", "1") or locale not in ("sv", "en") or not turn.isdigit():
                raise ValueError
            return cls(key, asking == "1", locale, prompt, int(turn))
        except (KeyError, ValueError):
            raise InboundError("the callback does not carry the call's parameters") from None


def url_mac(secret: SecretStr, provider: str, event: str, pairs: Sequence[tuple[str, str]]) -> str:
    """An HMAC-SHA256 over the provider, the callback's event and its parameters, URL-safe base64."""
    payload = "\n".join(["hothat-voice-v1", provider, event, *(f"{k}={v}" for k, v in sorted(pairs))])
    digest = hmac.new(secret.get_secret_value().encode(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def query_pairs(url: str) -> dict[str, str]:
    """The query parameters of ``url`` (the last value of a repeated name)."""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True, max_num_fields=20))


class Key(enum.Enum):
    """What the call does next after a key (or after no key)."""

    ACKNOWLEDGED = "acknowledged"
    """Say "Tack. Du har tagit ärendet." and hang up."""
    DECLINED = "declined"
    """Say "Tack. Vi går vidare till nästa person." and hang up."""
    REPLAY = "replay"
    """Play the message again (star)."""
    INVALID = "invalid"
    """Explain the keys, then listen again."""
    GOODBYE = "goodbye"
    """Say goodbye and hang up (a call that asks nothing)."""
    NO_KEY = "no_key"
    """Hang up: no usable key came."""


@attrs.frozen
class Callback:
    """A verified callback, parsed.

    Attributes:
        events: what it means for the engine.
        replay_keys: what identifies it; a callback whose key was seen before is refused as a replay.
        status: the HTTP status to answer.
        body: the HTTP body to answer (TwiML, a 46elks action, SVAML, or nothing).
        headers: extra response headers.
    """

    events: tuple[InboundEvent, ...] = ()
    replay_keys: tuple[tuple[str, ...], ...] = ()
    status: int = 204
    body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.define
class _Call:
    script: CallScript
    expires: float
    settled: bool = False


class CallBook:
    """The calls placed recently: their scripts (for "press star") and whether their outcome was told.

    Bounded (oldest forgotten first) and time-limited; thread-safe, as webhooks may come on any thread. What
    is lost on a restart only degrades a call in progress: a replay says the short fallback sentence.

    Args:
        size: how many calls to remember.
        ttl: seconds a call is remembered.
        clock: a monotonic clock in seconds.
    """

    def __init__(self, size: int, ttl: float = 7200.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._size, self._ttl, self._clock = size, ttl, clock
        self._calls: OrderedDict[str, _Call] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, script: CallScript) -> None:
        """Remember a placed call."""
        with self._lock:
            self._calls[script.key] = _Call(script, self._clock() + self._ttl)
            self._calls.move_to_end(script.key)
            while len(self._calls) > self._size:
                self._calls.popitem(last=False)

    def _get(self, key: str) -> _Call | None:
        call = self._calls.get(key)
        if call is not None and call.expires < self._clock():
            del self._calls[key]
            return None
        return call

    def script(self, key: str) -> CallScript | None:
        """The script of a remembered call."""
        with self._lock:
            call = self._get(key)
            return call.script if call else None

    def settle(self, key: str) -> bool | None:
        """Mark the call's outcome as told: True the first time, False after, None for an unknown call."""
        with self._lock:
            call = self._get(key)
            if call is None:
                return None
            first = not call.settled
            call.settled = True
            return first


@attrs.frozen
class Env:
    """What a provider adapter needs from its channel.

    Attributes:
        channel: the channel's name, for the events it makes.
        settings: the channel's settings.
        book: the recent calls.
    """

    channel: str
    settings: VoiceSettings
    book: CallBook

    def url(self, provider: str, event: str, params: CallParams | None = None, secret: SecretStr | None = None) -> str:
        """A callback URL: ``{public_base_url}/{provider}/{event}`` with the call's parameters (and MAC)."""
        pairs = params.pairs() if params is not None else []
        if secret is not None:
            pairs.append(("s", url_mac(secret, provider, event, pairs)))
        return f"{self.settings.public_base_url}/{provider}/{event}" + (f"?{urlencode(pairs)}" if pairs else "")

    def outcome(
        self,
        kind: InboundKind,
        params: CallParams,
        *,
        status: DeliveryStatus | None = None,
        address: str = "",
        call_id: str | None = None,
    ) -> InboundEvent:
        """An event about the call ``params`` describes."""
        return InboundEvent(
            kind=kind,
            channel=self.channel,
            address=address,
            message_key=params.key,
            provider_id=call_id,
            status=status,
        )

    def text(self, params: CallParams) -> str:
        """The words of the call: its message, or the fallback sentence when the call is no longer known."""
        script = self.book.script(params.key)
        if script is None:
            log.warning("a call replayed after its message was forgotten (a restart?): the short fallback is said")
            return params.words.fallback
        return script.text

    def address(self, params: CallParams, reported: str = "") -> str:
        """The number called: as the provider reported it, else as remembered."""
        if reported:
            return e164(reported)
        script = self.book.script(params.key)
        return script.address if script else ""

    def told(
        self, params: CallParams, status: DeliveryStatus, address: str, call_id: str | None, *, if_unknown: bool = True
    ) -> tuple[InboundEvent, ...]:
        """The call's outcome as an event, unless an outcome was told already (the first one wins).

        ``if_unknown`` says whether to tell it for a call this channel no longer remembers (after a restart).
        """
        first = self.book.settle(params.key)
        if first is False or (first is None and not if_unknown):
            return ()
        return (self.outcome(InboundKind.CALL_OUTCOME, params, status=status, address=address, call_id=call_id),)

    def on_key(
        self, key: str, params: CallParams, address: str, call_id: str | None
    ) -> tuple[Key, tuple[InboundEvent, ...]]:
        """What a key pressed by a person (never a machine: callers check that first) means.

        1 takes the step, 2 declines it (both only on a call that asks), star replays the message, anything
        else is explained (or, on a call that asks nothing, ends it). Replays are bounded by ``MAX_TURNS``.
        """
        if key == "*" or (params.asking and key not in ("1", "2")):
            if params.turn + 1 >= MAX_TURNS:
                return Key.NO_KEY, self.told(params, DeliveryStatus.ANSWERED_NO_KEY, address, call_id)
            return (Key.REPLAY if key == "*" else Key.INVALID), ()
        if not params.asking:
            return Key.GOODBYE, self.told(params, DeliveryStatus.DELIVERED, address, call_id)
        self.book.settle(params.key)
        if key == "1":
            return Key.ACKNOWLEDGED, (self.outcome(InboundKind.ACKNOWLEDGE, params, address=address, call_id=call_id),)
        return Key.DECLINED, (self.outcome(InboundKind.DECLINE, params, address=address, call_id=call_id),)


def is_machine(answered_by: str) -> bool:
    """Whether a provider's answering-machine verdict means a machine (never a person who can press a key)."""
    return answered_by.lower().startswith(_MACHINE)


class VoiceProvider(abc.ABC, Generic[S]):
    """One provider account: places calls and steers them through their callbacks.

    Args:
        settings: the provider's table.
        env: the channel's name, settings and call memory.
    """

    events: ClassVar[frozenset[str]]
    """The callback events (last URL path segment) this provider is sent."""

    def __init__(self, settings: S, env: Env) -> None:
        self.settings: S = settings
        self.env = env

    @property
    def name(self) -> str:
        """The provider's name in callback paths and logs."""
        name: str = self.settings.name
        return name

    @abc.abstractmethod
    def build(self, client: httpx.AsyncClient, script: CallScript) -> httpx.Request:
        """The request that places the call.

        Raises:
            ValueError: this provider cannot place this call (a missing recording, a message too long);
                the message says why and the next provider is tried.
        """

    @abc.abstractmethod
    def accepted(self, response: httpx.Response) -> tuple[str | None, dict[str, Any]]:
        """The provider's call id and a redacted summary of a 2xx answer (no numbers, no words)."""

    @abc.abstractmethod
    def refused(self, response: httpx.Response) -> Refusal:
        """What a non-2xx answer means."""

    @abc.abstractmethod
    def verify(self, event: str, url: str, headers: Mapping[str, str], body: bytes) -> None:
        """Check that a callback comes from the provider. ``headers`` have lower-case names.

        Raises:
            InboundError: it does not.
        """

    @abc.abstractmethod
    def handle(self, event: str, url: str, headers: Mapping[str, str], body: bytes) -> Callback:
        """Parse a verified callback and decide the call's next step.

        Raises:
            InboundError: the body is not a callback this provider sends.
        """
