"""Run every benchmark side by side: ``python -m benchmarks`` (``make bench``), or ``--quick`` for a smoke run.

- B1 fan-out: 1,000 SMS through hothat's SMS channel and through Apprise, to the same loopback 46elks gateway;
- B2 escalation throughput: 6,000 incidents escalating through 3 levels, SQLite, SMS over HTTP;
- B3 latency: ``report()`` to the gateway's first request, p50 and p99 over 1,000 incidents;
- B4 simulation: events per second and memory per open incident (``benchmarks/simulation.py``).

Every figure is the median of ``--runs`` runs (at least 5 unless ``--quick``) with its spread. The gateway runs in
a process of its own. A global watchdog ends the run after ``--timeout`` seconds. Results are printed as one
table and written to ``benchmarks/results/*.json`` (one file per benchmark, and ``summary.json``).
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks import _util, escalation, fanout, latency
from benchmarks._gateway import GatewayProcess
from benchmarks._util import machine, table, write

HEADER = ["benchmark", "median", "spread", "note"]
FULL = {"messages": 1000, "incidents": 6000, "latency": 1000, "simulation": 500, "memory": 1000}
QUICK = {"messages": 100, "incidents": 200, "latency": 100, "simulation": 200, "memory": 100}


def simulation_bench(incidents: int, memory_incidents: int, runs: int) -> dict[str, Any] | None:
    """B4: run ``benchmarks.simulation`` (another module) and read what it wrote; ``None`` if it is missing."""
    try:
        from benchmarks import simulation
    except ImportError:
        return None
    argv = ["--incidents", str(incidents), "--runs", str(runs), "--burst", "0"]
    argv += ["--memory-incidents", str(memory_incidents)]
    simulation.main(argv)
    data: dict[str, Any] = json.loads((_util.RESULTS / "simulation.json").read_text())
    return data


def simulation_rows(results: dict[str, Any] | None) -> list[list[str]]:
    """Table rows for B4."""
    if results is None:
        return [["B4: not available yet", "", "", ""]]
    rate, memory = results["events_per_s"], results["bytes_per_open_incident"]
    return [
        [
            f"B4 simulation events/s ({results['incidents']:,} incidents)",
            f"{rate['median']:,.0f}",
            f"±{rate['spread']:.0%}",
            "memory store, virtual clock",
        ],
        ["B4 memory per open incident", f"{memory['median'] / 1024:.1f} KB", f"±{memory['spread']:.0%}", ""],
    ]


def main(argv: list[str] | None = None) -> int:
    """Run B1-B4, print the table, write the JSON results."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and 3 runs: a smoke run, not a measure")
    parser.add_argument("--runs", type=int, default=None, help="runs per figure (default 5, --quick 3)")
    parser.add_argument("--only", default="B1,B2,B3,B4", help="comma-separated subset, e.g. B1,B3")
    parser.add_argument("--timeout", type=float, default=2400.0, help="seconds before the watchdog ends the run")
    options = parser.parse_args(argv)
    sizes = QUICK if options.quick else FULL
    runs = options.runs or (3 if options.quick else 5)
    chosen = {part.strip().upper() for part in options.only.split(",")}
    faulthandler.dump_traceback_later(options.timeout, exit=True)  # the global bound: a hang ends the run
    started = time.perf_counter()

    results: dict[str, Any] = {}
    rows: list[list[str]] = []
    steps: list[tuple[str, str, Callable[[GatewayProcess], dict[str, Any]], Callable[[Any], list[list[str]]]]] = [
        ("B1", "b1_fanout", lambda g: fanout.bench(g, sizes["messages"], runs), fanout.rows),
        ("B2", "b2_escalation", lambda g: escalation.bench(g, sizes["incidents"], runs), escalation.rows),
        ("B3", "b3_latency", lambda g: latency.bench(g, sizes["latency"], runs), latency.rows),
    ]
    try:
        with GatewayProcess() as gateway:
            for key, name, run, to_rows in steps:
                if key not in chosen:
                    continue
                print(f"{key} ...", file=sys.stderr, flush=True)
                results[key] = run(gateway)
                write(name, results[key])
                rows += to_rows(results[key])
        if "B4" in chosen:
            print("B4 ...", file=sys.stderr, flush=True)
            results["B4"] = simulation_bench(sizes["simulation"], sizes["memory"], runs)
            rows += simulation_rows(results["B4"])
    finally:
        faulthandler.cancel_dump_traceback_later()
    elapsed = time.perf_counter() - started
    info = machine()
    title = (
        f"hothat benchmarks{' (--quick: smoke sizes)' if options.quick else ''}: median of {runs} runs; "
        f"{info['cpus']} cores, Python {platform.python_version()}, {platform.system()} ({elapsed:.0f} s)"
    )
    print(table(title, rows, HEADER))
    path = write("summary", {"quick": options.quick, "runs": runs, "elapsed_s": elapsed, "results": results})
    print(f"\nresults: {path.parent}{os.sep}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
