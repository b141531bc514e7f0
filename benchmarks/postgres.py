"""PostgreSQL store: commits per second by pool size, and escalations per second with 1, 2 and 3 engine processes.

    python -m benchmarks.postgres [--incidents 1500] [--runs 3] [--no-fsync] [--dsn DSN]

Starts a throw-away cluster with ``scripts/pg-test-cluster.sh`` (fsync on, as in production, unless
``--no-fsync``), or uses ``--dsn`` (a superuser's DSN: each run gets a schema of its own). Results are printed as
tables and written to ``benchmarks/results/postgres.json``.

1. **Pool size.** 64 incidents commit concurrently through one store (one event, a wake-up move, an outbox row
   put and one settled per commit, as the engine writes), with ``pool_size`` 1, 2, 4 and 8; and what opening a
   connection costs, the price a connection-per-operation store would pay on every call.
2. **Escalation scaling.** ``--incidents`` incidents are reported (on a virtual clock, so no time passes); their
   owners' hour to answer is then moved to end at one moment, shortly after 1, 2 or 3 engine processes have
   started on the real clock (and loaded every open incident). From that moment they escalate them all: each
   escalation is one drive (load, decide, commit) and one delivery (claim, a memory channel, commit). The figure
   is escalations per second from that moment until every escalation is recorded and every notification settled;
   each process count runs on an identical copy of the seeded data.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from benchmarks._util import summary, table, write
from hothat.channels import MemoryChannel
from hothat.domain import (
    ChannelConfig,
    ContactPoint,
    Deadlines,
    Directory,
    Medium,
    Municipality,
    Person,
    Role,
    RoleScope,
    Routine,
    Step,
    Text,
)
from hothat.engine import Engine, VirtualClock
from hothat.plugins import HothatPlugins, get_plugin_manager
from hothat.store import Commit, EventRecord, OutboxItem
from hothat.store.postgres import PostgresStore

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "pg-test-cluster.sh"
MUNICIPALITY = "bench"
ACK_WITHIN = timedelta(hours=1)
TABLES = ("hothat_incidents", "hothat_events", "hothat_wakeups", "hothat_outbox")


def municipality() -> Municipality:
    """One step owned by Olle, an hour to answer, then Berit (whose hour never ends within a run)."""
    people = {
        pid: Person(pid, pid.title(), (ContactPoint(Medium.SMS, f"+4670174061{n}"),))
        for n, pid in enumerate(["olle", "berit", "sven"])
    }
    roles = {r: Role(r, RoleScope.MUNICIPALITY, r, r) for r in ("owner", "backup", "chief")}
    step = Step(
        "1",
        Text("Ta hand om ärendet", "Take the case"),
        ("owner",),
        deadlines=Deadlines(ack_within=ACK_WITHIN),
        escalation=("backup",),
    )
    return Municipality(
        id=MUNICIPALITY,
        name="Benchkommun",
        reference_prefix="B",
        directory=Directory(
            people=people, roles=roles, holders={"owner": ("olle",), "backup": ("berit",), "chief": ("sven",)}
        ),
        routines={"r": Routine("r", Text("Rutin", "Routine"), (step,), unresolved_to="chief")},
        default_routine="r",
        channels=(ChannelConfig("sms", "memory", Medium.SMS),),
    )


def engine(dsn: str, clock: VirtualClock | None = None) -> Engine:
    return Engine(
        municipality(),
        store=PostgresStore(dsn, municipality=MUNICIPALITY, lease=timedelta(seconds=30)),
        clock=clock,
        plugins=HothatPlugins(get_plugin_manager(load_entrypoints=False)),
        channels={"sms": MemoryChannel()},
        token_secret=b"b" * 48,
    )


# -- the cluster and schemas ---------------------------------------------------------------------------------


@contextlib.contextmanager
def cluster(dsn: str | None, fsync: bool) -> Iterator[str]:
    """A superuser DSN: ``dsn`` itself, or a throw-away cluster's for the duration."""
    if dsn is not None:
        yield dsn
        return
    folder = tempfile.mkdtemp(prefix="hothat-pg-bench-")
    env = {"HOTHAT_PG_FSYNC": "on" if fsync else "off", "PYTHON": sys.executable}
    started = subprocess.run(
        ["bash", str(SCRIPT), "start", folder], capture_output=True, text=True, env={**os.environ, **env}, check=False
    )
    if started.returncode != 0:
        raise SystemExit(f"could not start a PostgreSQL cluster:\n{started.stderr}")
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", folder], capture_output=True, check=False)


