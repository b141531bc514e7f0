"""Twilio and Sinch webhook signatures: the channel verifies them, the fake gateway makes them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

__all__ = ["SINCH_ALGORITHMS", "sinch_signature", "twilio_signature", "twilio_signature_valid"]

SINCH_ALGORITHMS = {"HmacSHA256": hashlib.sha256, "HmacSHA384": hashlib.sha384, "HmacSHA512": hashlib.sha512}
"""The ``x-sinch-webhook-signature-algorithm`` values the Sinch SDKs accept."""


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """``X-Twilio-Signature``: Base64(HMAC-SHA1(auth token, URL + each POST field as name + value)).

    Fields are sorted by name, and a repeated name's values by value, as Twilio's own validator does.
    """
    grouped: dict[str, set[str]] = {}
    for name, value in params:
        grouped.setdefault(name, set()).add(value)
    payload = url + "".join(name + value for name in sorted(grouped) for value in sorted(grouped[name]))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twilio_signature_valid(auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str) -> bool:
    """Whether ``signature`` signs this request. Constant-time.

    Twilio signs the URL sometimes with and sometimes without the default port, so both forms are tried
    (as Twilio's ``RequestValidator`` does).
    """
    pairs = list(params)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default_port = 443 if parts.scheme == "https" else 80
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    without_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}"))
    with_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{parts.port or default_port}"))
    candidates = {url, without_port, with_port}
    given = signature.encode()
    # Every candidate is computed and compared, so the time taken does not say which one matched.
    results = [hmac.compare_digest(twilio_signature(auth_token, c, pairs).encode(), given) for c in candidates]
    return any(results)


def sinch_signature(secret: str, body: bytes, nonce: str, timestamp: str, algorithm: str = "HmacSHA256") -> str:
    """``x-sinch-webhook-signature``: Base64(HMAC(secret, raw body + "." + nonce + "." + timestamp)).

    Raises:
        KeyError: ``algorithm`` is not one of :data:`SINCH_ALGORITHMS`.
    """
    digest = hmac.new(
        secret.encode(), body + b"." + nonce.encode() + b"." + timestamp.encode(), SINCH_ALGORITHMS[algorithm]
    ).digest()
    return base64.b64encode(digest).decode()
