"""Validate a parsed TOML document record by record, so one broken record never hides the problems of others.

Every record (a person, a party, a step ...) is validated on its own. A record that fails is reported and left
out, but its id is remembered, so a reference to it is not reported a second time as unknown.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import attrs
import pydantic

from hothat.config._errors import Path, Report, did_you_mean, drop_misspelled, translate
from hothat.config._schema import (
    ID_PATTERN,
    ChannelModel,
    FileModel,
    Id,
    MunicipalityModel,
    PartyModel,
    PersonModel,
    RoleId,
    RoleModel,
    RoutineHeaderModel,
    RuleModel,
    StepModel,
)

__all__ = ["Parsed", "ParsedRoutine", "parse_document"]

M = TypeVar("M", bound=pydantic.BaseModel)
_HOLDERS: pydantic.TypeAdapter[dict[str, list[str]]] = pydantic.TypeAdapter(dict[RoleId, list[Id]])
_SECTION_HINTS = {
    "roles": "[[roles]]",
    "people": "[[people]]",
    "parties": "[[parties]]",
    "routines": "[[routines]]",
    "routine_rules": "[[routine_rules]]",
    "steps": "[[routines.steps]]",
}


@attrs.define
class ParsedRoutine:
    """A routine's header and its steps, each possibly broken (``None``/left out)."""

    index: int
    raw_id: str | None
    header: RoutineHeaderModel | None
    steps: list[tuple[int, StepModel]] = attrs.Factory(list)
    step_ids: list[str | None] = attrs.Factory(list)
    """The id of every step in file order, ``None`` where the step has no readable id."""
    broken_steps: set[str] = attrs.Factory(set)
    dropped: dict[int, set[str]] = attrs.Factory(dict)
    """Step position → keys dropped to salvage the step."""


@attrs.define
class Parsed:
    """Everything that validated, with the original positions, and the ids of records that did not."""

    municipality: MunicipalityModel | None = None
    roles: list[tuple[int, RoleModel]] = attrs.Factory(list)
    people: list[tuple[int, PersonModel]] = attrs.Factory(list)
    holders: dict[str, list[str]] | None = None
    parties: list[tuple[int, PartyModel]] = attrs.Factory(list)
    routines: list[ParsedRoutine] = attrs.Factory(list)
    rules: list[tuple[int, RuleModel]] = attrs.Factory(list)
    channels: dict[str, ChannelModel] = attrs.Factory(dict)
    broken: dict[str, set[str]] = attrs.Factory(dict)
    """Section name → ids of records that failed validation."""
    partial: set[str] = attrs.Factory(set)
    """Sections with a record that was salvaged by dropping keys that did not validate."""
    municipality_dropped: set[str] = attrs.Factory(set)
    dropped: dict[tuple[str, int], set[str]] = attrs.Factory(dict)
    """(section, position) → keys dropped to salvage that record."""

    def broken_ids(self, section: str) -> set[str]:
        """Ids of the records of ``section`` that failed validation."""
        return self.broken.setdefault(section, set())


def _validate(model: type[M], raw: Any, at: Path, report: Report, prefix: str = "") -> tuple[M | None, set[str]]:
    """Validate one record, reporting its problems.

    A record whose problems all sit in optional keys is salvaged without those keys, so the checks across
    records still see it; the dropped keys are returned so checks that depend on them can stand aside.
    """
    try:
        return model.model_validate(raw), set()
    except pydantic.ValidationError as exc:
        errors = exc.errors(include_url=False)
    for error in drop_misspelled(errors):
        path, message = translate({**error, "loc": at + tuple(error["loc"])}, FileModel)
        report.add(path, prefix + message)
    dropped = {str(e["loc"][0]) for e in errors if e["loc"]}
    if not isinstance(raw, dict) or not dropped or any(len(e["loc"]) == 0 for e in errors):
        return None, set()
    try:
        return model.model_validate({k: v for k, v in raw.items() if k not in dropped}), dropped
    except pydantic.ValidationError:
        return None, set()


def _raw_id(raw: Any) -> str | None:
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


def _array(raw: dict[str, Any], key: str, at: Path, report: Report) -> list[Any]:
    value = raw.get(key, [])
    if isinstance(value, list):
        return value
    hint = _SECTION_HINTS.get(key, key)
    report.add((*at, key), f"expected an array of tables: write each entry under its own {hint} header")
    return []


