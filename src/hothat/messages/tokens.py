"""Signed, expiring, single-use tokens for the "I take it" and "I can't" links in e-mail.

A token is ``v1.<payload>.<signature>``: the payload is compact JSON in unpadded base64url, the signature an
HMAC-SHA256 over ``v1.<payload>`` in unpadded base64url. The whole token is URL-safe and needs no escaping.

The payload is signed, not encrypted: anyone holding the link can read it. It therefore carries only ids
(incident, step, recipient), the action, a nonce and the expiry, never a name or incident content.

Single use is the caller's part: :meth:`LinkTokens.verify` asks ``is_used(nonce)`` and the engine records the
nonce when it applies the answer. The nonce is passed in when issuing so the engine stays deterministic
(:func:`new_nonce` makes a fresh one).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from hothat._secrets import SECRET_INVALID, SECRET_MISSING, SecretError, SecretReading, read_secret
from hothat._text import quoted
from hothat.errors import ConfigProblem, ConfigurationError, TokenError

if TYPE_CHECKING:
    from hothat.domain.municipality import Municipality

__all__ = [
    "MIN_SECRET_BYTES",
    "LinkAction",
    "LinkTokens",
    "TokenClaims",
    "new_nonce",
    "secret_for",
    "secret_from_env",
    "secret_from_file",
    "token_secret",
]

MIN_SECRET_BYTES = 32
"""The shortest secret accepted: 256 bits, the HMAC-SHA256 block's worth of security."""

_VERSION = "v1"
_MAX_TOKEN_LENGTH = 2048
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_GENERATE = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


class LinkAction(enum.StrEnum):
    """What a link does when clicked."""

    ACKNOWLEDGE = "acknowledge"
    """"I take it": the clicker becomes the step's assignee."""
    DECLINE = "decline"
    """"I can't": the engine moves on at once."""


@attrs.frozen
class TokenClaims:
    """What a verified token says.

    Attributes:
        incident_id: the incident.
        step_id: the step.
        person_id: the recipient the link was sent to.
        action: acknowledge or decline.
        nonce: the single-use value; the engine records it once the answer is applied.
        expires_at: when the link stops working (UTC, whole seconds).
    """

    incident_id: str
    step_id: str
    person_id: str
    action: LinkAction
    nonce: str
    expires_at: datetime


def new_nonce() -> str:
    """A fresh random nonce (128 bits, URL-safe) to pass to :meth:`LinkTokens.issue`."""
    return secrets.token_urlsafe(16)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


class LinkTokens:
    """Issues and verifies link tokens with one secret.

    Args:
        secret: at least 32 random bytes (see :func:`secret_from_env`).
        ttl: how long a link works after it is issued (24 hours by default).
    """

    def __init__(self, secret: bytes, ttl: timedelta = timedelta(hours=24)) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the link-token secret must be at least {MIN_SECRET_BYTES} bytes")
        if ttl <= timedelta(0):
            raise ValueError("the link-token ttl must be positive")
        self._secret = secret
        self.ttl = ttl

    def __repr__(self) -> str:
        return f"LinkTokens(secret=<hidden>, ttl={self.ttl!r})"

    def _sign(self, signed_part: str) -> str:
        return _b64encode(hmac.new(self._secret, signed_part.encode("ascii"), hashlib.sha256).digest())

    def issue(
        self,
        incident_id: str,
        step_id: str,
        person_id: str,
        action: LinkAction,
        now: datetime,
        nonce: str,
    ) -> str:
        """Make a token for one recipient, step and action, valid for ``ttl`` from ``now``.

        ``now`` must be timezone-aware; the expiry is rounded down to the second.
        """
        _require_aware(now, "now")
        expires = int((now + self.ttl).timestamp())
        payload = {"i": incident_id, "s": step_id, "p": person_id, "a": str(action), "n": nonce, "e": expires}
        body = _b64encode(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        signed_part = f"{_VERSION}.{body}"
        return f"{signed_part}.{self._sign(signed_part)}"

    def verify(
        self,
        token: str,
        now: datetime,
        *,
        incident_id: str | None = None,
        step_id: str | None = None,
        person_id: str | None = None,
        is_used: Callable[[str], bool] = lambda nonce: False,
    ) -> TokenClaims:
        """Check a token and return its claims.

        The checks run in this order, and the first that fails raises ``TokenError`` with its reason:
        ``malformed`` (not a token of this format), ``forged`` (the signature does not match: altered, or made
        with another secret), ``expired`` (``now`` is at or after the expiry), ``mismatch`` (it names another
        incident, step or person than the ones given), ``used`` (``is_used(nonce)`` is true). The error text
        never contains the token or its claims.
        """
        _require_aware(now, "now")
        pieces = token.split(".")
        if (
            len(token) > _MAX_TOKEN_LENGTH
            or len(pieces) != 3
            or pieces[0] != _VERSION
            or not all(_B64URL.fullmatch(p) for p in pieces[1:])
        ):
            raise TokenError("malformed")
        signed_part = f"{pieces[0]}.{pieces[1]}"
        # Comparing the canonical encodings also refuses a signature with altered padding bits.
        if not hmac.compare_digest(self._sign(signed_part).encode("ascii"), pieces[2].encode("ascii")):
            raise TokenError("forged")
        claims = _claims(pieces[1])
        if now >= claims.expires_at:
            raise TokenError("expired")
        expected = (
            (incident_id, claims.incident_id),
            (step_id, claims.step_id),
            (person_id, claims.person_id),
        )
        if any(want is not None and want != got for want, got in expected):
            raise TokenError("mismatch")
        if is_used(claims.nonce):
            raise TokenError("used")
        return claims


def _claims(body: str) -> TokenClaims:
    """Decode a payload whose signature is already verified."""
    # A correctly signed but unreadable payload can only come from a bug or a changed format.
    try:
        data = json.loads(_b64decode(body))
        fields = [data["i"], data["s"], data["p"], data["a"], data["n"]]
        expires = data["e"]
        valid = all(isinstance(field, str) for field in fields) and type(expires) is int
        if valid:
            return TokenClaims(
                incident_id=fields[0],
                step_id=fields[1],
                person_id=fields[2],
                action=LinkAction(fields[3]),
                nonce=fields[4],
                expires_at=datetime.fromtimestamp(expires, UTC),
            )
    except (ValueError, TypeError, KeyError, OverflowError, OSError):
        pass
    raise TokenError("malformed")


def _decoded(value: str) -> bytes | str:
    """The secret bytes of a base64 value, or what is wrong with it (never the value)."""
    value = value.strip().rstrip("=")
    try:
        standard = value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4)
        secret = base64.b64decode(standard, validate=True)
    except ValueError:  # binascii.Error is a ValueError
        return "is not base64"
    if len(secret) < MIN_SECRET_BYTES:
        return f"holds {len(secret)} bytes, at least {MIN_SECRET_BYTES} are needed"
    return secret