def schema(admin: str, name: str) -> str:
    """A new, empty schema ``name`` (dropped first if there); returns its DSN."""
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE".encode())
        conn.execute(f"CREATE SCHEMA {name}".encode())
    return make_conninfo(admin, options=f"-c search_path={name}")


async def copy_schema(admin: str, source: str, target: str) -> str:
    """``target`` as a copy of the hothat tables of ``source``; returns its DSN."""
    dsn = schema(admin, target)
    await (await PostgresStore.open(dsn, municipality=MUNICIPALITY)).close()  # creates the tables
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in TABLES:
            override = " OVERRIDING SYSTEM VALUE" if name == "hothat_incidents" else ""
            conn.execute(f"INSERT INTO {target}.{name}{override} SELECT * FROM {source}.{name}".encode())
        conn.execute(f"ANALYZE {target}.hothat_wakeups".encode())
    return dsn


def count(dsn: str, query: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query.encode()).fetchone()
    return int(row[0]) if row else 0


# -- 1. pool size --------------------------------------------------------------------------------------------


async def commits_per_second(dsn: str, pool_size: int, commits: int, incidents: int = 64) -> float:
    store = await PostgresStore.open(dsn, municipality=MUNICIPALITY, pool_size=pool_size)
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    async def one(incident_id: str) -> None:
        version = 0
        for n in range(commits // incidents):
            now = t0 + timedelta(seconds=n)
            version = await store.commit(
                Commit(
                    incident_id,
                    version,
                    (EventRecord("NotificationSent", json.dumps({"key": f"{incident_id}/{n}"}), now),),
                    wake_at=now + timedelta(minutes=5),
                    outbox_put=(OutboxItem(f"{incident_id}/{n}", incident_id, "{}", now),),
                    outbox_done=(f"{incident_id}/{n - 1}",) if n else (),
                )
            )

    try:
        started = time.perf_counter()
        await asyncio.gather(*(one(f"p{pool_size}-{i}-{time.monotonic_ns()}") for i in range(incidents)))
        return (commits // incidents) * incidents / (time.perf_counter() - started)
    finally:
        await store.close()


async def connect_cost(dsn: str, times: int = 50) -> float:
    """Seconds to open and close one connection (what a connection per operation would add to each call)."""
    started = time.perf_counter()
    for _ in range(times):
        conn = await psycopg.AsyncConnection.connect(dsn)
        await conn.close()
    return (time.perf_counter() - started) / times


# -- 2. escalation scaling -----------------------------------------------------------------------------------


async def seed(dsn: str, incidents: int) -> None:
    """Report ``incidents`` incidents an hour and 5 s ago: every owner's hour is over, every escalation is due."""
    clock = VirtualClock(datetime.now(UTC) - ACK_WITHIN - timedelta(seconds=5))
    async with engine(dsn, clock) as seeding:
        for start in range(0, incidents, 50):
            await asyncio.gather(
                *(
                    seeding.report(kind="threat", severity="serious", reference=f"B-{n:05d}")
                    for n in range(start, min(start + 50, incidents))
                )
            )
        await seeding.idle()


async def worker(dsn: str) -> None:
    """One engine process: starts (resuming every open incident), says ``ready``, runs until stdin closes."""
    async with engine(dsn) as running:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        del running


class Stuck(Exception):
    """The processes did not finish within the patience: some work was never done."""


def escalate(dsn: str, processes: int, incidents: int, patience: float = 120.0) -> float:
    """Escalations per second of ``processes`` engine processes on the seeded ``dsn``; ``Stuck`` after
    ``patience`` seconds.

    Every wake-up is moved to one moment shortly ahead, so that the processes have started and loaded every open
    incident before it: the clock runs from that moment until every escalation is recorded and settled.
    """
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("UPDATE hothat_wakeups SET at = now() + interval '25 s' RETURNING extract(epoch FROM at)")
        due = float(row.fetchone()[0])  # type: ignore[index]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.postgres", "--worker", dsn],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise SystemExit("a worker did not start")
        if time.time() > due:
            print("warning: the processes were not ready before the wake-ups fell due", file=sys.stderr)
        escalated = "SELECT count(*) FROM hothat_events WHERE type LIKE 'Escalated@%'"
        while count(dsn, escalated) < incidents or count(dsn, "SELECT count(*) FROM hothat_outbox"):
            if time.time() - due > patience:
                done = count(dsn, escalated)
                left = count(dsn, "SELECT count(*) FROM hothat_outbox")
                raise Stuck(f"{processes} processes: {done} of {incidents} escalated, {left} notifications unsettled")
            time.sleep(0.05)  # a benchmark's poll, not a test's wait
        elapsed = time.time() - due
    finally:
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in procs:
            proc.wait(timeout=60)
    doubled = count(
        dsn,
        "SELECT count(*) FROM (SELECT 1 FROM hothat_events GROUP BY incident_id, type"
        " HAVING type LIKE 'Escalated@%' AND count(*) > 1) AS d",
    )
    if doubled:
        raise SystemExit(f"{doubled} incidents escalated twice: the processes did not share the work correctly")
    return incidents / elapsed


# -- main ----------------------------------------------------------------------------------------------------


def _rate(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


async def bench(admin: str, incidents: int, runs: int) -> dict[str, Any]:
    pools: dict[str, Any] = {}
    rows = []
    for pool_size in (1, 2, 4, 8):
        dsn = schema(admin, f"pool{pool_size}")
        cell = pools[str(pool_size)] = summary([await commits_per_second(dsn, pool_size, 2048) for _ in range(runs)])
        rows.append([str(pool_size), _rate(cell["median"]), f"{_rate(cell['min'])} to {_rate(cell['max'])}"])
    connect = await connect_cost(admin)
    print(
        table(
            f"Commits per second, 64 incidents at once, median of {runs} runs",
            rows,
            ["pool_size", "commits/s", "spread"],
        )
    )
    print(f"opening one connection: {connect * 1e3:.1f} ms\n")

    template = schema(admin, "seeded")
    await seed(template, incidents)
    scaling: dict[str, Any] = {}
    stuck: list[str] = []
    rows = []
    for processes in (1, 2, 3):
        samples = []
        for run in range(runs):
            dsn = await copy_schema(admin, "seeded", f"run{processes}_{run}")
            try:
                samples.append(escalate(dsn, processes, incidents))
            except Stuck as exc:
                print(f"stuck: {exc}", file=sys.stderr)
                stuck.append(str(exc))
        if not samples:
            continue
        cell = scaling[str(processes)] = summary(samples)
        cell["vs_one"] = cell["median"] / scaling["1"]["median"] if "1" in scaling else 0.0
        rows.append(
            [
                str(processes),
                _rate(cell["median"]),
                f"{_rate(cell['min'])} to {_rate(cell['max'])}",
                f"{cell['vs_one']:.2f}",
            ]
        )
    print(
        table(
            f"Escalations per second, {incidents} incidents, median of {runs} runs",
            rows,
            ["processes", "escalations/s", "spread", "vs 1 process"],
        )
    )
    return {
        "incidents": incidents,
        "commits_per_s_by_pool_size": pools,
        "connect_s": connect,
        "escalations_per_s_by_processes": scaling,
        "stuck_runs": stuck,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.postgres", description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1500, help="incidents escalated per run (default 1500)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the median is shown (default 3)")
    parser.add_argument("--no-fsync", action="store_true", help="a throw-away cluster without fsync")
    parser.add_argument("--dsn", help="a superuser DSN of a cluster of your own (default: a throw-away one)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.worker:
        asyncio.run(worker(options.worker))
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the throw-away cluster is stopped
    with cluster(options.dsn, fsync=not options.no_fsync) as admin:
        results = asyncio.run(bench(admin, options.incidents, options.runs))
    results["fsync"] = not options.no_fsync
    print(f"written to {write('postgres', results)}")


if __name__ == "__main__":
    main()
