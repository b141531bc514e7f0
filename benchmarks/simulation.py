"""Simulation benchmark: many incidents through the Oxelösund routine with mixed behaviour.

Engine events per second (all events stored, over the wall time of reporting every incident and running the
virtual clock until nothing is due) and memory per open incident (tracemalloc, after reporting, before any
answer), as the median of several runs with their spread.

Behaviour is mixed by party: in S the security contact answers in 2 minutes; in M he answers after 40 minutes
(the group leader already took over at 15 + 20); in C nobody in the party answers and the strategists do. Some
incidents need the strategist and a police report, some need neither.

    python -m benchmarks.simulation [--incidents 10000] [--spacing 5m] [--runs 5] [--burst 2000] [--profile]

Each incident is closed a day after its report. "One every 5 minutes" is a steady load (about 290 incidents
open at a time); "at the same instant" keeps them all open at once, which shows how the engine scales with open
incidents.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import timedelta

from benchmarks._util import repeat, table, write
from hothat.config import load_example
from hothat.domain import Incident
from hothat.testing import Simulation

PARTIES = ("s", "m", "c")


def setup(sim: Simulation) -> None:
    """Who answers how (the mix is by party, see the module docs)."""
    sim.person("per").answers_after("2m").completes_after("20m")
    sim.person("ali").answers_after("40m").completes_after("30m")
    sim.person("maria").answers_after("20m").completes_after("30m")
    sim.person("olle").never_answers()
    sim.person("karin").answers_after("8m").completes_after("45m")
    sim.person("lars").answers_after("25m").completes_after("45m")
    sim.person("eva").answers_after("30m", via="sms").completes_after("2h")
    sim.person("anna").answers_after("10m").completes_after("20m")


def facts(i: int) -> dict[str, bool]:
    return {
        "strategist_needed": i % 2 == 0,
        "police_report_wanted": i % 3 == 0,
        "needs_healthcare": i % 7 == 0,
    }


CLOSE_AFTER = timedelta(days=1)
"""The security function closes each incident a day after it was reported, as it would after follow-up."""


def closer(incident: Incident) -> Callable[[Simulation], Awaitable[None]]:
    async def close(sim: Simulation) -> None:
        await sim.close_incident(by="karin", reason="uppföljt", incident=incident)

    return close


async def report_all(sim: Simulation, n: int, spacing: str | None = None) -> None:
    for i in range(n):
        incident = await sim.report(
            kind="threat", severity="serious" if i % 5 else "acute", party=PARTIES[i % 3], facts=facts(i)
        )
        sim.at(incident.reported_at + CLOSE_AFTER, closer(incident))
        if spacing:
            await sim.advance(spacing)


async def throughput(n: int, spacing: str | None = None) -> tuple[int, float, float]:
    """Report ``n`` incidents (one every ``spacing`` of virtual time, or all at once) and run until quiet.

    Returns the events stored, the wall time and the CPU time of this process (steadier on a shared machine).
    """
    sim = Simulation(load_example("oxelosund"), record=False)
    setup(sim)
    started = time.perf_counter()
    cpu = time.process_time()
    async with sim:
        await report_all(sim, n, spacing)
        await sim.run_until_quiet("7d")
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        events = 0
        for incident in sim.incidents:
            events += len(await sim.store.load(incident.id))
    return events, elapsed, cpu


async def memory(n: int) -> float:
    sim = Simulation(load_example("oxelosund"), record=False)
    setup(sim)
    async with sim:
        await sim.report(kind="threat", severity="serious", party="s")  # warm caches, templates, codes
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        await report_all(sim, n)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    return (after - before) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--spacing", default="5m", help="virtual time between two reports (default 5m)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--burst", type=int, default=2_000, help="incidents reported at the same instant (0: skip)")
    parser.add_argument("--memory-incidents", type=int, default=2_000)
    parser.add_argument("--profile", action="store_true", help="profile one run with cProfile instead")
    args = parser.parse_args(argv)

    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        asyncio.run(throughput(args.incidents, args.spacing))
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        return 0

    def measure(n: int, spacing: str | None, runs: int) -> tuple[dict[str, float], dict[str, float], int]:
        rates, cpu_rates, events = [], [], 0
        for _ in range(runs):
            events, elapsed, cpu = asyncio.run(throughput(n, spacing))
            rates.append(events / elapsed)
            cpu_rates.append(events / cpu)
        return repeat(iter(rates).__next__, runs), repeat(iter(cpu_rates).__next__, runs), events

    spread, spread_cpu, events = measure(args.incidents, args.spacing, args.runs)
    burst, burst_cpu, _ = measure(args.burst, None, max(1, args.runs // 2)) if args.burst else ({}, {}, 0)
    mem = repeat(lambda: asyncio.run(memory(args.memory_incidents)), max(3, args.runs // 2))
    rows = [
        [
            f"events/s, {args.incidents:,} incidents, one every {args.spacing}",
            f"{spread['median']:,.0f}",
            f"±{spread['spread']:.0%}",
            "≥ 20,000",
        ],
        ["  the same, per CPU second", f"{spread_cpu['median']:,.0f}", f"±{spread_cpu['spread']:.0%}", ""],
    ]
    if burst:
        rows.append(
            [
                f"events/s, {args.burst:,} incidents at the same instant",
                f"{burst['median']:,.0f}",
                f"±{burst['spread']:.0%}",
                "",
            ]
        )
        rows.append(["  the same, per CPU second", f"{burst_cpu['median']:,.0f}", f"±{burst_cpu['spread']:.0%}", ""])
    rows += [
        ["memory per open incident", f"{mem['median'] / 1024:.1f} KB", f"±{mem['spread']:.0%}", "≤ 20 KB"],
        ["events per incident", f"{events / args.incidents:.1f}", "", ""],
    ]
    print(
        table(
            f"Simulation benchmark: Oxelösund routine, mixed behaviour, median of {args.runs} runs",
            rows,
            ["what", "median", "spread", "target"],
        )
    )
    path = write(
        "simulation",
        {
            "incidents": args.incidents,
            "spacing": args.spacing,
            "events_per_s": spread,
            "events_per_cpu_s": spread_cpu,
            "burst_events_per_cpu_s": burst_cpu,
            "burst_incidents": args.burst,
            "burst_events_per_s": burst,
            "bytes_per_open_incident": mem,
            "events_per_incident": events / args.incidents,
        },
    )
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
