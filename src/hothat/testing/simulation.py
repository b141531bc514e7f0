"""Run a municipality's routine on a virtual clock, with scripted people, and read what happened.

```python
from hothat.testing import Simulation

async with Simulation("municipality.toml") as sim:
    sim.person("per").never_answers()
    sim.person("anna").answers_after("12m", via="sms")
    await sim.report(kind="threat", severity="serious", party="s", targeted="lena")
    await sim.run_until_quiet()
    print(sim.timeline.text())
    sim.assert_acknowledged("3.1.1", by_role="party_group_leader", within="30m")
```

The simulation runs the production :class:`~hothat.engine.Engine` unchanged, on a
:class:`~hothat.engine.VirtualClock` with a :class:`~hothat.store.MemoryStore`, and replaces every configured
channel with a recording channel of the same medium. People answer the way they are scripted, through the same
paths as real answers: an SMS reply code through ``engine.handle_inbound``, the signed link of an e-mail through
``engine.follow_link``, a keypress on a call through ``handle_inbound`` with the call's message key. Nothing
sleeps: hours of escalation run in milliseconds.

From synchronous code (a script, a plain pytest test), use :class:`SyncSimulation`, which owns its event loop.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import attrs

from hothat.channels import (
    Channel,
    InboundEvent,
    InboundKind,
    MessageKind,
    OutboundMessage,
    Receipt,
    ReceiptStatus,
)
from hothat.domain import Incident, Medium, Municipality, Routine, format_duration, parse_duration
from hothat.engine import Engine, VirtualClock
from hothat.engine import events as ev
from hothat.errors import DeliveryError, HothatError, PermanentDeliveryError
from hothat.plugins import HothatPlugins, get_plugin_manager
from hothat.store import MemoryStore
from hothat.testing import _checks
from hothat.testing.timeline import Timeline, TimelineBuilder, TimelineEntry

__all__ = [
    "DEFAULT_START",
    "PersonScript",
    "RecordingChannel",
    "Simulation",
    "SimulationAssertionError",
    "SimulationError",
    "SyncSimulation",
]

DEFAULT_START = "2026-03-10 10:00"
"""When a simulation starts unless told otherwise: a Tuesday morning, municipality time."""

_ASKS = frozenset({MessageKind.NOTIFY, MessageKind.ESCALATION, MessageKind.UNRESOLVED})
_SECRET = b"hothat-simulation-link-secret-not-for-production"
_QUIET_GUARD = 4

Duration = str | timedelta
T = TypeVar("T")


class SimulationError(HothatError):
    """A simulation was set up wrongly (an unknown person, a bad time)."""


class SimulationAssertionError(AssertionError):
    """An ``assert_*`` helper of a simulation failed; the message says what and shows the timeline so far."""


def _duration(value: Duration) -> timedelta:
    return value if isinstance(value, timedelta) else parse_duration(value)


def _clock_time(text: str) -> time:
    try:
        hours, minutes = text.strip().split(":")
        if hours == "24" and minutes == "00":
            return time(0, 0)
        return time(int(hours), int(minutes))
    except ValueError:
        raise SimulationError(f"{text!r} is not a time of day: write HH:MM, e.g. 18:00") from None


def parse_start(value: datetime | str | None, timezone: str) -> datetime:
    """A start time: an aware datetime, or ``"YYYY-MM-DD HH:MM"`` in the municipality's time zone (an ISO
    time with an offset is taken as written). Returns UTC."""
    if value is None:
        value = DEFAULT_START
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise SimulationError(
                f"{value!r} is not a start time: write e.g. 2026-03-12 21:30 (municipality time) "
                "or 2026-03-12T21:30:00+01:00"
            ) from None
        value = parsed
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value.astimezone(UTC)


# -- scripted people -------------------------------------------------------------------------------------------


class PersonScript:
    """How one simulated person behaves. Every method returns the script, so calls chain.

    By default a person never answers. Answers count from the first message about a step that reaches them
    (on the given medium, or on any), per incident and step.
    """

    def __init__(self, person: str) -> None:
        self.person = person
        self.answer: Literal["acknowledge", "decline"] | None = None
        self.delay = timedelta(0)
        self.via: Medium | None = None
        self.steps: frozenset[str] | None = None
        self.completion: timedelta | None = None
        self.note = ""
        self.unreachable_media: set[Medium] = set()
        self.away_windows: list[tuple[time, time]] = []
        self.always_away = False

    def __repr__(self) -> str:
        return f"<PersonScript {self.person}: {self.describe()}>"

    def _answer(
        self,
        answer: Literal["acknowledge", "decline"] | None,
        delay: Duration,
        via: Medium | str | None,
        steps: Iterable[str] | None,
    ) -> PersonScript:
        self.answer = answer
        self.delay = _duration(delay)
        if self.delay < timedelta(0):
            raise SimulationError(f"{self.person}: an answer cannot come before the message ({delay})")
        self.via = Medium(via) if via is not None else None
        self.steps = frozenset(steps) if steps is not None else None
        return self

    def answers_after(
        self, delay: Duration, *, via: Medium | str | None = None, steps: Iterable[str] | None = None
    ) -> PersonScript:
        """Takes the step ``delay`` after the first message about it reaches them (on ``via``, or any medium).

        Args:
            delay: ``"12m"`` or a timedelta.
            via: only a message on this medium counts (and the answer comes that way).
            steps: only these steps are answered; others are ignored.
        """
        return self._answer("acknowledge", delay, via, steps)

    def acknowledges_then_goes_silent(
        self, delay: Duration = "0s", *, via: Medium | str | None = None, steps: Iterable[str] | None = None
    ) -> PersonScript:
        """Takes the step and never completes it, so its ``done_within`` reminders show."""
        self.completion = None
        return self._answer("acknowledge", delay, via, steps)

    def completes_after(self, delay: Duration, *, note: str = "") -> PersonScript:
        """After taking a step, completes it ``delay`` later (ticking its checklist)."""
        self.completion = _duration(delay)
        self.note = note
        return self

    def declines(self, *, via: Medium | str | None = None, steps: Iterable[str] | None = None) -> PersonScript:
        """Answers "I can't" as soon as a message reaches them."""
        return self._answer("decline", timedelta(0), via, steps)

    def declines_after(
        self, delay: Duration, *, via: Medium | str | None = None, steps: Iterable[str] | None = None
    ) -> PersonScript:
        """Answers "I can't" ``delay`` after the first message reaches them."""
        return self._answer("decline", delay, via, steps)

    def never_answers(self) -> PersonScript:
        """Reads nothing, answers nothing (the default)."""
        self.answer = None
        self.completion = None
        return self

    def unreachable(self, *media: Medium | str) -> PersonScript:
        """Delivery on these media fails permanently (a wrong number, a full mailbox); all media if none given."""
        self.unreachable_media |= {Medium(m) for m in media} if media else set(Medium)
        return self

    def away(self, between: tuple[str, str] | None = None) -> PersonScript:
        """Does not see messages during a daily window (local time; ``("18:00", "08:00")`` runs past midnight)
        until it ends; without ``between``, away the whole time."""
        if between is None:
            self.always_away = True
        else:
            start, end = (_clock_time(t) for t in between)
            self.away_windows.append((start, end))
        return self

    def seen_at(self, at: datetime, zone: ZoneInfo) -> datetime | None:
        """When a message delivered at ``at`` is seen: at once, at the end of an away window, or never."""
        if self.always_away:
            return None
        seen = at
        for _ in range(len(self.away_windows) + 1):  # windows may touch: follow them until none holds
            local = seen.astimezone(zone)
            clock = local.time().replace(tzinfo=None)
            for start, end in self.away_windows:
                inside = start <= clock < end if start < end else (clock >= start or clock < end)
                if start == end:
                    inside = True
                if inside:
                    ends = datetime.combine(local.date(), end, tzinfo=zone)
                    if ends <= local:
                        ends = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone)
                    seen = ends.astimezone(UTC)
                    break
            else:
                return seen
        return seen

    def describe(self, lang: str = "en") -> str:
        """The script in words."""
        sv = lang != "en"
        if self.always_away:
            return "borta hela tiden" if sv else "away the whole time"
        parts = []
        if self.answer is None:
            parts.append("svarar aldrig" if sv else "never answers")
        else:
            verb = (
                ("tar steget" if sv else "takes the step")
                if self.answer == "acknowledge"
                else ("avböjer" if sv else "declines")
            )
            after = f"{'efter' if sv else 'after'} {format_duration(self.delay)}"
            parts.append(f"{verb} {after}" + (f" via {self.via}" if self.via else ""))
            if self.answer == "acknowledge":
                if self.completion is None:
                    parts.append("gör aldrig klart" if sv else "never completes")
                else:
                    parts.append(f"{'klart efter' if sv else 'completes after'} {format_duration(self.completion)}")
        if self.unreachable_media:
            media = ", ".join(sorted(m.value for m in self.unreachable_media))
            parts.append(f"{'nås inte via' if sv else 'unreachable by'} {media}")
        for start, end in self.away_windows:
            parts.append(f"{'borta' if sv else 'away'} {start:%H:%M}–{end:%H:%M}")
        return ", ".join(parts)


# -- the recording channel -------------------------------------------------------------------------------------


class RecordingChannel(Channel):
    """A channel that records every message in ``sent`` and lets the simulation react to it.

    ``fail_with`` maps an address to the error to raise instead of delivering (as ``MemoryChannel`` does).
    """

    name: ClassVar[str] = "simulation"
    medium: ClassVar[Medium] = Medium.SMS

    def __init__(
        self,
        binding: str = "",
        *,
        on_delivered: Callable[[str, OutboundMessage], None] | None = None,
        refuse: Callable[[OutboundMessage], DeliveryError | None] | None = None,
    ) -> None:
        super().__init__(None)
        self.binding = binding
        self.sent: list[OutboundMessage] = []
        self.fail_with: dict[str, DeliveryError] = {}
        self._on_delivered = on_delivered
        self._refuse = refuse

    async def deliver(self, message: OutboundMessage) -> Receipt:
        """Record the message (or raise a scripted failure) and tell the simulation."""
        error = self.fail_with.get(message.address) or (self._refuse(message) if self._refuse else None)
        if error is not None:
            raise error
        self.sent.append(message)
        if self._on_delivered is not None:
            self._on_delivered(self.binding, message)
        return Receipt(
            channel=self.binding or self.name,
            address=message.address,
            status=ReceiptStatus.DELIVERED,
            provider_id=message.key,
        )


class _SmsRecorder(RecordingChannel):
    medium: ClassVar[Medium] = Medium.SMS


class _EmailRecorder(RecordingChannel):
    medium: ClassVar[Medium] = Medium.EMAIL


class _VoiceRecorder(RecordingChannel):
    medium: ClassVar[Medium] = Medium.VOICE


_RECORDERS: Mapping[Medium, type[RecordingChannel]] = {
    Medium.SMS: _SmsRecorder,
    Medium.EMAIL: _EmailRecorder,
    Medium.VOICE: _VoiceRecorder,
}


# -- the agenda --------------------------------------------------------------------------------------------------


@attrs.frozen
class _Planned:
    at: datetime
    seq: int
    run: Callable[[], Awaitable[None]] = attrs.field(eq=False, order=False)

    def __lt__(self, other: _Planned) -> bool:
        return (self.at, self.seq) < (other.at, other.seq)


class Simulation:
    """A municipality's routine on a virtual clock, with scripted people.

    Args:
        config: a :class:`~hothat.domain.Municipality` or the path of its file.
        start: when the simulation starts: an aware datetime, or ``"2026-03-12 21:30"`` in the municipality's
            time zone. Default :data:`DEFAULT_START`.
        lang: the language of the timeline and of failure messages (``"sv"``, ``"en"``); default the
            municipality's.
        plugins: a plugin manager (default: the builtins only, no entry points, so an installed observer
            never sees simulated incidents).
        record: keep the timeline (turn off for large benchmarks).
    """

    def __init__(
        self,
        config: Municipality | str | os.PathLike[str],
        *,
        start: datetime | str | None = None,
        lang: str | None = None,
        plugins: HothatPlugins | None = None,
        record: bool = True,
    ) -> None:
        if isinstance(config, Municipality):
            self.municipality = config
        else:
            from hothat.config import load_config

            self.municipality = load_config(config)
        self.zone = ZoneInfo(self.municipality.timezone)
        self.start = parse_start(start, self.municipality.timezone)
        self.lang = lang or self.municipality.locale
        self.clock = VirtualClock(self.start)
        self.store = MemoryStore()
        self.plugins = plugins or HothatPlugins(get_plugin_manager(load_entrypoints=False))
        self.sent: list[OutboundMessage] = []
        """Every message delivered, in order."""
        self.channels: dict[str, RecordingChannel] = self._make_channels()
        self.engine = Engine(
            self.municipality,
            store=self.store,
            clock=self.clock,
            plugins=self.plugins,
            channels=self.channels,
            token_secret=_SECRET,
        )
        self.incidents: list[Incident] = []
        """The incidents reported, in order."""
        self._routines: dict[str, Routine] = {}
        self.record = record
        self._scripts: dict[str, PersonScript] = {}
        self._everyone = PersonScript("*")
        self._agenda: list[_Planned] = []
        self._seq = itertools.count()
        self._planned: set[tuple[str, str, str]] = set()
        self._builder = TimelineBuilder(self.municipality)
        self._started = False

    # -- setup ----------------------------------------------------------------------------------------------

    def _make_channels(self) -> dict[str, RecordingChannel]:
        available = self.plugins.channels()
        channels: dict[str, RecordingChannel] = {}
        for cfg in self.municipality.channels:
            cls = available.get(cfg.plugin)
            medium = cfg.medium or (cls.medium if cls is not None else Medium.SMS)
            channels[cfg.name] = self._recorder(cfg.name, medium)
        present = {type(c).medium for c in channels.values()}
        for medium in Medium:
            if medium not in present and medium.value not in channels:
                channels[medium.value] = self._recorder(medium.value, medium)
        return channels

    def _recorder(self, name: str, medium: Medium) -> RecordingChannel:
        return _RECORDERS[medium](name, on_delivered=self._delivered, refuse=self._refuse)

    def person(self, person_id: str) -> PersonScript:
        """The script of one person (created on first use), to say how they behave."""
        if person_id not in self.municipality.directory.people:
            known = ", ".join(sorted(self.municipality.directory.people))
            raise SimulationError(f"no person {person_id!r} in {self.municipality.source}; known: {known}")
        script = self._scripts.get(person_id)
        if script is None:
            script = self._scripts[person_id] = PersonScript(person_id)
        return script

    def everyone(self) -> PersonScript:
        """The script of everyone without a script of their own."""
        return self._everyone

    def script_of(self, person_id: str) -> PersonScript:
        """The script that applies to a person."""
        return self._scripts.get(person_id, self._everyone)

    def at(self, when: Duration | datetime, action: Callable[[Simulation], Awaitable[Any]]) -> None:
        """Run ``action(sim)`` at a time: an offset from the start (``"20m"``) or an aware datetime."""
        at = when if isinstance(when, datetime) else self.start + _duration(when)

        async def run() -> None:
            await action(self)

        self._plan(at, run)

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start_engine(self) -> None:
        """Start the engine (done by the first ``report``; ``async with`` does it too)."""
        if not self._started:
            await self.engine.start()
            self._started = True

    async def close(self) -> None:
        """Stop the engine."""
        if self._started:
            await self.engine.stop()
            self._started = False

    async def __aenter__(self) -> Simulation:
        await self.start_engine()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- time -----------------------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The simulated time (UTC)."""
        return self.clock.now()

    @property
    def elapsed(self) -> timedelta:
        """Simulated time since the timeline's origin (the first report), or since the start."""
        return self.now - (self._builder.origin or self.start)

    def _plan(self, at: datetime, run: Callable[[], Awaitable[None]]) -> None:
        heapq.heappush(self._agenda, _Planned(max(at, self.clock.now()), next(self._seq), run))

    async def advance(self, delta: Duration) -> datetime:
        """Move the clock forward by ``delta``, running every escalation and scripted answer due on the way."""
        await self.start_engine()
        await self._run_to(self.clock.now() + _duration(delta))
        await self._refresh()
        return self.clock.now()

    async def run_until(self, at: datetime) -> datetime:
        """Run until the simulated time ``at`` (aware)."""
        await self.start_engine()
        await self._run_to(max(at, self.clock.now()))
        await self._refresh()
        return self.clock.now()

    async def run_until_quiet(
        self, limit: Duration = "24h", *, progress: Callable[[timedelta, timedelta], None] | None = None
    ) -> datetime:
        """Run until nothing more is due (no wake-up, no scripted answer), or ``limit`` of simulated time.

        Args:
            limit: the most simulated time to run.
            progress: called with (simulated time run, limit) as the run goes (for a progress bar).
        """
        await self.start_engine()
        began = self.clock.now()
        span = _duration(limit)
        await self._run_to(
            began + span, quiet=True, progress=(lambda at: progress(at - began, span)) if progress else None
        )
        await self._refresh()
        return self.clock.now()

    async def _next(self) -> datetime | None:
        wake = await self.store.next_wake()
        planned = self._agenda[0].at if self._agenda else None
        if wake is None:
            return planned
        return wake if planned is None else min(wake, planned)

    async def _run_to(
        self, target: datetime, *, quiet: bool = False, progress: Callable[[datetime], None] | None = None
    ) -> None:
        stuck = 0
        last: tuple[datetime, datetime | None, int] | None = None
        while True:
            await self.engine.idle()
            nxt = await self._next()
            if nxt is None or nxt > target:
                break
            now = self.clock.now()
            # The engine fires its wake-ups up to nxt; our scripted answers due then come after them.
            await self.engine.advance(max(nxt - now, timedelta(0)))
            while self._agenda and self._agenda[0].at <= self.clock.now():
                planned = heapq.heappop(self._agenda)
                await planned.run()
                await self.engine.idle()
            if progress is not None:
                progress(self.clock.now())
            marker = (self.clock.now(), await self.store.next_wake(), len(self._agenda))
            stuck = stuck + 1 if marker == last else 0
            last = marker
            if stuck >= _QUIET_GUARD:  # a wake-up the engine refuses to move past: stop rather than spin
                break
        if not quiet and target > self.clock.now():
            await self.engine.advance(target - self.clock.now())

    # -- incidents and actions ------------------------------------------------------------------------------

    async def report(self, **kwargs: Any) -> Incident:
        """Report an incident now (the arguments of :meth:`hothat.engine.Engine.report`)."""
        await self.start_engine()
        incident = await self.engine.report(**kwargs)
        self.incidents.append(incident)
        routine = self.municipality.known_routine(incident.routine)
        if routine is not None:
            self._routines[incident.id] = routine
        await self.engine.idle()
        await self._refresh()
        return incident

    @property
    def incident(self) -> Incident:
        """The incident reported last."""
        if not self.incidents:
            raise SimulationError("no incident has been reported yet: call report() first")
        return self.incidents[-1]

    def _incident_id(self, incident: Incident | str | None) -> str:
        if incident is None:
            return self.incident.id
        return incident if isinstance(incident, str) else incident.id

    async def _act(self, action: Awaitable[None]) -> None:
        await action
        await self.engine.idle()
        await self._refresh()

    async def acknowledge(
        self, step: str, person: str, *, via: str = "api", incident: Incident | str | None = None
    ) -> None:
        """``person`` takes ``step`` (through the API, as an operator would)."""
        await self._act(self.engine.acknowledge(self._incident_id(incident), step=step, person=person, via=via))

    async def decline(
        self, step: str, person: str, *, via: str = "api", incident: Incident | str | None = None
    ) -> None:
        """``person`` declines ``step``."""
        await self._act(self.engine.decline(self._incident_id(incident), step=step, person=person, via=via))

    async def complete(
        self,
        step: str,
        person: str,
        *,
        note: str = "",
        checked: Sequence[str] | None = None,
        incident: Incident | str | None = None,
    ) -> None:
        """``person`` completes ``step``; ``checked`` defaults to every checklist item of the step."""
        incident_id = self._incident_id(incident)
        items = checked if checked is not None else self._checklist(incident_id, step)
        await self._act(self.engine.complete(incident_id, step=step, person=person, note=note, checked=items))

    async def record_fact(
        self, fact: str, value: bool, *, by: str | None = None, incident: Incident | str | None = None
    ) -> None:
        """Record a decided fact (``police_report_wanted``)."""
        await self._act(self.engine.record_fact(self._incident_id(incident), fact, value, by=by))

    async def assign_role(
        self, role: str, person: str, *, by: str | None = None, incident: Incident | str | None = None
    ) -> None:
        """Fill an incident role (the support person)."""
        await self._act(self.engine.assign_role(self._incident_id(incident), role, person, by=by))

    async def close_incident(
        self, *, by: str | None = None, reason: str = "", incident: Incident | str | None = None
    ) -> None:
        """Close the incident."""
        await self._act(self.engine.close(self._incident_id(incident), by=by, reason=reason))

    def _checklist(self, incident_id: str, step: str) -> list[str]:
        routine = self._routines.get(incident_id)
        if routine is None:
            return []
        try:
            return [item.id for item in routine.step(step).checklist]
        except KeyError:
            return []

    # -- scripted behaviour ---------------------------------------------------------------------------------

    def _refuse(self, message: OutboundMessage) -> DeliveryError | None:
        if message.medium in self.script_of(message.person_id).unreachable_media:
            return PermanentDeliveryError("simulated: unreachable", channel="simulation")
        return None

    def _delivered(self, binding: str, message: OutboundMessage) -> None:
        self.sent.append(message)
        script = self.script_of(message.person_id)
        if script.answer is None or message.kind not in _ASKS:
            return
        if script.steps is not None and message.step_id not in script.steps:
            return
        if script.via is not None and message.medium is not script.via:
            return
        key = (message.incident_id, message.step_id, message.person_id)
        if key in self._planned:
            return
        seen = script.seen_at(self.clock.now(), self.zone)
        if seen is None:
            return
        self._planned.add(key)
        answer = script.answer

        async def run() -> None:
            await self._answer(binding, message, answer, script)

        self._plan(seen + script.delay, run)

    async def _answer(
        self, binding: str, message: OutboundMessage, answer: Literal["acknowledge", "decline"], script: PersonScript
    ) -> None:
        incident_id, step, person = message.incident_id, message.step_id, message.person_id
        before = await self._version(incident_id)
        kind = InboundKind.ACKNOWLEDGE if answer == "acknowledge" else InboundKind.DECLINE
        problem = ""
        try:
            if message.medium is Medium.SMS and message.reply_code:
                await self.engine.handle_inbound(
                    InboundEvent(kind, binding, message.address, reply_code=message.reply_code)
                )
            elif message.medium is Medium.EMAIL and (message.ack_url or message.decline_url):
                url = message.ack_url if answer == "acknowledge" else message.decline_url
                token = parse_qs(urlparse(url or "").query).get("t", [""])[0]
                await self.engine.follow_link(token)
            elif message.medium is Medium.VOICE:
                await self.engine.handle_inbound(InboundEvent(kind, binding, message.address, message_key=message.key))
            elif answer == "acknowledge":
                await self.engine.acknowledge(incident_id, step=step, person=person, via=message.medium.value)
            else:
                await self.engine.decline(incident_id, step=step, person=person, via=message.medium.value)
        except HothatError as exc:
            problem = str(exc)
        await self.engine.idle()
        if await self._version(incident_id) == before:
            await self.note(incident_id, step, person, message.medium, problem or await self._why(incident_id, step))
            return
        if answer == "acknowledge" and script.completion is not None:

            async def complete() -> None:
                await self._complete(incident_id, step, person, script)

            self._plan(self.clock.now() + script.completion, complete)

    async def _complete(self, incident_id: str, step: str, person: str, script: PersonScript) -> None:
        # Only planned after the person's answer took the step, so they are its assignee (a completed step is
        # left alone by the engine; a closed incident or a joint step still waiting for others is noted).
        try:
            await self.engine.complete(
                incident_id, step=step, person=person, note=script.note, checked=self._checklist(incident_id, step)
            )
        except HothatError as exc:
            await self.note(incident_id, step, person, None, str(exc))
        await self.engine.idle()

    async def _version(self, incident_id: str) -> int:
        # The length of the trail: cheap on the memory store, and grows with every recorded answer.
        return len(await self.store.load(incident_id))

    async def _why(self, incident_id: str, step: str) -> str:
        view = await self.engine.status(incident_id)
        if view.incident.status != "open":
            return "closed"
        return str(view.step(step).status)

    async def note(self, incident_id: str, step: str, person: str, medium: Medium | None, why: str) -> None:
        """Put something that had no effect on the timeline (an answer after the step was taken)."""
        if not self.record:
            return
        reference = next((i.reference for i in self.incidents if i.id == incident_id), "")
        now = self.clock.now()
        await self._refresh()
        # The role the person was asked as for this step, so the note lands in their lane.
        role = next(
            (
                e.role
                for e in reversed(self._builder.entries)
                if e.incident == reference and e.step == step and e.person == person and e.role
            ),
            None,
        )
        self._builder.add(
            TimelineEntry(
                now,
                self._builder.offset(now),
                "no_effect",
                step=step,
                role=role,
                person=person,
                medium=medium,
                detail=why,
                incident=reference,
            )
        )

    # -- reading --------------------------------------------------------------------------------------------

    async def _refresh(self) -> None:
        if not self.record:
            return
        for incident in self.incidents:
            seen = self._builder.seen(incident.id)
            records = await self.store.load(incident.id)
            if len(records) > seen:
                self._builder.feed(incident.id, [ev.decode(r.type, r.payload) for r in records[seen:]])

    @property
    def timeline(self) -> Timeline:
        """What happened so far, as data; ``sim.timeline.text()`` prints it."""
        return self._builder.timeline(self.lang)

    async def trail(self, incident: Incident | str | None = None) -> list[ev.Event]:
        """The audit trail of an incident (default: the last one)."""
        return await self.engine.trail(self._incident_id(incident))

    def messages(
        self,
        *,
        person: str | None = None,
        kind: MessageKind | str | None = None,
        medium: Medium | str | None = None,
        step: str | None = None,
    ) -> list[OutboundMessage]:
        """The messages delivered, filtered."""
        return [
            m
            for m in self.sent
            if (person is None or m.person_id == person)
            and (kind is None or m.kind == kind)
            and (medium is None or m.medium == medium)
            and (step is None or m.step_id == step)
        ]

    # -- assertions -----------------------------------------------------------------------------------------

    def _fail_unless(self, outcome: _checks.Outcome) -> None:
        __tracebackhide__ = True
        if outcome.ok:
            return
        timeline = self.timeline
        en = self.lang == "en"
        heading = (
            "expected" if en else "förväntat",
            "instead" if en else "i stället",
            "timeline so far" if en else "tidslinjen hittills",
        )
        width = max(len(h) for h in heading[:2]) + 1
        raise SimulationAssertionError(
            f"{(heading[0] + ':').ljust(width)} {outcome.expected}\n{(heading[1] + ':').ljust(width)} "
            f"{outcome.actual}\n\n{heading[2]} ({self.municipality.name}):\n{timeline.text()}"
        )

    def _offset(self, within: Duration | None) -> timedelta | None:
        return _duration(within) if within is not None else None

    def assert_acknowledged(
        self,
        step: str,
        *,
        by_role: str | None = None,
        by_person: str | None = None,
        within: Duration | None = None,
    ) -> None:
        """Assert that ``step`` was taken (by that role or person) within ``within`` of the report."""
        __tracebackhide__ = True
        self._fail_unless(
            _checks.answered(
                self.timeline,
                self.elapsed,
                "acknowledged",
                step,
                role=by_role,
                person=by_person,
                within=self._offset(within),
            )
        )

    def assert_not_acknowledged(
        self, step: str, *, by_role: str | None = None, by_person: str | None = None, within: Duration | None = None
    ) -> None:
        """Assert that ``step`` was not taken (by that role or person, within ``within``)."""
        __tracebackhide__ = True
        self._fail_unless(
            _checks.answered(
                self.timeline,
                self.elapsed,
                "acknowledged",
                step,
                role=by_role,
                person=by_person,
                within=self._offset(within),
                expected=False,
            )
        )

    def assert_completed(
        self, step: str, *, by_role: str | None = None, by_person: str | None = None, within: Duration | None = None
    ) -> None:
        """Assert that ``step`` was completed within ``within``."""
        __tracebackhide__ = True
        self._fail_unless(
            _checks.answered(
                self.timeline,
                self.elapsed,
                "completed",
                step,
                role=by_role,
                person=by_person,
                within=self._offset(within),
            )
        )

    def assert_skipped(self, step: str) -> None:
        """Assert that ``step`` was skipped (its condition turned out false)."""
        __tracebackhide__ = True
        self._fail_unless(_checks.answered(self.timeline, self.elapsed, "skipped", step))

    def assert_escalated(self, step: str, *, expected: bool = True) -> None:
        """Assert that ``step`` escalated (or, with ``expected=False``, never did)."""
        __tracebackhide__ = True
        self._fail_unless(_checks.step_event(self.timeline, "escalated", step, expected=expected))

    def assert_exhausted(self, step: str, *, expected: bool = True) -> None:
        """Assert that ``step`` ran out of escalation levels (or never did)."""
        __tracebackhide__ = True
        self._fail_unless(_checks.step_event(self.timeline, "exhausted", step, expected=expected))

    def assert_contacted(
        self,
        *,
        role: str | None = None,
        person: str | None = None,
        medium: Medium | str | None = None,
        within: Duration | None = None,
    ) -> None:
        """Assert that a message reached ``role`` or ``person`` (on ``medium``, within ``within``)."""
        __tracebackhide__ = True
        self._fail_unless(
            _checks.contacted(
                self.timeline,
                role=role,
                person=person,
                medium=Medium(medium) if medium else None,
                within=self._offset(within),
            )
        )

    def assert_not_contacted(
        self, *, role: str | None = None, person: str | None = None, unless_fact: str | None = None
    ) -> None:
        """Assert that no message reached ``role`` or ``person`` (unless ``unless_fact`` was decided yes)."""
        __tracebackhide__ = True
        self._fail_unless(
            _checks.contacted(self.timeline, role=role, person=person, expected=False, unless_fact=unless_fact)
        )

    def assert_messages(
        self,
        *,
        person: str | None = None,
        role: str | None = None,
        kind: MessageKind | str | None = None,
        medium: Medium | str | None = None,
        count: int | None = None,
        at_most: int | None = None,
        at_least: int | None = None,
    ) -> None:
        """Assert how many messages were sent (to a person or role, of a kind, on a medium)."""
        __tracebackhide__ = True
        if count is None and at_most is None and at_least is None:
            raise SimulationError("assert_messages needs count, at_most or at_least")
        self._fail_unless(
            _checks.message_count(
                self.timeline,
                person=person,
                role=role,
                kind=MessageKind(kind) if kind else None,
                medium=Medium(medium) if medium else None,
                count=count,
                at_most=at_most,
                at_least=at_least,
            )
        )

    def assert_protected_not_named(self) -> None:
        """Assert that no message names a person with protected identity, in any part of it."""
        __tracebackhide__ = True
        self._fail_unless(_checks.protected_not_named(self.timeline, self.message_texts()))

    def message_texts(self) -> list[tuple[TimelineEntry | None, str]]:
        """Every delivered message's subject, text and HTML, with its timeline entry if found."""
        entries = {(e.incident, e.step, e.person, e.at): e for e in self.timeline.where("message")}
        refs = {i.id: i.reference for i in self.incidents}
        out = []
        for m in self.sent:
            entry = next(
                (
                    e
                    for (inc, step, person, _), e in entries.items()
                    if inc == refs.get(m.incident_id) and step == m.step_id and person == m.person_id
                ),
                None,
            )
            out.append((entry, "\n".join(filter(None, (m.subject, m.text, m.html or "")))))
        return out

    @classmethod
    def sync(cls, config: Municipality | str | os.PathLike[str], **kwargs: Any) -> SyncSimulation:
        """A :class:`SyncSimulation`: the same simulation, driven from synchronous code."""
        return SyncSimulation(config, **kwargs)


