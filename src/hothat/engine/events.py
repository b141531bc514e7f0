"""The events of an incident: its audit trail.

Every change to an incident is one of these frozen values. They are stored as a type tag
(``"Acknowledged@1"``: class name and schema version) and a JSON payload; :func:`encode` and :func:`decode`
convert both ways, and ``decode(encode(e)) == e`` for every event.

Events hold ids (person, role, step), never contact addresses or message texts: the trail says who was told
what and when without copying the phone list into every incident.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin

import attrs

from hothat.channels import DeliveryStatus, MessageKind
from hothat.domain import Incident, Medium

__all__ = [
    "Acknowledged",
    "ChecklistChecked",
    "CodesRested",
    "CompletionOverdue",
    "Declined",
    "DeliveryConfirmed",
    "DeliveryFailed",
    "Escalated",
    "EscalationExhausted",
    "Event",
    "FactRecorded",
    "FailureKind",
    "IncidentClosed",
    "IncidentReported",
    "NotificationQueued",
    "NotificationSent",
    "OptOutChanged",
    "Purpose",
    "ReplySeen",
    "RoleAssigned",
    "RoleUnresolved",
    "StallDetected",
    "StepActivated",
    "StepCompleted",
    "StepSkipped",
    "TargetsResolved",
    "TreeNodePassed",
    "decode",
    "encode",
    "event_types",
]


class FailureKind(enum.StrEnum):
    """How a delivery failed (mirrors the ``DeliveryError`` subclasses)."""

    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    AMBIGUOUS = "ambiguous"


class Purpose(enum.StrEnum):
    """Why a role was resolved."""

    OWNER = "owner"
    """The step's owner or an escalation level: asked to take the step."""
    INFORMED = "informed"
    """An informed role: told, not asked."""
    UNRESOLVED = "unresolved"
    """The routine's ``unresolved_to``: told that nobody could be reached, and asked to take over."""
    REMINDER = "reminder"
    """The escalation role told that an acknowledged step is overdue."""


@attrs.frozen
class Event:
    """Base class: every event has the time it happened on the engine's clock."""

    TYPE: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1

    at: datetime

    @property
    def tag(self) -> str:
        """The stored type tag, ``Name@version``."""
        return f"{type(self).__name__}@{self.VERSION}"


@attrs.frozen
class IncidentReported(Event):
    """The incident was reported: the start of every trail."""

    incident: Incident
    reported_by: str | None = None


@attrs.frozen
class StepActivated(Event):
    """A step's dependencies are done (and its condition holds): its owners are now being asked."""

    step: str


@attrs.frozen
class StepSkipped(Event):
    """A step will not run (its condition is false, or the incident's routine leaves it out)."""

    step: str
    reason: str


@attrs.frozen
class TargetsResolved(Event):
    """A role was resolved to people for a step (who, through which fallbacks, who was away)."""

    step: str
    slot: int
    level: int
    round: int
    role: str
    purpose: Purpose
    people: tuple[str, ...]
    via: tuple[str, ...] = ()
    unavailable: tuple[str, ...] = ()


@attrs.frozen
class RoleUnresolved(Event):
    """A role resolved to nobody (nor any fallback): the step is kept and ``unresolved_to`` is told."""

    step: str
    slot: int
    level: int
    round: int
    role: str
    purpose: Purpose
    via: tuple[str, ...] = ()
    unavailable: tuple[str, ...] = ()


@attrs.frozen
class NotificationQueued(Event):
    """A message is intended (the outbox row): written before the channel is called."""

    key: str
    step: str
    person: str
    slot: int
    level: int
    kind: MessageKind
    medium: Medium
    contact: int
    channel: str
    ask: int = 0
    attempt: int = 0
    code: str | None = None


@attrs.frozen
class NotificationSent(Event):
    """The channel took the message."""

    key: str
    channel: str
    provider_id: str | None = None
    status: str = "accepted"
    segments: int | None = None
    encoding: str | None = None


@attrs.frozen
class DeliveryFailed(Event):
    """The channel failed to take the message; ``failure`` says what the engine does next."""

    key: str
    channel: str
    failure: FailureKind
    reason: str
    retry_after: float | None = None


@attrs.frozen
class DeliveryConfirmed(Event):
    """A delivery report arrived: delivered, failed, or a call outcome. Never an acknowledgement."""

    key: str
    status: DeliveryStatus


@attrs.frozen
class Acknowledged(Event):
    """A person took the step (or one owner slot of a joint step)."""

    step: str
    person: str
    slot: int
    via: str
    nonce: str | None = None


@attrs.frozen
class Declined(Event):
    """A person said they cannot take the step: the engine moves on at once."""

    step: str
    person: str
    via: str
    nonce: str | None = None


@attrs.frozen
class Escalated(Event):
    """Nobody took a slot of the step in time (or everyone declined): the next level is asked."""

    step: str
    slot: int
    from_level: int
    to_level: int
    round: int
    reason: str
    index: int = 0


@attrs.frozen
class TreeNodePassed(Event):
    """A phone-tree node is done (answered, declined, no answer, or nobody): its children are called next.

    A node that does not answer never cuts off its subtree.
    """

    step: str
    node: int
    outcome: str


@attrs.frozen
class EscalationExhausted(Event):
    """Every level and repeat was tried without an acknowledgement; ``unresolved_to`` is told."""

    step: str
    slot: int


@attrs.frozen
class FactRecorded(Event):
    """A fact was decided (``police_report_wanted = true``)."""

    fact: str
    value: bool
    by: str | None = None


