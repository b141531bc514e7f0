"""Helpers for the reliability, fuzz, forged-input, secrets and privacy tests (and ``benchmarks/soak.py``).

- :func:`oxelosund`: the shipped Oxelösund file with its ``[channels]`` replaced.
- :class:`FaultyGateway`: the SMS package's ``FakeGateway`` with seeded, per-request fault injection (5xx,
  answers held past the client's read timeout, connections dropped after the message was taken).
- :class:`Outage`: an httpx transport that sends every request to a closed loopback port while ``down`` is set,
  so the channel meets a real "connection refused".
- :class:`SmtpServer`: an aiosmtpd server on 127.0.0.1 (login without TLS) that can be stopped and restarted on
  the same port.
- :class:`Tap`: a channel wrapper that records every ``OutboundMessage`` before handing it to the real channel.
- :func:`check_trails` and :func:`run_load`: the load-with-faults run and its invariants, shared by the test
  (150 incidents) and the soak benchmark (1,000).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
import re
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qs, urlsplit

import httpx

from hothat.channels import Channel, MemoryChannel, OutboundMessage, Receipt
from hothat.config import load_config_text
from hothat.domain import Medium, Municipality
from hothat.engine import Engine, VirtualClock
from hothat.engine import events as ev
from hothat.engine.core import IncidentState, StepStatus
from hothat.engine.events import FailureKind
from hothat.plugins import HothatPlugins, get_plugin_manager
from hothat.store.sqlite import SqliteStore

OXELOSUND_TEXT = resources.files("hothat").joinpath("data", "oxelosund.toml").read_text(encoding="utf-8")
FRIDAY_NIGHT = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
HOOKS = "https://intranat.oxelosund.example/hothat/hooks/sms"
TOKEN_SECRET = b"reliability-link-secret-0123456789abcdef"

MEMORY_CHANNELS = """
[channels.sms]
plugin = "memory"
medium = "sms"

[channels.voice]
plugin = "memory"
medium = "voice"

