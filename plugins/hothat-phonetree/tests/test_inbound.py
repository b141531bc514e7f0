"""Callbacks one by one: authenticity (signatures, MACs, timestamps, replays) and the exact answers."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote

import httpx
import pytest
import respx

from hothat.channels import DeliveryStatus, InboundKind
from hothat.errors import ConfigurationError, InboundError
from hothat_phonetree import VoiceChannel, sinch_application_signature
from hothat_phonetree._base import CallScript
from hothat_phonetree._sinch import SinchProvider, tts_prompt
from hothat_phonetree.testing import FakeVoiceGateway
from hothat_sms.testing import WebhookRequest

from .conftest import (
    BASE,
    ELKS_TOKEN,
    KEY,
    RECIPIENT,
    SINCH_KEY,
    SINCH_SECRET,
    TEXT,
    TWILIO_SID,
    TWILIO_TOKEN,
    MakeChannel,
    elks,
    message,
    sinch,
    twilio,
)

QUERY = f"k={quote(KEY, safe='')}&a=1&l=sv&p=notify.minimal&n=0"
CALL_SID = "CA" + "1" * 32

# A gateway object used only for its signing helpers (never started): the same credentials as conftest.
SIGNER = FakeVoiceGateway(
    twilio_account_sid=TWILIO_SID,
    twilio_auth_token=TWILIO_TOKEN,
    sinch_application_key=SINCH_KEY,
    sinch_application_secret=SINCH_SECRET,
)


def twilio_request(event: str, query: str = QUERY, **fields: str) -> WebhookRequest:
    values = {"AccountSid": TWILIO_SID, "CallSid": CALL_SID, "To": RECIPIENT, "From": "+46766861005", **fields}
    return SIGNER.twilio_webhook(f"{BASE}/twilio/{event}?{query}", values)


async def placed(channel: VoiceChannel, url: str, answer: httpx.Response) -> dict[str, str]:
    """Place the standard call through a respx-mocked provider; return the request's form fields."""
    with respx.mock:
        route = respx.post(url).mock(return_value=answer)
        await channel.deliver(message())
    return dict(parse_qsl(route.calls.last.request.content.decode()))


# -- Twilio ------------------------------------------------------------------------------------------------


def test_twilio_key_1_answers_with_exact_twiml(make_channel: MakeChannel) -> None:
    channel = make_channel(twilio())

    result = channel.parse_inbound(*twilio_request("gather", Digits="1", AnsweredBy="human"))

    [event] = result.events
    assert (event.kind, event.message_key, event.provider_id, event.address) == (
        InboundKind.ACKNOWLEDGE,
        KEY,
        CALL_SID,
        RECIPIENT,
    )
    assert (result.status, result.headers) == (200, {"Content-Type": "text/xml; charset=utf-8"})
    assert result.body.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Say voice="Polly.Astrid" language="sv-SE">'
        "Tack. Du har tagit ärendet.</Say><Hangup/></Response>"
    )


def test_twilio_star_replays_the_remembered_message_with_the_next_turns_urls(make_channel: MakeChannel) -> None:
    channel = make_channel(twilio())
    channel.calls.remember(CallScript.of(message()))

    result = channel.parse_inbound(*twilio_request("gather", Digits="*"))

    twiml = result.body.decode()
    assert result.events == ()
    assert twiml.count(TEXT) == 2  # played `plays` times again
    assert "n=1" in twiml
    assert "n=0" not in twiml


def test_a_forged_or_altered_twilio_callback_is_refused(make_channel: MakeChannel) -> None:
    channel = make_channel(twilio())
    genuine = twilio_request("gather", Digits="1")
    other_key = QUERY.replace("3.1.1", "3.2.1")

    with pytest.raises(InboundError, match="does not match"):  # the message key altered in the URL
        channel.parse_inbound("POST", genuine.url.replace(QUERY, other_key), genuine.headers, genuine.body)
    with pytest.raises(InboundError, match="does not match"):  # a key altered in the body
        channel.parse_inbound("POST", genuine.url, genuine.headers, genuine.body.replace(b"Digits=1", b"Digits=2"))
    with pytest.raises(InboundError, match="no X-Twilio-Signature"):
        channel.parse_inbound("POST", genuine.url, {"Content-Type": "application/x-www-form-urlencoded"}, genuine.body)
    with pytest.raises(InboundError, match="another Twilio account"):
        channel.parse_inbound(*twilio_request("gather", Digits="1", AccountSid="AC" + "0" * 32))


