"""Placing calls: each provider's exact request, its documented answers, failover, and the limits."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
import pytest
import respx

from hothat.channels import Disclosure, ReceiptStatus
from hothat.errors import AmbiguousDeliveryError, PermanentDeliveryError, RetryableDeliveryError

from .conftest import (
    BASE,
    ELKS_TOKEN,
    KEY,
    MEDIA,
    PROMPTS,
    RECIPIENT,
    SINCH_KEY,
    SINCH_SECRET,
    TEXT,
    TWILIO_SID,
    TWILIO_TOKEN,
    MakeChannel,
    basic,
    elks,
    message,
    sinch,
    twilio,
)

TWILIO_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Calls.json"
ELKS_URL = "https://api.46elks.com/a1/calls"
SINCH_URL = "https://calling-euc1.api.sinch.com/calling/v1/callouts"
QUERY = f"k={quote(KEY, safe='')}&a=1&l=sv&p=notify.minimal&n=0"
TWILIO_OK = {"sid": "CA" + "f" * 32, "status": "queued", "to": RECIPIENT, "direction": "outbound-api"}
ELKS_OK = {"id": "c" + "e" * 32, "state": "ongoing", "direction": "outgoing", "from": "+46766861004", "to": RECIPIENT}
SINCH_OK = {"callId": "9d2b1c7e-5a6f-4e3b-8c1d-2f0a9b8e7d6c"}


def mac(event: str, query: str) -> str:
    """The 46elks callback URL's HMAC, computed here independently of the channel."""
    lines = "\n".join(["hothat-voice-v1", "46elks", event, *sorted(f"{k}={v}" for k, v in parse_qsl(query))])
    digest = hmac.new(ELKS_TOKEN.encode(), lines.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sinch_auth(body: bytes, timestamp: str) -> str:
    """Sinch's application signature, computed here from the documented recipe."""
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    to_sign = f"POST\n{md5}\napplication/json\nx-timestamp:{timestamp}\n/calling/v1/callouts"
    digest = hmac.new(base64.b64decode(SINCH_SECRET), to_sign.encode(), hashlib.sha256).digest()
    return f"Application {SINCH_KEY}:{base64.b64encode(digest).decode()}"


def form(request: httpx.Request) -> dict[str, str]:
    pairs = parse_qsl(request.content.decode(), keep_blank_values=True)
    assert len(pairs) == len(dict(pairs)), "no field is sent twice"
    return dict(pairs)


def twilio_error(status: int, code: int, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"code": code, "message": "...", "status": status, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
    return httpx.Response(status, json=body, headers=headers)


# -- the exact requests ------------------------------------------------------------------------------------


@respx.mock
async def test_twilio_places_the_call_with_inline_twiml_a_status_callback_and_machine_detection(
    make_channel: MakeChannel,
) -> None:
    route = respx.post(TWILIO_URL).mock(return_value=httpx.Response(201, json=TWILIO_OK))

    receipt = await make_channel(twilio()).deliver(message())

    request = route.calls.last.request
    assert request.method == "POST"
    assert request.headers["Authorization"] == basic(TWILIO_SID, TWILIO_TOKEN)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    gather = (
        f'<Gather input="dtmf" numDigits="1" timeout="8" action="{BASE}/twilio/gather?{QUERY.replace("&", "&amp;")}" '
        f'method="POST"><Say voice="Polly.Astrid" language="sv-SE">{TEXT}</Say></Gather>'
    )
    assert form(request) == {
        "To": RECIPIENT,
        "From": "+46766861005",
        "Twiml": (
            '<?xml version="1.0" encoding="UTF-8"?><Response>'
            + gather * 2
            + f'<Redirect method="POST">{BASE}/twilio/nokey?{QUERY.replace("&", "&amp;")}</Redirect></Response>'
        ),
        "StatusCallback": f"{BASE}/twilio/status?{QUERY}",
        "StatusCallbackEvent": "completed",
        "StatusCallbackMethod": "POST",
        "Timeout": "30",
        "TimeLimit": "300",
        "MachineDetection": "Enable",
    }
    assert (receipt.channel, receipt.address, receipt.status) == ("voice", RECIPIENT, ReceiptStatus.ACCEPTED)
    assert receipt.provider_id == TWILIO_OK["sid"]
    assert receipt.raw == {"provider": "twilio", "sid": TWILIO_OK["sid"], "status": "queued"}


@respx.mock
async def test_twilio_speaks_english_to_an_english_speaker(make_channel: MakeChannel) -> None:
    route = respx.post(TWILIO_URL).mock(return_value=httpx.Response(201, json=TWILIO_OK))

    await make_channel(twilio(machine_detection=False)).deliver(message(locale="en", text="This is <urgent> & new."))

    sent = form(route.calls.last.request)
    assert '<Say voice="Polly.Amy" language="en-GB">This is &lt;urgent&gt; &amp; new.</Say>' in sent["Twiml"]
    assert "l=en" in sent["StatusCallback"]
    assert "MachineDetection" not in sent


@respx.mock
async def test_46elks_places_the_call_with_an_ivr_of_the_prompt_recording(make_channel: MakeChannel) -> None:
    route = respx.post(ELKS_URL).mock(return_value=httpx.Response(200, json=ELKS_OK))

    receipt = await make_channel(elks()).deliver(message())

    request = route.calls.last.request
    assert request.headers["Authorization"] == basic("u1234", "elks-pw")
    sent = form(request)
    assert json.loads(sent.pop("voice_start")) == {
        "ivr": f"{MEDIA}/sv/notify.minimal.mp3",
        "digits": 1,
        "timeout": 8,
        "repeat": 2,
        "next": f"{BASE}/46elks/ivr?{QUERY}&s={mac('ivr', QUERY)}",
    }
    assert sent == {
        "from": "+46766861004",
        "to": RECIPIENT,
        "whenhangup": f"{BASE}/46elks/hangup?{QUERY}&s={mac('hangup', QUERY)}",
        "timeout": "30",
    }
    assert receipt.provider_id == ELKS_OK["id"]
    assert receipt.raw == {"provider": "46elks", "id": ELKS_OK["id"], "state": "ongoing"}


@pytest.mark.parametrize(
    ("prompts", "locale", "disclosure", "played"),
    [
        ({}, "sv", Disclosure.STANDARD, "sv/notify.minimal"),  # less detail stands in for more
        ({"notify.standard": f"{MEDIA}/sv/notify.standard.mp3"}, "sv", Disclosure.STANDARD, "sv/notify.standard"),
        ({}, "en", Disclosure.MINIMAL, "sv/notify.minimal"),  # no English recording: the Swedish one
        ({"en:notify.minimal": f"{MEDIA}/en/notify.minimal.mp3"}, "en", Disclosure.MINIMAL, "en/notify.minimal"),
    ],
)
@respx.mock
async def test_46elks_plays_the_closest_safe_recording(
    make_channel: MakeChannel, prompts: dict[str, str], locale: str, disclosure: Disclosure, played: str
) -> None:
    route = respx.post(ELKS_URL).mock(return_value=httpx.Response(200, json=ELKS_OK))
    prompt = f"notify.{disclosure}"

    await make_channel(elks(prompts={**PROMPTS, **prompts})).deliver(
        message(locale=locale, disclosure=disclosure, prompt=prompt)
    )

    assert json.loads(form(route.calls.last.request)["voice_start"])["ivr"] == f"{MEDIA}/{played}.mp3"


@respx.mock
async def test_sinch_places_a_signed_custom_callout_with_a_menu_callback_and_machine_detection(
    make_channel: MakeChannel,
) -> None:
    route = respx.post(SINCH_URL).mock(return_value=httpx.Response(200, json=SINCH_OK))

    receipt = await make_channel(sinch()).deliver(message())

    request = route.calls.last.request
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == sinch_auth(request.content, request.headers["x-timestamp"])
    body = json.loads(request.content)
    connect = json.loads(body["customCallout"].pop("ice"))
    assert connect == {
        "action": {
            "name": "connectPstn",
            "number": RECIPIENT,
            "cli": "+46766861006",
            "maxDuration": 300,
            "dialTimeout": 30,
            "locale": "sv-SE",
            "amd": {"enabled": True},
        }
    }
    assert body == {
        "method": "customCallout",
        "customCallout": {
            "ace": f"{BASE}/sinch/callback",
            "pie": f"{BASE}/sinch/callback",
            "custom": QUERY,
            "maxDuration": 300,
        },
    }
    assert receipt.provider_id == SINCH_OK["callId"]


@respx.mock
async def test_sinch_can_use_basic_auth_and_another_region(make_channel: MakeChannel) -> None:
    route = respx.post("https://calling.api.sinch.com/calling/v1/callouts").mock(
        return_value=httpx.Response(200, json=SINCH_OK)
    )

    await make_channel(sinch(auth="basic", region="global", machine_detection=False)).deliver(message())

    request = route.calls.last.request
    assert request.headers["Authorization"] == basic(SINCH_KEY, SINCH_SECRET)
    assert "x-timestamp" not in request.headers
    assert "amd" not in json.loads(json.loads(request.content)["customCallout"]["ice"])["action"]


# -- what the providers' answers mean ----------------------------------------------------------------------


@pytest.mark.parametrize("code", [21211, 21214, 21217, 13224])
@respx.mock
async def test_a_number_twilio_cannot_call_is_refused_without_trying_the_next_provider(
    make_channel: MakeChannel, code: int
) -> None:
    respx.post(TWILIO_URL).mock(return_value=twilio_error(400, code))
    fallback = respx.post(ELKS_URL).mock(return_value=httpx.Response(200, json=ELKS_OK))

    with pytest.raises(PermanentDeliveryError, match=f"Twilio {code}") as caught:
        await make_channel(twilio(), elks()).deliver(message())

    assert not fallback.called
    assert RECIPIENT not in str(caught.value)
    assert caught.value.address == "+4670*****20"


@respx.mock
async def test_twilio_rate_limit_is_retryable_with_the_providers_retry_after(make_channel: MakeChannel) -> None:
    respx.post(TWILIO_URL).mock(return_value=twilio_error(429, 20429, {"Retry-After": "42"}))

    with pytest.raises(RetryableDeliveryError) as caught:
        await make_channel(twilio()).deliver(message())

    assert caught.value.retry_after == 42


@pytest.mark.parametrize(
    ("first", "answer"),
    [
        ("twilio", twilio_error(401, 20003)),
        ("46elks", httpx.Response(403, text="Not enough credits")),
        ("sinch", httpx.Response(401, json={"errorCode": "40100", "message": "Invalid authorization"})),
        ("sinch", httpx.Response(402, json={"errorCode": "40200", "message": "Payment required"})),
    ],
)
@respx.mock
async def test_a_provider_refusing_us_fails_over_to_the_next(
    make_channel: MakeChannel, first: str, answer: httpx.Response
) -> None:
    urls = {"twilio": TWILIO_URL, "46elks": ELKS_URL, "sinch": SINCH_URL}
    tables = {"twilio": twilio(), "46elks": elks(), "sinch": sinch()}
    refused = respx.post(urls[first]).mock(return_value=answer)
    second = "twilio" if first != "twilio" else "46elks"
    ok = {"twilio": httpx.Response(201, json=TWILIO_OK), "46elks": httpx.Response(200, json=ELKS_OK)}[second]
    taken = respx.post(urls[second]).mock(return_value=ok)

    receipt = await make_channel(tables[first], tables[second]).deliver(message())

    assert refused.call_count == 1  # a refusal is not retried
    assert taken.called
    assert receipt.raw["provider"] == second


@respx.mock
async def test_server_errors_are_retried_then_the_next_provider_takes_the_call(make_channel: MakeChannel) -> None:
    failing = respx.post(TWILIO_URL).mock(return_value=httpx.Response(503))
    taken = respx.post(ELKS_URL).mock(return_value=httpx.Response(200, json=ELKS_OK))

    receipt = await make_channel(twilio(), elks(), attempts_per_provider=3).deliver(message())

    assert failing.call_count == 3
    assert taken.call_count == 1
    assert receipt.raw["provider"] == "46elks"


@respx.mock
async def test_connect_errors_everywhere_are_retryable(make_channel: MakeChannel) -> None:
    respx.post(TWILIO_URL).mock(side_effect=httpx.ConnectError("refused"))
    respx.post(SINCH_URL).mock(return_value=httpx.Response(500))

    with pytest.raises(RetryableDeliveryError, match=r"twilio: could not connect.*sinch: server error"):
        await make_channel(twilio(), sinch()).deliver(message())


@respx.mock
async def test_no_answer_after_sending_is_ambiguous_and_no_other_provider_dials(make_channel: MakeChannel) -> None:
    respx.post(TWILIO_URL).mock(side_effect=httpx.ReadTimeout("slow"))
    other = respx.post(ELKS_URL).mock(return_value=httpx.Response(200, json=ELKS_OK))

    with pytest.raises(AmbiguousDeliveryError, match="may have been placed"):
        await make_channel(twilio(), elks()).deliver(message())

    assert not other.called


@respx.mock
async def test_a_message_too_long_for_inline_twiml_goes_to_the_next_provider(make_channel: MakeChannel) -> None:
    never = respx.post(TWILIO_URL).mock(return_value=httpx.Response(201, json=TWILIO_OK))
    taken = respx.post(ELKS_URL).mock(return_value=httpx.Response(200, json=ELKS_OK))

    receipt = await make_channel(twilio(), elks()).deliver(message(text="Mycket text. " * 400))

    assert not never.called
    assert taken.call_count == 1
    assert receipt.raw["provider"] == "46elks"


@respx.mock
async def test_a_long_message_is_played_fewer_times_to_fit_twilio(make_channel: MakeChannel) -> None:
    route = respx.post(TWILIO_URL).mock(return_value=httpx.Response(201, json=TWILIO_OK))

    await make_channel(twilio(), plays=2).deliver(message(text="Ord " * 600))  # 2400 characters

    twiml = form(route.calls.last.request)["Twiml"]
    assert twiml.count("<Gather") == 1
    assert len(twiml) <= 4000


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("0701740620", "not an E.164 phone number"),
        ("+4670174062", "not a valid phone number"),
        ("+46900123456", "premium-rate"),
    ],
)
@respx.mock
async def test_a_number_nobody_can_call_is_refused_before_any_request(
    make_channel: MakeChannel, address: str, reason: str
) -> None:
    route = respx.post(TWILIO_URL).mock(return_value=httpx.Response(201, json=TWILIO_OK))

    with pytest.raises(PermanentDeliveryError, match=reason):
        await make_channel(twilio()).deliver(message(address=address))

    assert not route.called


