"""The functional core: ``evolve(state, event) -> state`` and ``decide(state, now) -> commands``.

No I/O, no clock, no randomness. The same events always give the same state and the same commands, which is what
makes a replayed trail, a restart and a simulation exact. The runner (``hothat.engine.runner``) executes the
commands, turns their outcomes into events, and feeds them back here.

For speed the runner keeps one :class:`IncidentState` per open incident and applies events to it in place
(:meth:`IncidentState.apply`); :func:`evolve` is the same transition on a copy.

Semantics (see the escalation docs):

- A step activates when every step it waits for is completed or skipped, and its ``when`` condition holds; it is
  skipped when the condition is false, and waits while the fact is undecided.
- Each owner role of a step is a *slot* with its own escalation track. Level 0 is the owner role; level ``i`` is
  ``escalation[i-1]``; after the last level the whole chain repeats ``repeat`` times, then
  ``EscalationExhausted`` is recorded and ``unresolved_to`` is told. A round that reached nobody is not repeated.
- ``all``: every holder of the level is asked at once; ``sequential``: one holder at a time, each given
  ``ack_within``. A decline moves on at once; a level with nobody moves on at once and tells ``unresolved_to``.
- Each asked person is tried through their contact points in order, each after its ``delay``; a permanent failure
  moves to the next point at once, a transient one is retried with backoff (bounded), an ambiguous one is never
  resent and the next point follows by the clock.
- An acknowledgement assigns the slot; everyone else asked for that slot is told who took it. When every slot is
  taken the step is acknowledged; a missed ``done_within`` reminds the assignees and tells the first escalation role.
"""

from __future__ import annotations

import copy
import enum
import zlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from hothat.channels import MessageKind
from hothat.domain import Directory, Incident, IncidentStatus, Medium, Routine, Severity, Step, Strategy
from hothat.engine import events as ev
from hothat.engine.events import Event, FailureKind, Purpose

__all__ = [
    "MAX_REMINDERS",
    "MAX_RETRIES",
    "Ask",
    "Command",
    "IncidentState",
    "Record",
    "Resolve",
    "Send",
    "StepState",
    "StepStatus",
    "Track",
    "TreeNodeState",
    "WakeAt",
    "decide",
    "evolve",
    "retry_delay",
]

MAX_RETRIES = 3
"""Transient delivery failures retried per contact point before it counts as failed."""
MAX_REMINDERS = 3
"""``done_within`` reminders per step."""
_BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=5))
_MAX_RETRY_AFTER = timedelta(minutes=10)


def retry_delay(attempt: int, retry_after: float | None = None, key: str = "") -> timedelta:
    """Backoff before retry number ``attempt`` (1-based); a provider's Retry-After wins when longer (capped).

    Up to 20 % jitter, derived from the message key so the core stays deterministic, spreads the retries of many
    messages that failed together (a provider outage) instead of sending them all back at the same instant.
    """
    base = _BACKOFF[min(attempt, len(_BACKOFF)) - 1]
    if key:
        base += base * (zlib.crc32(key.encode()) % 1000) / 5000
    if retry_after is not None:
        return max(base, min(timedelta(seconds=retry_after), _MAX_RETRY_AFTER))
    return base


# -- commands -----------------------------------------------------------------------------------------------------


@attrs.frozen
class Record:
    """Append this event (a decision the core made: activation, escalation, skip ...)."""

    event: Event


@attrs.frozen
class Resolve:
    """Resolve ``role`` to people now (through the ``hothat_resolve_role`` hook) and record the answer."""

    step: str
    slot: int
    level: int
    round: int
    role: str
    purpose: Purpose


@attrs.frozen
class Send:
    """Queue a message for ask number ``ask`` of ``step`` through its person's contact point ``contact``."""

    step: str
    ask: int
    contact: int
    attempt: int


@attrs.frozen
class WakeAt:
    """Call ``decide`` again at this time."""

    at: datetime


