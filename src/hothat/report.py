"""Reports from a store: the incidents, one incident's trail, statistics without personal data, retention.

Everything here is read from the audit trails through :func:`hothat.engine.events.decode`, never from the engine's
internals, so a report shows exactly what was recorded. Three views, each as data and as text, JSON or CSV:

- :func:`incident_list`: open incidents and those closed recently (reference, kind, severity, status, open steps,
  time to the first acknowledgement);
- :func:`incident_trail`: one incident's whole trail, one line per event (time, event, step, role, person,
  medium, detail); person and role ids unless a municipality is given, then names (a person with protected
  identity by that word only);
- :func:`statistics`: counts by kind, severity and month and the median time to acknowledgement, for the
  municipality's lägesbild. No names, phone numbers, e-mail addresses, person ids, reference numbers,
  descriptions or notes: only the kind, severity, times and status of each incident are read.

:func:`past_retention` lists the closed incidents a municipality's ``retention`` allows to be purged.

Pseudo-trails whose id starts with ``_`` (the ``_contacts`` STOP list) are never reported nor purged.

Usage::

    async with SqliteStore("hothat.db") as store:
        rows = await incident_list(store, now=datetime.now(UTC))
        print(format_incidents(rows, "text", lang="sv"))
"""

from __future__ import annotations

import csv
import io
import json
import re
import statistics as stats
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo

import attrs

from hothat.domain import Incident, IncidentKind, IncidentStatus, Municipality, Severity
from hothat.engine import events as ev
from hothat.errors import IncidentError, StoreError
from hothat.store import Store, StoredEvent
from hothat.store.sqlite import SqliteStore

__all__ = [
    "Format",
    "IncidentRow",
    "PurgeCandidate",
    "Statistics",
    "TrailRow",
    "format_incidents",
    "format_statistics",
    "format_trail",
    "incident_list",
    "incident_trail",
    "past_retention",
    "statistics",
]

Format = Literal["text", "json", "csv"]
"""An output format."""

RECENT = timedelta(days=30)
"""How long after closing an incident stays in the default list."""


# -- words ------------------------------------------------------------------------------------------------------

_EVENTS: dict[str, tuple[str, str]] = {
    "IncidentReported": ("Anmält", "Reported"),
    "StepActivated": ("Steg startat", "Step started"),
    "StepSkipped": ("Steg hoppas över", "Step skipped"),
    "TargetsResolved": ("Mottagare valda", "Recipients chosen"),
    "RoleUnresolved": ("Ingen nåbar", "Nobody reachable"),
    "NotificationQueued": ("Meddelande köat", "Message queued"),
    "NotificationSent": ("Meddelande skickat", "Message sent"),
    "DeliveryFailed": ("Leverans misslyckad", "Delivery failed"),
    "DeliveryConfirmed": ("Leveransbesked", "Delivery report"),
    "Acknowledged": ("Kvitterat", "Acknowledged"),
    "Declined": ("Avböjt", "Declined"),
    "Escalated": ("Eskalerat", "Escalated"),
    "EscalationExhausted": ("Eskalering uttömd", "Escalation exhausted"),
    "TreeNodePassed": ("Ringkedjan vidare", "Phone tree moved on"),
    "FactRecorded": ("Beslut", "Fact recorded"),
    "ChecklistChecked": ("Punkt avbockad", "Item ticked"),
    "RoleAssigned": ("Roll tilldelad", "Role assigned"),
    "StepCompleted": ("Steg klart", "Step completed"),
    "CompletionOverdue": ("Försenat", "Overdue"),
    "StallDetected": ("Motorn stod still", "Engine stalled"),
    "IncidentClosed": ("Avslutat", "Closed"),
}

