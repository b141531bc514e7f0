"""The ``[channels.voice]`` table: the channel's own settings and one table per provider account.

Secrets work as in every channel table (the core's :class:`hothat.channels.SecretSettings`): write
``auth_token = "..."`` or, better, ``auth_token_env = "TWILIO_AUTH_TOKEN"`` (an environment variable) or
``auth_token_file = "/run/credentials/hothat/twilio"`` (a file); either is read when the settings are
validated, and a missing one is an error naming the key and the variable or file, never the value.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

import pydantic
from pydantic import BeforeValidator, Field, SecretStr

from hothat.channels import ChannelSettings, Disclosure, MessageKind
from hothat.domain import parse_duration
from hothat_sms import Timeout
from hothat_sms._settings import BaseProviderSettings

__all__ = [
    "CONFIRMATION_PROMPTS",
    "LOCALES",
    "REQUIRED_PROMPTS",
    "TEMPLATE_IDS",
    "ElksVoiceSettings",
    "SinchVoiceSettings",
    "TwilioVoiceSettings",
    "VoiceProviderSettings",
    "VoiceSettings",
]

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")

TEMPLATE_IDS: tuple[str, ...] = tuple(f"{kind}.{level}" for kind in MessageKind for level in Disclosure)
"""Every prompt id the engine can ask for: ``"<message kind>.<disclosure level>"`` (``"notify.minimal"``)."""
CONFIRMATION_PROMPTS: tuple[str, ...] = ("confirm.acknowledged", "confirm.declined")
"""What a person hears after pressing 1 ("Tack. Du har tagit ärendet.") or 2 ("Tack. Vi går vidare ...")."""
REQUIRED_PROMPTS: tuple[str, ...] = (*(f"{kind}.minimal" for kind in MessageKind), *CONFIRMATION_PROMPTS)
"""The recordings 46elks needs at least: every kind at ``minimal`` (less detailed levels stand in for more
detailed ones, never the other way round) and the two confirmations."""
LOCALES: tuple[str, ...] = ("sv", "en")
"""The languages a prompt may be recorded in; an unprefixed id is the municipality's own language."""

_PROMPT_KEY = re.compile(r"^(?:(?P<locale>[a-z]{2}):)?(?P<id>[a-z]+\.[a-z]+)$")


def _duration(value: Any) -> Any:
    """Accept ``"15m"``-style strings and plain numbers of seconds."""
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def check_url(value: str, field: str) -> str:
    """An absolute https URL (plain http only for 127.0.0.1) without query or fragment, trailing ``/`` removed.

    Raises:
        ValueError: it is not.
    """
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{field} must be an http(s) URL such as https://example.org/path")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"{field} must use https (plain http is only allowed for 127.0.0.1 in tests)")
    if parts.query or parts.fragment:
        raise ValueError(f"{field} must not have a query string or fragment")
    return value.rstrip("/")


def _caller_id(value: str) -> str:
    if not _E164.match(value):
        raise ValueError("caller_id must be one of your voice numbers in E.164 form (+46...)")
    return value


class _VoiceProvider(BaseProviderSettings):
    """Fields every voice provider table has."""

    caller_id: str
    """The number people see calling: one of your voice-enabled numbers at this provider (E.164)."""
    max_concurrent_calls: int = Field(4, ge=1, le=100)
    """At most this many calls are being placed through this account at once; more wait their turn."""

    @pydantic.field_validator("caller_id")
    @classmethod
    def _check_caller_id(cls, value: str) -> str:
        return _caller_id(value)