@respx.mock
async def test_a_landline_can_be_called(make_channel: MakeChannel) -> None:
    route = respx.post(TWILIO_URL).mock(return_value=httpx.Response(201, json=TWILIO_OK))

    await make_channel(twilio()).deliver(message(address="+46846500411"))  # a desk phone, 08-465 004 11

    assert form(route.calls.last.request)["To"] == "+46846500411"


# -- limits ------------------------------------------------------------------------------------------------


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@respx.mock
async def test_at_most_n_calls_per_number_per_window(make_channel: MakeChannel) -> None:
    route = respx.post(TWILIO_URL).mock(return_value=httpx.Response(201, json=TWILIO_OK))
    clock = Clock()
    channel = make_channel(twilio(), clock=clock, calls_per_number=3, rate_window="15m", min_gap="0s")

    for minute in (0, 1, 2):
        clock.now = 1000 + minute * 60
        await channel.deliver(message(key=f"k{minute}"))
    clock.now = 1000 + 5 * 60
    with pytest.raises(RetryableDeliveryError, match="called 3 time") as caught:
        await channel.deliver(message(key="k5"))
    other = await channel.deliver(message(key="k5b", address="+46701740621"))  # another number is not affected

    assert caught.value.retry_after == pytest.approx(10 * 60)  # the first call leaves the window at 15m
    assert other.provider_id is not None
    assert route.call_count == 4
    clock.now = 1000 + 15 * 60
    await channel.deliver(message(key="k15"))
    assert route.call_count == 5


