"""The imperative shell: the async ``Engine``.

It loads incidents from the store, asks the pure core what to do (:func:`hothat.engine.core.decide`), executes the
commands (resolving roles through the plugin hooks, queueing and delivering messages through channels), records
every outcome as an event, and sleeps until the next wake-up on its clock.

Guarantees:

- **Outbox first.** A message is written to the store (event and outbox row, one transaction) before its channel
  is called, and settled after. A crash in between re-delivers it at restart (at least once); a message recorded as
  sent is never sent again.
- **Nothing stops silently.** A failing hook falls back to the builtin behaviour; a failing channel is retried,
  moved past, or recorded as possibly sent; a role with nobody is recorded and ``unresolved_to`` is told.
- **One writer per incident.** All changes to an incident happen under its lock, in order.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import secrets
import socket
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pydantic

from hothat.channels import (
    Channel,
    Disclosure,
    InboundEvent,
    InboundKind,
    InboundResult,
    MessageKind,
    OutboundMessage,
)
from hothat.domain import (
    Incident,
    IncidentKind,
    LocationKind,
    MandateLink,
    Medium,
    Municipality,
    Person,
    ProtectedIdentity,
    Role,
    Severity,
)
from hothat.engine import events as ev
from hothat.engine.clock import Clock, SystemClock, VirtualClock
from hothat.engine.core import (
    IncidentState,
    Record,
    Resolve,
    Send,
    StepStatus,
    WakeAt,
    decide,
)
from hothat.engine.events import Event, FailureKind, Purpose
from hothat.errors import (
    AmbiguousDeliveryError,
    ConcurrencyError,
    ConfigProblem,
    ConfigurationError,
    DeliveryError,
    HothatError,
    IncidentError,
    PermanentDeliveryError,
    RetryableDeliveryError,
    StoreError,
    TokenError,
    UnknownChannelError,
)
from hothat.plugins import HothatPlugins, get_plugin_manager, validation_problems
from hothat.store import Commit, EventRecord, MemoryStore, OutboxItem, Store, WakeUp

__all__ = ["Engine", "IncidentView", "StepView"]

log = logging.getLogger("hothat.engine")

_MAX_LOOP = 10_000
_CONFLICT_RETRIES = 5
_CODE_QUARANTINE = timedelta(hours=24)
_DRIVE_TOGETHER = 32
_BACKLOG_RETRY = timedelta(seconds=5)
_CONTACTS = "_contacts"
"""The trail of contact preferences (STOP/START): not an incident, never open, never in reports."""
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(now: datetime) -> str:
    """A ULID: 48 bits of milliseconds and 80 random bits, Crockford base32, sortable by time."""
    value = (int(now.timestamp() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    out = []
    for _ in range(26):
        out.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(out))


@attrs.frozen
class _Key:
    """A notification's idempotency key: ``incident:step:ask:contact:attempt`` (step ids may hold colons)."""

    incident: str
    step: str
    ask: int
    contact: int
    attempt: int

    def __str__(self) -> str:
        return f"{self.incident}:{self.step}:{self.ask}:{self.contact}:{self.attempt}"

    @classmethod
    def parse(cls, key: str) -> _Key | None:
        """The parts of ``key``, or ``None`` for a string that is not one of ours (e.g. a mangled callback)."""
        head, *numbers = key.rsplit(":", 3)
        incident, _, step = head.partition(":")
        try:
            ask, contact, attempt = (int(n) for n in numbers)
        except ValueError:
            return None
        return cls(incident, step, ask, contact, attempt) if incident and step else None


@attrs.frozen
class StepView:
    """A step as ``Engine.status`` reports it."""

    id: str
    title: str
    status: StepStatus
    assignees: tuple[str, ...]
    level: int
    asked: tuple[str, ...]
    waiting_for: str | None = None


