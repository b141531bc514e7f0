"""``MemoryStore``: the store for tests and simulation. Same contract as the durable stores, no durability."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from hothat.errors import ConcurrencyError
from hothat.store.base import Commit, OutboxItem, StoredEvent, WakeUp

__all__ = ["MemoryStore"]


class MemoryStore:
    """Keeps everything in dictionaries. Not shared between processes; lost on exit."""

    def __init__(self) -> None:
        self._events: dict[str, list[StoredEvent]] = {}
        self._open: dict[str, bool] = {}
        self._wake: dict[str, datetime] = {}
        self._outbox: dict[str, OutboxItem] = {}
        self._refs: dict[str, str] = {}

    async def commit(self, commit: Commit) -> int:
        trail = self._events.setdefault(commit.incident_id, [])
        if len(trail) != commit.expected_version:
            if not trail:
                del self._events[commit.incident_id]
            raise ConcurrencyError(
                f"incident {commit.incident_id}: expected version {commit.expected_version}, found {len(trail)}"
            )
        for record in commit.events:
            trail.append(
                StoredEvent(commit.incident_id, len(trail) + 1, record.type, record.payload, record.recorded_at)
            )
        if commit.wake_at is None or not commit.is_open:
            self._wake.pop(commit.incident_id, None)
        else:
            self._wake[commit.incident_id] = commit.wake_at
        for item in commit.outbox_put:
            self._outbox.setdefault(item.key, item)
        for key in commit.outbox_done:
            self._outbox.pop(key, None)
        self._open[commit.incident_id] = commit.is_open
        if commit.reference:
            self._refs[commit.reference] = commit.incident_id
        return len(trail)

    async def load(self, incident_id: str) -> list[StoredEvent]:
        return list(self._events.get(incident_id, ()))

    async def find(self, reference: str) -> str | None:
        return self._refs.get(reference)

    async def open_incidents(self) -> list[str]:
        return [i for i, is_open in self._open.items() if is_open]

    async def incidents(self, *, include_closed: bool = True) -> list[str]:
        return [i for i, is_open in self._open.items() if include_closed or is_open]

    async def due(self, now: datetime, limit: int = 100) -> list[WakeUp]:
        due = sorted((at, i) for i, at in self._wake.items() if at <= now)
        return [WakeUp(i, at) for at, i in due[:limit]]

    async def next_wake(self) -> datetime | None:
        return min(self._wake.values(), default=None)

    async def outbox(self, incident_id: str | None = None) -> list[OutboxItem]:
        items = [o for o in self._outbox.values() if incident_id is None or o.incident_id == incident_id]
        return sorted(items, key=lambda o: o.created_at)

    async def purge(self, incident_ids: Sequence[str]) -> int:
        removed = 0
        for incident_id in incident_ids:
            if self._events.pop(incident_id, None) is not None:
                removed += 1
            self._open.pop(incident_id, None)
            self._wake.pop(incident_id, None)
            self._refs = {r: i for r, i in self._refs.items() if i != incident_id}
            self._outbox = {k: o for k, o in self._outbox.items() if o.incident_id != incident_id}
        return removed

    async def close(self) -> None:
        return None
