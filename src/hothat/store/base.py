"""The ``Store`` protocol every store implements (memory, SQLite, PostgreSQL).

One :class:`Commit` is written atomically: the new events of one incident, its next wake-up, the outbox rows
it adds and the ones it settles. Either all of it is stored or none of it is.

Rules every store keeps (the contract suite in ``tests/test_store_contract.py`` checks them):

- Datetimes must be aware (a naive one raises ``ValueError``); every store gives them back in UTC.
- A reference number names at most one incident: a commit giving an incident a reference another incident
  holds raises ``ConcurrencyError`` (two writers picked the same number). A later reference replaces the
  earlier one; an empty reference leaves it as it is.
- An incident's municipality is set by its first commit; a later commit naming another one raises
  ``ValueError``, an empty one means "the incident's own".
- "Oldest first" means in the order incidents were first committed.
- Outbox leases: :meth:`Store.claim` gives one owner (an engine process) an unsettled outbox row until a
  time; while the lease lives no other owner can claim the row, so no notification is attempted by two
  processes at once. A lease that runs out (its process died) lets another owner take the row over, and
  :meth:`Store.stale_outbox` lists the rows waiting for that. Settling a row (``Commit.outbox_done``) removes
  it, lease and all. Lease times are compared with the ``now`` the caller gives, so the processes sharing a
  store need clocks that agree to well within a lease (NTP).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol, TypeVar, runtime_checkable

import attrs

__all__ = ["Commit", "EventRecord", "OutboxItem", "Store", "StoredEvent", "WakeUp", "lease_times", "to_utc"]


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime raises ``ValueError`` (a store cannot guess its zone)."""
    if value.tzinfo is UTC:
        return value
    if value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: stores need an aware datetime (e.g. in UTC)")
    return value.astimezone(UTC)


def lease_times(owner: str, until: datetime, now: datetime | None) -> tuple[datetime, datetime]:
    """Check a :meth:`Store.claim` call's arguments; returns ``(until, now)`` in UTC (``now`` defaults to the wall
    clock)."""
    if not owner:
        raise ValueError("a claim needs an owner (the claiming process's id), got an empty one")
    return to_utc(until), to_utc(now) if now is not None else datetime.now(UTC)


_When = TypeVar("_When", bound=datetime | None)


def _aware(_instance: object, attribute: attrs.Attribute[_When], value: _When) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be an aware datetime, got naive {value.isoformat()}")


@attrs.frozen
class EventRecord:
    """An event to append: its type tag and JSON payload (a ``str``), and when it was recorded."""

    type: str
    payload: str
    recorded_at: datetime = attrs.field(validator=_aware)


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
    created_at: datetime = attrs.field(validator=_aware)


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
        outbox_put: outbox rows to add, all of this incident (a row with an existing key is left as it is).
        outbox_done: keys of this incident's outbox rows to settle (remove); other incidents' rows are left.
        is_open: whether the incident is still open after this commit.
        reference: the municipality's reference number (indexed for look-up by reference).
        municipality: the municipality id (the tenancy key).
    """

    incident_id: str
    expected_version: int = attrs.field(validator=attrs.validators.ge(0))
    events: tuple[EventRecord, ...] = ()
    wake_at: datetime | None = attrs.field(default=None, validator=_aware)
    outbox_put: tuple[OutboxItem, ...] = attrs.field(default=())
    outbox_done: tuple[str, ...] = ()
    is_open: bool = True
    reference: str = ""
    municipality: str = ""

    @outbox_put.validator
    def _check_outbox(self, _attribute: attrs.Attribute[tuple[OutboxItem, ...]], value: tuple[OutboxItem, ...]) -> None:
        for item in value:
            if item.incident_id != self.incident_id:
                raise ValueError(
                    f"outbox row {item.key!r} belongs to incident {item.incident_id}, not {self.incident_id}"
                )


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
        """Wake-ups at or before ``now``, earliest first (ties by incident id), at most ``limit``."""
        ...

    async def next_wake(self) -> datetime | None:
        """The earliest wake-up of all, or ``None``."""
        ...

    async def outbox(self, incident_id: str | None = None) -> list[OutboxItem]:
        """Unsettled outbox rows (of one incident, or all), oldest ``created_at`` first, ties by key."""
        ...

    async def claim(self, key: str, owner: str, until: datetime, *, now: datetime | None = None) -> bool:
        """Lease the unsettled outbox row ``key`` to ``owner`` until ``until``, atomically.

        True when the row exists and is unsettled, and is unclaimed, or its lease ran out at ``now`` (the wall
        clock if not given), or ``owner`` holds it already (a renewal: the lease then ends at ``until``, which
        may also shorten it; ``until=now`` gives it up). False for a settled or unknown row and for another
        owner's live lease. A naive ``until`` or ``now`` raises ``ValueError``, an empty ``owner`` too.
        """
        ...

    async def stale_outbox(self, now: datetime, limit: int = 100) -> list[OutboxItem]:
        """Unsettled outbox rows whose lease is absent or ran out at ``now``: what a sweeper should deliver.

        Oldest ``created_at`` first, ties by key, at most ``limit``.
        """
        ...

    async def purge(self, incident_ids: Sequence[str]) -> int:
        """Remove incidents completely (retention); returns how many were removed."""
        ...

    async def close(self) -> None:
        """Release the store's resources."""
        ...
