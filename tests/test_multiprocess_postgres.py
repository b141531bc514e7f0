"""Three engine processes on one PostgreSQL database, one of them killed midway, handle 300 incidents.

Each worker (``multiprocess_worker.py``) reports 100 incidents. A step's owner never answers, so after 2 s every
incident escalates to Berit; this test, as Berit, takes, completes and closes each incident when her escalation
reaches her. Every delivery attempt is told to a TCP listener owned by the test, which SIGKILLs worker 0 at its
first attempt after all incidents were reported (that attempt never gets an answer).

What must hold: every incident completes; every queued notification is delivered and its send recorded once; no
notification is attempted by two processes at once; what the killed process held (claimed wake-ups, claimed
deliveries) is taken over by the others when its leases run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pg_kit
import pytest
from multiprocess_worker import MUNICIPALITY_ID, engine

from hothat.engine import Engine, VirtualClock
from hothat.engine import events as ev
from hothat.store.postgres import PostgresStore

WORKER = Path(__file__).with_name("multiprocess_worker.py")
PER_WORKER = 100
DEADLINE = 80.0  # seconds for the whole run; it takes about 45 (the dead process's delivery leases last 32 s)


@attrs.define
class Attempt:
    pid: int
    key: str
    person: str
    kind: str
    incident: str
    start: float
    end: float | None = None


@attrs.define
class Witness:
    """The listener's records, and Berit's answers (through an engine of the test's own)."""

    actor: Engine | None = None
    attempts: list[Attempt] = attrs.field(factory=list)
    changed: asyncio.Event = attrs.field(factory=asyncio.Event)
    kill: int | None = None  # the pid to kill at its next attempt
    killed: int | None = None
    handled: set[str] = attrs.field(factory=set)
    failures: list[str] = attrs.field(factory=list)
    tasks: set[asyncio.Task[None]] = attrs.field(factory=set)

    async def listen(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = json.loads(await reader.readline())
        attempt = Attempt(line["pid"], line["key"], line["person"], line["kind"], line["incident"], time.monotonic())
        self.attempts.append(attempt)
        if attempt.pid == self.kill:
            os.kill(attempt.pid, signal.SIGKILL)  # mid-attempt: this one is never answered
            self.killed, self.kill = attempt.pid, None
        else:
            writer.write(b"ok\n")
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        attempt.end = time.monotonic()
        writer.close()
        if attempt.person == "berit" and attempt.kind == "escalation" and attempt.incident not in self.handled:
            self.handled.add(attempt.incident)
            task = asyncio.create_task(self.answer(attempt.incident))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        self.changed.set()

    async def answer(self, incident_id: str) -> None:
        """Berit takes the step, completes it and closes the incident."""
        actor = self.actor
        assert actor is not None
        assert isinstance(actor.clock, VirtualClock)
        clock = actor.clock
        try:
            clock.set(max(clock.now(), datetime.now(UTC)))
            await actor.acknowledge(incident_id, step="1", person="berit", via="sms")
            clock.set(max(clock.now(), datetime.now(UTC)))
            await actor.complete(incident_id, step="1", person="berit")
            clock.set(max(clock.now(), datetime.now(UTC)))
            await actor.close(incident_id, by="berit")
        except Exception as exc:
            self.failures.append(f"{incident_id}: {type(exc).__name__}: {exc}")
        self.changed.set()


async def test_three_processes_one_killed_every_incident_completes_and_nothing_is_sent_twice(
    pytestconfig: pytest.Config, tmp_path: Path
) -> None:
    dsn = pg_kit.cluster(pytestconfig).fresh_dsn()
    observer = await PostgresStore.open(dsn, municipality=MUNICIPALITY_ID)
    witness = Witness()
    server = await asyncio.start_server(witness.listen, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    # Berit's engine: it only acts when she answers (a virtual clock set to the real time: no scheduler of its own).
    actor = witness.actor = engine(dsn, port, clock=VirtualClock(datetime.now(UTC)))
    await actor.start()
    logs = [(tmp_path / f"worker-{n}.log").open("wb") for n in range(3)]  # files: a full pipe would stall a worker
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(WORKER),
            dsn,
            str(port),
            f"W{n}",
            str(PER_WORKER),
            stdout=asyncio.subprocess.PIPE,
            stderr=logs[n],
        )
        for n in range(3)
    ]
    started = time.monotonic()
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = await asyncio.wait_for(worker.stdout.readline(), timeout=30)
            assert line == b"reported\n", _logs(tmp_path)
        witness.kill = workers[0].pid  # midway: at its next attempt

        while True:  # woken by each attempt and each answer; the store says when everything is done
            witness.changed.clear()
            done = len(witness.handled) == 3 * PER_WORKER and not witness.tasks
            if done and not await observer.open_incidents() and not await observer.outbox():
                break
            if time.monotonic() - started > DEADLINE:
                progress = await _progress(observer, witness, workers)
                pytest.fail(f"not done in {DEADLINE:.0f} s: {progress}\n{_logs(tmp_path)}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(witness.changed.wait(), timeout=1.0)
    finally:
        for worker in workers:
            if worker.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.send_signal(signal.SIGTERM)
        codes = [await asyncio.wait_for(worker.wait(), timeout=30) for worker in workers]
        for log in logs:
            log.close()
        server.close()
        await actor.stop()
        ids = await observer.incidents()
        trails = {i: [ev.decode(r.type, r.payload) for r in await observer.load(i)] for i in ids}
        await observer.close()

    assert witness.killed == workers[0].pid
    assert codes == [-signal.SIGKILL, 0, 0], _logs(tmp_path)
    assert not witness.failures

    # Every incident completed: escalated to Berit, taken, completed and closed by her.
    assert len(trails) == 3 * PER_WORKER
    for trail in trails.values():
        kinds = Counter(type(e).__name__ for e in trail)
        assert [kinds[k] for k in ("Escalated", "Acknowledged", "StepCompleted", "IncidentClosed")] == [1, 1, 1, 1]

    # Every queued notification was delivered, and its send recorded exactly once.
    queued = [e.key for t in trails.values() for e in t if isinstance(e, ev.NotificationQueued)]
    sent = Counter(e.key for t in trails.values() for e in t if isinstance(e, ev.NotificationSent))
    failed = [e.key for t in trails.values() for e in t if isinstance(e, ev.DeliveryFailed)]
    assert not failed
    assert sorted(sent) == sorted(queued)
    assert set(sent.values()) == {1}

    # Never two processes on one notification at once; a second attempt only after the killed process's one.
    by_key: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in witness.attempts:
        by_key[attempt.key].append(attempt)
    assert set(by_key) == set(queued)
    for key, attempts in by_key.items():
        # One attempt; or the killed process's attempt (unanswered, or its outcome never recorded), then one more.
        assert [a.pid == witness.killed for a in attempts] in ([False], [True], [True, False]), (key, attempts)
        for first, second in itertools.pairwise(attempts):
            assert first.end is not None
            assert first.end <= second.start, (key, attempts)

    # What the killed process was attempting when it died was attempted again by another process.
    last_words = [a for a in witness.attempts if a.pid == witness.killed][-1]
    assert [a.pid == witness.killed for a in by_key[last_words.key]] == [True, False]


def _logs(folder: Path) -> str:
    return "\n".join(f"--- {log.name}:\n{log.read_text()[-3000:]}" for log in sorted(folder.glob("worker-*.log")))


async def _progress(observer: PostgresStore, witness: Witness, workers: list[asyncio.subprocess.Process]) -> str:
    stale = await observer.stale_outbox(datetime.now(UTC), 5)
    return (
        f"{len(witness.handled)} escalations answered, {len(await observer.open_incidents())} incidents open, "
        f"{len(await observer.outbox())} notifications unsettled (e.g. {[o.key for o in stale]}), "
        f"answer failures {witness.failures[:3]}, processes {[w.returncode for w in workers]}"
    )
