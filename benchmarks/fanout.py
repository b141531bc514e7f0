"""B1, fan-out: 1,000 SMS to a loopback 46elks gateway, hothat's SMS channel against Apprise, side by side.

Both send the same text to the same 1,000 numbers at the same gateway (the SMS package's ``FakeGateway``, in a
process of its own so that its CPU is not counted), with the same form fields: ``from``, ``to``, ``message``.

- hothat: one ``SmsChannel`` (46elks provider), ``deliver`` called concurrently for every message, as the
  engine drives it (one task per queued message).
- Apprise: one ``Apprise`` object holding one ``form://`` URL per number, ``notify()`` once; Apprise sends
  through its thread pool. The URL maps the payload to the 46elks fields: ``:message`` is Apprise's body,
  ``:from=``/``:to=`` are extra fields, and ``:version=``, ``:title=``, ``:type=`` (empty) leave Apprise's own
  fields out. Basic auth comes from ``user:password@``.

Runs alternate (hothat, Apprise, hothat, ...) so the machine's noise falls on both; the ratios are of medians.

    python -m benchmarks.fanout [--messages 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from typing import Any
from urllib.parse import quote

from benchmarks._gateway import GatewayProcess
from benchmarks._util import summary, table, write
from hothat.channels import Disclosure, MessageKind, OutboundMessage
from hothat.domain import Medium
from hothat_sms import SmsChannel, SmsSettings

TEXT = (
    "Oxelösunds kommun OX-2026-0042: allvarligt hot mot förtroendevald. Steg 3.1.1: kontakta den utsatte. "
    "Svara 12 om du tar det, 12n om du inte kan."
)
TIMEOUT = 20.0


def numbers(count: int) -> list[str]:
    """``count`` distinct Swedish mobile numbers (070-174 xx xx)."""
    return [f"+4670174{n:04d}" for n in range(count)]


def _message(n: int, address: str) -> OutboundMessage:
    return OutboundMessage(
        key=f"bench:{n}",
        incident_id="bench",
        reference="OX-2026-0042",
        municipality="Oxelösunds kommun",
        step_id="3.1.1",
        kind=MessageKind.NOTIFY,
        person_id=f"p{n}",
        medium=Medium.SMS,
        address=address,
        locale="sv",
        disclosure=Disclosure.MINIMAL,
        subject="OX-2026-0042",
        text=TEXT,
        reply_code="12",
    )


async def _hothat(table_: dict[str, Any], addresses: list[str]) -> tuple[float, float, int]:
    messages = [_message(n, a) for n, a in enumerate(addresses)]
    async with SmsChannel(SmsSettings(providers=[table_])) as channel:
        cpu, wall = time.process_time(), time.perf_counter()
        results = await asyncio.wait_for(
            asyncio.gather(*(channel.deliver(m) for m in messages), return_exceptions=True), TIMEOUT
        )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, sum(1 for r in results if not isinstance(r, BaseException))


def run_hothat(table_: dict[str, Any], addresses: list[str]) -> tuple[float, float, int]:
    """One hothat run: (wall seconds, CPU seconds of this process, messages accepted)."""
    return asyncio.run(_hothat(table_, addresses))


def apprise_urls(table_: dict[str, Any], addresses: list[str]) -> list[str]:
    """One ``form://`` URL per number, posting the 46elks fields to the gateway's ``/a1/sms``."""
    host = table_["base_url"].split("://", 1)[1].split("/", 1)[0]
    user, password = quote(table_["username"], safe=""), quote(table_["password"], safe="")
    sender = quote(table_["sender"], safe="")
    return [
        f"form://{user}:{password}@{host}/a1/sms?method=POST&:version=&:title=&:type="
        f"&:from={sender}&:to={quote(a, safe='')}"
        for a in addresses
    ]


def run_apprise(table_: dict[str, Any], addresses: list[str]) -> tuple[float, float, int]:
    """One Apprise run: (wall seconds, CPU seconds of this process, messages accepted by the gateway)."""
    import apprise

    bench = apprise.Apprise()
    for url in apprise_urls(table_, addresses):
        if not bench.add(url):
            raise ValueError(f"Apprise refused the URL {url.split('@', 1)[-1]}")
    cpu, wall = time.process_time(), time.perf_counter()
    bench.notify(body=TEXT)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, -1  # Apprise's result is one bool: the gateway counts what arrived


def apprise_available() -> bool:
    """Whether Apprise is installed (``uv pip install --group bench``)."""
    try:
        import apprise  # noqa: F401
    except ImportError:
        return False
    return True


