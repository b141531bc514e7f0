"""The routine cookbook (docs/cookbook/): every municipality file in examples/ validates, and each routine,
simulated on a virtual clock, reaches the people its municipality's document says it reaches."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hothat.cli import main as hothat_main
from hothat.config import load_config
from hothat.testing import Simulation

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CONFIGS = sorted(EXAMPLES.glob("*/municipality.toml"))


def example(name: str) -> Path:
    return EXAMPLES / name / "municipality.toml"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.parent.name)
def test_every_example_file_validates(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert hothat_main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: OK")


def test_every_example_folder_is_run_by_a_test() -> None:
    """A folder under examples/ that no test names is an example nobody checks."""
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("test_*.py"))
    named = {d.name: rf"examples/{d.name}\b|[\"']{d.name}[\"']" for d in EXAMPLES.iterdir() if d.is_dir()}
    unchecked = [name for name, pattern in named.items() if not re.search(pattern, tests)]
    assert unchecked == []


# -- Oxelösund (Bilaga 3) ------------------------------------------------------------------------------------------


# --8<-- [start:oxelosund]
async def test_oxelosund_the_party_security_contact_is_asked_first_and_the_group_leader_takes_over() -> None:
    async with Simulation(example("oxelosund")) as sim:
        sim.person("per").never_answers()
        sim.person("anna").answers_after("3m", via="sms")
        await sim.report(kind="threat", severity="serious", party="s", targeted="lena")
        await sim.advance("1h")

        first = sim.messages(step="3.1.1")[0]
        assert (first.person_id, first.medium) == ("per", "sms")
        sim.assert_acknowledged("3.1.1", by_person="anna", within="20m")
        sim.assert_not_contacted(role="municipal_ceo")
        sim.assert_protected_not_named()


# --8<-- [end:oxelosund]


async def test_oxelosund_the_ceo_files_the_police_report_only_when_the_targeted_person_wants_one() -> None:
    async with Simulation(example("oxelosund")) as sim:
        sim.everyone().answers_after("5m").completes_after("10m")
        await sim.report(kind="threat", severity="serious", party="c", facts={"strategist_needed": True})
        await sim.advance("2h")
        sim.assert_acknowledged("3.1.1", by_person="olle")  # Centerpartiet: the group leader, by fallback
        sim.assert_not_contacted(role="municipal_ceo")

        await sim.record_fact("police_report_wanted", True)
        await sim.advance("1h")
        sim.assert_acknowledged("3.1.3", by_person="eva")


# -- Lidingö --------------------------------------------------------------------------------------------------------


# --8<-- [start:lidingo_either]
async def test_lidingo_either_the_board_chair_or_the_security_chief_takes_the_contact() -> None:
    async with Simulation(example("lidingo")) as sim:
        sim.person("mats").answers_after("6m", via="sms")
        await sim.report(kind="harassment", severity="threat", party="l")
        await sim.advance("30m")

        asked_first = {m.person_id for m in sim.messages(step="L2") if m.kind == "notify"}
        assert asked_first == {"birgitta", "mats"}  # both at once
        sim.assert_acknowledged("L2", by_person="mats", within="10m")
        assert sim.messages(step="L2", person="birgitta", kind="taken")  # told she need not act
        sim.assert_contacted(person="kalle", within="0s")  # Liberalerna: the group leader, by fallback


# --8<-- [end:lidingo_either]


# --8<-- [start:lidingo_preventive]
async def test_lidingo_a_planned_risky_activity_runs_the_short_preventive_routine() -> None:
    async with Simulation(example("lidingo")) as sim:
        sim.person("tove").answers_after("2h").completes_after("1h")
        sim.person("nina").answers_after("30m").completes_after("1d")
        incident = await sim.report(kind="planned_risky_activity", severity="preventive", party="s")
        await sim.run_until_quiet("3d")

        assert incident.routine == "forebyggande"
        assert {m.step_id for m in sim.sent} <= {"F1", "F2"}
        sim.assert_completed("F1", by_person="tove")
        sim.assert_completed("F2", by_person="nina")
        status = await sim.engine.status(incident.id)
        assert all(s.status == "completed" for s in status.steps)


# --8<-- [end:lidingo_preventive]


# -- Ängelholm ------------------------------------------------------------------------------------------------------


# --8<-- [start:angelholm]
async def test_angelholm_a_partys_own_chain_runs_before_the_security_unit_is_asked() -> None:
    async with Simulation(example("angelholm")) as sim:
        sim.everyone().answers_after("5m").completes_after("10m")
        await sim.report(kind="threat", severity="serious", party="s")
        await sim.run_until_quiet("1d")

        order = [m.step_id for m in sim.sent if m.kind == "notify"]
        assert order[0] == "P1"
        assert sim.messages(step="P1")[0].person_id == "nils"
        assert order.index("R1") > order.index("P2")  # the unit only after the party's chain
        sim.assert_completed("R1")


# --8<-- [end:angelholm]


async def test_angelholm_a_party_without_a_chain_goes_straight_to_the_security_unit() -> None:
    async with Simulation(example("angelholm")) as sim:
        await sim.report(kind="threat", severity="serious", party="kd")
        await sim.advance("1m")
        assert {m.person_id for m in sim.messages(step="R1", kind="notify")} == {"omar", "frida"}
        assert not sim.messages(step="P1")


# -- Göteborg -------------------------------------------------------------------------------------------------------


# --8<-- [start:goteborg_board]
async def test_goteborg_the_boards_own_security_officer_and_the_party_are_asked_at_once() -> None:
    async with Simulation(example("goteborg")) as sim:
        sim.person("johanna").answers_after("4m", via="sms")
        sim.person("amir").answers_after("8m", via="sms")
        await sim.report(
            kind="threat",
            severity="serious",
            party="v",
            targeted="david",
            holders={"local_security_officer": ["amir"]},  # a matter of the culture board
        )
        await sim.advance("1h")

        assert {(m.step_id, m.person_id) for m in sim.messages(kind="notify", medium="sms")} >= {
            ("G2", "johanna"),
            ("G3", "amir"),
        }
        sim.assert_acknowledged("G3", by_person="amir", within="10m")
        sim.assert_not_contacted(role="city_security_unit")
        assert not sim.messages(step="G5")  # waits: nobody has said the threat came in writing


# --8<-- [end:goteborg_board]


# --8<-- [start:goteborg_ks]
async def test_goteborg_a_ks_kf_matter_goes_to_the_city_executive_office_and_written_threats_are_registered() -> None:
    async with Simulation(example("goteborg")) as sim:
        await sim.report(kind="threat", severity="serious", party="kd", facts={"received_in_writing": True})
        await sim.advance("1m")

        assert {m.person_id for m in sim.messages(step="G3", kind="notify")} == {"sara", "erik"}
        assert [m.person_id for m in sim.messages(step="G2", kind="notify")] == ["lina"]  # KD: group leader
        [registrar] = sim.messages(step="G5")
        assert (registrar.person_id, registrar.medium) == ("maja", "email")


# --8<-- [end:goteborg_ks]


# --8<-- [start:goteborg_preventive]
async def test_goteborg_meetings_expected_to_stir_strong_feelings_go_to_security_in_good_time() -> None:
    async with Simulation(example("goteborg")) as sim:
        incident = await sim.report(kind="planned_risky_activity", severity="preventive", party="v")
        await sim.advance("1m")
        assert incident.routine == "i_god_tid"
        assert {m.step_id for m in sim.sent} == {"F1"}


# --8<-- [end:goteborg_preventive]


# -- Svagby (the weak file) -----------------------------------------------------------------------------------------


async def test_weak_file_reaches_nobody_for_the_duty_step_on_a_weekday_afternoon() -> None:
    async with Simulation(example("weak"), start="2026-03-10 14:00") as sim:
        await sim.report(kind="threat", severity="serious", party="x")
        await sim.run_until_quiet("4h")
        sim.assert_not_contacted(person="bo")
        sim.assert_contacted(person="ulla")


def test_the_example_files_use_fiction_numbers_only() -> None:
    for path in CONFIGS:
        for person in load_config(path).directory.people.values():
            for contact in person.contacts:
                assert contact.address.endswith(".example") or re.fullmatch(
                    r"\+46(70174060[5-9]|7017406[1-9]\d|8465004\d\d)", contact.address
                ), (path, contact.address)
