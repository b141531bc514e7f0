"""Turn validated records into the frozen domain (``hothat.domain``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType

from hothat.config._parse import Parsed
from hothat.config._schema import (
    AvailabilityModel,
    ChannelModel,
    DeadlinesModel,
    PartyModel,
    PersonModel,
    RoleModel,
    RoutineHeaderModel,
    StepModel,
    TextModel,
    TreeModel,
    parse_clock,
    parse_days,
)
from hothat.domain.durations import parse_duration
from hothat.domain.municipality import ChannelConfig, Municipality, RoutineRule
from hothat.domain.people import (
    Availability,
    ContactPoint,
    Directory,
    Medium,
    Party,
    Person,
    Role,
    RoleScope,
    TimeWindow,
)
from hothat.domain.roles import BUILTIN_ROLES
from hothat.domain.routine import ChecklistItem, Deadlines, FactCondition, Routine, Step, Text, TreeNode

__all__ = [
    "DEFAULT_UNRESOLVED",
    "build_municipality",
    "channel_medium",
    "directory",
    "effective_roles",
    "person",
]

DEFAULT_UNRESOLVED = "municipal_security_unit"


def _text(model: TextModel | None) -> Text:
    return Text(model.sv, model.en) if model is not None else Text("")


def _duration(text: str | None) -> timedelta | None:
    return parse_duration(text) if text is not None else None


def availability(model: AvailabilityModel | None, timezone: str) -> Availability:
    """The domain availability of an ``availability`` table; the municipality's zone unless it names one."""
    if model is None:
        return Availability(timezone=timezone)
    windows = tuple(
        TimeWindow(parse_days(w.days), parse_clock(w.start), parse_clock(w.end, end=True)) for w in model.windows
    )
    return Availability(windows=windows, timezone=model.timezone or timezone)


def effective_roles(records: Iterable[RoleModel], timezone: str) -> dict[str, Role]:
    """Built-in roles with the file's ``[[roles]]`` applied: a built-in id changes it, others add one."""
    roles = dict(BUILTIN_ROLES)
    for record in records:
        base = roles.get(record.id)
        roles[record.id] = Role(
            id=record.id,
            scope=record.scope or (base.scope if base else RoleScope.MUNICIPALITY),
            name_sv=record.name.sv if record.name else base.name_sv if base else "",
            name_en=record.name.en if record.name else base.name_en if base else "",
            fallbacks=tuple(record.fallbacks) if record.fallbacks is not None else base.fallbacks if base else (),
            availability=(
                availability(record.availability, timezone)
                if record.availability is not None
                else base.availability
                if base
                else Availability(timezone=timezone)
            ),
        )
    return roles


def person(record: PersonModel, timezone: str) -> Person:
    """The domain person of a ``[[people]]`` record, with addresses normalised (E.164, lower-case domains)."""
    contacts = tuple(
        ContactPoint(medium=c.medium, address=c.address, delay=parse_duration(c.delay), channel=c.channel)
        for c in record.contact
    )
    return Person(
        id=record.id,
        name=record.name,
        contacts=contacts,
        language=record.language,
        protected_identity=record.protected_identity,
        availability=availability(record.availability, timezone),
    )


def _party(record: PartyModel) -> Party:
    return Party(
        id=record.id,
        name=record.name,
        holders={role: tuple(people) for role, people in record.holders.items()},
        routine=record.routine,
    )


def directory(
    people: Mapping[str, Person],
    roles: Mapping[str, Role],
    parties: Iterable[PartyModel],
    holders: Mapping[str, list[str]],
) -> Directory:
    """A directory of people, roles, parties and municipality-wide holders."""
    return Directory(
        people=dict(people),
        roles=dict(roles),
        parties={p.id: _party(p) for p in parties},
        holders={role: tuple(ids) for role, ids in holders.items()},
    )


def _deadlines(ack: str | None, done: str | None) -> Deadlines:
    return Deadlines(ack_within=_duration(ack), done_within=_duration(done))


def _tree(model: TreeModel) -> TreeNode:
    return TreeNode(role=model.role, person=model.person, children=tuple(_tree(c) for c in model.children))


def _severity_deadlines(model: DeadlinesModel) -> Deadlines:
    return _deadlines(model.ack_within, model.done_within)


def _step(model: StepModel) -> Step:
    owners = tuple(model.owners) if model.owners is not None else (model.owner,) if model.owner else ()
    return Step(
        id=model.id,
        title=_text(model.title),
        owners=owners,
        instruction=_text(model.instruction),
        informed=tuple(model.informed),
        after=tuple(model.after) if model.after is not None else None,
        when=FactCondition.parse(model.when) if model.when is not None else None,
        deadlines=_deadlines(model.ack_within, model.done_within),
        by_severity={sev: _severity_deadlines(d) for sev, d in model.by_severity.items()},
        escalation=tuple(model.escalation),
        repeat=model.repeat,
        strategy=model.strategy,
        tree=_tree(model.tree) if model.tree is not None else None,
        needed=model.needed,
        checklist=tuple(ChecklistItem(item.id, Text(item.sv, item.en)) for item in model.checklist),
        unresolved_to=model.unresolved_to,
        fills_role=model.fills_role,
    )


def _routine(header: RoutineHeaderModel, steps: Iterable[StepModel]) -> Routine:
    return Routine(
        id=header.id,
        name=_text(header.name),
        steps=tuple(_step(s) for s in steps),
        unresolved_to=header.unresolved_to or DEFAULT_UNRESOLVED,
        description=_text(header.description),
    )


def channel_medium(model: ChannelModel) -> Medium | None:
    """The medium a channel serves: as written, or the prefix of its plugin name (``"sms.46elks"``)."""
    if model.medium is not None:
        return model.medium
    prefix = model.plugin.split(".", 1)[0]
    return Medium(prefix) if prefix in {m.value for m in Medium} else None


def _channel(name: str, model: ChannelModel) -> ChannelConfig:
    settings = MappingProxyType(dict(model.model_extra or {}))
    disclosure = model.disclosure.value if model.disclosure is not None else None
    return ChannelConfig(
        name=name, plugin=model.plugin, medium=channel_medium(model), settings=settings, disclosure=disclosure
    )


def build_municipality(parsed: Parsed, source: str, base_dir: Path) -> Municipality:
    """The domain municipality of a file that passed every check (relative secret files resolved in ``base_dir``)."""
    header = parsed.municipality
    assert header is not None
    assert parsed.holders is not None
    zone = header.timezone
    roles = effective_roles((r for _, r in parsed.roles), zone)
    people = {p.id: person(p, zone) for _, p in parsed.people}
    routines = {}
    for routine in parsed.routines:
        assert routine.header is not None
        routines[routine.header.id] = _routine(routine.header, (s for _, s in routine.steps))
    default = header.default_routine or next(iter(routines))
    return Municipality(
        id=header.id,
        name=header.name,
        reference_prefix=header.reference_prefix,
        directory=directory(people, roles, (p for _, p in parsed.parties), parsed.holders),
        routines=routines,
        default_routine=default,
        rules=tuple(
            RoutineRule(routine=r.routine, kinds=frozenset(r.kinds), severities=frozenset(r.severities))
            for _, r in parsed.rules
        ),
        channels=tuple(_channel(name, model) for name, model in parsed.channels.items()),
        locale=header.locale,
        timezone=zone,
        token_secret_env=header.token_secret_env,
        token_secret_file=str(base_dir / header.token_secret_file) if header.token_secret_file else None,
        link_base_url=header.link_base_url,
        retention=_duration(header.retention),
        store=header.store,
        source=source,
    )