_KINDS: dict[IncidentKind, tuple[str, str]] = {
    IncidentKind.THREAT: ("hot", "threat"),
    IncidentKind.HATE: ("hat", "hate"),
    IncidentKind.HARASSMENT: ("trakasserier", "harassment"),
    IncidentKind.VIOLENCE: ("våld", "violence"),
    IncidentKind.PROPERTY_DAMAGE: ("skadegörelse", "property damage"),
    IncidentKind.THEFT: ("stöld", "theft"),
    IncidentKind.UNDUE_INFLUENCE: ("otillåten påverkan", "undue influence"),
    IncidentKind.CORRUPTION_ATTEMPT: ("korruptionsförsök", "corruption attempt"),
    IncidentKind.INSULT_VIOLATION: ("kränkning", "insult or violation"),
    IncidentKind.PLANNED_RISKY_ACTIVITY: ("riskfylld planerad aktivitet", "planned risky activity"),
}

_SEVERITIES: dict[Severity, tuple[str, str]] = {
    Severity.ACUTE: ("akut", "acute"),
    Severity.SERIOUS: ("allvarlig", "serious"),
    Severity.THREAT: ("hot, ej akut", "non-acute threat"),
    Severity.BELOW_THRESHOLD: ("under brottsgränsen", "below threshold"),
    Severity.PREVENTIVE: ("förebyggande", "preventive"),
}

_MESSAGES: dict[str, tuple[str, str]] = {
    "notify": ("ombedd att ta steget", "asked to take the step"),
    "escalation": ("eskalering", "escalation"),
    "reminder": ("påminnelse", "reminder"),
    "taken": ("besked: taget", "notice: taken"),
    "informed": ("för kännedom", "for information"),
    "unresolved": ("ingen nådd: ta över", "nobody reached: take over"),
    "closed": ("besked: avslutat", "notice: closed"),
}

_WORDS: dict[str, tuple[str, str]] = {
    # list view
    "reference": ("Ärende", "Reference"),
    "kind": ("Typ", "Kind"),
    "severity": ("Allvar", "Severity"),
    "status": ("Status", "Status"),
    "reported": ("Anmält", "Reported"),
    "open_steps": ("Öppna steg", "Open steps"),
    "first_ack": ("Första kvittens", "First acknowledgement"),
    "open": ("öppet", "open"),
    "closed": ("avslutat", "closed"),
    "waiting": ("väntar", "waiting"),
    "taken": ("taget", "taken"),
    "exhausted": ("ingen nådd", "nobody reached"),
    "none": ("Inga ärenden.", "No incidents."),
    # trail view
    "time": ("Tid", "Time"),
    "event": ("Händelse", "Event"),
    "step": ("Steg", "Step"),
    "role": ("Roll", "Role"),
    "person": ("Person", "Person"),
    "medium": ("Medium", "Medium"),
    "detail": ("Detalj", "Detail"),
    "protected": ("skyddad identitet", "protected identity"),
    "times_utc": ("Tider i UTC.", "Times in UTC."),
    "times_in": ("Tider i {}.", "Times in {}."),
    "yes": ("ja", "yes"),
    "no": ("nej", "no"),
    "attempt": ("försök {}", "attempt {}"),
    "code": ("svarskod {}", "reply code {}"),
    "level": ("nivå {} → {}", "level {} → {}"),
    "round": ("varv {}", "round {}"),
    "via": ("via {}", "via {}"),
    "away": ("ej tillgängliga: {}", "unavailable: {}"),
    "reminder_n": ("påminnelse {}", "reminder {}"),
    "overdue": ("{} min sent", "{} min late"),
    "node": ("nod {}: {}", "node {}: {}"),
    "retryable": ("tillfälligt fel", "temporary failure"),
    "permanent": ("permanent fel", "permanent failure"),
    "ambiguous": ("kanske skickat, skickas inte igen", "possibly sent, not sent again"),
    "no acknowledgement in time": ("ingen kvittens i tid", "no acknowledgement in time"),
    "declined": ("avböjt", "declined"),
    "nobody holds the role": ("ingen har rollen", "nobody holds the role"),
    "condition": ("villkoret {} är inte uppfyllt", "condition {} does not hold"),
    # statistics
    "stats_title": ("Lägesbild: hot, hat och våld mot förtroendevalda", "Overview: threats, hate and violence"),
    "incidents": ("Ärenden", "Incidents"),
    "of_which": ("varav {} {}, {} {}", "{} {}, {} {}"),
    "open_n": ("öppet|öppna", "open|open"),
    "closed_n": ("avslutat|avslutade", "closed|closed"),
    "by_kind": ("Per typ", "By kind"),
    "by_severity": ("Per allvarlighetsgrad", "By severity"),
    "by_month": ("Per månad (anmälan)", "By month (reported)"),
    "median_ack": ("Tid till första kvittens, median", "Time to first acknowledgement, median"),
    "acked_of": ("{} av {} {} {}", "{} of {} {} acknowledged"),
    "incidents_n": ("ärende|ärenden", "incident|incidents"),
    "acked_n": ("kvitterat|kvitterade", "|"),
    "no_ack": ("ingen kvittens ännu", "no acknowledgement yet"),
}


