"""Engine benchmark: core events per second, and report() → first deliver() latency with the memory store.

The peer in the same run is the pure core alone (replaying the very same trails through ``evolve``): the ratio
shows what the runner (locks, commits, delivery tasks) costs on top of the decisions themselves.

    python -m benchmarks.engine [--incidents 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from engine_kit import Deadlines, municipality, step

from benchmarks._util import repeat, table, write
from hothat.channels import Channel, MemoryChannel, OutboundMessage, Receipt
from hothat.domain import Medium, Municipality
from hothat.engine import Engine, VirtualClock
from hothat.engine import events as ev
from hothat.engine.core import IncidentState
from hothat.plugins import HothatPlugins, get_plugin_manager
from hothat.store import MemoryStore


def routine() -> Municipality:
    m = timedelta(minutes=1)
    return municipality(
        step(
            "3.1.1",
            "party_security_contact",
            deadlines=Deadlines(15 * m, 120 * m),
            escalation=("party_group_leader", "municipal_security_strategist"),
            repeat=1,
        ),
        step("3.1.2", "municipal_security_strategist", deadlines=Deadlines(30 * m)),
        step("3.2.1", "party_security_contact", after=("3.1.1",), deadlines=Deadlines(30 * m)),
    )


def make_engine(muni: Municipality, channel: Channel) -> Engine:
    return Engine(
        muni,
        store=MemoryStore(),
        clock=VirtualClock(),
        plugins=HothatPlugins(get_plugin_manager(load_entrypoints=False)),
        channels={"sms": channel, "email": channel, "voice": channel},
        token_secret=b"b" * 48,
    )


async def run_engine(n: int) -> tuple[int, float, Engine]:
    muni = routine()
    engine = make_engine(muni, MemoryChannel())
    started = time.perf_counter()
    async with engine:
        ids = [(await engine.report(kind="threat", severity="serious", party="s")).id for _ in range(n)]
        await engine.advance("20m")
        for i, incident_id in enumerate(ids):
            if i % 2 == 0:
                await engine.acknowledge(incident_id, step="3.1.1", person="eva", via="sms")
        await engine.advance("3h")
        elapsed = time.perf_counter() - started
        events = 0
        for incident_id in ids:
            events += len(await engine.store.load(incident_id))
    return events, elapsed, engine


def replay(engine: Engine, trails: list[list[ev.Event]]) -> float:
    muni = engine.municipality
    started = time.perf_counter()
    for trail in trails:
        first = trail[0]
        assert isinstance(first, ev.IncidentReported)
        state = IncidentState.start(first, muni.routines["r"], muni.directory)
        for event in trail[1:]:
            state.apply(event)
    return time.perf_counter() - started


class FirstSend(Channel):
    name: ClassVar[str] = "first"
    medium: ClassVar[Medium] = Medium.SMS

    def __init__(self) -> None:
        super().__init__()
        self.at: float | None = None

    async def deliver(self, message: OutboundMessage) -> Receipt:
        if self.at is None:
            self.at = time.perf_counter()
        return Receipt(channel=self.name, address=message.address)


async def latency(samples: int) -> list[float]:
    out = []
    channel = FirstSend()
    engine = make_engine(routine(), channel)
    async with engine:
        for _ in range(samples):
            channel.at = None
            started = time.perf_counter()
            await engine.report(kind="threat", severity="serious", party="s")
            await engine.idle()
            assert channel.at is not None
            out.append((channel.at - started) * 1000)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    engine_rates: list[float] = []
    core_rates: list[float] = []
    for _ in range(args.runs):
        events, elapsed, engine = asyncio.run(run_engine(args.incidents))
        engine_rates.append(events / elapsed)

        async def load_all(e: Engine = engine) -> list[list[ev.Event]]:
            return [await e.trail(i) for i in await e.store.incidents()]

        trails = asyncio.run(load_all())
        core_rates.append(sum(len(t) for t in trails) / replay(engine, trails))
    full = repeat(iter(engine_rates).__next__, len(engine_rates))
    core = repeat(iter(core_rates).__next__, len(core_rates))
    lat = asyncio.run(latency(1000))
    lat_sorted = sorted(lat)
    p50 = statistics.median(lat)
    p99 = lat_sorted[int(len(lat_sorted) * 0.99) - 1]
    rows = [
        [
            "engine (runner + memory store)",
            f"{full['median']:,.0f} events/s",
            f"±{full['spread']:.0%}",
            f"{full['median'] / core['median']:.2f}x of core",
        ],
        ["core alone (evolve replay)", f"{core['median']:,.0f} events/s", f"±{core['spread']:.0%}", "1.00x"],
        ["report() → first deliver()", f"p50 {p50:.2f} ms", f"p99 {p99:.2f} ms", "memory store"],
    ]
    print(
        table(
            f"Engine benchmark: {args.incidents} incidents × {args.runs} runs (median, spread)",
            rows,
            ["what", "median", "spread", "ratio"],
        )
    )
    path = write(
        "engine",
        {
            "incidents": args.incidents,
            "engine_events_per_s": full,
            "core_events_per_s": core,
            "latency_ms": {"p50": p50, "p99": p99},
        },
    )
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
