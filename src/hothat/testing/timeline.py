"""The timeline of a simulation: what happened, when, in which step, to which role and person, by which medium.

The timeline is built from the incidents' audit trails (the engine's events), so it shows exactly what the engine
recorded. Each entry is plain data (:class:`TimelineEntry`); :meth:`Timeline.text` prints one line per entry::

    t+00:00  Incident anmäld   -      -                            -             -
    t+00:00  Avisering         3.1.1  Partiets säkerhetsansvarig   Per Exempelsson  sms
    t+12:00  Kvitterat         3.1.1  Partiets säkerhetsansvarig   Per Exempelsson  sms

People with protected identity are shown by their role, never by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import overload

import attrs

from hothat.channels import MessageKind
from hothat.domain import Medium, Municipality, Routine
from hothat.engine import events as ev
from hothat.engine.events import Purpose

__all__ = ["EVENTS", "Timeline", "TimelineEntry", "format_offset", "label"]

EVENTS: dict[str, tuple[str, str]] = {
    "reported": ("Incident anmäld", "Incident reported"),
    "activated": ("Steg startar", "Step starts"),
    "skipped": ("Steg hoppas över", "Step skipped"),
    "fallback": ("Reservroll", "Fallback role"),
    "unresolved": ("Ingen nåbar", "Nobody reachable"),
    "message": ("Meddelande", "Message"),
    "delivery_failed": ("Leverans misslyckades", "Delivery failed"),
    "acknowledged": ("Kvitterat", "Acknowledged"),
    "declined": ("Avböjt", "Declined"),
    "escalated": ("Eskalerat", "Escalated"),
    "exhausted": ("Eskalering uttömd", "Escalation exhausted"),
    "fact": ("Beslut", "Fact recorded"),
    "checked": ("Punkt avbockad", "Item checked"),
    "role_assigned": ("Roll tilldelad", "Role assigned"),
    "completed": ("Klart", "Completed"),
    "overdue": ("Försenat", "Overdue"),
    "stalled": ("Stopp i motorn", "Engine stalled"),
    "closed": ("Incident stängd", "Incident closed"),
    "no_effect": ("Utan verkan", "No effect"),
}
"""Every timeline event key with its Swedish and English label."""

_KINDS: dict[MessageKind, tuple[str, str]] = {
    MessageKind.NOTIFY: ("Avisering", "Notification"),
    MessageKind.ESCALATION: ("Eskalering", "Escalation"),
    MessageKind.REMINDER: ("Påminnelse", "Reminder"),
    MessageKind.TAKEN: ("Besked: tagen", "Notice: taken"),
    MessageKind.INFORMED: ("För kännedom", "For information"),
    MessageKind.UNRESOLVED: ("Ingen nådd: ta över", "Nobody reached: take over"),
    MessageKind.CLOSED: ("Besked: stängd", "Notice: closed"),
}

_REASONS: dict[str, tuple[str, str]] = {
    "no acknowledgement in time": ("ingen kvittens i tid", "no acknowledgement in time"),
    "declined": ("avböjt", "declined"),
    "nobody holds the role": ("ingen har rollen", "nobody holds the role"),
}

_CONDITION = re.compile(r"condition '(.+)' is false")

_OWNER_KINDS = {
    MessageKind.NOTIFY: Purpose.OWNER,
    MessageKind.ESCALATION: Purpose.OWNER,
    MessageKind.UNRESOLVED: Purpose.UNRESOLVED,
    MessageKind.INFORMED: Purpose.INFORMED,
    MessageKind.REMINDER: Purpose.REMINDER,
}


def label(event: str, lang: str = "sv", kind: MessageKind | None = None) -> str:
    """The display label of a timeline event key (a message's label names its kind)."""
    index = 1 if lang == "en" else 0
    if event == "message" and kind is not None:
        return _KINDS[kind][index]
    return EVENTS.get(event, (event, event))[index]


def format_offset(offset: timedelta) -> str:
    """``t+mm:ss`` below an hour, ``t+1h05:00`` from an hour on (``t-`` before the origin)."""
    seconds = int(offset.total_seconds())
    sign = "+" if seconds >= 0 else "-"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"t{sign}{hours}h{minutes:02d}:{secs:02d}"
    return f"t{sign}{minutes:02d}:{secs:02d}"


@attrs.frozen
class TimelineEntry:
    """One thing that happened.

    Attributes:
        at: when (UTC).
        offset: time since the timeline's origin (the first report).
        event: what happened, a key of :data:`EVENTS` (``"message"``, ``"acknowledged"``, ...).
        step: the step id, if the event is about one step.
        role: the role id involved: the role a person holds (after fallbacks) for messages and answers, the role
            asked next for escalations, the role that resolved to nobody for ``unresolved``.
        person: the person id, if a person is involved.
        medium: the medium of a message or an answer.
        detail: a short machine-readable detail (a message kind, a reason, ``fact=true``).
        incident: the incident's reference number.
        kind: the message kind, for ``message`` and ``delivery_failed`` entries.
        asked_role: the role a person was asked as (differs from ``role`` when a fallback answered).
    """

    at: datetime
    offset: timedelta
    event: str
    step: str | None = None
    role: str | None = None
    person: str | None = None
    medium: Medium | None = None
    detail: str = ""
    incident: str = ""
    kind: MessageKind | None = None
    asked_role: str | None = None

    def has_role(self, role: str) -> bool:
        """Whether this entry involves ``role``, as held or as asked."""
        return role in (self.role, self.asked_role)


class Timeline(Sequence[TimelineEntry]):
    """The entries of a simulation in time order, with the names needed to print them.

    Args:
        municipality: the configuration (for role and person names).
        entries: the entries.
        origin: time zero of the offsets.
        lang: ``"sv"`` (default) or ``"en"`` for labels.
    """

    def __init__(
        self,
        municipality: Municipality,
        entries: Iterable[TimelineEntry] = (),
        *,
        origin: datetime | None = None,
        lang: str = "sv",
    ) -> None:
        self.municipality = municipality
        self.entries = list(entries)
        self.origin = origin
        self.lang = lang

    @overload
    def __getitem__(self, index: int) -> TimelineEntry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[TimelineEntry]: ...
    def __getitem__(self, index: int | slice) -> TimelineEntry | Sequence[TimelineEntry]:
        return self.entries[index]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[TimelineEntry]:
        return iter(self.entries)

    def __repr__(self) -> str:
        return f"<Timeline {len(self.entries)} entries>"

    def where(
        self, event: str | None = None, *, step: str | None = None, role: str | None = None, person: str | None = None
    ) -> list[TimelineEntry]:
        """The entries matching every given filter (``role`` matches the held or the asked role)."""
        return [
            e
            for e in self.entries
            if (event is None or e.event == event)
            and (step is None or e.step == step)
            and (role is None or e.has_role(role))
            and (person is None or e.person == person)
        ]

    def until(self, at: datetime) -> Timeline:
        """The entries up to and including ``at``."""
        return Timeline(self.municipality, [e for e in self.entries if e.at <= at], origin=self.origin, lang=self.lang)

    # -- names ------------------------------------------------------------------------------------------------

    def role_name(self, role: str | None, lang: str | None = None) -> str:
        """A role's display name in the timeline's language (the id if the role is unknown)."""
        if not role:
            return "-"
        found = self.municipality.directory.roles.get(role)
        return found.name(lang or self.lang) if found is not None else role

    def person_name(self, person: str | None, role: str | None = None, lang: str | None = None) -> str:
        """A person's display name; a person with protected identity is shown by role only."""
        if not person:
            return "-"
        found = self.municipality.directory.people.get(person)
        if found is None:
            return person
        if found.protected_identity:
            shown = (
                self.role_name(role, lang)
                if role
                else ("protected identity" if (lang or self.lang) == "en" else "skyddad identitet")
            )
            return f"[{shown}]"
        return found.name

    def detail_text(self, entry: TimelineEntry, lang: str | None = None) -> str:
        """The entry's detail in words, for people."""
        lang = lang or self.lang
        index = 1 if lang == "en" else 0
        if entry.event == "escalated":
            reason, _, levels = entry.detail.partition("|")
            return f"{levels}: {_REASONS.get(reason, (reason, reason))[index]}"
        if entry.event == "fact":
            fact, _, value = entry.detail.partition("=")
            words = ("ja", "nej") if index == 0 else ("yes", "no")
            return f"{fact} = {words[0] if value == 'true' else words[1]}"
        if entry.event == "skipped":
            found = _CONDITION.fullmatch(entry.detail)
            if found is not None:
                return f"{found[1]} = {'nej' if index == 0 else 'no'}"
            return entry.detail
        if entry.event == "fallback":
            return " → ".join(self.role_name(r, lang) for r in entry.detail.split(">") if r)
        if entry.event == "message" or (entry.event in ("acknowledged", "declined") and entry.medium):
            return ""
        if entry.event == "unresolved":
            return {
                "owner": ("", ""),
                "unresolved": ("sista utväg", "last resort"),
                "informed": ("för kännedom", "for information"),
                "reminder": ("påminnelse", "reminder"),
            }.get(entry.detail, ("", ""))[index]
        return entry.detail

    def text(self, lang: str | None = None) -> str:
        """One line per entry: ``t+mm:ss  event  step  role  person  medium  (detail)``."""
        lang = lang or self.lang
        several = len({e.incident for e in self.entries}) > 1
        rows = []
        for e in self.entries:
            row = [format_offset(e.offset)]
            if several:
                row.append(e.incident)
            row += [
                label(e.event, lang, e.kind),
                e.step or "-",
                self.role_name(e.role, lang),
                self.person_name(e.person, e.role, lang),
                e.medium.value if e.medium else "-",
            ]
            detail = self.detail_text(e, lang)
            rows.append((row, detail))
        if not rows:
            return "(inga händelser)" if lang != "en" else "(no events)"
        widths = [max(len(r[0][i]) for r in rows) for i in range(len(rows[0][0]))]
        lines = []
        for row, detail in rows:
            cells = [row[0].ljust(widths[0])] + [c.ljust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
            line = "  ".join(cells).rstrip()
            lines.append(f"{line}  ({detail})" if detail else line)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


# -- building from trails -------------------------------------------------------------------------------------


@attrs.define
class _Context:
    """What the builder remembers about one incident while reading its trail."""

    reference: str = ""
    routine: Routine | None = None
    unresolved_to: str = ""
    queued: dict[str, ev.NotificationQueued] = attrs.field(factory=dict)
    # (step, person, purpose) → (asked role, held role)
    roles: dict[tuple[str, str, Purpose], tuple[str, str]] = attrs.field(factory=dict)
    # (step, person) → the role they took the step as
    took: dict[tuple[str, str], tuple[str, str]] = attrs.field(factory=dict)
    seen: int = 0


class TimelineBuilder:
    """Turns trails into timeline entries, incrementally (feed each incident's new events as they come)."""

    def __init__(self, municipality: Municipality) -> None:
        self.municipality = municipality
        self.origin: datetime | None = None
        self.entries: list[TimelineEntry] = []
        self._contexts: dict[str, _Context] = {}

    def seen(self, incident_id: str) -> int:
        """How many events of this incident have been read."""
        context = self._contexts.get(incident_id)
        return context.seen if context is not None else 0

    def feed(self, incident_id: str, events: Sequence[ev.Event]) -> None:
        """Read the next events of one incident's trail."""
        context = self._contexts.setdefault(incident_id, _Context())
        for event in events:
            context.seen += 1
            if self.origin is None:
                self.origin = event.at
            self.entries.extend(self._entries(context, event))

    def add(self, entry: TimelineEntry) -> None:
        """Add an entry that is not in any trail (a simulated person's answer that had no effect)."""
        self.entries.append(entry)

    def timeline(self, lang: str = "sv") -> Timeline:
        """The entries so far, in time order (stable: trail order within the same instant)."""
        entries = sorted(self.entries, key=lambda e: e.at)
        return Timeline(self.municipality, entries, origin=self.origin, lang=lang)

    def offset(self, at: datetime) -> timedelta:
        """The offset of ``at`` from the origin."""
        return at - self.origin if self.origin is not None else timedelta(0)

    def _role(
        self, context: _Context, step: str, person: str, purpose: Purpose | None
    ) -> tuple[str | None, str | None]:
        if purpose is not None:
            found = context.roles.get((step, person, purpose))
            if found is not None:
                return found
        found = context.took.get((step, person))
        if found is not None:
            return found
        for (s, p, _), roles in reversed(context.roles.items()):
            if s == step and p == person:
                return roles
        return None, None

    def _entries(self, c: _Context, e: ev.Event) -> list[TimelineEntry]:
        def entry(event: str, **kw: object) -> TimelineEntry:
            return TimelineEntry(e.at, self.offset(e.at), event, incident=c.reference, **kw)  # type: ignore[arg-type]

        if isinstance(e, ev.IncidentReported):
            c.reference = e.incident.reference
            c.routine = self.municipality.known_routine(e.incident.routine)
            c.unresolved_to = c.routine.unresolved_to if c.routine is not None else ""
            party = self.municipality.directory.parties.get(e.incident.party or "")
            detail = f"{e.incident.kind.value}, {e.incident.severity.value}" + (f", {party.name}" if party else "")
            return [entry("reported", detail=detail)]
        if isinstance(e, ev.StepActivated):
            return [entry("activated", step=e.step, role=self._owner(c, e.step))]
        if isinstance(e, ev.StepSkipped):
            return [entry("skipped", step=e.step, role=self._owner(c, e.step), detail=e.reason)]
        if isinstance(e, ev.TargetsResolved):
            holder = e.via[-1] if e.via else e.role
            for person in e.people:
                c.roles[(e.step, person, e.purpose)] = (e.role, holder)
            if len(e.via) > 1 and e.purpose is not Purpose.INFORMED:
                return [entry("fallback", step=e.step, role=holder, asked_role=e.role, detail=">".join(e.via))]
            return []
        if isinstance(e, ev.RoleUnresolved):
            return [entry("unresolved", step=e.step, role=e.role, asked_role=e.role, detail=e.purpose.value)]
        if isinstance(e, ev.NotificationQueued):
            c.queued[e.key] = e
            return []
        if isinstance(e, ev.NotificationSent | ev.DeliveryFailed):
            queued = c.queued.get(e.key)
            if queued is None:
                return []
            asked, held = self._role(c, queued.step, queued.person, _OWNER_KINDS.get(queued.kind))
            if isinstance(e, ev.NotificationSent):
                return [
                    entry(
                        "message",
                        step=queued.step,
                        role=held,
                        asked_role=asked,
                        person=queued.person,
                        medium=queued.medium,
                        kind=queued.kind,
                        detail=queued.kind.value,
                    )
                ]
            return [
                entry(
                    "delivery_failed",
                    step=queued.step,
                    role=held,
                    asked_role=asked,
                    person=queued.person,
                    medium=queued.medium,
                    kind=queued.kind,
                    detail=f"{e.failure.value}: {e.reason}",
                )
            ]
        if isinstance(e, ev.Acknowledged | ev.Declined):
            asked, held = self._role(c, e.step, e.person, None)
            for purpose in (Purpose.OWNER, Purpose.UNRESOLVED):
                if (e.step, e.person, purpose) in c.roles:
                    asked, held = c.roles[(e.step, e.person, purpose)]
                    break
            medium = Medium(e.via) if e.via in Medium.__members__.values() else None
            if isinstance(e, ev.Acknowledged):
                if asked is None:  # took the step by completing it, without being asked
                    asked = held = self._owner(c, e.step)
                if asked is not None and held is not None:
                    c.took[(e.step, e.person)] = (asked, held)
                return [
                    entry(
                        "acknowledged",
                        step=e.step,
                        role=held,
                        asked_role=asked,
                        person=e.person,
                        medium=medium,
                        detail=e.via,
                    )
                ]
            return [
                entry(
                    "declined", step=e.step, role=held, asked_role=asked, person=e.person, medium=medium, detail=e.via
                )
            ]
        if isinstance(e, ev.Escalated):
            role = self._level_role(c, e.step, e.slot, e.to_level)
            levels = f"{e.from_level}→{e.to_level}" + (f" ({e.round + 1})" if e.round else "")
            return [entry("escalated", step=e.step, role=role, asked_role=role, detail=f"{e.reason}|{levels}")]
        if isinstance(e, ev.EscalationExhausted):
            role = self._unresolved(c, e.step)
            return [entry("exhausted", step=e.step, role=role, asked_role=role)]
        if isinstance(e, ev.FactRecorded):
            return [
                entry(
                    "fact",
                    person=e.by if e.by in self.municipality.directory.people else None,
                    detail=f"{e.fact}={'true' if e.value else 'false'}",
                )
            ]
        if isinstance(e, ev.ChecklistChecked):
            _, held = self._role(c, e.step, e.person, None)
            return [entry("checked", step=e.step, role=held, person=e.person, detail=e.item)]
        if isinstance(e, ev.RoleAssigned):
            return [entry("role_assigned", role=e.role, person=e.person)]
        if isinstance(e, ev.StepCompleted):
            asked, held = self._role(c, e.step, e.person, None)
            return [entry("completed", step=e.step, role=held, asked_role=asked, person=e.person, detail=e.note)]
        if isinstance(e, ev.CompletionOverdue):
            return [entry("overdue", step=e.step, role=self._owner(c, e.step), detail=str(e.count))]
        if isinstance(e, ev.StallDetected):
            return [entry("stalled", detail=f"{e.overdue_seconds:.0f}s")]
        if isinstance(e, ev.IncidentClosed):
            return [
                entry("closed", person=e.by if e.by in self.municipality.directory.people else None, detail=e.reason)
            ]
        return []

    @staticmethod
    def _owner(c: _Context, step_id: str) -> str | None:
        if c.routine is None:
            return None
        try:
            return c.routine.step(step_id).owners[0]
        except (KeyError, IndexError):
            return None

    @staticmethod
    def _level_role(c: _Context, step_id: str, slot: int, level: int) -> str | None:
        if c.routine is None:
            return None
        try:
            step = c.routine.step(step_id)
        except KeyError:
            return None
        chain = (step.owners[slot] if slot < len(step.owners) else step.owners[0], *step.escalation)
        return chain[min(level, len(chain) - 1)]

    @staticmethod
    def _unresolved(c: _Context, step_id: str) -> str | None:
        if c.routine is None:
            return None
        try:
            return c.routine.step(step_id).unresolved_to or c.unresolved_to
        except KeyError:
            return c.unresolved_to or None
