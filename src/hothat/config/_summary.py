"""A readable summary of a loaded municipality: who is reachable, who holds what, and who takes each step."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from hothat.domain.durations import format_duration
from hothat.domain.municipality import Municipality
from hothat.domain.people import Availability, Directory, RoleScope
from hothat.domain.routine import Deadlines, Routine, Step, Strategy

__all__ = ["format_availability", "summarize"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _days(days: frozenset[int]) -> str:
    if days == frozenset(range(1, 8)):
        return "daily"
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(_DAYS[r[0] - 1] if len(r) == 1 else f"{_DAYS[r[0] - 1]}-{_DAYS[r[-1] - 1]}" for r in runs)


def format_availability(availability: Availability) -> str:
    """``"mon-fri 08:00-17:00"``, or ``"always"``."""
    if availability.always:
        return "always"
    return "; ".join(
        f"{_days(w.days)} {w.start:%H:%M}-{'24:00' if w.end.hour == w.end.minute == 0 else f'{w.end:%H:%M}'}"
        for w in availability.windows
    )


def _deadlines(deadlines: Deadlines) -> str:
    parts = []
    if deadlines.ack_within is not None:
        parts.append(f"ack {format_duration(deadlines.ack_within)}")
    if deadlines.done_within is not None:
        parts.append(f"done {format_duration(deadlines.done_within)}")
    return ", ".join(parts)


def _people(ids: Iterable[str]) -> str:
    return ", ".join(ids) or "nobody"


class _Writer:
    def __init__(self, municipality: Municipality) -> None:
        self.m = municipality
        self.d: Directory = municipality.directory
        self.lines: list[str] = []

    def out(self, text: str = "") -> None:
        self.lines.append(text)

    def resolution(self, role_id: str, party: str | None) -> str:
        found = self.d.resolve(role_id, party)
        who = _people(p.id for p in found.people)
        return f"{who} (via {found.resolved_role})" if found.fell_back else who

    def header(self) -> None:
        m = self.m
        self.out(
            f"{m.name} ({m.id}): reference numbers {m.reference_prefix}-YYYY-NNNN, locale {m.locale}, "
            f"time zone {m.timezone}"
        )
        people = list(self.d.people.values())
        media = Counter(c.medium.value for p in people for c in {c.medium: c for c in p.contacts}.values())
        protected = sum(p.protected_identity for p in people)
        listed = ", ".join(f"{name} {count}" for name, count in sorted(media.items()))
        self.out(f"People: {len(people)} ({listed}; {protected} with protected identity)")
        single = [p.id for p in people if len({c.medium for c in p.contacts}) < 2]
        if single:
            self.out(f"  reachable by one medium only: {', '.join(single)}")
        for p in people:
            if not p.availability.always:
                self.out(f"  {p.id} available {format_availability(p.availability)}")
        if m.channels:
            channels = ", ".join(
                f"{c.name} = {c.plugin} ({c.medium.value if c.medium else '?'}"
                f"{', ' + c.disclosure if c.disclosure else ''})"
                for c in m.channels
            )
            self.out(f"Channels: {channels}")

    def parties(self) -> None:
        if not self.d.parties:
            return
        self.out()
        self.out(f"Parties ({len(self.d.parties)}):")
        width = max(len(p) for p in self.d.parties)
        for party in self.d.parties.values():
            extra = f"; runs routine {party.routine} first" if party.routine else ""
            self.out(f"  {party.id:<{width}}  {party.name}{extra}")

    def roles(self) -> None:
        used = set(self.d.holders)
        for party in self.d.parties.values():
            used.update(party.holders)
        for routine in self.m.routines.values():
            for step in routine.steps:
                used.update(step.owners)
                used.update(step.escalation)
        shown = [r for r in self.d.roles.values() if r.id in used and r.scope is not RoleScope.INCIDENT]
        if not shown:
            return
        self.out()
        self.out("Roles and holders:")
        width = max(len(r.id) for r in shown)
        for role in shown:
            notes = []
            if role.fallbacks:
                notes.append("falls back to " + " → ".join(role.fallbacks))
            if not role.availability.always:
                notes.append(f"available {format_availability(role.availability)}")
            note = f" ({'; '.join(notes)})" if notes else ""
            self.out(f"  {role.id:<{width}}  {role.name()}{note}: {self.holders(role.id)}")

    def routine(self, routine: Routine) -> None:
        self.out()
        tags = []
        if routine.id == self.m.default_routine:
            tags.append("default")
        for rule in self.m.rules:
            if rule.routine == routine.id:
                kinds = ", ".join(sorted(k.value for k in rule.kinds)) or "any kind"
                sevs = ", ".join(sorted(s.value for s in rule.severities)) or "any severity"
                tags.append(f"for {kinds} / {sevs}")
        users = [p.id for p in self.d.parties.values() if p.routine == routine.id]
        if users:
            tags.append(f"party chain of {', '.join(users)}")
        self.out(f"Routine {routine.id} ({'; '.join(tags) or 'not selected by any rule'}): {routine.name.sv}")
        self.out(f"  unresolved_to {routine.unresolved_to}: {self.resolution(routine.unresolved_to, None)}")
        for step in routine.steps:
            self.step(routine, step)

    def holders(self, role_id: str, parties: Iterable[str] | None = None) -> str:
        role = self.d.roles.get(role_id)
        if role is not None and role.scope is RoleScope.INCIDENT:
            return "filled per incident"
        if role is not None and role.scope is RoleScope.PARTY:
            shown = self.d.parties if parties is None else parties
            return " | ".join(f"{p}: {self.resolution(role_id, p)}" for p in shown) or "no parties"
        return self.resolution(role_id, None)

    def parties_of(self, routine: Routine) -> list[str]:
        """The parties a routine runs for: those naming it as their chain, or all for a municipal routine."""
        users = [p.id for p in self.d.parties.values() if p.routine == routine.id]
        municipal = routine.id == self.m.default_routine or any(r.routine == routine.id for r in self.m.rules)
        return users if users and not municipal else list(self.d.parties)

    def step(self, routine: Routine, step: Step) -> None:
        self.out(f"  {step.id}  {step.title.sv}")

        def row(label: str, text: str) -> None:
            self.out(f"      {label:<11} {text}")

        for owner in step.owners:
            holders = self.holders(owner, self.parties_of(routine))
            row(
                "owners" if step.joint else "owner",
                f"{owner} → {holders}" + (" (jointly)" if step.joint else ""),
            )
        deps = routine.dependencies(step)
        starts = f"after {', '.join(deps)}" if deps else "at once"
        row("starts", starts + (f", only when {step.when}" if step.when is not None else ""))
        if step.strategy is Strategy.SEQUENTIAL:
            row("notify", "one holder at a time")
        elif step.strategy is Strategy.TREE and step.tree is not None:
            row("notify", f"phone tree of {len(step.tree.walk())} nodes, {step.needed} answer(s) needed")
        timing = [_deadlines(step.deadlines) or "none"]
        timing += [f"{sev.value}: {_deadlines(step.deadlines_for(sev))}" for sev in step.by_severity]
        row("deadlines", "; ".join(timing))
        if step.escalation:
            times = {0: "", 1: ", repeated once"}.get(step.repeat, f", repeated {step.repeat} times")
            row("escalation", " → ".join(step.escalation) + times)
        if step.informed:
            row("informed", ", ".join(step.informed))
        if step.checklist:
            row("checklist", ", ".join(item.id for item in step.checklist))
        if step.fills_role:
            row("fills", step.fills_role)


def summarize(municipality: Municipality) -> str:
    """A plain-text summary: people and media, parties, roles and holders, and every routine step by step
    with its owners resolved per party, its deadlines and its escalation."""
    writer = _Writer(municipality)
    writer.header()
    writer.parties()
    writer.roles()
    for routine in municipality.routines.values():
        writer.routine(routine)
    return "\n".join(writer.lines)
