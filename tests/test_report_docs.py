"""The outputs shown in docs/operations/report.md are what ``hothat report`` prints for a fixed Oxelösund story.

Each output in the page follows a marker line ``<!-- report-output NAME -->``; this test runs the command again on
the same story and compares. After a deliberate change, rewrite the page's outputs with::

    .venv/bin/python tests/test_report_docs.py
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import shlex
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hothat.channels import InboundEvent, InboundKind, MemoryChannel
from hothat.cli import main
from hothat.config import load_config
from hothat.engine import Engine, VirtualClock
from hothat.plugins import HothatPlugins, get_plugin_manager
from hothat.store.sqlite import SqliteStore

PAGE = Path(__file__).parents[1] / "docs" / "operations" / "report.md"
T0 = datetime(2026, 3, 2, 13, 40, tzinfo=UTC)  # a Monday, 14.40 in Oxelösund
OUTPUT = re.compile(r"<!-- report-output (?P<name>\S+) -->\n```(?P<lang>\w*)\n(?P<body>.*?)```", re.DOTALL)

COMMANDS = {
    "list": "hothat report --config municipality.toml --all",
    "trail": "hothat report --config municipality.toml OX-2026-0002",
    "trail-ids": "hothat report --store hothat.db OX-2023-0001 --lang en",
    "stats": "hothat report --config municipality.toml --stats",
    "stats-json": "hothat report --config municipality.toml --stats --format json",
    "purge": "hothat purge --config municipality.toml",
}


async def story(folder: Path) -> None:
    """Three incidents in Oxelösund; the second is the one the page follows step by step."""
    config = Path(__file__).parents[1] / "src" / "hothat" / "data" / "oxelosund.toml"
    (folder / "municipality.toml").write_text(config.read_text(encoding="utf-8"), encoding="utf-8")
    muni = load_config(folder / "municipality.toml")
    clock = VirtualClock(T0 - timedelta(days=800))
    channel = MemoryChannel()
    engine = Engine(
        muni,
        store=SqliteStore(folder / "hothat.db"),
        clock=clock,
        plugins=HothatPlugins(get_plugin_manager(load_entrypoints=False)),
        channels={"sms": channel, "voice": channel, "email": channel},
        token_secret=b"d" * 48,
    )

    async def at(minutes: float) -> None:
        await engine.advance(T0 + timedelta(minutes=minutes) - clock.now())

    def reply(person: str, step: str) -> InboundEvent:
        sms = [m for m in channel.sent if m.person_id == person and m.step_id == step and m.reply_code]
        return InboundEvent(InboundKind.ACKNOWLEDGE, "sms", sms[-1].address, reply_code=sms[-1].reply_code)

    async with engine:
        # Two years ago: a threat, taken after 6 minutes, closed 9 minutes later (past the 730-day retention now).
        old = await engine.report(kind="threat", severity="threat", party="m", description="Hotfullt mejl")
        await engine.advance(timedelta(minutes=6))
        await engine.handle_inbound(reply("ali", "3.1.1"))
        await engine.advance(timedelta(minutes=9))
        await engine.close(old.id, by="ali", reason="Polisen utreder")
        # Today: Lena (protected identity) is threatened, and reports it herself.
        await at(0)
        today = await engine.report(
            kind="threat",
            severity="serious",
            party="s",
            targeted="lena",
            reported_by="lena",
            description="Hotfullt brev i brevlådan hemma",
        )
        await at(4)
        await engine.handle_inbound(reply("per", "3.2.1"))  # Per takes the support step at once
        await at(20)  # nobody took the assessment in 15 minutes: Anna, the group leader, is asked
        await engine.handle_inbound(reply("anna", "3.1.1"))
        await engine.record_fact(today.id, "strategist_needed", True, by="anna")
        await at(35)
        await engine.complete(today.id, step="3.1.1", person="anna", note="Polisen bör kontaktas")
        await at(38)
        await engine.handle_inbound(reply("karin", "3.1.2"))
        await engine.complete(
            today.id, step="3.2.1", person="per", checked=("initial_support", "support_person"), note="Sambo hemma"
        )
        await engine.record_fact(today.id, "needs_healthcare", False, by="per")
        # Meanwhile another threat came in, still waiting for an answer.
        await at(39)
        await engine.report(kind="harassment", severity="acute", party="c", description="Trakasserier på möte")
        await at(40)
        await engine.idle()


def outputs(folder: Path) -> dict[str, str]:
    """Each command's output, run in ``folder`` as a user would."""
    out = {}
    for name, command in COMMANDS.items():
        argv = shlex.split(command)[1:]
        argv = [str(folder / a) if a in ("municipality.toml", "hothat.db") else a for a in argv]
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            assert main(argv) == 0, command
        out[name] = buffer.getvalue()
    return out


def page_blocks(text: str) -> dict[str, str]:
    return {m["name"]: m["body"] for m in OUTPUT.finditer(text)}


def render(folder: Path) -> str:
    """The page with every output block replaced by the command's current output."""
    fresh = outputs(folder)

    def replace(match: re.Match[str]) -> str:
        return f"<!-- report-output {match['name']} -->\n```{match['lang']}\n{fresh[match['name']]}```"

    return OUTPUT.sub(replace, PAGE.read_text(encoding="utf-8"))


def _freeze_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """``hothat purge`` judges retention against the real clock: pin it to the story's day."""
    import hothat._cli_store as cli_store

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: object = None) -> Frozen:
            return cls.fromtimestamp((T0 + timedelta(hours=1)).timestamp(), UTC)

    monkeypatch.setattr(cli_store, "datetime", Frozen)


def test_the_page_shows_what_the_commands_print(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asyncio.run(story(tmp_path))
    _freeze_now(monkeypatch)
    shown = page_blocks(PAGE.read_text(encoding="utf-8"))
    assert set(shown) == set(COMMANDS), "every command's output is on the page, once"
    assert shown == outputs(tmp_path), "docs/operations/report.md is stale: run python tests/test_report_docs.py"


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        asyncio.run(story(Path(folder)))
        _freeze_now(patch)
        PAGE.write_text(render(Path(folder)), encoding="utf-8")
    sys.exit(0)
