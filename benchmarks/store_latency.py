"""The engine on SQLite against the engine on the memory store, in the same run: events appended per second, and the
latency from ``report()`` to the first ``deliver()``.

    python -m benchmarks.store_latency [--incidents 1000] [--runs 5] [--dir FOLDER]

Each run drives the Oxelösund example with ``--incidents`` incidents, once on a fresh ``MemoryStore`` and once on a
fresh ``SqliteStore`` file (the default ``synchronous = FULL``: every commit is on disk before the engine goes on),
the two alternating so that a busy machine slows both alike:

- **report → first deliver**: one incident at a time, the time from calling ``report()`` until the channel's
  ``deliver()`` is called for its first message (the commit of the report and its outbox row lies in between);
- **events/s, reporting**: events the engine appended while reporting the incidents (and delivering their first
  messages), per second of wall time;
- **events/s, escalating**: then the virtual clock moves one hour, and every incident escalates at once (calls after
  five minutes, the next level after fifteen ...): events appended per second of that.

Every cell is the median of ``--runs`` runs with its spread (max-min over median); the ratio column is SQLite over
memory. Results go to ``benchmarks/results/store_latency.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from benchmarks._util import summary, table, write
from hothat.channels import Channel, OutboundMessage, Receipt
from hothat.config import load_example
from hothat.domain import Medium
from hothat.engine import Engine, VirtualClock
from hothat.plugins import HothatPlugins, get_plugin_manager
from hothat.store import MemoryStore, Store
from hothat.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PARTIES = ("s", "m", "c")


class FirstDelivery(Channel):
    """Notes when ``deliver()`` is first called for each incident; delivers instantly."""

    name: ClassVar[str] = "first"
    medium: ClassVar[Medium] = Medium.SMS

    def __init__(self) -> None:
        super().__init__()
        self.first: dict[str, float] = {}

    async def deliver(self, message: OutboundMessage) -> Receipt:
        self.first.setdefault(message.incident_id, time.perf_counter())
        return Receipt(self.name, message.address)


class Sample:
    """One run on one store."""

    def __init__(self, latencies_ms: list[float], report_rate: float, escalate_rate: float) -> None:
        self.latencies_ms = latencies_ms
        self.report_rate = report_rate
        self.escalate_rate = escalate_rate

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, round(len(ordered) * 0.99) - 1)]


async def _events(store: Store) -> int:
    return sum([len(await store.load(i)) for i in await store.incidents()])


async def one_run(store: Store, incidents: int) -> Sample:
    channel = FirstDelivery()
    engine = Engine(
        load_example("oxelosund"),
        store=store,
        clock=VirtualClock(T0),
        plugins=HothatPlugins(get_plugin_manager(load_entrypoints=False)),
        channels={"sms": channel, "voice": channel, "email": channel},
        token_secret=b"b" * 48,
    )
    latencies = []
    async with engine:
        started = time.perf_counter()
        for n in range(incidents):
            asked = time.perf_counter()
            incident = await engine.report(kind="threat", severity="serious", party=PARTIES[n % len(PARTIES)])
            await engine.idle()
            latencies.append((channel.first[incident.id] - asked) * 1000)
        reporting = time.perf_counter() - started
        reported = await _events(store)
        started = time.perf_counter()
        await engine.advance("1h")
        escalating = time.perf_counter() - started
        escalated = await _events(store) - reported
    return Sample(latencies, reported / reporting, escalated / escalating)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="where the SQLite files go (default: a temp folder)")
    args = parser.parse_args(argv)

    samples: dict[str, list[Sample]] = {"memory": [], "sqlite": []}
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for run in range(args.runs):
            for kind in ("memory", "sqlite") if run % 2 == 0 else ("sqlite", "memory"):
                store: Store = MemoryStore() if kind == "memory" else SqliteStore(Path(folder) / f"run{run}.db")
                samples[kind].append(asyncio.run(one_run(store, args.incidents)))

    def cell(kind: str, metric: Callable[[Sample], float]) -> dict[str, float]:
        return summary([metric(s) for s in samples[kind]])

    metrics: dict[str, tuple[Callable[[Sample], float], str]] = {
        "report → first deliver, p50": (lambda s: s.p50, "ms"),
        "report → first deliver, p99": (lambda s: s.p99, "ms"),
        "events/s, reporting": (lambda s: s.report_rate, "events/s"),
        "events/s, escalating": (lambda s: s.escalate_rate, "events/s"),
    }
    rows = []
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, (metric, unit) in metrics.items():
        memory, sqlite = cell("memory", metric), cell("sqlite", metric)
        results[name] = {"memory": memory, "sqlite": sqlite}
        digits = ",.0f" if unit == "events/s" else ".2f"
        rows.append(
            [
                name,
                f"{memory['median']:{digits}} {unit} ±{memory['spread']:.0%}",
                f"{sqlite['median']:{digits}} {unit} ±{sqlite['spread']:.0%}",
                f"{sqlite['median'] / memory['median']:.2f}x",
            ]
        )
    print(
        table(
            f"Engine on SQLite vs memory: Oxelösund, {args.incidents} incidents × {args.runs} runs (median ±spread)",
            rows,
            ["what", "MemoryStore", "SqliteStore (FULL)", "sqlite/memory"],
        )
    )
    path = write("store_latency", {"incidents": args.incidents, "runs": args.runs, "results": results})
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
