"""Sinch SMS: ``POST /xms/v1/{service_plan_id}/batches`` (JSON, Bearer token); JSON callbacks.

Errors come back as JSON ``{"code", "text"}``; ``illegal_number_type`` (403) is about the recipient, every
other 4xx about our account or request. Each batch carries ``client_reference`` = our message key, which
Sinch echoes in the per-recipient delivery report.

Sinch retries a callback answered 5xx or 429 for almost 23 hours and **drops** one answered with any other
4xx. So a callback is answered 200 once parsed, and a refused callback (``InboundError``, which the web app
answers 403) is dropped for good: right for a forgery, and for a body that would never parse anyway. A
transient fault on our side must be answered 5xx, never 4xx.

Verification: the service plan's HMAC signature (``x-sinch-webhook-signature`` over ``body.nonce.timestamp``,
the scheme of Sinch's own SDKs) when ``webhook_secret`` is set, and the URL token when ``webhook_token`` is.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

from hothat.channels import DeliveryStatus, InboundEvent, InboundKind, OutboundMessage
from hothat.errors import InboundError
from hothat_sms._base import (
    Callback,
    Provider,
    Refusal,
    Scope,
    by_status,
    check_url_token,
    e164,
    json_object,
    log,
    parse_time,
    pick,
)
from hothat_sms._settings import SinchSettings
from hothat_sms._signing import SINCH_ALGORITHMS, sinch_signature

_FAILED = {"Aborted", "Cancelled", "Deleted", "Expired", "Failed", "Rejected"}
_MAX_BODY = 64 * 1024


class SinchProvider(Provider[SinchSettings]):
    """The Sinch SMS adapter."""

    kind: ClassVar[str] = "sinch"

    @property
    def url_token(self) -> SecretStr | None:
        """The URL secret, when the plan's callbacks are not HMAC-signed (or for both checks)."""
        return self.settings.webhook_token

    def build(self, client: httpx.AsyncClient, message: OutboundMessage, status_url: str | None) -> httpx.Request:
        s = self.settings
        payload: dict[str, Any] = {
            "from": s.sender,
            "to": [message.address],
            "body": message.text,
            "client_reference": message.key,
        }
        if status_url:
            payload["delivery_report"] = "per_recipient_final"
            payload["callback_url"] = status_url
        else:
            payload["delivery_report"] = "none"
        return client.build_request(
            "POST",
            f"{s.api_url}/xms/v1/{s.service_plan_id}/batches",
            json=payload,
            headers={
                "Authorization": f"Bearer {s.api_token.get_secret_value()}",
                "Accept": "application/json",
            },
        )

    def accepted(self, response: httpx.Response) -> tuple[str | None, dict[str, Any]]:
        data = json_object(response)
        batch_id = data.get("id")
        return (batch_id if isinstance(batch_id, str) else None), pick(data, "id", "canceled", "delivery_report")

    def refused(self, response: httpx.Response) -> Refusal:
        code = json_object(response).get("code")
        if code == "illegal_number_type":
            return Refusal(Scope.RECIPIENT, "Sinch illegal_number_type: the number cannot take SMS")
        refusal = by_status(response)
        if isinstance(code, str) and code.isidentifier():
            return Refusal(refusal.scope, f"Sinch {code}: {refusal.reason}", refusal.retry_after)
        return refusal

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        s = self.settings
        if s.webhook_token is not None:
            check_url_token(url, s.webhook_token)
        if s.webhook_secret is None:
            return
        signature = headers.get("x-sinch-webhook-signature")
        nonce = headers.get("x-sinch-webhook-signature-nonce")
        timestamp = headers.get("x-sinch-webhook-signature-timestamp")
        algorithm = headers.get("x-sinch-webhook-signature-algorithm", "HmacSHA256")
        if not signature or not nonce or not timestamp:
            raise InboundError("the callback is not signed (x-sinch-webhook-signature headers missing)")
        if algorithm not in SINCH_ALGORITHMS:
            raise InboundError("the callback is signed with an unknown algorithm")
        expected = sinch_signature(s.webhook_secret.get_secret_value(), body, nonce, timestamp, algorithm)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise InboundError("the x-sinch-webhook-signature does not match")

    def parse(self, kind: str, url: str, headers: Mapping[str, str], body: bytes) -> Callback:
        if len(body) > _MAX_BODY:
            raise InboundError("the callback body is too large")
        try:
            data = json.loads(body)
        except ValueError:
            raise InboundError("the callback body is not JSON") from None
        if not isinstance(data, dict):
            raise InboundError("the callback body is not a JSON object")
        nonce = headers.get("x-sinch-webhook-signature-nonce")
        signed = ((self.name, "nonce", nonce),) if nonce and self.settings.webhook_secret else ()
        event_type = data.get("type")
        if event_type == "mo_text":
            return self._incoming(data, signed)
        if event_type == "recipient_delivery_report_sms":
            return self._delivery(data, signed)
        # A batch summary (delivery_report_sms), binary or media MO: nothing for the engine.
        log.info("sinch %r: a %s callback was answered and ignored", self.name, str(event_type)[:40])
        return Callback(replay_keys=signed, status=200)

    def _incoming(self, data: Mapping[str, Any], signed: tuple[tuple[str, ...], ...]) -> Callback:
        mo_id, sender, text = data.get("id"), data.get("from"), data.get("body")
        if not isinstance(mo_id, str) or not isinstance(sender, str) or not isinstance(text, str):
            raise InboundError("an incoming Sinch SMS without id, from or body")
        events = self._text_events(sender, text, mo_id, parse_time(data.get("received_at")))
        return Callback(events, replay_keys=((self.name, "mo", mo_id), *signed), status=200)

    def _delivery(self, data: Mapping[str, Any], signed: tuple[tuple[str, ...], ...]) -> Callback:
        batch_id, recipient, status = data.get("batch_id"), data.get("recipient"), data.get("status")
        if not isinstance(batch_id, str) or not isinstance(recipient, str) or not isinstance(status, str):
            raise InboundError("a Sinch delivery report without batch_id, recipient or status")
        keys = ((self.name, "dlr", batch_id, recipient, status), *signed)
        if status == "Delivered":
            outcome = DeliveryStatus.DELIVERED
        elif status in _FAILED:
            outcome = DeliveryStatus.FAILED
        else:  # Queued, Dispatched, Unknown: not final
            return Callback(replay_keys=keys, status=200)
        reference = data.get("client_reference")
        event = InboundEvent(
            kind=InboundKind.DELIVERY,
            channel=self.channel,
            address=e164(recipient),
            provider_id=batch_id,
            status=outcome,
            message_key=reference if isinstance(reference, str) else None,
            received_at=parse_time(data.get("at")),
        )
        return Callback((event,), replay_keys=keys, status=200)