@respx.mock
async def test_calls_to_one_number_keep_a_minimum_gap(make_channel: MakeChannel) -> None:
    respx.post(TWILIO_URL).mock(return_value=httpx.Response(201, json=TWILIO_OK))
    clock = Clock()
    channel = make_channel(twilio(), clock=clock, min_gap="60s")

    await channel.deliver(message(key="step-3.1.1"))
    clock.now += 10
    with pytest.raises(RetryableDeliveryError) as caught:  # step 3.2.1 calls the same person at once
        await channel.deliver(message(key="step-3.2.1"))

    assert caught.value.retry_after == pytest.approx(50)


@respx.mock
async def test_a_call_no_provider_placed_does_not_count_but_a_possibly_placed_one_does(
    make_channel: MakeChannel,
) -> None:
    route = respx.post(TWILIO_URL)
    channel = make_channel(twilio(), clock=Clock(), calls_per_number=1, min_gap="0s")

    route.mock(return_value=twilio_error(401, 20003))
    with pytest.raises(PermanentDeliveryError):
        await channel.deliver(message(key="a"))
    route.mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(AmbiguousDeliveryError):
        await channel.deliver(message(key="b"))
    route.mock(return_value=httpx.Response(201, json=TWILIO_OK))
    with pytest.raises(RetryableDeliveryError):
        await channel.deliver(message(key="c"))


