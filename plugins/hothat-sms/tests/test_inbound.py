"""Webhooks: replies and delivery reports become events; forged, unsigned and replayed ones are refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from hothat.channels import DeliveryStatus, InboundEvent, InboundKind
from hothat.errors import InboundError
from hothat_sms._signing import sinch_signature, twilio_signature

from .conftest import (
    BASE,
    ELKS_TOKEN,
    KEY,
    RECIPIENT,
    SINCH_SECRET,
    SINCH_TOKEN,
    TWILIO_SID,
    TWILIO_TOKEN,
    MakeChannel,
    elks,
    sinch,
    twilio,
)

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ELKS_IN = f"{BASE}/46elks/inbound?token={ELKS_TOKEN}"
ELKS_STATUS = f"{BASE}/46elks/status?token={ELKS_TOKEN}&ref={KEY}"
TWILIO_IN = f"{BASE}/twilio/inbound"
TWILIO_STATUS = f"{BASE}/twilio/status?ref={KEY}"
SINCH_IN = f"{BASE}/sinch/inbound?token={SINCH_TOKEN}"


def elks_in(text: str, sms_id: str = "sf8425555e5d8db61dda7a7b3f1b91bdb") -> bytes:
    return urlencode(
        {
            "direction": "incoming",
            "id": sms_id,
            "from": RECIPIENT,
            "to": "+46766861004",
            "created": "2026-03-02T08:20:11.741000",
            "message": text,
        }
    ).encode()


def twilio_request(url: str, fields: dict[str, str], token: str = TWILIO_TOKEN) -> tuple[dict[str, str], bytes]:
    """Headers and body as Twilio sends them, signed by Twilio's own library."""
    signature = RequestValidator(token).compute_signature(url, fields)
    return {**FORM, "X-Twilio-Signature": signature}, urlencode(fields).encode()


def twilio_in(text: str, sid: str = "SM" + "1" * 32) -> dict[str, str]:
    return {
        "ToCountry": "SE",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": text,
        "To": "+46766861005",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": TWILIO_SID,
        "From": RECIPIENT,
        "ApiVersion": "2010-04-01",
    }


def sinch_request(
    payload: dict[str, Any], nonce: str = "01FJA8B4A7BM43YGWSG9GBV067", secret: str = SINCH_SECRET
) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    timestamp = "1772439611"
    return {
        "Content-Type": "application/json",
        "X-Sinch-Webhook-Signature-Nonce": nonce,
        "X-Sinch-Webhook-Signature-Timestamp": timestamp,
        "X-Sinch-Webhook-Signature-Algorithm": "HmacSHA256",
        "X-Sinch-Webhook-Signature": sinch_signature(secret, body, nonce, timestamp),
    }, body


def sinch_mo(text: str, mo_id: str = "01FC66621VHDBN119Z8PMV1QPU") -> dict[str, Any]:
    return {
        "type": "mo_text",
        "id": mo_id,
        "from": RECIPIENT.lstrip("+"),
        "to": "46766861006",
        "body": text,
        "received_at": "2026-03-02T08:20:11.741Z",
        "operator_id": "24001",
    }


# ----------------------------------------------------------------------------------------------------------
# Replies become acknowledge, decline, STOP, START or a reply without its text
# ----------------------------------------------------------------------------------------------------------

EXPECTED = [
    ("12", InboundKind.ACKNOWLEDGE, "12"),
    ("12n", InboundKind.DECLINE, "12"),
    ("ok 12", InboundKind.ACKNOWLEDGE, "12"),
    ("12 kan inte", InboundKind.DECLINE, "12"),
    ("STOPP", InboundKind.STOP, None),
    ("start", InboundKind.START, None),
    ("Vem är det här?", InboundKind.REPLY, None),
]