Command = Record | Resolve | Send | WakeAt


# -- state --------------------------------------------------------------------------------------------------------


class StepStatus(enum.StrEnum):
    """Where a step is."""

    PENDING = "pending"
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    COMPLETED = "completed"
    SKIPPED = "skipped"


@attrs.define
class Ask:
    """One person being contacted about one step, for one reason."""

    person: str
    slot: int
    level: int
    round: int
    kind: MessageKind
    purpose: Purpose
    started_at: datetime
    contact: int = 0
    next_at: datetime | None = None
    pending: str | None = None
    attempt: int = 0
    active: bool = True
    single: bool = False
    reached: int | None = None
    reached_quietly: int | None = None
    answered: bool = False


@attrs.define
class Track:
    """The escalation track of one owner slot."""

    slot: int
    role: str
    level: int = 0
    round: int = 0
    index: int = 0
    started_at: datetime | None = None
    people: tuple[str, ...] | None = None
    declined: set[str] = attrs.field(factory=set)
    assignee: str | None = None
    acknowledged_at: datetime | None = None
    exhausted: bool = False
    round_reached: bool = False


@attrs.define
class TreeNodeState:
    """One node of a phone tree: who it is, whether it has been called, and how it ended."""

    index: int
    parent: int | None
    role: str | None
    person: str | None
    status: str = "waiting"  # waiting → ready → asked → passed (or skipped once enough have answered)
    started_at: datetime | None = None
    people: tuple[str, ...] = ()
    outcome: str = ""


@attrs.define
class StepState:
    """The state of one step of the incident's routine."""

    id: str
    status: StepStatus = StepStatus.PENDING
    activated_at: datetime | None = None
    acknowledged_at: datetime | None = None
    completed_at: datetime | None = None
    tracks: list[Track] = attrs.field(factory=list)
    asks: list[Ask] = attrs.field(factory=list)
    resolved: set[tuple[Purpose, int, int, int]] = attrs.field(factory=set)
    wanted: list[tuple[Purpose, int, int, int, str]] = attrs.field(factory=list)
    checked: set[str] = attrs.field(factory=set)
    overdue: int = 0
    skip_reason: str = ""
    nodes: list[TreeNodeState] = attrs.field(factory=list)
    tree_acks: list[str] = attrs.field(factory=list)
    # A cache, not state: asks before this index are all finished (decide skips them). Not compared.
    live_from: int = attrs.field(default=0, eq=False)


