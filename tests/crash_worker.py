"""The process the crash test kills: an Oxelösund escalation driven by a fixed script on a real SQLite file.

Every run opens the engine on the file, works out from the trails how far the script got, and goes on from there
(the clock starts at the newest event's time, and actions already in a trail are skipped), so a run killed at any
point can simply be started again. The worker keeps nothing else: the SQLite file is its only memory.

It opens two TCP connections to the test (127.0.0.1): on the first it reports, one line each, and on the second
it reads the test's "ok" for each delivery. Two, because a process killed with unread input resets its
connection, and a reset may throw away lines it had already sent::

    P <pid>                                       first line
    D <key> <kind> <person> <medium>              a delivery, before deliver() returns; waits for "ok"
    B <incident> <expected> <types|-> <settled|-> a commit is about to be written
    C <incident> <version> <types|->              that commit is on disk
    A <index>                                     script action <index> is done
    END                                           the script is done and the engine stopped

Two ways to start it::

    python tests/crash_worker.py run DB CONFIG PORT   # one run in a fresh process
    python tests/crash_worker.py serve                # a fork server: reads "run DB CONFIG PORT" lines on stdin,
                                                      # forks one run per line, answers "exit PID CODE" when it ends

The fork server pays for importing hothat once, so a crash suite of dozens of runs stays fast; each run is still
a process of its own, killed with SIGKILL by the test.
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import attrs

from hothat.channels import Channel, InboundEvent, InboundKind, OutboundMessage, Receipt, ReceiptStatus
from hothat.domain import Medium
from hothat.engine import Engine, VirtualClock
from hothat.engine import events as ev
from hothat.plugins import HothatPlugins, get_plugin_manager
from hothat.store import Commit
from hothat.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
"""When the script starts (a Monday morning)."""
END = timedelta(hours=3)
"""The script's clock runs to ``T0 + END``, so every escalation left open plays out."""


def reference(incident: int) -> str:
    """The reference number of the script's incident number ``incident`` (0-based)."""
    return f"OX-{T0.year}-{incident + 1:04d}"


@attrs.frozen
class Action:
    """One thing that happens at ``T0 + at`` to incident ``incident``."""

    at: timedelta
    incident: int
    what: str  # report, ack, fact, complete, close
    step: str = ""
    person: str = ""
    fact: str = ""
    value: bool = False
    party: str = ""
    severity: str = ""
    kind: str = ""
    targeted: str | None = None
    checked: tuple[str, ...] = ()
    note: str = ""


