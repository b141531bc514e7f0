"""The hothat pytest plugin (entry point ``pytest11``): fixtures for plugin authors and test harnesses."""

from __future__ import annotations

from collections.abc import Iterator

import pluggy
import pytest

from hothat.channels import MemoryChannel
from hothat.engine.clock import VirtualClock
from hothat.plugins import get_plugin_manager


@pytest.fixture
def virtual_clock() -> VirtualClock:
    """A :class:`~hothat.engine.VirtualClock` starting at 2026-01-01 00:00 UTC."""
    return VirtualClock()


@pytest.fixture
def recording_channel() -> MemoryChannel:
    """A channel that keeps every delivered message in ``.sent``."""
    return MemoryChannel()


@pytest.fixture
def plugin_manager() -> Iterator[pluggy.PluginManager]:
    """A fresh plugin manager with the builtins only (no entry points)."""
    return get_plugin_manager(load_entrypoints=False)