@respx.mock
async def test_calls_through_one_account_are_placed_at_most_n_at_a_time(make_channel: MakeChannel) -> None:
    in_flight, peak = 0, 0
    full, release = asyncio.Event(), asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight == 2:
            full.set()
        await release.wait()
        in_flight -= 1
        return httpx.Response(201, json=TWILIO_OK)

    respx.post(TWILIO_URL).mock(side_effect=slow)
    channel = make_channel(twilio(max_concurrent_calls=2))
    numbers = [f"+467017406{n:02d}" for n in range(20, 26)]
    calls = [asyncio.create_task(channel.deliver(message(key=n, address=n))) for n in numbers]
    await asyncio.wait_for(full.wait(), timeout=5)  # two calls are at the provider, four wait their turn
    release.set()
    receipts = await asyncio.gather(*calls)

    assert peak == 2
    assert len(receipts) == 6


@respx.mock
async def test_a_call_waiting_too_long_for_a_free_slot_tries_the_next_provider(make_channel: MakeChannel) -> None:
    holding, release = asyncio.Event(), asyncio.Event()

    async def stuck(request: httpx.Request) -> httpx.Response:
        holding.set()
        await release.wait()
        return httpx.Response(201, json=TWILIO_OK)

    respx.post(TWILIO_URL).mock(side_effect=stuck)
    taken = respx.post(ELKS_URL).mock(return_value=httpx.Response(200, json=ELKS_OK))
    timeout: dict[str, Any] = {"connect": 5, "read": 15, "write": 10, "pool": 0.05}
    channel = make_channel(twilio(max_concurrent_calls=1), elks(), timeout=timeout)
    first = asyncio.create_task(channel.deliver(message(key="a")))
    await asyncio.wait_for(holding.wait(), timeout=5)  # the account's only slot is taken

    receipt = await channel.deliver(message(key="b", address="+46701740621"))
    release.set()
    await first

    assert receipt.raw["provider"] == "46elks"
    assert taken.call_count == 1