@pytest.mark.parametrize(("text", "kind", "code"), EXPECTED)
async def test_46elks_reply(make_channel: MakeChannel, text: str, kind: InboundKind, code: str | None) -> None:
    result = make_channel(elks()).parse_inbound("POST", ELKS_IN, FORM, elks_in(text))

    assert result.events == (
        InboundEvent(
            kind=kind,
            channel="sms",
            address=RECIPIENT,
            reply_code=code,
            provider_id="sf8425555e5d8db61dda7a7b3f1b91bdb",
            received_at=datetime(2026, 3, 2, 8, 20, 11, 741000, tzinfo=UTC),
        ),
    )
    # Any text in the answer would be sent back to the person as an SMS by 46elks.
    assert (result.status, result.body) == (204, b"")
    assert "Vem" not in repr(result)


@pytest.mark.parametrize(("text", "kind", "code"), EXPECTED)
async def test_twilio_reply(make_channel: MakeChannel, text: str, kind: InboundKind, code: str | None) -> None:
    headers, body = twilio_request(TWILIO_IN, twilio_in(text))
    result = make_channel(twilio()).parse_inbound("POST", TWILIO_IN, headers, body)

    assert result.events == (
        InboundEvent(
            kind=kind,
            channel="sms",
            address=RECIPIENT,
            reply_code=code,
            provider_id="SM" + "1" * 32,
        ),
    )
    assert result.status == 200
    assert result.body == b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
    assert result.headers == {"Content-Type": "text/xml; charset=utf-8"}


@pytest.mark.parametrize(("text", "kind", "code"), EXPECTED)
async def test_sinch_reply(make_channel: MakeChannel, text: str, kind: InboundKind, code: str | None) -> None:
    headers, body = sinch_request(sinch_mo(text))
    result = make_channel(sinch()).parse_inbound("POST", SINCH_IN, headers, body)

    assert result.events == (
        InboundEvent(
            kind=kind,
            channel="sms",
            address=RECIPIENT,
            reply_code=code,
            provider_id="01FC66621VHDBN119Z8PMV1QPU",
            received_at=datetime(2026, 3, 2, 8, 20, 11, 741000, tzinfo=UTC),
        ),
    )
    assert (result.status, result.body) == (200, b"")


# ----------------------------------------------------------------------------------------------------------
# Delivery reports
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"), [("delivered", DeliveryStatus.DELIVERED), ("failed", DeliveryStatus.FAILED)]
)
async def test_46elks_delivery_report(make_channel: MakeChannel, status: str, outcome: DeliveryStatus) -> None:
    fields = {"id": "s70df59406a1b4643b96f3f91e0bfb7b0", "status": status}
    if status == "delivered":
        fields["delivered"] = "2026-03-02T08:14:09.123000"
    result = make_channel(elks()).parse_inbound("POST", ELKS_STATUS, FORM, urlencode(fields).encode())

    [event] = result.events
    assert (event.kind, event.status, event.provider_id, event.message_key) == (
        InboundKind.DELIVERY,
        outcome,
        "s70df59406a1b4643b96f3f91e0bfb7b0",
        KEY,
    )
    assert event.received_at == (datetime(2026, 3, 2, 8, 14, 9, 123000, tzinfo=UTC) if status == "delivered" else None)
    assert (result.status, result.body) == (204, b"")


async def test_46elks_intermediate_status_is_answered_without_events(make_channel: MakeChannel) -> None:
    body = urlencode({"id": "s70df59406a1b4643b96f3f91e0bfb7b0", "status": "sent"}).encode()
    result = make_channel(elks()).parse_inbound("POST", ELKS_STATUS, FORM, body)
    assert (result.events, result.status, result.body) == ((), 204, b"")