@attrs.define
class IncidentState:
    """Everything the core knows about one incident, rebuilt from its events.

    Attributes:
        incident: the incident as it stands (facts, holders and status kept current).
        routine: the routine it runs.
        directory: the municipality's directory (contact points, delays).
        steps: step id → state, in routine order.
        queued: notification key → (step id, ask index), for every key ever queued.
        settled: keys whose outcome is recorded.
        nonces: link-token nonces already used.
        version: how many events have been applied.
    """

    incident: Incident
    routine: Routine
    directory: Directory
    steps: dict[str, StepState]
    queued: dict[str, tuple[str, int]] = attrs.field(factory=dict)
    settled: set[str] = attrs.field(factory=set)
    nonces: set[str] = attrs.field(factory=set)
    codes: dict[tuple[str, str], str] = attrs.field(factory=dict)
    version: int = 0

    @classmethod
    def start(cls, reported: ev.IncidentReported, routine: Routine, directory: Directory) -> IncidentState:
        """The state right after ``IncidentReported``."""
        state = cls(
            incident=reported.incident,
            routine=routine,
            directory=directory,
            steps={s.id: StepState(s.id) for s in routine.steps},
        )
        state.version = 1
        return state

    @property
    def closed(self) -> bool:
        """True once the incident is closed."""
        return self.incident.status is IncidentStatus.CLOSED

    def step(self, step_id: str) -> Step:
        """The routine's step definition."""
        return self.routine.step(step_id)

    def chain(self, step: Step, slot: int) -> tuple[str, ...]:
        """The roles of a slot's escalation levels: its owner, then the step's escalation list."""
        return (step.owners[slot], *step.escalation)

    def unresolved_role(self, step: Step) -> str:
        """The role told when nobody can be reached for ``step``."""
        return step.unresolved_to or self.routine.unresolved_to

    def ack_slot(self, step_id: str, person: str) -> int | None:
        """The slot an acknowledgement by ``person`` fills: the first open slot they were asked for."""
        state = self.steps[step_id]
        if state.nodes:
            asked = any(a.person == person and a.purpose is Purpose.OWNER for a in state.asks)
            return 0 if asked and person not in state.tree_acks else None
        for ask in state.asks:
            if ask.person == person and ask.purpose in (Purpose.OWNER, Purpose.UNRESOLVED):
                track = state.tracks[ask.slot] if ask.slot < len(state.tracks) else None
                if track is not None and track.assignee is None:
                    return ask.slot
        return None

    def asked(self, step_id: str, person: str) -> bool:
        """Whether ``person`` was ever contacted about ``step_id``."""
        return any(a.person == person for a in self.steps[step_id].asks)

    # -- transitions --------------------------------------------------------------------------------------------

    def apply(self, event: Event) -> IncidentState:
        """Apply one event in place and return ``self``. Events that change nothing here (a delivery report, a
        stall record) only count towards the version."""
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)
        self.version += 1
        return self


def evolve(state: IncidentState, event: Event) -> IncidentState:
    """The pure transition: a new state with ``event`` applied; ``state`` is left as it was."""
    fresh = copy.deepcopy(state)
    # The routine and directory are frozen and shared, never copied.
    return fresh.apply(event)


def _stop_asking(step: StepState, slot: int | None = None, *, owners_only: bool = False) -> None:
    """Stop contacting people asked to take ``slot`` (an escalation keeps ``unresolved_to`` asked)."""
    purposes = (Purpose.OWNER,) if owners_only else (Purpose.OWNER, Purpose.UNRESOLVED)
    for ask in step.asks:
        if ask.purpose in purposes and (slot is None or ask.slot == slot):
            ask.active = False


def _new_ask(state: IncidentState, step: StepState, ask: Ask) -> None:
    person = state.directory.people.get(ask.person)
    contacts = person.contacts if person is not None else ()
    if ask.contact >= len(contacts):
        ask.active = False
        ask.next_at = None
    else:
        ask.next_at = ask.started_at + (contacts[ask.contact].delay if not ask.single else timedelta(0))
    step.asks.append(ask)


def _tell(
    state: IncidentState, step: StepState, kind: MessageKind, people: Iterable[tuple[str, int]], at: datetime
) -> None:
    """Queue a one-shot message to people, each on the contact point that reached them before."""
    for person, contact in people:
        _new_ask(
            state,
            step,
            Ask(
                person=person,
                slot=-1,
                level=0,
                round=0,
                kind=kind,
                purpose=Purpose.INFORMED,
                started_at=at,
                contact=contact,
                single=True,
            ),
        )


def _reached_people(step: StepState, *, exclude: str | None = None, slot: int | None = None) -> list[tuple[str, int]]:
    """People a message about ``step`` reached, once each, with the contact point to tell them on (see _on_sent)."""
    seen: dict[str, int] = {}
    for ask in step.asks:
        if ask.reached is None or ask.person == exclude or ask.person in seen:
            continue
        if ask.kind in (MessageKind.TAKEN, MessageKind.CLOSED):
            continue
        if slot is not None and ask.purpose is Purpose.OWNER and ask.slot != slot:
            continue
        seen[ask.person] = ask.reached_quietly if ask.reached_quietly is not None else ask.reached
    return list(seen.items())