class ElksVoiceSettings(_VoiceProvider):
    """46elks: ``POST /a1/calls`` with an ``ivr`` action; no text-to-speech, so every prompt is a recording.

    46elks signs no callbacks: each callback URL carries an HMAC (keyed with ``webhook_token``) over the
    call's parameters, and, when ``allowed_ips`` is set, the caller's address must be in it.
    """

    default_base_url: ClassVar[str] = "https://api.46elks.com/a1"

    provider: Literal["46elks"]
    username: str = Field(min_length=1)
    """The API username (``u...``)."""
    password: SecretStr
    """The API password (or ``password_env`` / ``password_file``)."""
    webhook_token: SecretStr
    """A long random secret that keys the HMAC in every callback URL (or ``webhook_token_env`` /
    ``webhook_token_file``)."""
    allowed_ips: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    """Networks callbacks may come from; empty allows any. 46elks publishes its addresses:
    ``hothat_sms.ELKS_CALLBACK_IPS``."""
    client_ip_header: str = "X-Forwarded-For"
    """The header holding the caller's address; the last address in it is used."""
    prompts: dict[str, str]
    """Recordings by prompt id (``"notify.minimal" = "https://.../notify.mp3"``); ``"en:notify.minimal"``
    is the English recording. Every id in ``REQUIRED_PROMPTS`` must be given."""

    @pydantic.field_validator("prompts")
    @classmethod
    def _check_prompts(cls, prompts: dict[str, str]) -> dict[str, str]:
        known = {*TEMPLATE_IDS, *CONFIRMATION_PROMPTS}
        for key, url in prompts.items():
            match = _PROMPT_KEY.match(key)
            if match is None or match["id"] not in known or (match["locale"] or "sv") not in LOCALES:
                raise ValueError(
                    f"prompts: {key!r} is not a prompt id; use one of {', '.join(REQUIRED_PROMPTS)} (or a "
                    f"standard/full variant such as notify.standard), optionally prefixed 'en:'"
                )
            check_url(url, f"prompts.{key}")
        missing = [name for name in REQUIRED_PROMPTS if name not in prompts]
        if missing:
            raise ValueError(
                f"prompts: 46elks has no text-to-speech, so every message needs a recording; missing: "
                f"{', '.join(missing)} (see docs/plugins/phonetree.md, 'Recording the prompts')"
            )
        return prompts

    def prompt_url(self, prompt: str, locale: str) -> str | None:
        """The recording for ``prompt`` (``"notify.standard"``) in ``locale``, or the closest safe stand-in.

        A prompt of a *less* detailed level stands in for a missing one (``notify.standard`` falls back to
        ``notify.minimal``); the municipality's own recording stands in for a missing English one.
        """
        kind, _, level = prompt.partition(".")
        levels = [str(d) for d in Disclosure]
        candidates = [prompt]
        if level in levels:
            candidates = [f"{kind}.{lower}" for lower in reversed(levels[: levels.index(level) + 1])]
        for candidate in candidates:
            for key in (f"{locale}:{candidate}", candidate):
                if key in self.prompts:
                    return self.prompts[key]
        return None


class TwilioVoiceSettings(_VoiceProvider):
    """Twilio: ``POST /2010-04-01/Accounts/{account_sid}/Calls.json`` with inline TwiML (``<Gather>``, ``<Say>``).

    Callbacks are verified with ``X-Twilio-Signature`` over the exact callback URL, which carries the call's
    parameters.
    """

    default_base_url: ClassVar[str] = "https://api.twilio.com"

    provider: Literal["twilio"]
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr = Field(min_length=1)
    """The account's auth token (or ``auth_token_env`` / ``auth_token_file``): authenticates requests and signs
    callbacks."""
    voices: dict[str, str] = Field(default_factory=lambda: {"sv": "Polly.Astrid", "en": "Polly.Amy"})
    """The text-to-speech voice per language (Twilio's default voice speaks no Swedish)."""
    machine_detection: bool = True
    """Ask Twilio to tell a person from an answering machine (``MachineDetection=Enable``)."""

    @pydantic.field_validator("voices")
    @classmethod
    def _check_voices(cls, voices: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(voices) - set(LOCALES))
        if unknown:
            raise ValueError(f"voices: {unknown[0]!r} is not a language; use {' or '.join(LOCALES)}")
        return voices