[channels.email]
plugin = "memory"
medium = "email"
"""


def oxelosund(channels: str = MEMORY_CHANNELS, *, extra: str = "") -> Municipality:
    """The shipped Oxelösund municipality with its ``[channels]`` tables replaced (and ``extra`` TOML appended)."""
    head, _, rest = OXELOSUND_TEXT.partition("# --8<-- [start:channels]")
    _, _, tail = rest.partition("# --8<-- [end:channels]")
    return load_config_text(head + channels + tail + extra, "oxelosund.toml")


def plugins(*extra: object) -> HothatPlugins:
    """A plugin relay without entry points (so a half-finished plugin elsewhere in the tree cannot interfere)."""
    return HothatPlugins(get_plugin_manager(load_entrypoints=False, plugins=extra))


def free_port() -> int:
    """A loopback port nobody listens on (bound, read and closed at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- SMS: a gateway with faults, and an outage --------------------------------------------------------------------

try:  # the SMS plugin is part of the workspace, but a test module that needs it skips cleanly without it
    from hothat_sms.testing import FakeGateway, GatewayRequest, GatewayResponse
except ImportError:  # pragma: no cover
    FakeGateway = object  # type: ignore[assignment,misc]


class FaultyGateway(FakeGateway):  # type: ignore[misc,valid-type]
    """A ``FakeGateway`` that fails a seeded share of the send requests it receives.

    Kinds, drawn once per request: ``5xx`` (answered 503 before the message is taken: nothing sent), ``timeout``
    (the message is taken, the answer held for ``hold`` seconds, past the client's read timeout: sent, but the
    client cannot know) and ``drop`` (taken, then the connection closed without an answer: sent, unknown to the
    client). ``injected`` counts them.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        p_5xx: float = 0.0,
        p_timeout: float = 0.0,
        p_drop: float = 0.0,
        hold: float = 0.6,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("max_messages", 1_000_000)
        super().__init__(**kwargs)
        self.p_5xx, self.p_timeout, self.p_drop, self.hold = p_5xx, p_timeout, p_drop, hold
        self._rng = random.Random(seed)
        self._fault_lock = threading.Lock()
        self._release = threading.Event()
        self.injected: Counter[str] = Counter()

    def _draw(self) -> str | None:
        with self._fault_lock:
            r = self._rng.random()
            kind = None
            if r < self.p_5xx:
                kind = "5xx"
            elif r < self.p_5xx + self.p_timeout:
                kind = "timeout"
            elif r < self.p_5xx + self.p_timeout + self.p_drop:
                kind = "drop"
            if kind:
                self.injected[kind] += 1
            return kind

    # FakeGateway has no public per-request fault hook; its `_handle` is the documented routing point.
    def _handle(self, request: GatewayRequest) -> GatewayResponse | None:
        kind = self._draw()
        if kind == "5xx":
            return GatewayResponse.text(503, "Service Unavailable")
        answer = super()._handle(request)
        if kind == "timeout":
            self._release.wait(self.hold)
        if kind == "drop":
            return None
        return answer

    def stop(self) -> None:
        self._release.set()
        super().stop()

    def records_by_key(self) -> dict[str, list[Any]]:
        """Every message the gateway took, by the engine's message key (the ``ref`` of its status URL)."""
        out: dict[str, list[Any]] = defaultdict(list)
        for sms in self.messages:
            out[message_key(sms)].append(sms)
        return out


def message_key(sms: Any) -> str:
    """The engine's key of a message the gateway took (46elks ``whendelivered`` / Twilio ``StatusCallback``)."""
    if sms.status_url is None:
        return ""
    return parse_qs(urlsplit(sms.status_url).query).get("ref", [""])[0]


def reply_code(text: str) -> str | None:
    """The reply code a person reads in an SMS ("Svara 12 ... 12n ..."), if it asks for one."""
    match = re.search(r"\b(\d{2,6})n\b", text)
    return match[1] if match else None


class Outage(httpx.AsyncBaseTransport):
    """While ``down`` is set, every request goes to a closed loopback port: the kernel refuses the connection."""

    def __init__(self) -> None:
        self.down = False
        self.refused = 0
        self._inner = httpx.AsyncHTTPTransport()
        self._dead = free_port()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            self.refused += 1
            request.url = request.url.copy_with(host="127.0.0.1", port=self._dead)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


# -- e-mail: a real SMTP server -----------------------------------------------------------------------------------


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 taking a login over plain SMTP (loopback only); :meth:`stop` and
    :meth:`start` again reuse the port, so a channel configured once sees the server go away and come back."""

    def __init__(self, username: str = "hothat", password: str = "smtp-password") -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.username, self.password = username, password
        self.port = free_port()
        self.received: list[tuple[list[str], bytes]] = []

        server = self

        class Handler:
            async def handle_DATA(self, srv: Any, session: Any, envelope: Any) -> str:
                server.received.append((list(envelope.rcpt_tos), bytes(envelope.content)))
                return "250 OK"

        def authenticator(srv: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == (
                server.username,
                server.password,
            )
            return AuthResult(success=ok)

        def make() -> Any:
            return Controller(
                Handler(),
                hostname="127.0.0.1",
                port=self.port,
                authenticator=authenticator,
                auth_require_tls=False,
                ready_timeout=5,
            )

        self._make = make
        self._controller: Any = None

    def start(self) -> SmtpServer:
        if self._controller is None:
            self._controller = self._make()
            self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def texts(self) -> list[str]:
        """Every received mail decoded (headers and every text part), for content checks."""
        import email
        import email.policy

        out = []
        for _, raw in self.received:
            mail = email.message_from_bytes(raw, policy=email.policy.default)
            parts = [f"{k}: {v}" for k, v in mail.items()]
            for part in mail.walk():
                if part.get_content_maintype() == "text":
                    parts.append(str(part.get_content()))
            out.append("\n".join(parts))
        return out


# -- channels -----------------------------------------------------------------------------------------------------


class Tap(Channel):
    """Records each message the engine hands over, then delivers it through ``inner`` (same settings)."""

    name: ClassVar[str] = "tap"
    medium: ClassVar[Medium] = Medium.SMS

    def __init__(self, inner: Channel, log: list[OutboundMessage]) -> None:
        super().__init__(inner.settings)
        self.inner = inner
        self.log = log

    async def deliver(self, message: OutboundMessage) -> Receipt:
        self.log.append(message)
        return await self.inner.deliver(message)

    def parse_inbound(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> Any:
        return self.inner.parse_inbound(method, url, headers, body)

    async def aclose(self) -> None:
        await self.inner.aclose()


class Recorder(MemoryChannel):
    """A memory channel that appends to a shared list (voice while no phone-tree plugin is importable)."""

    def __init__(self, log: list[OutboundMessage]) -> None:
        super().__init__()
        self.log = log

    async def deliver(self, message: OutboundMessage) -> Receipt:
        receipt = await super().deliver(message)
        self.log.append(message)
        return receipt


# -- trails -------------------------------------------------------------------------------------------------------


async def read_trails(path: Path) -> dict[str, list[ev.Event]]:
    """Every incident's trail as a fresh reader of the SQLite file sees it (the ``_contacts`` trail left out)."""
    async with SqliteStore(path) as store:
        out = {}
        for incident_id in await store.incidents():
            if incident_id.startswith("_"):
                continue
            out[incident_id] = [ev.decode(r.type, r.payload) for r in await store.load(incident_id)]
        return out


def replay(municipality: Municipality, trail: Sequence[ev.Event]) -> IncidentState:
    """Rebuild an incident's state from its trail alone, as a restarted engine does."""
    first = trail[0]
    assert isinstance(first, ev.IncidentReported), f"a trail starts with IncidentReported, not {first!r}"
    routine = municipality.known_routine(first.incident.routine)
    assert routine is not None
    state = IncidentState.start(first, routine, municipality.directory)
    for event in trail[1:]:
        state.apply(event)
    return state


def step_settled(state: IncidentState, step_id: str) -> str | None:
    """How a step ended (completed, acknowledged, skipped, exhausted, blocked behind an exhausted step), or None."""
    st = state.steps[step_id]
    if st.status in (StepStatus.COMPLETED, StepStatus.ACKNOWLEDGED, StepStatus.SKIPPED):
        return str(st.status)
    if st.status is StepStatus.ACTIVE and st.tracks and all(t.exhausted or t.assignee for t in st.tracks):
        return "exhausted"
    if st.status is StepStatus.PENDING:
        deps = state.routine.dependencies(state.step(step_id))
        if any(step_settled(state, d) in ("exhausted", "blocked") for d in deps):
            return "blocked"
    return None


def trail_problems(
    municipality: Municipality, incident_id: str, trail: Sequence[ev.Event], *, finished: bool = True
) -> list[str]:
    """What is wrong with one trail: one outcome per queued message and, if the run is ``finished``, settled steps
    and an end (a human acknowledgement or ``EscalationExhausted``)."""
    problems: list[str] = []
    queued = [e.key for e in trail if isinstance(e, ev.NotificationQueued)]
    outcomes = Counter(e.key for e in trail if isinstance(e, ev.NotificationSent | ev.DeliveryFailed))
    if len(set(queued)) != len(queued):
        problems.append(f"{incident_id}: a key was queued twice")
    for key in queued:
        if outcomes[key] != 1:
            problems.append(f"{incident_id}: {key} has {outcomes[key]} outcome events")
    for key in set(outcomes) - set(queued):
        problems.append(f"{incident_id}: {key} has an outcome but was never queued")
    state = replay(municipality, trail)
    if not finished:
        return problems
    for step_id in state.steps:
        if step_settled(state, step_id) is None:
            problems.append(f"{incident_id}: step {step_id} is {state.steps[step_id].status} and not settled")
    human = any(isinstance(e, ev.Acknowledged) and e.via in ("sms", "email", "voice") for e in trail)
    exhausted = any(isinstance(e, ev.EscalationExhausted) for e in trail)
    if not (human or exhausted):
        problems.append(f"{incident_id}: ends with neither a human acknowledgement nor EscalationExhausted")
    return problems


# -- the load run -------------------------------------------------------------------------------------------------


@dataclass
class LoadReport:
    """What a load run did and found."""

    incidents: int = 0
    answering: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    events: int = 0
    event_types: Counter[str] = field(default_factory=Counter)
    sends: Counter[str] = field(default_factory=Counter)
    gateway_taken: int = 0
    retries: int = 0
    ambiguous: int = 0
    ambiguous_taken: int = 0
    duplicates: int = 0
    exhausted_incidents: int = 0
    acknowledged_incidents: int = 0
    replies: int = 0
    refused_replies: int = 0
    delivery_reports: int = 0
    stalls: int = 0
    slowest: list[tuple[str, timedelta]] = field(default_factory=list)
    virtual: timedelta = timedelta(0)
    wall: float = 0.0
    cpu: float = 0.0
    problems: list[str] = field(default_factory=list)

    def text(self) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.injected.items())) or "none"
        sends = ", ".join(f"{k} {v}" for k, v in sorted(self.sends.items()))
        slow = "; ".join(f"{ref} {_fmt(d)}" for ref, d in self.slowest)
        lines = [
            f"load run: {self.incidents} incidents ({self.answering} answered by SMS reply, the rest silent)",
            f"  wall time {self.wall:.1f} s (CPU {self.cpu:.1f} s), virtual time {_fmt(self.virtual)}",
            f"  injected faults: {faults} (of {sum(self.injected.values()) + self.gateway_taken} requests)",
            f"  events: {self.events} ({', '.join(f'{k} {v}' for k, v in self.event_types.most_common(8))}, ...)",
            f"  sends (NotificationSent): {sends}; SMS the gateway took: {self.gateway_taken}",
            f"  engine retries (DeliveryFailed retryable): {self.retries}",
            f"  possibly sent (DeliveryFailed ambiguous): {self.ambiguous}, of which the gateway had taken "
            f"{self.ambiguous_taken} (never resent)",
            f"  duplicate sends (one key taken twice): {self.duplicates}",
            f"  replies: {self.replies} ({self.refused_replies} not applied: the step was taken already), "
            f"delivery reports: {self.delivery_reports}",
            f"  incidents acknowledged by a human: {self.acknowledged_incidents}; with EscalationExhausted: "
            f"{self.exhausted_incidents}; StallDetected: {self.stalls}",
            f"  slowest chains (report to last acknowledgement, completion or exhaustion): {slow}",
            f"  problems: {len(self.problems)}",
            *(f"    {p}" for p in self.problems[:20]),
        ]
        return "\n".join(lines)


