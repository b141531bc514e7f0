"""Routines: composition of a party chain with the municipal routine, conditions, deadlines by severity."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hothat.domain.incident import IncidentKind, Severity
from hothat.domain.routine import Deadlines, FactCondition, Routine, Step, Text


def step(sid: str, after: tuple[str, ...] | None = None) -> Step:
    return Step(id=sid, title=Text(sid), owners=("party_security_contact",), after=after)


PARTY = Routine("s_chain", Text("Partikedja", "Party chain"), (step("P1"), step("P2")))
MUNICIPAL = Routine(
    "bilaga3",
    Text("Bilaga 3"),
    (step("3.1.1"), step("3.1.2"), step("3.2.1", after=()), step("3.2.3", after=("3.1.1", "3.2.1"))),
    unresolved_to="municipal_security_strategist",
)


def test_dependencies_read_a_missing_after_as_the_step_before() -> None:
    assert MUNICIPAL.dependencies(MUNICIPAL.step("3.1.1")) == ()
    assert MUNICIPAL.dependencies(MUNICIPAL.step("3.1.2")) == ("3.1.1",)
    assert MUNICIPAL.dependencies(MUNICIPAL.step("3.2.1")) == ()
    with pytest.raises(KeyError, match=r"9\.9"):
        MUNICIPAL.step("9.9")


def test_then_makes_the_municipal_routine_wait_for_the_party_chain() -> None:
    joined = PARTY.then(MUNICIPAL)
    assert joined.id == "s_chain+bilaga3"
    assert [s.id for s in joined.steps] == ["P1", "P2", "3.1.1", "3.1.2", "3.2.1", "3.2.3"]
    deps = {s.id: joined.dependencies(s) for s in joined.steps}
    assert deps == {
        "P1": (),
        "P2": ("P1",),
        "3.1.1": ("P2",),  # the municipal routine's first steps wait for the chain's last
        "3.1.2": ("3.1.1",),
        "3.2.1": ("P2",),  # a parallel start also waits for the chain
        "3.2.3": ("3.1.1", "3.2.1"),
    }
    assert joined.unresolved_to == "municipal_security_strategist"
    assert joined.name == Text("Partikedja + Bilaga 3", "Party chain + Bilaga 3")


def test_then_waits_for_every_last_step_of_a_branching_chain() -> None:
    branching = Routine("b", Text("B"), (step("P1"), step("P2", after=()), step("P3", after=("P1",))))
    joined = branching.then(MUNICIPAL)
    assert joined.dependencies(joined.step("3.1.1")) == ("P2", "P3")


def test_then_refuses_clashing_step_ids() -> None:
    with pytest.raises(ValueError, match=r"share step ids: \['3.1.1'\]"):
        Routine("x", Text("X"), (step("3.1.1"),)).then(MUNICIPAL)


def test_then_with_an_empty_chain_is_the_other_routine() -> None:
    assert Routine("empty", Text("E"), ()).then(MUNICIPAL) is MUNICIPAL


@pytest.mark.parametrize(
    ("text", "fact", "expected"),
    [
        ("police_report_wanted", "police_report_wanted", True),
        ("not needs_healthcare", "needs_healthcare", False),
        ("NOT x", "x", False),
    ],
)
def test_fact_conditions_parse(text: str, fact: str, expected: bool) -> None:
    condition = FactCondition.parse(text)
    assert (condition.fact, condition.expected) == (fact, expected)
    assert FactCondition.parse(str(condition)) == condition


@pytest.mark.parametrize("text", ["", "not", "not not", "a b", "not a b"])
def test_malformed_fact_conditions_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a condition"):
        FactCondition.parse(text)


def test_a_condition_is_undecided_until_the_fact_is_recorded() -> None:
    wanted = FactCondition.parse("police_report_wanted")
    assert wanted.evaluate({}) is None
    assert wanted.evaluate({"police_report_wanted": True}) is True
    assert FactCondition.parse("not police_report_wanted").evaluate({"police_report_wanted": True}) is False


def test_severity_overrides_replace_only_the_deadlines_they_name() -> None:
    s = Step(
        id="3.1.1",
        title=Text("Bedömning"),
        owners=("party_security_contact",),
        deadlines=Deadlines(timedelta(minutes=15), timedelta(hours=2)),
        by_severity={Severity.ACUTE: Deadlines(ack_within=timedelta(minutes=5))},
    )
    assert s.deadlines_for(Severity.ACUTE) == Deadlines(timedelta(minutes=5), timedelta(hours=2))
    assert s.deadlines_for(Severity.THREAT) == Deadlines(timedelta(minutes=15), timedelta(hours=2))
    assert not s.joint


def test_text_falls_back_to_swedish() -> None:
    assert Text("Polisanmälan").get("en") == "Polisanmälan"
    assert Text("Polisanmälan", "Police report").get("en") == "Police report"
    assert IncidentKind("planned_risky_activity") is IncidentKind.PLANNED_RISKY_ACTIVITY