@pytest.mark.parametrize(
    ("status", "code", "outcome"),
    [
        ("delivered", "", DeliveryStatus.DELIVERED),
        ("undelivered", "30003", DeliveryStatus.FAILED),
        ("failed", "30006", DeliveryStatus.FAILED),
        ("sent", "", None),
    ],
)
async def test_twilio_status_callback(
    make_channel: MakeChannel,
    status: str,
    code: str,
    outcome: DeliveryStatus | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    fields = {
        "SmsSid": "SM" + "2" * 32,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": RECIPIENT,
        "MessageSid": "SM" + "2" * 32,
        "AccountSid": TWILIO_SID,
        "From": "+46766861005",
        "ApiVersion": "2010-04-01",
    }
    if code:
        fields["ErrorCode"] = code
    headers, body = twilio_request(TWILIO_STATUS, fields)
    result = make_channel(twilio()).parse_inbound("POST", TWILIO_STATUS, headers, body)

    assert (result.status, result.body) == (204, b"")
    if outcome is None:
        assert result.events == ()
        return
    assert result.events == (
        InboundEvent(
            kind=InboundKind.DELIVERY,
            channel="sms",
            address=RECIPIENT,
            provider_id="SM" + "2" * 32,
            status=outcome,
            message_key=KEY,
        ),
    )
    if code == "30003":
        assert "transient" in caplog.text


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("Delivered", DeliveryStatus.DELIVERED),
        ("Failed", DeliveryStatus.FAILED),
        ("Expired", DeliveryStatus.FAILED),
        ("Rejected", DeliveryStatus.FAILED),
        ("Dispatched", None),
    ],
)
async def test_sinch_delivery_report(make_channel: MakeChannel, status: str, outcome: DeliveryStatus | None) -> None:
    payload = {
        "type": "recipient_delivery_report_sms",
        "batch_id": "01FC66621XXXXX119Z8PMV1QPQ",
        "recipient": "46701740605",
        "code": 0,
        "status": status,
        "at": "2026-03-02T08:14:09.000Z",
        "operator_status_at": "2026-03-02T08:14:08Z",
        "client_reference": KEY,
    }
    headers, body = sinch_request(payload)
    url = f"{BASE}/sinch/status?token={SINCH_TOKEN}&ref={KEY}"
    result = make_channel(sinch()).parse_inbound("POST", url, headers, body)

    assert (result.status, result.body) == (200, b"")
    if outcome is None:
        assert result.events == ()
        return
    assert result.events == (
        InboundEvent(
            kind=InboundKind.DELIVERY,
            channel="sms",
            address=RECIPIENT,
            provider_id="01FC66621XXXXX119Z8PMV1QPQ",
            status=outcome,
            message_key=KEY,
            received_at=datetime(2026, 3, 2, 8, 14, 9, tzinfo=UTC),
        ),
    )


async def test_sinch_batch_summary_is_answered_and_ignored(make_channel: MakeChannel) -> None:
    headers, body = sinch_request(
        {"type": "delivery_report_sms", "batch_id": "B1", "statuses": [], "total_message_count": 1}
    )
    result = make_channel(sinch()).parse_inbound("POST", SINCH_IN, headers, body)
    assert (result.events, result.status) == ((), 200)