def _fmt(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


@dataclass(order=True)
class _Action:
    at: datetime
    seq: int
    what: str = field(compare=False)
    args: tuple[Any, ...] = field(compare=False)


async def run_load(
    db: Path,
    *,
    incidents: int,
    seed: int = 20261120,
    answer_share: float = 0.6,
    p_5xx: float = 0.05,
    p_timeout: float = 0.02,
    p_drop: float = 0.01,
    wall_limit: float = 600.0,
    synchronous: Literal["FULL", "NORMAL"] = "FULL",
) -> LoadReport:
    """Report ``incidents`` at once on a SQLite file, with SMS over HTTP to a faulty gateway, and run them out.

    A seeded share of the incidents is answered: each SMS asking for a reply gets one after a few minutes,
    through the gateway's signed callback and ``engine.inbound``, and each acknowledged step is completed a
    while later. The others are silent and must end in ``EscalationExhausted``. Then every trail is read back
    from the file and checked.
    """
    from hothat_sms import SmsChannel, SmsSettings

    report = LoadReport(incidents=incidents)
    rng = random.Random(seed)
    municipality = oxelosund()
    started, cpu = time.perf_counter(), time.process_time()
    with FaultyGateway(seed=seed, p_5xx=p_5xx, p_timeout=p_timeout, p_drop=p_drop) as gateway:
        settings = SmsSettings.model_validate(
            {
                "public_base_url": HOOKS,
                "providers": [gateway.provider_table("46elks")],
                "attempts_per_provider": 1,  # a 5xx goes back to the engine: its durable retry is under test
                "timeout": {"connect": 5, "read": 0.25, "write": 5, "pool": 60},
            }
        )
        sms = SmsChannel(settings)
        clock = VirtualClock(FRIDAY_NIGHT)
        engine = Engine(
            municipality,
            store=SqliteStore(db, synchronous=synchronous),
            clock=clock,
            plugins=plugins(),
            channels={"sms": sms, "voice": MemoryChannel(), "email": MemoryChannel()},
            token_secret=TOKEN_SECRET,
        )
        people_by_number = {
            c.address: p.id
            for p in municipality.directory.people.values()
            for c in p.contacts
            if c.medium is Medium.SMS
        }
        answering: set[str] = set()
        refs: dict[str, str] = {}
        steps = {s.id: s for s in municipality.routines["bilaga3"].steps}
        async with asyncio.timeout(wall_limit), engine:
            specs = []
            for _ in range(incidents):
                specs.append(
                    {
                        "kind": rng.choice(["threat", "harassment", "violence", "hate"]),
                        "severity": rng.choice(["serious", "serious", "acute", "threat"]),
                        "party": rng.choice(["s", "m", "c"]),
                        "targeted": rng.choice([None, "lena"]),
                        "facts": {
                            "strategist_needed": rng.random() < 0.5,
                            "police_report_wanted": rng.random() < 0.3,
                            "needs_healthcare": rng.random() < 0.2,
                        },
                    }
                )
            reported = await asyncio.gather(*(engine.report(**spec) for spec in specs))
            for incident in reported:
                refs[incident.id] = incident.reference
                if rng.random() < answer_share:
                    answering.add(incident.id)
            report.answering = len(answering)
            heap: list[_Action] = []
            counter = itertools.count()
            seen = 0
            replied: set[tuple[str, str, str]] = set()

            async def act(action: _Action) -> tuple[datetime, str] | None:
                """Do one scripted action; return a follow-up (when, what) for the same incident and step."""
                if action.what == "report":
                    await engine.inbound("sms", *gateway.delivery_report(action.args[0]))
                    return None
                if action.what == "reply":
                    sent, code, incident_id, step_id = action.args
                    # A person told the step is taken does not answer. (And must not: once the step is done, the
                    # engine gives the same code to the person's next request, which a late answer would take;
                    # see test_reliability_codes.py.)
                    if (await engine.status(incident_id)).step(step_id).status is not StepStatus.ACTIVE:
                        return None
                    request = gateway.reply("46elks", sms.webhook_url("46elks", "inbound"), sender=sent.to, text=code)
                    await engine.inbound("sms", *request)
                    report.replies += 1
                    return clock.now() + timedelta(minutes=rng.randint(5, 45)), "complete"
                incident_id, step_id = action.args
                view = (await engine.status(incident_id)).step(step_id)
                if view.status is StepStatus.ACKNOWLEDGED:
                    checked = [item.id for item in steps[step_id].checklist]
                    await engine.complete(incident_id, step=step_id, person=view.assignees[0], checked=checked)
                elif view.status is StepStatus.ACTIVE and view.assignees:  # a joint step, half taken
                    return clock.now() + timedelta(minutes=10), "complete"
                return None

            while True:
                await engine.idle()
                # New SMS at the gateway: schedule the scripted answers and some delivery reports.
                messages = gateway.messages
                for sent in messages[seen:]:
                    key = message_key(sent)
                    incident_id, step_id = key.split(":")[:2]
                    if rng.random() < 0.2:
                        report.delivery_reports += 1
                        heapq.heappush(heap, _Action(clock.now(), next(counter), "report", (sent,)))
                    code = reply_code(sent.text)
                    person = people_by_number.get(sent.to)
                    if incident_id in answering and code and person and (incident_id, step_id, person) not in replied:
                        replied.add((incident_id, step_id, person))
                        at = clock.now() + timedelta(minutes=rng.randint(1, 12))
                        heapq.heappush(heap, _Action(at, next(counter), "reply", (sent, code, incident_id, step_id)))
                seen = len(messages)
                now = clock.now()
                due = []
                while heap and heap[0].at <= now:
                    due.append(heapq.heappop(heap))
                results = await asyncio.gather(*(act(action) for action in due))
                for action, follow in zip(due, results, strict=True):
                    if follow is not None:
                        heapq.heappush(heap, _Action(follow[0], next(counter), follow[1], action.args[-2:]))
                if due:
                    continue
                wake = await engine.store.next_wake()
                targets = [t for t in (wake, heap[0].at if heap else None) if t is not None]
                if not targets:
                    break
                target = min(targets)
                if target - FRIDAY_NIGHT > timedelta(days=14):
                    report.problems.append(f"still running after 14 virtual days (next at {target})")
                    break
                await engine.advance(max(target - clock.now(), timedelta(0)))
            report.virtual = clock.now() - FRIDAY_NIGHT
            outbox = await engine.store.outbox()
            if outbox:
                report.problems.append(f"the outbox holds {len(outbox)} rows after the run")
            if engine.backlog:
                report.problems.append(f"the engine's backlog is {engine.backlog} after the run")
        records = gateway.records_by_key()
        report.injected = Counter(gateway.injected)
        report.gateway_taken = len(gateway.messages)
    await _check(report, db, municipality, answering, refs, records)
    report.wall = time.perf_counter() - started
    report.cpu = time.process_time() - cpu
    return report


async def _check(
    report: LoadReport,
    db: Path,
    municipality: Municipality,
    answering: set[str],
    refs: Mapping[str, str],
    records: Mapping[str, list[Any]],
) -> None:
    trails = await read_trails(db)
    report.refused_replies = report.replies
    if len(trails) != report.incidents:
        report.problems.append(f"{len(trails)} trails in the file for {report.incidents} incidents")
    ends: list[tuple[str, timedelta]] = []
    failed: dict[str, ev.DeliveryFailed] = {}
    sent: dict[str, ev.NotificationSent] = {}
    for incident_id, trail in trails.items():
        report.events += len(trail)
        report.event_types.update(type(e).__name__ for e in trail)
        report.problems.extend(trail_problems(municipality, incident_id, trail))
        for event in trail:
            if isinstance(event, ev.DeliveryFailed):
                failed[event.key] = event
            elif isinstance(event, ev.NotificationSent):
                sent[event.key] = event
                report.sends[event.channel] += 1
        if any(isinstance(e, ev.EscalationExhausted) for e in trail):
            report.exhausted_incidents += 1
        sms_acks = sum(isinstance(e, ev.Acknowledged) and e.via == "sms" for e in trail)
        report.refused_replies -= sms_acks
        if sms_acks:
            report.acknowledged_incidents += 1
        elif incident_id in answering:
            report.problems.append(f"{incident_id}: answered by SMS, yet no acknowledgement by SMS is recorded")
        if incident_id not in answering and not any(isinstance(e, ev.EscalationExhausted) for e in trail):
            report.problems.append(f"{incident_id}: nobody answered, yet no EscalationExhausted")
        report.stalls += sum(isinstance(e, ev.StallDetected) for e in trail)
        last = max(
            (e.at for e in trail if isinstance(e, ev.Acknowledged | ev.StepCompleted | ev.EscalationExhausted)),
            default=trail[0].at,
        )
        ends.append((refs.get(incident_id, incident_id), last - trail[0].at))
    report.retries = sum(f.failure is FailureKind.RETRYABLE for f in failed.values())
    report.ambiguous = sum(f.failure is FailureKind.AMBIGUOUS for f in failed.values())
    report.slowest = sorted(ends, key=lambda item: item[1], reverse=True)[:5]
    for key, taken in records.items():
        if len(taken) > 1:
            report.duplicates += 1
            report.problems.append(f"{key}: the gateway took it {len(taken)} times")
        if key in sent:
            if sent[key].provider_id != taken[0].id:
                report.problems.append(f"{key}: recorded as sent with another provider id")
        elif key in failed and failed[key].failure is FailureKind.AMBIGUOUS:
            report.ambiguous_taken += 1
        else:
            outcome = failed[key].failure if key in failed else "no outcome"
            report.problems.append(f"{key}: the gateway took it, but the trail says {outcome}")
    for key, event in sent.items():
        if event.channel == "sms" and key not in records:
            report.problems.append(f"{key}: recorded as sent by SMS, but the gateway never took it")


@contextlib.contextmanager
def env(**values: str) -> Iterator[None]:
    """Set environment variables for a block (monkeypatch is per test; this is for helpers)."""
    import os

    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


__all__ = [
    "FRIDAY_NIGHT",
    "HOOKS",
    "MEMORY_CHANNELS",
    "TOKEN_SECRET",
    "FaultyGateway",
    "LoadReport",
    "Outage",
    "Recorder",
    "SmtpServer",
    "Tap",
    "env",
    "free_port",
    "message_key",
    "oxelosund",
    "plugins",
    "read_trails",
    "replay",
    "reply_code",
    "run_load",
    "step_settled",
    "trail_problems",
]
