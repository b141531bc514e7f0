"""``hothat drill``: every routine against adversarial scenarios, and a report of the weak points found.

The drill reads the configuration (who holds which role, who can be reached how and when) and runs every step
of every routine, on its own, through the real engine on a virtual clock, for each party, under six built-in
scenarios:

- ``nobody_answers``: nobody answers anything;
- ``last_fallback_answers``: only the last escalation role and the routine's ``unresolved_to`` answer;
- ``no_security_contact``: the party has appointed no security contact (its fallback must take over);
- ``protected_target``: the targeted person has protected identity (no message may name them);
- ``acute_at_night``: an acute incident at 03:00 on a Sunday night;
- ``holder_away``: the only holder of a role in the step's chain is away (one run per such person).

Findings have a level: ``error`` (a step can end with nobody taking it, or a message names a protected person),
``warning`` (a single point of failure: a role with one holder, a person with one medium, times of the week
when a step's owner or chain has nobody available) or ``info`` (fallbacks used, and the longest time until a
human takes each step, per scenario).
"""

from __future__ import annotations

import asyncio
import enum
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from hothat.domain import (
    Directory,
    Incident,
    Municipality,
    ProtectedIdentity,
    RoleScope,
    Routine,
    Severity,
    Step,
    Text,
    format_duration,
)
from hothat.engine import events as ev
from hothat.engine.core import IncidentState
from hothat.engine.events import Purpose
from hothat.testing.simulation import Simulation

__all__ = ["SCENARIOS", "DrillReport", "Finding", "Level", "StepTime", "drill", "drill_async"]

SCENARIOS: dict[str, tuple[str, str]] = {
    "nobody_answers": ("ingen svarar", "nobody answers"),
    "last_fallback_answers": ("bara sista utvägen svarar", "only the last fallback answers"),
    "no_security_contact": ("parti utan säkerhetsansvarig", "party without security contact"),
    "protected_target": ("utsatt med skyddad identitet", "protected-identity target"),
    "acute_at_night": ("akut, natt mot söndag", "acute, Sunday night"),
    "holder_away": ("ensam innehavare borta", "only holder away"),
}
"""The built-in scenarios with their Swedish and English names."""

