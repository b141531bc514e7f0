"""Twilio: ``POST /2010-04-01/Accounts/{sid}/Messages.json`` (form, Basic auth); HMAC-SHA1 callbacks.

Errors come back as JSON ``{"code", "message", "more_info", "status"}``. The codes that say the *number*
cannot take SMS are permanent for every provider; 20429 (too many requests) is retried later; anything
else about our account or request moves on to the next provider.

An incoming SMS is answered with empty TwiML (``<Response/>``): Twilio sends no automatic reply, and the
engine answers, if at all, with a normal outbound message. Status callbacks are answered 204.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from hothat.channels import DeliveryStatus, InboundEvent, InboundKind, OutboundMessage
from hothat.errors import InboundError
from hothat_sms._base import (
    Callback,
    Provider,
    Refusal,
    Scope,
    basic_auth,
    by_status,
    e164,
    form_fields,
    json_object,
    log,
    pick,
    query_value,
    retry_after,
)
from hothat_sms._settings import TwilioSettings
from hothat_sms._signing import twilio_signature_valid

RECIPIENT_CODES = {
    21211: "the To number is invalid",
    21610: "the recipient has replied STOP to this sender",
    21614: "the To number is not a mobile number",
    21635: "the To number is a landline",
}
"""Twilio error codes that are about the recipient, not about us: no other provider will do better."""

EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'

_STATUS = {
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "failed": DeliveryStatus.FAILED,
    "undelivered": DeliveryStatus.FAILED,
}

TRANSIENT_DELIVERY_CODES = frozenset({"30003", "30008"})
"""Status-callback error codes worth another try later: 30003 (handset off or out of reach), 30008 (unknown)."""


def twilio_refusal(response: httpx.Response, recipient_codes: Mapping[int, str]) -> Refusal:
    """Map a Twilio error answer: a code about the recipient, rate limiting (20429 / 429), or by HTTP status.

    ``recipient_codes`` are the API's codes that condemn this number for this product (SMS and voice differ).
    """
    code = json_object(response).get("code")
    if isinstance(code, int) and code in recipient_codes:
        return Refusal(Scope.RECIPIENT, f"Twilio {code}: {recipient_codes[code]}")
    if code == 20429 or response.status_code == 429:
        return Refusal(Scope.RATE_LIMITED, "Twilio 20429: too many requests", retry_after(response.headers))
    refusal = by_status(response)
    if isinstance(code, int):
        return Refusal(refusal.scope, f"Twilio {code}: {refusal.reason}", refusal.retry_after)
    return refusal


class TwilioProvider(Provider[TwilioSettings]):
    """The Twilio adapter."""

    kind: ClassVar[str] = "twilio"

    def build(self, client: httpx.AsyncClient, message: OutboundMessage, status_url: str | None) -> httpx.Request:
        s = self.settings
        data = {"To": message.address}
        if s.messaging_service_sid:
            data["MessagingServiceSid"] = s.messaging_service_sid
        else:
            data["From"] = s.sender or ""
        data["Body"] = message.text
        if status_url:
            data["StatusCallback"] = status_url
        return client.build_request(
            "POST",
            f"{s.api_url}/2010-04-01/Accounts/{s.account_sid}/Messages.json",
            data=data,
            headers={"Authorization": basic_auth(s.account_sid, s.auth_token), "Accept": "application/json"},
        )

    def accepted(self, response: httpx.Response) -> tuple[str | None, dict[str, Any]]:
        data = json_object(response)
        sid = data.get("sid")
        return (sid if isinstance(sid, str) else None), pick(data, "sid", "status", "num_segments", "price")

    def refused(self, response: httpx.Response) -> Refusal:
        return twilio_refusal(response, RECIPIENT_CODES)

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        signature = headers.get("x-twilio-signature")
        if not signature:
            raise InboundError("the callback has no X-Twilio-Signature")
        fields = form_fields(body)
        token = self.settings.auth_token.get_secret_value()
        if not twilio_signature_valid(token, url, fields, signature):
            raise InboundError("the X-Twilio-Signature does not match")
        account = dict(fields).get("AccountSid")
        if account is not None and account != self.settings.account_sid:
            raise InboundError("the callback is for another Twilio account")

    def parse(self, kind: str, url: str, headers: Mapping[str, str], body: bytes) -> Callback:
        fields = dict(form_fields(body))
        sid = fields.get("MessageSid") or fields.get("SmsSid") or ""
        if kind == "inbound":
            sender, text = fields.get("From"), fields.get("Body")
            if not sid or not sender or text is None:
                raise InboundError("an incoming Twilio SMS without MessageSid, From or Body")
            events = self._text_events(sender, text, sid, None)
            return Callback(
                events,
                replay_keys=((self.name, sid, "received"),),
                status=200,
                body=EMPTY_TWIML,
                headers={"Content-Type": "text/xml; charset=utf-8"},
            )
        status = fields.get("MessageStatus") or fields.get("SmsStatus") or ""
        if not sid or not status:
            raise InboundError("a Twilio status callback without MessageSid or MessageStatus")
        keys = ((self.name, sid, status),)
        outcome = _STATUS.get(status)
        if outcome is None:  # queued, sending, sent, ...: not final
            return Callback(replay_keys=keys)
        code = fields.get("ErrorCode", "")
        if outcome is DeliveryStatus.FAILED:
            log.info(
                "twilio %r: message %s %s (error %s, %s)",
                self.name,
                sid,
                status,
                code or "-",
                "transient: the handset may be reachable later" if code in TRANSIENT_DELIVERY_CODES else "permanent",
            )
        event = InboundEvent(
            kind=InboundKind.DELIVERY,
            channel=self.channel,
            address=e164(fields.get("To", "")),
            provider_id=sid,
            status=outcome,
            message_key=query_value(url, "ref"),
        )
        return Callback((event,), replay_keys=keys)