def _on_activated(state: IncidentState, e: ev.StepActivated) -> None:
    step = state.step(e.step)
    st = state.steps[e.step]
    st.status = StepStatus.ACTIVE
    st.activated_at = e.at
    st.tracks = [Track(slot=i, role=role, started_at=e.at) for i, role in enumerate(step.owners)]
    if step.strategy is Strategy.TREE and step.tree is not None:
        st.nodes = _flatten_tree(step)
        st.nodes[0].status = "ready"
    for i, role in enumerate(step.informed):
        st.wanted.append((Purpose.INFORMED, i, 0, 0, role))


def _flatten_tree(step: Step) -> list[TreeNodeState]:
    assert step.tree is not None
    out: list[TreeNodeState] = []

    def walk(node: object, parent: int | None) -> None:
        from hothat.domain import TreeNode

        assert isinstance(node, TreeNode)
        index = len(out)
        out.append(TreeNodeState(index, parent, node.role, node.person))
        for child in node.children:
            walk(child, index)

    walk(step.tree, None)
    return out


def _on_skipped(state: IncidentState, e: ev.StepSkipped) -> None:
    st = state.steps[e.step]
    st.status = StepStatus.SKIPPED
    st.skip_reason = e.reason
    st.completed_at = e.at


def _on_resolved(state: IncidentState, e: ev.TargetsResolved | ev.RoleUnresolved) -> None:
    st = state.steps[e.step]
    st.resolved.add((e.purpose, e.slot, e.level, e.round))
    people = e.people if isinstance(e, ev.TargetsResolved) else ()
    step = state.step(e.step)
    if e.purpose is Purpose.OWNER and st.nodes:
        node = st.nodes[e.level]
        node.people = people
        node.status = "asked"
        node.started_at = e.at
        for person in people:
            _new_ask(state, st, Ask(person, 0, e.level, 0, MessageKind.NOTIFY, Purpose.OWNER, e.at))
    elif e.purpose is Purpose.OWNER:
        track = st.tracks[e.slot]
        track.people = people
        track.started_at = e.at
        track.index = 0
        track.declined = set()
        if people:
            track.round_reached = True
        kind = MessageKind.NOTIFY if e.level == 0 and e.round == 0 else MessageKind.ESCALATION
        targets = people if step.strategy is not Strategy.SEQUENTIAL else people[:1]
        for person in targets:
            _new_ask(state, st, Ask(person, e.slot, e.level, e.round, kind, Purpose.OWNER, e.at))
        if not people:
            st.wanted.append((Purpose.UNRESOLVED, e.slot, len(st.wanted) + 1, 0, state.unresolved_role(step)))
    elif e.purpose is Purpose.UNRESOLVED:
        for person in people:
            _new_ask(
                state,
                st,
                Ask(person, e.slot, e.level, e.round, MessageKind.UNRESOLVED, Purpose.UNRESOLVED, e.at),
            )
    elif e.purpose is Purpose.INFORMED:
        for person in people:
            _new_ask(state, st, Ask(person, -1, 0, 0, MessageKind.INFORMED, Purpose.INFORMED, e.at, single=True))
    elif e.purpose is Purpose.REMINDER:
        assignees = {t.assignee for t in st.tracks}
        for person in people:
            if person in assignees:  # already reminded as the assignee
                continue
            _new_ask(
                state,
                st,
                Ask(person, -1, e.level, 0, MessageKind.REMINDER, Purpose.REMINDER, e.at, single=True),
            )


def _on_queued(state: IncidentState, e: ev.NotificationQueued) -> None:
    st = state.steps[e.step]
    index = e.ask
    state.queued[e.key] = (e.step, index)
    ask = st.asks[index]
    ask.pending = e.key
    ask.attempt = e.attempt
    if e.code is not None:
        state.codes[(e.step, e.person)] = e.code