def _records(raw: dict[str, Any], key: str, model: type[M], parsed: Parsed, report: Report) -> list[tuple[int, M]]:
    out: list[tuple[int, M]] = []
    for index, item in enumerate(_array(raw, key, (), report)):
        record, dropped = _validate(model, item, (key, index), report)
        if dropped:
            parsed.partial.add(key)
            parsed.dropped[(key, index)] = dropped
        if record is not None:
            out.append((index, record))
        elif (raw_id := _raw_id(item)) is not None:
            parsed.broken_ids(key).add(raw_id)
    return out


def _routine(index: int, raw: Any, parsed: Parsed, report: Report) -> ParsedRoutine:
    at: Path = ("routines", index)
    routine = ParsedRoutine(index=index, raw_id=_raw_id(raw), header=None)
    if not isinstance(raw, dict):
        report.add(at, "expected a table: write each routine under its own [[routines]] header")
        return routine
    header = {k: v for k, v in raw.items() if k != "steps"}
    routine.header, dropped = _validate(RoutineHeaderModel, header, at, report)
    if dropped:
        parsed.partial.add("routines")
    if "steps" not in raw:
        report.add(at, f'routine "{routine.raw_id or index}" has no steps: add at least one [[routines.steps]]')
    for position, item in enumerate(_array(raw, "steps", at, report)):
        step_id = _raw_id(item)
        routine.step_ids.append(step_id)
        prefix = f"step {step_id}: " if step_id else ""
        step, dropped = _validate(StepModel, item, (*at, "steps", position), report, prefix)
        if dropped:
            routine.dropped[position] = dropped
        if step is not None:
            routine.steps.append((position, step))
        elif step_id is not None:
            routine.broken_steps.add(step_id)
    if routine.header is None and routine.raw_id is not None:
        parsed.broken_ids("routines").add(routine.raw_id)
    return routine


def parse_document(raw: dict[str, Any], report: Report) -> Parsed:
    """Validate every section and record of a TOML document, reporting problems into ``report``."""
    parsed = Parsed()
    sections = list(FileModel.model_fields)
    for key in raw:
        if key not in FileModel.model_fields:
            report.add(
                (key,),
                f'unknown top-level table "{key}"{did_you_mean(key, sections)} The tables are: {", ".join(sections)}.',
            )
    if "municipality" not in raw:
        report.add((), "the [municipality] table is missing: add it with at least id, name and reference_prefix")
    else:
        parsed.municipality, parsed.municipality_dropped = _validate(
            MunicipalityModel, raw["municipality"], ("municipality",), report
        )
    parsed.roles = _records(raw, "roles", RoleModel, parsed, report)
    parsed.people = _records(raw, "people", PersonModel, parsed, report)
    holders = _validate_holders(raw.get("holders", {}), report)
    parsed.holders = holders
    parsed.parties = _records(raw, "parties", PartyModel, parsed, report)
    routines = _array(raw, "routines", (), report)
    if raw.get("routines", []) == []:
        report.add((), "no routine is defined: add at least one [[routines]] with its [[routines.steps]]")
    parsed.routines = [_routine(i, item, parsed, report) for i, item in enumerate(routines)]
    parsed.rules = _records(raw, "routine_rules", RuleModel, parsed, report)
    channels = raw.get("channels", {})
    if not isinstance(channels, dict):
        report.add(("channels",), "expected tables: write each channel as [channels.NAME]")
        channels = {}
    for name, table in channels.items():
        channel, dropped = _validate(ChannelModel, table, ("channels", name), report)
        if dropped:
            parsed.partial.add("channels")
        if not _valid_name(name):
            report.add(
                ("channels", name),
                f'"{name}" is not a valid channel name: use letters, digits, "_", "-" or ".", e.g. [channels.sms]',
            )
        elif channel is not None:
            parsed.channels[name] = channel
        else:
            parsed.broken_ids("channels").add(name)
    return parsed


def _valid_name(name: str) -> bool:
    return re.match(ID_PATTERN, name) is not None


def _validate_holders(raw: Any, report: Report) -> dict[str, list[str]] | None:
    try:
        holders: dict[str, list[str]] = _HOLDERS.validate_python(raw)
    except pydantic.ValidationError as exc:
        for error in exc.errors(include_url=False):
            error["loc"] = ("holders", *error["loc"])
            path, message = translate(error, FileModel)
            report.add(path, message)
        return None
    return holders
