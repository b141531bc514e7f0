"""End to end: an Oxelösund incident pages the party security contact by SMS over HTTP; a reply takes it.

The engine runs the shipped Oxelösund routine on a virtual clock; the SMS channel talks HTTP to the fake
46elks gateway on 127.0.0.1; replies and delivery reports come back as the gateway's callbacks, through
``engine.inbound`` exactly as a web app would pass them on.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hothat.channels import DeliveryStatus
from hothat.config import load_config
from hothat.engine import Engine, VirtualClock
from hothat.engine import events as ev
from hothat.engine.core import StepStatus
from hothat.errors import InboundError
from hothat.store import MemoryStore
from hothat_sms import SmsChannel, SmsSettings
from hothat_sms.testing import FakeGateway, SentSms

from .conftest import BASE

OXELOSUND = Path(__file__).parents[3] / "examples" / "oxelosund" / "municipality.toml"
PER = "+46701740620"  # (S) party security contact
ANNA = "+46701740621"  # (S) group leader: the first escalation level of 3.1.1
FRIDAY_NIGHT = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)


def code_in(sms: SentSms) -> str:
    """The reply code a person would read in the text: the number before the ``n`` of "12n"."""
    match = re.search(r"\b(\d{2,6})n\b", sms.text)
    assert match is not None, "the SMS tells the person how to answer"
    return match[1]


@pytest.fixture
async def rig() -> AsyncIterator[tuple[Engine, SmsChannel, FakeGateway]]:
    with FakeGateway() as gateway:
        settings = SmsSettings.model_validate(
            {"public_base_url": BASE, "providers": [gateway.provider_table("46elks")]}
        )
        channel = SmsChannel(settings)
        engine = Engine(
            load_config(OXELOSUND),
            store=MemoryStore(),
            clock=VirtualClock(FRIDAY_NIGHT),
            channels={"sms": channel},
            token_secret=b"e2e-link-secret-" * 2,
        )
        async with engine:
            yield engine, channel, gateway


async def test_a_reply_over_sms_takes_the_step_and_tells_the_others(
    rig: tuple[Engine, SmsChannel, FakeGateway],
) -> None:
    engine, channel, gateway = rig
    incident = await engine.report(kind="threat", severity="serious", targeted="lena", party="s")
    await engine.idle()

    # Per is paged for 3.1.1 (assess) and 3.2.1 (initial support), in Swedish, over HTTP to "46elks".
    paged = await asyncio.to_thread(gateway.wait_for, 2)
    assess = next(s for s in paged if "3.1.1" in s.text)
    assert assess.to == PER
    assert assess.text.startswith(f"Oxelösunds kommun, ärende {incident.reference}")
    assert "Bedömning av situationen" in assess.text
    sent = [e for e in await engine.trail(incident.id) if isinstance(e, ev.NotificationSent)]
    assert {(e.provider_id, e.encoding, e.segments) for e in sent if e.channel == "sms"} >= {(assess.id, "GSM-7", 1)}

    # The delivery report is recorded, and acknowledges nothing.
    result = await engine.inbound("sms", *gateway.delivery_report(assess))
    assert (result.status, result.body) == (204, b"")
    confirmed = [e for e in await engine.trail(incident.id) if isinstance(e, ev.DeliveryConfirmed)]
    assert [(e.status, e.key.split(":")[1]) for e in confirmed] == [(DeliveryStatus.DELIVERED, "3.1.1")]

    # Nobody answers in 15 minutes: the group leader is asked too.
    await engine.advance("16m")
    escalated = [s for s in gateway.messages if s.to == ANNA and "3.1.1" in s.text]
    assert len(escalated) == 1

    # A forged reply (no valid token) changes nothing.
    forged = gateway.reply("46elks", f"{BASE}/46elks/inbound?token=guess", sender=PER, text=code_in(assess))
    with pytest.raises(InboundError):
        await engine.inbound("sms", *forged)
    assert (await engine.status(incident.id)).step("3.1.1").status is StepStatus.ACTIVE

    # Per answers with the code: the step is his, and Anna is told she need not act.
    reply = gateway.reply("46elks", channel.webhook_url("46elks", "inbound"), sender=PER, text=code_in(assess))
    result = await engine.inbound("sms", *reply)
    assert (result.status, result.body) == (204, b"")  # an empty body: 46elks texts nothing back
    await engine.idle()

    step = (await engine.status(incident.id)).step("3.1.1")
    assert (step.status, step.assignees) == (StepStatus.ACKNOWLEDGED, ("per",))
    [taken] = [e for e in await engine.trail(incident.id) if isinstance(e, ev.Acknowledged)]
    assert (taken.step, taken.person, taken.via) == ("3.1.1", "per", "sms")
    told = [s for s in gateway.messages if s.to == ANNA and s not in escalated and "3.1.1" in s.text]
    assert len(told) == 1
    assert "Du behöver inte göra något" in told[0].text

    # The targeted person has a protected identity: no SMS names her.
    assert all("Lena" not in s.text and "Kask" not in s.text for s in gateway.messages)
