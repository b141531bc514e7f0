"""The pytest plugin, in fresh pytest runs: its fixtures come from the ``pytest11`` entry point, a passing
harness passes, a failing one shows a readable message and the timeline, and examples/harness runs green."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
OX = ROOT / "examples" / "oxelosund" / "municipality.toml"

INI = f"""
[pytest]
hothat_config = {OX}
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""


def test_the_fixtures_come_from_the_entry_point(pytester: pytest.Pytester) -> None:
    # The test module imports nothing from hothat and declares no pytest_plugins: only the entry point loads them.
    pytester.makeini(INI)
    pytester.makepyfile(
        """
        def test_fixtures(hothat_sim, virtual_clock, recording_channel, plugin_manager):
            assert type(hothat_sim).__name__ == "SyncSimulation"
            assert recording_channel.sent == []
            assert plugin_manager.get_plugin("hothat.builtins") is not None
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    blocked = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:hothat")
    blocked.assert_outcomes(errors=1)
    blocked.stdout.fnmatch_lines(["*fixture 'hothat_sim' not found*"])


def test_a_passing_harness_passes_sync_and_async(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        """
        def test_sync(hothat_sim):
            hothat_sim.person("per").never_answers()
            hothat_sim.person("anna").answers_after("12m", via="sms")
            hothat_sim.report(kind="threat", severity="serious", party="s")
            hothat_sim.advance("1h")
            hothat_sim.assert_acknowledged("3.1.1", by_role="party_group_leader", within="30m")
            hothat_sim.assert_not_contacted(role="municipal_ceo")

        async def test_async(hothat_sim):
            hothat_sim.person("per").answers_after("2m")
            await hothat_sim.report(kind="threat", severity="serious", party="s")
            await hothat_sim.advance("10m")
            hothat_sim.assert_acknowledged("3.1.1", by_person="per", within="5m")
            hothat_sim.assert_messages(person="per", count=2)  # 3.1.1 and 3.2.1 by SMS; took 3.1.1 only

        def test_factory(hothat_sim_factory):
            sim = hothat_sim_factory(start="2026-03-14 03:00", lang="en")
            sim.report(kind="violence", severity="acute", party="m")
            sim.advance("6m")
            sim.assert_escalated("3.1.1")
            assert "Escalated" in sim.timeline.text()
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_a_failing_harness_says_what_and_shows_the_timeline(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        """
        def test_group_leader_in_time(hothat_sim):
            hothat_sim.person("per").never_answers()
            hothat_sim.report(kind="threat", severity="serious", party="s")
            hothat_sim.advance("40m")
            hothat_sim.assert_acknowledged("3.1.1", by_role="party_group_leader", within="30m")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*förväntat: 3.1.1 kvitteras av Gruppledare senast t+30:00",
            "*i stället: 3.1.1 kvitteras aldrig: startade t+00:00; eskalerade t+15:00 → Gruppledare, "
            "t+30:00 → Säkerhetsstrateg",
            "*tidslinjen hittills (Oxelösunds kommun):",
            "*t+15:00  Eskalerat*3.1.1*Gruppledare*",
            "*t+15:00  Eskalering*3.1.1*Gruppledare*Anna Sjöberg*sms*",
        ]
    )


def test_without_a_configuration_the_failure_says_how_to_give_one(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile("def test_it(hothat_sim):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(['*set hothat_config = "municipality.toml" under [[]tool.pytest.ini_options[]]*'])


def test_the_hothat_config_fixture_can_be_overridden(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest(
        f"""
        import pytest

        @pytest.fixture
        def hothat_config():
            return {str(OX)!r}
        """
    )
    pytester.makepyfile(
        """
        def test_it(hothat_sim):
            hothat_sim.report(kind="threat", severity="serious", party="c")
            hothat_sim.assert_contacted(person="olle", within="0s")
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_examples_harness_runs_green() -> None:
    harness = ROOT / "examples" / "harness"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(harness), "-q", "-p", "no:cacheprovider", "--rootdir", str(harness)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=harness,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 passed" in done.stdout
