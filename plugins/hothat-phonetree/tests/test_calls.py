"""Whole calls over real HTTP on 127.0.0.1: the channel places them at the fake gateway, which plays a scripted
callee and posts every callback, signed as the provider would, to a loopback web app that hands it to the
channel. Each outcome is checked for each provider."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx
import pytest

from hothat.channels import DeliveryStatus, InboundEvent, InboundKind, InboundResult, MessageKind
from hothat_phonetree import VoiceChannel, VoiceSettings
from hothat_phonetree.testing import Callee, CallRecord, FakeVoiceGateway, WebhookServer

from .conftest import KEY, RECIPIENT, TEXT, TLS, message

PROVIDERS = ["46elks", "twilio", "sinch"]
ACK, DECLINE, OUTCOME = InboundKind.ACKNOWLEDGE, InboundKind.DECLINE, InboundKind.CALL_OUTCOME


class Web:
    """The municipality's web app: hands each callback to the channel and keeps the events."""

    def __init__(self) -> None:
        self.channel: VoiceChannel | None = None
        self.events: list[InboundEvent] = []
        self.server: WebhookServer | None = None

    async def handle(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> InboundResult:
        assert self.channel is not None
        result = self.channel.parse_inbound(method, url, headers, body)
        self.events.extend(result.events)
        return result


@pytest.fixture
def gateway() -> Iterator[FakeVoiceGateway]:
    with FakeVoiceGateway() as gateway:
        yield gateway


@pytest.fixture
async def web() -> AsyncIterator[Web]:
    web = Web()
    async with WebhookServer(web.handle) as server:
        web.server = server
        yield web
    if web.channel is not None:
        await web.channel._client.aclose()


def channel_for(web: Web, gateway: FakeVoiceGateway, provider: str, **overrides: Any) -> VoiceChannel:
    assert web.server is not None
    settings = VoiceSettings.model_validate(
        {"public_base_url": f"{web.server.url}/hooks/voice", "providers": [gateway.voice_table(provider)], **overrides}
    )
    web.channel = VoiceChannel(settings, client=httpx.AsyncClient(verify=TLS))
    if provider == "sinch":  # DICE goes to the application's callback URL, set in Sinch's dashboard
        gateway.sinch_callback_url = web.channel.webhook_url("sinch")
    return web.channel


async def call(web: Web, gateway: FakeVoiceGateway, provider: str, callee: Callee, **fields: Any) -> CallRecord:
    channel = channel_for(web, gateway, provider)
    receipt = await channel.deliver(message(**fields))
    gateway.expect(fields.get("address", RECIPIENT), callee)
    [record] = await asyncio.to_thread(gateway.complete_all)
    assert receipt.provider_id == record.call.id
    assert all(e.message_key == KEY and e.channel == "voice" for e in web.events)
    assert all(status in (200, 204) for _, status in web.server.requests) if web.server else False
    return record


def said(record: CallRecord) -> list[str]:
    """What the callee heard, with 46elks' recordings named by their prompt id."""
    return [h.rsplit("/", 1)[-1].removesuffix(".mp3") if h.startswith("https://media") else h for h in record.heard]


def kinds(web: Web) -> list[tuple[InboundKind, DeliveryStatus | None]]:
    return [(e.kind, e.status) for e in web.events]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_key_1_takes_the_step_and_thanks_the_person_in_swedish(
    gateway: FakeVoiceGateway, web: Web, provider: str
) -> None:
    record = await call(web, gateway, provider, Callee.presses("1"))

    assert kinds(web) == [(ACK, None)]
    assert web.events[0].provider_id == record.call.id
    if provider == "46elks":
        assert said(record) == ["notify.minimal", "confirm.acknowledged"]
    else:
        assert said(record) == [TEXT, "Tack. Du har tagit ärendet."]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_key_2_declines_and_the_person_hears_that_we_move_on(
    gateway: FakeVoiceGateway, web: Web, provider: str
) -> None:
    record = await call(web, gateway, provider, Callee.presses("2"))

    assert kinds(web) == [(DECLINE, None)]
    expected = (
        ["notify.minimal", "confirm.declined"]
        if provider == "46elks"
        else [TEXT, "Tack. Vi går vidare till nästa person."]
    )
    assert said(record) == expected


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_star_repeats_the_message_then_a_key_still_counts(
    gateway: FakeVoiceGateway, web: Web, provider: str
) -> None:
    record = await call(web, gateway, provider, Callee.presses("*", "1"))

    assert kinds(web) == [(ACK, None)]
    assert record.pressed == ("*", "1")
    message_heard = "notify.minimal" if provider == "46elks" else TEXT
    assert said(record)[:2] == [message_heard, message_heard]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_wrong_key_explains_the_keys_and_listens_again(
    gateway: FakeVoiceGateway, web: Web, provider: str
) -> None:
    record = await call(web, gateway, provider, Callee.presses("7", "1"))

    assert kinds(web) == [(ACK, None)]
    if provider == "46elks":  # no recording explains the keys: the message (which does) plays again
        assert said(record) == ["notify.minimal", "notify.minimal", "confirm.acknowledged"]
    else:
        assert any(h.startswith("Det valet finns inte. Tryck 1 om du tar ärendet") for h in record.heard)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("callee", [Callee.silent(), Callee.hangs_up()], ids=["silent", "hangs-up"])
async def test_an_answer_without_a_key_is_recorded_and_acknowledges_nothing(
    gateway: FakeVoiceGateway, web: Web, provider: str, callee: Callee
) -> None:
    record = await call(web, gateway, provider, callee)

    assert kinds(web) == [(OUTCOME, DeliveryStatus.ANSWERED_NO_KEY)]
    if callee.outcome == "answer":  # the message was played `plays` (2) times before giving up
        assert len(record.heard) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("callee", "status"),
    [
        (Callee.busy(), DeliveryStatus.BUSY),
        (Callee.no_answer(), DeliveryStatus.NO_ANSWER),
        (Callee.failed(), DeliveryStatus.FAILED),
    ],
    ids=["busy", "no-answer", "failed"],
)
async def test_calls_that_never_connect_are_recorded_as_such(
    gateway: FakeVoiceGateway, web: Web, provider: str, callee: Callee, status: DeliveryStatus
) -> None:
    record = await call(web, gateway, provider, callee)

    if provider == "46elks" and status is DeliveryStatus.FAILED:
        status = DeliveryStatus.NO_ANSWER  # 46elks reports both as "failed"; documented
    assert kinds(web) == [(OUTCOME, status)]
    assert record.heard == ()


