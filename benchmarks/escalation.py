"""B2, escalation throughput: 6,000 incidents, each escalating through 3 levels before an acknowledgement.

The engine runs on SQLite (a real file in a temporary folder, ``synchronous = FULL``) and sends every SMS over
real HTTP to the fake 46elks gateway in its own process. A virtual clock jumps the 15-minute deadlines; all
HTTP and SQLite work is real. One run:

1. report every incident at once (level 0: the party's security contact gets an SMS with a reply code);
2. ``advance("15m")`` twice: levels 1 and 2 (the group leader, then the security strategist);
3. the strategist answers every SMS with its reply code (``engine.handle_inbound``), as the SMS webhook would;
   the two people asked before are told who took it;
4. wait until every delivery is settled.

Reported: wall time of the whole run, and events per second (events in the trails / wall time).

    python -m benchmarks.escalation [--incidents 6000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import _rig
from benchmarks._gateway import GatewayProcess
from benchmarks._util import summary, table, write
from hothat.channels import InboundEvent, InboundKind

TARGET_S = 10.0
SMS_PER_INCIDENT = 5  # three levels, then "taken" to the two asked before


async def _run(gateway: GatewayProcess, incidents: int, timeout: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hothat-bench-") as folder:
        engine, phone = await _rig.engine(Path(folder), gateway.provider_table)
        async with asyncio.timeout(timeout), engine:
            started = time.perf_counter()
            ids = [
                i.id
                for i in await asyncio.gather(
                    *(engine.report(kind="threat", severity="serious", party="s") for _ in range(incidents))
                )
            ]
            await engine.idle()
            reported = time.perf_counter()
            await engine.advance(_rig.ACK_WITHIN)
            await engine.advance(_rig.ACK_WITHIN)
            escalated = time.perf_counter()
            # Whoever got the latest SMS answers it (the strategist, unless a delivery was lost on the way).
            answers = [
                InboundEvent(InboundKind.ACKNOWLEDGE, "sms", address=address, reply_code=code)
                for address, code in (phone.codes[i] for i in ids if i in phone.codes)
            ]
            await asyncio.gather(*(engine.handle_inbound(a) for a in answers))
            await engine.idle()
            elapsed = time.perf_counter() - started
            events = sum(row.version for row in await engine.store.incident_rows())  # type: ignore[attr-defined]
            statuses = [await engine.status(i) for i in ids[:: max(1, incidents // 50)]]
    acknowledged = all(s.step("3.1.1").assignees for s in statuses)
    return {
        "wall_s": elapsed,
        "report_s": reported - started,
        "escalate_s": escalated - reported,
        "acknowledge_s": elapsed - (escalated - started),
        "events": events,
        "acknowledged": float(acknowledged),
    }


def bench(gateway: GatewayProcess, incidents: int = 6000, runs: int = 5, timeout: float = 300.0) -> dict[str, Any]:
    """Run B2 and return its results (see the module docs)."""
    samples: list[dict[str, float]] = []
    for _ in range(runs):
        gateway.reset()
        sample = asyncio.run(_run(gateway, incidents, timeout))
        stats = gateway.stats()
        if not sample["acknowledged"]:
            raise RuntimeError("B2: sampled incidents were left without an assignee")
        sample["sms"] = stats["messages"]
        samples.append(sample)
    wall = summary([s["wall_s"] for s in samples])
    return {
        "incidents": incidents,
        "runs": runs,
        "sms_per_run": incidents * SMS_PER_INCIDENT,
        # Fewer than sms_per_run: deliveries queued longer than the engine's deliver_timeout were recorded as
        # possibly sent (never resent) instead of going out.
        "sms_received": summary([s["sms"] for s in samples]),
        "events_per_run": samples[0]["events"],
        "wall_s": wall,
        "events_per_s": summary([s["events"] / s["wall_s"] for s in samples]),
        "phases_s": {
            phase: summary([s[f"{phase}_s"] for s in samples]) for phase in ("report", "escalate", "acknowledge")
        },
        "target_s": TARGET_S * incidents / 6000,
        "target_met": wall["median"] < TARGET_S * incidents / 6000,
    }


def rows(results: dict[str, Any]) -> list[list[str]]:
    """Table rows for B2."""
    wall, rate, phases = results["wall_s"], results["events_per_s"], results["phases_s"]
    split = ", ".join(f"{p} {phases[p]['median']:.1f}" for p in ("report", "escalate", "acknowledge"))
    return [
        [
            f"B2 {results['incidents']:,} escalations: wall",
            f"{wall['median']:.2f} s",
            f"±{wall['spread']:.0%}",
            f"target <{results['target_s']:.3g} s: {'met' if results['target_met'] else 'MISSED'} ({split} s)",
        ],
        [
            "B2 events/s",
            f"{rate['median']:,.0f}",
            f"±{rate['spread']:.0%}",
            f"{results['events_per_run']:,.0f} events; SMS received {results['sms_received']['min']:,.0f}"
            f" to {results['sms_received']['max']:,.0f} of {results['sms_per_run']:,}",
        ],
    ]


def main(argv: list[str] | None = None) -> int:
    """Run B2 alone."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.escalation", description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=6000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args(argv)
    with GatewayProcess() as gateway:
        results = bench(gateway, options.incidents, options.runs)
    print(table(f"B2: median of {options.runs} runs", rows(results), ["benchmark", "median", "spread", "note"]))
    print(f"written to {write('b2_escalation', results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