def _next_contact(state: IncidentState, ask: Ask, at: datetime, *, reached: bool) -> None:
    person = state.directory.people.get(ask.person)
    contacts = person.contacts if person is not None else ()
    ask.pending = None
    ask.attempt = 0
    if ask.single and reached:
        ask.active = False
        ask.next_at = None
        return
    ask.contact += 1
    if ask.contact >= len(contacts):
        ask.next_at = None
        return
    ask.next_at = at + (contacts[ask.contact].delay if not ask.single else timedelta(0))


def _ask_for_key(state: IncidentState, key: str) -> Ask | None:
    where = state.queued.get(key)
    if where is None:
        return None
    return state.steps[where[0]].asks[where[1]]


def _on_sent(state: IncidentState, e: ev.NotificationSent) -> None:
    state.settled.add(e.key)
    ask = _ask_for_key(state, e.key)
    if ask is None or ask.pending != e.key:
        return
    # Follow-ups ("taken", "closed") go where the person was last reached, but not by a phone call when a text
    # reached them too: nobody should be woken at night to hear that someone else took the step.
    ask.reached = ask.contact
    person = state.directory.people.get(ask.person)
    contacts = person.contacts if person is not None else ()
    if ask.contact < len(contacts) and contacts[ask.contact].medium is not Medium.VOICE:
        ask.reached_quietly = ask.contact
    _next_contact(state, ask, e.at, reached=True)


def _on_failed(state: IncidentState, e: ev.DeliveryFailed) -> None:
    ask = _ask_for_key(state, e.key)
    if ask is None or ask.pending != e.key:
        state.settled.add(e.key)
        return
    if e.failure is FailureKind.RETRYABLE and ask.attempt < MAX_RETRIES:
        state.settled.add(e.key)
        ask.pending = None
        ask.attempt += 1
        ask.next_at = e.at + retry_delay(ask.attempt, e.retry_after, e.key)
        return
    state.settled.add(e.key)
    if e.failure is FailureKind.AMBIGUOUS:
        # Possibly sent: never resent; the next contact point follows by the clock, as after a send.
        _next_contact(state, ask, e.at, reached=False)
        return
    # Permanent (or retries used up): the next contact point at once.
    _next_contact(state, ask, e.at, reached=False)
    if ask.next_at is not None:
        ask.next_at = e.at


def _on_ack(state: IncidentState, e: ev.Acknowledged) -> None:
    st = state.steps[e.step]
    if e.nonce:
        state.nonces.add(e.nonce)
    if st.nodes:
        _on_tree_ack(state, st, e)
        return
    track = st.tracks[e.slot]
    track.assignee = e.person
    track.acknowledged_at = e.at
    for ask in st.asks:
        if ask.person == e.person:
            ask.answered = True
    _stop_asking(st, e.slot)
    step = state.step(e.step)
    _tell(
        state,
        st,
        MessageKind.TAKEN,
        _reached_people(st, exclude=e.person, slot=e.slot if step.joint else None),
        e.at,
    )
    if all(t.assignee is not None for t in st.tracks):
        st.status = StepStatus.ACKNOWLEDGED
        st.acknowledged_at = e.at


def _on_tree_ack(state: IncidentState, st: StepState, e: ev.Acknowledged) -> None:
    if e.person not in st.tree_acks:
        st.tree_acks.append(e.person)
    for ask in st.asks:
        if ask.person == e.person and ask.purpose is Purpose.OWNER:
            ask.answered = True
            ask.active = False
    track = st.tracks[0]
    if track.assignee is None:
        track.assignee = e.person
        track.acknowledged_at = e.at
    if len(st.tree_acks) >= state.step(e.step).needed:
        st.status = StepStatus.ACKNOWLEDGED
        st.acknowledged_at = e.at
        for ack_slot in st.tracks:
            ack_slot.assignee = ack_slot.assignee or e.person
        _stop_asking(st)
        for node in st.nodes:
            if node.status in ("waiting", "ready"):
                node.status = "skipped"
        acked = set(st.tree_acks)
        _tell(state, st, MessageKind.TAKEN, [p for p in _reached_people(st) if p[0] not in acked], e.at)


