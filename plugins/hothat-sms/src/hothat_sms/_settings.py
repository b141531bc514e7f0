"""The ``[channels.sms]`` table: the channel's settings and one table per provider.

Secrets (passwords, tokens) are :class:`pydantic.SecretStr`: their ``repr`` and ``str`` show ``**********``
and validation errors never echo the input. Write a secret in the file (``password = "..."``) or, better,
name where it is kept: the ``_env`` form of the key names an environment variable (``password_env =
"ELKS_PASSWORD"``), the ``_file`` form a file (``password_file = "/run/credentials/hothat/elks"``). Both are
read once, when the settings are validated, by the core's :class:`hothat.channels.SecretSettings`; a missing
variable or file is an error naming the key and the variable or file, never the value.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

import httpx
import pydantic
from pydantic import Field, SecretStr

from hothat.channels import ChannelSettings, SecretSettings

__all__ = [
    "BaseProviderSettings",
    "ElksSettings",
    "ProviderSettings",
    "SinchSettings",
    "SmsSettings",
    "Timeout",
    "TwilioSettings",
]

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_ALPHA_SENDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ]{1,10}$")
_PROVIDER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")

# 46elks asks customers to allow callbacks only from these addresses (46elks.se/docs/verify-callback-origin).
ELKS_CALLBACK_IPS: tuple[str, ...] = (
    "176.10.154.199",
    "85.24.146.132",
    "185.39.146.243",
    "2001:9b0:2:902::199",
)


def _check_base_url(value: str, field: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{field} must be an http(s) URL such as https://example.org/path")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"{field} must use https (plain http is only allowed for 127.0.0.1 in tests)")
    if parts.query or parts.fragment:
        raise ValueError(f"{field} must not have a query string or fragment")
    return value.rstrip("/")


class Timeout(pydantic.BaseModel):
    """HTTP timeouts in seconds, each set explicitly (httpx's single default of 5 s fits no provider well).

    A connect or pool timeout means the request never left: safe to retry. A read or write timeout means it
    may have reached the provider: the message is *possibly sent* and never resent at once.
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    connect: float = Field(5.0, gt=0, le=60)
    read: float = Field(15.0, gt=0, le=120)
    write: float = Field(10.0, gt=0, le=60)
    pool: float = Field(5.0, gt=0, le=60)

    def to_httpx(self) -> httpx.Timeout:
        """The same timeouts as an :class:`httpx.Timeout`."""
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


class BaseProviderSettings(SecretSettings):
    """Fields every provider table has; each secret may be given as ``x``, ``x_env`` or ``x_file``."""

    default_base_url: ClassVar[str] = ""

    provider: str
    id: str | None = None
    """A name for this provider in webhook paths and logs; defaults to the provider (``"46elks"``).
    Set it when the list holds the same provider twice (two accounts)."""
    base_url: str | None = None
    """The API's base URL; change it only for a test gateway or a regional endpoint."""

    @pydantic.field_validator("webhook_token", check_fields=False)
    @classmethod
    def _long_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("webhook_token must be at least 16 characters: use a long random secret")
        return value

    @pydantic.field_validator("id")
    @classmethod
    def _check_id(cls, value: str | None) -> str | None:
        if value is not None and not _PROVIDER_ID.match(value):
            raise ValueError("id must be 1-32 lower-case letters, digits, '-' or '_'")
        return value

    @pydantic.field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_base_url(value, "base_url")

    @property
    def name(self) -> str:
        """The provider's name in webhook paths and logs: ``id``, or the provider kind."""
        return self.id or self.provider

    @property
    def api_url(self) -> str:
        """The base URL requests go to."""
        return self.base_url or self.default_base_url


def _sender(value: str, *, allow_alpha: bool) -> str:
    if _E164.match(value):
        return value
    if allow_alpha and _ALPHA_SENDER.match(value):
        return value
    if allow_alpha:
        raise ValueError("sender must be an E.164 number (+46...) or 2-11 letters and digits")
    raise ValueError("sender must be an E.164 number (+46...)")


class ElksSettings(BaseProviderSettings):
    """46elks (Sweden): form POST to ``/a1/sms`` with HTTP Basic auth.

    46elks signs no callbacks, so every webhook URL carries ``webhook_token`` and, when ``allowed_ips`` is
    set, the caller's address (``client_ip_header``) must be in it.
    """

    default_base_url: ClassVar[str] = "https://api.46elks.com/a1"

    provider: Literal["46elks"]
    username: str = Field(min_length=1)
    """The API username (``u...``)."""
    password: SecretStr
    """The API password (or ``password_env`` / ``password_file``)."""
    sender: str
    """An E.164 number of yours (people can reply) or a 2-11 character text sender (they cannot)."""
    webhook_token: SecretStr
    """A long random secret put in every 46elks webhook URL (or ``webhook_token_env`` / ``webhook_token_file``)."""
    allowed_ips: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    """Networks callbacks may come from; empty allows any. 46elks publishes its addresses:
    ``hothat_sms.ELKS_CALLBACK_IPS``."""
    client_ip_header: str = "X-Forwarded-For"
    """The header holding the caller's address; the last address in it is used."""
    dryrun: bool = False
    """Send ``dryrun=yes``: 46elks validates and prices the message but sends nothing."""

    @pydantic.field_validator("sender")
    @classmethod
    def _check_sender(cls, value: str) -> str:
        return _sender(value, allow_alpha=True)


class TwilioSettings(BaseProviderSettings):
    """Twilio: form POST to ``/2010-04-01/Accounts/{account_sid}/Messages.json`` with Basic auth.

    Callbacks are verified with ``X-Twilio-Signature`` (HMAC-SHA1 with the auth token over the exact public
    URL and the sorted form fields).
    """

    default_base_url: ClassVar[str] = "https://api.twilio.com"

    provider: Literal["twilio"]
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr = Field(min_length=1)
    """The account's auth token (or ``auth_token_env`` / ``auth_token_file``): authenticates requests and signs
    callbacks."""
    sender: str | None = None
    """Your Twilio number (E.164) or an alphanumeric sender; or give ``messaging_service_sid``."""
    messaging_service_sid: str | None = Field(None, pattern=r"^MG[0-9a-fA-F]{32}$")

    @pydantic.field_validator("sender")
    @classmethod
    def _check_sender(cls, value: str | None) -> str | None:
        return None if value is None else _sender(value, allow_alpha=True)

    @pydantic.model_validator(mode="after")
    def _one_sender(self) -> TwilioSettings:
        if (self.sender is None) == (self.messaging_service_sid is None):
            raise ValueError("give exactly one of sender and messaging_service_sid")
        return self


class SinchSettings(BaseProviderSettings):
    """Sinch SMS ("xms"): JSON POST to ``/xms/v1/{service_plan_id}/batches`` with a Bearer token.

    Callbacks are verified with the service plan's HMAC signature (``webhook_secret``; ask Sinch to enable
    it) and/or a secret ``webhook_token`` in the callback URL: at least one is required.
    """

    provider: Literal["sinch"]
    service_plan_id: str = Field(pattern=r"^[A-Za-z0-9]{8,64}$")
    api_token: SecretStr = Field(min_length=1)
    """The service plan's API token (or ``api_token_env`` / ``api_token_file``)."""
    region: Literal["us", "eu", "au", "br", "ca"] = "eu"
    """The SMS API region; ``eu`` keeps traffic in Europe."""
    sender: str
    """Your Sinch number (E.164) or short code."""
    webhook_secret: SecretStr | None = None
    """The HMAC secret Sinch signs callbacks with (``x-sinch-webhook-signature``)."""
    webhook_token: SecretStr | None = None
    """A long random secret put in the callback URLs, for plans without HMAC signing."""

    @pydantic.field_validator("sender")
    @classmethod
    def _check_sender(cls, value: str) -> str:
        if re.fullmatch(r"[0-9]{3,8}", value):
            return value  # a short code
        return _sender(value, allow_alpha=False)

    @pydantic.model_validator(mode="after")
    def _callbacks_verifiable(self) -> SinchSettings:
        if self.webhook_secret is None and self.webhook_token is None:
            raise ValueError("give webhook_secret (HMAC-signed callbacks) or webhook_token (or both)")
        return self

    @property
    def api_url(self) -> str:
        """The base URL requests go to: ``https://{region}.sms.api.sinch.com`` unless overridden."""
        return self.base_url or f"https://{self.region}.sms.api.sinch.com"


ProviderSettings = Annotated[ElksSettings | TwilioSettings | SinchSettings, Field(discriminator="provider")]
"""One ``[[channels.sms.providers]]`` table; ``provider`` says which."""


class SmsSettings(ChannelSettings):
    """The ``[channels.sms]`` table.

    Example::

        [channels.sms]
        plugin = "sms"
        public_base_url = "https://intranet.kommun.se/hothat/hooks/sms"

        [[channels.sms.providers]]
        provider = "46elks"
        username = "u0123456789abcdef"
        password_env = "ELKS_PASSWORD"
        sender = "+46766861004"
        webhook_token_env = "ELKS_WEBHOOK_TOKEN"
    """

    providers: tuple[ProviderSettings, ...]
    """Providers in the order they are tried; the next is used when one fails for reasons of its own."""
    public_base_url: str | None = None
    """Where your web app serves this channel's webhooks; ``None`` asks no provider for delivery reports."""
    timeout: Timeout = Timeout()
    attempts_per_provider: int = Field(2, ge=1, le=5)
    """Tries per provider on connect errors and 5xx before moving to the next provider."""
    validate_numbers: bool = True
    """Refuse, before any request, a recipient that is not a valid mobile number (never for 46elks' free
    test number +4670000000, which ``phonenumbers`` calls invalid)."""
    replay_memory: int = Field(10_000, ge=100, le=1_000_000)
    """How many recent callbacks are remembered to refuse exact replays."""
    max_requests: int = Field(10, ge=1, le=100)
    """Requests in flight at once; more messages wait their turn. Providers refuse bursts (Twilio: too many
    concurrent requests), and a deep queue inside the HTTP pool costs CPU and times out as "could not connect"."""

    @pydantic.field_validator("public_base_url")
    @classmethod
    def _check_public(cls, value: str | None) -> str | None:
        return None if value is None else _check_base_url(value, "public_base_url")

    @pydantic.model_validator(mode="after")
    def _unique_names(self) -> SmsSettings:
        if not self.providers:
            raise ValueError("providers: list at least one provider ([[channels.sms.providers]])")
        names = [p.name for p in self.providers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"two providers are named {duplicates[0]!r}: give each an id")
        return self
