"""A store seeded for the report and purge tests: Oxelösund incidents spread over two and a half years.

The descriptions, notes and reasons carry strings a privacy test can look for; so do the people of the Oxelösund
example (names, phone numbers, e-mail addresses). Times are relative to the real clock, because ``hothat report``
and ``hothat purge`` judge "recent" and "past the retention" against it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import attrs

from hothat.channels import InboundEvent, InboundKind, MemoryChannel
from hothat.config import load_example
from hothat.engine import Engine, VirtualClock
from hothat.plugins import HothatPlugins, get_plugin_manager
from hothat.store.sqlite import SqliteStore

SECRETS = ("Sven Svensson", "Storgatan 4", "070-999 12 34", "hemlig@example.org", "Anteckning om Lenas barn")
"""Text put into descriptions, notes and reasons: no statistic may ever show any of it."""


@attrs.frozen
class Seeded:
    """What :func:`seed` wrote: the reference numbers by name, and when each incident was reported."""

    path: Path
    refs: dict[str, str]
    reported: dict[str, datetime]


def write_config(folder: Path, *, drop: str = "") -> Path:
    """The Oxelösund example as ``folder/municipality.toml`` (its store: ``folder/hothat.db``), without the lines
    starting with ``drop``."""
    text = resources.files("hothat").joinpath("data", "oxelosund.toml").read_text(encoding="utf-8")
    if drop:
        text = "\n".join(line for line in text.splitlines() if not line.startswith(drop))
    config = folder / "municipality.toml"
    config.write_text(text, encoding="utf-8")
    return config


async def _seed(path: Path, now: datetime) -> Seeded:
    muni = load_example("oxelosund")
    clock = VirtualClock(now - timedelta(days=900))
    channel = MemoryChannel()
    engine = Engine(
        muni,
        store=SqliteStore(path),
        clock=clock,
        plugins=HothatPlugins(get_plugin_manager(load_entrypoints=False)),
        channels={"sms": channel, "voice": channel, "email": channel},
        token_secret=b"r" * 48,
    )
    refs: dict[str, str] = {}
    reported: dict[str, datetime] = {}

    async def at(when: datetime) -> None:
        await engine.advance(when - clock.now())

    async with engine:
        # Reported 900 days ago and never answered, never closed: open for ever, never purged.
        forgotten = await engine.report(kind="threat", severity="threat", party="c", description=SECRETS[1])
        refs["forgotten"], reported["forgotten"] = forgotten.reference, clock.now()
        await at(now - timedelta(days=800))
        old = await engine.report(
            kind="threat",
            severity="serious",
            party="s",
            targeted="lena",
            reported_by="lena",  # protected identity: a report shows her by that word only
            description=f"Hotbrev till Lena från {SECRETS[0]}, {SECRETS[1]}, ring {SECRETS[2]} eller {SECRETS[3]}",
        )
        refs["old"], reported["old"] = old.reference, clock.now()
        await at(clock.now() + timedelta(minutes=7))
        await engine.acknowledge(old.id, step="3.1.1", person="per", via="sms")
        await engine.complete(old.id, step="3.1.1", person="per", note=SECRETS[4])
        await at(clock.now() + timedelta(hours=1))
        await engine.close(old.id, by="karin", reason=SECRETS[0])  # closed 800 days ago: past 730 days
        await at(now - timedelta(days=100))
        hate = await engine.report(kind="hate", severity="threat", party="m", description="Näthat på sociala medier")
        refs["hate"], reported["hate"] = hate.reference, clock.now()
        await at(clock.now() + timedelta(minutes=3))
        await engine.acknowledge(hate.id, step="3.1.1", person="ali", via="sms")
        await engine.close(hate.id, by="ali")  # closed 100 days ago: kept, and not "recent"
        await at(now - timedelta(days=2))
        recent = await engine.report(kind="violence", severity="acute", party="c", description=SECRETS[1])
        refs["recent"], reported["recent"] = recent.reference, clock.now()
        await at(clock.now() + timedelta(minutes=2))
        await engine.acknowledge(recent.id, step="3.1.1", person="olle", via="voice")
        await engine.close(recent.id, by="olle")  # closed 2 days ago: recent
        await at(now - timedelta(hours=1))
        fresh = await engine.report(kind="harassment", severity="acute", party="s", targeted="lena")
        refs["fresh"], reported["fresh"] = fresh.reference, clock.now()
        await at(clock.now() + timedelta(minutes=4))
        await engine.acknowledge(fresh.id, step="3.2.1", person="per", via="sms")
        # A number sent STOP: the "_contacts" pseudo-trail, which is neither reported nor purged.
        await engine.handle_inbound(InboundEvent(InboundKind.STOP, "sms", "+46701740620"))
        await engine.idle()
    return Seeded(path, refs, reported)


def seed(path: Path, now: datetime | None = None) -> Seeded:
    """Write the incidents into a new store at ``path``."""
    return asyncio.run(_seed(path, now or datetime.now(UTC)))
