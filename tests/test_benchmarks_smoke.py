"""The benchmarks (``make bench``) still run: each one at tiny sizes, checking the fields it reports, not timings."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `benchmarks` is a folder at the root, not an installed package

from benchmarks import __main__ as run_all  # noqa: E402
from benchmarks import _util, escalation, fanout, latency  # noqa: E402
from benchmarks._gateway import GatewayProcess  # noqa: E402

SUMMARY = {"median", "min", "max", "spread", "runs"}


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayProcess]:
    with GatewayProcess(max_messages=1000) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def results_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_util, "RESULTS", tmp_path)


@pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")  # Apprise imports it
def test_b1_fanout(gateway: GatewayProcess) -> None:
    results = fanout.bench(gateway, messages=10, runs=1)
    senders = ["hothat", "apprise"] if fanout.apprise_available() else ["hothat"]
    for name in senders:
        assert set(results[name]["wall_s"]) >= SUMMARY
        assert set(results[name]["cpu_per_message_ms"]) >= SUMMARY
        assert results[name]["fields"] == ["from", "message", "to"]  # both senders post the same 46elks fields
    if "apprise" in senders:
        assert {"wall_apprise_over_hothat", "cpu_hothat_over_apprise"} <= set(results["ratios"])
    assert fanout.rows(results)


def test_b2_escalation(gateway: GatewayProcess) -> None:
    results = escalation.bench(gateway, incidents=10, runs=1)
    assert set(results["wall_s"]) >= SUMMARY
    assert set(results["events_per_s"]) >= SUMMARY
    assert results["sms_received"]["median"] == results["sms_per_run"] == 10 * escalation.SMS_PER_INCIDENT
    assert results["events_per_run"] > 10 * 5
    assert escalation.rows(results)


def test_b3_latency(gateway: GatewayProcess) -> None:
    results = latency.bench(gateway, incidents=20, runs=1)
    assert set(results["p50_ms"]) >= SUMMARY
    assert set(results["p99_ms"]) >= SUMMARY
    assert 0 < results["p50_ms"]["median"] <= results["p99_ms"]["median"]
    assert latency.rows(results)


def test_b4_simulation() -> None:
    results: dict[str, Any] | None = run_all.simulation_bench(incidents=5, memory_incidents=5, runs=1)
    if results is None:
        assert run_all.simulation_rows(None) == [["B4: not available yet", "", "", ""]]
        return
    assert set(results["events_per_s"]) >= SUMMARY
    assert set(results["bytes_per_open_incident"]) >= SUMMARY
    assert run_all.simulation_rows(results)
