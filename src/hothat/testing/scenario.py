"""Scenario files: an incident, how each person behaves, actions at times, and what must happen.

A scenario is a TOML file run against a municipality file by ``hothat simulate CONFIG SCENARIO``::

    [scenario]
    name = "Gruppledaren svarar efter 12 minuter"
    start = "2026-03-12 21:30"          # municipality time
    run_for = "12h"

    [incident]
    kind = "threat"
    severity = "serious"
    party = "s"

    [people]
    per = { never_answers = true }
    anna = { answers_after = "12m", via = "sms", completes_after = "30m" }

    [[actions]]
    at = "20m"
    record_fact = "police_report_wanted"
    value = false

    [[expect]]
    by = "30m"
    acknowledged = "3.1.1"
    role = "party_group_leader"

Every problem (a misspelt key, an unknown person, step, role or fact, a bad duration) is reported with the file
and the field, as :class:`hothat.errors.ConfigurationError`.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import attrs
import pydantic
from pydantic import BeforeValidator, ConfigDict, Field

from hothat.channels import MessageKind
from hothat.domain import (
    IncidentKind,
    LocationKind,
    MandateLink,
    Medium,
    Municipality,
    ProtectedIdentity,
    Routine,
    Severity,
    parse_duration,
)
from hothat.errors import ConfigProblem, ConfigurationError
from hothat.testing import _checks
from hothat.testing.simulation import Simulation, SimulationError
from hothat.testing.timeline import Timeline

__all__ = [
    "ActionSpec",
    "Expectation",
    "IncidentSpec",
    "PersonSpec",
    "Scenario",
    "ScenarioInfo",
    "ScenarioResult",
    "load_scenario",
    "load_scenario_text",
    "run_scenario",
    "run_scenario_async",
]


def _to_duration(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("write a duration with a unit, e.g. 90s, 15m, 2h or 1d")
    return value


Duration = Annotated[timedelta, BeforeValidator(_to_duration)]


class _Model(pydantic.BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioInfo(_Model):
    """The ``[scenario]`` table."""

    name: str = Field(min_length=1, description="A short name, shown above the timeline.")
    description: str = ""
    start: datetime | str | None = Field(
        None, description='When the simulation starts: "2026-03-12 21:30" in the municipality\'s time zone.'
    )
    run_for: Duration = Field(timedelta(hours=24), description="The most simulated time to run.")
    lang: Literal["sv", "en"] | None = None


class IncidentSpec(_Model):
    """The ``[incident]`` table: the arguments of ``Engine.report``."""

    kind: IncidentKind
    severity: Severity
    party: str | None = None
    targeted: str | None = None
    facts: dict[str, bool] = Field(default_factory=dict)
    holders: dict[str, list[str]] = Field(default_factory=dict)
    description: str = ""
    mandate_link: MandateLink = MandateLink.SUSPECTED
    location_kind: LocationKind = LocationKind.OTHER
    protected_identity: ProtectedIdentity | None = None
    at: Duration = Field(timedelta(0), description="When the incident is reported, after the start.")


class PersonSpec(_Model):
    """How one person behaves: a value of the ``[people]`` table (key ``"*"``: everyone else)."""

    answers_after: Duration | None = None
    declines_after: Duration | None = None
    never_answers: bool = False
    completes_after: Duration | None = None
    note: str = ""
    via: Medium | None = None
    steps: list[str] | None = None
    unreachable: list[Medium] | Literal["all"] = Field(default_factory=list)
    away: tuple[str, str] | Literal["always"] | None = None

    @pydantic.model_validator(mode="after")
    def _one_answer(self) -> PersonSpec:
        answers = [k for k in ("answers_after", "declines_after") if getattr(self, k) is not None]
        if len(answers) > 1:
            raise ValueError("give answers_after or declines_after, not both")
        if self.never_answers and answers:
            raise ValueError(f"never_answers contradicts {answers[0]}: keep one")
        if self.completes_after is not None and self.answers_after is None:
            raise ValueError("completes_after needs answers_after (a person completes a step they took)")
        return self


_ACTIONS = ("record_fact", "acknowledge", "decline", "complete", "assign_role", "close")


class ActionSpec(_Model):
    """One ``[[actions]]`` entry: something done at a time (after the report)."""

    at: Duration
    record_fact: str | None = None
    value: bool = True
    acknowledge: str | None = Field(None, description="a step id; with person")
    decline: str | None = Field(None, description="a step id; with person")
    complete: str | None = Field(None, description="a step id; with person (and note)")
    assign_role: str | None = Field(None, description="an incident role; with person")
    close: bool = False
    person: str | None = None
    by: str | None = None
    note: str = ""
    reason: str = ""

    @pydantic.model_validator(mode="after")
    def _one_action(self) -> ActionSpec:
        given = [a for a in _ACTIONS if getattr(self, a) not in (None, False)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(_ACTIONS)} (found {', '.join(given) or 'none'})")
        if given[0] in ("acknowledge", "decline", "complete", "assign_role") and not self.person:
            raise ValueError(f"{given[0]} needs person = the id of the person who does it")
        return self

    @property
    def action(self) -> str:
        """Which action this is."""
        return next(a for a in _ACTIONS if getattr(self, a) not in (None, False))


_WHAT = (
    "acknowledged",
    "completed",
    "activated",
    "skipped",
    "escalated",
    "escalation_exhausted",
    "unresolved",
    "contacted",
    "never_contacted",
    "max_messages",
    "min_messages",
    "messages",
    "protected_not_named",
)


class Expectation(_Model):
    """One ``[[expect]]`` entry: what must (or, with ``expected = false``, must not) happen."""

    by: Duration | None = Field(None, description="the deadline, after the report")
    acknowledged: str | None = None
    completed: str | None = None
    activated: str | None = None
    skipped: str | None = None
    escalated: str | None = None
    escalation_exhausted: str | None = None
    unresolved: str | None = None
    contacted: str | None = Field(None, description="a role or person id")
    never_contacted: str | None = Field(None, description="a role or person id")
    max_messages: int | None = Field(None, ge=0)
    min_messages: int | None = Field(None, ge=0)
    messages: int | None = Field(None, ge=0, description="exactly this many")
    protected_not_named: bool | None = None
    role: str | None = None
    person: str | None = None
    medium: Medium | None = None
    kind: MessageKind | None = None
    unless_fact: str | None = None
    expected: bool = True

    @pydantic.model_validator(mode="after")
    def _one_what(self) -> Expectation:
        given = [w for w in _WHAT if getattr(self, w) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(_WHAT)} (found {', '.join(given) or 'none'})")
        return self

    @property
    def what(self) -> str:
        """Which kind of expectation this is."""
        return next(w for w in _WHAT if getattr(self, w) is not None)


class Scenario(_Model):
    """A whole scenario file."""

    scenario: ScenarioInfo
    incident: IncidentSpec
    people: dict[str, PersonSpec] = Field(default_factory=dict)
    actions: list[ActionSpec] = Field(default_factory=list)
    expect: list[Expectation] = Field(default_factory=list)
    source: str = Field("<scenario>", exclude=True)


# -- loading ---------------------------------------------------------------------------------------------------


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f'; did you mean "{close[0]}"?' if close else ""


def _validation_problems(exc: pydantic.ValidationError, source: str) -> list[ConfigProblem]:
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key: check the spelling"
        problems.append(ConfigProblem(source, _path(loc), message))
    return problems


def load_scenario(path: str | os.PathLike[str], municipality: Municipality | None = None) -> Scenario:
    """Read a scenario file; with ``municipality``, also check every id it names against the configuration.

    Raises:
        ConfigurationError: every problem found, each naming the file and the field.
    """
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigurationError([ConfigProblem(source, "", "no such file: check the path")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError([ConfigProblem(source, "", f"cannot be read: {exc}")]) from None
    return load_scenario_text(text, source, municipality)


def load_scenario_text(text: str, source: str = "<scenario>", municipality: Municipality | None = None) -> Scenario:
    """Read a scenario from its TOML text (see :func:`load_scenario`)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError([ConfigProblem(source, "", f"TOML syntax error: {exc}")]) from None
    try:
        scenario = Scenario.model_validate({**raw, "source": source})
    except pydantic.ValidationError as exc:
        raise ConfigurationError(_validation_problems(exc, source)) from None
    if municipality is not None:
        problems = check_references(scenario, municipality)
        if problems:
            raise ConfigurationError(problems)
    return scenario