def _on_tree_passed(state: IncidentState, e: ev.TreeNodePassed) -> None:
    st = state.steps[e.step]
    node = st.nodes[e.node]
    node.status = "passed"
    node.outcome = e.outcome
    for ask in st.asks:
        if ask.level == e.node and ask.purpose is Purpose.OWNER:
            ask.active = False
    for child in st.nodes:
        if child.parent == e.node and child.status == "waiting":
            child.status = "ready"


def _on_declined(state: IncidentState, e: ev.Declined) -> None:
    st = state.steps[e.step]
    if e.nonce:
        state.nonces.add(e.nonce)
    for ask in st.asks:
        if ask.person == e.person and ask.purpose in (Purpose.OWNER, Purpose.UNRESOLVED):
            ask.answered = True
            ask.active = False
            if 0 <= ask.slot < len(st.tracks):
                st.tracks[ask.slot].declined.add(e.person)


def _on_escalated(state: IncidentState, e: ev.Escalated) -> None:
    st = state.steps[e.step]
    track = st.tracks[e.slot]
    _stop_asking(st, e.slot, owners_only=True)
    if e.to_level == e.from_level and e.round == track.round and track.people:
        # Sequential: the next holder of the same level.
        track.index = e.index
        track.started_at = e.at
        person = track.people[track.index]
        kind = MessageKind.NOTIFY if e.to_level == 0 and e.round == 0 else MessageKind.ESCALATION
        _new_ask(state, st, Ask(person, e.slot, e.to_level, e.round, kind, Purpose.OWNER, e.at))
        return
    if e.round != track.round:
        track.round_reached = False
    track.level = e.to_level
    track.round = e.round
    track.index = 0
    track.people = None
    track.started_at = e.at


def _on_exhausted(state: IncidentState, e: ev.EscalationExhausted) -> None:
    st = state.steps[e.step]
    track = st.tracks[e.slot]
    track.exhausted = True
    _stop_asking(st, e.slot, owners_only=True)
    st.wanted.append((Purpose.UNRESOLVED, e.slot, len(st.wanted) + 1, 0, state.unresolved_role(state.step(e.step))))


def _on_fact(state: IncidentState, e: ev.FactRecorded) -> None:
    facts = dict(state.incident.facts)
    facts[e.fact] = e.value
    state.incident = attrs.evolve(state.incident, facts=facts)


def _on_checked(state: IncidentState, e: ev.ChecklistChecked) -> None:
    state.steps[e.step].checked.add(e.item)


def _on_role_assigned(state: IncidentState, e: ev.RoleAssigned) -> None:
    holders = dict(state.incident.holders)
    current = holders.get(e.role, ())
    if e.person not in current:
        holders[e.role] = (*current, e.person)
    state.incident = attrs.evolve(state.incident, holders=holders)


def _on_completed(state: IncidentState, e: ev.StepCompleted) -> None:
    st = state.steps[e.step]
    st.status = StepStatus.COMPLETED
    st.completed_at = e.at
    for ask in st.asks:
        if ask.purpose is not Purpose.INFORMED:
            ask.active = False


def _on_overdue(state: IncidentState, e: ev.CompletionOverdue) -> None:
    st = state.steps[e.step]
    st.overdue = e.count
    step = state.step(e.step)
    for track in st.tracks:
        if track.assignee is not None:
            _new_ask(
                state,
                st,
                Ask(track.assignee, -1, 0, 0, MessageKind.REMINDER, Purpose.REMINDER, e.at, single=True),
            )
    if step.escalation:
        st.wanted.append((Purpose.REMINDER, 0, e.count, 0, step.escalation[0]))