def test_a_replayed_callback_is_refused(make_channel: MakeChannel) -> None:
    channel = make_channel(twilio())
    request = twilio_request("gather", Digits="1")

    channel.parse_inbound(*request)
    with pytest.raises(InboundError, match="replay"):
        channel.parse_inbound(*request)


@pytest.mark.parametrize("answered_by", ["machine_start", "machine_end_beep", "machine_end_silence", "fax"])
def test_twilio_never_believes_a_key_from_a_machine(make_channel: MakeChannel, answered_by: str) -> None:
    channel = make_channel(twilio())

    result = channel.parse_inbound(*twilio_request("gather", Digits="1", AnsweredBy=answered_by))

    assert [(e.kind, e.status) for e in result.events] == [(InboundKind.CALL_OUTCOME, DeliveryStatus.VOICEMAIL)]
    assert result.body.endswith(b"<Response><Hangup/></Response>")


def test_twilio_status_after_a_key_adds_no_outcome(make_channel: MakeChannel) -> None:
    channel = make_channel(twilio())
    channel.calls.remember(CallScript.of(message()))

    channel.parse_inbound(*twilio_request("gather", Digits="1"))
    result = channel.parse_inbound(*twilio_request("status", CallStatus="completed", AnsweredBy="human"))

    assert (result.events, result.status, result.body) == ((), 204, b"")


def test_a_status_for_a_forgotten_call_tells_what_it_knows(make_channel: MakeChannel) -> None:
    channel = make_channel(twilio())  # knows no call: as after a restart

    busy = channel.parse_inbound(*twilio_request("status", CallStatus="busy"))
    completed = channel.parse_inbound(*twilio_request("status", CallStatus="completed", AnsweredBy="human"))

    assert [e.status for e in busy.events] == [DeliveryStatus.BUSY]
    assert completed.events == ()  # a key may have been pressed: nothing is claimed


# -- 46elks ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("event", ["ivr", "hangup"])
async def test_46elks_callbacks_need_the_urls_own_mac(make_channel: MakeChannel, event: str) -> None:
    channel = make_channel(elks())
    sent = await placed(channel, "https://api.46elks.com/a1/calls", httpx.Response(200, json={"id": "c1"}))
    url = json.loads(sent["voice_start"])["next"] if event == "ivr" else sent["whenhangup"]
    fields = {"callid": "c1", "result": "1"} if event == "ivr" else {"id": "c1", "state": "busy"}

    assert channel.parse_inbound(*SIGNER.elks_webhook(url, fields)).events  # genuine
    with pytest.raises(InboundError, match="signature is missing or wrong"):  # another step's key
        channel.parse_inbound(*SIGNER.elks_webhook(url.replace("3.1.1", "3.2.1"), fields))
    other = "hangup" if event == "ivr" else "ivr"
    with pytest.raises(InboundError, match="signature is missing or wrong"):  # a URL for another event
        channel.parse_inbound(*SIGNER.elks_webhook(url.replace(f"/{event}?", f"/{other}?"), fields))
    with pytest.raises(InboundError, match="signature is missing or wrong"):
        channel.parse_inbound(*SIGNER.elks_webhook(url.split("&s=")[0], fields))


