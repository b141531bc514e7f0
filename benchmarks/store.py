"""Events appended per second: ``MemoryStore`` against ``SqliteStore``, measured in the same run.

    python -m benchmarks.store [--runs 5] [--commits 2000]

Results are printed as a table and written to ``benchmarks/results/store.json``.

Each commit looks like one the engine writes: it appends its events (a JSON payload of about 300 bytes each),
moves the incident's wake-up, puts one outbox row and settles the previous one. Three workloads:

- ``1/commit``: one event per commit, one incident at a time (every commit waits for the previous one);
- ``10/commit``: ten events per commit, one incident at a time;
- ``1/commit x64``: one event per commit, 64 incidents committing concurrently, as the engine does when many
  incidents escalate at once (here SQLite writes queued commits as one group: one fsync for all of them).

Every cell is the median of ``--runs`` runs on a fresh store, with the spread (min to max) beside it, and the
ratio to ``MemoryStore`` in the same workload.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks._util import summary, table, write
from hothat.store import Commit, EventRecord, MemoryStore, OutboxItem, Store
from hothat.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PAYLOAD = json.dumps(
    {
        "type": "NotificationSent",
        "step": "3.1.1",
        "person": "per.persson",
        "medium": "sms",
        "attempt": 1,
        "level": 0,
        "provider_id": "s0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "segments": 2,
        "encoding": "GSM-7",
        "note": "Hot mot förtroendevald: ring säkerhetssamordnaren på 010-123 45 67 om ingen svarar.",
        "key": "inc/3.1.1/per.persson/1",
    },
    ensure_ascii=False,
)
WORKLOADS = {"1/commit": (1, 1), "10/commit": (10, 1), "1/commit x64": (1, 64)}  # events per commit, incidents

StoreFactory = Callable[[Path], Awaitable[Store]]


async def _memory(folder: Path) -> Store:
    return MemoryStore()


async def _sqlite_full(folder: Path) -> Store:
    return await SqliteStore.open(folder / "bench.db")


async def _sqlite_normal(folder: Path) -> Store:
    return await SqliteStore.open(folder / "bench.db", synchronous="NORMAL")


STORES: dict[str, StoreFactory] = {
    "memory": _memory,
    "sqlite FULL": _sqlite_full,
    "sqlite NORMAL": _sqlite_normal,
}


async def _incident(store: Store, incident_id: str, commits: int, per_commit: int) -> None:
    version = 0
    for n in range(commits):
        now = T0 + timedelta(seconds=n)
        version = await store.commit(
            Commit(
                incident_id,
                version,
                tuple(EventRecord("NotificationSent", PAYLOAD, now) for _ in range(per_commit)),
                wake_at=now + timedelta(minutes=5),
                outbox_put=(OutboxItem(f"{incident_id}/{n}", incident_id, PAYLOAD, now),),
                outbox_done=(f"{incident_id}/{n - 1}",) if n else (),
                reference=incident_id,
            )
        )


async def _run(factory: StoreFactory, commits: int, per_commit: int, incidents: int) -> float:
    """Events per second of one run on a fresh store."""
    with tempfile.TemporaryDirectory(prefix="hothat-bench-") as folder:
        store = await factory(Path(folder))
        try:
            started = time.perf_counter()
            await asyncio.gather(
                *(_incident(store, f"inc-{i}", commits // incidents, per_commit) for i in range(incidents))
            )
            elapsed = time.perf_counter() - started
        finally:
            await store.close()
    return (commits // incidents) * incidents * per_commit / elapsed


def _rate(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


async def main(argv: list[str] | None = None) -> None:
    """Run every store on every workload, print the table and write the JSON results."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.store", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per cell; the median is shown (default 5)")
    parser.add_argument("--commits", type=int, default=2_000, help="commits per run (default 2000)")
    options = parser.parse_args(argv)

    rows = []
    results: dict[str, dict[str, dict[str, float]]] = {}
    for workload, (per_commit, incidents) in WORKLOADS.items():
        results[workload] = {}
        for name, factory in STORES.items():
            samples = [await _run(factory, options.commits, per_commit, incidents) for _ in range(options.runs)]
            cell = results[workload][name] = summary(samples)
            cell["vs_memory"] = cell["median"] / results[workload]["memory"]["median"]
            rows.append(
                [
                    workload,
                    name,
                    _rate(cell["median"]),
                    f"{_rate(cell['min'])} to {_rate(cell['max'])}",
                    f"{cell['vs_memory']:.3f}",
                ]
            )
    title = f"Events appended per second, median of {options.runs} runs of {options.commits} commits"
    print(table(title, rows, ["workload", "store", "events/s", "spread (min to max)", "vs memory"]))
    print(f"written to {write('store', {'commits_per_run': options.commits, 'events_per_s': results})}")


if __name__ == "__main__":
    asyncio.run(main())
