"""Clocks: the system clock for production, a virtual clock for simulation and tests.

The engine never reads the time any other way, so a simulation on a :class:`VirtualClock` runs an escalation of
hours in milliseconds, with every event stamped at the exact time it would have happened.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "VirtualClock"]


@runtime_checkable
class Clock(Protocol):
    """What the engine needs from a clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...

    async def sleep_until(self, at: datetime, wake: asyncio.Event) -> None:
        """Return at ``at`` or as soon as ``wake`` is set, whichever comes first."""
        ...


class SystemClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, at: datetime, wake: asyncio.Event) -> None:
        delay = (at - self.now()).total_seconds()
        if delay <= 0:
            return
        # asyncio.timeout, not wait_for: on Python 3.11, wait_for can swallow a cancellation that arrives in the
        # same turn as the wake-up, and the engine's stop() would then wait for its scheduler forever.
        try:
            async with asyncio.timeout(delay):
                await wake.wait()
        except TimeoutError:
            return


class VirtualClock:
    """A clock that moves only when told to. Use ``Engine.advance`` to move it through due wake-ups in order.

    Args:
        start: the starting time; naive times are taken as UTC. Default: 2026-01-01 00:00 UTC.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        """Move to ``at``; the clock never goes backwards."""
        if at < self._now:
            raise ValueError(f"the virtual clock cannot go back from {self._now.isoformat()} to {at.isoformat()}")
        self._now = at

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` without running anything (``Engine.advance`` runs what falls due)."""
        self.set(self._now + delta)
        return self._now

    async def sleep_until(self, at: datetime, wake: asyncio.Event) -> None:
        # Virtual time does not pass by itself: wait until something changes (the engine is driven by advance()).
        if at <= self._now:
            return
        await wake.wait()