def routine_of(scenario: Scenario, municipality: Municipality) -> Routine:
    """The routine the scenario's incident runs."""
    return municipality.routine_for(scenario.incident.kind, scenario.incident.severity, scenario.incident.party)


def check_references(scenario: Scenario, municipality: Municipality) -> list[ConfigProblem]:
    """Every id in the scenario that the configuration does not know, as problems."""
    src = scenario.source
    directory = municipality.directory
    problems: list[ConfigProblem] = []

    def need(kind: str, value: str | None, known: Iterable[str], where: str) -> None:
        names = sorted(known)
        if value is not None and value not in names:
            shown = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
            problems.append(
                ConfigProblem(
                    src, where, f"no {kind} {value!r} in {municipality.source}{_suggest(value, names)} (known: {shown})"
                )
            )

    incident = scenario.incident
    need("party", incident.party, directory.parties, "incident.party")
    if incident.party is not None and incident.party not in directory.parties:
        return problems  # the routine depends on the party: stop before naming steps
    routine = routine_of(scenario, municipality)
    steps = [s.id for s in routine.steps]
    facts = {s.when.fact for s in routine.steps if s.when is not None}
    people = directory.people
    roles = directory.roles
    need("person", incident.targeted, people, "incident.targeted")
    for fact in incident.facts:
        need("fact used by routine " + routine.id, fact, facts, f"incident.facts.{fact}")
    for role, holders in incident.holders.items():
        need("role", role, roles, f"incident.holders.{role}")
        for i, person in enumerate(holders):
            need("person", person, people, f"incident.holders.{role}[{i}]")
    for person_id, spec in scenario.people.items():
        if person_id != "*":
            need("person", person_id, people, f"people.{person_id}")
        for i, step in enumerate(spec.steps or ()):
            need(f"step in routine {routine.id}", step, steps, f"people.{person_id}.steps[{i}]")
    for i, action in enumerate(scenario.actions):
        where = f"actions[{i}]"
        need("person", action.person, people, f"{where}.person")
        need("person", action.by, people, f"{where}.by")
        if action.record_fact is not None:
            need("fact used by routine " + routine.id, action.record_fact, facts, f"{where}.record_fact")
        for key in ("acknowledge", "decline", "complete"):
            need(f"step in routine {routine.id}", getattr(action, key), steps, f"{where}.{key}")
        need("role", action.assign_role, roles, f"{where}.assign_role")
    for i, exp in enumerate(scenario.expect):
        where = f"expect[{i}]"
        for key in (
            "acknowledged",
            "completed",
            "activated",
            "skipped",
            "escalated",
            "escalation_exhausted",
            "unresolved",
        ):
            need(f"step in routine {routine.id}", getattr(exp, key), steps, f"{where}.{key}")
        need("role", exp.role, roles, f"{where}.role")
        need("person", exp.person, people, f"{where}.person")
        for key in ("contacted", "never_contacted"):
            value = getattr(exp, key)
            if value is not None and value not in roles:
                need("role or person", value, [*roles, *people], f"{where}.{key}")
        if exp.unless_fact is not None:
            need("fact used by routine " + routine.id, exp.unless_fact, facts, f"{where}.unless_fact")
    return problems