def _on_closed(state: IncidentState, e: ev.IncidentClosed) -> None:
    state.incident = attrs.evolve(state.incident, status=IncidentStatus.CLOSED)
    for st in state.steps.values():
        unfinished = st.status in (StepStatus.ACTIVE, StepStatus.ACKNOWLEDGED)
        for ask in st.asks:
            ask.active = False
        if unfinished:
            _tell(state, st, MessageKind.CLOSED, _reached_people(st), e.at)


_HANDLERS: Mapping[type[Event], Callable[[IncidentState, Any], None]] = {
    ev.StepActivated: _on_activated,
    ev.StepSkipped: _on_skipped,
    ev.TargetsResolved: _on_resolved,
    ev.RoleUnresolved: _on_resolved,
    ev.NotificationQueued: _on_queued,
    ev.NotificationSent: _on_sent,
    ev.DeliveryFailed: _on_failed,
    ev.Acknowledged: _on_ack,
    ev.Declined: _on_declined,
    ev.Escalated: _on_escalated,
    ev.EscalationExhausted: _on_exhausted,
    ev.TreeNodePassed: _on_tree_passed,
    ev.FactRecorded: _on_fact,
    ev.ChecklistChecked: _on_checked,
    ev.RoleAssigned: _on_role_assigned,
    ev.StepCompleted: _on_completed,
    ev.CompletionOverdue: _on_overdue,
    ev.IncidentClosed: _on_closed,
}


# -- decisions ----------------------------------------------------------------------------------------------------


def decide(state: IncidentState, now: datetime) -> list[Command]:
    """What should happen now: events to record, roles to resolve, messages to send, and when to look again.

    Returns an empty list (or only a ``WakeAt``) when nothing is due. Pure: reads ``state``, changes nothing.
    """
    commands: list[Command] = []
    wakes: list[datetime] = []
    severity = state.incident.severity
    if not state.closed:
        for step in state.routine.steps:
            st = state.steps[step.id]
            if st.status is StepStatus.PENDING:
                _decide_activation(state, step, now, commands)
                continue
            if st.status not in (StepStatus.ACTIVE, StepStatus.ACKNOWLEDGED):
                continue
            for purpose, slot, level, rnd, role in st.wanted:
                if (purpose, slot, level, rnd) not in st.resolved:
                    commands.append(Resolve(step.id, slot, level, rnd, role, purpose))
            if st.status is StepStatus.ACTIVE and st.nodes:
                _decide_tree(state, step, st, now, commands, wakes)
            elif st.status is StepStatus.ACTIVE:
                for track in st.tracks:
                    _decide_track(state, step, track, now, commands, wakes)
            else:
                _decide_overdue(step, st, severity, now, commands, wakes)
    for step in state.routine.steps:
        st = state.steps[step.id]
        asks = st.asks
        start = st.live_from
        while start < len(asks) and not asks[start].active:
            start += 1
        st.live_from = start  # a cache of finished asks; the decisions do not depend on it
        for index in range(start, len(asks)):
            ask = asks[index]
            if not ask.active or ask.pending is not None or ask.next_at is None:
                continue
            if state.closed and ask.kind is not MessageKind.CLOSED:
                continue
            if ask.next_at <= now:
                commands.append(Send(step.id, index, ask.contact, ask.attempt))
            else:
                wakes.append(ask.next_at)
    if wakes:
        commands.append(WakeAt(min(wakes)))
    return commands


def _decide_activation(state: IncidentState, step: Step, now: datetime, out: list[Command]) -> None:
    for dep in state.routine.dependencies(step):
        dep_state = state.steps.get(dep)
        if dep_state is not None and dep_state.status not in (StepStatus.COMPLETED, StepStatus.SKIPPED):
            return
    if step.when is not None:
        holds = step.when.evaluate(state.incident.facts)
        if holds is None:
            return
        if not holds:
            out.append(Record(ev.StepSkipped(now, step.id, f"condition '{step.when}' is false")))
            return
    out.append(Record(ev.StepActivated(now, step.id)))


