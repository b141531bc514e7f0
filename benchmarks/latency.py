"""B3, latency: ``report()`` to the first request the SMS gateway sees, p50 and p99 over 1,000 incidents.

The engine runs on the system clock, as in production (its scheduler wakes at every commit), on SQLite (a real
file, ``synchronous = FULL``), and sends over real HTTP to the fake 46elks gateway in its own process. Incidents
are reported one at a time (each waits until its delivery is settled), so the figure is the latency of one alarm,
not of a queue.

The sender stamps ``time.monotonic_ns()`` just before ``report()``; the gateway stamps each request the same
way when it reaches its route. Both read ``CLOCK_MONOTONIC``, which every process on the machine shares.

    python -m benchmarks.latency [--incidents 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import _rig
from benchmarks._gateway import GatewayProcess
from benchmarks._util import summary, table, write
from hothat.engine import SystemClock

TARGET_P99_MS = 20.0


def percentile(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) by the nearest-rank method."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(q * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def _run(gateway: GatewayProcess, incidents: int, timeout: float) -> list[int]:
    starts: list[int] = []
    with tempfile.TemporaryDirectory(prefix="hothat-bench-") as folder:
        engine, _ = await _rig.engine(Path(folder), gateway.provider_table, SystemClock())
        async with asyncio.timeout(timeout), engine:
            # One incident first: connections and caches warm, as in a running service.
            await engine.report(kind="threat", severity="serious", party="s")
            await engine.idle()
            gateway.reset()
            for _ in range(incidents):
                starts.append(time.monotonic_ns())
                await engine.report(kind="threat", severity="serious", party="s")
                await engine.idle()
    return starts


def bench(gateway: GatewayProcess, incidents: int = 1000, runs: int = 5, timeout: float = 300.0) -> dict[str, Any]:
    """Run B3 and return its results (see the module docs)."""
    p50s: list[float] = []
    p99s: list[float] = []
    means: list[float] = []
    for _ in range(runs):
        starts = asyncio.run(_run(gateway, incidents, timeout))
        stamps = gateway.stats()["stamps"]
        if len(stamps) != incidents:
            raise RuntimeError(f"B3: the gateway saw {len(stamps)} requests for {incidents} incidents")
        latencies = [(seen - started) / 1e6 for seen, started in zip(stamps, starts, strict=True)]
        p50s.append(percentile(latencies, 0.50))
        p99s.append(percentile(latencies, 0.99))
        means.append(statistics.fmean(latencies))
    p99 = summary(p99s)
    return {
        "incidents": incidents,
        "runs": runs,
        "p50_ms": summary(p50s),
        "p99_ms": p99,
        "mean_ms": summary(means),
        "target_p99_ms": TARGET_P99_MS,
        "target_met": p99["median"] < TARGET_P99_MS,
    }


def rows(results: dict[str, Any]) -> list[list[str]]:
    """Table rows for B3."""
    p50, p99 = results["p50_ms"], results["p99_ms"]
    return [
        ["B3 report() → gateway: p50", f"{p50['median']:.2f} ms", f"±{p50['spread']:.0%}", "SQLite FULL, real HTTP"],
        [
            "B3 report() → gateway: p99",
            f"{p99['median']:.2f} ms",
            f"±{p99['spread']:.0%}",
            f"target <{results['target_p99_ms']:g} ms: {'met' if results['target_met'] else 'MISSED'}",
        ],
    ]


def main(argv: list[str] | None = None) -> int:
    """Run B3 alone."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args(argv)
    with GatewayProcess() as gateway:
        results = bench(gateway, options.incidents, options.runs)
    print(table(f"B3: median of {options.runs} runs", rows(results), ["benchmark", "median", "spread", "note"]))
    print(f"written to {write('b3_latency', results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