# -- running ---------------------------------------------------------------------------------------------------


@attrs.frozen
class Checked:
    """One expectation and how it went."""

    expectation: Expectation
    outcome: _checks.Outcome


@attrs.frozen
class ScenarioResult:
    """What a scenario run produced.

    Attributes:
        scenario: the scenario.
        timeline: everything that happened.
        checks: each expectation with its outcome, in file order.
        messages: how many messages were delivered.
    """

    scenario: Scenario
    timeline: Timeline
    checks: tuple[Checked, ...]
    messages: int

    @property
    def passed(self) -> bool:
        """True when every expectation held."""
        return all(c.outcome.ok for c in self.checks)

    @property
    def failures(self) -> list[Checked]:
        """The expectations that did not hold."""
        return [c for c in self.checks if not c.outcome.ok]


def _apply_people(sim: Simulation, scenario: Scenario) -> None:
    for person_id, spec in scenario.people.items():
        script = sim.everyone() if person_id == "*" else sim.person(person_id)
        if spec.answers_after is not None:
            script.answers_after(spec.answers_after, via=spec.via, steps=spec.steps)
            if spec.completes_after is not None:
                script.completes_after(spec.completes_after, note=spec.note)
        elif spec.declines_after is not None:
            script.declines_after(spec.declines_after, via=spec.via, steps=spec.steps)
        else:
            script.never_answers()
        if spec.unreachable == "all":
            script.unreachable()
        elif spec.unreachable:
            script.unreachable(*spec.unreachable)
        if spec.away == "always":
            script.away()
        elif spec.away is not None:
            script.away(between=spec.away)


def _action(spec: ActionSpec) -> Callable[[Simulation], Any]:
    async def run(sim: Simulation) -> None:
        from hothat.errors import HothatError

        try:
            if spec.record_fact is not None:
                await sim.record_fact(spec.record_fact, spec.value, by=spec.by or spec.person)
            elif spec.acknowledge is not None:
                await sim.acknowledge(spec.acknowledge, spec.person or "")
            elif spec.decline is not None:
                await sim.decline(spec.decline, spec.person or "")
            elif spec.complete is not None:
                await sim.complete(spec.complete, spec.person or "", note=spec.note)
            elif spec.assign_role is not None:
                await sim.assign_role(spec.assign_role, spec.person or "", by=spec.by)
            else:
                await sim.close_incident(by=spec.by or spec.person, reason=spec.reason)
        except HothatError as exc:
            # An action that cannot be done (a step not yet started) is part of the story, not a crash.
            await sim.note(
                sim.incident.id,
                spec.acknowledge or spec.decline or spec.complete or "",
                spec.person or "",
                None,
                str(exc),
            )

    return run


