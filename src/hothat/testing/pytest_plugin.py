"""The hothat pytest plugin (entry point ``pytest11``): fixtures for plugin authors and test harnesses.

Installed with hothat, it is active in every pytest run; nothing to import. A municipality's harness says which
configuration to simulate, in ``pyproject.toml``::

    [tool.pytest.ini_options]
    hothat_config = "municipality.toml"      # relative to the ini file

or by overriding the ``hothat_config`` fixture in ``conftest.py``. Then::

    def test_group_leader_takes_over(hothat_sim):
        hothat_sim.person("per").never_answers()
        hothat_sim.person("anna").answers_after("12m", via="sms")
        hothat_sim.report(kind="threat", severity="serious", party="s")
        hothat_sim.advance("1h")
        hothat_sim.assert_acknowledged("3.1.1", by_role="party_group_leader", within="30m")

In a plain (``def``) test ``hothat_sim`` is a :class:`~hothat.testing.SyncSimulation`; in an ``async def`` test
it is a :class:`~hothat.testing.Simulation` (``await hothat_sim.report(...)``). A failing ``assert_*`` says what
was expected, what happened instead, and prints the timeline so far.

Fixtures: ``hothat_config``, ``hothat_sim``, ``hothat_sim_factory``, ``virtual_clock``, ``recording_channel``,
``plugin_manager``.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pluggy
import pytest

from hothat.channels import MemoryChannel
from hothat.domain import Municipality
from hothat.engine.clock import VirtualClock
from hothat.plugins import get_plugin_manager
from hothat.testing.simulation import Simulation, SyncSimulation

__all__ = ["SimulationFactory"]

SimulationFactory = Callable[..., Simulation | SyncSimulation]
"""``hothat_sim_factory(config=None, *, start=None, lang=None)``: a new simulation."""

_LOADED: dict[str, Municipality] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``hothat_config`` ini option."""
    parser.addini(
        "hothat_config",
        help="the municipality file (TOML) that the hothat_sim fixture simulates, relative to the ini file",
        default="",
    )


def _load(config: str | os.PathLike[str] | Municipality) -> Municipality:
    if isinstance(config, Municipality):
        return config
    from hothat.config import load_config

    key = os.fspath(config)
    if key not in _LOADED:
        _LOADED[key] = load_config(key)  # loaded once per run: each simulation gets the same frozen domain
    return _LOADED[key]


@pytest.fixture
def hothat_config(request: pytest.FixtureRequest) -> str | os.PathLike[str] | Municipality:
    """The configuration ``hothat_sim`` simulates: the ``hothat_config`` ini option, resolved against the ini
    file's folder. Override this fixture (returning a path or a ``Municipality``) to choose in code."""
    value = str(request.config.getini("hothat_config") or "")
    if not value:
        pytest.fail(
            'hothat_sim needs a configuration: set hothat_config = "municipality.toml" under '
            "[tool.pytest.ini_options], or define a hothat_config fixture in conftest.py",
            pytrace=False,
        )
    path = Path(value)
    if not path.is_absolute():
        base = request.config.inipath.parent if request.config.inipath else request.config.rootpath
        path = base / path
    return path


@pytest.fixture
def hothat_sim_factory(
    request: pytest.FixtureRequest, hothat_config: str | os.PathLike[str] | Municipality
) -> Iterator[SimulationFactory]:
    """A factory of simulations: ``hothat_sim_factory(config=None, *, start=None, lang=None)``.

    It makes :class:`~hothat.testing.Simulation` objects for ``async def`` tests and
    :class:`~hothat.testing.SyncSimulation` objects otherwise; the synchronous ones are closed after the test.
    """
    asynchronous = inspect.iscoroutinefunction(getattr(request, "function", None))
    made: list[SyncSimulation] = []

    def make(
        config: str | os.PathLike[str] | Municipality | None = None,
        *,
        start: datetime | str | None = None,
        lang: str | None = None,
        **kwargs: Any,
    ) -> Simulation | SyncSimulation:
        municipality = _load(config if config is not None else hothat_config)
        if asynchronous:
            return Simulation(municipality, start=start, lang=lang, **kwargs)
        sim = SyncSimulation(municipality, start=start, lang=lang, **kwargs)
        made.append(sim)
        return sim

    yield make
    for sim in made:
        sim.close()


@pytest.fixture
def hothat_sim(hothat_sim_factory: SimulationFactory) -> Simulation | SyncSimulation:
    """A simulation of ``hothat_config``, starting at :data:`hothat.testing.DEFAULT_START`."""
    return hothat_sim_factory()


@pytest.fixture
def virtual_clock() -> VirtualClock:
    """A :class:`~hothat.engine.VirtualClock` starting at 2026-01-01 00:00 UTC."""
    return VirtualClock()


@pytest.fixture
def recording_channel() -> MemoryChannel:
    """A channel that keeps every delivered message in ``.sent`` (``fail_with[address]`` scripts failures)."""
    return MemoryChannel()


@pytest.fixture
def plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager with the builtins only (no entry points)."""
    return get_plugin_manager(load_entrypoints=False)
