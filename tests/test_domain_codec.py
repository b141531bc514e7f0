"""Routines as trail data: exact round trips and stable versions (what a pinned open incident runs)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import attrs
import pytest

from hothat.config import load_config, load_example
from hothat.domain import Routine, Step, Strategy, Text, TreeNode
from hothat.domain.codec import routine_from_data, routine_to_data, routine_version

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _every_routine() -> list[Routine]:
    out: list[Routine] = []
    for path in sorted(EXAMPLES.glob("*/municipality.toml")):
        municipality = load_config(path)
        out.extend(municipality.routines.values())
        for party in municipality.directory.parties.values():
            if party.routine:  # a party's own chain before the municipal routine (Ängelholm)
                out.append(
                    municipality.routines[party.routine].then(municipality.routines[municipality.default_routine])
                )
    # A phone tree with a person node, two levels deep (no shipped file has one).
    tree = TreeNode(role="party_group_leader", children=(TreeNode(person="anna", children=(TreeNode(role="x"),)),))
    out.append(
        Routine(
            "tree",
            Text("Telefonkedja", "Phone tree"),
            (Step("1", Text("Ring"), ("party_group_leader",), strategy=Strategy.TREE, tree=tree, needed=2),),
        )
    )
    return out


ROUTINES = _every_routine()


def test_every_shipped_routine_is_covered() -> None:
    # Oxelösund, Lidingö, Ängelholm (with a party chain), Göteborg and the weak file: trees, joint steps, conditions,
    # checklists and per-severity deadlines are all in there.
    assert len(ROUTINES) >= 6
    steps = [s for r in ROUTINES for s in r.steps]
    assert any(s.tree is not None for s in steps)
    assert any(s.joint for s in steps)
    assert any(s.when is not None for s in steps)
    assert any(s.checklist for s in steps)
    assert any(s.by_severity for s in steps)


@pytest.mark.parametrize("routine", ROUTINES, ids=lambda r: r.id)
def test_a_routine_survives_the_trail_exactly(routine: Routine) -> None:
    data = json.loads(json.dumps(routine_to_data(routine)))  # through real JSON, as the store keeps it
    assert routine_from_data(data) == routine
    assert routine_version(routine_from_data(data)) == routine_version(routine)


def test_the_version_names_the_definition_not_the_object() -> None:
    routine = load_example().routines["bilaga3"]
    again = load_example().routines["bilaga3"]
    assert routine_version(routine) == routine_version(again)
    assert len(routine_version(routine)) == 12

    first = routine.steps[0]
    longer = attrs.evolve(first, deadlines=attrs.evolve(first.deadlines, ack_within=timedelta(minutes=99)))
    edited = attrs.evolve(routine, steps=(longer, *routine.steps[1:]))
    assert routine_version(edited) != routine_version(routine)


def test_data_it_did_not_write_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="unknown routine data format"):
        routine_from_data({"format": 99})
    with pytest.raises(ValueError, match="not routine data"):
        routine_from_data({"format": 1, "id": "x"})
