"""`make demo`: the main job runs end to end on loopback and says what happened."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hothat.cli import main


def test_demo_runs_an_incident_over_loopback_with_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, html = tmp_path / "demo.db", tmp_path / "demo.html"
    assert main(["demo", "--db", str(db), "--html", str(html), "--no-drill"]) == 0
    out = capsys.readouterr().out
    assert db.exists()
    assert "SMS: 46elks API on a fake gateway at http://127.0.0.1:" in out
    assert "e-mail: SMTP server on 127.0.0.1:" in out
    assert "voice: Twilio Calls API on the same gateway, callbacks to http://127.0.0.1:" in out
    # Every way of answering, each through its real path: the group leader replies to the SMS after the
    # escalation, a strategist presses 1 on the phone, the CEO clicks the link in her e-mail.
    assert re.search(r"t\+15:00\s+Eskalerat\s+3\.1\.1", out)
    assert re.search(r"t\+18:00\s+Kvitterat\s+3\.1\.1\s+Gruppledare\s+Anna Sjöberg\s+sms", out)
    assert re.search(r"Kvitterat\s+3\.1\.2\s+Säkerhetsstrateg\s+Karin Lindqvist\s+voice", out)
    assert re.search(r"Kvitterat\s+3\.1\.3\s+Kommundirektör\s+Eva Berg\s+email", out)
    # It ends with the report of the incident from the SQLite file.
    assert re.search(r"OX-2026-0001\s+hot\s+allvarlig\s+avslutat", out)
    # The targeted person has protected identity: never named, in the timeline either.
    assert "Lena Kask" not in out.split("Tidslinje")[1]
    page = html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") or page.lstrip().lower().startswith("<!doctype html>")
    assert "http" not in re.sub(r'xmlns="http[^"]*"', "", page).split("<body")[0]  # no CDN in the head
