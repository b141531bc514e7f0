"""The ``hothat simulate`` and ``hothat drill`` subcommands.

``simulate CONFIG SCENARIO`` runs a scenario file on a virtual clock, prints the timeline and each expectation,
and exits 1 when an expectation fails (2 on a bad file). ``drill CONFIG`` runs every routine against built-in
adversarial scenarios and prints the findings; it exits 1 when a finding is an error.

Each has an ``*_arguments(parser)`` and a ``run_*(args) -> int`` for the ``hothat`` command table, and a
``*_main(argv) -> int`` that runs it on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hothat.errors import ConfigurationError, HothatError

__all__ = [
    "drill_arguments",
    "drill_main",
    "run_drill",
    "run_simulate",
    "simulate_arguments",
    "simulate_main",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _out(text: str = "") -> None:
    print(text, file=sys.stdout)


# -- simulate ----------------------------------------------------------------------------------------------------


def simulate_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``hothat simulate``."""
    parser.add_argument("config", help="the municipality file (TOML)")
    parser.add_argument("scenario", help="the scenario file (TOML)")
    parser.add_argument("--html", metavar="FILE", help="also write the timeline as a self-contained HTML page")
    parser.add_argument(
        "--lang", choices=("sv", "en"), help="language of the output (default: the scenario's, else the municipality's)"
    )


def run_simulate(args: argparse.Namespace) -> int:
    """Run ``hothat simulate``: 0 when every expectation holds, 1 when one fails, 2 on a bad file."""
    from hothat.config import load_config
    from hothat.testing.html import render_html
    from hothat.testing.progress import Progress
    from hothat.testing.scenario import load_scenario, routine_of, run_scenario_async

    municipality = load_config(args.config)
    scenario = load_scenario(args.scenario, municipality)
    lang = args.lang or scenario.scenario.lang or municipality.locale
    en = lang == "en"
    with Progress("simulerar" if not en else "simulating", unit="time") as bar:
        result, sim = asyncio.run(
            run_scenario_async(
                scenario,
                municipality,
                lang=lang,
                progress=lambda done, total: bar.update(done.total_seconds(), total.total_seconds()),
            )
        )
    routine = routine_of(scenario, municipality)
    info = scenario.scenario
    start = sim.start.astimezone(sim.zone)
    _out(f"Scenario: {info.name}  ({args.scenario})")
    _out(
        f"{municipality.name} · {'routine' if en else 'rutin'} {routine.id} · start {start:%Y-%m-%d %H:%M} "
        f"· {scenario.incident.kind.value}, {scenario.incident.severity.value}"
        + (f", {scenario.incident.party}" if scenario.incident.party else "")
    )
    for person_id in scenario.people:
        who = ("everyone else" if en else "alla andra") if person_id == "*" else person_id
        script = sim.everyone() if person_id == "*" else sim.person(person_id)
        _out(f"  {who}: {script.describe(lang)}")
    _out()
    _out(result.timeline.text(lang))
    _out()
    if result.checks:
        _out("Expectations:" if en else "Förväntningar:")
        for check in result.checks:
            outcome = check.outcome
            if outcome.ok:
                _out(f"  ✓ {outcome.expected}")
            else:
                _out(f"  ✗ {outcome.expected}")
                _out(f"      {'instead' if en else 'i stället'}: {outcome.actual}")
        held = sum(1 for c in result.checks if c.outcome.ok)
        total = len(result.checks)
        _out()
        _out(f"{held} of {total} expectations held." if en else f"{held} av {total} förväntningar uppfylldes.")
    if args.html:
        html = render_html(
            result.timeline,
            title=info.name,
            subtitle=info.description,
            outcomes=[c.outcome for c in result.checks],
            lang=lang,
        )
        try:
            Path(args.html).write_text(html, encoding="utf-8")
        except OSError as exc:
            raise HothatError(f"cannot write {args.html}: {exc.strerror or exc}") from None
        _out(f"HTML: {args.html}")
    return EXIT_OK if result.passed else EXIT_FAILED


# -- drill -------------------------------------------------------------------------------------------------------


def drill_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``hothat drill``."""
    parser.add_argument("config", help="the municipality file (TOML)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="report format (default text)")
    parser.add_argument(
        "--lang", choices=("sv", "en"), help="language of the text report (default: the municipality's)"
    )


def run_drill(args: argparse.Namespace) -> int:
    """Run ``hothat drill``: 1 when a finding is an error, else 0."""
    from hothat.config import load_config
    from hothat.testing.drill import drill
    from hothat.testing.progress import Progress

    municipality = load_config(args.config)
    lang = args.lang or municipality.locale
    with Progress("övning" if lang != "en" else "drill") as bar:
        report = drill(municipality, progress=lambda done, total: bar.update(done, total))
    if args.format == "json":
        _out(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        _out(report.text(lang))
    return EXIT_FAILED if report.errors else EXIT_OK


# -- standalone --------------------------------------------------------------------------------------------------


def _standalone(
    name: str,
    help: str,
    arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
    argv: Sequence[str] | None,
) -> int:
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    parser = argparse.ArgumentParser(prog=f"hothat {name}", description=help)
    arguments(parser)
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    try:
        return run(args)
    except ConfigurationError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        return EXIT_USAGE
    except HothatError as exc:
        print(f"hothat: {exc}", file=sys.stderr)
        return EXIT_FAILED


SIMULATE_HELP = "run a scenario on a virtual clock and check its expectations"
DRILL_HELP = "run every routine against adversarial scenarios and report weak points"


def simulate_main(argv: Sequence[str] | None = None) -> int:
    """``hothat simulate`` on its own (``argv`` without the subcommand name)."""
    return _standalone("simulate", SIMULATE_HELP, simulate_arguments, run_simulate, argv)


def drill_main(argv: Sequence[str] | None = None) -> int:
    """``hothat drill`` on its own."""
    return _standalone("drill", DRILL_HELP, drill_arguments, run_drill, argv)
