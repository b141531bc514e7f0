"""The "write your own channel" example works as the docs say."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import attrs
from engine_kit import municipality, step

from hothat import ChannelConfig, Engine, Medium, MemoryStore, VirtualClock
from hothat.plugins import HothatPlugins, get_plugin_manager

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "custom_channel" / "hothat_pager.py"


def load_example() -> object:
    spec = importlib.util.spec_from_file_location("hothat_pager", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["hothat_pager"] = module
    spec.loader.exec_module(module)
    return module


async def test_pager_channel_receives_the_engines_messages(tmp_path: Path) -> None:
    pager = load_example()
    spool = tmp_path / "outgoing.jsonl"
    muni = attrs.evolve(
        municipality(step("3.1.1", "municipal_ceo")),
        channels=(ChannelConfig("pager", "pager.spool", Medium.SMS, {"spool": str(spool)}),),
    )
    plugins = HothatPlugins(get_plugin_manager(load_entrypoints=False, plugins=[pager]))
    engine = Engine(muni, store=MemoryStore(), clock=VirtualClock(), plugins=plugins, token_secret=b"p" * 48)
    async with engine:
        incident = await engine.report(kind="threat", severity="serious", party="s")
        await engine.idle()
    lines = [json.loads(line) for line in spool.read_text(encoding="utf-8").splitlines()]
    assert [(line["to"], line["key"].split(":")[0]) for line in lines] == [("+46701740630", incident.id)]
    assert incident.reference in lines[0]["text"]


async def test_a_bad_setting_is_a_clear_configuration_error(tmp_path: Path) -> None:
    import pytest

    from hothat import ConfigurationError

    pager = load_example()
    muni = attrs.evolve(
        municipality(step("3.1.1", "municipal_ceo")),
        channels=(ChannelConfig("pager", "pager.spool", Medium.SMS, {"spol": "x"}),),
    )
    plugins = HothatPlugins(get_plugin_manager(load_entrypoints=False, plugins=[pager]))
    engine = Engine(muni, store=MemoryStore(), clock=VirtualClock(), plugins=plugins, token_secret=b"p" * 48)
    with pytest.raises(ConfigurationError) as info:
        await engine.start()
    assert {p.path for p in info.value.problems} == {"channels.pager.spool", "channels.pager.spol"}