# ----------------------------------------------------------------------------------------------------------
# Authenticity: forged, unsigned, replayed
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/46elks/inbound",
        f"{BASE}/46elks/inbound?token=guessed-token-0000000",
        f"{BASE}/46elks/inbound?token={ELKS_TOKEN[:-1]}",
    ],
    ids=["no-token", "wrong-token", "almost-token"],
)
async def test_46elks_forged_callbacks_are_refused(
    make_channel: MakeChannel, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(InboundError, match="token"):
        make_channel(elks()).parse_inbound("POST", url, FORM, elks_in("12"))
    assert "refused" in caplog.text
    assert RECIPIENT not in caplog.text
    assert "guessed" not in caplog.text


async def test_46elks_replay_is_refused(make_channel: MakeChannel) -> None:
    channel = make_channel(elks())
    assert channel.parse_inbound("POST", ELKS_IN, FORM, elks_in("12")).events
    with pytest.raises(InboundError, match="replay"):
        channel.parse_inbound("POST", ELKS_IN, FORM, elks_in("12"))
    # Another message from the same person is not a replay.
    assert channel.parse_inbound("POST", ELKS_IN, FORM, elks_in("12", sms_id="s2")).events


@pytest.mark.parametrize(
    ("forwarded", "allowed"),
    [
        ("176.10.154.199", True),
        ("10.0.0.7, 2001:9b0:2:902::199", True),
        ("176.10.154.199, 203.0.113.9", False),  # the last hop is what our own proxy saw
        ("", False),
        ("not-an-address", False),
    ],
)
async def test_46elks_ip_allowlist(make_channel: MakeChannel, forwarded: str, allowed: bool) -> None:
    from hothat_sms import ELKS_CALLBACK_IPS

    channel = make_channel(elks(allowed_ips=list(ELKS_CALLBACK_IPS)))
    headers = {**FORM, "X-Forwarded-For": forwarded} if forwarded else FORM
    if allowed:
        assert channel.parse_inbound("POST", ELKS_IN, headers, elks_in("12")).events
    else:
        with pytest.raises(InboundError, match="address"):
            channel.parse_inbound("POST", ELKS_IN, headers, elks_in("12"))


async def test_46elks_genuine_but_unusable_callback_gets_an_empty_204(make_channel: MakeChannel) -> None:
    result = make_channel(elks()).parse_inbound("POST", ELKS_IN, FORM, b"direction=incoming&id=s1")
    assert (result.events, result.status, result.body) == ((), 204, b"")


async def test_our_twilio_signature_matches_twilios_library() -> None:
    fields = twilio_in("Hej, 12 ok – räksmörgås")
    ours = twilio_signature(TWILIO_TOKEN, TWILIO_STATUS, fields.items())
    assert ours == RequestValidator(TWILIO_TOKEN).compute_signature(TWILIO_STATUS, fields)
    assert RequestValidator(TWILIO_TOKEN).validate(TWILIO_STATUS, fields, ours)


async def test_twilio_signature_with_explicit_port_is_accepted(make_channel: MakeChannel) -> None:
    signed_url = "https://kommun.example:443/hothat/hooks/sms/twilio/inbound"
    headers, body = twilio_request(signed_url, twilio_in("12"))
    result = make_channel(twilio()).parse_inbound("POST", TWILIO_IN, headers, body)
    assert result.events[0].kind is InboundKind.ACKNOWLEDGE


@pytest.mark.parametrize("case", ["unsigned", "wrong-token", "other-url", "tampered", "other-account"])
async def test_twilio_forged_callbacks_are_refused(make_channel: MakeChannel, case: str) -> None:
    fields = twilio_in("12")
    headers, body = twilio_request(TWILIO_IN, fields)
    if case == "unsigned":
        headers = FORM
    elif case == "wrong-token":
        headers, body = twilio_request(TWILIO_IN, fields, token="not-the-token")
    elif case == "other-url":
        headers, body = twilio_request(f"{BASE}/twilio/status", fields)
    elif case == "tampered":
        body = urlencode({**fields, "From": "+46709999999"}).encode()
    else:
        headers, body = twilio_request(TWILIO_IN, {**fields, "AccountSid": "AC" + "9" * 32})
    with pytest.raises(InboundError, match=r"Twilio|account"):
        make_channel(twilio()).parse_inbound("POST", TWILIO_IN, headers, body)


async def test_twilio_replay_is_refused(make_channel: MakeChannel) -> None:
    channel = make_channel(twilio())
    headers, body = twilio_request(TWILIO_IN, twilio_in("12"))
    channel.parse_inbound("POST", TWILIO_IN, headers, body)
    with pytest.raises(InboundError, match="replay"):
        channel.parse_inbound("POST", TWILIO_IN, headers, body)


async def test_twilio_replayed_status_is_refused_but_a_new_status_is_not(make_channel: MakeChannel) -> None:
    channel = make_channel(twilio())
    base = {"MessageSid": "SM" + "3" * 32, "AccountSid": TWILIO_SID, "To": RECIPIENT}
    sent = twilio_request(TWILIO_STATUS, {**base, "MessageStatus": "sent"})
    delivered = twilio_request(TWILIO_STATUS, {**base, "MessageStatus": "delivered"})
    channel.parse_inbound("POST", TWILIO_STATUS, *sent)
    assert channel.parse_inbound("POST", TWILIO_STATUS, *delivered).events
    with pytest.raises(InboundError, match="replay"):
        channel.parse_inbound("POST", TWILIO_STATUS, *delivered)


@pytest.mark.parametrize(
    "case", ["unsigned", "wrong-secret", "tampered", "unknown-algorithm", "no-token", "wrong-token"]
)
async def test_sinch_forged_callbacks_are_refused(make_channel: MakeChannel, case: str) -> None:
    headers, body = sinch_request(sinch_mo("12"))
    url = SINCH_IN
    if case == "unsigned":
        headers = {"Content-Type": "application/json"}
    elif case == "wrong-secret":
        headers, body = sinch_request(sinch_mo("12"), secret="not-the-secret")
    elif case == "tampered":
        body = body.replace(b"12", b"13")
    elif case == "unknown-algorithm":
        headers["X-Sinch-Webhook-Signature-Algorithm"] = "HmacMD5"
    elif case == "no-token":
        url = f"{BASE}/sinch/inbound"
    else:
        url = f"{BASE}/sinch/inbound?token=guessed-token-00000000"
    with pytest.raises(InboundError):
        make_channel(sinch()).parse_inbound("POST", url, headers, body)


async def test_sinch_replayed_nonce_or_message_is_refused(make_channel: MakeChannel) -> None:
    channel = make_channel(sinch())
    channel.parse_inbound("POST", SINCH_IN, *sinch_request(sinch_mo("12", mo_id="A1"), nonce="n1"))
    with pytest.raises(InboundError, match="replay"):  # the same message, freshly signed
        channel.parse_inbound("POST", SINCH_IN, *sinch_request(sinch_mo("12", mo_id="A1"), nonce="n2"))
    with pytest.raises(InboundError, match="replay"):  # another message under a used nonce
        channel.parse_inbound("POST", SINCH_IN, *sinch_request(sinch_mo("12", mo_id="A2"), nonce="n1"))


async def test_sinch_with_only_a_url_token(make_channel: MakeChannel) -> None:
    channel = make_channel(sinch(webhook_secret=None))
    body = json.dumps(sinch_mo("12n")).encode()
    assert channel.parse_inbound("POST", SINCH_IN, {}, body).events[0].kind is InboundKind.DECLINE
    with pytest.raises(InboundError, match="token"):
        channel.parse_inbound("POST", f"{BASE}/sinch/inbound", {}, body)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", json.dumps({"type": "mo_text", "id": "x"}).encode()])
async def test_sinch_malformed_body_is_refused(make_channel: MakeChannel, body: bytes) -> None:
    channel = make_channel(sinch(webhook_secret=None))
    with pytest.raises(InboundError, match=r"JSON|without id"):
        channel.parse_inbound("POST", SINCH_IN, {"Content-Type": "application/json"}, body)


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", ELKS_IN),
        ("POST", f"{BASE}/unknown/inbound?token={ELKS_TOKEN}"),
        ("POST", f"{BASE}/46elks/other?token={ELKS_TOKEN}"),
        ("POST", f"{BASE}?token={ELKS_TOKEN}"),
    ],
)
async def test_wrong_method_or_path_is_refused(make_channel: MakeChannel, method: str, url: str) -> None:
    with pytest.raises(InboundError):
        make_channel(elks()).parse_inbound(method, url, FORM, elks_in("12"))


async def test_webhook_urls_for_the_operator(make_channel: MakeChannel) -> None:
    channel = make_channel(elks(), twilio(), sinch())
    assert channel.webhook_url("46elks", "inbound") == ELKS_IN
    assert channel.webhook_url("twilio", "inbound") == TWILIO_IN
    assert channel.webhook_url("sinch", "status") == f"{BASE}/sinch/status?token={SINCH_TOKEN}"
