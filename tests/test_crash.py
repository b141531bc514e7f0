"""The crash test: the engine is killed with SIGKILL at many points of an Oxelösund escalation and restarted.

``crash_worker.py`` plays a fixed script (two incidents: reports, escalations, acknowledgements by reply code,
facts, completions, closing) on a real SQLite file, delivering each message as one line to a listener this test
owns on 127.0.0.1. Each plan kills it at a few points, restarts it after each kill, and lets the last run finish.
Then, for every plan:

- no event is lost: every commit a run reported as written is in the final trail;
- no recorded send is repeated: a message is never delivered after a commit recording it was written;
- every queued send is made: every ``NotificationQueued`` has a delivery and exactly one ``NotificationSent``;
- the final trails equal an uninterrupted run's, apart from times and ids.

A kill between ``deliver()`` and the commit of its ``NotificationSent`` re-delivers the message at restart (at
least once): the listener then sees it twice while the trail records one send. Such doubles are counted apart,
and each must lie in that window: the run that delivered it first died before its record was written.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from importlib import resources
from pathlib import Path

import attrs
import pytest
from crash_worker import SCRIPT, reference

from hothat.engine import events as ev
from hothat.store.sqlite import SqliteStore

WORKER = Path(__file__).with_name("crash_worker.py")
LIMIT = 60.0  # seconds any one run may take before the test gives up on it
SEED = 20260302
RANDOM_PLANS = 6

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the crash test forks its workers (POSIX only)")


@attrs.frozen
class Kill:
    """Kill the worker at the ``n``-th line of kind ``line`` ("D", "B" or "C").

    Counted over all runs of a plan, or within the run when ``in_run``. At a "D" line the delivery is never
    confirmed: the worker dies inside ``deliver()``. At a "B" line the kill comes ``delay`` seconds later, while
    the commit is being written (or just after).
    """

    line: str
    n: int
    in_run: bool = False
    delay: float = 0.0
    match: str = ""
    """Count only the lines holding this word (``"closed"``: the deliveries of closing notices)."""

    def __str__(self) -> str:
        where = "in the run" if self.in_run else "overall"
        what = f"{self.line}[{self.match}]" if self.match else self.line
        return f"{what}#{self.n} {where}" + (f" +{self.delay * 1e3:.2f} ms" if self.delay else "")


@attrs.define
class Run:
    """What one worker process said, and how it ended."""

    kill: Kill | None
    lines: list[list[str]] = attrs.Factory(list)
    pid: int = 0
    killed: bool = False
    ended: bool = False
    exit: int | None = None

    @property
    def landed(self) -> str:
        """Where the kill landed, judged from the last lines the worker managed to send."""
        if not self.killed:
            return "not killed"
        if self.kill is not None and self.kill.line == "D":
            return "inside deliver()"  # never confirmed: it died there, whatever else it was doing meanwhile
        last = next((parts[0] for parts in reversed(self.lines) if parts[0] in ("B", "C")), "")
        return {"B": "inside a commit", "C": "between commits"}.get(last, "at start-up")


class ForkServer:
    """``crash_worker.py serve``: forks one worker per run, so only the first one pays for the imports."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    async def run(self, db: Path, config: Path, port: int) -> asyncio.Future[str]:
        """Start one run; the future gives its ``exit PID CODE`` line."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"run {db} {config} {port}\n")
        self.process.stdin.flush()
        return asyncio.get_running_loop().run_in_executor(None, self.process.stdout.readline)

    def close(self) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(timeout=LIMIT)
        self.process.stdout.close()


class Listener:
    """The test's end of the wire: a TCP server on 127.0.0.1 taking one connection per run."""

    def __init__(self) -> None:
        self.connections: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> Listener:
        self.server = await asyncio.start_server(lambda r, w: self.connections.put_nowait((r, w)), "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


Start = Callable[[], Awaitable["asyncio.Future[str]"]]
"""Starts a worker; what it gives resolves to the worker's ``exit PID CODE`` line."""


async def one_run(start: Start, listener: Listener, kill: Kill | None, counters: Counter[str]) -> Run:
    """Start a worker (``start()`` gives the future of its exit line), serve its wire, kill it at ``kill``."""
    loop = asyncio.get_running_loop()
    exit_line = await start()
    run = Run(kill)
    async with asyncio.timeout(LIMIT):
        reader, out = await listener.connections.get()  # the worker's lines
        _, writer = await listener.connections.get()  # where the deliveries are confirmed
        in_run: Counter[str] = Counter()

        def kill_now() -> None:
            if not run.ended:
                os.kill(run.pid, signal.SIGKILL)

        while line := await reader.readline():
            parts = line.decode().split()
            run.lines.append(parts)
            kind = parts[0]
            counters[kind] += 1
            in_run[kind] += 1
            if kind == "P":
                run.pid = int(parts[1])
            words = parts[2:] if kind == "D" else parts[3].split(",") if kind in ("B", "C") else []
            for word in set(words):  # "D:closed" counts deliveries of closing notices, "B:FactRecorded" ...
                counters[f"{kind}:{word}"] += 1
                in_run[f"{kind}:{word}"] += 1
            if kill is not None and not run.killed and kind == kill.line:
                count = f"{kind}:{kill.match}" if kill.match else kind
                if (in_run if kill.in_run else counters)[count] == kill.n:
                    run.killed = True
                    if kill.delay:
                        loop.call_later(kill.delay, kill_now)
                    else:
                        kill_now()
                    if kind == "D":
                        continue  # never confirmed: the worker dies inside deliver()
            if kind == "D":
                writer.write(b"ok\n")
            elif kind == "END":
                run.ended = True
        run.ended = True
        out.close()
        writer.close()
        word, _pid, code = (await exit_line).split()
    assert word == "exit"
    run.exit = int(code)
    if run.killed:
        assert run.exit == -signal.SIGKILL, f"the worker was to be killed but ended with {run.exit}"
    else:
        assert run.exit == 0, f"an unkilled run failed (exit {run.exit})"
        assert run.lines[-1] == ["END"]
    return run


# -- the trails ----------------------------------------------------------------------------------------------


async def final_trails(db: Path) -> dict[str, list[ev.Event]]:
    """Each incident's trail by its reference number."""
    async with SqliteStore(db) as store:
        assert await store.outbox() == [], "unsettled outbox rows after the last run"
        trails = {}
        for number in range(1 + max(a.incident for a in SCRIPT)):
            incident_id = await store.find(reference(number))
            assert incident_id is not None, f"incident {reference(number)} is missing"
            trails[reference(number)] = [ev.decode(r.type, r.payload) for r in await store.load(incident_id)]
        return trails


def normalised(trail: list[ev.Event]) -> list[str]:
    """The trail without times and ids: each event's type and fields as JSON, the incident's id replaced.

    Deliveries still outstanding at a restart are made in outbox order, which may differ from the order they
    were queued in: their ``NotificationSent`` events are compared as a set between two other events.
    """
    first = trail[0]
    assert isinstance(first, ev.IncidentReported)
    incident_id = first.incident.id
    out: list[str] = []
    sent: list[str] = []
    for event in trail:
        tag, payload = ev.encode(event)
        data = json.loads(payload.replace(incident_id, "<id>"))
        data.pop("at")
        if isinstance(event, ev.IncidentReported):
            for field in ("occurred_at", "reported_at"):
                data["incident"].pop(field)
        text = f"{tag} {json.dumps(data, sort_keys=True, ensure_ascii=False)}"
        if isinstance(event, ev.NotificationSent):
            sent.append(text)
            continue
        out += sorted(sent)
        sent = []
        out.append(text)
    return out + sorted(sent)


# -- the checks ----------------------------------------------------------------------------------------------


@attrs.define
class Findings:
    """What a plan's runs showed, for the summary."""

    kills: list[str] = attrs.Factory(list)
    runs: int = 0
    deliveries: int = 0
    doubles: int = 0
    """Messages delivered twice before they could be recorded (the at-least-once window) ..."""
    doubles_in_commit: int = 0
    """... of which the first run died while writing the record (the rest: before it began writing)."""

    def __str__(self) -> str:
        return (
            f"{self.runs} runs, {self.deliveries} deliveries, {self.doubles} delivered twice before they could be "
            f"recorded ({self.doubles_in_commit} of them while the record was being written); kills: "
            + "; ".join(self.kills)
        )


def check(runs: list[Run], trails: dict[str, list[ev.Event]], baseline: dict[str, list[str]]) -> Findings:
    findings = Findings(runs=len(runs))
    by_id = {}
    for trail in trails.values():
        first = trail[0]
        assert isinstance(first, ev.IncidentReported)
        by_id[first.incident.id] = trail
    # No event lost: every commit a run saw written is in the final trail, with the same event types.
    for number, run in enumerate(runs):
        for parts in run.lines:
            if parts[0] != "C" or parts[1].startswith("_"):
                continue
            incident_id, version, types = parts[1], int(parts[2]), parts[3].split(",")
            trail = by_id[incident_id]
            stored = [type(e).__name__ for e in trail[version - len(types) : version]]
            assert stored == types, f"run {number}: commit up to version {version} of {incident_id} was lost"
    # Deliveries against the commits that recorded them.
    delivered: dict[str, list[int]] = {}
    recorded_in: dict[str, int] = {}  # key -> the run whose commit recording it was written (C line seen)
    recording: dict[str, set[int]] = {}  # key -> the runs that began writing its record (B line seen)
    for number, run in enumerate(runs):
        seen_here: set[str] = set()
        begun: dict[str, list[str]] = {}  # incident -> its commit being written (one at a time per incident)
        for parts in run.lines:
            if parts[0] == "B":
                begun[parts[1]] = parts
                for key in parts[4].split(",") if parts[4] != "-" else ():
                    recording.setdefault(key, set()).add(number)
            elif parts[0] == "D":
                key = parts[1]
                assert key not in seen_here, f"run {number} delivered {key} twice"
                seen_here.add(key)
                assert key not in recorded_in, (
                    f"run {number} delivered {key} again although run {recorded_in[key]} had recorded it as sent"
                )
                delivered.setdefault(key, []).append(number)
            elif parts[0] == "C" and begun[parts[1]][4] != "-":
                for key in begun[parts[1]][4].split(","):
                    recorded_in.setdefault(key, number)
    for key, numbers in delivered.items():
        for earlier in numbers[:-1]:
            # Delivered twice: only in the at-least-once window (the earlier run died before recording it).
            assert runs[earlier].killed, f"{key} delivered by runs {numbers}, and run {earlier} was not killed"
            assert recorded_in.get(key, len(runs)) > earlier, f"{key} delivered by runs {numbers} after its record"
            findings.doubles += 1
            findings.doubles_in_commit += earlier in recording.get(key, ())
    findings.deliveries = sum(len(n) for n in delivered.values())
    # Every queued send made, and recorded exactly once.
    for trail in trails.values():
        queued = [e.key for e in trail if isinstance(e, ev.NotificationQueued)]
        sent = Counter(e.key for e in trail if isinstance(e, ev.NotificationSent))
        assert [k for k in queued if k not in delivered] == [], "queued but never delivered"
        assert {k: sent[k] for k in queued if sent[k] != 1} == {}, "queued but not recorded as sent exactly once"
    # The same story as without crashes.
    for ref, trail in trails.items():
        assert normalised(trail) == baseline[ref], f"{ref}: the trail differs from the uninterrupted run's"
    findings.kills = [f"{run.kill}: {run.landed}" for run in runs if run.killed]
    return findings


# -- fixtures ------------------------------------------------------------------------------------------------


@attrs.frozen
class Baseline:
    trails: dict[str, list[str]]
    counts: Counter[str]
    seconds: float


def _config(folder: Path) -> Path:
    path = folder / "municipality.toml"
    path.write_text(resources.files("hothat").joinpath("data", "oxelosund.toml").read_text(encoding="utf-8"))
    return path


async def _baseline(folder: Path) -> Baseline:
    config, db = _config(folder), folder / "baseline.db"
    started = time.perf_counter()
    async with Listener() as listener:

        async def start() -> asyncio.Future[str]:
            process = await asyncio.create_subprocess_exec(
                sys.executable, str(WORKER), "run", str(db), str(config), str(listener.port)
            )

            async def ended() -> str:
                return f"exit {process.pid} {await process.wait()}"

            return asyncio.ensure_future(ended())

        counters: Counter[str] = Counter()
        await one_run(start, listener, None, counters)
    trails = await final_trails(db)
    return Baseline({ref: normalised(t) for ref, t in trails.items()}, counters, time.perf_counter() - started)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    """One uninterrupted run in a fresh process: the story every crashed run must end up telling."""
    return asyncio.run(_baseline(tmp_path_factory.mktemp("baseline")))


@pytest.fixture(scope="module")
def server() -> Iterator[ForkServer]:
    fork_server = ForkServer()
    yield fork_server
    fork_server.close()


def plan(name: int | str, counts: Counter[str]) -> list[Kill]:
    """The kill points of one plan: a seeded random plan (``name`` a number), or one aimed at a window."""
    if name == "recovery":
        # Crashes during recovery: the resumed run is killed at its first commits and at its first delivery.
        return [
            Kill("D", counts["D"] // 3),
            Kill("B", 1, in_run=True),
            Kill("B", 2, in_run=True, delay=0.0005),
            Kill("D", 1, in_run=True),
        ]
    if name == "answers":
        # Where a person's answer meets the trail: a "taken" notice, the acknowledgement's own commit, the commit
        # of a fact, the report of the second incident.
        return [
            Kill("D", 1, match="taken"),
            Kill("B", 3, match="Acknowledged"),
            Kill("B", 1, match="FactRecorded", delay=0.0002),
            Kill("C", 2, match="IncidentReported"),
        ]
    if name == "closing":
        return [Kill("D", 1, match="closed")]  # inside the delivery of a closing notice
    # Random plans: four kills each, spread over the whole escalation so that together the plans cover it evenly,
    # cycling through the places (inside deliver(), inside a commit, right after one).
    assert isinstance(name, int)
    rng = random.Random(SEED + name)
    kills = []
    for j, line in enumerate(("D", "B", "C", "B")):
        fraction = (j + (name + rng.random()) / RANDOM_PLANS) / 4
        delay = rng.uniform(0.0, 0.002) if line == "B" else 0.0
        kills.append(Kill(line, max(1, round(fraction * counts[line])), delay=delay))
    return kills


# -- the tests -----------------------------------------------------------------------------------------------


async def test_an_uninterrupted_run_in_a_forked_worker_tells_the_same_story(
    baseline: Baseline, server: ForkServer, tmp_path: Path
) -> None:
    config, db = _config(tmp_path), tmp_path / "hothat.db"
    async with Listener() as listener:
        counters: Counter[str] = Counter()
        await one_run(lambda: server.run(db, config, listener.port), listener, None, counters)
    trails = await final_trails(db)
    assert {ref: normalised(t) for ref, t in trails.items()} == baseline.trails
    # The same deliveries and actions (the engine may group delivery outcomes into commits differently).
    assert (counters["D"], counters["A"], counters["END"]) == (baseline.counts["D"], len(SCRIPT), 1)
    assert counters["D"] > 60


@pytest.mark.parametrize("name", [*range(RANDOM_PLANS), "recovery", "answers", "closing"])
async def test_killed_and_restarted_the_engine_loses_nothing_and_repeats_no_recorded_send(
    name: int | str, baseline: Baseline, server: ForkServer, tmp_path: Path
) -> None:
    config, db = _config(tmp_path), tmp_path / "hothat.db"
    kills = plan(name, baseline.counts)
    runs: list[Run] = []
    counters: Counter[str] = Counter()
    async with Listener() as listener:

        def start() -> Awaitable[asyncio.Future[str]]:
            return server.run(db, config, listener.port)

        for kill in kills:
            run = await one_run(start, listener, kill, counters)
            runs.append(run)
            assert run.killed, f"kill point {kill} was never reached"
        runs.append(await one_run(start, listener, None, counters))
    findings = check(runs, await final_trails(db), baseline.trails)
    print(f"plan {name}: {findings}")  # shown with -s or -rP
    assert len(findings.kills) == len(kills)
    # The kills inside deliver() re-deliver their message at restart: it is seen twice, recorded once.
    assert findings.doubles >= sum(1 for k in kills if k.line == "D")
