"""``hothat purge``: closed incidents past the retention are listed, and removed only with ``--yes``."""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest
from test_report_seed import Seeded, seed, write_config

from hothat import report
from hothat.cli import main
from hothat.config import load_config
from hothat.engine import events as ev
from hothat.store.sqlite import SqliteStore


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed(tmp_path_factory.mktemp("purge") / "hothat.db")


@pytest.fixture
def seeded(pristine: Seeded, tmp_path: Path) -> Seeded:
    """A copy of the seeded store, next to the Oxelösund config (whose retention is 730 days)."""
    shutil.copy(pristine.path, tmp_path / "hothat.db")
    write_config(tmp_path)
    return attrs.evolve(pristine, path=tmp_path / "hothat.db")


def purge(capsys: pytest.CaptureFixture[str], seeded: Seeded, *argv: str) -> tuple[int, str, str]:
    code = main(["purge", "--config", str(seeded.path.parent / "municipality.toml"), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def references(path: Path) -> list[str]:
    """Every incident's reference, as a fresh reader of the file sees them."""

    async def read() -> list[str]:
        async with SqliteStore(path) as store:
            return [r.reference for r in await report.incident_list(store, now=datetime.now(UTC), recent=None)]

    return asyncio.run(read())


def stop_list(path: Path) -> list[bool]:
    async def read() -> list[ev.Event]:
        async with SqliteStore(path) as store:
            return [ev.decode(r.type, r.payload) for r in await store.load("_contacts")]

    return [e.opted_out for e in asyncio.run(read()) if isinstance(e, ev.OptOutChanged)]


def test_a_dry_run_lists_what_is_past_the_retention_and_removes_nothing(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    before = seeded.path.read_bytes()
    code, out, err = purge(capsys, seeded)
    assert (code, err) == (0, "")
    closed_at = seeded.reported["old"] + timedelta(minutes=7) + timedelta(hours=1)
    closed = closed_at.astimezone(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m-%d")
    lines = out.splitlines()
    assert re.fullmatch(r"Avslutade före \d{4}-\d\d-\d\d \d\d:\d\d \(lagringstid 730d\):", lines[0])
    # Only the incident closed 800 days ago: not the one open for 900 days, nor those closed 100 and 2 days ago.
    assert lines[1].split() == [seeded.refs["old"], "avslutat", closed]
    assert lines[2:] == ["1 ärende kan tas bort. Kör igen med --yes för att ta bort det."]
    assert len(references(seeded.path)) == 5
    assert seeded.path.read_bytes() == before


def test_yes_removes_them_and_keeps_open_incidents_and_the_stop_list(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = purge(capsys, seeded, "--yes", "--lang", "en")
    assert code == 0
    assert out.splitlines()[-1] == "1 incident removed."
    remaining = references(seeded.path)
    assert seeded.refs["old"] not in remaining
    assert seeded.refs["forgotten"] in remaining  # open for 900 days: an open incident is never purged
    assert len(remaining) == 4
    assert stop_list(seeded.path) == [True]  # the STOP list is no incident: never purged
    code, out, _ = purge(capsys, seeded, "--yes")
    assert out == "Inga avslutade ärenden är äldre än lagringstiden (730d).\n"


async def test_open_and_other_municipalities_incidents_are_never_candidates(seeded: Seeded) -> None:
    muni = load_config(seeded.path.parent / "municipality.toml")
    async with SqliteStore(seeded.path) as store:
        far_future = datetime.now(UTC) + timedelta(days=3650)
        everything_closed = await report.past_retention(store, muni, now=far_future)
        other = await report.past_retention(store, attrs.evolve(muni, id="nykoping"), now=far_future)
    assert sorted(c.reference for c in everything_closed) == sorted(
        seeded.refs[name] for name in ("old", "hate", "recent")
    )
    assert other == []


def test_a_config_without_retention_purges_nothing(
    seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, drop="retention")
    code = main(["purge", "--config", str(config), "--yes"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == f'hothat: {config} anger ingen lagringstid: skriv t.ex. retention = "730d" under [municipality]\n'


def test_purge_needs_the_config(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["purge", "--store", str(seeded.path), "--yes"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err == "hothat: --config FILE is needed: the municipality file sets the retention\n"


def test_a_locked_store_gives_one_line_and_no_partial_purge(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    holder = sqlite3.connect(seeded.path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process is writing
        code, out, err = purge(capsys, seeded, "--yes", "--wait", "0.2")  # listing still works: WAL readers
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "is locked by another process" in err
    assert "Nothing was written" in err
    assert seeded.refs["old"] in out
    assert "borttagna" not in out
    assert len(references(seeded.path)) == 5
