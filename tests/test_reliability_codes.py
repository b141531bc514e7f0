"""Reply codes and late answers: a person answers an SMS after the step it asked about was done.

Found by the 1,000-incident soak (``benchmarks/soak.py``): three replies meant for incidents whose step had been
completed acknowledged *other* incidents, because the engine gives a person the smallest free code, so the code of a
finished step goes straight to that person's next request. A late "10" then takes an incident the person has not
read. The same reuse lets a captured, signed reply be replayed after a restart (``test_forged_inbound.py``).
"""

from __future__ import annotations

from reliability_kit import FRIDAY_NIGHT, TOKEN_SECRET, Recorder, oxelosund, plugins

from hothat.channels import InboundEvent, InboundKind, OutboundMessage
from hothat.engine import Engine, VirtualClock
from hothat.engine import events as ev

PER = "+46701740620"


async def _late_answer() -> tuple[str | None, str | None, list[ev.Event]]:
    sent: list[OutboundMessage] = []
    engine = Engine(
        oxelosund(),
        clock=VirtualClock(FRIDAY_NIGHT),
        plugins=plugins(),
        channels={"sms": Recorder(sent), "voice": Recorder(sent), "email": Recorder(sent)},
        token_secret=TOKEN_SECRET,
    )
    async with engine:
        first = await engine.report(kind="threat", severity="serious", party="s")
        await engine.idle()
        [asked] = [m for m in sent if m.incident_id == first.id and m.step_id == "3.1.1" and m.medium == "sms"]
        # Someone else takes and finishes 3.1.1 while Per's phone is in his pocket.
        await engine.acknowledge(first.id, step="3.1.1", person="anna", via="sms")
        await engine.complete(first.id, step="3.1.1", person="anna", note="klart")
        await engine.advance("2m")
        second = await engine.report(kind="threat", severity="serious", party="s")
        await engine.idle()
        [new] = [m for m in sent if m.incident_id == second.id and m.step_id == "3.1.1" and m.medium == "sms"]
        # Per reads the first SMS and answers it.
        await engine.handle_inbound(InboundEvent(InboundKind.ACKNOWLEDGE, "sms", PER, reply_code=asked.reply_code))
        return asked.reply_code, new.reply_code, await engine.trail(second.id)


async def test_a_late_answer_to_a_finished_step_does_not_take_another_incident() -> None:
    old, new, trail = await _late_answer()
    assert [e for e in trail if isinstance(e, ev.Acknowledged)] == []
    assert old != new
