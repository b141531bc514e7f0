"""``hothat report``: the incident list, one incident's trail, and statistics with no personal data in them."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from test_report_seed import SECRETS, Seeded, seed, write_config

from hothat import report
from hothat.cli import main
from hothat.config import load_example
from hothat.store.sqlite import SqliteStore


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    folder = tmp_path_factory.mktemp("report")
    return seed(folder / "hothat.db")


@pytest.fixture(scope="module")
def config(seeded: Seeded) -> Path:
    return write_config(seeded.path.parent)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["report", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- the list ---------------------------------------------------------------------------------------------------


def test_the_list_shows_open_incidents_then_recently_closed_ones_newest_first(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--store", str(seeded.path))
    assert (code, err) == (0, "")
    refs = re.findall(r"OX-\d{4}-\d{4}", out)
    r = seeded.refs
    assert refs == [r["fresh"], r["forgotten"], r["recent"]]  # closed 100 and 800 days ago: left out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("OX-")}
    assert "trakasserier  akut" in lines[r["fresh"]]
    assert "öppet" in lines[r["fresh"]]
    assert "3.1.1 (väntar), 3.2.1 (taget)" in lines[r["fresh"]]
    assert lines[r["fresh"]].endswith("4 min")  # reported, then acknowledged four minutes later
    assert "3.1.1 (ingen nådd)" in lines[r["forgotten"]]  # every escalation level tried, nobody answered
    assert lines[r["forgotten"]].endswith("–")
    assert "avslutat" in lines[r["recent"]]
    assert out.rstrip().endswith("Tider i UTC.")


def test_the_whole_list_in_english_json_and_csv(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--store", str(seeded.path), "--all", "--lang", "en")
    assert code == 0
    assert len(re.findall(r"^OX-", out, re.MULTILINE)) == 5
    assert "Open steps" in out
    assert "harassment  acute" in out
    code, out, _ = run(capsys, "--store", str(seeded.path), "--all", "--format", "json")
    rows = {row["reference"]: row for row in json.loads(out)}
    old = rows[seeded.refs["old"]]
    assert old["kind"] == "threat"
    assert old["severity"] == "serious"
    assert old["status"] == "closed"
    assert old["open_steps"] == []
    assert old["seconds_to_first_ack"] == 7 * 60
    assert datetime.fromisoformat(old["reported_at"]) == seeded.reported["old"]
    assert rows[seeded.refs["fresh"]]["open_steps"] == [
        {"step": "3.1.1", "state": "waiting"},
        {"step": "3.2.1", "state": "taken"},
    ]
    code, out, _ = run(capsys, "--store", str(seeded.path), "--all", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert [row["reference"] for row in table] == list(rows)
    assert table[0]["open_steps"] == "3.1.1:waiting 3.2.1:taken"


def test_times_are_shown_in_the_municipalitys_zone_with_its_config(
    seeded: Seeded, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, "--config", str(config))  # the store comes from the config: hothat.db beside it
    zone = ZoneInfo(load_example().timezone)
    reported = seeded.reported["fresh"].astimezone(zone).strftime("%Y-%m-%d %H:%M")
    assert reported in out
    assert out.rstrip().endswith("Tider i Europe/Stockholm.")


# -- one incident -------------------------------------------------------------------------------------------------


def test_one_incidents_trail_with_names_and_role_names_from_the_config(
    seeded: Seeded, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--store", str(seeded.path), "--config", str(config), seeded.refs["old"])
    assert (code, err) == (0, "")
    assert out.startswith(f"{seeded.refs['old']}: hot, allvarlig, avslutat\n")
    rows = out.splitlines()
    assert rows[2].split() == ["Tid", "Händelse", "Steg", "Roll", "Person", "Medium", "Detalj"]
    assert any(
        "Kvitterat" in row and "Partiets säkerhetsansvarig" in row and "Per Exempelsson" in row and "sms" in row
        for row in rows
    )
    assert any("Steg startat" in row and "Bedömning av situationen" in row for row in rows)
    assert any("Meddelande köat" in row and "ombedd att ta steget, svarskod" in row for row in rows)
    assert any("Avslutat" in row and "Karin Lindqvist" in row for row in rows)
    # Lena, who reported it, has protected identity: never her name, even here.
    assert rows[4].split()[2:] == ["Anmält", "skyddad", "identitet", "hot,", "allvarlig"]
    assert "Lena Kask" not in out


def test_without_a_config_the_trail_shows_ids_and_in_english_its_words(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--store", str(seeded.path), seeded.refs["old"], "--lang", "en")
    assert code == 0
    acknowledged = next(row for row in out.splitlines() if "Acknowledged" in row)
    assert acknowledged.split()[2:] == ["Acknowledged", "3.1.1", "party_security_contact", "per", "sms"]
    assert "Per Exempelsson" not in out
    assert "Assess the situation" not in out  # step titles come from the config
    # The incident itself says its targeted person (who reported it here) has protected identity.
    reported = next(row for row in out.splitlines() if "Reported" in row)
    assert reported.split()[2:5] == ["Reported", "protected", "identity"]
    assert "lena" not in out


def test_the_trail_as_json_and_csv(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--store", str(seeded.path), seeded.refs["hate"], "--format", "json")
    trail = json.loads(out)
    assert trail["reference"] == seeded.refs["hate"]
    assert trail["events"][0]["event"] == "IncidentReported"
    acknowledged = next(e for e in trail["events"] if e["event"] == "Acknowledged")
    assert (acknowledged["step"], acknowledged["person"], acknowledged["medium"]) == ("3.1.1", "ali", "sms")
    assert acknowledged["label"] == "Kvitterat"
    _, out, _ = run(capsys, "--store", str(seeded.path), seeded.refs["hate"], "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["event"] for row in rows] == [e["event"] for e in trail["events"]]


def test_an_unknown_reference_is_one_line_and_exit_1(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--store", str(seeded.path), "OX-1999-0001")
    assert (code, out) == (1, "")
    assert err == "hothat: no incident 'OX-1999-0001' in the store\n"


async def test_the_contacts_pseudo_trail_is_no_incident(seeded: Seeded) -> None:
    async with SqliteStore(seeded.path) as store:
        assert "_contacts" in await store.incidents()  # the STOP list is there ...
        rows = await report.incident_list(store, now=datetime.now(UTC), recent=None)
        assert len(rows) == 5  # ... but never reported
        with pytest.raises(Exception, match="no incident '_contacts'"):
            await report.incident_trail(store, "_contacts")


# -- statistics ---------------------------------------------------------------------------------------------------


def test_statistics_count_by_kind_severity_and_month(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--store", str(seeded.path), "--stats", "--format", "json")
    assert code == 0
    numbers = json.loads(out)
    assert numbers["incidents"] == 5
    assert (numbers["open"], numbers["closed"]) == (2, 3)
    assert numbers["by_kind"] == {"threat": 2, "hate": 1, "harassment": 1, "violence": 1}
    assert numbers["by_severity"] == {"acute": 2, "serious": 1, "threat": 2}
    months: dict[str, int] = {}
    for when in sorted(seeded.reported.values()):
        months[when.strftime("%Y-%m")] = months.get(when.strftime("%Y-%m"), 0) + 1
    assert numbers["by_month"] == months
    assert numbers["acknowledged"] == 4
    assert numbers["median_seconds_to_first_ack"] == 210  # the median of 7, 3, 2 and 4 minutes
    code, out, _ = run(capsys, "--store", str(seeded.path), "--stats")
    assert "Ärenden: 5 (varav 2 öppna, 3 avslutade)" in out
    assert "Tid till första kvittens, median: 4 min (4 av 5 ärenden kvitterade)" in out


def _personal(seeded: Seeded) -> list[str]:
    """Everything personal in the seeded store: names, numbers (as written and as stored), e-mail addresses,
    the free texts, and the reference numbers and ids that point at a case."""
    muni = load_example()
    found = [*SECRETS, *seeded.refs.values()]
    for person in muni.directory.people.values():
        found.append(person.name)
        for contact in person.contacts:
            found += [contact.address, contact.address.replace("+46", "0")]
    return found


@pytest.mark.parametrize("fmt", ["text", "json", "csv"])
@pytest.mark.parametrize("lang", ["sv", "en"])
def test_statistics_hold_no_personal_data(
    seeded: Seeded, config: Path, capsys: pytest.CaptureFixture[str], fmt: str, lang: str
) -> None:
    code, out, _ = run(
        capsys, "--store", str(seeded.path), "--config", str(config), "--stats", "--format", fmt, "--lang", lang
    )
    assert code == 0
    leaked = [text for text in _personal(seeded) if text.lower() in out.lower()]
    assert leaked == []
    assert re.findall(r"[\w.+-]+@[\w-]+\.\w+", out) == []  # no e-mail address at all
    assert re.findall(r"\+\d{7,}|\b0\d{1,3}-\d{3}", out) == []  # nor anything like a phone number
    person_ids = set(load_example().directory.people)
    assert [word for word in re.findall(r"[a-zåäö_]+", out) if word in person_ids] == []


# -- a store in trouble -------------------------------------------------------------------------------------------


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1, err
    assert err.startswith("hothat: ")
    assert "Traceback" not in err
    return err


def test_a_missing_store_is_not_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_exit_2(capsys, "--store", str(tmp_path / "typo.db"))
    assert "no store at" in err
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_store_is_reported_in_one_line_and_left_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = tmp_path / "hothat.db"
    damaged.write_bytes(b"this was never an SQLite file" * 200)
    before = damaged.read_bytes()
    err = _one_line_exit_2(capsys, "--store", str(damaged))
    assert "is not a readable hothat database" in err
    assert damaged.read_bytes() == before


def test_a_damaged_page_is_found_before_anything_is_read(
    seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = tmp_path / "hothat.db"
    shutil.copy(seeded.path, damaged)
    with damaged.open("r+b") as file:
        file.seek(4096 * 2 + 8)  # the header of the third page: a b-tree page of the store
        file.write(b"\x07" * 64)
    err = _one_line_exit_2(capsys, "--store", str(damaged), "--stats")
    assert "is not a readable hothat database" in err


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("UPDATE events SET payload = '{\"at\": 1' WHERE version = 3", "cannot be read"),
        ("UPDATE events SET type = 'Teleported@1' WHERE version = 3", "unknown event type 'Teleported@1'"),
        ("UPDATE events SET type = 'StepActivated@7' WHERE version = 2", "newer than this hothat understands"),
    ],
)
def test_a_trail_this_hothat_cannot_read_is_one_line_naming_the_incident_not_its_data(
    seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str, says: str
) -> None:
    broken = tmp_path / "hothat.db"
    shutil.copy(seeded.path, broken)
    with sqlite3.connect(broken) as conn:
        conn.execute(change)
    conn.close()
    err = _one_line_exit_2(capsys, "--store", str(broken), "--all")
    assert says in err
    assert "incident " in err
    assert not any(secret in err for secret in SECRETS)


def test_a_store_from_a_newer_hothat_is_refused(
    seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    newer = tmp_path / "hothat.db"
    shutil.copy(seeded.path, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    err = _one_line_exit_2(capsys, "--store", str(newer), "--stats")
    assert "schema version 99" in err
    assert "newer hothat" in err


def test_an_sqlite_file_of_another_program_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.close()
    err = _one_line_exit_2(capsys, "--store", str(other))
    assert "not a hothat store" in err


def test_a_bad_command_line_is_exit_2(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_exit_2(capsys, "--store", str(seeded.path), "--stats", seeded.refs["old"])
    assert "leave out the reference" in err
    err = _one_line_exit_2(capsys)
    assert "--store FILE" in err


async def test_closed_incidents_age_out_of_the_list(seeded: Seeded) -> None:
    async with SqliteStore(seeded.path) as store:
        rows = await report.incident_list(store, now=datetime.now(UTC) + timedelta(days=31))
    later = [r.reference for r in rows]
    assert seeded.refs["recent"] not in later
    assert seeded.refs["forgotten"] in later