def bench(gateway: GatewayProcess, messages: int = 1000, runs: int = 5) -> dict[str, Any]:
    """Run B1 and return its results (see the module docs)."""
    addresses = numbers(messages)
    senders: dict[str, Any] = {"hothat": run_hothat}
    if apprise_available():
        logging.getLogger("apprise").setLevel(logging.ERROR)
        senders["apprise"] = run_apprise
    samples: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": [], "gw_cpu": []} for name in senders}
    fields: dict[str, dict[str, str]] = {}
    for _ in range(runs):
        for name, run in senders.items():
            gateway.reset()
            wall, cpu, _accepted = run(gateway.provider_table, addresses)
            stats = gateway.stats()
            if stats["messages"] != messages:
                raise RuntimeError(f"B1 {name}: the gateway got {stats['messages']} of {messages} messages")
            samples[name]["wall"].append(wall)
            samples[name]["cpu"].append(cpu / messages)
            samples[name]["gw_cpu"].append(stats["cpu"] / messages)
            fields[name] = stats["fields"][0]
    results: dict[str, Any] = {"messages": messages, "runs": runs}
    for name, s in samples.items():
        results[name] = {
            "wall_s": summary(s["wall"]),
            "cpu_per_message_ms": summary([c * 1e3 for c in s["cpu"]]),
            "gateway_cpu_per_message_ms": summary([c * 1e3 for c in s["gw_cpu"]]),
            "messages_per_s": messages / summary(s["wall"])["median"],
            "fields": sorted(k for k in fields[name] if k in ("from", "to", "message")),
        }
    if "apprise" in results:
        h, a = results["hothat"], results["apprise"]
        hothat, apprise = samples["hothat"], samples["apprise"]
        wall_ratio = a["wall_s"]["median"] / h["wall_s"]["median"]
        cpu_ratio = h["cpu_per_message_ms"]["median"] / a["cpu_per_message_ms"]["median"]
        results["ratios"] = {
            "wall_apprise_over_hothat": wall_ratio,
            "cpu_hothat_over_apprise": cpu_ratio,
            # Ratios of each paired run (hothat and Apprise measured back to back): their spread shows noise.
            "wall_paired": summary([a / h for a, h in zip(apprise["wall"], hothat["wall"], strict=True)]),
            "cpu_paired": summary([h / a for h, a in zip(hothat["cpu"], apprise["cpu"], strict=True)]),
        }
        results["targets"] = {"wall_5x_faster": wall_ratio >= 5.0, "cpu_at_most_half": cpu_ratio <= 0.5}
    else:
        results["apprise"] = None
    return results


def rows(results: dict[str, Any]) -> list[list[str]]:
    """Table rows for B1."""
    out = []
    for name in ("hothat", "apprise"):
        r = results.get(name)
        if r is None:
            out.append([f"B1 fan-out {name}", "not installed (uv pip install --group bench)", "", ""])
            continue
        out.append(
            [
                f"B1 fan-out {name}: wall",
                f"{r['wall_s']['median'] * 1e3:,.0f} ms ({r['messages_per_s']:,.0f} SMS/s)",
                f"±{r['wall_s']['spread']:.0%}",
                "",
            ]
        )
        out.append(
            [
                f"B1 fan-out {name}: CPU/message",
                f"{r['cpu_per_message_ms']['median']:.3f} ms",
                f"±{r['cpu_per_message_ms']['spread']:.0%}",
                f"gateway {r['gateway_cpu_per_message_ms']['median']:.3f} ms (not counted)",
            ]
        )
    ratios = results.get("ratios")
    if ratios:
        t = results["targets"]
        out.append(
            [
                "B1 Apprise wall / hothat wall",
                f"{ratios['wall_apprise_over_hothat']:.1f}x",
                f"paired {ratios['wall_paired']['min']:.1f}-{ratios['wall_paired']['max']:.1f}x",
                f"target ≥5x: {'met' if t['wall_5x_faster'] else 'MISSED'}",
            ]
        )
        out.append(
            [
                "B1 hothat CPU / Apprise CPU",
                f"{ratios['cpu_hothat_over_apprise']:.2f}",
                f"paired {ratios['cpu_paired']['min']:.2f}-{ratios['cpu_paired']['max']:.2f}",
                f"target ≤0.5: {'met' if t['cpu_at_most_half'] else 'MISSED'}",
            ]
        )
    return out


HEADER = ["benchmark", "median", "spread", "note"]


def main(argv: list[str] | None = None) -> int:
    """Run B1 alone."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fanout", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args(argv)
    with GatewayProcess() as gateway:
        results = bench(gateway, options.messages, options.runs)
    print(table(f"B1: {options.messages} SMS, median of {options.runs} runs", rows(results), HEADER))
    print(f"written to {write('b1_fanout', results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
