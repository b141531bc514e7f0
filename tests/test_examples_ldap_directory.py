"""examples/ldap_directory: a ``hothat_resolve_role`` plugin that asks the intranet's directory, run through the
engine on the Oxelösund routine."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hothat.plugins import HothatPlugins, get_plugin_manager
from hothat.testing import Simulation

ROOT = Path(__file__).resolve().parents[1]
OXELOSUND = ROOT / "examples" / "oxelosund" / "municipality.toml"


def load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


ex = load("intranet_directory", ROOT / "examples" / "ldap_directory" / "intranet_directory.py")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ldap() -> Any:
    return ex.FakeLdap(ex.example_tree())


@pytest.fixture
def clock() -> Clock:
    return Clock()


# --8<-- [start:register]
def simulation(ldap: Any, clock: Clock) -> Simulation:
    resolver = ex.DirectoryResolver(ex.CachedGroups(ldap, ttl=300, clock=clock), ex.ROLE_GROUPS, base=ex.BASE)
    plugins = HothatPlugins(get_plugin_manager(load_entrypoints=False, plugins=[resolver]))
    return Simulation(OXELOSUND, plugins=plugins)  # or Engine.from_config("municipality.toml", plugins=plugins)


# --8<-- [end:register]


async def test_the_directory_not_the_file_says_who_is_asked(ldap: Any, clock: Clock) -> None:
    async with simulation(ldap, clock) as sim:
        sim.person("anna").answers_after("2m", via="sms").completes_after("5m")
        await sim.report(kind="threat", severity="serious", party="s", facts={"strategist_needed": True})
        await sim.advance("20m")

        assert [m.person_id for m in sim.messages(step="3.1.1", kind="notify")][:1] == ["anna"]
        sim.assert_not_contacted(person="per")  # the file says Per; the directory says Anna
        sim.assert_acknowledged("3.1.1", by_person="anna", within="5m")
        # The strategists' group holds only Lars while Karin is on leave.
        assert {m.person_id for m in sim.messages(step="3.1.2", kind="notify")} == {"lars"}


async def test_an_empty_group_falls_back_like_the_file_does(ldap: Any, clock: Clock) -> None:
    async with simulation(ldap, clock) as sim:
        await sim.report(kind="harassment", severity="threat", party="c")
        trail = await sim.trail()
        resolved = next(e for e in trail if type(e).__name__ == "TargetsResolved" and e.step == "3.1.1")
        assert resolved.via == ("party_security_contact", "party_group_leader")
        assert resolved.people == ("olle",)


async def test_groups_are_read_once_per_ttl_and_changes_show_after_it(ldap: Any, clock: Clock) -> None:
    async with simulation(ldap, clock) as sim:
        for _ in range(5):
            await sim.report(kind="threat", severity="serious", party="m")
        queries = ldap.queries
        await sim.report(kind="threat", severity="serious", party="m")
        assert ldap.queries == queries  # all from the cache
        assert {m.person_id for m in sim.messages(step="3.1.1")} == {"ali"}

        ldap.set_members(f"cn=sakerhetsansvarig,ou=m,ou=partier,{ex.BASE}", [f"uid=maria,ou=people,{ex.BASE}"])
        await sim.report(kind="threat", severity="serious", party="m")
        assert sim.messages(step="3.1.1")[-1].person_id == "ali"  # still cached
        clock.now += 301
        await sim.report(kind="threat", severity="serious", party="m")
        assert sim.messages(step="3.1.1")[-1].person_id == "maria"


async def test_a_directory_outage_uses_the_last_good_answer_then_the_file(
    ldap: Any, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    async with simulation(ldap, clock) as sim:
        await sim.report(kind="threat", severity="serious", party="s")
        ldap.down = True
        clock.now += 301
        await sim.report(kind="threat", severity="serious", party="s")
        assert [m.person_id for m in sim.messages(step="3.1.1")] == ["anna", "anna"]
        assert "directory unavailable" in caplog.text

    async with simulation(ldap, clock) as sim:  # a fresh cache and the server down: the file answers
        await sim.report(kind="threat", severity="serious", party="s")
        assert [m.person_id for m in sim.messages(step="3.1.1")] == ["per"]
        assert "using the configuration" in caplog.text


async def test_roles_the_directory_does_not_map_are_left_to_the_file(ldap: Any, clock: Clock) -> None:
    async with simulation(ldap, clock) as sim:
        sim.everyone().answers_after("1m").completes_after("1m")
        await sim.report(
            kind="threat", severity="serious", party="s", targeted="lena", facts={"needs_healthcare": False}
        )
        await sim.engine.assign_role(sim.incident.id, "support_person", "anna")
        await sim.advance("1h")
        sim.assert_completed("3.2.1")
        sim.assert_protected_not_named()