def token_secret(key: str, given: str, reading: SecretReading | None = None) -> bytes:
    """Read and decode the link-token secret given as ``key = given`` (``token_secret_env`` or ``token_secret_file``).

    Raises:
        SecretError: naming the key and the variable or file (never the value): ``secret_missing`` when the
            variable is unset or the file missing, ``secret_invalid`` when the value is unusable.
    """
    how = f"set it to a random value made with: {_GENERATE}"
    found = read_secret("token_secret", {key: given}, reading or SecretReading())
    assert found is not None
    decoded = _decoded(found.get_secret_value())
    if isinstance(decoded, str):
        where = f"the environment variable {given}" if key.endswith("_env") else f"the file {quoted(given)}"
        raise SecretError(SECRET_INVALID, key, f"{where} {decoded}; {how}")
    return decoded


def secret_from_env(name: str, *, environ: Mapping[str, str] | None = None) -> bytes:
    """Read the link-token secret from the environment variable ``name``.

    The value is base64 (URL-safe or standard, padding optional) of at least 32 bytes. Raises
    ``ConfigurationError`` naming the variable and how to make a good value; the value itself is never shown.
    """
    try:
        return token_secret("token_secret_env", name, SecretReading(environ=environ))
    except SecretError as exc:
        raise ConfigurationError([ConfigProblem("environment", name, _with_how(exc))]) from None


def secret_from_file(path: str | os.PathLike[str], *, base_dir: Path | None = None) -> bytes:
    """Read the link-token secret from a file (base64 of at least 32 bytes; trailing line breaks are ignored).

    A relative ``path`` starts in ``base_dir`` (default: the current folder). Raises ``ConfigurationError``
    naming the file; its content is never shown.
    """
    given = os.fspath(path)
    try:
        return token_secret("token_secret_file", given, SecretReading(base_dir=base_dir))
    except SecretError as exc:
        raise ConfigurationError([ConfigProblem("token secret", given, _with_how(exc))]) from None


def secret_for(municipality: Municipality, *, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The link-token secret a municipality names: its ``token_secret_file``, else its ``token_secret_env``.

    Returns ``None`` when that variable is unset or that file is missing (the engine then signs links with a
    temporary secret, and says so); ``hothat.config.load_config`` has already refused a file whose secret is
    missing, unless asked to let it pass.

    Raises:
        ConfigurationError: the secret is there but unusable (not base64, too short, unreadable), naming
            ``municipality.token_secret_env`` or ``municipality.token_secret_file``.
    """
    file = municipality.token_secret_file
    key, given = (
        ("token_secret_file", file) if file is not None else ("token_secret_env", municipality.token_secret_env)
    )
    try:
        return token_secret(key, given, SecretReading(environ=environ))
    except SecretError as exc:
        if exc.kind == SECRET_MISSING:
            return None
        raise ConfigurationError([ConfigProblem(municipality.source, f"municipality.{key}", exc.reason)]) from None


def _with_how(exc: SecretError) -> str:
    """The reason, with how to make a good secret when it does not say already."""
    how = f"set it to a random value made with: {_GENERATE}"
    return exc.reason if _GENERATE in exc.reason else f"{exc.reason}; {how}"
