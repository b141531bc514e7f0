"""Soak: 1,000 Oxelösund incidents at once on a SQLite file (synchronous=FULL), paging by SMS over HTTP to a loopback
gateway that fails 5 % of requests with a 5xx, holds 2 % past the read timeout and drops 1 % after taking the message.

A seeded 60 % of the incidents are answered by SMS reply code; the rest must end in ``EscalationExhausted``. Every trail
is then read back from the file and checked (one outcome per queued message, every step settled, the outbox empty, no
message taken twice). The same run, with 150 incidents, is ``tests/test_reliability_load.py``.

    python -m benchmarks.soak [--incidents 1000] [--seed 20261120] [--normal]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from reliability_kit import run_load

from benchmarks._util import write


async def main(incidents: int, seed: int, synchronous: str) -> int:
    logging.disable(logging.WARNING)  # each injected fault logs a warning; the report counts them
    with tempfile.TemporaryDirectory() as folder:
        report = await run_load(
            Path(folder) / "soak.db",
            incidents=incidents,
            seed=seed,
            synchronous=synchronous,  # type: ignore[arg-type]
            wall_limit=3600,
        )
    print(report.text())
    path = write(
        "soak",
        {
            "incidents": report.incidents,
            "answered": report.answering,
            "synchronous": synchronous,
            "injected": dict(report.injected),
            "events": report.events,
            "sends": dict(report.sends),
            "gateway_taken": report.gateway_taken,
            "retries": report.retries,
            "ambiguous": report.ambiguous,
            "ambiguous_taken": report.ambiguous_taken,
            "duplicates": report.duplicates,
            "exhausted_incidents": report.exhausted_incidents,
            "acknowledged_incidents": report.acknowledged_incidents,
            "stalls": report.stalls,
            "slowest": [(ref, delta.total_seconds()) for ref, delta in report.slowest],
            "wall_s": report.wall,
            "cpu_s": report.cpu,
            "problems": report.problems[:50],
        },
    )
    print(f"written to {path}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261120)
    parser.add_argument("--normal", action="store_true", help="synchronous=NORMAL instead of FULL")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.incidents, args.seed, "NORMAL" if args.normal else "FULL")))
