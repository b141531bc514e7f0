"""Scenario files and ``hothat simulate``: the shipped scenarios hold, failures say which and why, bad files
name the file and the field, and ``--html`` writes a self-contained picture holding every event."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hothat._cli_sim import simulate_main
from hothat.cli import main
from hothat.config import load_config
from hothat.errors import ConfigurationError
from hothat.testing import load_scenario, load_scenario_text, run_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted(ROOT.glob("examples/*/scenarios/*.toml"))
OX = ROOT / "examples" / "oxelosund" / "municipality.toml"

BASE = """
[scenario]
name = "Test"
start = "2026-03-12 21:30"
run_for = "3h"

[incident]
kind = "threat"
severity = "serious"
party = "s"
"""


def write(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_there_are_scenarios_for_oxelosund() -> None:
    names = {p.stem for p in SCENARIOS if p.parent.parent.name == "oxelosund"}
    assert {"group_leader_answers", "nobody_answers", "police_report", "protected_target"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_every_shipped_scenario_holds(path: Path) -> None:
    result = run_scenario(path, path.parent.parent / "municipality.toml")
    assert result.checks, "a shipped scenario should expect something"
    assert result.passed, "\n".join(f"{c.outcome.expected}: {c.outcome.actual}" for c in result.failures)


def test_simulate_prints_the_timeline_and_every_expectation(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", str(OX), str(ROOT / "examples/oxelosund/scenarios/group_leader_answers.toml")])
    out = capsys.readouterr().out
    assert code == 0
    assert "Scenario: Gruppledaren svarar efter 12 minuter" in out
    assert re.search(r"^t\+27:00\s+Kvitterat\s+3\.1\.1\s+Gruppledare\s+Anna Sjöberg\s+sms", out, re.MULTILINE)
    assert "✓ 3.1.1 kvitteras av Gruppledare senast t+30:00" in out
    assert "5 av 5 förväntningar uppfylldes." in out
    assert "per: svarar aldrig" in out


def test_a_failing_expectation_exits_1_and_says_what_happened_instead(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write(
        tmp_path,
        BASE
        + """
[people]
per = { never_answers = true }
anna = { answers_after = "20m" }

[[expect]]
by = "30m"
acknowledged = "3.1.1"
role = "party_group_leader"