async def test_46elks_allowed_ips(make_channel: MakeChannel) -> None:
    channel = make_channel(elks(allowed_ips=["176.10.154.199/32"]))
    sent = await placed(channel, "https://api.46elks.com/a1/calls", httpx.Response(200, json={"id": "c1"}))
    url = sent["whenhangup"]
    request = SIGNER.elks_webhook(url, {"id": "c1", "state": "busy"})

    assert channel.parse_inbound(*request).status == 204
    with pytest.raises(InboundError, match="not in allowed_ips"):
        channel.parse_inbound("POST", url, {"X-Forwarded-For": "176.10.154.199, 10.0.0.9"}, request.body)


async def test_46elks_key_1_plays_the_confirmation_recording(make_channel: MakeChannel) -> None:
    channel = make_channel(elks())
    sent = await placed(channel, "https://api.46elks.com/a1/calls", httpx.Response(200, json={"id": "c1"}))

    url = json.loads(sent["voice_start"])["next"]

    result = channel.parse_inbound(*SIGNER.elks_webhook(url, {"callid": "c1", "result": "1"}))

    assert [e.kind for e in result.events] == [InboundKind.ACKNOWLEDGE]
    assert json.loads(result.body) == {"play": "https://media.oxelosund.example/hothat/sv/confirm.acknowledged.mp3"}
    assert result.headers == {"Content-Type": "application/json"}


# -- Sinch -------------------------------------------------------------------------------------------------


def test_sinch_signature_matches_the_documented_example() -> None:
    body = (
        b'{"event":"ace","callid":"822aa4b7-05b4-4d83-87c7-1f835ee0b6f6_257",'
        b'"timestamp":"2014-09-24T10:59:41Z","version":1}'
    )

    signature = sinch_application_signature(
        SINCH_SECRET, "POST", body, "application/json", "2014-09-24T10:59:41Z", "/sinch/callback/ace"
    )

    assert signature == "Tg6fMyo8mj9pYfWQ9ssbx3Tc1BNC87IEygAfLbJqZb4="


def sinch_callback(payload: Mapping[str, object]) -> WebhookRequest:
    return SIGNER.sinch_voice_webhook(f"{BASE}/sinch/callback", {"custom": QUERY, "callid": "call-1", **payload})


def test_sinch_ace_from_a_person_runs_the_menu_in_swedish(make_channel: MakeChannel) -> None:
    channel = make_channel(sinch())
    channel.calls.remember(CallScript.of(message()))

    result = channel.parse_inbound(*sinch_callback({"event": "ace", "amd": {"status": "human", "reason": "n/a"}}))

    assert result.events == ()
    assert json.loads(result.body) == {
        "instructions": [],
        "action": {
            "name": "runMenu",
            "barge": True,
            "locale": "sv-SE",
            "menus": [
                {
                    "id": "main",
                    "mainPrompt": f"#tts[{TEXT}]",
                    "repeatPrompt": f"#tts[{TEXT}]",
                    "repeats": 1,
                    "maxDigits": 1,
                    "timeoutMills": 8000,
                    "options": [
                        {"dtmf": "1", "action": "return(1)"},
                        {"dtmf": "2", "action": "return(2)"},
                        {"dtmf": "*", "action": "menu(main)"},
                    ],
                }
            ],
        },
    }


def test_sinch_ace_from_a_machine_hangs_up(make_channel: MakeChannel) -> None:
    channel = make_channel(sinch())

    result = channel.parse_inbound(*sinch_callback({"event": "ace", "amd": {"status": "machine", "reason": "beep"}}))

    assert [e.status for e in result.events] == [DeliveryStatus.VOICEMAIL]
    assert json.loads(result.body) == {"instructions": [], "action": {"name": "hangup"}}


def test_sinch_pie_key_2_declines_and_says_so(make_channel: MakeChannel) -> None:
    channel = make_channel(sinch())
    pie = {"event": "pie", "menuResult": {"menuId": "main", "type": "return", "value": "2", "inputMethod": "dtmf"}}

    result = channel.parse_inbound(*sinch_callback(pie))

    assert [e.kind for e in result.events] == [InboundKind.DECLINE]
    assert json.loads(result.body) == {
        "instructions": [{"name": "say", "text": "Tack. Vi går vidare till nästa person.", "locale": "sv-SE"}],
        "action": {"name": "hangup"},
    }