def _decide_track(
    state: IncidentState, step: Step, track: Track, now: datetime, out: list[Command], wakes: list[datetime]
) -> None:
    if track.assignee is not None or track.exhausted:
        return
    chain = state.chain(step, track.slot)
    if track.people is None:
        out.append(Resolve(step.id, track.slot, track.level, track.round, chain[track.level], Purpose.OWNER))
        return
    ack_within = step.deadlines_for(state.incident.severity).ack_within
    if not track.people:
        out.append(Record(_escalation(state, step, track, now, "nobody holds the role")))
        return
    if step.strategy is Strategy.SEQUENTIAL:
        current = track.people[track.index]
        if current in track.declined:
            out.append(Record(_escalation(state, step, track, now, "declined")))
            return
    elif all(p in track.declined for p in track.people):
        out.append(Record(_escalation(state, step, track, now, "declined")))
        return
    if ack_within is None or track.started_at is None:
        return
    deadline = track.started_at + ack_within
    if now >= deadline:
        out.append(Record(_escalation(state, step, track, now, "no acknowledgement in time")))
    else:
        wakes.append(deadline)


def _decide_tree(
    state: IncidentState, step: Step, st: StepState, now: datetime, out: list[Command], wakes: list[datetime]
) -> None:
    ack_within = step.deadlines_for(state.incident.severity).ack_within
    declined = {a.person for a in st.asks if a.answered and a.person not in st.tree_acks}
    for node in st.nodes:
        if node.status == "ready":
            if node.person is not None:
                out.append(
                    Record(
                        ev.TargetsResolved(
                            now,
                            step.id,
                            0,
                            node.index,
                            0,
                            f"person:{node.person}",
                            Purpose.OWNER,
                            (node.person,),
                        )
                    )
                )
            else:
                out.append(Resolve(step.id, 0, node.index, 0, node.role or "", Purpose.OWNER))
        elif node.status == "asked":
            outcome = None
            if any(p in st.tree_acks for p in node.people):
                outcome = "answered"
            elif not node.people:
                outcome = "nobody"
            elif all(p in declined for p in node.people):
                outcome = "declined"
            elif ack_within is not None and node.started_at is not None:
                if now >= node.started_at + ack_within:
                    outcome = "no_answer"
                else:
                    wakes.append(node.started_at + ack_within)
            if outcome is not None:
                out.append(Record(ev.TreeNodePassed(now, step.id, node.index, outcome)))
    track = st.tracks[0]
    if not track.exhausted and all(n.status in ("passed", "skipped") for n in st.nodes):
        out.append(Record(ev.EscalationExhausted(now, step.id, 0)))


def _escalation(state: IncidentState, step: Step, track: Track, now: datetime, reason: str) -> Event:
    chain = state.chain(step, track.slot)
    people = track.people or ()
    if step.strategy is Strategy.SEQUENTIAL and track.index + 1 < len(people):
        return ev.Escalated(now, step.id, track.slot, track.level, track.level, track.round, reason, track.index + 1)
    if track.level + 1 < len(chain):
        return ev.Escalated(now, step.id, track.slot, track.level, track.level + 1, track.round, reason)
    if track.round < step.repeat and track.round_reached:
        return ev.Escalated(now, step.id, track.slot, track.level, 0, track.round + 1, reason)
    return ev.EscalationExhausted(now, step.id, track.slot)


def _decide_overdue(
    step: Step, st: StepState, severity: Severity, now: datetime, out: list[Command], wakes: list[datetime]
) -> None:
    done_within = step.deadlines_for(severity).done_within
    if done_within is None or st.acknowledged_at is None or st.overdue >= MAX_REMINDERS:
        return
    deadline = st.acknowledged_at + done_within * (st.overdue + 1)
    if now >= deadline:
        out.append(Record(ev.CompletionOverdue(now, step.id, st.overdue + 1)))
    else:
        wakes.append(deadline)
