"""The plugin manager: builtins, entry points, blocking, broken plugins, and the typed relay."""

from __future__ import annotations

import importlib.metadata
import logging
import sys
import types
from collections.abc import Iterator
from typing import ClassVar

import pytest
from engine_kit import Rig, municipality, step

import hothat
from hothat import hookspecs
from hothat.channels import Channel, OutboundMessage, Receipt
from hothat.domain import Medium
from hothat.engine import Engine, VirtualClock
from hothat.errors import PluginError
from hothat.plugins import HothatPlugins, get_plugin_manager
from hothat.store import MemoryStore


class PagerChannel(Channel):
    """A third-party channel that only exists through an entry point."""

    name: ClassVar[str] = "pager.acme"
    medium: ClassVar[Medium] = Medium.SMS
    received: ClassVar[list[OutboundMessage]] = []

    async def deliver(self, message: OutboundMessage) -> Receipt:
        PagerChannel.received.append(message)
        return Receipt(channel=self.name, address=message.address)


def _fake_distribution(monkeypatch: pytest.MonkeyPatch, module: types.ModuleType, ep_name: str) -> None:
    monkeypatch.setitem(sys.modules, module.__name__, module)

    class Dist(importlib.metadata.Distribution):
        def read_text(self, filename: str) -> str | None:
            if filename == "METADATA":
                return "Metadata-Version: 2.1\nName: hothat-acme\nVersion: 1.0\n"
            if filename == "entry_points.txt":
                return f"[hothat]\n{ep_name} = {module.__name__}\n"
            return None

        def locate_file(self, path: object) -> object:
            return path

    monkeypatch.setattr(importlib.metadata, "distributions", lambda **kw: iter([Dist()]))