@attrs.frozen
class ChecklistChecked(Event):
    """A checklist item of a step was ticked."""

    step: str
    item: str
    person: str


@attrs.frozen
class RoleAssigned(Event):
    """An incident-scoped role was filled (the chosen support person)."""

    role: str
    person: str
    by: str | None = None


@attrs.frozen
class StepCompleted(Event):
    """The step is done (for a joint step: every owner confirmed)."""

    step: str
    person: str
    note: str = ""


@attrs.frozen
class CompletionOverdue(Event):
    """An acknowledged step passed its ``done_within``: the assignee is reminded, the escalation role told."""

    step: str
    count: int


@attrs.frozen
class StallDetected(Event):
    """The watchdog found the incident's next wake-up overdue (the engine was stopped, stuck or overloaded).

    ``due_at`` is when the escalation should have moved on; it moves on now.
    """

    due_at: datetime
    overdue_seconds: float


@attrs.frozen
class ReplySeen(Event):
    """A provider's reply message was acted on. Kept in the ``_contacts`` trail so that a captured, validly signed
    reply replayed later (even after a restart) is refused. ``reply`` is ``channel:provider message id``."""

    reply: str


@attrs.frozen
class CodesRested(Event):
    """Reply codes a closed incident released (``person:code``). Kept in the ``_contacts`` trail so that they rest
    for a day across a restart too: a late answer to a closed incident must never take a new one."""

    codes: tuple[str, ...]


@attrs.frozen
class OptOutChanged(Event):
    """A phone number sent STOP (``opted_out``) or START. Kept in the ``_contacts`` trail, not an incident's."""

    address: str
    opted_out: bool


@attrs.frozen
class IncidentClosed(Event):
    """The incident was closed: every escalation stops."""

    by: str | None = None
    reason: str = ""


_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        IncidentReported,
        StepActivated,
        StepSkipped,
        TargetsResolved,
        RoleUnresolved,
        NotificationQueued,
        NotificationSent,
        DeliveryFailed,
        DeliveryConfirmed,
        Acknowledged,
        Declined,
        Escalated,
        EscalationExhausted,
        FactRecorded,
        ChecklistChecked,
        RoleAssigned,
        StepCompleted,
        CompletionOverdue,
        StallDetected,
        IncidentClosed,
        TreeNodePassed,
        OptOutChanged,
        ReplySeen,
        CodesRested,
    )
}


def event_types() -> dict[str, type[Event]]:
    """Every event class by name."""
    return dict(_TYPES)


# -- JSON codec ---------------------------------------------------------------------------------------------------

T = TypeVar("T")


_PLAIN = (str, int, bool, float)
_FIELDS: dict[type, tuple[str, ...]] = {}


def _dump_attrs(value: Any) -> dict[str, Any]:
    cls = type(value)
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in attrs.fields(cls))
    out: dict[str, Any] = {}
    for name in names:
        item = getattr(value, name)
        # Exact types only: a StrEnum is a str subclass and must go through _dump for its value.
        out[name] = item if item is None or type(item) in _PLAIN else _dump(item)
    return out


def _dump(value: Any) -> Any:
    if type(value) in _PLAIN or value is None:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("event times must be timezone-aware")
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if attrs.has(type(value)):
        return _dump_attrs(value)
    if isinstance(value, Mapping):
        return {str(k): _dump(v) for k, v in value.items()}
    if isinstance(value, tuple | list | frozenset | set):
        return [_dump(v) for v in value]
    return value


def _hints(cls: type) -> dict[str, Any]:
    cached: dict[str, Any] | None = _HINTS.get(cls)
    if cached is None:
        cached = typing.get_type_hints(cls)
        _HINTS[cls] = cached
    return cached


_HINTS: dict[type, dict[str, Any]] = {}


def _load(tp: Any, value: Any) -> Any:
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        if value is None:
            return None
        options = [a for a in get_args(tp) if a is not type(None)]
        return _load(options[0], value)
    if tp is Any or value is None:
        return value
    if origin is tuple:
        args = get_args(tp)
        return tuple(_load(args[0], v) for v in value)
    if origin in (Mapping, dict) or origin is typing.Mapping or (origin and issubclass(origin, Mapping)):
        key_type, value_type = get_args(tp)
        return {_load(key_type, k): _load(value_type, v) for k, v in value.items()}
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            return tp(value)
        if tp is datetime:
            return datetime.fromisoformat(value)
        if tp is timedelta:
            return timedelta(seconds=value)
        if attrs.has(tp):
            hints = _hints(tp)
            return tp(**{f.name: _load(hints[f.name], value[f.name]) for f in attrs.fields(tp) if f.name in value})
    return value


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def encode(event: Event) -> tuple[str, str]:
    """Return ``(type tag, JSON payload)`` for storing an event."""
    return event.tag, _ENCODER.encode(_dump_attrs(event))


def decode(tag: str, payload: str) -> Event:
    """Rebuild an event from its stored tag and payload. Unknown tags raise ``ValueError``."""
    name, _, version = tag.partition("@")
    cls = _TYPES.get(name)
    if cls is None:
        raise ValueError(f"unknown event type {tag!r}: was this trail written by a newer hothat?")
    if version and int(version) > cls.VERSION:
        raise ValueError(f"event {tag!r} is newer than this hothat understands (version {cls.VERSION})")
    loaded = _load(cls, json.loads(payload))
    assert isinstance(loaded, Event)
    return loaded
