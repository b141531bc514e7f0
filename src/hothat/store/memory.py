"""``MemoryStore``: the store for tests and simulation. Same contract as the durable stores, no durability."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import datetime

import attrs

from hothat.errors import ConcurrencyError
from hothat.store.base import Commit, OutboxItem, StoredEvent, WakeUp, lease_times, to_utc

__all__ = ["MemoryStore"]


class MemoryStore:
    """Keeps everything in dictionaries. Not shared between processes; lost on exit."""

    def __init__(self) -> None:
        self._events: dict[str, list[StoredEvent]] = {}
        self._open: dict[str, bool] = {}
        self._municipality: dict[str, str] = {}
        self._wake: dict[str, datetime] = {}
        # Wake-ups in time order, for next_wake() and due() without scanning every open incident. An entry whose
        # time no longer matches _wake is stale and dropped when met.
        self._heap: list[tuple[datetime, str]] = []
        self._outbox: dict[str, OutboxItem] = {}
        self._leases: dict[str, tuple[str, datetime]] = {}  # outbox key -> (owner, until)
        self._refs: dict[str, str] = {}
        self._ref_of: dict[str, str] = {}

    async def commit(self, commit: Commit) -> int:
        incident_id = commit.incident_id
        trail = self._events.get(incident_id, [])
        # Every check comes before the first change, so a refused commit writes nothing.
        if len(trail) != commit.expected_version:
            raise ConcurrencyError(
                f"incident {incident_id}: expected version {commit.expected_version}, found {len(trail)}"
            )
        municipality = self._municipality.get(incident_id, commit.municipality)
        if commit.municipality and commit.municipality != municipality:
            raise ValueError(f"incident {incident_id} is of municipality {municipality!r}, not {commit.municipality!r}")
        holder = self._refs.get(commit.reference, incident_id)
        if commit.reference and holder != incident_id:
            raise ConcurrencyError(f"incident {incident_id}: its reference is already used by incident {holder}")
        wake_at = to_utc(commit.wake_at) if commit.wake_at is not None and commit.is_open else None
        events = [
            StoredEvent(incident_id, len(trail) + n, record.type, record.payload, to_utc(record.recorded_at))
            for n, record in enumerate(commit.events, start=1)
        ]
        trail.extend(events)
        self._events[incident_id] = trail
        self._municipality[incident_id] = municipality
        if wake_at is None:
            self._wake.pop(incident_id, None)
        elif self._wake.get(incident_id) != wake_at:
            self._wake[incident_id] = wake_at
            heapq.heappush(self._heap, (wake_at, incident_id))
            if len(self._heap) > 2 * len(self._wake) + 1024:
                self._heap = [(at, i) for i, at in self._wake.items()]
                heapq.heapify(self._heap)
        for item in commit.outbox_put:
            self._outbox.setdefault(item.key, attrs.evolve(item, created_at=to_utc(item.created_at)))
        for key in commit.outbox_done:
            if key in self._outbox and self._outbox[key].incident_id == incident_id:
                del self._outbox[key]
                self._leases.pop(key, None)
        self._open[incident_id] = commit.is_open
        if commit.reference:
            self._refs.pop(self._ref_of.get(incident_id, ""), None)
            self._refs[commit.reference] = incident_id
            self._ref_of[incident_id] = commit.reference
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
        now = to_utc(now)
        found: list[tuple[datetime, str]] = []
        seen: set[str] = set()
        heap = self._heap
        while heap and len(found) < limit and heap[0][0] <= now:
            at, incident_id = heapq.heappop(heap)
            if self._wake.get(incident_id) == at and incident_id not in seen:
                seen.add(incident_id)
                found.append((at, incident_id))
        for item in found:  # due() only reads: the wake-ups stay until a commit replaces them
            heapq.heappush(heap, item)
        return [WakeUp(i, at) for at, i in found]

    async def next_wake(self) -> datetime | None:
        heap = self._heap
        while heap and self._wake.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    async def outbox(self, incident_id: str | None = None) -> list[OutboxItem]:
        items = [o for o in self._outbox.values() if incident_id is None or o.incident_id == incident_id]
        return sorted(items, key=lambda o: (o.created_at, o.key))

    async def claim(self, key: str, owner: str, until: datetime, *, now: datetime | None = None) -> bool:
        until, now = lease_times(owner, until, now)
        holder, ends = self._leases.get(key, (owner, now))
        if key not in self._outbox or (holder != owner and ends > now):
            return False
        self._leases[key] = (owner, until)
        return True

    async def stale_outbox(self, now: datetime, limit: int = 100) -> list[OutboxItem]:
        now = to_utc(now)
        stale = [o for o in await self.outbox() if o.key not in self._leases or self._leases[o.key][1] <= now]
        return stale[: max(limit, 0)]

    async def purge(self, incident_ids: Sequence[str]) -> int:
        gone = {i for i in incident_ids if self._events.pop(i, None) is not None}
        for incident_id in gone:
            del self._open[incident_id]
            del self._municipality[incident_id]
            self._wake.pop(incident_id, None)
            self._refs.pop(self._ref_of.pop(incident_id, ""), None)
        if gone:
            self._outbox = {k: o for k, o in self._outbox.items() if o.incident_id not in gone}
            self._leases = {k: lease for k, lease in self._leases.items() if k in self._outbox}
        return len(gone)

    async def close(self) -> None:
        return None