@pytest.mark.parametrize("provider", ["twilio", "sinch"])
async def test_a_voicemail_is_detected_hung_up_on_and_never_believed(
    gateway: FakeVoiceGateway, web: Web, provider: str
) -> None:
    record = await call(web, gateway, provider, Callee.voicemail("1"))  # even a "1" in the greeting's tones

    assert kinds(web) == [(OUTCOME, DeliveryStatus.VOICEMAIL)]
    assert "Tack. Du har tagit ärendet." not in record.heard
    if provider == "sinch":  # Sinch's detection comes before the message: the machine hears nothing
        assert record.heard == ()


async def test_46elks_cannot_detect_a_voicemail_which_is_recorded_as_answered_without_a_key(
    gateway: FakeVoiceGateway, web: Web
) -> None:
    record = await call(web, gateway, "46elks", Callee.voicemail())

    assert kinds(web) == [(OUTCOME, DeliveryStatus.ANSWERED_NO_KEY)]
    assert said(record) == ["notify.minimal", "notify.minimal"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_english_speaker_hears_english(gateway: FakeVoiceGateway, web: Web, provider: str) -> None:
    record = await call(web, gateway, provider, Callee.presses("2"), locale="en", text="This is Oxelösund.")

    assert kinds(web) == [(DECLINE, None)]
    if provider == "46elks":
        assert record.heard[-1].endswith("/en/confirm.declined.mp3")
    else:
        assert said(record) == ["This is Oxelösund.", "Thank you. We will move on to the next person."]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_call_that_asks_nothing_takes_no_key_as_an_answer(
    gateway: FakeVoiceGateway, web: Web, provider: str
) -> None:
    text = "Det här är Oxelösunds kommun. Steg 3.1.1 i ärende OX-2026-0042 är taget. Du behöver inte göra något."
    record = await call(
        web, gateway, provider, Callee.presses("1"), kind=MessageKind.TAKEN, text=text, prompt="taken.minimal"
    )

    assert kinds(web) == [(OUTCOME, DeliveryStatus.DELIVERED)]  # heard, and nothing to acknowledge
    if provider != "46elks":
        assert said(record) == [text, "Tack. Hej då."]


async def test_a_restarted_channel_still_takes_the_key_and_says_the_short_fallback_on_star(
    gateway: FakeVoiceGateway, web: Web
) -> None:
    channel = channel_for(web, gateway, "twilio")
    await channel.deliver(message())
    web.channel = VoiceChannel(channel.voice, client=channel._client)  # a restart mid-call: it knows nothing
    gateway.expect(RECIPIENT, Callee.presses("*", "1"))

    [record] = await asyncio.to_thread(gateway.complete_all)

    assert kinds(web) == [(ACK, None)]
    fallback = "Det här är ett larm som behöver ditt svar. Tryck 1 om du tar ärendet, 2 om du inte kan."
    assert said(record) == [TEXT, fallback, "Tack. Du har tagit ärendet."]


async def test_star_pressed_again_and_again_ends_the_call_as_unanswered(gateway: FakeVoiceGateway, web: Web) -> None:
    record = await call(web, gateway, "twilio", Callee.presses(*"*" * 10))

    assert kinds(web) == [(OUTCOME, DeliveryStatus.ANSWERED_NO_KEY)]
    assert len(record.pressed) == 6  # MAX_TURNS: the sixth star hangs up
