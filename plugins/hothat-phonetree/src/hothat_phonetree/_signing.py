"""Sinch Voice's application signature: requests to Sinch and Sinch's callbacks are signed the same way.

Twilio's ``X-Twilio-Signature`` is the same for calls as for SMS and comes from ``hothat_sms``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["sinch_application_signature"]


def sinch_application_signature(
    secret: str, method: str, body: bytes, content_type: str, timestamp: str, path: str
) -> str:
    """Base64(HMAC-SHA256(Base64Decode(secret), StringToSign)), as the Sinch Voice documentation defines it.

    ``StringToSign`` is the method, Base64(MD5(body)) (empty for an empty body), the content type,
    ``x-timestamp:<timestamp>`` and the URL path, one per line.

    Raises:
        binascii.Error: ``secret`` is not base64.
    """
    # MD5 is Sinch's choice for the body digest; the HMAC-SHA256 is what authenticates.
    content_md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode() if body else ""
    string_to_sign = "\n".join([method.upper(), content_md5, content_type, f"x-timestamp:{timestamp}", path])
    digest = hmac.new(base64.b64decode(secret), string_to_sign.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()