_DAY_START = "2026-03-10 10:00"  # a Tuesday morning
_NIGHT_START = "2026-03-15 03:00"  # 03:00 on a Sunday: the night between Saturday and Sunday
_WEEK_START = "2026-03-09 00:00"  # the Monday of that week (no daylight-saving change in it)
_SLOT = timedelta(minutes=15)
_SLOTS = 7 * 24 * 4
_ANSWER = "5m"
_LIMIT = "8d"
_DAYS = {
    "sv": ("mån", "tis", "ons", "tor", "fre", "lör", "sön"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


class Level(enum.StrEnum):
    """How serious a finding is."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@attrs.frozen
class Finding:
    """One thing the drill found.

    Attributes:
        level: error, warning or info.
        code: a stable identifier of the kind of finding (``single_holder``, ``availability_gap`` ...).
        sv: the finding in Swedish.
        en: the finding in English.
        routine: the routine, if it is about one.
        step: the step, if it is about one.
        party: the party, if it is about one.
        role: the role, if it is about one.
        person: the person id, if it is about one.
        scenario: the scenario that showed it, if a simulation did.
    """

    level: Level
    code: str
    sv: str
    en: str
    routine: str | None = None
    step: str | None = None
    party: str | None = None
    role: str | None = None
    person: str | None = None
    scenario: str | None = None

    def text(self, lang: str = "sv") -> str:
        """The finding in words."""
        return self.en if lang == "en" else self.sv

    def as_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data."""
        data = attrs.asdict(self)
        data["level"] = self.level.value
        return {k: v for k, v in data.items() if v is not None}


@attrs.frozen
class StepTime:
    """The longest time until a human took a step in one scenario.

    Attributes:
        seconds: the longest time, or ``None`` when a run ended with nobody taking the step.
        party: the party of the slowest run.
        exhausted: for ``nobody_answers``: when the escalation ran out (seconds), if it did.
        runs: how many runs the time is taken over.
    """

    seconds: float | None
    party: str | None = None
    exhausted: float | None = None
    runs: int = 0


@attrs.frozen
class DrillReport:
    """Everything a drill found.

    Attributes:
        municipality: the configuration drilled.
        findings: the findings, errors first.
        times: (routine, step, scenario) → the longest time until a human took the step.
        runs: how many simulations ran.
    """

    municipality: Municipality
    findings: tuple[Finding, ...]
    times: Mapping[tuple[str, str, str], StepTime]
    runs: int

    def at(self, level: Level) -> list[Finding]:
        """The findings of one level."""
        return [f for f in self.findings if f.level is level]

    @property
    def errors(self) -> list[Finding]:
        """The findings of level error."""
        return self.at(Level.ERROR)

    @property
    def warnings(self) -> list[Finding]:
        """The findings of level warning."""
        return self.at(Level.WARNING)

    def codes(self, level: Level | None = None) -> set[str]:
        """The codes found (of one level)."""
        return {f.code for f in self.findings if level is None or f.level is level}

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        times: dict[str, dict[str, dict[str, Any]]] = {}
        for (routine, step, scenario), t in self.times.items():
            times.setdefault(routine, {}).setdefault(step, {})[scenario] = attrs.asdict(t)
        return {
            "municipality": self.municipality.id,
            "source": self.municipality.source,
            "runs": self.runs,
            "counts": {level.value: len(self.at(level)) for level in Level},
            "findings": [f.as_dict() for f in self.findings],
            "times": times,
        }

    def text(self, lang: str = "sv") -> str:
        """The report for people: errors, warnings, information, and a table of times per routine."""
        en = lang == "en"
        m = self.municipality
        routines = len(m.routines)
        steps = sum(len(r.steps) for r in m.routines.values())
        lines = [
            f"{'Drill' if en else 'Övning'}: {m.name} ({m.source})",
            (
                f"{routines} routine(s), {steps} steps, {len(m.directory.parties)} parties, "
                f"{len(SCENARIOS)} scenarios, {self.runs} simulations"
                if en
                else f"{routines} rutin(er), {steps} steg, {len(m.directory.parties)} partier, "
                f"{len(SCENARIOS)} scenarier, {self.runs} simuleringar"
            ),
            "",
        ]
        heads = {
            Level.ERROR: ("FEL", "ERRORS", "✗"),
            Level.WARNING: ("VARNINGAR", "WARNINGS", "!"),
            Level.INFO: ("INFORMATION", "INFORMATION", "·"),
        }
        for level in Level:
            found = self.at(level)
            sv, en_head, mark = heads[level]
            lines.append(f"{en_head if en else sv} ({len(found)})")
            lines += [f"  {mark} {f.text(lang)}" for f in found]
            lines.append("")
        for routine in m.routines.values():
            lines += self._table(routine, lang)
            lines.append("")
        lines.append(
            f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)."
            if en
            else f"{len(self.errors)} fel, {len(self.warnings)} varningar."
        )
        return "\n".join(lines)

    def _table(self, routine: Routine, lang: str) -> list[str]:
        en = lang == "en"
        index = 1 if en else 0
        never = "never" if en else "aldrig"
        header = ["steg" if not en else "step", *(SCENARIOS[s][index] for s in SCENARIOS)]
        rows = [header]
        for step in routine.steps:
            row = [step.id]
            for scenario in SCENARIOS:
                t = self.times.get((routine.id, step.id, scenario))
                if t is None:
                    row.append("–")
                elif scenario == "nobody_answers":
                    exhausted = ("exhausted " if en else "uttömd ") + _short(t.exhausted) if t.exhausted else "–"
                    row.append(exhausted)
                elif t.seconds is None:
                    row.append(never + (f" ({t.party})" if t.party else ""))
                else:
                    row.append(_short(t.seconds) + (f" ({t.party})" if t.party else ""))
            rows.append(row)
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        title = routine.name.get(lang)
        caption = (
            f"Longest time until a human takes each step, routine {routine.id} ({title}):"
            if en
            else f"Längsta tid tills en människa tar steget, rutin {routine.id} ({title}):"
        )
        out = [caption]
        for row in rows:
            out.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        return out


def _short(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return format_duration(timedelta(seconds=round(seconds)))


# -- the isolated runs --------------------------------------------------------------------------------------------


@attrs.frozen
class _Run:
    """What one simulation of one step showed."""

    acked_at: timedelta | None
    acked_by: str | None
    asked: tuple[str, ...]
    unresolved: tuple[tuple[str, Purpose, int], ...]
    exhausted_at: timedelta | None
    protected_named: bool


@attrs.frozen
class _Case:
    routine: Routine
    step: Step
    party: str | None
    scenario: str
    away: str | None = None
    scoped: bool = True

    @property
    def shown_party(self) -> str | None:
        """The party, when the step's roles are held per party (else the party does not matter)."""
        return self.party if self.scoped else None


def _chain(routine: Routine, step: Step) -> tuple[list[tuple[str, ...]], str]:
    """Each owner slot's chain of roles, and the role told when it runs out."""
    return [(owner, *step.escalation) for owner in step.owners], step.unresolved_to or routine.unresolved_to


def _isolated(municipality: Municipality, routine: Routine, step: Step, directory: Directory) -> Municipality:
    """A municipality whose only routine is ``step`` alone, starting at once (no dependencies, no condition)."""
    alone = attrs.evolve(step, after=(), when=None)
    single = Routine(routine.id, routine.name, (alone,), unresolved_to=routine.unresolved_to)
    parties = {pid: attrs.evolve(p, routine=None) for pid, p in directory.parties.items()}
    return attrs.evolve(
        municipality,
        directory=attrs.evolve(directory, parties=parties),
        routines={routine.id: single},
        rules=(),
        default_routine=routine.id,
    )


def _without_security_contact(directory: Directory, party: str) -> Directory:
    found = directory.parties[party]
    holders = {k: v for k, v in found.holders.items() if k != "party_security_contact"}
    return attrs.evolve(directory, parties={**directory.parties, party: attrs.evolve(found, holders=holders)})


def _stand_in(directory: Directory, party: str | None) -> str | None:
    """A person to stand in as the targeted official: someone holding a role of the party."""
    if party is None or party not in directory.parties:
        return None
    for ids in directory.parties[party].holders.values():
        for pid in ids:
            if pid in directory.people:
                return pid
    return None


async def _simulate(
    municipality: Municipality,
    case: _Case,
    *,
    responders: Iterable[str] | None,
    severity: Severity,
    start: str,
    targeted: str | None,
    protected: bool,
) -> _Run:
    """Run one step alone and read what happened from its trail."""
    sim = Simulation(municipality, start=start, record=False)
    if responders is None:
        sim.everyone().answers_after(_ANSWER).completes_after("1m")
    else:
        for pid in responders:
            sim.person(pid).answers_after(_ANSWER).completes_after("1m")
    if case.away is not None:
        sim.person(case.away).never_answers().away()
    async with sim:
        incident = await sim.report(
            kind="threat",
            severity=severity,
            party=case.party,
            targeted=targeted,
            protected_identity=ProtectedIdentity.PROTECTED_REGISTRATION if protected else None,
        )
        await sim.run_until_quiet(_LIMIT)
        trail = await sim.trail()
        texts = [f"{m.subject}\n{m.text}\n{m.html or ''}".casefold() for m in sim.sent]
    return _read(municipality, incident, trail, sim.sent, texts)


def _read(
    municipality: Municipality, incident: Incident, trail: Sequence[ev.Event], sent: Sequence[Any], texts: Sequence[str]
) -> _Run:
    directory = municipality.directory
    start = incident.reported_at
    # The engine's own state says when the step counts as taken (a joint step: when every owner has taken it).
    first = trail[0]
    routine = municipality.known_routine(incident.routine)
    assert isinstance(first, ev.IncidentReported)
    assert routine is not None
    state = IncidentState.start(first, routine, directory)
    for event in trail[1:]:
        state.apply(event)
    taken = state.steps[routine.steps[0].id].acknowledged_at
    acked = next((e for e in trail if isinstance(e, ev.Acknowledged)), None)
    exhausted = next((e for e in trail if isinstance(e, ev.EscalationExhausted)), None)
    unresolved = tuple((e.role, e.purpose, e.level) for e in trail if isinstance(e, ev.RoleUnresolved))
    asked = tuple(dict.fromkeys(m.person_id for m in sent if m.kind in ("notify", "escalation", "unresolved")))
    names = [p.name.casefold() for p in directory.people.values() if p.protected_identity and p.name]
    if incident.targeted and incident.is_protected:
        target = directory.people.get(incident.targeted)
        if target is not None and target.name:
            names.append(target.name.casefold())
    return _Run(
        acked_at=taken - start if taken is not None else None,
        acked_by=acked.person if acked else None,
        asked=asked,
        unresolved=unresolved,
        exhausted_at=exhausted.at - start if exhausted else None,
        protected_named=any(name in text for name in names for text in texts),
    )


# -- static checks --------------------------------------------------------------------------------------------


class _Names:
    def __init__(self, municipality: Municipality, lang: str) -> None:
        self.m = municipality
        self.lang = lang

    def role(self, role: str) -> str:
        found = self.m.directory.roles.get(role)
        return found.name(self.lang) if found is not None else role

    def person(self, pid: str) -> str:
        found = self.m.directory.people.get(pid)
        if found is None:
            return pid
        if found.protected_identity:
            return "[skyddad identitet]" if self.lang == "sv" else "[protected identity]"
        return found.name

    def party(self, party: str | None) -> str:
        if party is None:
            return ""
        found = self.m.directory.parties.get(party)
        return f" ({found.name if found else party})"


_TEMPLATES: dict[str, tuple[str, str]] = {
    "fallback": (
        "{role}{party}: ingen innehavare; reservrollen {other} tar över",
        "{role}{party}: nobody holds it; the fallback {other} takes over",
    ),
    "single_holder": (
        "{role}{party}: bara en innehavare, {person}: sårbart om den personen inte nås",
        "{role}{party}: a single holder, {person}: a single point of failure",
    ),
    "single_medium": (
        "{person}: nås bara via {medium}: ett fel hos den kanalen och personen nås inte",
        "{person}: reachable by {medium} only: one failure and they are not reached",
    ),
    "no_contact": ("{person}: har ingen kontaktväg alls", "{person}: has no contact point at all"),
    "availability_gap": (
        "{head}ingen i kedjan och ingen {other} är nåbar {when}",
        "{head}nobody in the chain and no {other} can be reached {when}",
    ),
    "chain_gap": (
        "{head}ingen i kedjan är nåbar {when}; bara sista utvägen {other} nås",
        "{head}nobody in the chain can be reached {when}; only the last resort {other}",
    ),
    "owner_gap": (
        "{head}ägaren ({role}) har ingen nåbar {when}; steget går direkt till nästa nivå",
        "{head}the owner ({role}) has nobody available {when}; the step goes straight on",
    ),
    "chain_ends_with_nobody": (
        "{head}ingen i kedjan nås, inte heller sista utvägen: steget kan sluta hos ingen",
        "{head}nobody in the chain is reached, nor the last resort: the step can end with nobody",
    ),
    "last_resort_nobody": (
        "{head}när ingen tar steget ska {role} få veta det, men ingen har den rollen",
        "{head}when nobody takes the step, {role} is to be told, but nobody holds that role",
    ),
    "role_nobody": (
        "{head}{role} når ingen; steget går direkt vidare",
        "{head}{role} reaches nobody; the step moves straight on",
    ),
    "away_blocks_step": (
        "{head}om {person} är borta tar ingen steget",
        "{head}if {person} is away, nobody takes the step",
    ),
    "never_acknowledged": ("{head}ingen tar steget ({scenario})", "{head}nobody takes the step ({scenario})"),
    "protected_named": (
        "{head}ett meddelande nämner en person med skyddad identitet",
        "{head}a message names a person with protected identity",
    ),
}


def _finding(
    municipality: Municipality,
    level: Level,
    code: str,
    *,
    routine: str | None = None,
    step: str | None = None,
    party: str | None = None,
    role: str | None = None,
    other: str = "",
    person: str | None = None,
    scenario: str | None = None,
    medium: str = "",
    windows: Sequence[tuple[int, int]] = (),
    roles: Sequence[str] = (),
) -> Finding:
    """A finding, with its text in Swedish and English (role, person and party names in each language)."""
    texts = []
    for index, lang in enumerate(("sv", "en")):
        n = _Names(municipality, lang)
        head = f"{routine} {step}{n.party(party)}: " if step else ""
        texts.append(
            _TEMPLATES[code][index].format(
                role=" / ".join(n.role(r) for r in (roles or ([role] if role else []))),
                other=n.role(other) if other else "",
                person=n.person(person) if person else "",
                party=n.party(party),
                medium=medium,
                head=head,
                scenario=SCENARIOS[scenario][index] if scenario else "",
                when=_describe_windows(windows, lang),
            )
        )
    return Finding(
        level,
        code,
        texts[0],
        texts[1],
        routine=routine,
        step=step,
        party=party,
        role=role,
        person=person,
        scenario=scenario,
    )


def _party_scoped(directory: Directory, roles: Iterable[str]) -> bool:
    """Whether any of the roles (or their fallbacks) is held per party."""
    seen: set[str] = set()
    todo = list(roles)
    while todo:
        role_id = todo.pop()
        if role_id in seen:
            continue
        seen.add(role_id)
        role = directory.roles.get(role_id)
        if role is None:
            continue
        if role.scope is RoleScope.PARTY:
            return True
        todo.extend(role.fallbacks)
    return False


def _static(municipality: Municipality) -> list[Finding]:
    directory = municipality.directory
    findings: list[Finding] = []
    parties: list[str | None] = list(directory.parties) or [None]
    seen_roles: set[tuple[str, str | None]] = set()
    reachable: set[str] = set()
    for routine in municipality.routines.values():
        for step in routine.steps:
            chains, unresolved = _chain(routine, step)
            roles = [r for chain in chains for r in chain] + [unresolved]
            scoped = _party_scoped(directory, roles)
            for party in parties if scoped else parties[:1]:
                for role_id in dict.fromkeys(roles):
                    role = directory.roles.get(role_id)
                    if role is None or role.scope is RoleScope.INCIDENT:
                        continue
                    resolution = directory.resolve(role_id, party)
                    holder_party = party if _party_scoped(directory, [resolution.resolved_role]) else None
                    reachable.update(p.id for p in resolution.people)
                    key = (resolution.resolved_role, holder_party)
                    if key in seen_roles:
                        continue
                    seen_roles.add(key)
                    if resolution.fell_back:
                        findings.append(
                            _finding(
                                municipality,
                                Level.INFO,
                                "fallback",
                                role=resolution.role,
                                other=resolution.resolved_role,
                                party=holder_party,
                            )
                        )
                    if len(resolution.people) == 1:
                        findings.append(
                            _finding(
                                municipality,
                                Level.WARNING,
                                "single_holder",
                                role=resolution.resolved_role,
                                party=holder_party,
                                person=resolution.people[0].id,
                            )
                        )
    for pid in sorted(reachable):
        media = {c.medium for c in directory.people[pid].contacts}
        if len(media) < 2:
            only = next(iter(media)).value if media else ""
            level = Level.WARNING if media else Level.ERROR
            findings.append(
                _finding(municipality, level, "single_medium" if media else "no_contact", person=pid, medium=only)
            )
    findings += _availability(municipality, parties)
    return findings


def _restricted(municipality: Municipality, roles: Iterable[str], party: str | None) -> bool:
    """Whether any role (or fallback) or any of its holders has an availability window."""
    directory = municipality.directory
    seen: set[str] = set()
    todo = list(roles)
    while todo:
        role_id = todo.pop()
        if role_id in seen:
            continue
        seen.add(role_id)
        role = directory.roles.get(role_id)
        if role is None:
            continue
        if not role.availability.always:
            return True
        for pid in directory.direct_holders(role_id, party):
            person = directory.people.get(pid)
            if person is not None and not person.availability.always:
                return True
        todo.extend(role.fallbacks)
    return False


def _availability(municipality: Municipality, parties: Sequence[str | None]) -> list[Finding]:
    directory = municipality.directory
    zone = ZoneInfo(municipality.timezone)
    week = datetime.fromisoformat(_WEEK_START).replace(tzinfo=zone)
    times = [week + _SLOT * i for i in range(_SLOTS)]
    cache: dict[tuple[str, str | None], list[bool]] = {}

    def covered(role: str, party: str | None) -> list[bool]:
        key = (role, party)
        if key not in cache:
            cache[key] = [bool(directory.resolve(role, party, at=t).people) for t in times]
        return cache[key]

    findings: list[Finding] = []
    for routine in municipality.routines.values():
        for step in routine.steps:
            chains, unresolved = _chain(routine, step)
            roles = [r for chain in chains for r in chain if not _incident(directory, r)]
            scoped = _party_scoped(directory, [*roles, unresolved])
            for party in parties if scoped else parties[:1]:
                if not _restricted(municipality, [*roles, unresolved], party):
                    continue
                owners = [c[0] for c in chains if not _incident(directory, c[0])]
                rest = [r for c in chains for r in c[1:] if not _incident(directory, r)]
                level: list[int] = []
                for i in range(_SLOTS):
                    owner_ok = any(covered(r, party)[i] for r in owners) if owners else True
                    chain_ok = owner_ok or any(covered(r, party)[i] for r in rest)
                    last_ok = covered(unresolved, party)[i]
                    level.append(0 if owner_ok else 1 if chain_ok else 2 if last_ok else 3)
                findings += _gap_findings(municipality, routine, step, party, level, owners, unresolved)
    return findings


def _incident(directory: Directory, role_id: str) -> bool:
    role = directory.roles.get(role_id)
    return role is not None and role.scope is RoleScope.INCIDENT


def _windows(flags: Sequence[bool]) -> list[tuple[int, int]]:
    """Runs of true slots as (start, end) over a wrapping week."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(flags):
        if flags[i]:
            j = i
            while j < len(flags) and flags[j]:
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][1] == len(flags):
        first = runs.pop(0)
        last = runs.pop()
        runs.append((last[0], first[1] + len(flags)))
    return runs


def _describe_windows(runs: Sequence[tuple[int, int]], lang: str) -> str:
    """``mån–fre 08:00–17:00``, ``fre 17:00 – mån 08:00``: windows grouped by their times of day."""
    per_day = 24 * 4
    days = _DAYS["en" if lang == "en" else "sv"]

    def clock(slot: int) -> str:
        minutes = (slot % per_day) * 15
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    if len(runs) == 1 and runs[0][1] - runs[0][0] >= _SLOTS:
        return "hela veckan" if lang != "en" else "the whole week"
    grouped: dict[tuple[str, str], list[int]] = {}
    long: list[str] = []
    for start, end in runs:
        if end - start > per_day:
            long.append(f"{days[(start // per_day) % 7]} {clock(start)} – {days[(end // per_day) % 7]} {clock(end)}")
            continue
        grouped.setdefault((clock(start), clock(end) if end % per_day else "24:00"), []).append((start // per_day) % 7)
    parts = []
    for (a, b), day_list in grouped.items():
        parts.append(f"{_day_span(sorted(set(day_list)), days)} {a}–{b}")
    return ", ".join(parts + long)


def _day_span(day_list: list[int], days: Sequence[str]) -> str:
    spans: list[str] = []
    i = 0
    while i < len(day_list):
        j = i
        while j + 1 < len(day_list) and day_list[j + 1] == day_list[j] + 1:
            j += 1
        spans.append(days[day_list[i]] if i == j else f"{days[day_list[i]]}–{days[day_list[j]]}")
        i = j + 1
    return ",".join(spans)


def _gap_findings(
    municipality: Municipality,
    routine: Routine,
    step: Step,
    party: str | None,
    level: Sequence[int],
    owners: Sequence[str],
    unresolved: str,
) -> list[Finding]:
    out = []
    scoped_party = party if _party_scoped(municipality.directory, [*owners, unresolved]) else None
    for threshold, code, lvl in (
        (3, "availability_gap", Level.ERROR),
        (2, "chain_gap", Level.WARNING),
        (1, "owner_gap", Level.WARNING),
    ):
        flags = [x == threshold for x in level]
        if not any(flags):
            continue
        out.append(
            _finding(
                municipality,
                lvl,
                code,
                routine=routine.id,
                step=step.id,
                party=scoped_party,
                role=owners[0] if owners else None,
                roles=owners,
                other=unresolved,
                windows=_windows(flags),
            )
        )
    return out


# -- the drill ------------------------------------------------------------------------------------------------


async def drill_async(municipality: Municipality, *, progress: Callable[[int, int], None] | None = None) -> DrillReport:
    """Run the drill (see the module docs)."""
    findings = _static(municipality)
    cases = _cases(municipality)
    cache: dict[tuple[str, ...], _Run] = {}
    times: dict[tuple[str, str, str], StepTime] = {}
    seen: set[tuple[str, ...]] = set()
    runs = 0
    for done, case in enumerate(cases, 1):
        run = await _run_case(municipality, case, cache)
        runs += 1
        for finding in _case_findings(municipality, case, run):
            key = (
                finding.code,
                finding.routine or "",
                finding.step or "",
                finding.party or "",
                finding.role or "",
                finding.person or "",
                finding.scenario or "",
            )
            if key not in seen:
                seen.add(key)
                findings.append(finding)
        _record_time(times, case, run)
        if progress is not None:
            progress(done, len(cases))
    # A role that reached nobody because of availability is already explained by an availability finding.
    gaps = {(f.routine, f.step) for f in findings if f.code in ("owner_gap", "chain_gap", "availability_gap")}
    findings = [f for f in findings if not (f.code == "role_nobody" and (f.routine, f.step) in gaps)]
    order = {Level.ERROR: 0, Level.WARNING: 1, Level.INFO: 2}
    findings.sort(key=lambda f: order[f.level])
    return DrillReport(municipality, tuple(findings), times, runs)


def drill(municipality: Municipality, *, progress: Callable[[int, int], None] | None = None) -> DrillReport:
    """Run the drill from synchronous code."""
    return asyncio.run(drill_async(municipality, progress=progress))


def _cases(municipality: Municipality) -> list[_Case]:
    directory = municipality.directory
    parties: list[str | None] = list(directory.parties) or [None]
    cases = []
    for routine in municipality.routines.values():
        for step in routine.steps:
            chains, unresolved = _chain(routine, step)
            roles = [*(r for c in chains for r in c), unresolved]
            scoped = _party_scoped(directory, roles)
            for party in parties if scoped else parties[:1]:
                for scenario in SCENARIOS:
                    if scenario == "no_security_contact" and not _has_security_contact(directory, roles, party):
                        continue
                    if scenario == "holder_away":
                        for pid in _single_holders(directory, roles, party):
                            cases.append(_Case(routine, step, party, scenario, away=pid, scoped=scoped))
                        continue
                    cases.append(_Case(routine, step, party, scenario, scoped=scoped))
    return cases


def _has_security_contact(directory: Directory, roles: Sequence[str], party: str | None) -> bool:
    """Whether the party has a security contact the step would ask (so removing one means something)."""
    if party is None or "party_security_contact" not in roles:
        return False
    return bool(directory.parties[party].holders.get("party_security_contact"))


def _single_holders(directory: Directory, roles: Iterable[str], party: str | None) -> list[str]:
    out: list[str] = []
    for role_id in dict.fromkeys(roles):
        role = directory.roles.get(role_id)
        if role is None or role.scope is RoleScope.INCIDENT:
            continue
        people = directory.resolve(role_id, party).people
        if len(people) == 1 and people[0].id not in out:
            out.append(people[0].id)
    return out


async def _run_case(municipality: Municipality, case: _Case, cache: dict[tuple[str, ...], _Run]) -> _Run:
    directory = municipality.directory
    if case.scenario == "no_security_contact" and case.party is not None:
        directory = _without_security_contact(directory, case.party)
    muni = _isolated(municipality, case.routine, case.step, directory)
    chains, unresolved = _chain(case.routine, case.step)
    protected = case.scenario == "protected_target"
    targeted = _stand_in(directory, case.party)
    if protected:
        shielded = [p.id for p in directory.people.values() if p.protected_identity]
        targeted = shielded[0] if shielded else targeted
    responders: list[str] | None = None
    if case.scenario == "nobody_answers":
        responders = []
    elif case.scenario == "last_fallback_answers":
        last = [chain[-1] for chain in chains] + [unresolved]
        holders = {"targeted_person": (targeted,)} if targeted else {}
        responders = sorted(
            {p.id for r in last for p in directory.resolve(r, case.party, incident_holders=holders).people}
        )
    severity = Severity.ACUTE if case.scenario == "acute_at_night" else Severity.SERIOUS
    start = _NIGHT_START if case.scenario == "acute_at_night" else _DAY_START
    normal = attrs.evolve(case.step, id="·", title=Text("·"), instruction=Text(""), checklist=(), fills_role=None)
    key = (
        repr(normal),
        unresolved,
        case.party or "",
        case.scenario,
        case.away or "",
        str(targeted),
        repr(directory.parties.get(case.party or "")),
    )
    found = cache.get(key)
    if found is None:
        found = cache[key] = await _simulate(
            muni, case, responders=responders, severity=severity, start=start, targeted=targeted, protected=protected
        )
    return found


def _case_findings(municipality: Municipality, case: _Case, run: _Run) -> list[Finding]:
    directory = municipality.directory
    party = case.shown_party
    say = functools.partial(_finding, municipality, routine=case.routine.id, step=case.step.id, party=party)
    out: list[Finding] = []
    if case.scenario == "nobody_answers" and not run.asked:
        out.append(say(Level.ERROR, "chain_ends_with_nobody", scenario=case.scenario))
    for role, purpose, _level in run.unresolved:
        if _incident(directory, role) and role != "targeted_person":
            continue  # filled during the incident: nobody can hold it in advance
        if purpose is Purpose.UNRESOLVED:
            out.append(say(Level.ERROR, "last_resort_nobody", role=role, scenario=case.scenario))
        elif purpose is Purpose.OWNER:
            out.append(say(Level.WARNING, "role_nobody", role=role))
    if case.scenario != "nobody_answers" and run.acked_at is None and run.asked:
        if case.scenario == "holder_away" and case.away:
            out.append(say(Level.ERROR, "away_blocks_step", person=case.away, scenario=case.scenario))
        else:
            out.append(say(Level.ERROR, "never_acknowledged", scenario=case.scenario))
    if run.protected_named:
        out.append(say(Level.ERROR, "protected_named", scenario=case.scenario))
    return out


def _record_time(times: dict[tuple[str, str, str], StepTime], case: _Case, run: _Run) -> None:
    key = (case.routine.id, case.step.id, case.scenario)
    old = times.get(key)
    seconds = run.acked_at.total_seconds() if run.acked_at is not None else None
    exhausted = run.exhausted_at.total_seconds() if run.exhausted_at is not None else None
    if old is None:
        times[key] = StepTime(seconds, case.shown_party, exhausted, 1)
        return
    runs = old.runs + 1
    worse = old.seconds is not None and (seconds is None or seconds > old.seconds)
    later = max(filter(None, (old.exhausted, exhausted)), default=None)
    if worse:
        times[key] = StepTime(seconds, case.shown_party, later, runs)
    else:
        times[key] = attrs.evolve(old, exhausted=later, runs=runs)
