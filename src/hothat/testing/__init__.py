"""Simulation and test kit: run a routine on a virtual clock with scripted people, scenario files, drills,
timelines (text and HTML), and a pytest plugin for plugin authors and municipal test harnesses."""

from hothat.testing.drill import DrillReport, Finding, Level, drill, drill_async
from hothat.testing.html import render_html
from hothat.testing.progress import Progress
from hothat.testing.scenario import (
    Scenario,
    ScenarioResult,
    load_scenario,
    load_scenario_text,
    run_scenario,
    run_scenario_async,
)
from hothat.testing.simulation import (
    DEFAULT_START,
    PersonScript,
    RecordingChannel,
    Simulation,
    SimulationAssertionError,
    SimulationError,
    SyncSimulation,
)
from hothat.testing.timeline import Timeline, TimelineEntry, format_offset

__all__ = [
    "DEFAULT_START",
    "DrillReport",
    "Finding",
    "Level",
    "PersonScript",
    "Progress",
    "RecordingChannel",
    "Scenario",
    "ScenarioResult",
    "Simulation",
    "SimulationAssertionError",
    "SimulationError",
    "SyncSimulation",
    "Timeline",
    "TimelineEntry",
    "drill",
    "drill_async",
    "format_offset",
    "load_scenario",
    "load_scenario_text",
    "render_html",
    "run_scenario",
    "run_scenario_async",
]
