"""The functional core: pure, replayable, and its events round-trip through JSON."""

from __future__ import annotations

import copy

from engine_kit import Deadlines, Rig, minutes, municipality, step

from hothat.engine import events as ev
from hothat.engine.core import IncidentState, WakeAt, decide, evolve


def oxelosund_like() -> object:
    return municipality(
        step(
            "3.1.1",
            "party_security_contact",
            deadlines=Deadlines(minutes(15), minutes(120)),
            escalation=("party_group_leader", "municipal_security_strategist"),
            repeat=1,
        ),
        step("3.1.2", "municipal_security_strategist", deadlines=Deadlines(minutes(30))),
        step(
            "3.2.3",
            "party_security_contact",
            "municipal_security_strategist",
            after=("3.1.1",),
            deadlines=Deadlines(minutes(60)),
        ),
    )


async def recorded_run() -> tuple[Rig, str]:
    rig = Rig(oxelosund_like())  # type: ignore[arg-type]
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s", targeted="anna")
        await rig.engine.advance("20m")
        await rig.engine.acknowledge(incident.id, step="3.1.1", person="eva", via="sms")
        await rig.engine.complete(incident.id, step="3.1.1", person="eva", note="Bedömt")
        await rig.engine.advance("45m")
    return rig, incident.id


async def test_every_event_round_trips_through_json() -> None:
    rig, incident_id = await recorded_run()
    records = await rig.store.load(incident_id)
    assert len(records) > 20
    kinds = set()
    for record in records:
        event = ev.decode(record.type, record.payload)
        assert ev.encode(event) == (record.type, record.payload)
        kinds.add(type(event).__name__)
    assert {
        "IncidentReported",
        "StepActivated",
        "TargetsResolved",
        "NotificationQueued",
        "NotificationSent",
        "Escalated",
        "Acknowledged",
        "StepCompleted",
    } <= kinds


def replay(rig: Rig, events: list[ev.Event]) -> IncidentState:
    first = events[0]
    assert isinstance(first, ev.IncidentReported)
    muni = rig.engine.municipality
    state = IncidentState.start(first, muni.routines["r"], muni.directory)
    for event in events[1:]:
        state = evolve(state, event)
    return state


async def test_replaying_a_trail_gives_the_same_state_and_the_same_commands() -> None:
    rig, incident_id = await recorded_run()
    events = await rig.trail(incident_id)
    one, two = replay(rig, events), replay(rig, events)
    assert one == two
    now = rig.clock.now()
    assert decide(one, now) == decide(two, now)
    # The engine's own live state (applied in place) is the same as the replayed one.
    live = rig.engine._states.get(incident_id)
    assert live is not None
    assert live.steps == one.steps
    # Nothing more is due now, only a wake-up later.
    assert all(isinstance(c, WakeAt) for c in decide(one, now))


async def test_evolve_leaves_the_old_state_untouched() -> None:
    rig, incident_id = await recorded_run()
    events = await rig.trail(incident_id)
    state = replay(rig, events[:-1])
    before = copy.deepcopy(state)
    evolve(state, events[-1])
    assert state == before


async def test_decide_is_pure() -> None:
    rig, incident_id = await recorded_run()
    state = replay(rig, await rig.trail(incident_id))
    before = copy.deepcopy(state)
    later = rig.clock.now() + minutes(600)
    first = decide(state, later)
    assert decide(state, later) == first
    assert state == before
    assert first  # escalations are due ten hours later