def evaluate(
    expectation: Expectation, timeline: Timeline, elapsed: timedelta, texts: Sequence[tuple[Any, str]] = ()
) -> _checks.Outcome:
    """Judge one expectation against a timeline."""
    e = expectation
    if e.acknowledged or e.completed or e.activated or e.skipped:
        event, step = next(
            (k, getattr(e, k)) for k in ("acknowledged", "completed", "activated", "skipped") if getattr(e, k)
        )
        return _checks.answered(
            timeline, elapsed, event, step, role=e.role, person=e.person, within=e.by, expected=e.expected
        )
    if e.escalated or e.escalation_exhausted or e.unresolved:
        event = "escalated" if e.escalated else "exhausted" if e.escalation_exhausted else "unresolved"
        step = e.escalated or e.escalation_exhausted or e.unresolved or ""
        return _checks.step_event(timeline, event, step, expected=e.expected)
    if e.contacted or e.never_contacted:
        target = e.contacted or e.never_contacted or ""
        is_role = target in timeline.municipality.directory.roles
        expected = e.expected if e.contacted else not e.expected
        return _checks.contacted(
            timeline,
            role=target if is_role else None,
            person=None if is_role else target,
            medium=e.medium,
            within=e.by,
            expected=expected,
            unless_fact=e.unless_fact,
        )
    if e.protected_not_named is not None:
        return _checks.protected_not_named(timeline, texts)
    return _checks.message_count(
        timeline,
        person=e.person,
        role=e.role,
        kind=e.kind,
        medium=e.medium,
        count=e.messages,
        at_most=e.max_messages,
        at_least=e.min_messages,
    )


def build_simulation(scenario: Scenario, municipality: Municipality, *, lang: str | None = None) -> Simulation:
    """A simulation set up as the scenario says (people and actions), not yet run."""
    try:
        sim = Simulation(municipality, start=scenario.scenario.start, lang=lang or scenario.scenario.lang)
    except SimulationError as exc:
        raise ConfigurationError([ConfigProblem(scenario.source, "scenario.start", str(exc))]) from None
    try:
        _apply_people(sim, scenario)
    except SimulationError as exc:
        raise ConfigurationError([ConfigProblem(scenario.source, "people", str(exc))]) from None
    report_at = scenario.incident.at
    for action in scenario.actions:
        sim.at(report_at + action.at, _action(action))
    return sim


async def run_scenario_async(
    scenario: Scenario,
    municipality: Municipality,
    *,
    lang: str | None = None,
    progress: Callable[[timedelta, timedelta], None] | None = None,
) -> tuple[ScenarioResult, Simulation]:
    """Run a scenario and judge its expectations. Returns the result and the (closed) simulation."""
    sim = build_simulation(scenario, municipality, lang=lang)
    spec = scenario.incident
    async with sim:
        if spec.at:
            await sim.advance(spec.at)
        await sim.report(
            kind=spec.kind,
            severity=spec.severity,
            party=spec.party,
            targeted=spec.targeted,
            facts=spec.facts,
            holders=spec.holders,
            description=spec.description,
            mandate_link=spec.mandate_link,
            location_kind=spec.location_kind,
            protected_identity=spec.protected_identity,
        )
        await sim.run_until_quiet(scenario.scenario.run_for, progress=progress)
        timeline = sim.timeline
        texts = sim.message_texts()
        checks = tuple(Checked(e, evaluate(e, timeline, sim.elapsed, texts)) for e in scenario.expect)
    return ScenarioResult(scenario, timeline, checks, len(sim.sent)), sim


def run_scenario(
    scenario: Scenario | str | os.PathLike[str],
    municipality: Municipality | str | os.PathLike[str],
    *,
    lang: str | None = None,
) -> ScenarioResult:
    """Run a scenario from synchronous code (a file path or a loaded scenario)."""
    import asyncio

    from hothat.config import load_config

    muni = municipality if isinstance(municipality, Municipality) else load_config(municipality)
    loaded = scenario if isinstance(scenario, Scenario) else load_scenario(scenario, muni)
    result, _ = asyncio.run(run_scenario_async(loaded, muni, lang=lang))
    return result