[[expect]]
max_messages = 3
""",
    )
    code = simulate_main([str(OX), str(scenario), "--lang", "en"])
    out = capsys.readouterr().out
    assert code == 1
    assert "✗ 3.1.1 is acknowledged by Party group leader by t+30:00" in out
    assert "instead: 3.1.1 was acknowledged only at t+35:00 by Anna Sjöberg (Party group leader), 5m late" in out
    assert "✗ at most 3 messages" in out
    assert "0 of 2 expectations held." in out


@pytest.mark.parametrize(
    ("extra", "where", "what"),
    [
        ("[people]\nper = { answers_after = 12 }", "people.per.answers_after", "with a unit"),
        ('[people]\nper = { answers_after = "12 minuter" }', "people.per.answers_after", "not a duration"),
        ('[people]\nper = { answer_after = "12m" }', "people.per.answer_after", "unknown key"),
        ('[people]\nper = { answers_after = "1m", never_answers = true }', "people.per", "contradicts"),
        ("[people]\npelle = { never_answers = true }", "people.pelle", "no person 'pelle'"),
        ('[[expect]]\nacknowledged = "3.2.2bb"', "expect[0].acknowledged", 'did you mean "3.2.2b"'),
        ('[[expect]]\nby = "1h"', "expect[0]", "give exactly one of acknowledged"),
        ('[[expect]]\nnever_contacted = "kommunchef"', "expect[0].never_contacted", "no role or person"),
        ('[[actions]]\nat = "5m"\ncomplete = "3.1.1"', "actions[0]", "needs person"),
        (
            '[[actions]]\nat = "5m"\nrecord_fact = "police_wanted"',
            "actions[0].record_fact",
            'did you mean "police_report_wanted"',
        ),
    ],
)
def test_bad_scenarios_exit_2_naming_the_file_and_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, where: str, what: str
) -> None:
    scenario = write(tmp_path, BASE + extra)
    code = main(["simulate", str(OX), str(scenario)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{scenario}: {where}:" in err or f"{scenario}: {where} " in err, err
    assert what in err
    assert "Traceback" not in err


def test_a_toml_syntax_error_and_a_missing_file_are_clear(tmp_path: Path) -> None:
    municipality = load_config(OX)
    with pytest.raises(ConfigurationError, match="TOML syntax error"):
        load_scenario_text("[scenario\nname = 1", "broken.toml", municipality)
    with pytest.raises(ConfigurationError, match="no such file"):
        load_scenario(tmp_path / "missing.toml", municipality)


def test_incident_facts_must_be_facts_the_routine_uses() -> None:
    text = BASE.replace('party = "s"', 'party = "s"\nfacts = { polis = true }') + "[[expect]]\nmax_messages = 9\n"
    with pytest.raises(ConfigurationError) as error:
        load_scenario_text(text, "s.toml", load_config(OX))
    assert "incident.facts.polis" in str(error.value)
    assert "police_report_wanted" in str(error.value)


class _Marks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.marks: list[dict[str, str]] = []
        self.tags: set[str] = set()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        if "mark" in values.get("class", "").split():
            self.marks.append(values)
        self.urls += [v for k, v in values.items() if k in ("src", "href") and v]


def test_html_is_self_contained_and_holds_every_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "timeline.html"
    scenario = ROOT / "examples/oxelosund/scenarios/protected_target.toml"
    assert main(["simulate", str(OX), str(scenario), "--html", str(page)]) == 0
    out = capsys.readouterr().out
    html = page.read_text(encoding="utf-8")
    parser = _Marks()
    parser.feed(html)
    assert "script" not in parser.tags
    assert parser.urls == []  # nothing fetched: no CDN, no fonts, no images
    assert html.startswith("<!doctype html>")
    assert '<html lang="sv">' in html
    result = run_scenario(scenario, OX)
    for event in ("acknowledged", "completed", "message", "escalated"):
        expected = len(result.timeline.where(event))
        assert sum(1 for m in parser.marks if m.get("data-event") == event) == expected, event
    acknowledged = [m for m in parser.marks if m.get("data-event") == "acknowledged"]
    assert {"data-step", "data-role", "data-person", "data-offset"} <= set(acknowledged[0])
    assert {m["data-medium"] for m in parser.marks if m.get("data-event") == "message"} == {"sms", "voice"}
    # Privacy: names only; the protected targeted person is not named; no description, address or note.
    assert "Lena" not in html
    assert "sociala medier" not in html
    assert "@" not in html
    assert "070" not in html
    assert "+46" not in html
    assert f"HTML: {page}" in out


def test_html_in_english(tmp_path: Path) -> None:
    page = tmp_path / "t.html"
    scenario = ROOT / "examples/oxelosund/scenarios/nobody_answers.toml"
    assert simulate_main([str(OX), str(scenario), "--html", str(page), "--lang", "en"]) == 0
    html = page.read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    assert "Escalation exhausted" in html
    assert 'data-event="exhausted"' in html


def test_simulate_cannot_write_the_html_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = ROOT / "examples/oxelosund/scenarios/nobody_answers.toml"
    code = main(["simulate", str(OX), str(scenario), "--html", str(tmp_path / "no" / "such" / "dir.html")])
    assert code == 1
    assert "cannot write" in capsys.readouterr().err


def _docs_block(name: str, marker: str) -> list[str]:
    text = (ROOT / "docs" / "testing" / name).read_text(encoding="utf-8")
    block = text.split(f"<!-- {marker}:start -->")[1].split(f"<!-- {marker}:end -->")[0]
    return [line for line in block.strip().splitlines() if not line.startswith("```")]


def test_the_docs_show_the_real_simulate_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    main(["simulate", "examples/oxelosund/municipality.toml", "examples/oxelosund/scenarios/group_leader_answers.toml"])
    actual = capsys.readouterr().out.splitlines()
    position = 0
    for line in _docs_block("index.md", "simulate"):
        if line == "…":
            continue
        assert line in actual[position:], f"docs/testing/index.md shows a line hothat no longer prints: {line!r}"
        position = actual.index(line, position) + 1
