"""The stalled-escalation watchdog, seen from outside: an observer plugin is told when an escalation was late.

An engine is stopped (the process died, the host slept) for longer than ``stall_after`` while a wake-up was due; the
next engine on the same SQLite file records ``StallDetected`` in the trail, logs it at ERROR and passes it to every
``hothat_incident_event`` observer, then moves the escalation on. Normal operation, however long, records none.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import FRIDAY_NIGHT, TOKEN_SECRET, Recorder, oxelosund, plugins

import hothat
from hothat.channels import OutboundMessage
from hothat.domain import Incident
from hothat.engine import Engine, VirtualClock
from hothat.engine import events as ev
from hothat.store.sqlite import SqliteStore


class Observer:
    """A plugin that keeps every event it is shown."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, ev.Event]] = []

    @hothat.hookimpl
    def hothat_incident_event(self, event: ev.Event, incident: Incident) -> None:
        self.seen.append((incident.reference, event))

    def of(self, kind: type[ev.Event]) -> list[Any]:
        return [e for _, e in self.seen if isinstance(e, kind)]


def engine(db: Path, clock: VirtualClock, sent: list[OutboundMessage], *extra: object, **kw: Any) -> Engine:
    return Engine(
        oxelosund(),
        store=SqliteStore(db),
        clock=clock,
        plugins=plugins(*extra),
        channels={"sms": Recorder(sent), "voice": Recorder(sent), "email": Recorder(sent)},
        token_secret=TOKEN_SECRET,
        **kw,
    )


@pytest.mark.parametrize("down", [timedelta(minutes=40), timedelta(hours=6)])
async def test_an_observer_is_told_of_a_stall_after_the_engine_was_down(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, down: timedelta
) -> None:
    clock, sent = VirtualClock(FRIDAY_NIGHT), []
    async with engine(tmp_path / "hothat.db", clock, sent) as first:
        incident = await first.report(kind="threat", severity="serious", party="s")
        await first.idle()
    clock.advance(down)  # nobody ran the engine meanwhile
    observer = Observer()
    caplog.set_level(logging.ERROR, logger="hothat.engine")
    async with engine(tmp_path / "hothat.db", clock, sent, observer) as second:
        await second.idle()
        trail = await second.trail(incident.id)
    stalls = [e for e in trail if isinstance(e, ev.StallDetected)]
    assert len(stalls) == 1
    [seen] = observer.of(ev.StallDetected)
    assert seen == stalls[0]
    assert seen.due_at == FRIDAY_NIGHT + timedelta(minutes=5)  # Per's call was due 5 minutes after his SMS
    assert seen.overdue_seconds == (down - timedelta(minutes=5)).total_seconds()
    assert [r.levelno for r in caplog.records if "stalled" in r.getMessage()] == [logging.ERROR]
    # The observer sees the stall before what the engine then did about it, in trail order.
    order = [type(e).__name__ for _, e in observer.seen]
    assert order.index("StallDetected") < order.index("Escalated")
    assert all(ref == incident.reference for ref, _ in observer.seen)


async def test_a_pause_shorter_than_stall_after_is_not_a_stall(tmp_path: Path) -> None:
    clock, sent = VirtualClock(FRIDAY_NIGHT), []
    async with engine(tmp_path / "hothat.db", clock, sent) as first:
        incident = await first.report(kind="threat", severity="serious", party="s")
        await first.advance("4m")
    clock.advance(timedelta(minutes=2))  # due at 5 min, resumed at 6: one minute late, under the two allowed
    observer = Observer()
    async with engine(tmp_path / "hothat.db", clock, sent, observer) as second:
        await second.advance("1h")
        trail = await second.trail(incident.id)
    assert not [e for e in trail if isinstance(e, ev.StallDetected)]
    assert observer.of(ev.StallDetected) == []
    assert observer.of(ev.Escalated), "the observer saw the escalation go on"


async def test_normal_operation_for_two_days_records_no_stall(tmp_path: Path) -> None:
    clock, sent = VirtualClock(FRIDAY_NIGHT), []
    observer = Observer()
    async with engine(tmp_path / "hothat.db", clock, sent, observer, stall_after=timedelta(seconds=1)) as running:
        for party in ("s", "m", "c"):
            await running.report(kind="threat", severity="acute", party=party, targeted="lena")
            await running.advance("17m")
        await running.advance("2d")
        trails = [await running.trail(i) for i in await running.store.incidents() if not i.startswith("_")]
    assert len(trails) == 3
    assert all(any(isinstance(e, ev.EscalationExhausted) for e in t) for t in trails), "the escalations ran out"
    assert [e for t in trails for e in t if isinstance(e, ev.StallDetected)] == []
    assert observer.of(ev.StallDetected) == []
