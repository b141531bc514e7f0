"""``hothat drill``: the planted weak points of examples/weak are found, Oxelösund has no errors, and a chain
that can end with nobody is an error."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from engine_kit import Deadlines, minutes, municipality, step

from hothat._cli_sim import drill_main
from hothat.config import load_config
from hothat.testing import DrillReport, Level, Progress, drill
from hothat.testing.drill import _describe_windows, _windows

ROOT = Path(__file__).resolve().parent.parent
OX = ROOT / "examples" / "oxelosund" / "municipality.toml"
WEAK = ROOT / "examples" / "weak" / "municipality.toml"


@pytest.fixture(scope="module")
def oxelosund_report() -> DrillReport:
    return drill(load_config(OX))


@pytest.fixture(scope="module")
def weak_report() -> DrillReport:
    return drill(load_config(WEAK))


def test_oxelosund_has_no_errors_only_single_holders_of_party_roles(oxelosund_report: DrillReport) -> None:
    report = oxelosund_report
    assert report.errors == []
    assert report.codes(Level.WARNING) == {"single_holder"}
    single = {(f.role, f.party, f.person) for f in report.warnings}
    assert ("party_group_leader", "c", "olle") in single
    assert ("party_security_contact", "s", "per") in single
    # Two strategists and two CEOs: no single point of failure there.
    assert not any(f.role in ("municipal_security_strategist", "municipal_ceo") for f in report.warnings)
    fallback = [f for f in report.findings if f.code == "fallback"]
    assert [(f.role, f.party) for f in fallback] == [("party_security_contact", "c")]


def test_oxelosund_times_until_a_human_takes_each_step(oxelosund_report: DrillReport) -> None:
    times = oxelosund_report.times
    # Only the strategists (the last fallback) answer: 3.1.1 reaches them after 2 x 15 minutes, +5 to answer.
    assert times[("bilaga3", "3.1.1", "last_fallback_answers")].seconds == 35 * 60
    # Nobody answers: 3.1.1 (15 min, 3 levels, 2 rounds) runs out after 90 minutes.
    assert times[("bilaga3", "3.1.1", "nobody_answers")].exhausted == 90 * 60
    # Olle holds both party roles of Centerpartiet: if he is away, the strategists take it at 30 + 5 minutes.
    away = times[("bilaga3", "3.1.1", "holder_away")]
    assert (away.seconds, away.party) == (35 * 60, "c")
    # Acute deadlines at night: answered 5 minutes after the first message.
    assert times[("bilaga3", "3.1.1", "acute_at_night")].seconds == 5 * 60


def test_the_weak_example_shows_its_planted_gaps(weak_report: DrillReport) -> None:
    report = weak_report
    single = {(f.role, f.person) for f in report.warnings if f.code == "single_holder"}
    assert ("municipal_security_coordinator", "ulla") in single
    medium = [f for f in report.warnings if f.code == "single_medium"]
    assert [f.person for f in medium] == ["ulla"]
    gaps = [f for f in report.findings if f.code == "owner_gap"]
    assert [(f.step, f.level) for f in gaps] == [("W2", Level.WARNING)]
    assert "tis–fre 08:00–17:00" in gaps[0].sv
    assert "Tue–Fri 08:00–17:00" in gaps[0].en
    # The only coordinator away on a weekday: W2's owner is off duty and nobody else is in its chain.
    blocked = [f for f in report.errors if f.code == "away_blocks_step"]
    assert [(f.step, f.person) for f in blocked] == [("W2", "ulla")]


def test_a_chain_that_ends_with_nobody_is_an_error() -> None:
    muni = municipality(
        step("1", "nobody_role", deadlines=Deadlines(minutes(10)), escalation=("nobody_role",)),
        step("2", "municipal_ceo", deadlines=Deadlines(minutes(10))),
        unresolved_to="nobody_role",
    )
    report = drill(muni)
    codes = {(f.code, f.step) for f in report.errors}
    assert ("chain_ends_with_nobody", "1") in codes
    assert ("last_resort_nobody", "2") in codes
    assert "steget kan sluta hos ingen" in report.text()


def test_drill_cli_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert drill_main([str(WEAK)]) == 1
    text = capsys.readouterr().out
    assert "FEL (1)" in text
    assert "Ulla Ek: nås bara via sms" in text
    assert drill_main([str(OX), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["error"] == 0
    assert data["times"]["bilaga3"]["3.1.1"]["nobody_answers"]["exhausted"] == 5400
    assert {f["code"] for f in data["findings"]} == {"single_holder", "fallback"}


def test_drill_cli_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert drill_main([str(tmp_path / "missing.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_week_windows_are_described_by_days_and_times() -> None:
    slots = [False] * (7 * 96)
    for day in range(5):  # weekdays 08:00-17:00
        for s in range(day * 96 + 32, day * 96 + 68):
            slots[s] = True
    assert _describe_windows(_windows(slots), "sv") == "mån–fre 08:00–17:00"
    wrap = [False] * (7 * 96)
    for s in list(range(4 * 96 + 68, 7 * 96)) + list(range(32)):  # Friday 17:00 to Monday 08:00
        wrap[s] = True
    assert _describe_windows(_windows(wrap), "en") == "Fri 17:00 – Mon 08:00"
    assert _describe_windows(_windows([True] * (7 * 96)), "sv") == "hela veckan"


def test_progress_draws_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet = io.StringIO()
    with Progress("övning", stream=quiet) as bar:
        bar.update(5, 10)
    assert quiet.getvalue() == ""
    loud = Tty()
    with Progress("övning", stream=loud, interval=0) as bar:
        bar.update(5, 10)
        bar.update(10, 10)
    assert "övning [###############...............]  50%  5/10" in loud.getvalue()
    assert loud.getvalue().endswith("\r")


def test_the_docs_show_the_real_drill_report(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert drill_main(["examples/oxelosund/municipality.toml"]) == 0
    text = (ROOT / "docs" / "testing" / "drills.md").read_text(encoding="utf-8")
    block = text.split("<!-- drill:start -->")[1].split("<!-- drill:end -->")[0]
    shown = [line for line in block.strip().splitlines() if not line.startswith("```")]
    assert capsys.readouterr().out.splitlines() == shown