def test_a_forged_stale_or_foreign_sinch_callback_is_refused(make_channel: MakeChannel) -> None:
    channel = make_channel(sinch())
    genuine = sinch_callback({"event": "dice", "result": "BUSY"})
    headers = dict(genuine.headers)

    with pytest.raises(InboundError, match="signature does not match"):
        channel.parse_inbound("POST", genuine.url, headers, genuine.body.replace(b"BUSY", b"NOANSWER"))
    with pytest.raises(InboundError, match="not signed"):
        channel.parse_inbound("POST", genuine.url, {**headers, "Authorization": "Basic abc"}, genuine.body)
    with pytest.raises(InboundError, match="another Sinch application"):
        channel.parse_inbound("POST", genuine.url, {**headers, "Authorization": "Application AAAA:sig"}, genuine.body)
    provider = channel._providers["sinch"]
    assert isinstance(provider, SinchProvider)
    provider.now = lambda: datetime.now(UTC) + timedelta(minutes=11)
    with pytest.raises(InboundError, match="too old"):
        channel.parse_inbound(*genuine)


def test_an_incoming_call_to_the_sinch_number_is_hung_up(make_channel: MakeChannel) -> None:
    channel = make_channel(sinch())

    result = channel.parse_inbound(
        *SIGNER.sinch_voice_webhook(f"{BASE}/sinch/callback", {"event": "ice", "callid": "in"})
    )

    assert (result.events, json.loads(result.body)) == ((), {"instructions": [], "action": {"name": "hangup"}})


def test_tts_prompts_are_cut_at_sentences_and_cannot_break_out() -> None:
    text = "Första meningen; med [hakar]. " + "Ord " * 200 + "slut."

    prompt = tts_prompt(text)

    pieces = prompt.split(";")
    assert pieces[0] == "#tts[Första meningen, med (hakar).]"
    assert all(p.startswith("#tts[") and p.endswith("]") and len(p) <= 606 for p in pieces)
    assert "".join(p[5:-1] for p in pieces).replace(" ", "") == text.replace(";", ",").replace("[", "(").replace(
        "]", ")"
    ).replace(" ", "")


# -- routing -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "reason"),
    [
        ("GET", f"{BASE}/twilio/gather?{QUERY}", "POST requests"),
        ("POST", f"{BASE}/plivo/gather?{QUERY}", "names no configured provider"),
        ("POST", f"{BASE}/twilio/callback", "names no configured provider"),
    ],
)
def test_unknown_callbacks_are_refused(make_channel: MakeChannel, method: str, url: str, reason: str) -> None:
    with pytest.raises(InboundError, match=reason):
        make_channel(twilio(), sinch()).parse_inbound(method, url, {}, b"")


def test_webhook_url_for_the_sinch_dashboard(make_channel: MakeChannel) -> None:
    channel = make_channel(twilio(), sinch())

    assert channel.webhook_url("sinch") == f"{BASE}/sinch/callback"
    with pytest.raises(ConfigurationError, match="no provider is named"):
        channel.webhook_url("46elks")
    with pytest.raises(ConfigurationError, match="gather, nokey, status"):
        channel.webhook_url("twilio", "callback")


def test_callbacks_without_the_calls_parameters_are_refused(make_channel: MakeChannel) -> None:
    channel = make_channel(twilio())

    with pytest.raises(InboundError, match="call's parameters"):
        channel.parse_inbound(*twilio_request("gather", query="k=x&a=1", Digits="1"))


def test_secrets_never_show(make_channel: MakeChannel) -> None:
    channel = make_channel(twilio(), elks(), sinch())

    shown = repr(channel.voice) + str(channel.voice)

    for secret in (TWILIO_TOKEN, ELKS_TOKEN, SINCH_SECRET, "elks-pw"):
        assert secret not in shown
    assert base64.b64decode(SINCH_SECRET)  # the fixture is the documented (valid base64) secret