@pytest.fixture
def acme_plugin(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    module = types.ModuleType("hothat_acme")

    @hothat.hookimpl
    def hothat_register_channels() -> list[type[Channel]]:
        return [PagerChannel]

    module.hothat_register_channels = hothat_register_channels  # type: ignore[attr-defined]
    _fake_distribution(monkeypatch, module, "acme")
    PagerChannel.received.clear()
    return module


def test_builtin_channels_are_registered_through_the_plugin_path() -> None:
    plugins = HothatPlugins(get_plugin_manager(load_entrypoints=False))
    assert set(plugins.channels()) == {"log", "memory"}
    assert get_plugin_manager(load_entrypoints=False).has_plugin("hothat.builtins")


async def test_a_channel_installed_only_through_an_entry_point_receives_the_engines_messages(
    acme_plugin: types.ModuleType,
) -> None:
    muni = municipality(step("1", "municipal_ceo"))
    import attrs

    from hothat.domain import ChannelConfig

    muni = attrs.evolve(muni, channels=(ChannelConfig("pager", "pager.acme", Medium.SMS),))
    engine = Engine(muni, store=MemoryStore(), clock=VirtualClock(), token_secret=b"s" * 48)
    async with engine:
        incident = await engine.report(kind="threat", severity="serious", party="s")
        await engine.idle()
    assert [(m.person_id, m.reference) for m in PagerChannel.received] == [("jan", incident.reference)]


def test_disabled_plugins_are_not_loaded(acme_plugin: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTHAT_DISABLED_PLUGINS", "acme, other")
    assert "pager.acme" not in HothatPlugins(get_plugin_manager()).channels()
    monkeypatch.delenv("HOTHAT_DISABLED_PLUGINS")
    assert "pager.acme" in HothatPlugins(get_plugin_manager()).channels()


def test_a_plugin_that_fails_to_import_is_a_warning_not_a_crash(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    module = types.ModuleType("hothat_broken")
    _fake_distribution(monkeypatch, module, "broken")
    monkeypatch.delitem(sys.modules, "hothat_broken")  # the import fails
    with caplog.at_level(logging.WARNING, logger="hothat.plugins"):
        pm = get_plugin_manager()
    assert not pm.has_plugin("broken")
    assert "could not be loaded" in caplog.text
    assert "broken" in caplog.text


def test_misspelled_hook_fails_fast() -> None:
    plugin = types.SimpleNamespace()

    @hothat.hookimpl
    def hothat_register_channel() -> list[object]:  # missing the final "s"
        return []

    plugin.hothat_register_channel = hothat_register_channel
    with pytest.raises(PluginError, match="does not exist"):
        get_plugin_manager(load_entrypoints=False, plugins=[plugin])


def test_async_decision_hooks_are_refused() -> None:
    class Bad:
        @hothat.hookimpl
        async def hothat_resolve_role(self, role: object) -> None:
            return None

    with pytest.raises(PluginError, match="must not be 'async def'"):
        get_plugin_manager(load_entrypoints=False, plugins=[Bad()])


def test_duplicate_channel_names_are_refused() -> None:
    class Twin:
        @hothat.hookimpl
        def hothat_register_channels(self) -> list[type[Channel]]:
            class Log(Channel):
                name: ClassVar[str] = "log"
                medium: ClassVar[Medium] = Medium.SMS

                async def deliver(self, message: OutboundMessage) -> Receipt:
                    raise NotImplementedError

            return [Log]

    plugins = HothatPlugins(get_plugin_manager(load_entrypoints=False, plugins=[Twin()]))
    with pytest.raises(PluginError, match="provided by both"):
        plugins.channels()


async def test_a_resolver_plugin_overrides_the_directory_and_a_failing_one_falls_back() -> None:
    from hothat.domain import Resolution

    class Ldap:
        @hothat.hookimpl
        def hothat_resolve_role(self, role, incident, directory):  # type: ignore[no-untyped-def]
            if role.id == "municipal_ceo":
                return Resolution(role.id, (role.id,), (directory.people["sara"],))
            return None

    rig = Rig(municipality(step("1", "municipal_ceo")))
    rig.engine.plugins = HothatPlugins(get_plugin_manager(load_entrypoints=False, plugins=[Ldap()]))
    async with rig.engine:
        await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.idle()
    assert [m.person_id for m in rig.sent] == ["sara"]

    class Broken:
        @hothat.hookimpl
        def hothat_resolve_role(self, role):  # type: ignore[no-untyped-def]
            raise RuntimeError("LDAP is down")

    rig = Rig(municipality(step("1", "municipal_ceo")))
    rig.engine.plugins = HothatPlugins(get_plugin_manager(load_entrypoints=False, plugins=[Broken()]))
    async with rig.engine:
        await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.idle()
    assert [m.person_id for m in rig.sent] == ["jan"]


async def test_observers_see_every_event_and_a_failing_observer_never_blocks() -> None:
    seen: list[str] = []

    class CaseSystem:
        @hothat.hookimpl
        def hothat_incident_event(self, event, incident):  # type: ignore[no-untyped-def]
            async def forward() -> None:
                seen.append(f"{incident.reference}:{type(event).__name__}")

            return forward()

    class Broken:
        @hothat.hookimpl
        def hothat_incident_event(self, event):  # type: ignore[no-untyped-def]
            raise RuntimeError("diarium offline")

    rig = Rig(municipality(step("1", "municipal_ceo")))
    rig.engine.plugins = HothatPlugins(get_plugin_manager(load_entrypoints=False, plugins=[CaseSystem(), Broken()]))
    rig.engine._observers = True
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.idle()
        trail = await rig.engine.trail(incident.id)
    assert seen == [f"{incident.reference}:{type(e).__name__}" for e in trail]
    assert [m.person_id for m in rig.sent] == ["jan"]


def test_every_hook_is_documented() -> None:
    hooks = [name for name in dir(hookspecs) if name.startswith("hothat_")]
    assert len(hooks) == 5
    for name in hooks:
        doc = getattr(hookspecs, name).__doc__ or ""
        assert len(doc) > 200, name
        assert ("Stops at first non-None result" in doc) or ("Broadcast" in doc), name


async def test_observers_get_each_events_position_in_the_trail() -> None:
    seen: list[tuple[str, int]] = []

    class Diarium:
        @hothat.hookimpl
        def hothat_incident_event(self, event, incident, version):  # type: ignore[no-untyped-def]
            seen.append((type(event).__name__, version))

    rig = Rig(municipality(step("1", "municipal_ceo")))
    rig.engine.plugins = HothatPlugins(get_plugin_manager(load_entrypoints=False, plugins=[Diarium()]))
    rig.engine._observers = True
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.idle()
        trail = await rig.engine.trail(incident.id)
    assert seen == [(type(e).__name__, n) for n, e in enumerate(trail, start=1)]


async def test_stop_returns_even_when_a_wake_up_arrives_as_the_scheduler_is_cancelled() -> None:
    import asyncio

    from hothat.engine import SystemClock

    rig = Rig(municipality(step("1", "municipal_ceo")))
    rig.engine.clock = SystemClock()
    await rig.engine.start()
    assert rig.engine.running
    await asyncio.sleep(0)  # the scheduler is now waiting for its next wake-up
    rig.engine._wake.set()  # a commit wakes it in the same turn as stop() cancels it
    await asyncio.wait_for(rig.engine.stop(), timeout=5)
    assert not rig.engine.running