@attrs.frozen
class IncidentView:
    """An incident as ``Engine.status`` reports it."""

    incident: Incident
    steps: tuple[StepView, ...]
    version: int

    def step(self, step_id: str) -> StepView:
        """One step's view."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


@attrs.frozen
class _Binding:
    name: str
    channel: Channel
    medium: Medium
    disclosure: Disclosure
    internal: bool
    slots: asyncio.Semaphore = attrs.field(eq=False)


class Engine:
    """Runs a municipality's routines.

    Args:
        municipality: the configuration (see :func:`hothat.config.load_config`).
        store: where trails live; a :class:`~hothat.store.MemoryStore` if not given (use
            :meth:`from_config` for the SQLite default).
        clock: :class:`SystemClock` (default) or a :class:`VirtualClock` for simulation.
        plugins: the hook relay; built with :func:`hothat.plugins.get_plugin_manager` if not given.
        channels: channel instances by configured name, replacing those the config would build (tests).
        token_secret: the secret for signed links; read from the config's ``token_secret_env`` if not given.
        deliver_timeout: seconds a channel's ``deliver`` may take before the attempt counts as ambiguous.
        delivery_lease: how long a process holds a notification it delivers (several processes on one store);
            another process takes it over after that. Default: ``deliver_timeout`` + 30 s.
        stall_after: a wake-up found overdue by more than this is recorded as ``StallDetected`` (the watchdog),
            logged as an error and shown to observers, before the escalation moves on.
    """

    def __init__(
        self,
        municipality: Municipality,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        plugins: HothatPlugins | None = None,
        channels: Mapping[str, Channel] | None = None,
        token_secret: bytes | None = None,
        deliver_timeout: float = 30.0,
        stall_after: timedelta = timedelta(minutes=2),
        delivery_lease: timedelta | None = None,
    ) -> None:
        self.municipality = municipality
        self.store: Store = store if store is not None else MemoryStore()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.plugins = plugins if plugins is not None else HothatPlugins(get_plugin_manager())
        self.deliver_timeout = deliver_timeout
        self.stall_after = stall_after
        self._channel_overrides = dict(channels or {})
        self._bindings: dict[str, _Binding] = {}
        self._default_for: dict[Medium, str] = {}
        self._states: dict[str, IncidentState] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._codes: dict[str, dict[str, tuple[str, str]]] = {}
        self._codes_of: dict[str, set[tuple[str, str, str]]] = {}  # incident → (person, code, step) reserved
        self._quarantine: dict[str, dict[str, datetime]] = {}  # person → released code → when
        self._queued: dict[str, ev.NotificationQueued] = {}
        self._provider_ids: dict[str, tuple[str, str]] = {}
        self._optout: set[str] = set()
        self._seen_replies: set[str] = set()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._observed: dict[str, asyncio.Future[None]] = {}
        self._unrecorded: dict[str, tuple[str, Event]] = {}
        self._inflight: set[str] = set()
        self._results: dict[str, list[tuple[str, Event]]] = {}
        self._draining: set[str] = set()
        # A store shared by several engine processes (PostgreSQL) says so; a single-process store (memory, SQLite)
        # has one engine at a time, which may take over the leases of the process that ran before it.
        self._shared = bool(getattr(self.store, "shared", False))
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}" if self._shared else "local"
        self._lease = delivery_lease or timedelta(seconds=deliver_timeout + 30)
        self._retry_delivery: set[tuple[str, str]] = set()
        self._wake = asyncio.Event()
        self._scheduler: asyncio.Task[None] | None = None
        self._started = False
        self._ref_counter = 0
        self._by_address = self._index_addresses()
        self._protected_people = tuple(
            p.name for p in municipality.directory.people.values() if p.protected_identity and p.name
        )
        self._observers = bool(self.plugins.pm.hook.hothat_incident_event.get_hookimpls())
        self._tokens = self._make_tokens(token_secret)

    # -- construction -------------------------------------------------------------------------------------------

    @classmethod
    def from_config(
        cls,
        config: str | os.PathLike[str] | Municipality,
        *,
        store: Store | str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> Engine:
        """Build an engine from a municipality file (or a loaded ``Municipality``).

        The store defaults to the SQLite file the config names (``store = "hothat.db"``, relative to the config
        file), ``":memory:"`` gives a :class:`MemoryStore`; pass a path or a store to override.
        """
        if isinstance(config, Municipality):
            municipality = config
            base = Path.cwd()
        else:
            from hothat.config import load_config

            municipality = load_config(config)
            base = Path(config).resolve().parent
        if store is None or isinstance(store, str | os.PathLike):
            target = str(store if store is not None else municipality.store)
            if target == ":memory:":
                store_obj: Store = MemoryStore()
            elif target.startswith(("postgresql://", "postgres://")):
                from hothat.store.postgres import PostgresStore

                store_obj = PostgresStore(target, municipality=municipality.id)
            else:
                from hothat.store.sqlite import SqliteStore

                path = Path(target)
                store_obj = SqliteStore(path if path.is_absolute() else base / path)
        else:
            store_obj = store
        return cls(municipality, store=store_obj, **kwargs)

    def _make_tokens(self, secret: bytes | None) -> Any:
        from hothat.messages.tokens import LinkTokens, secret_from_env

        if secret is None:
            try:
                secret = secret_from_env(self.municipality.token_secret_env)
            except ConfigurationError:
                log.warning(
                    "%s is not set: e-mail links use a temporary secret and stop working after a restart",
                    self.municipality.token_secret_env,
                )
                secret = secrets.token_bytes(48)
        return LinkTokens(secret)

    def _index_addresses(self) -> dict[str, tuple[str, ...]]:
        index: dict[str, list[str]] = {}
        for person in self.municipality.directory.people.values():
            for contact in person.contacts:
                index.setdefault(contact.address.lower(), [])
                if person.id not in index[contact.address.lower()]:
                    index[contact.address.lower()].append(person.id)
        return {k: tuple(v) for k, v in index.items()}

    def _build_channels(self) -> None:
        available = self.plugins.channels()
        problems: list[ConfigProblem] = []
        for cfg in self.municipality.channels:
            instance = self._channel_overrides.get(cfg.name)
            if instance is None:
                cls = available.get(cfg.plugin)
                if cls is None:
                    raise UnknownChannelError(
                        f"{self.municipality.source}: channels.{cfg.name}.plugin: no installed plugin provides "
                        f"{cfg.plugin!r} (installed: {', '.join(sorted(available)) or 'none'}); "
                        f"install it, e.g. pip install hothat-{cfg.plugin.split('.')[0]}"
                    )
                try:
                    settings = cls.Settings.model_validate(dict(cfg.settings))
                except pydantic.ValidationError as exc:
                    for loc, msg in validation_problems(exc):
                        path = f"channels.{cfg.name}" + (f".{loc}" if loc else "")
                        problems.append(ConfigProblem(self.municipality.source, path, msg))
                    continue
                instance = cls(settings)
            medium = cfg.medium or type(instance).medium
            disclosure = Disclosure(cfg.disclosure) if cfg.disclosure else type(instance).default_disclosure
            internal = bool(getattr(instance.settings, "internal", False))
            self._bindings[cfg.name] = _Binding(
                cfg.name, instance, medium, disclosure, internal, asyncio.Semaphore(max(1, instance.concurrency))
            )
            self._default_for.setdefault(medium, cfg.name)
        for name, instance in self._channel_overrides.items():
            if name not in self._bindings:
                medium = type(instance).medium
                self._bindings[name] = _Binding(
                    name,
                    instance,
                    medium,
                    type(instance).default_disclosure,
                    False,
                    asyncio.Semaphore(max(1, instance.concurrency)),
                )
                self._default_for.setdefault(medium, name)
        if problems:
            raise ConfigurationError(problems)

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Build the channels, resume every open incident, and (on a real clock) start the scheduler."""
        if self._started:
            return
        self._build_channels()
        self._started = True
        self._ref_counter = sum(1 for i in await self.store.incidents() if not i.startswith("_"))
        await self._resume()
        if not isinstance(self.clock, VirtualClock):
            self._scheduler = asyncio.create_task(self._schedule(), name="hothat-scheduler")

    async def stop(self) -> None:
        """Finish deliveries in flight, stop the scheduler, close channels and the store."""
        if not self._started:
            return
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
            self._scheduler = None
        await self.idle()
        for binding in self._bindings.values():
            try:
                await binding.channel.aclose()
            except Exception:
                log.exception("channel %s failed to close", binding.name)
        await self.store.close()
        self._started = False

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        return self._started

    async def idle(self) -> None:
        """Wait until every delivery and observer call in flight has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _resume(self) -> None:
        for incident_id in await self.store.open_incidents():
            await self._load(incident_id)
        # Every unsettled outbox row is delivered, closed incidents' too (the notice that an incident was closed);
        # with a shared store, only the rows no live process holds.
        rows = await (self.store.stale_outbox(self.clock.now(), 1_000_000) if self._shared else self.store.outbox())
        for item in rows:
            try:
                state = self._states.get(item.incident_id) or await self._load(item.incident_id)
            except IncidentError:
                log.exception("outbox row %s belongs to an incident that cannot be loaded", item.key)
                continue
            if item.key in state.settled:
                continue
            self._spawn_delivery(item.incident_id, item.key)
        for record in await self.store.load(_CONTACTS):
            event = ev.decode(record.type, record.payload)
            if isinstance(event, ev.OptOutChanged):
                (self._optout.add if event.opted_out else self._optout.discard)(event.address)
            elif isinstance(event, ev.ReplySeen):
                self._seen_replies.add(event.reply)
            elif isinstance(event, ev.CodesRested) and self.clock.now() - event.at < _CODE_QUARANTINE:
                for entry in event.codes:
                    person, _, code = entry.rpartition(":")
                    self._quarantine.setdefault(person, {})[code] = event.at
        # Overdue wake-ups fire at once, earliest first (and the watchdog records how late they are).
        await self.run_due()

    async def _schedule(self) -> None:
        while True:
            self._wake.clear()
            try:
                nxt = await self.store.next_wake()
                if self.backlog or self._shared:
                    retry_at = self.clock.now() + _BACKLOG_RETRY
                    nxt = min(nxt, retry_at) if nxt is not None else retry_at
                if nxt is None:
                    await self._wake.wait()
                    continue
                await self.clock.sleep_until(nxt, self._wake)
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The store is locked or full, or a bug: log it, wait a little, try again. Never stop scheduling.
                log.exception("the scheduler failed; it tries again in %s s", _BACKLOG_RETRY.total_seconds())
                await self.clock.sleep_until(self.clock.now() + _BACKLOG_RETRY, asyncio.Event())

    async def run_due(self) -> int:
        """Drive every incident whose wake-up is due; returns how many were driven.

        The watchdog: a wake-up overdue by more than ``stall_after`` (the engine was down, blocked or overloaded)
        is recorded in the incident's trail as ``StallDetected`` and logged as an error before the escalation
        moves on, so a stalled escalation is never silent.
        """
        await self._flush_unrecorded()
        if self._shared:
            # Another process may have died holding deliveries: take over those whose lease ran out.
            # Only rows older than a lease: a younger one is most likely being delivered by the process that queued it.
            grace = self.clock.now() - self._lease
            for item in await self.store.stale_outbox(self.clock.now(), 500):
                if item.created_at <= grace:
                    self._spawn_delivery(item.incident_id, item.key)
        count = 0
        while True:
            now = self.clock.now()
            due = await self.store.due(now, limit=500)
            if not due:
                return count
            # Incidents are independent: drive them together (earliest first into the queue), so a durable store
            # can write their commits as one group instead of one fsync each.
            for first in range(0, len(due), _DRIVE_TOGETHER):
                group = due[first : first + _DRIVE_TOGETHER]
                await asyncio.gather(*(self._drive_due(wake, now) for wake in group))
                count += len(group)
            if len(due) < 500:
                return count

    async def _drive_due(self, wake: WakeUp, now: datetime) -> None:
        overdue = (now - wake.at).total_seconds()
        initial: list[Event] = []
        if overdue > self.stall_after.total_seconds():
            log.error("escalation stalled: a wake-up was %.0f s overdue; it moves on now", overdue)
            initial.append(ev.StallDetected(now, wake.at, overdue))
        try:
            await self._drive(wake.incident_id, initial)
        except IncidentError:
            log.exception("incident %s cannot be resumed", wake.incident_id)

    async def _flush_unrecorded(self) -> None:
        """Record delivery outcomes the store refused earlier, and retry deliveries that could not be prepared."""
        for key, (incident_id, result) in list(self._unrecorded.items()):
            del self._unrecorded[key]
            await self._record_result(incident_id, key, result)
        for incident_id, key in list(self._retry_delivery):
            self._retry_delivery.discard((incident_id, key))
            self._spawn_delivery(incident_id, key)

    @property
    def backlog(self) -> int:
        """Delivery outcomes and deliveries waiting for the store to accept them (0 when all is well)."""
        return len(self._unrecorded) + len(self._retry_delivery)

    async def advance(self, delta: timedelta | str) -> datetime:
        """Move a virtual clock forward, firing every wake-up on the way at its exact time."""
        if not isinstance(self.clock, VirtualClock):
            raise HothatError("advance() needs a VirtualClock; a real clock moves by itself")
        if isinstance(delta, str):
            from hothat.domain import parse_duration

            delta = parse_duration(delta)
        target = self.clock.now() + delta
        guard = 0
        while True:
            if self.backlog:
                await self._flush_unrecorded()
            await self.idle()
            nxt = await self.store.next_wake()
            if nxt is None or nxt > target:
                break
            if nxt > self.clock.now():
                self.clock.set(nxt)
            driven = await self.run_due()
            guard = guard + 1 if driven == 0 else 0
            if guard > 3:
                log.error("wake-ups at %s do not advance; stopping the clock there", nxt.isoformat())
                break
        self.clock.set(max(target, self.clock.now()))
        await self.idle()
        return self.clock.now()

    # -- state --------------------------------------------------------------------------------------------------

    def _lock(self, incident_id: str) -> asyncio.Lock:
        lock = self._locks.get(incident_id)
        if lock is None:
            lock = self._locks[incident_id] = asyncio.Lock()
        return lock

    async def _load(self, incident_id: str) -> IncidentState:
        state = self._states.get(incident_id)
        if state is not None:
            return state
        records = await self.store.load(incident_id)
        if not records:
            raise IncidentError(f"no incident with id {incident_id!r}")
        first = ev.decode(records[0].type, records[0].payload)
        assert isinstance(first, ev.IncidentReported)
        routine = self.municipality.known_routine(first.incident.routine)
        if routine is None:
            raise IncidentError(
                f"incident {first.incident.reference} runs routine {first.incident.routine!r}, "
                "which the configuration no longer has; restore it to resume the incident"
            )
        state = IncidentState.start(first, routine, self.municipality.directory)
        for record in records[1:]:
            event = ev.decode(record.type, record.payload)
            state.apply(event)
            self._index_event(incident_id, event, codes=False)
        state.version = len(records)
        # Reply codes stay reserved only for steps still waiting for someone, as in an engine that never stopped.
        if not state.closed:
            for (step_id, person), code in state.codes.items():
                step_state = state.steps[step_id]
                if step_state.status not in (StepStatus.COMPLETED, StepStatus.SKIPPED):
                    self._reserve_code(person, code, incident_id, step_id)
                elif step_state.completed_at is not None:
                    self._quarantine.setdefault(person, {})[code] = step_state.completed_at
        if not state.closed:
            self._states[incident_id] = state
        return state

    def _index_event(self, incident_id: str, event: Event, *, codes: bool = True) -> None:
        if isinstance(event, ev.NotificationQueued):
            self._queued[event.key] = event
            if codes and event.code is not None:
                self._reserve_code(event.person, event.code, incident_id, event.step)
        elif isinstance(event, ev.NotificationSent):
            self._queued.pop(event.key, None)
            if event.provider_id:
                self._provider_ids[event.provider_id] = (incident_id, event.key)
        elif isinstance(event, ev.DeliveryFailed):
            self._queued.pop(event.key, None)

    def _reserve_code(self, person: str, code: str, incident_id: str, step: str) -> None:
        self._codes.setdefault(person, {})[code] = (incident_id, step)
        self._codes_of.setdefault(incident_id, set()).add((person, code, step))

    def _release_codes(self, incident_id: str, step: str | None = None) -> None:
        """Free the reply codes of a finished step (or of the whole incident)."""
        reserved = self._codes_of.get(incident_id)
        if not reserved:
            return
        for entry in [e for e in reserved if step is None or e[2] == step]:
            person, code, _ = entry
            codes = self._codes.get(person)
            if codes is not None and codes.get(code, ("", ""))[0] == incident_id:
                del codes[code]
                self._quarantine.setdefault(person, {})[code] = self.clock.now()
            reserved.discard(entry)
        if not reserved:
            del self._codes_of[incident_id]

    # -- the loop -----------------------------------------------------------------------------------------------

    async def _drive(
        self,
        incident_id: str,
        initial: Sequence[Event] = (),
        *,
        settle: Sequence[str] = (),
        new: bool = False,
    ) -> IncidentState:
        """Apply ``initial`` events, decide until nothing more is due, commit once, then deliver.

        When another writer (another engine process) appended first, the trail is reloaded and the same
        ``initial`` events are applied to it again: they are outcomes (a delivery result, a stall) that stay true.
        """
        for attempt in range(_CONFLICT_RETRIES):
            try:
                async with self._lock(incident_id):
                    return await self._drive_locked(incident_id, initial, settle=settle, new=new)
            except ConcurrencyError:
                if new or attempt + 1 == _CONFLICT_RETRIES:
                    raise
                log.info("incident %s changed under us; reloading its trail", incident_id)
        raise AssertionError("unreachable")

    async def _drive_locked(
        self,
        incident_id: str,
        initial: Sequence[Event] = (),
        *,
        settle: Sequence[str] = (),
        new: bool = False,
        first: IncidentState | None = None,
    ) -> IncidentState:
        state = first if first is not None else await self._load(incident_id)
        base_version = 0 if new else state.version
        if new:
            state.version = 1  # IncidentState.start already holds the IncidentReported event
        produced: list[Event] = list(initial)
        for event in initial:
            if not (new and isinstance(event, ev.IncidentReported)):
                state.apply(event)
        to_deliver: list[str] = []
        outbox: list[OutboxItem] = []
        wake: datetime | None = None
        for _ in range(_MAX_LOOP):
            now = self.clock.now()
            commands = decide(state, now)
            wake = None
            actions = []
            for command in commands:
                if isinstance(command, WakeAt):
                    wake = command.at
                else:
                    actions.append(command)
            if not actions:
                break
            for command in actions:
                for event in self._execute(state, command, now):
                    state.apply(event)
                    produced.append(event)
                    if isinstance(event, ev.NotificationQueued):
                        to_deliver.append(event.key)
                        outbox.append(OutboxItem(event.key, incident_id, json.dumps({"key": event.key}), now))
        else:
            log.error("incident %s: decisions did not settle; the next wake-up retries", incident_id)
        if not produced and not settle:
            return state
        records = []
        for event in produced:
            tag, payload = ev.encode(event)
            records.append(EventRecord(tag, payload, event.at))
        commit = Commit(
            incident_id=incident_id,
            expected_version=base_version,
            events=tuple(records),
            wake_at=wake,
            outbox_put=tuple(outbox),
            outbox_done=tuple(settle),
            is_open=not state.closed,
            reference=state.incident.reference,
            municipality=self.municipality.id,
        )
        try:
            await self.store.commit(commit)
        except Exception:
            # Our in-memory state ran ahead of the store: forget it, the trail is the truth.
            self._states.pop(incident_id, None)
            raise
        for event in produced:
            self._index_event(incident_id, event)
        if state.closed:
            self._release_codes(incident_id)
            self._states.pop(incident_id, None)
        else:
            self._states[incident_id] = state
        self._wake.set()
        for key in to_deliver:
            self._spawn_delivery(incident_id, key)
        if self._observers and produced:
            previous = self._observed.get(incident_id)
            task = asyncio.ensure_future(self._observe(previous, list(produced), state.incident, base_version + 1))
            self._observed[incident_id] = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(functools.partial(self._observed_done, incident_id))
        return state

    def _spawn_delivery(self, incident_id: str, key: str) -> None:
        """Deliver ``key`` in the background, once per process at a time."""
        if key in self._inflight:
            return
        self._inflight.add(key)
        self._spawn(self._deliver(incident_id, key))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _observed_done(self, incident_id: str, task: asyncio.Future[None]) -> None:
        if self._observed.get(incident_id) is task:
            del self._observed[incident_id]

    async def _observe(
        self, previous: asyncio.Future[None] | None, produced: Sequence[Event], incident: Incident, first: int
    ) -> None:
        # Observers see an incident's events in trail order: wait for the previous batch first.
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        for offset, event in enumerate(produced):
            await self.plugins.incident_event(event=event, incident=incident, version=first + offset)

    def _execute(self, state: IncidentState, command: Record | Resolve | Send, now: datetime) -> list[Event]:
        if isinstance(command, Record):
            return [command.event]
        if isinstance(command, Resolve):
            return [self._resolve(state, command, now)]
        return [self._queue(state, command, now)]

    def _resolve(self, state: IncidentState, cmd: Resolve, now: datetime) -> Event:
        directory = self.municipality.directory
        role = directory.roles.get(cmd.role) or Role(cmd.role)
        try:
            resolution = self.plugins.resolve_role(role=role, incident=state.incident, directory=directory, at=now)
        except Exception:
            log.exception("a hothat_resolve_role plugin failed for role %s; using the configuration", cmd.role)
            resolution = directory.resolve(
                cmd.role, state.incident.party, at=now, incident_holders=state.incident.holders
            )
        people = tuple(p.id for p in resolution.people)
        unavailable = tuple(p.id for p in resolution.unavailable)
        if people:
            return ev.TargetsResolved(
                now,
                cmd.step,
                cmd.slot,
                cmd.level,
                cmd.round,
                cmd.role,
                cmd.purpose,
                people,
                resolution.via,
                unavailable,
            )
        return ev.RoleUnresolved(
            now, cmd.step, cmd.slot, cmd.level, cmd.round, cmd.role, cmd.purpose, resolution.via, unavailable
        )

    def _queue(self, state: IncidentState, cmd: Send, now: datetime) -> ev.NotificationQueued:
        st = state.steps[cmd.step]
        ask = st.asks[cmd.ask]
        person = self.municipality.directory.people[ask.person]
        contact = person.contacts[cmd.contact]
        channel = contact.channel or self._default_for.get(contact.medium, "")
        code: str | None = None
        if contact.medium is Medium.SMS and ask.purpose in (Purpose.OWNER, Purpose.UNRESOLVED):
            code = state.codes.get((cmd.step, person.id))
            if code is None:
                code = self._allocate_code(person.id)
                self._reserve_code(person.id, code, state.incident.id, cmd.step)
        key = str(_Key(state.incident.id, cmd.step, cmd.ask, cmd.contact, cmd.attempt))
        return ev.NotificationQueued(
            now,
            key,
            cmd.step,
            person.id,
            ask.slot,
            ask.level,
            ask.kind,
            contact.medium,
            cmd.contact,
            channel,
            ask=cmd.ask,
            attempt=cmd.attempt,
            code=code,
        )

    def _allocate_code(self, person_id: str) -> str:
        """The smallest code free for this person: not used by an open request, nor released in the last 24 h.

        The quarantine matters: a person who answers an old SMS late must not take whatever the same code now
        means (a new incident). An answer to a released code matches nothing and is ignored.
        """
        from hothat.messages.codes import allocate_code

        now = self.clock.now()
        quarantined = self._quarantine.get(person_id, {})
        for code, released in list(quarantined.items()):
            if now - released >= _CODE_QUARANTINE:
                del quarantined[code]
        return allocate_code(set(self._codes.get(person_id, {})) | set(quarantined))

    # -- delivery -----------------------------------------------------------------------------------------------

    async def _deliver(self, incident_id: str, key: str) -> None:
        try:
            await self._deliver_claimed(incident_id, key)
        finally:
            self._inflight.discard(key)

    async def _deliver_claimed(self, incident_id: str, key: str) -> None:
        # The lease makes sure no two engine processes attempt the same notification at once (a shared store);
        # a single-process store always grants it to the one engine.
        now = self.clock.now()
        try:
            if not await self.store.claim(key, self._owner, now + self._lease, now=now):
                return  # settled already, or another process is delivering it
        except StoreError:
            log.exception("incident %s: cannot claim %s; retried at the next wake-up", incident_id, key)
            self._retry_delivery.add((incident_id, key))
            return
        queued: ev.NotificationQueued | None = None
        try:
            async with self._lock(incident_id):
                state = await self._load(incident_id)
                if key not in state.queued or key not in self._queued:
                    # Queued by another process after we cached this incident: read the trail again.
                    self._states.pop(incident_id, None)
                    state = await self._load(incident_id)
                queued = self._queued.get(key)
                if key in state.settled or queued is None:
                    # Nothing to deliver: give the lease back at once rather than sit on it until it runs out.
                    await self.store.claim(key, self._owner, now, now=now)
                    return
                binding = self._bindings.get(queued.channel)
                message = self._render(state, queued, binding) if binding is not None else None
        except StoreError:
            log.exception("incident %s: cannot load it to deliver %s; retried at the next wake-up", incident_id, key)
            self._retry_delivery.add((incident_id, key))
            return
        except Exception as exc:
            # A rendering bug (often a plugin's) must not leave the person waiting forever: record the failure,
            # and the engine moves on to the next contact point.
            log.exception("incident %s: cannot prepare message %s; moving on", incident_id, key)
            failed = ev.DeliveryFailed(
                self.clock.now(),
                key,
                (queued.channel if queued else "") or "-",
                FailureKind.PERMANENT,
                f"the message could not be prepared ({type(exc).__name__})",
            )
            await self._record_result(incident_id, key, failed)
            return
        result = await self._attempt(queued, binding, message)
        if result is not None:
            await self._record_result(incident_id, key, result)

    async def _renew(self, key: str) -> bool:
        """Renew our lease on ``key`` just before handing it over; False when another process holds it now."""
        now = self.clock.now()
        try:
            return await self.store.claim(key, self._owner, now + self._lease, now=now)
        except StoreError:
            log.exception("cannot renew the lease on %s; it is left to the next sweep", key)
            return False

    async def _record_result(self, incident_id: str, key: str, result: Event) -> None:
        """Record a delivery outcome; if the store refuses now (locked, full), keep it and record it later.

        Outcomes of one incident that arrive together are recorded in one commit: the first delivery task to
        finish drains what the others add meanwhile.
        """
        self._results.setdefault(incident_id, []).append((key, result))
        if incident_id in self._draining:
            return
        self._draining.add(incident_id)
        try:
            while self._results.get(incident_id):
                await asyncio.sleep(0)  # let deliveries finishing in this same turn join the batch
                batch = self._results.pop(incident_id)
                try:
                    await self._drive(incident_id, [r for _, r in batch], settle=[k for k, _ in batch])
                except Exception:
                    log.exception(
                        "incident %s: %d delivery outcome(s) could not be recorded; kept for the next wake-up",
                        incident_id,
                        len(batch),
                    )
                    for batch_key, batch_result in batch:
                        self._unrecorded[batch_key] = (incident_id, batch_result)
                    self._wake.set()
        finally:
            self._draining.discard(incident_id)

    async def _attempt(
        self, queued: ev.NotificationQueued, binding: _Binding | None, message: OutboundMessage | None
    ) -> Event | None:
        started = time.perf_counter()
        if binding is None or message is None:
            return ev.DeliveryFailed(
                self.clock.now(),
                queued.key,
                queued.channel or "-",
                FailureKind.PERMANENT,
                f"no channel is configured for {queued.medium}",
            )
        if queued.medium is Medium.SMS and message.address in self._optout:
            return ev.DeliveryFailed(
                self.clock.now(),
                queued.key,
                binding.name,
                FailureKind.PERMANENT,
                "the number has opted out (STOP)",
            )
        try:
            # Queue for the channel first; the timeout covers only the handing over (see Channel.concurrency).
            async with binding.slots:
                if self._shared and not await self._renew(queued.key):
                    return None  # the wait outlasted our lease and another process has taken the message over
                async with asyncio.timeout(self.deliver_timeout):
                    receipt = await binding.channel.deliver(message)
        except RetryableDeliveryError as exc:
            return ev.DeliveryFailed(
                self.clock.now(),
                queued.key,
                binding.name,
                FailureKind.RETRYABLE,
                _reason(exc),
                exc.retry_after,
            )
        except PermanentDeliveryError as exc:
            return ev.DeliveryFailed(self.clock.now(), queued.key, binding.name, FailureKind.PERMANENT, _reason(exc))
        except AmbiguousDeliveryError as exc:
            return ev.DeliveryFailed(self.clock.now(), queued.key, binding.name, FailureKind.AMBIGUOUS, _reason(exc))
        except TimeoutError:
            return ev.DeliveryFailed(
                self.clock.now(),
                queued.key,
                binding.name,
                FailureKind.AMBIGUOUS,
                f"the channel did not answer within {self.deliver_timeout:g} s",
            )
        except DeliveryError as exc:
            return ev.DeliveryFailed(self.clock.now(), queued.key, binding.name, FailureKind.RETRYABLE, _reason(exc))
        except Exception as exc:
            log.exception("channel %s raised %s; treated as a transient failure", binding.name, type(exc).__name__)
            return ev.DeliveryFailed(
                self.clock.now(),
                queued.key,
                binding.name,
                FailureKind.RETRYABLE,
                f"the channel raised {type(exc).__name__}",
            )
        log.debug("delivered %s via %s in %.1f ms", queued.key, binding.name, (time.perf_counter() - started) * 1e3)
        return ev.NotificationSent(
            self.clock.now(),
            queued.key,
            binding.name,
            receipt.provider_id,
            str(receipt.status),
            receipt.segments,
            receipt.encoding,
        )

    def _render(self, state: IncidentState, queued: ev.NotificationQueued, binding: _Binding) -> OutboundMessage:
        from hothat.messages.templates import Actor, RenderContext, render

        directory = self.municipality.directory
        incident = state.incident
        step = state.step(queued.step)
        st = state.steps[queued.step]
        ask = st.asks[queued.ask]
        person = directory.people[queued.person]
        contact = person.contacts[queued.contact]
        locale = person.language or self.municipality.locale
        disclosure = binding.disclosure
        if disclosure is Disclosure.FULL and not binding.internal:
            disclosure = Disclosure.STANDARD
        role_id = self._asked_role(state, queued)
        role_name = self._role_name(role_id, locale)
        taken_by = None
        if queued.kind is MessageKind.TAKEN:
            taken = [t for t in st.tracks if t.assignee is not None and t.acknowledged_at is not None]
            if taken:
                track = max(taken, key=lambda t: t.acknowledged_at or queued.at)
                assert track.assignee is not None
                taken_by = self._actor(
                    directory.people.get(track.assignee),
                    self._role_name(self._role_of(state, step.id, track.assignee, track.slot), locale),
                )
        targeted = None
        if incident.targeted:
            targeted_person = directory.people.get(incident.targeted)
            if targeted_person is not None:
                targeted = Actor(
                    name=targeted_person.name,
                    role_name=self._role_name("targeted_person", locale),
                    protected=targeted_person.protected_identity or incident.is_protected,
                )
        askable = ask.purpose in (Purpose.OWNER, Purpose.UNRESOLVED)
        ack_url = decline_url = None
        if askable and contact.medium is Medium.EMAIL:
            nonce = hashlib.sha256(queued.key.encode()).hexdigest()[:24]
            base = self.municipality.link_base_url.rstrip("/")
            for action in ("acknowledge", "decline"):
                from hothat.messages.tokens import LinkAction

                token = self._tokens.issue(
                    incident.id,
                    queued.step,
                    person.id,
                    LinkAction(action),
                    self.clock.now(),
                    nonce + action[0],
                )
                url = f"{base}/link?t={token}"
                if action == "acknowledge":
                    ack_url = url
                else:
                    decline_url = url
        party = directory.parties.get(incident.party) if incident.party else None
        context = RenderContext(
            municipality=self.municipality.name,
            reference=incident.reference,
            severity=incident.severity,
            incident_kind=incident.kind,
            occurred_at=incident.occurred_at,
            timezone=self.municipality.timezone,
            party_name=party.name if party else None,
            step_id=step.id,
            step_title=step.title,
            instruction=step.instruction,
            checklist=tuple(item.text for item in step.checklist),
            message_kind=queued.kind,
            medium=contact.medium,
            locale=locale,
            disclosure=disclosure,
            level=queued.level,
            reply_code=queued.code,
            ack_url=ack_url,
            decline_url=decline_url,
            ack_within=step.deadlines_for(incident.severity).ack_within,
            taken_by=taken_by,
            targeted=targeted,
            description=incident.description,
            recipient_role=role_name,
            internal=binding.internal,
        )
        try:
            rendered = self.plugins.render_message(context=context)
        except Exception:
            log.exception("a hothat_render_message plugin failed; using the builtin templates")
            rendered = render(context)
        protected = self._protected_names(incident)
        if _names_any(protected, rendered.subject, rendered.text, rendered.html or ""):
            log.warning(
                "incident %s: a rendered message named a protected person; the builtin text is used",
                incident.reference,
            )
            rendered = render(context)
            if _names_any(protected, rendered.subject, rendered.text, rendered.html or ""):
                rendered = attrs.evolve(
                    rendered,
                    subject=_redact(rendered.subject, protected),
                    text=_redact(rendered.text, protected),
                    html=_redact(rendered.html, protected) if rendered.html else rendered.html,
                )
        thread = base64.b32encode(hashlib.sha256(f"{incident.id}/{person.id}".encode()).digest()[:10]).decode().lower()
        sequence = self._email_sequence(state, person.id, queued.key) if contact.medium is Medium.EMAIL else 0
        return OutboundMessage(
            key=queued.key,
            incident_id=incident.id,
            reference=incident.reference,
            municipality=self.municipality.name,
            step_id=step.id,
            kind=queued.kind,
            person_id=person.id,
            medium=contact.medium,
            address=contact.address,
            locale=locale,
            disclosure=disclosure,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            reply_code=queued.code,
            ack_url=ack_url,
            decline_url=decline_url,
            thread=thread,
            sequence=sequence,
            prompt=rendered.prompt,
            attempt=queued.attempt,
        )

    def _email_sequence(self, state: IncidentState, person_id: str, key: str) -> int:
        """How many e-mails to this person about this incident were queued before ``key`` (trail order)."""
        person = self.municipality.directory.people.get(person_id)
        if person is None:
            return 0
        count = 0
        for queued_key, (step_id, index) in state.queued.items():  # dicts keep insertion (trail) order
            if queued_key == key:
                break
            parsed = _Key.parse(queued_key)
            if (
                parsed is not None
                and state.steps[step_id].asks[index].person == person_id
                and parsed.contact < len(person.contacts)
                and person.contacts[parsed.contact].medium is Medium.EMAIL
            ):
                count += 1
        return count

    def _asked_role(self, state: IncidentState, queued: ev.NotificationQueued) -> str:
        step = state.step(queued.step)
        ask = state.steps[queued.step].asks[queued.ask]
        if ask.purpose is Purpose.OWNER:
            chain = state.chain(step, ask.slot)
            return chain[min(ask.level, len(chain) - 1)]
        if ask.purpose is Purpose.UNRESOLVED:
            return state.unresolved_role(step)
        if (
            ask.purpose is Purpose.REMINDER
            and step.escalation
            and ask.person not in {t.assignee for t in state.steps[queued.step].tracks}
        ):
            return step.escalation[0]
        return step.owners[0]

    @staticmethod
    def _role_of(state: IncidentState, step_id: str, person: str, slot: int) -> str:
        """The role ``person`` was asked as for ``slot`` (the level's role, or ``unresolved_to``)."""
        step = state.step(step_id)
        for ask in reversed(state.steps[step_id].asks):
            if ask.person != person or ask.slot != slot:
                continue
            if ask.purpose is Purpose.OWNER:
                chain = state.chain(step, slot)
                return chain[min(ask.level, len(chain) - 1)]
            if ask.purpose is Purpose.UNRESOLVED:
                return state.unresolved_role(step)
        return step.owners[slot] if 0 <= slot < len(step.owners) else step.owners[0]

    def _role_name(self, role_id: str, locale: str) -> str:
        role = self.municipality.directory.roles.get(role_id)
        return role.name(locale) if role is not None else role_id

    @staticmethod
    def _actor(person: Person | None, role_name: str) -> Any:
        from hothat.messages.templates import Actor

        if person is None:
            return Actor(name=role_name, role_name=role_name, protected=True)
        return Actor(name=person.name, role_name=role_name, protected=person.protected_identity)

    def _protected_names(self, incident: Incident) -> list[str]:
        names = list(self._protected_people)
        if incident.targeted and incident.is_protected:
            targeted = self.municipality.directory.people.get(incident.targeted)
            if targeted is not None and targeted.name:
                names.append(targeted.name)
        return names

    # -- public actions -----------------------------------------------------------------------------------------

    def _check_started(self) -> None:
        if not self._started:
            raise HothatError("the engine is not running: use 'async with engine:' or 'await engine.start()'")

    async def report(
        self,
        *,
        kind: IncidentKind | str,
        severity: Severity | str,
        targeted: str | None = None,
        party: str | None = None,
        description: str = "",
        occurred_at: datetime | None = None,
        mandate_link: MandateLink | str = MandateLink.SUSPECTED,
        location_kind: LocationKind | str = LocationKind.OTHER,
        protected_identity: ProtectedIdentity | str | None = None,
        facts: Mapping[str, bool] | None = None,
        holders: Mapping[str, Sequence[str]] | None = None,
        reference: str | None = None,
        reported_by: str | None = None,
    ) -> Incident:
        """Report an incident and start its routine. Returns the incident (with its reference number).

        ``targeted`` and ``holders`` name person ids from the configuration; ``party`` a party id. The routine is
        chosen by the config's rules (kind, severity) and runs after the party's own chain, if it has one.
        """
        self._check_started()
        directory = self.municipality.directory
        try:
            kind_v = IncidentKind(kind)
            severity_v = Severity(severity)
            mandate_v = MandateLink(mandate_link)
            location_v = LocationKind(location_kind)
        except ValueError as exc:
            raise IncidentError(f"cannot report the incident: {exc}") from None
        if party is not None and party not in directory.parties:
            raise IncidentError(f"no party with id {party!r}; known: {', '.join(sorted(directory.parties))}")
        role_holders: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in (holders or {}).items()}
        for person_id in [targeted or "", *(p for v in role_holders.values() for p in v)]:
            if person_id and person_id not in directory.people:
                raise IncidentError(f"no person with id {person_id!r} in the configuration")
        if targeted:
            role_holders.setdefault("targeted_person", (targeted,))
        if protected_identity is None:
            target = directory.people.get(targeted) if targeted else None
            protection = (
                ProtectedIdentity.PROTECTED_REGISTRATION
                if target is not None and target.protected_identity
                else ProtectedIdentity.NONE
            )
        else:
            protection = ProtectedIdentity(protected_identity)
        now = self.clock.now()
        routine = self.municipality.routine_for(kind_v, severity_v, party)
        incident_id = new_id(now)
        ref = reference or await self._next_reference(now)
        incident = Incident(
            id=incident_id,
            reference=ref,
            municipality=self.municipality.id,
            kind=kind_v,
            severity=severity_v,
            routine=routine.id,
            occurred_at=occurred_at or now,
            reported_at=now,
            targeted=targeted,
            party=party,
            mandate_link=mandate_v,
            description=description,
            location_kind=location_v,
            protected_identity=protection,
            facts=dict(facts or {}),
            holders=role_holders,
        )
        for attempt in range(_CONFLICT_RETRIES):
            reported = ev.IncidentReported(now, incident, reported_by)
            state = IncidentState.start(reported, routine, self.municipality.directory)
            state.version = 0
            try:
                async with self._lock(incident.id):
                    await self._drive_locked(incident.id, [reported], new=True, first=state)
                break
            except ConcurrencyError:
                # Another engine process took this reference number at the same moment: take the next one.
                if reference is not None or attempt + 1 == _CONFLICT_RETRIES:
                    raise
                incident = attrs.evolve(incident, id=new_id(now), reference=await self._next_reference(now))
        log.info("incident %s reported (%s, %s)", incident.reference, kind_v, severity_v)
        return incident

    async def _next_reference(self, now: datetime) -> str:
        year = now.astimezone().year
        while True:
            self._ref_counter += 1
            ref = f"{self.municipality.reference_prefix}-{year}-{self._ref_counter:04d}"
            if await self.store.find(ref) is None:
                return ref

    async def _act(self, incident_id: str, build: Any) -> IncidentState:
        """Run ``build(state) -> events`` on the current state and drive; on a write conflict, on the new state."""
        self._check_started()
        for attempt in range(_CONFLICT_RETRIES):
            try:
                async with self._lock(incident_id):
                    state = await self._load(incident_id)
                    events = build(state)
                    if not events:
                        return state
                    for event in events:
                        if isinstance(event, ev.StepCompleted):
                            self._release_codes(incident_id, event.step)
                    return await self._drive_locked(incident_id, events, first=state)
            except ConcurrencyError:
                if attempt + 1 == _CONFLICT_RETRIES:
                    raise
                log.info("incident %s changed under us; reloading its trail", incident_id)
        raise AssertionError("unreachable")

    def _active_step(self, state: IncidentState, step_id: str) -> None:
        if state.closed:
            raise IncidentError(f"incident {state.incident.reference} is closed")
        if step_id not in state.steps:
            raise IncidentError(f"incident {state.incident.reference} has no step {step_id!r}")

    def _known_person(self, person: str) -> None:
        if person not in self.municipality.directory.people:
            raise IncidentError(f"no person with id {person!r} in the configuration")

    def _may_take(self, state: IncidentState, step_id: str, person: str) -> int:
        slot = state.ack_slot(step_id, person)
        if slot is not None:
            return slot
        st = state.steps[step_id]
        step = state.step(step_id)
        directory = self.municipality.directory
        for track in st.tracks:
            if track.assignee is not None:
                continue
            for role in state.chain(step, track.slot):
                if person in directory.direct_holders(role, state.incident.party, state.incident.holders):
                    return track.slot
        taken = [t.assignee for t in st.tracks if t.assignee]
        if taken and (len(taken) == len(st.tracks) or state.asked(step_id, person)):
            raise IncidentError(f"step {step_id} of {state.incident.reference} is already taken by {', '.join(taken)}")
        raise IncidentError(
            f"{person!r} was not asked for step {step_id} of {state.incident.reference} and holds none of its roles"
        )

    async def acknowledge(
        self, incident_id: str, *, step: str, person: str, via: str = "api", nonce: str | None = None
    ) -> None:
        """``person`` takes ``step``: escalation stops and everyone else asked is told who took it."""
        self._known_person(person)

        def build(state: IncidentState) -> list[Event]:
            self._active_step(state, step)
            st = state.steps[step]
            if st.status is not StepStatus.ACTIVE:
                if any(t.assignee == person for t in st.tracks):
                    return []
                raise IncidentError(f"step {step} of {state.incident.reference} is {st.status}, not waiting for anyone")
            if any(t.assignee == person for t in st.tracks) and not state.ack_slot(step, person):
                return []
            slot = self._may_take(state, step, person)
            return [ev.Acknowledged(self.clock.now(), step, person, slot, via, nonce)]

        await self._act(incident_id, build)

    async def decline(
        self, incident_id: str, *, step: str, person: str, via: str = "api", nonce: str | None = None
    ) -> None:
        """``person`` can't take ``step``: the engine moves on at once."""
        self._known_person(person)

        def build(state: IncidentState) -> list[Event]:
            self._active_step(state, step)
            if state.steps[step].status is not StepStatus.ACTIVE:
                return []
            if not state.asked(step, person):
                raise IncidentError(f"{person!r} was not asked for step {step} of {state.incident.reference}")
            return [ev.Declined(self.clock.now(), step, person, via, nonce)]

        await self._act(incident_id, build)

    async def record_fact(self, incident_id: str, fact: str, value: bool, *, by: str | None = None) -> None:
        """Record a decided fact (``police_report_wanted``); steps waiting for it go on or are skipped."""

        def build(state: IncidentState) -> list[Event]:
            if state.closed:
                raise IncidentError(f"incident {state.incident.reference} is closed")
            if state.incident.facts.get(fact) is value:
                return []
            return [ev.FactRecorded(self.clock.now(), fact, bool(value), by)]

        await self._act(incident_id, build)

    async def check(self, incident_id: str, *, step: str, item: str, person: str) -> None:
        """Tick one checklist item of a step."""
        self._known_person(person)

        def build(state: IncidentState) -> list[Event]:
            self._active_step(state, step)
            items = {i.id for i in state.step(step).checklist}
            if item not in items:
                raise IncidentError(f"step {step} has no checklist item {item!r}; it has: {', '.join(sorted(items))}")
            if item in state.steps[step].checked:
                return []
            return [ev.ChecklistChecked(self.clock.now(), step, item, person)]

        await self._act(incident_id, build)

    async def assign_role(self, incident_id: str, role: str, person: str, *, by: str | None = None) -> None:
        """Fill an incident-scoped role, e.g. the support person chosen in 3.2.1."""
        self._known_person(person)

        def build(state: IncidentState) -> list[Event]:
            if state.closed:
                raise IncidentError(f"incident {state.incident.reference} is closed")
            return [ev.RoleAssigned(self.clock.now(), role, person, by)]

        await self._act(incident_id, build)

    async def complete(
        self, incident_id: str, *, step: str, person: str, note: str = "", checked: Sequence[str] = ()
    ) -> None:
        """Mark a step done, with a note. Every checklist item must be ticked (now or before).

        A person who did the step without acknowledging it first takes it by completing it. A joint step can
        only be completed once every owner has taken it.
        """
        self._known_person(person)

        def build(state: IncidentState) -> list[Event]:
            self._active_step(state, step)
            st = state.steps[step]
            if st.status is StepStatus.COMPLETED:
                return []
            if st.status not in (StepStatus.ACTIVE, StepStatus.ACKNOWLEDGED):
                raise IncidentError(f"step {step} of {state.incident.reference} is {st.status} and cannot be completed")
            now = self.clock.now()
            out: list[Event] = []
            definition = state.step(step)
            items = {i.id for i in definition.checklist}
            unknown = set(checked) - items
            if unknown:
                raise IncidentError(f"step {step} has no checklist item(s) {', '.join(sorted(unknown))}")
            missing = items - st.checked - set(checked)
            if missing:
                unticked = ", ".join(sorted(missing))
                raise IncidentError(
                    f"step {step} of {state.incident.reference} has unticked checklist items: {unticked}"
                )
            if all(t.assignee != person for t in st.tracks):
                open_slots = [t for t in st.tracks if t.assignee is None]
                if not open_slots:
                    raise IncidentError(f"step {step} was taken by others; only they can complete it")
                out.append(ev.Acknowledged(now, step, person, self._may_take(state, step, person), "complete"))
            unassigned = sum(1 for t in st.tracks if t.assignee is None) - len(out)
            if definition.joint and unassigned > 0:
                raise IncidentError(f"step {step} is joint: every owner must take it before it is completed")
            for item in sorted(set(checked) - st.checked):
                out.append(ev.ChecklistChecked(now, step, item, person))
            out.append(ev.StepCompleted(now, step, person, note))
            return out

        await self._act(incident_id, build)

    async def close(self, incident_id: str, *, by: str | None = None, reason: str = "") -> None:
        """Close the incident: every escalation stops; people asked about unfinished steps are told."""
        # The codes it releases rest for a day, across restarts too: written before the close itself, so a crash
        # in between can only make them rest early, never let a late answer to this incident take a new one.
        released = sorted(f"{person}:{code}" for person, code, _ in self._codes_of.get(incident_id, ()))
        if released:
            await self._remember(ev.CodesRested(self.clock.now(), tuple(released)))

        def build(state: IncidentState) -> list[Event]:
            if state.closed:
                return []
            return [ev.IncidentClosed(self.clock.now(), by, reason)]

        await self._act(incident_id, build)

    # -- inbound ------------------------------------------------------------------------------------------------

    async def inbound(
        self, channel: str, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> InboundResult:
        """Hand a provider callback to its channel, act on what it says, and return the HTTP answer to give.

        Raises ``InboundError`` when the channel refuses the request (bad signature): answer it with 403.
        """
        self._check_started()
        binding = self._bindings.get(channel)
        if binding is None:
            raise UnknownChannelError(f"no channel named {channel!r} is configured")
        result = binding.channel.parse_inbound(method, url, headers, body)
        for event in result.events:
            # The trail names the configured channel (its table name), not the plugin's class name.
            event = attrs.evolve(event, channel=channel)
            try:
                await self.handle_inbound(event)
            except HothatError as exc:
                log.warning("inbound %s from channel %s not applied: %s", event.kind, channel, exc)
        return result

    async def handle_inbound(self, event: InboundEvent) -> None:
        """Act on one inbound event: an acknowledgement, a decline, a delivery report, STOP or START."""
        self._check_started()
        if event.kind in (InboundKind.STOP, InboundKind.START):
            await self._set_optout(event.address, event.kind is InboundKind.STOP)
            return
        if event.kind in (InboundKind.ACKNOWLEDGE, InboundKind.DECLINE):
            acknowledge = event.kind is InboundKind.ACKNOWLEDGE
            if event.token:
                await self.follow_link(event.token)
                return
            target = self._target_of(event)
            if target is None:
                log.info("an answer from %s matched no open step; ignored", event.channel)
                return
            if event.reply_code is not None and event.provider_id:
                seen = f"{event.channel}:{event.provider_id}"
                if seen in self._seen_replies:
                    log.warning("a reply already acted on arrived again (a replay?) on %s; refused", event.channel)
                    return
                await self._remember(ev.ReplySeen(self.clock.now(), seen))
                self._seen_replies.add(seen)
            incident_id, step, person = target
            via = self._bindings[event.channel].medium.value if event.channel in self._bindings else event.channel
            if acknowledge:
                await self.acknowledge(incident_id, step=step, person=person, via=via)
            else:
                await self.decline(incident_id, step=step, person=person, via=via)
            return
        if event.kind in (InboundKind.DELIVERY, InboundKind.CALL_OUTCOME) and event.status is not None:
            found = self._key_of(event)
            if found is None:
                return
            incident_id, key = found

            def build(state: IncidentState) -> list[Event]:
                assert event.status is not None
                return [ev.DeliveryConfirmed(self.clock.now(), key, event.status)]

            await self._act(incident_id, build)

    async def _set_optout(self, address: str, opted_out: bool) -> None:
        if (address in self._optout) is opted_out:
            return
        await self._remember(ev.OptOutChanged(self.clock.now(), address, opted_out))
        (self._optout.add if opted_out else self._optout.discard)(address)
        log.info("a number %s SMS", "opted out of" if opted_out else "opted back in to")

    async def _remember(self, event: Event) -> None:
        """Append to the ``_contacts`` trail: what the engine must remember across restarts beyond incidents."""
        async with self._lock(_CONTACTS):
            for attempt in range(_CONFLICT_RETRIES):
                version = len(await self.store.load(_CONTACTS))
                tag, payload = ev.encode(event)
                record = EventRecord(tag, payload, event.at)
                try:
                    await self.store.commit(
                        Commit(_CONTACTS, version, (record,), is_open=False, municipality=self.municipality.id)
                    )
                    return
                except ConcurrencyError:
                    if attempt + 1 == _CONFLICT_RETRIES:
                        raise

    def _key_of(self, event: InboundEvent) -> tuple[str, str] | None:
        if event.message_key:
            parsed = _Key.parse(event.message_key)
            return (parsed.incident, event.message_key) if parsed is not None else None
        if event.provider_id:
            return self._provider_ids.get(event.provider_id)
        return None

    def _target_of(self, event: InboundEvent) -> tuple[str, str, str] | None:
        if event.message_key:
            parsed = _Key.parse(event.message_key)
            if parsed is None:
                return None
            queued = self._queued.get(event.message_key)
            if queued is not None:
                return parsed.incident, queued.step, queued.person
            state = self._states.get(parsed.incident)
            if state is not None and parsed.step in state.steps and parsed.ask < len(state.steps[parsed.step].asks):
                return parsed.incident, parsed.step, state.steps[parsed.step].asks[parsed.ask].person
            return None
        if event.reply_code is None:
            return None
        for person in self._by_address.get(event.address.lower(), ()):
            found = self._codes.get(person, {}).get(event.reply_code)
            if found is not None:
                return found[0], found[1], person
        return None

    async def follow_link(self, token: str) -> str:
        """Act on a clicked e-mail link. Returns ``"acknowledged"`` or ``"declined"``; raises ``TokenError``."""
        from hothat.messages.tokens import LinkAction

        now = self.clock.now()
        try:
            claims = self._tokens.verify(token, now)
        except TokenError as exc:
            log.warning("a link was refused: %s", exc.reason)  # never the token: it is a credential
            raise
        state = await self._load(claims.incident_id) if claims.incident_id in self._states else None
        if state is None:
            try:
                state = await self._load(claims.incident_id)
            except IncidentError:
                raise TokenError("mismatch") from None
        if claims.nonce in state.nonces:
            log.warning("a link was refused: used")
            raise TokenError("used")
        if claims.action is LinkAction.ACKNOWLEDGE:
            await self.acknowledge(
                claims.incident_id,
                step=claims.step_id,
                person=claims.person_id,
                via="email",
                nonce=claims.nonce,
            )
            return "acknowledged"
        await self.decline(
            claims.incident_id, step=claims.step_id, person=claims.person_id, via="email", nonce=claims.nonce
        )
        return "declined"

    # -- reading ------------------------------------------------------------------------------------------------

    async def trail(self, incident_id: str) -> list[Event]:
        """The incident's events, oldest first: its audit trail."""
        return [ev.decode(r.type, r.payload) for r in await self.store.load(incident_id)]

    async def find(self, reference: str) -> str | None:
        """The incident id for a reference number."""
        return await self.store.find(reference)

    async def status(self, incident_id: str) -> IncidentView:
        """Where the incident stands: each step's status, assignees, level and who was asked."""
        state = self._states.get(incident_id) or await self._load(incident_id)
        views = []
        for step in state.routine.steps:
            st = state.steps[step.id]
            waiting = None
            if (
                st.status is StepStatus.PENDING
                and step.when is not None
                and step.when.evaluate(state.incident.facts) is None
            ):
                waiting = step.when.fact
            views.append(
                StepView(
                    id=step.id,
                    title=step.title.get(self.municipality.locale),
                    status=st.status,
                    assignees=tuple(t.assignee for t in st.tracks if t.assignee),
                    level=max((t.level for t in st.tracks), default=0),
                    asked=tuple(dict.fromkeys(a.person for a in st.asks if a.purpose is not Purpose.INFORMED)),
                    waiting_for=waiting,
                )
            )
        return IncidentView(state.incident, tuple(views), state.version)


def _reason(exc: DeliveryError) -> str:
    text = str(exc) or type(exc).__name__
    return text[:300]


def _name_forms(names: Sequence[str]) -> list[str]:
    """A protected person's full name, each part of it ("Lena", "Kask"), and their GSM-7 forms, longest first."""
    from hothat.messages.gsm import normalize

    forms: set[str] = set()
    for name in names:
        for whole in (name, normalize(name)):
            forms.add(whole)
            forms.update(part for part in re.split(r"[\s\-]+", whole) if len(part) >= 2)
    return sorted(forms, key=len, reverse=True)


@functools.lru_cache(maxsize=256)
def _name_pattern_of(names: tuple[str, ...]) -> re.Pattern[str] | None:
    forms = _name_forms(names)
    if not forms:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(f) for f in forms) + r")(?!\w)", re.IGNORECASE)


def _name_pattern(names: Sequence[str]) -> re.Pattern[str] | None:
    return _name_pattern_of(tuple(names))


def _names_any(names: Sequence[str], *texts: str) -> bool:
    """Whether a protected person is named in any text: full name or any part of it, as whole words."""
    pattern = _name_pattern(names)
    return pattern is not None and any(pattern.search(text) for text in texts)


def _redact(text: str, names: Sequence[str]) -> str:
    pattern = _name_pattern(names)
    return pattern.sub("[skyddad identitet]", text) if pattern is not None else text
