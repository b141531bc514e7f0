"""Routines as plain JSON data, and the version that names one.

An open incident keeps the routine it began with: the engine writes the routine into the incident's trail when the
incident is reported, so a later edit of the municipality file (a step renamed, a deadline changed, a routine
removed) never changes, or breaks, an incident already under way. This module owns that form:

- :func:`routine_to_data` / :func:`routine_from_data`: a :class:`~hothat.domain.Routine` as JSON-able data and back,
  exactly (``routine_from_data(routine_to_data(r)) == r``);
- :func:`routine_version`: a short content hash of that data (12 hex digits), the same for the same routine in any
  file, process or Python version; the trail and ``hothat report`` name every incident's routine by it.

Durations are whole or fractional seconds; texts keep both languages. Nothing here reads the clock or a file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from hothat.domain.incident import Severity
from hothat.domain.routine import ChecklistItem, Deadlines, FactCondition, Routine, Step, Strategy, Text, TreeNode

__all__ = ["routine_from_data", "routine_to_data", "routine_version"]

_FORMAT = 1
"""Bumped when the data form changes; :func:`routine_from_data` reads every earlier form."""


def routine_version(routine: Routine) -> str:
    """A short content hash naming this routine's exact definition (12 lower-case hex digits)."""
    canonical = json.dumps(routine_to_data(routine), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def routine_to_data(routine: Routine) -> dict[str, Any]:
    """The routine as JSON-able data (dicts, lists, strings, numbers, ``None``)."""
    return {
        "format": _FORMAT,
        "id": routine.id,
        "name": _text(routine.name),
        "description": _text(routine.description),
        "unresolved_to": routine.unresolved_to,
        "steps": [_step(step) for step in routine.steps],
    }


def routine_from_data(data: Mapping[str, Any]) -> Routine:
    """The routine :func:`routine_to_data` wrote; raises ``ValueError`` for data it did not write."""
    try:
        if data.get("format") != _FORMAT:
            raise ValueError(f"unknown routine data format {data.get('format')!r}")
        return Routine(
            id=str(data["id"]),
            name=_text_of(data["name"]),
            steps=tuple(_step_of(step) for step in data["steps"]),
            unresolved_to=str(data["unresolved_to"]),
            description=_text_of(data["description"]),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not routine data: {type(exc).__name__}: {exc}") from None


# -- to data ------------------------------------------------------------------------------------------------------


def _text(text: Text) -> list[str]:
    return [text.sv, text.en]


def _seconds(value: timedelta | None) -> float | int | None:
    if value is None:
        return None
    seconds = value.total_seconds()
    return int(seconds) if seconds == int(seconds) else seconds


def _deadlines(deadlines: Deadlines) -> list[float | int | None]:
    return [_seconds(deadlines.ack_within), _seconds(deadlines.done_within)]


def _tree(node: TreeNode) -> dict[str, Any]:
    return {"role": node.role, "person": node.person, "children": [_tree(child) for child in node.children]}


def _step(step: Step) -> dict[str, Any]:
    return {
        "id": step.id,
        "title": _text(step.title),
        "owners": list(step.owners),
        "instruction": _text(step.instruction),
        "informed": list(step.informed),
        "after": list(step.after) if step.after is not None else None,
        "when": [step.when.fact, step.when.expected] if step.when is not None else None,
        "deadlines": _deadlines(step.deadlines),
        "by_severity": {str(severity): _deadlines(d) for severity, d in sorted(step.by_severity.items())},
        "escalation": list(step.escalation),
        "repeat": step.repeat,
        "strategy": str(step.strategy),
        "tree": _tree(step.tree) if step.tree is not None else None,
        "needed": step.needed,
        "checklist": [[item.id, *_text(item.text)] for item in step.checklist],
        "unresolved_to": step.unresolved_to,
        "fills_role": step.fills_role,
    }


# -- from data ----------------------------------------------------------------------------------------------------


def _text_of(data: Any) -> Text:
    sv, en = data
    return Text(str(sv), str(en))


def _duration_of(value: Any) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def _deadlines_of(data: Any) -> Deadlines:
    ack, done = data
    return Deadlines(_duration_of(ack), _duration_of(done))


def _tree_of(data: Mapping[str, Any]) -> TreeNode:
    return TreeNode(
        role=data["role"],
        person=data["person"],
        children=tuple(_tree_of(child) for child in data["children"]),
    )


def _step_of(data: Mapping[str, Any]) -> Step:
    when = data["when"]
    return Step(
        id=str(data["id"]),
        title=_text_of(data["title"]),
        owners=tuple(data["owners"]),
        instruction=_text_of(data["instruction"]),
        informed=tuple(data["informed"]),
        after=tuple(data["after"]) if data["after"] is not None else None,
        when=FactCondition(str(when[0]), bool(when[1])) if when is not None else None,
        deadlines=_deadlines_of(data["deadlines"]),
        by_severity={Severity(k): _deadlines_of(v) for k, v in data["by_severity"].items()},
        escalation=tuple(data["escalation"]),
        repeat=int(data["repeat"]),
        strategy=Strategy(data["strategy"]),
        tree=_tree_of(data["tree"]) if data["tree"] is not None else None,
        needed=int(data["needed"]),
        checklist=tuple(ChecklistItem(str(i), Text(str(sv), str(en))) for i, sv, en in data["checklist"]),
        unresolved_to=data["unresolved_to"],
        fills_role=data["fills_role"],
    )