def m(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


SCRIPT: tuple[Action, ...] = (
    Action(m(0), 0, "report", party="s", severity="serious", kind="threat", targeted="lena"),
    Action(m(7), 0, "ack", step="3.2.1", person="per"),  # Per takes the support step by reply code
    # 3.1.1: Per does not answer; at 15 minutes Anna is asked, at 30 both strategists.
    Action(m(20), 1, "report", party="c", severity="acute", kind="harassment"),  # C: the group leader, Olle
    Action(m(22), 1, "ack", step="3.1.1", person="olle"),
    Action(m(32), 0, "ack", step="3.1.1", person="karin"),
    Action(m(35), 0, "fact", fact="strategist_needed", value=True, person="karin"),
    Action(m(40), 0, "complete", step="3.1.1", person="karin", note="Bedömt tillsammans med Per"),
    Action(
        m(45), 0, "complete", step="3.2.1", person="per", checked=("initial_support", "support_person"), note="Klart"
    ),
    Action(m(50), 0, "fact", fact="needs_healthcare", value=False, person="per"),
    Action(m(55), 0, "ack", step="3.1.2", person="lars"),
    Action(m(60), 0, "fact", fact="police_report_wanted", value=False, person="lars"),
    Action(m(70), 0, "complete", step="3.1.2", person="lars", note="Polisen kontaktad"),
    Action(m(75), 1, "complete", step="3.1.1", person="olle", note="Ingen fara"),
    Action(m(76), 1, "fact", fact="strategist_needed", value=False, person="olle"),
    Action(m(90), 1, "close", person="olle"),
    Action(m(100), 0, "ack", step="3.2.3", person="per"),
    Action(m(105), 0, "ack", step="3.2.3", person="karin"),
    Action(m(110), 0, "complete", step="3.2.2b", person="per", checked=("transport_home", "company_at_home")),
    Action(m(120), 0, "complete", step="3.2.3", person="per", note="Partikamrater informerade"),
    Action(m(130), 0, "complete", step="3.2.3b", person="per"),
    Action(m(140), 0, "close", person="karin"),
)


class Link:
    """The connections to the test: lines out on one, the test's "ok" for each delivery on the other."""

    def __init__(self, writer: asyncio.StreamWriter, reader: asyncio.StreamReader) -> None:
        self.writer = writer
        self.reader = reader
        self.lock = asyncio.Lock()

    def send(self, line: str) -> None:
        # An asyncio socket transport writes at once when nothing is buffered: the line is on its way to the test
        # before the caller goes on (and the kernel delivers it even if this process is killed next).
        self.writer.write(line.encode() + b"\n")

    async def delivered(self, line: str) -> None:
        async with self.lock:  # one delivery at a time: the test answers them in order
            self.send(line)
            answer = await self.reader.readline()
            if answer != b"ok\n":
                raise SystemExit(f"the test did not confirm the delivery: {answer!r}")


class Wire(Channel):
    """A channel whose "provider" is the test: each delivery is one line, confirmed before the receipt."""

    name: ClassVar[str] = "wire"
    medium: ClassVar[Medium] = Medium.SMS

    def __init__(self, link: Link) -> None:
        super().__init__()
        self.link = link

    async def deliver(self, message: OutboundMessage) -> Receipt:
        await self.link.delivered(f"D {message.key} {message.kind} {message.person_id} {message.medium}")
        return Receipt(self.name, message.address, ReceiptStatus.DELIVERED, provider_id=message.key)


class ReportingStore(SqliteStore):
    """The SQLite store, telling the test before and after each commit."""

    link: Link

    async def commit(self, commit: Commit) -> int:
        types = ",".join(e.type.partition("@")[0] for e in commit.events) or "-"
        settled = ",".join(commit.outbox_done) or "-"
        self.link.send(f"B {commit.incident_id} {commit.expected_version} {types} {settled}")
        version = await super().commit(commit)
        self.link.send(f"C {commit.incident_id} {version} {types}")
        return version


def done(action: Action, trail: list[ev.Event]) -> bool:
    """Whether the trail already holds the action's event (each action writes its event in one commit)."""
    if action.what == "report":
        return bool(trail)
    for e in trail:
        if (
            action.what == "ack"
            and isinstance(e, ev.Acknowledged)
            and (e.step, e.person) == (action.step, action.person)
        ):
            return True
        if action.what == "fact" and isinstance(e, ev.FactRecorded) and e.fact == action.fact:
            return True
        if action.what == "complete" and isinstance(e, ev.StepCompleted) and e.step == action.step:
            return True
        if action.what == "close" and isinstance(e, ev.IncidentClosed):
            return True
    return False


async def perform(engine: Engine, action: Action, ids: dict[int, str]) -> None:
    if action.what == "report":
        incident = await engine.report(
            kind=action.kind,
            severity=action.severity,
            party=action.party,
            targeted=action.targeted,
            description="Hotfullt brev hem till den utsatte",
        )
        assert incident.reference == reference(action.incident), incident.reference
        ids[action.incident] = incident.id
        return
    incident_id = ids[action.incident]
    if action.what == "ack":  # by SMS reply code, as a person would
        trail = await engine.trail(incident_id)
        code = next(
            e.code
            for e in reversed(trail)
            if isinstance(e, ev.NotificationQueued) and (e.step, e.person) == (action.step, action.person) and e.code
        )
        person = engine.municipality.directory.people[action.person]
        phone = next(c.address for c in person.contacts if c.medium is Medium.SMS)
        await engine.handle_inbound(InboundEvent(InboundKind.ACKNOWLEDGE, "sms", phone, reply_code=code))
    elif action.what == "fact":
        await engine.record_fact(incident_id, action.fact, action.value, by=action.person)
    elif action.what == "complete":
        await engine.complete(
            incident_id, step=action.step, person=action.person, note=action.note, checked=action.checked
        )
    elif action.what == "close":
        await engine.close(incident_id, by=action.person, reason="Avslutat")
    else:
        raise ValueError(action.what)


async def run(db: str, config: str, port: int) -> None:
    """One run: resume from the file and play the rest of the script."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"P {os.getpid()}\n".encode())
    await writer.drain()
    reader, answers = await asyncio.open_connection("127.0.0.1", port)  # second: the test pairs them by order
    link = Link(writer, reader)
    store = ReportingStore(db)
    store.link = link
    ids: dict[int, str] = {}
    trails: dict[int, list[ev.Event]] = {}
    start = T0
    for number in range(1 + max(a.incident for a in SCRIPT)):
        found = await store.find(reference(number))
        if found is not None:
            ids[number] = found
            trails[number] = [ev.decode(r.type, r.payload) for r in await store.load(found)]
            start = max(start, trails[number][-1].at)
    wire = Wire(link)
    engine = Engine.from_config(
        config,
        store=store,
        clock=VirtualClock(start),
        plugins=HothatPlugins(get_plugin_manager(load_entrypoints=False)),
        channels={"sms": wire, "voice": wire, "email": wire},
        token_secret=b"crash-test-secret" * 3,
    )
    async with engine:
        for index, action in enumerate(SCRIPT):
            if done(action, trails.get(action.incident, [])):
                continue
            target = T0 + action.at
            if target > engine.clock.now():
                await engine.advance(target - engine.clock.now())
            await engine.idle()  # as in an unbroken run: the deliveries a restart resumed come first
            await perform(engine, action, ids)
            await engine.idle()
            link.send(f"A {index}")
        if engine.clock.now() < T0 + END:
            await engine.advance(T0 + END - engine.clock.now())
    link.send("END")
    for stream in (writer, answers):
        stream.close()
        await stream.wait_closed()


def _child(db: str, config: str, port: str) -> int:
    try:
        asyncio.run(run(db, config, int(port)))
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def serve() -> None:
    """The fork server: one run per "run DB CONFIG PORT" line on stdin, one "exit PID CODE" line per run."""
    for line in sys.stdin:
        command, *args = line.split()
        if command != "run" or len(args) != 3:
            print(f"error unknown command {line.strip()!r}", flush=True)
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the run: its own process, which the test may kill at any moment
            code = _child(*args)
            sys.stderr.flush()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(f"exit {pid} {os.waitstatus_to_exitcode(status)}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve()
    elif sys.argv[1:2] == ["run"] and len(sys.argv) == 5:
        sys.exit(_child(*sys.argv[2:5]))
    else:
        sys.exit(f"usage: {sys.argv[0]} serve | run DB CONFIG PORT")
