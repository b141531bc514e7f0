"""The ``Store`` protocol every store implements (memory, SQLite, PostgreSQL).

One :class:`Commit` is written atomically: the new events of one incident, its next wake-up, the outbox rows it
adds and the ones it settles. Either all of it is stored or none of it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["Commit", "EventRecord", "OutboxItem", "Store", "StoredEvent", "WakeUp"]


@attrs.frozen
class EventRecord:
    """An event to append: its type tag and JSON payload (a ``str``), and when it was recorded."""

    type: str
    payload: str
    recorded_at: datetime


@attrs.frozen
class StoredEvent:
    """An event as stored: its incident, its 1-based version in the trail, and the record."""

    incident_id: str
    version: int
    type: str
    payload: str
    recorded_at: datetime


@attrs.frozen
class OutboxItem:
    """A notification intended but not yet settled (sent, failed or given up).

    ``payload`` is JSON the engine understands; the store treats it as opaque.
    """

    key: str
    incident_id: str
    payload: str
    created_at: datetime


@attrs.frozen
class WakeUp:
    """An incident's next wake-up time."""

    incident_id: str
    at: datetime


@attrs.frozen
class Commit:
    """One atomic write for one incident.

    Attributes:
        incident_id: the incident.
        expected_version: the version the writer last saw (0 for a new incident); a mismatch raises
            ``ConcurrencyError`` and nothing is written.
        events: the events to append, in order.
        wake_at: the next wake-up; ``None`` clears it.
        outbox_put: outbox rows to add (a row with an existing key is left as it is).
        outbox_done: keys of outbox rows to settle (remove).
        is_open: whether the incident is still open after this commit.
        reference: the municipality's reference number (indexed for look-up by reference).
        municipality: the municipality id (the tenancy key).
    """

    incident_id: str
    expected_version: int
    events: tuple[EventRecord, ...] = ()
    wake_at: datetime | None = None
    outbox_put: tuple[OutboxItem, ...] = ()
    outbox_done: tuple[str, ...] = ()
    is_open: bool = True
    reference: str = ""
    municipality: str = ""


@runtime_checkable
class Store(Protocol):
    """What the engine needs from storage. All methods are async; implementations must be safe to call
    from one event loop concurrently (the engine serialises writes per incident)."""

    async def commit(self, commit: Commit) -> int:
        """Write a commit atomically and return the incident's new version.

        Raises ``ConcurrencyError`` when ``expected_version`` is not the stored version.
        """
        ...

    async def load(self, incident_id: str) -> list[StoredEvent]:
        """The whole trail of one incident, oldest first (empty for an unknown incident)."""
        ...

    async def find(self, reference: str) -> str | None:
        """The incident id for a reference number, or ``None``."""
        ...

    async def open_incidents(self) -> list[str]:
        """Ids of all open incidents, oldest first."""
        ...

    async def incidents(self, *, include_closed: bool = True) -> list[str]:
        """Ids of all incidents, oldest first."""
        ...

    async def due(self, now: datetime, limit: int = 100) -> list[WakeUp]:
        """Wake-ups at or before ``now``, earliest first."""
        ...

    async def next_wake(self) -> datetime | None:
        """The earliest wake-up of all, or ``None``."""
        ...

    async def outbox(self, incident_id: str | None = None) -> list[OutboxItem]:
        """Unsettled outbox rows (of one incident, or all), oldest first."""
        ...

    async def purge(self, incident_ids: Sequence[str]) -> int:
        """Remove incidents completely (retention); returns how many were removed."""
        ...

    async def close(self) -> None:
        """Release the store's resources."""
        ...