def _word(key: str, lang: str) -> str:
    pair = _WORDS.get(key)
    return key if pair is None else pair[1 if lang == "en" else 0]


def _plural(key: str, count: int, lang: str) -> str:
    """The singular or plural of a ``"one|many"`` word."""
    one, _, many = _word(key, lang).partition("|")
    return one if count == 1 else many


def _pick(pair: tuple[str, str] | None, fallback: str, lang: str) -> str:
    return fallback if pair is None else pair[1 if lang == "en" else 0]


def kind_label(kind: IncidentKind, lang: str = "sv") -> str:
    """An incident kind in words (``"hot"``)."""
    return _pick(_KINDS.get(kind), str(kind), lang)


def severity_label(severity: Severity, lang: str = "sv") -> str:
    """A severity in words (``"allvarlig"``)."""
    return _pick(_SEVERITIES.get(severity), str(severity), lang)


def _duration(value: timedelta | None, lang: str) -> str:
    """``"7 min"``, ``"2 h 5 min"``, ``"1 d 3 h"``; ``"–"`` for none."""
    if value is None:
        return "–"
    minutes = round(value.total_seconds() / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    unit = "d" if lang == "en" else "dygn"
    return f"{days} {unit} {hours} h" if hours else f"{days} {unit}"


# -- reading trails ---------------------------------------------------------------------------------------------


_SUMMARY = frozenset(
    cls.__name__
    for cls in (
        ev.IncidentReported,
        ev.StepActivated,
        ev.Acknowledged,
        ev.EscalationExhausted,
        ev.StepCompleted,
        ev.StepSkipped,
        ev.IncidentClosed,
    )
)
"""The events a summary reads. Most of a trail is messages, which a summary skips without decoding them."""

_KNOWN = frozenset(ev.event_types())


def _decode(incident_id: str, records: Sequence[StoredEvent], only: frozenset[str] | None = None) -> list[ev.Event]:
    """Decode a trail (only the event types in ``only``, if given; an unknown type is an error all the same)."""
    try:
        return [
            ev.decode(r.type, r.payload)
            for r in records
            if only is None or (name := r.type.partition("@")[0]) in only or name not in _KNOWN
        ]
    except (ValueError, KeyError, TypeError) as exc:
        # The message names the event type, never the payload (which holds personal data).
        raise StoreError(f"incident {incident_id} cannot be read: {exc}") from None


async def _summaries(store: Store, skip: frozenset[str] = frozenset()) -> list[tuple[IncidentRow, Incident]]:
    """Every incident's summary (but those in ``skip``) with the incident as reported; pseudo-trails left out."""
    out = []
    for incident_id in await store.incidents():
        if incident_id.startswith("_") or incident_id in skip:
            continue  # a pseudo-trail (the STOP list), not an incident
        trail = _decode(incident_id, await store.load(incident_id), _SUMMARY)
        if trail and isinstance(trail[0], ev.IncidentReported):
            out.append((_summarise(incident_id, trail), trail[0].incident))
    return out


@attrs.frozen
class IncidentRow:
    """One incident as the list shows it.

    Attributes:
        id: the incident id.
        reference: the reference number (``OX-2026-0042``).
        kind: the incident kind.
        severity: its severity.
        status: open or closed.
        reported_at: when it was reported.
        closed_at: when it was closed, if it was.
        open_steps: the steps under way, each with ``"waiting"`` (nobody has taken it), ``"taken"`` or
            ``"exhausted"`` (every escalation level tried, nobody took it).
        first_ack: time from the report to the first acknowledgement of any step, if any.
    """

    id: str
    reference: str
    kind: IncidentKind
    severity: Severity
    status: IncidentStatus
    reported_at: datetime
    closed_at: datetime | None
    open_steps: tuple[tuple[str, str], ...]
    first_ack: timedelta | None


def _summarise(incident_id: str, trail: Sequence[ev.Event]) -> IncidentRow:
    first = trail[0]
    assert isinstance(first, ev.IncidentReported)
    steps: dict[str, str] = {}
    first_ack: datetime | None = None
    closed_at: datetime | None = None
    for event in trail:
        if isinstance(event, ev.StepActivated):
            steps[event.step] = "waiting"
        elif isinstance(event, ev.Acknowledged):
            first_ack = first_ack or event.at
            if event.step in steps:
                steps[event.step] = "taken"
        elif isinstance(event, ev.EscalationExhausted) and steps.get(event.step) == "waiting":
            steps[event.step] = "exhausted"
        elif isinstance(event, ev.StepCompleted | ev.StepSkipped):
            steps.pop(event.step, None)
        elif isinstance(event, ev.IncidentClosed):
            closed_at = event.at
    incident = first.incident
    return IncidentRow(
        id=incident_id,
        reference=incident.reference,
        kind=incident.kind,
        severity=incident.severity,
        status=IncidentStatus.CLOSED if closed_at is not None else IncidentStatus.OPEN,
        reported_at=first.at,
        closed_at=closed_at,
        open_steps=() if closed_at is not None else tuple(steps.items()),
        first_ack=None if first_ack is None else first_ack - first.at,
    )


async def incident_list(store: Store, *, now: datetime, recent: timedelta | None = RECENT) -> list[IncidentRow]:
    """Open incidents, then those closed within ``recent`` before ``now`` (every one when ``recent`` is None).

    Each group newest first.
    """
    skip: frozenset[str] = frozenset()
    if recent is not None and isinstance(store, SqliteStore):
        # A closed incident last written before the window was closed before it too: no need to read its trail.
        skip = frozenset(r.id for r in await store.incident_rows() if not r.is_open and r.updated_at < now - recent)
    rows = [row for row, _ in await _summaries(store, skip)]
    shown = [r for r in rows if r.closed_at is None or recent is None or r.closed_at >= now - recent]
    shown.sort(key=lambda r: (r.status is IncidentStatus.OPEN, r.reported_at), reverse=True)
    return shown


# -- one incident's trail ---------------------------------------------------------------------------------------


@attrs.frozen
class TrailRow:
    """One event of an incident's trail, for reading.

    Attributes:
        at: when it happened.
        event: the event's type (``"Acknowledged"``).
        label: the event in words, in the report's language.
        step: the step it concerns, if any.
        role: the role (id, or name when a municipality is given), if any.
        person: the person (id, or name; a person with protected identity by that word only), if any.
        medium: sms, voice, email (or how an answer came), if any.
        detail: the rest, in words.
    """

    at: datetime
    event: str
    label: str
    step: str = ""
    role: str = ""
    person: str = ""
    medium: str = ""
    detail: str = ""


_TRAIL = ("step", "role", "person", "medium", "detail")


class _Names:
    """Ids to display names, from the municipality when there is one.

    A person with protected identity is shown by those words only: the directory says who (with a municipality),
    and a protected incident's targeted person is known from the incident itself (also without one).
    """

    def __init__(self, municipality: Municipality | None, lang: str, protected: frozenset[str] = frozenset()) -> None:
        self.municipality = municipality
        self.lang = lang
        self.protected = protected

    def person(self, person_id: str | None) -> str:
        if not person_id:
            return ""
        if person_id in self.protected:
            return _word("protected", self.lang)
        if self.municipality is None:
            return person_id
        person = self.municipality.directory.people.get(person_id)
        if person is None:
            return person_id
        return _word("protected", self.lang) if person.protected_identity else person.name

    def role(self, role_id: str) -> str:
        if self.municipality is None or role_id.startswith("person:"):
            return role_id
        role = self.municipality.directory.roles.get(role_id)
        return role_id if role is None else role.name(self.lang)


async def _find(store: Store, reference: str) -> str:
    incident_id = await store.find(reference)
    if incident_id is None and not reference.startswith("_") and await store.load(reference):
        incident_id = reference  # an incident id works too
    if incident_id is None:
        raise IncidentError(f"no incident {reference!r} in the store")
    return incident_id


async def incident_trail(
    store: Store, reference: str, *, municipality: Municipality | None = None, lang: str = "sv"
) -> tuple[IncidentRow, list[TrailRow]]:
    """One incident (by reference number or id) and its whole trail, one row per event.

    Raises ``IncidentError`` when no incident has that reference.
    """
    incident_id = await _find(store, reference)
    trail = _decode(incident_id, await store.load(incident_id))
    first = trail[0]
    assert isinstance(first, ev.IncidentReported)
    incident = first.incident
    names = _Names(
        municipality, lang, frozenset({incident.targeted} if incident.targeted and incident.is_protected else ())
    )
    routine = municipality.known_routine(first.incident.routine) if municipality is not None else None
    queued: dict[str, ev.NotificationQueued] = {}
    roles: dict[tuple[str, str], str] = {}  # (step, person) -> the role they were last asked as
    rows = []
    for event in trail:
        name = type(event).__name__
        if isinstance(event, ev.NotificationQueued):
            queued[event.key] = event
        elif isinstance(event, ev.TargetsResolved):
            for person in event.people:
                roles[(event.step, person)] = event.role
        fields = _fields(event, queued, roles, names, lang)
        if routine is not None and isinstance(event, ev.StepActivated | ev.ChecklistChecked):
            step = next((s for s in routine.steps if s.id == event.step), None)
            if step is not None and isinstance(event, ev.StepActivated):
                fields["detail"] = step.title.get(lang)
            elif step is not None and isinstance(event, ev.ChecklistChecked):
                item = next((i for i in step.checklist if i.id == event.item), None)
                fields["detail"] = item.text.get(lang) if item is not None else event.item
        rows.append(
            TrailRow(event.at, name, _pick(_EVENTS.get(name), name, lang), *(fields.get(c, "") for c in _TRAIL))
        )
    return _summarise(incident_id, trail), rows


def _fields(
    event: ev.Event,
    queued: Mapping[str, ev.NotificationQueued],
    roles: Mapping[tuple[str, str], str],
    names: _Names,
    lang: str,
) -> dict[str, str]:
    """The step, role, person, medium and detail columns of one event."""

    def w(key: str, *args: object) -> str:
        return _word(key, lang).format(*args)

    def asked(step: str, person: str) -> str:
        role = roles.get((step, person))
        return names.role(role) if role else ""

    if isinstance(event, ev.IncidentReported):
        incident = event.incident
        return {
            "person": names.person(event.reported_by),
            "detail": f"{kind_label(incident.kind, lang)}, {severity_label(incident.severity, lang)}",
        }
    if isinstance(event, ev.StepActivated):
        return {"step": event.step}
    if isinstance(event, ev.StepSkipped):
        match = re.fullmatch(r"condition '(.+)' is false", event.reason)
        return {"step": event.step, "detail": w("condition", match[1]) if match else event.reason}
    if isinstance(event, ev.TargetsResolved | ev.RoleUnresolved):
        people = event.people if isinstance(event, ev.TargetsResolved) else ()
        details = []
        if event.via and tuple(event.via) != (event.role,):
            details.append(w("via", " → ".join(names.role(v) for v in event.via)))
        if event.unavailable:
            details.append(w("away", ", ".join(names.person(p) for p in event.unavailable)))
        if event.round:
            details.append(w("round", event.round + 1))
        return {
            "step": event.step,
            "role": names.role(event.role),
            "person": ", ".join(names.person(p) for p in people),
            "detail": "; ".join(details),
        }
    if isinstance(event, ev.NotificationQueued):
        details = [_pick(_MESSAGES.get(str(event.kind)), str(event.kind), lang)]
        if event.attempt:
            details.append(w("attempt", event.attempt + 1))
        if event.code:
            details.append(w("code", event.code))
        return {
            "step": event.step,
            "role": asked(event.step, event.person),
            "person": names.person(event.person),
            "medium": str(event.medium),
            "detail": ", ".join(details),
        }
    if isinstance(event, ev.NotificationSent | ev.DeliveryFailed | ev.DeliveryConfirmed):
        message = queued.get(event.key)
        fields = {}
        if message is not None:
            fields = {
                "step": message.step,
                "role": asked(message.step, message.person),
                "person": names.person(message.person),
                "medium": str(message.medium),
            }
        if isinstance(event, ev.DeliveryFailed):
            fields["detail"] = f"{w(str(event.failure))}: {event.reason}"
        elif isinstance(event, ev.DeliveryConfirmed):
            fields["detail"] = str(event.status)
        return fields
    if isinstance(event, ev.Acknowledged | ev.Declined):
        return {
            "step": event.step,
            "role": asked(event.step, event.person),
            "person": names.person(event.person),
            "medium": event.via,
        }
    if isinstance(event, ev.Escalated):
        detail = f"{w('level', event.from_level, event.to_level)}, {w(event.reason)}"
        if event.round:
            detail += f", {w('round', event.round + 1)}"
        return {"step": event.step, "detail": detail}
    if isinstance(event, ev.EscalationExhausted):
        return {"step": event.step}
    if isinstance(event, ev.TreeNodePassed):
        return {"step": event.step, "detail": w("node", event.node, event.outcome)}
    if isinstance(event, ev.FactRecorded):
        return {"person": names.person(event.by), "detail": f"{event.fact} = {w('yes' if event.value else 'no')}"}
    if isinstance(event, ev.ChecklistChecked):
        return {"step": event.step, "person": names.person(event.person), "detail": event.item}
    if isinstance(event, ev.RoleAssigned):
        return {"role": names.role(event.role), "person": names.person(event.person)}
    if isinstance(event, ev.StepCompleted):
        return {
            "step": event.step,
            "role": asked(event.step, event.person),
            "person": names.person(event.person),
            "detail": event.note,
        }
    if isinstance(event, ev.CompletionOverdue):
        return {"step": event.step, "detail": w("reminder_n", event.count)}
    if isinstance(event, ev.StallDetected):
        return {"detail": w("overdue", round(event.overdue_seconds / 60))}
    if isinstance(event, ev.IncidentClosed):
        return {"person": names.person(event.by), "detail": event.reason}
    return {}


# -- statistics -------------------------------------------------------------------------------------------------


@attrs.frozen
class Statistics:
    """Counts for the municipality's lägesbild: nothing in it names or identifies a person.

    Attributes:
        incidents: how many incidents.
        open: how many are open.
        closed: how many are closed.
        by_kind: incident kind → count (kinds with none left out).
        by_severity: severity → count.
        by_month: ``"2026-03"`` → incidents reported that month (in the municipality's time zone).
        acknowledged: incidents with at least one acknowledgement.
        median_to_ack: the median time from report to first acknowledgement, over those.
    """

    incidents: int
    open: int
    closed: int
    by_kind: Mapping[IncidentKind, int]
    by_severity: Mapping[Severity, int]
    by_month: Mapping[str, int]
    acknowledged: int
    median_to_ack: timedelta | None


async def statistics(store: Store, *, timezone: tzinfo = UTC) -> Statistics:
    """Count every incident in the store (months in ``timezone``)."""
    rows = [row for row, _ in await _summaries(store)]
    waits = [r.first_ack.total_seconds() for r in rows if r.first_ack is not None]
    return Statistics(
        incidents=len(rows),
        open=sum(1 for r in rows if r.status is IncidentStatus.OPEN),
        closed=sum(1 for r in rows if r.status is IncidentStatus.CLOSED),
        by_kind=_ordered(Counter(r.kind for r in rows), list(IncidentKind)),
        by_severity=_ordered(Counter(r.severity for r in rows), list(Severity)),
        by_month=dict(sorted(Counter(r.reported_at.astimezone(timezone).strftime("%Y-%m") for r in rows).items())),
        acknowledged=len(waits),
        median_to_ack=timedelta(seconds=stats.median(waits)) if waits else None,
    )


def _ordered(counts: Counter[Any], order: Iterable[Any]) -> dict[Any, int]:
    return {key: counts[key] for key in order if counts[key]}


# -- retention --------------------------------------------------------------------------------------------------


@attrs.frozen
class PurgeCandidate:
    """A closed incident past the retention period."""

    id: str
    reference: str
    closed_at: datetime


async def past_retention(store: Store, municipality: Municipality, *, now: datetime) -> list[PurgeCandidate]:
    """The municipality's closed incidents closed at least ``municipality.retention`` before ``now``.

    Open incidents are never listed, nor other municipalities' incidents in a shared store. Raises ``ValueError``
    when the municipality sets no retention.
    """
    if municipality.retention is None:
        raise ValueError("the municipality sets no retention")
    cutoff = now - municipality.retention
    still_open = set(await store.open_incidents())
    out = []
    for row, incident in await _summaries(store):
        if row.id in still_open or incident.municipality != municipality.id:
            continue
        if row.closed_at is not None and row.closed_at <= cutoff:
            out.append(PurgeCandidate(row.id, row.reference, row.closed_at))
    return sorted(out, key=lambda c: c.closed_at)


# -- output -----------------------------------------------------------------------------------------------------


def _zone(municipality: Municipality | None) -> tzinfo:
    return ZoneInfo(municipality.timezone) if municipality is not None else UTC


def _time(value: datetime, zone: tzinfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    return "\n".join([lines[0], "-" * max(len(line) for line in lines), *lines[1:]])


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().rstrip("\n")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else round(value.total_seconds())


_LIST_COLUMNS = (
    "reference",
    "kind",
    "severity",
    "status",
    "reported_at",
    "closed_at",
    "open_steps",
    "seconds_to_first_ack",
)


def format_incidents(
    rows: Sequence[IncidentRow], fmt: Format = "text", *, lang: str = "sv", municipality: Municipality | None = None
) -> str:
    """The incident list as text (a table in ``lang``), JSON or CSV (language-neutral keys and values)."""
    data = [
        {
            "reference": r.reference,
            "kind": str(r.kind),
            "severity": str(r.severity),
            "status": str(r.status),
            "reported_at": _iso(r.reported_at),
            "closed_at": _iso(r.closed_at),
            "open_steps": [{"step": step, "state": state} for step, state in r.open_steps],
            "seconds_to_first_ack": _seconds(r.first_ack),
        }
        for r in rows
    ]
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2)
    if fmt == "csv":
        return _csv(
            _LIST_COLUMNS,
            (
                [
                    *(r.reference, r.kind, r.severity, r.status, _iso(r.reported_at), _iso(r.closed_at)),
                    " ".join(f"{step}:{state}" for step, state in r.open_steps),
                    _seconds(r.first_ack),
                ]
                for r in rows
            ),
        )
    if not rows:
        return _word("none", lang)
    zone = _zone(municipality)
    table = _table(
        [_word(k, lang) for k in ("reference", "kind", "severity", "status", "reported", "open_steps", "first_ack")],
        [
            [
                r.reference,
                kind_label(r.kind, lang),
                severity_label(r.severity, lang),
                _word(str(r.status), lang),
                _time(r.reported_at, zone),
                ", ".join(f"{step} ({_word(state, lang)})" for step, state in r.open_steps) or "–",
                _duration(r.first_ack, lang),
            ]
            for r in rows
        ],
    )
    return f"{table}\n{_times_note(municipality, lang)}"


def _times_note(municipality: Municipality | None, lang: str) -> str:
    if municipality is None:
        return _word("times_utc", lang)
    return _word("times_in", lang).format(municipality.timezone)


def format_trail(
    incident: IncidentRow,
    rows: Sequence[TrailRow],
    fmt: Format = "text",
    *,
    lang: str = "sv",
    municipality: Municipality | None = None,
) -> str:
    """One incident's trail as text (a heading and a table in ``lang``), JSON or CSV."""
    columns = _TRAIL
    if fmt == "json":
        return json.dumps(
            {
                "reference": incident.reference,
                "kind": str(incident.kind),
                "severity": str(incident.severity),
                "status": str(incident.status),
                "events": [
                    {"at": _iso(r.at), "event": r.event, "label": r.label, **{c: getattr(r, c) for c in columns}}
                    for r in rows
                ],
            },
            ensure_ascii=False,
            indent=2,
        )
    if fmt == "csv":
        return _csv(
            ["at", "event", "label", *columns],
            ([_iso(r.at), r.event, r.label] + [getattr(r, c) for c in columns] for r in rows),
        )
    zone = _zone(municipality)
    heading = (
        f"{incident.reference}: {kind_label(incident.kind, lang)}, {severity_label(incident.severity, lang)}, "
        f"{_word(str(incident.status), lang)}"
    )
    table = _table(
        [_word(k, lang) for k in ("time", "event", *columns)],
        [[_time(r.at, zone), r.label, *(getattr(r, c) for c in columns)] for r in rows],
    )
    return f"{heading}\n\n{table}\n{_times_note(municipality, lang)}"


def format_statistics(numbers: Statistics, fmt: Format = "text", *, lang: str = "sv") -> str:
    """The statistics as text (in ``lang``), JSON or CSV (rows of group, key, value)."""
    if fmt == "json":
        return json.dumps(
            {
                "incidents": numbers.incidents,
                "open": numbers.open,
                "closed": numbers.closed,
                "by_kind": {str(k): n for k, n in numbers.by_kind.items()},
                "by_severity": {str(k): n for k, n in numbers.by_severity.items()},
                "by_month": dict(numbers.by_month),
                "acknowledged": numbers.acknowledged,
                "median_seconds_to_first_ack": _seconds(numbers.median_to_ack),
            },
            indent=2,
        )
    if fmt == "csv":
        rows: list[tuple[str, str, object]] = [
            ("total", "incidents", numbers.incidents),
            ("status", "open", numbers.open),
            ("status", "closed", numbers.closed),
            *(("kind", str(k), n) for k, n in numbers.by_kind.items()),
            *(("severity", str(k), n) for k, n in numbers.by_severity.items()),
            *(("month", k, n) for k, n in numbers.by_month.items()),
            ("acknowledgement", "acknowledged", numbers.acknowledged),
            ("acknowledgement", "median_seconds", _seconds(numbers.median_to_ack)),
        ]
        return _csv(["group", "key", "value"], rows)

    def block(title: str, counts: Mapping[str, int]) -> list[str]:
        width = max((len(k) for k in counts), default=0)
        return [f"{title}:", *(f"  {k.ljust(width)}  {n:>4}" for k, n in counts.items())]

    w = _word
    median = _duration(numbers.median_to_ack, lang) if numbers.median_to_ack is not None else w("no_ack", lang)
    lines = [
        w("stats_title", lang),
        "",
        f"{w('incidents', lang)}: {numbers.incidents} ("
        + w("of_which", lang).format(
            numbers.open,
            _plural("open_n", numbers.open, lang),
            numbers.closed,
            _plural("closed_n", numbers.closed, lang),
        )
        + ")",
        "",
        *block(w("by_kind", lang), {kind_label(k, lang): n for k, n in numbers.by_kind.items()}),
        "",
        *block(w("by_severity", lang), {severity_label(k, lang): n for k, n in numbers.by_severity.items()}),
        "",
        *block(w("by_month", lang), dict(numbers.by_month)),
        "",
        f"{w('median_ack', lang)}: {median} ("
        + w("acked_of", lang).format(
            numbers.acknowledged,
            numbers.incidents,
            _plural("incidents_n", numbers.incidents, lang),
            _plural("acked_n", numbers.incidents, lang),
        )
        + ")",
    ]
    return "\n".join(lines)
