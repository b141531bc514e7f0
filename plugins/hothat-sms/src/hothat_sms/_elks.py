"""46elks: ``POST /a1/sms`` (form, Basic auth); callbacks are form posts authenticated by URL token and IP.

46elks answers a 401 for bad credentials and a 403 when the account cannot pay; neither is the recipient's
fault, so the next provider is tried. 46elks publishes no machine-readable error codes, so any other 4xx is
treated as the provider refusing our request (the recipient's number was already checked before sending).

Callbacks must be answered 200-204, and the body must be **empty**: on an incoming SMS, 46elks sends any
text in the answer back to the sender as an SMS. A callback that is genuine (right token and address) but
unusable is answered 204 with no events, because 46elks retries anything else for hours.
"""

from __future__ import annotations

import ipaddress
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
    basic_auth,
    by_status,
    check_url_token,
    form_fields,
    json_object,
    log,
    parse_time,
    pick,
    query_value,
)
from hothat_sms._settings import ElksSettings

_STATUS = {"delivered": DeliveryStatus.DELIVERED, "failed": DeliveryStatus.FAILED}


class ElksProvider(Provider[ElksSettings]):
    """The 46elks adapter."""

    kind: ClassVar[str] = "46elks"

    @property
    def url_token(self) -> SecretStr:
        """46elks signs nothing: every webhook URL carries this secret."""
        return self.settings.webhook_token

    def build(self, client: httpx.AsyncClient, message: OutboundMessage, status_url: str | None) -> httpx.Request:
        s = self.settings
        data = {"from": s.sender, "to": message.address, "message": message.text}
        if status_url:
            data["whendelivered"] = status_url
        if s.dryrun:
            data["dryrun"] = "yes"
        return client.build_request(
            "POST",
            f"{s.api_url}/sms",
            data=data,
            headers={"Authorization": basic_auth(s.username, s.password), "Accept": "application/json"},
        )

    def accepted(self, response: httpx.Response) -> tuple[str | None, dict[str, Any]]:
        data = json_object(response)
        raw = pick(data, "id", "status", "parts", "cost", "estimated_cost")
        if self.settings.dryrun:
            raw["dryrun"] = True
        provider_id = data.get("id")
        return (provider_id if isinstance(provider_id, str) else None), raw

    def refused(self, response: httpx.Response) -> Refusal:
        if response.status_code == 403:
            # 46elks' answer when the balance is spent: permanent for this account, not for the number.
            return Refusal(Scope.PROVIDER, "account refused: out of credit or blocked (HTTP 403)")
        return by_status(response)

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        check_url_token(url, self.settings.webhook_token)
        networks = self.settings.allowed_ips
        if not networks:
            return
        forwarded = headers.get(self.settings.client_ip_header.lower(), "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        try:
            address = ipaddress.ip_address(last)
        except ValueError:
            raise InboundError("the caller's address is missing or unreadable") from None
        if not any(address in network for network in networks):
            raise InboundError("the caller's address is not in allowed_ips")

    def parse(self, kind: str, url: str, headers: Mapping[str, str], body: bytes) -> Callback:
        fields = dict(form_fields(body))
        sms_id = fields.get("id", "")
        if kind == "inbound":
            sender, text = fields.get("from"), fields.get("message")
            if not sms_id or not sender or text is None or fields.get("direction", "incoming") != "incoming":
                log.warning("46elks %r: an incoming SMS without id, from or message was ignored", self.name)
                return Callback()
            events = self._text_events(sender, text, sms_id, parse_time(fields.get("created")))
            return Callback(events, replay_keys=((self.name, "in", sms_id),))
        status = fields.get("status", "")
        if not sms_id or not status:
            log.warning("46elks %r: a delivery report without id or status was ignored", self.name)
            return Callback()
        keys = ((self.name, "dlr", sms_id, status),)
        outcome = _STATUS.get(status)
        if outcome is None:  # "sent": handed to the operator, nothing to tell the engine yet
            return Callback(replay_keys=keys)
        event = InboundEvent(
            kind=InboundKind.DELIVERY,
            channel=self.channel,
            provider_id=sms_id,
            status=outcome,
            message_key=query_value(url, "ref"),
            received_at=parse_time(fields.get("delivered")),
        )
        return Callback((event,), replay_keys=keys)
