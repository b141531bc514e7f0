"""Sending: each provider's exact request, its documented answers, and the failover rules."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
import pytest
import respx

from hothat.channels import ReceiptStatus
from hothat.errors import AmbiguousDeliveryError, PermanentDeliveryError, RetryableDeliveryError

from .conftest import (
    BASE,
    ELKS_TOKEN,
    KEY,
    RECIPIENT,
    TEXT,
    TWILIO_SID,
    TWILIO_TOKEN,
    MakeChannel,
    elks,
    message,
    sinch,
    twilio,
)

ELKS_URL = "https://api.46elks.com/a1/sms"
TWILIO_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
SINCH_URL = "https://eu.sms.api.sinch.com/xms/v1/plan1234abcd/batches"
REF = quote(KEY, safe="")
ELKS_STATUS = f"{BASE}/46elks/status?token={ELKS_TOKEN}&ref={REF}"
TWILIO_STATUS = f"{BASE}/twilio/status?ref={REF}"

ELKS_OK = {
    "status": "created",
    "direction": "outgoing",
    "from": "+46766861004",
    "to": RECIPIENT,
    "created": "2026-03-02T08:14:07.311000",
    "parts": 1,
    "cost": 3500,
    "message": TEXT,
    "id": "s70df59406a1b4643b96f3f91e0bfb7b0",
}
TWILIO_OK = {
    "sid": "SM" + "f" * 32,
    "status": "queued",
    "num_segments": "1",
    "to": RECIPIENT,
    "body": TEXT,
    "error_code": None,
    "price": None,
}
SINCH_OK = {
    "id": "01FC66621XXXXX119Z8PMV1QPQ",
    "to": ["46701740605"],
    "from": "+46766861006",
    "canceled": False,
    "body": TEXT,
    "type": "mt_text",
    "delivery_report": "per_recipient_final",
}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def twilio_error(status: int, code: int) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "code": code,
            "message": "...",
            "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
        },
    )


def form(request: httpx.Request) -> list[tuple[str, str]]:
    return parse_qsl(request.content.decode("ascii"), keep_blank_values=True, strict_parsing=True)


# ----------------------------------------------------------------------------------------------------------
# The exact requests
# ----------------------------------------------------------------------------------------------------------


async def test_46elks_request_is_pinned(respx_mock: respx.MockRouter, make_channel: MakeChannel) -> None:
    route = respx_mock.post(ELKS_URL).mock(return_value=httpx.Response(200, json=ELKS_OK))
    receipt = await make_channel(elks()).deliver(message())

    request = route.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == ELKS_URL
    assert request.headers["authorization"] == basic("u1234", "elks-pw")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["accept"] == "application/json"
    assert form(request) == [
        ("from", "+46766861004"),
        ("to", RECIPIENT),
        ("message", TEXT),
        ("whendelivered", ELKS_STATUS),
    ]
    assert b"Oxel%C3%B6sunds" in request.content  # UTF-8 on the wire, as 46elks expects
    assert receipt.status is ReceiptStatus.ACCEPTED
    assert receipt.provider_id == "s70df59406a1b4643b96f3f91e0bfb7b0"
    assert (receipt.channel, receipt.address, receipt.segments, receipt.encoding) == (
        "sms",
        RECIPIENT,
        1,
        "GSM-7",
    )
    assert receipt.raw == {
        "provider": "46elks",
        "id": "s70df59406a1b4643b96f3f91e0bfb7b0",
        "status": "created",
        "parts": 1,
        "cost": 3500,
    }


async def test_46elks_dryrun_and_no_callbacks(respx_mock: respx.MockRouter, make_channel: MakeChannel) -> None:
    answer = {k: v for k, v in ELKS_OK.items() if k not in ("id", "cost")} | {"estimated_cost": 3500}
    route = respx_mock.post(ELKS_URL).mock(return_value=httpx.Response(200, json=answer))
    receipt = await make_channel(elks(dryrun=True), public_base_url=None).deliver(message())

    assert form(route.calls.last.request) == [
        ("from", "+46766861004"),
        ("to", RECIPIENT),
        ("message", TEXT),
        ("dryrun", "yes"),
    ]
    assert receipt.provider_id is None
    assert receipt.raw == {
        "provider": "46elks",
        "status": "created",
        "parts": 1,
        "estimated_cost": 3500,
        "dryrun": True,
    }


async def test_twilio_request_is_pinned(respx_mock: respx.MockRouter, make_channel: MakeChannel) -> None:
    route = respx_mock.post(TWILIO_URL).mock(return_value=httpx.Response(201, json=TWILIO_OK))
    receipt = await make_channel(twilio()).deliver(message())

    request = route.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == TWILIO_URL
    assert request.headers["authorization"] == basic(TWILIO_SID, TWILIO_TOKEN)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form(request) == [
        ("To", RECIPIENT),
        ("From", "+46766861005"),
        ("Body", TEXT),
        ("StatusCallback", TWILIO_STATUS),
    ]
    assert b"Oxel%C3%B6sunds" in request.content
    assert receipt.provider_id == TWILIO_OK["sid"]
    assert receipt.raw == {
        "provider": "twilio",
        "sid": TWILIO_OK["sid"],
        "status": "queued",
        "num_segments": "1",
    }


async def test_twilio_messaging_service(respx_mock: respx.MockRouter, make_channel: MakeChannel) -> None:
    route = respx_mock.post(TWILIO_URL).mock(return_value=httpx.Response(201, json=TWILIO_OK))
    service = "MG" + "0" * 32
    await make_channel(twilio(sender=None, messaging_service_sid=service), public_base_url=None).deliver(message())

    assert form(route.calls.last.request) == [
        ("To", RECIPIENT),
        ("MessagingServiceSid", service),
        ("Body", TEXT),
    ]


async def test_sinch_request_is_pinned(respx_mock: respx.MockRouter, make_channel: MakeChannel) -> None:
    route = respx_mock.post(SINCH_URL).mock(return_value=httpx.Response(201, json=SINCH_OK))
    receipt = await make_channel(sinch()).deliver(message())

    request = route.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == SINCH_URL
    assert request.headers["authorization"] == "Bearer sinch-api-token"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "from": "+46766861006",
        "to": [RECIPIENT],
        "body": TEXT,
        "client_reference": KEY,
        "delivery_report": "per_recipient_final",
        "callback_url": f"{BASE}/sinch/status?token=sinch-webhook-token-0123456789&ref={REF}",
    }
    assert "Oxelösunds".encode() in request.content  # UTF-8 JSON, not \\u escapes
    assert receipt.provider_id == SINCH_OK["id"]
    assert receipt.raw == {
        "provider": "sinch",
        "id": SINCH_OK["id"],
        "canceled": False,
        "delivery_report": "per_recipient_final",
    }


async def test_sinch_without_callbacks_asks_for_no_report(
    respx_mock: respx.MockRouter, make_channel: MakeChannel
) -> None:
    route = respx_mock.post("https://us.sms.api.sinch.com/xms/v1/plan1234abcd/batches").mock(
        return_value=httpx.Response(201, json=SINCH_OK)
    )
    await make_channel(sinch(region="us"), public_base_url=None).deliver(message())

    assert json.loads(route.calls.last.request.content) == {
        "from": "+46766861006",
        "to": [RECIPIENT],
        "body": TEXT,
        "client_reference": KEY,
        "delivery_report": "none",
    }


async def test_receipt_reports_ucs2_segments(respx_mock: respx.MockRouter, make_channel: MakeChannel) -> None:
    respx_mock.post(ELKS_URL).mock(return_value=httpx.Response(200, json=ELKS_OK))
    # One character outside GSM-7 (an emoji) puts 71 characters in two 67-unit segments.
    receipt = await make_channel(elks()).deliver(message(text="🙂" + "a" * 70))

    assert (receipt.encoding, receipt.segments) == ("UCS-2", 2)


# ----------------------------------------------------------------------------------------------------------
# Each provider's documented refusals
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "url", "answer", "expected", "words"),
    [
        (elks(), ELKS_URL, httpx.Response(401, text="Unauthorized"), PermanentDeliveryError, "HTTP 401"),
        (
            elks(),
            ELKS_URL,
            httpx.Response(403, text="Not enough credits"),
            PermanentDeliveryError,
            "out of credit",
        ),
        (elks(), ELKS_URL, httpx.Response(400, text="Invalid from"), PermanentDeliveryError, "HTTP 400"),
        (elks(), ELKS_URL, httpx.Response(503), RetryableDeliveryError, "HTTP 503"),
        (twilio(), TWILIO_URL, twilio_error(401, 20003), PermanentDeliveryError, "Twilio 20003"),
        (twilio(), TWILIO_URL, twilio_error(400, 21606), PermanentDeliveryError, "Twilio 21606"),
        (twilio(), TWILIO_URL, twilio_error(500, 20500), RetryableDeliveryError, "Twilio 20500"),
        (
            sinch(),
            SINCH_URL,
            httpx.Response(401, json={"code": "unauthorized", "text": "x"}),
            PermanentDeliveryError,
            "Sinch unauthorized",
        ),
        (
            sinch(),
            SINCH_URL,
            httpx.Response(403, json={"code": "blocked_account", "text": "x"}),
            PermanentDeliveryError,
            "Sinch blocked_account",
        ),
        (sinch(), SINCH_URL, httpx.Response(502), RetryableDeliveryError, "HTTP 502"),
    ],
)
async def test_provider_refusals(
    respx_mock: respx.MockRouter,
    make_channel: MakeChannel,
    table: dict[str, Any],
    url: str,
    answer: httpx.Response,
    expected: type[Exception],
    words: str,
) -> None:
    respx_mock.post(url).mock(return_value=answer)
    with pytest.raises(expected, match=words) as caught:
        await make_channel(table).deliver(message())
    assert caught.value.address == "+4670*****05"  # type: ignore[attr-defined]
    assert RECIPIENT not in str(caught.value)


@pytest.mark.parametrize("code", [21211, 21610, 21614, 21635])
async def test_twilio_recipient_errors_are_permanent_and_never_fail_over(
    respx_mock: respx.MockRouter, make_channel: MakeChannel, code: int
) -> None:
    twilio_route = respx_mock.post(TWILIO_URL).mock(return_value=twilio_error(400, code))
    elks_route = respx_mock.post(ELKS_URL).mock(return_value=httpx.Response(200, json=ELKS_OK))

    with pytest.raises(PermanentDeliveryError, match=f"Twilio {code}"):
        await make_channel(twilio(), elks()).deliver(message())
    assert twilio_route.call_count == 1
    assert not elks_route.called


async def test_sinch_illegal_number_type_never_fails_over(
    respx_mock: respx.MockRouter, make_channel: MakeChannel
) -> None:
    respx_mock.post(SINCH_URL).mock(
        return_value=httpx.Response(403, json={"code": "illegal_number_type", "text": "Illegal number type"})
    )
    elks_route = respx_mock.post(ELKS_URL).mock(return_value=httpx.Response(200, json=ELKS_OK))

    with pytest.raises(PermanentDeliveryError, match="illegal_number_type"):
        await make_channel(sinch(), elks()).deliver(message())
    assert not elks_route.called


async def test_twilio_20429_is_retried_later_with_retry_after(
    respx_mock: respx.MockRouter, make_channel: MakeChannel
) -> None:
    answer = twilio_error(429, 20429)
    answer.headers["Retry-After"] = "30"
    route = respx_mock.post(TWILIO_URL).mock(return_value=answer)

    with pytest.raises(RetryableDeliveryError, match="20429") as caught:
        await make_channel(twilio()).deliver(message())
    assert caught.value.retry_after == 30.0
    assert route.call_count == 1  # a rate limit is not hammered


async def test_http_date_retry_after(respx_mock: respx.MockRouter, make_channel: MakeChannel) -> None:
    respx_mock.post(ELKS_URL).mock(
        return_value=httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    )
    with pytest.raises(RetryableDeliveryError) as caught:
        await make_channel(elks()).deliver(message())
    assert caught.value.retry_after == 0.0  # a date in the past: retry now


# ----------------------------------------------------------------------------------------------------------
# Failover
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "elks_answer",
    [
        httpx.Response(401, text="Unauthorized"),
        httpx.Response(403, text="Not enough credits"),
        httpx.Response(400, text="Bad from"),
        httpx.Response(429),
    ],
    ids=["bad-credentials", "out-of-credit", "refused-request", "rate-limited"],
)
async def test_provider_level_failure_moves_to_the_next_provider(
    respx_mock: respx.MockRouter, make_channel: MakeChannel, elks_answer: httpx.Response
) -> None:
    elks_route = respx_mock.post(ELKS_URL).mock(return_value=elks_answer)
    twilio_route = respx_mock.post(TWILIO_URL).mock(return_value=httpx.Response(201, json=TWILIO_OK))

    receipt = await make_channel(elks(), twilio()).deliver(message())

    assert receipt.raw["provider"] == "twilio"
    assert (elks_route.call_count, twilio_route.call_count) == (1, 1)


async def test_repeated_5xx_fails_over_after_the_configured_tries(
    respx_mock: respx.MockRouter, make_channel: MakeChannel
) -> None:
    elks_route = respx_mock.post(ELKS_URL).mock(return_value=httpx.Response(502))
    sinch_route = respx_mock.post(SINCH_URL).mock(return_value=httpx.Response(201, json=SINCH_OK))

    receipt = await make_channel(elks(), sinch(), attempts_per_provider=3).deliver(message())

    assert receipt.raw["provider"] == "sinch"
    assert (elks_route.call_count, sinch_route.call_count) == (3, 1)


async def test_one_5xx_is_retried_on_the_same_provider(respx_mock: respx.MockRouter, make_channel: MakeChannel) -> None:
    elks_route = respx_mock.post(ELKS_URL).mock(side_effect=[httpx.Response(500), httpx.Response(200, json=ELKS_OK)])
    twilio_route = respx_mock.post(TWILIO_URL)

    receipt = await make_channel(elks(), twilio()).deliver(message())

    assert receipt.raw["provider"] == "46elks"
    assert elks_route.call_count == 2
    assert not twilio_route.called


async def test_connect_failure_is_retried_then_fails_over(
    respx_mock: respx.MockRouter, make_channel: MakeChannel
) -> None:
    elks_route = respx_mock.post(ELKS_URL).mock(side_effect=httpx.ConnectError("refused"))
    twilio_route = respx_mock.post(TWILIO_URL).mock(return_value=httpx.Response(201, json=TWILIO_OK))

    receipt = await make_channel(elks(), twilio()).deliver(message())

    assert receipt.raw["provider"] == "twilio"
    assert (elks_route.call_count, twilio_route.call_count) == (2, 1)


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("slow"),
        httpx.WriteTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
        httpx.ReadError("reset"),
    ],
    ids=["read-timeout", "write-timeout", "dropped", "reset"],
)
async def test_no_answer_after_sending_is_ambiguous_and_never_fails_over(
    respx_mock: respx.MockRouter, make_channel: MakeChannel, error: Exception
) -> None:
    elks_route = respx_mock.post(ELKS_URL).mock(side_effect=error)
    twilio_route = respx_mock.post(TWILIO_URL).mock(return_value=httpx.Response(201, json=TWILIO_OK))

    with pytest.raises(AmbiguousDeliveryError, match="may have been sent"):
        await make_channel(elks(), twilio()).deliver(message())
    assert elks_route.call_count == 1
    assert not twilio_route.called


async def test_every_provider_transient_is_retryable(respx_mock: respx.MockRouter, make_channel: MakeChannel) -> None:
    respx_mock.post(ELKS_URL).mock(return_value=httpx.Response(401))
    respx_mock.post(TWILIO_URL).mock(return_value=httpx.Response(503))
    respx_mock.post(SINCH_URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "12"}))

    with pytest.raises(RetryableDeliveryError) as caught:
        await make_channel(elks(), twilio(), sinch()).deliver(message())
    assert caught.value.retry_after == 12.0
    assert str(caught.value) == (
        "no SMS provider took the message: 46elks: credentials or account refused (HTTP 401); "
        "twilio: server error (HTTP 503); sinch: rate limited (HTTP 429)"
    )


async def test_every_provider_refusing_us_is_permanent(respx_mock: respx.MockRouter, make_channel: MakeChannel) -> None:
    respx_mock.post(ELKS_URL).mock(return_value=httpx.Response(403, text="Not enough credits"))
    respx_mock.post(TWILIO_URL).mock(return_value=twilio_error(401, 20003))

    with pytest.raises(PermanentDeliveryError, match=r"46elks: account refused.*twilio: Twilio 20003"):
        await make_channel(elks(), twilio()).deliver(message())


async def test_two_accounts_of_one_provider(respx_mock: respx.MockRouter, make_channel: MakeChannel) -> None:
    first = respx_mock.post(ELKS_URL, headers={"authorization": basic("u1234", "elks-pw")}).mock(
        return_value=httpx.Response(403, text="Not enough credits")
    )
    second = respx_mock.post(ELKS_URL, headers={"authorization": basic("u9999", "other-pw")}).mock(
        return_value=httpx.Response(200, json=ELKS_OK)
    )
    channel = make_channel(elks(id="main"), elks(id="reserve", username="u9999", password="other-pw"))

    receipt = await channel.deliver(message())

    assert receipt.raw["provider"] == "reserve"
    assert first.called
    assert second.called
    assert dict(form(second.calls.last.request))["whendelivered"].startswith(f"{BASE}/reserve/status?")


# ----------------------------------------------------------------------------------------------------------
# The number is checked before any request
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("+4687314619", "a landline, which cannot take SMS"),
        ("+46101234567", r"a nationwide \(010\) number"),
        ("+4676822122", "not a valid phone number"),
        ("0701740605", "not an E.164 phone number"),
        ("per@oxelosund.example", "not an E.164 phone number"),
    ],
)
async def test_numbers_that_cannot_take_sms_are_refused_without_a_request(
    respx_mock: respx.MockRouter, make_channel: MakeChannel, address: str, words: str
) -> None:
    route = respx_mock.post(ELKS_URL)
    with pytest.raises(PermanentDeliveryError, match=words):
        await make_channel(elks()).deliver(message(address=address))
    assert not route.called


async def test_46elks_free_test_number_is_allowed(respx_mock: respx.MockRouter, make_channel: MakeChannel) -> None:
    route = respx_mock.post(ELKS_URL).mock(return_value=httpx.Response(200, json=ELKS_OK))
    await make_channel(elks()).deliver(message(address="+4670000000"))
    assert dict(form(route.calls.last.request))["to"] == "+4670000000"


async def test_number_check_can_be_turned_off(respx_mock: respx.MockRouter, make_channel: MakeChannel) -> None:
    route = respx_mock.post(ELKS_URL).mock(return_value=httpx.Response(200, json=ELKS_OK))
    await make_channel(elks(), validate_numbers=False).deliver(message(address="+4687314619"))
    assert route.called


async def test_logs_name_no_number_text_or_secret(
    respx_mock: respx.MockRouter, make_channel: MakeChannel, caplog: pytest.LogCaptureFixture
) -> None:
    respx_mock.post(ELKS_URL).mock(return_value=httpx.Response(401))
    respx_mock.post(TWILIO_URL).mock(side_effect=httpx.ReadTimeout("slow"))
    caplog.set_level("DEBUG")

    with pytest.raises(AmbiguousDeliveryError):
        await make_channel(elks(), twilio()).deliver(message())

    logged = caplog.text
    assert "46elks" in logged
    assert "+4670*****05" in logged
    for secret in (RECIPIENT, "Oxelösunds", "elks-pw", TWILIO_TOKEN, ELKS_TOKEN):
        assert secret not in logged
