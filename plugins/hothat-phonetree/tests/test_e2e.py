"""End to end: the Oxelösund routine on a virtual clock, SMS and calls over real HTTP on 127.0.0.1.

The shipped example gives the (S) group leader Anna no voice contact point, so these tests use a variant
(built with ``attrs.evolve``, the example itself untouched) in which Anna can be called two minutes after her
SMS. Nobody answers Per's SMS or his calls about step 3.1.1; at 15 minutes the step escalates to Anna, she is
called, presses 1, and the callback (signed by the fake provider, passed on by a loopback web app to
``engine.inbound``) makes the step hers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import httpx
import pytest

from hothat.channels import DeliveryStatus
from hothat.config import load_example
from hothat.domain import ContactPoint, Medium, Municipality
from hothat.engine import Engine, VirtualClock
from hothat.engine import events as ev
from hothat.engine.core import StepStatus
from hothat.store import MemoryStore
from hothat_phonetree import VoiceChannel, VoiceSettings
from hothat_phonetree.testing import Callee, CallRecord, FakeVoiceGateway, PlacedCall, WebhookServer
from hothat_sms import SmsChannel, SmsSettings

from .conftest import TLS

PER = "+46701740620"  # (S) party security contact: owner of 3.1.1
ANNA = "+46701740621"  # (S) group leader: the first escalation level of 3.1.1
FRIDAY_NIGHT = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)


def with_anna_by_phone() -> Municipality:
    """Oxelösund, where Anna can also be called (two minutes after her SMS)."""
    muni = load_example("oxelosund")
    anna = muni.directory.people["anna"]
    assert all(c.medium is not Medium.VOICE for c in anna.contacts), "the example gave Anna a phone: drop this"
    phone = ContactPoint(Medium.VOICE, ANNA, timedelta(minutes=2))
    people = {
        **muni.directory.people,
        "anna": attrs.evolve(anna, contacts=(anna.contacts[0], phone, *anna.contacts[1:])),
    }
    return attrs.evolve(muni, directory=attrs.evolve(muni.directory, people=people))


@attrs.define
class Rig:
    engine: Engine
    voice: VoiceChannel
    gateway: FakeVoiceGateway
    records: list[CallRecord] = attrs.field(factory=list)

    async def settle(self, behaviour: Callable[[PlacedCall], Callee]) -> None:
        """Let the engine finish, and play every call it placed through to the end, until nothing is left."""
        for _ in range(50):
            await self.engine.idle()
            pending = self.gateway.pending()
            if not pending:
                return
            for call in pending:
                self.gateway.expect(call.to, behaviour(call))
                self.records.append(await asyncio.to_thread(self.gateway.complete, call))
        raise AssertionError("calls kept coming")

    async def trail(self, incident_id: str, kind: type[Any]) -> list[Any]:
        return [e for e in await self.engine.trail(incident_id) if isinstance(e, kind)]


@pytest.fixture
def gateway() -> Iterator[FakeVoiceGateway]:
    with FakeVoiceGateway() as gateway:
        yield gateway


@pytest.fixture(params=["twilio", "46elks", "sinch"])
async def rig(request: pytest.FixtureRequest, gateway: FakeVoiceGateway) -> AsyncIterator[Rig]:
    provider = str(request.param)
    clock = VirtualClock(FRIDAY_NIGHT)
    engine: Engine | None = None

    async def inbound(method: str, url: str, headers: Any, body: bytes) -> Any:
        assert engine is not None
        return await engine.inbound("voice", method, url, headers, body)

    async with WebhookServer(inbound) as app, httpx.AsyncClient(verify=TLS) as client:
        voice = VoiceChannel(
            VoiceSettings.model_validate(
                {"public_base_url": f"{app.url}/hooks/voice", "providers": [gateway.voice_table(provider)]}
            ),
            client=client,
            clock=lambda: clock.now().timestamp(),  # the per-number limits run on the engine's clock
        )
        if provider == "sinch":
            gateway.sinch_callback_url = voice.webhook_url("sinch")
        sms = SmsChannel(
            SmsSettings.model_validate(
                {"public_base_url": "https://kommun.example/hooks/sms", "providers": [gateway.provider_table("46elks")]}
            ),
            client=client,
        )
        engine = Engine(
            with_anna_by_phone(),
            store=MemoryStore(),
            clock=clock,
            channels={"sms": sms, "voice": voice},
            token_secret=b"e2e-link-secret-" * 2,
        )
        async with engine:
            yield Rig(engine, voice, gateway)


def asks_about(call: PlacedCall, step: str) -> bool:
    """Whether the call is about ``step`` (the words a provider with text-to-speech says; 46elks' key)."""
    words = str(call.fields.get("Twiml") or call.fields.get("custom") or call.fields.get("whenhangup"))
    return f"steg {step} " in words or f"%3A{step}%3A" in words


async def test_the_group_leader_takes_3_1_1_with_key_1_after_nobody_answered_per(rig: Rig) -> None:
    engine = rig.engine
    incident = await engine.report(kind="threat", severity="serious", targeted="lena", party="s")

    def behaviour(call: PlacedCall) -> Callee:
        if call.to == ANNA and asks_about(call, "3.1.1"):
            return Callee.presses("1")
        return Callee.silent() if call.to == ANNA else Callee.no_answer()

    for _ in range(30):
        await rig.settle(behaviour)
        if (await engine.status(incident.id)).step("3.1.1").status is StepStatus.ACKNOWLEDGED:
            break
        await engine.advance("1m")

    # Nobody answered Per's SMS, nor his calls (5 and 6 minutes: the second waits out the 60 s gap).
    per_calls = [r for r in rig.records if r.call.to == PER]
    assert len(per_calls) >= 2
    assert all(not r.heard for r in per_calls)
    [escalated] = [e for e in await rig.trail(incident.id, ev.Escalated) if e.step == "3.1.1"]
    assert escalated.at == incident.reported_at + timedelta(minutes=15)
    # Anna was called two minutes after her SMS, and took the step with key 1.
    [taken] = await rig.trail(incident.id, ev.Acknowledged)
    assert (taken.step, taken.person, taken.via) == ("3.1.1", "anna", "voice")
    assert taken.at == incident.reported_at + timedelta(minutes=17)
    step = (await engine.status(incident.id)).step("3.1.1")
    assert (step.status, step.assignees) == (StepStatus.ACKNOWLEDGED, ("anna",))
    [record] = [r for r in rig.records if r.call.to == ANNA and asks_about(r.call, "3.1.1")]
    assert record.pressed == ("1",)
    if record.call.provider != "46elks":  # what she heard, in Swedish
        assert record.heard[0].startswith(f"Det här är Oxelösunds kommun. Ärende {incident.reference}, ")
        assert "Ingen har svarat på steg 3.1.1 (Bedömning av situationen)." in record.heard[0]
        assert record.heard[-1] == "Tack. Du har tagit ärendet."
    else:
        assert record.heard[0].endswith("/sv/escalation.minimal.mp3")
        assert record.heard[-1].endswith("/sv/confirm.acknowledged.mp3")
    # Per's unanswered calls are in the trail as such; nothing but Anna's key acknowledged anything.
    outcomes = {e.status for e in await rig.trail(incident.id, ev.DeliveryConfirmed)}
    assert DeliveryStatus.NO_ANSWER in outcomes
    # The targeted person has a protected identity: no call and no SMS names her.
    spoken = " ".join(h for r in rig.records for h in r.heard) + " ".join(s.text for s in rig.gateway.messages)
    assert "Lena" not in spoken
    assert "Kask" not in spoken


async def test_a_voicemail_never_takes_the_step_which_escalates_on_time(rig: Rig) -> None:
    engine = rig.engine
    incident = await engine.report(kind="threat", severity="serious", targeted="lena", party="s")
    provider = rig.voice.voice.providers[0].provider
    machine = Callee.voicemail() if provider == "46elks" else Callee.voicemail("1")  # 46elks passes tones on

    for _ in range(14):
        await engine.advance("1m")
        await rig.settle(lambda call: machine if call.to == PER else Callee.silent())
    answered = [r for r in rig.records if r.call.to == PER]
    assert answered, "Per's phone was called and a machine picked up"
    assert (await engine.status(incident.id)).step("3.1.1").status is StepStatus.ACTIVE
    assert await rig.trail(incident.id, ev.Acknowledged) == []

    await engine.advance("1m")

    [escalated] = [e for e in await rig.trail(incident.id, ev.Escalated) if e.step == "3.1.1"]
    assert escalated.at == incident.reported_at + timedelta(minutes=15)
    assert escalated.reason == "no acknowledgement in time"
    expected = DeliveryStatus.ANSWERED_NO_KEY if provider == "46elks" else DeliveryStatus.VOICEMAIL
    assert {e.status for e in await rig.trail(incident.id, ev.DeliveryConfirmed)} >= {expected}
    assert await rig.trail(incident.id, ev.Acknowledged) == []