class SinchVoiceSettings(_VoiceProvider):
    """Sinch Voice (Calling API v1): ``POST /calling/v1/callouts`` with a ``customCallout`` and ``runMenu``.

    Requests and callbacks are signed with the application secret (``Authorization: Application key:sig``).
    """

    provider: Literal["sinch"]
    application_key: str = Field(pattern=r"^[0-9A-Fa-f-]{16,64}$")
    """The voice application's key from the Sinch dashboard."""
    application_secret: SecretStr
    """The voice application's secret (base64, as the dashboard shows it; or ``application_secret_env`` /
    ``application_secret_file``)."""
    region: Literal["global", "euc1", "use1", "apse1", "apse2", "sae1"] = "euc1"
    """The Calling API region; ``euc1`` keeps calls in Europe."""
    auth: Literal["signed", "basic"] = "signed"
    """``signed`` requests (recommended by Sinch) or HTTP Basic with the key and secret."""
    machine_detection: bool = True
    """Ask Sinch for answering-machine detection (AMD) on the answered call."""
    max_clock_skew: int = Field(600, ge=30, le=3600)
    """Seconds a callback's ``x-timestamp`` may differ from our clock before it is refused as stale."""

    @pydantic.field_validator("application_secret")
    @classmethod
    def _base64_secret(cls, value: SecretStr) -> SecretStr:
        try:
            base64.b64decode(value.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("application_secret must be the base64 secret shown in the Sinch dashboard") from None
        return value

    @property
    def api_url(self) -> str:
        """``https://calling-<region>.api.sinch.com`` (or ``calling.api.sinch.com``) unless overridden."""
        if self.base_url:
            return self.base_url
        host = "calling" if self.region == "global" else f"calling-{self.region}"
        return f"https://{host}.api.sinch.com"


VoiceProviderSettings = Annotated[
    ElksVoiceSettings | TwilioVoiceSettings | SinchVoiceSettings, Field(discriminator="provider")
]
"""One ``[[channels.voice.providers]]`` table; ``provider`` says which."""


class VoiceSettings(ChannelSettings):
    """The ``[channels.voice]`` table.

    Example::

        [channels.voice]
        plugin = "voice"
        public_base_url = "https://intranet.kommun.se/hothat/hooks/voice"

        [[channels.voice.providers]]
        provider = "twilio"
        account_sid = "AC0123456789abcdef0123456789abcdef"
        auth_token_env = "TWILIO_AUTH_TOKEN"
        caller_id = "+46766861005"
    """

    providers: tuple[VoiceProviderSettings, ...]
    """Providers in the order they are tried; the next is used when one fails for reasons of its own."""
    public_base_url: str
    """Where your web app serves this channel's callbacks: a call is steered by them, so it is required."""
    ring_timeout: int = Field(30, ge=10, le=120)
    """Seconds the phone rings before the call counts as not answered."""
    gather_timeout: int = Field(8, ge=3, le=30)
    """Seconds to wait for a key after the message."""
    plays: int = Field(2, ge=1, le=3)
    """How many times the message is played when no key is pressed."""
    max_call_duration: int = Field(300, ge=60, le=3600)
    """Seconds after which a call is hung up whatever happens (Twilio, Sinch)."""
    calls_per_number: int = Field(3, ge=1, le=20)
    """At most this many calls to one number within ``rate_window``."""
    rate_window: Duration = timedelta(minutes=15)
    """The window ``calls_per_number`` counts in (``"15m"``)."""
    min_gap: Duration = timedelta(seconds=60)
    """No two calls to the same number closer than this (``"60s"``): a person on one call cannot take another."""
    timeout: Timeout = Timeout()
    attempts_per_provider: int = Field(2, ge=1, le=5)
    """Tries per provider on connect errors and 5xx before moving to the next provider."""
    validate_numbers: bool = True
    """Refuse, before any request, a number that is not a valid phone number (or is premium-rate)."""
    replay_memory: int = Field(10_000, ge=100, le=1_000_000)
    """How many recent callbacks are remembered to refuse exact replays."""
    call_memory: int = Field(2_000, ge=100, le=100_000)
    """How many recent calls are remembered (their words, for "press star to hear it again")."""

    @pydantic.field_validator("public_base_url")
    @classmethod
    def _check_public(cls, value: str) -> str:
        return check_url(value, "public_base_url")

    @pydantic.field_validator("rate_window")
    @classmethod
    def _check_window(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= value <= timedelta(days=1):
            raise ValueError("rate_window must be between 1m and 1d")
        return value

    @pydantic.field_validator("min_gap")
    @classmethod
    def _check_gap(cls, value: timedelta) -> timedelta:
        if not timedelta(0) <= value <= timedelta(hours=1):
            raise ValueError("min_gap must be between 0s and 1h")
        return value

    @pydantic.model_validator(mode="after")
    def _unique_names(self) -> VoiceSettings:
        if not self.providers:
            raise ValueError("providers: list at least one provider ([[channels.voice.providers]])")
        names = [p.name for p in self.providers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"two providers are named {duplicates[0]!r}: give each an id")
        return self