class SyncSimulation:
    """A :class:`Simulation` for synchronous code: it owns an event loop and runs each call to completion.

    ```python
    with SyncSimulation("municipality.toml") as sim:
        sim.person("anna").answers_after("12m")
        sim.report(kind="threat", severity="serious", party="s")
        sim.run_until_quiet()
        print(sim.timeline.text())
    ```

    Not for use inside a running event loop (an ``async def`` test): use :class:`Simulation` there.
    """

    def __init__(self, config: Municipality | str | os.PathLike[str], **kwargs: Any) -> None:
        self._runner = asyncio.Runner()
        self.sim = Simulation(config, **kwargs)

    def _run(self, coro: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await coro

        return self._runner.run(wrapped())

    def close(self) -> None:
        """Stop the engine and close the event loop."""
        try:
            self._run(self.sim.close())
        finally:
            self._runner.close()

    def __enter__(self) -> SyncSimulation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        # Reading methods, scripts and assertions are synchronous already: hand them through.
        if name.startswith("_") or name in ("start_engine", "note"):
            raise AttributeError(name)
        return getattr(self.sim, name)

    @property
    def timeline(self) -> Timeline:
        """What happened so far."""
        return self.sim.timeline

    def person(self, person_id: str) -> PersonScript:
        """The script of one person."""
        return self.sim.person(person_id)

    def report(self, **kwargs: Any) -> Incident:
        """Report an incident now."""
        return self._run(self.sim.report(**kwargs))

    def advance(self, delta: Duration) -> datetime:
        """Move the clock forward, running what falls due."""
        return self._run(self.sim.advance(delta))

    def run_until(self, at: datetime) -> datetime:
        """Run until the simulated time ``at``."""
        return self._run(self.sim.run_until(at))

    def run_until_quiet(self, limit: Duration = "24h", **kwargs: Any) -> datetime:
        """Run until nothing more is due, or ``limit``."""
        return self._run(self.sim.run_until_quiet(limit, **kwargs))

    def acknowledge(self, step: str, person: str, **kwargs: Any) -> None:
        """``person`` takes ``step``."""
        self._run(self.sim.acknowledge(step, person, **kwargs))

    def decline(self, step: str, person: str, **kwargs: Any) -> None:
        """``person`` declines ``step``."""
        self._run(self.sim.decline(step, person, **kwargs))

    def complete(self, step: str, person: str, **kwargs: Any) -> None:
        """``person`` completes ``step``."""
        self._run(self.sim.complete(step, person, **kwargs))

    def record_fact(self, fact: str, value: bool, **kwargs: Any) -> None:
        """Record a decided fact."""
        self._run(self.sim.record_fact(fact, value, **kwargs))

    def assign_role(self, role: str, person: str, **kwargs: Any) -> None:
        """Fill an incident role."""
        self._run(self.sim.assign_role(role, person, **kwargs))

    def close_incident(self, **kwargs: Any) -> None:
        """Close the incident."""
        self._run(self.sim.close_incident(**kwargs))

    def trail(self, incident: Incident | str | None = None) -> list[ev.Event]:
        """The audit trail of an incident."""
        return self._run(self.sim.trail(incident))
