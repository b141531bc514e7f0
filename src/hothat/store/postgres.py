"""``PostgresStore``: the store for several engine processes sharing one PostgreSQL database (psycopg 3).

Install it with ``pip install 'hothat[postgres]'``; hothat itself never imports psycopg, this module does so only
when a store connects.

Usage::

    async with PostgresStore("host=db.kommun.se dbname=hothat user=hothat", municipality="oxelosund") as store:
        version = await store.commit(commit)

What it adds to the protocol, for several processes on one database (see ``docs/operations/postgres.md``):

- **Tenancy.** Every row carries its municipality in its primary key, and every query names the store's own:
  a store bound to one municipality never sees another's incidents, so several municipalities can share one
  database.
- **Optimistic concurrency.** A commit updates the incident row only where its version is the expected one, in
  the same transaction as everything else it writes; a writer that lost the race gets ``ConcurrencyError``.
- **Claimed wake-ups.** :meth:`PostgresStore.due` takes the due wake-ups it returns with
  ``FOR UPDATE SKIP LOCKED`` and leases them to this store for ``lease``, a few at a time, so two engine
  processes never drive one incident's wake-up at once. A commit that sets or clears the incident's wake-up ends
  the lease; a lease that runs out (its process died) makes the wake-up due again for everyone.
- **Versioned schema.** Tables are created and migrated on first use (one transaction, serialised between
  processes by an advisory lock); a database migrated by a newer hothat is refused.

Connections: a small pool of its own (``pool_size`` connections, opened on demand and kept open), so the store
needs nothing beyond psycopg. A broken connection is dropped and the next call opens a new one; the failed call
raises ``StoreError`` and is not retried here (the engine retries what it must).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, cast

from pydantic import SecretStr

from hothat.errors import ConcurrencyError, StoreError
from hothat.store.base import Commit, OutboxItem, StoredEvent, WakeUp, lease_times, to_utc

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["SCHEMA_VERSION", "PostgresStore"]

# Migration n (1-based) takes the schema from version n-1 to n; `hothat_schema_version` keeps one row per
# migration applied. Append new ones, never edit a released one. Every table starts its primary key with
# `municipality`: the tenancy key, so one tenant's rows and index entries sit together and no query can reach
# another tenant's rows without naming it.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        # `seq` keeps "oldest first" in the order incidents were first committed.
        """CREATE TABLE hothat_incidents (
            municipality text NOT NULL,
            id text NOT NULL,
            seq bigint GENERATED ALWAYS AS IDENTITY,
            reference text NOT NULL,
            is_open boolean NOT NULL,
            version integer NOT NULL CHECK (version >= 0),
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            PRIMARY KEY (municipality, id)
        )""",
        "CREATE UNIQUE INDEX hothat_incidents_reference ON hothat_incidents (municipality, reference)"
        " WHERE reference <> ''",
        "CREATE INDEX hothat_incidents_seq ON hothat_incidents (municipality, seq)",
        # Payloads are bytea (UTF-8): opaque to the store, and text could not hold a NUL character.
        """CREATE TABLE hothat_events (
            municipality text NOT NULL,
            incident_id text NOT NULL,
            version integer NOT NULL CHECK (version >= 1),
            type text NOT NULL,
            payload bytea NOT NULL,
            recorded_at timestamptz NOT NULL,
            PRIMARY KEY (municipality, incident_id, version),
            FOREIGN KEY (municipality, incident_id) REFERENCES hothat_incidents ON DELETE CASCADE
        )""",
        """CREATE TABLE hothat_wakeups (
            municipality text NOT NULL,
            incident_id text NOT NULL,
            at timestamptz NOT NULL,
            claimed_by text,
            claimed_until timestamptz,
            PRIMARY KEY (municipality, incident_id),
            FOREIGN KEY (municipality, incident_id) REFERENCES hothat_incidents ON DELETE CASCADE
        )""",
        "CREATE INDEX hothat_wakeups_at ON hothat_wakeups (municipality, at, incident_id)",
        # When a wake-up can next be taken: its time, or the end of its lease if that is later (next_wake).
        "CREATE INDEX hothat_wakeups_free ON hothat_wakeups (municipality, (greatest(at, claimed_until)))",
        """CREATE TABLE hothat_outbox (
            municipality text NOT NULL,
            key text NOT NULL,
            incident_id text NOT NULL,
            payload bytea NOT NULL,
            created_at timestamptz NOT NULL,
            claimed_by text,
            claimed_until timestamptz,
            PRIMARY KEY (municipality, key),
            FOREIGN KEY (municipality, incident_id) REFERENCES hothat_incidents ON DELETE CASCADE
        )""",
        "CREATE INDEX hothat_outbox_incident ON hothat_outbox (municipality, incident_id)",
        "CREATE INDEX hothat_outbox_created ON hothat_outbox (municipality, created_at, key)",
    ),
)

SCHEMA_VERSION = len(_MIGRATIONS)
"""The schema version this hothat writes (the highest row of ``hothat_schema_version``)."""

# One number for pg_advisory_xact_lock: processes starting together migrate one after the other.
_MIGRATION_LOCK = 0x686F7468  # "hoth"

_INSERT_INCIDENT = """
    INSERT INTO hothat_incidents AS i (municipality, id, reference, is_open, version, created_at, updated_at)
    VALUES (%(m)s, %(id)s, %(reference)s, %(is_open)s, %(version)s, %(created)s, %(updated)s)
    ON CONFLICT (municipality, id) DO UPDATE SET
        version = excluded.version,
        is_open = excluded.is_open,
        reference = CASE WHEN excluded.reference <> '' THEN excluded.reference ELSE i.reference END,
        updated_at = coalesce(%(last)s, i.updated_at)
    WHERE i.version = 0
    RETURNING 1"""
_UPDATE_INCIDENT = """
    UPDATE hothat_incidents SET
        version = %(version)s,
        is_open = %(is_open)s,
        reference = CASE WHEN %(reference)s <> '' THEN %(reference)s ELSE reference END,
        updated_at = coalesce(%(last)s, updated_at)
    WHERE municipality = %(m)s AND id = %(id)s AND version = %(expected)s
    RETURNING 1"""
_INSERT_EVENTS = """
    INSERT INTO hothat_events (municipality, incident_id, version, type, payload, recorded_at)
    SELECT %s, %s, v, t, p, r
    FROM unnest(%s::integer[], %s::text[], %s::bytea[], %s::timestamptz[]) AS e (v, t, p, r)"""
_SET_WAKE = """
    INSERT INTO hothat_wakeups (municipality, incident_id, at) VALUES (%s, %s, %s)
    ON CONFLICT (municipality, incident_id) DO UPDATE SET at = excluded.at, claimed_by = NULL, claimed_until = NULL"""
_PUT_OUTBOX = """
    INSERT INTO hothat_outbox (municipality, key, incident_id, payload, created_at)
    SELECT %s, k, %s, p, c FROM unnest(%s::text[], %s::bytea[], %s::timestamptz[]) AS o (k, p, c)
    ON CONFLICT (municipality, key) DO NOTHING"""
_CLAIM_DUE = """
    WITH picked AS (
        SELECT incident_id FROM hothat_wakeups
        WHERE municipality = %(m)s AND at <= %(now)s AND (claimed_until IS NULL OR claimed_until <= %(now)s)
        ORDER BY at, incident_id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    UPDATE hothat_wakeups AS w SET claimed_by = %(owner)s, claimed_until = %(until)s
    FROM picked WHERE w.municipality = %(m)s AND w.incident_id = picked.incident_id
    RETURNING w.incident_id, w.at"""
_CLAIM_OUTBOX = """
    UPDATE hothat_outbox SET claimed_by = %(owner)s, claimed_until = %(until)s
    WHERE municipality = %(m)s AND key = %(key)s
      AND (claimed_by IS NULL OR claimed_by = %(owner)s OR claimed_until <= %(now)s)"""
_OUTBOX_COLUMNS = "SELECT key, incident_id, payload, created_at FROM hothat_outbox WHERE municipality = %s"


class PostgresStore:
    """The :class:`~hothat.store.Store` on a PostgreSQL database, for one municipality.

    Args:
        dsn: libpq connection string or URI (``"host=... dbname=... user=..."``, ``"postgresql://..."``); a
            ``SecretStr`` too. Libpq's environment (``PGPASSWORD``, ``PGHOST``, a ``.pgpass`` file) fills in
            what it leaves out. Put hothat's tables in their own schema with ``options=-csearch_path=hothat``.
        municipality: the municipality this store serves (the tenancy key); a commit naming another one raises
            ``ValueError``.
        lease: how long :meth:`due` keeps the wake-ups it returns from other processes; ``timedelta(0)`` turns
            claiming off (one engine process).
        due_batch: wake-ups claimed by one :meth:`due` call at most, so that a busy process leaves work for the
            others.
        pool_size: connections this store keeps at most (opened when needed).
        connect_timeout: seconds to wait for a connection before ``StoreError``.

    Besides the protocol it offers :attr:`shared`, :attr:`owner` (the id it claims wake-ups under) and
    :attr:`municipality`.
    """

    def __init__(
        self,
        dsn: str | SecretStr,
        *,
        municipality: str,
        lease: timedelta = timedelta(seconds=30),
        due_batch: int = 32,
        pool_size: int = 4,
        connect_timeout: float = 10.0,
    ) -> None:
        if not municipality:
            raise ValueError("a PostgresStore serves one municipality: give its id (municipality=...)")
        if lease < timedelta(0):
            raise ValueError(f"lease must not be negative, got {lease}")
        if due_batch < 1 or pool_size < 1:
            raise ValueError(f"due_batch and pool_size must be at least 1, got {due_batch} and {pool_size}")
        self._dsn = dsn if isinstance(dsn, SecretStr) else SecretStr(dsn)
        self._where = _describe(self._dsn.get_secret_value())
        self._municipality = municipality
        self._lease = lease
        self._due_batch = due_batch
        self._connect_timeout = connect_timeout
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._idle: list[AsyncConnection[Any]] = []
        self._slots = asyncio.Semaphore(pool_size)
        self._migrated = False
        self._migrating = asyncio.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"PostgresStore({self._where}, municipality={self._municipality!r})"

    @property
    def municipality(self) -> str:
        """The municipality this store serves."""
        return self._municipality

    @property
    def shared(self) -> bool:
        """True: several engine processes may share this store (with a ``lease``; ``lease=0`` means one process).

        The engine then claims each notification before attempting it and sweeps :meth:`stale_outbox` for
        the work of processes that died.
        """
        return self._lease > timedelta(0)

    @property
    def owner(self) -> str:
        """This store's id as a lease holder (host, process id, a random part): unique per store instance."""
        return self._owner

    @classmethod
    async def open(cls, dsn: str | SecretStr, *, municipality: str, **kwargs: Any) -> PostgresStore:
        """Create the store and connect (and migrate) now, so a wrong DSN or a too new schema is reported here."""
        store = cls(dsn, municipality=municipality, **kwargs)
        async with store._connection():
            pass
        return store

    async def __aenter__(self) -> Self:
        async with self._connection():
            pass
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- the Store protocol ----------------------------------------------------------------------------------

    async def commit(self, commit: Commit) -> int:
        """Write ``commit`` in one transaction (see :class:`~hothat.store.Commit`); returns the new version.

        Raises ``ConcurrencyError`` when another writer got there first (a stale ``expected_version`` or a
        reference another incident holds), ``ValueError`` for a commit of another municipality, and
        ``StoreError`` when the database cannot be reached; nothing of a refused commit is stored. When the
        connection breaks while the transaction commits, it may or may not be stored: reload to find out.
        """
        m = self._municipality
        if commit.municipality and commit.municipality != m:
            raise ValueError(
                f"incident {commit.incident_id} is of municipality {m!r} (this store's), not {commit.municipality!r}"
            )
        incident_id = commit.incident_id
        recorded = [to_utc(event.recorded_at) for event in commit.events]
        try:
            payloads = [event.payload.encode() for event in commit.events]
            outbox_payloads = [item.payload.encode() for item in commit.outbox_put]
        except UnicodeError:
            raise ValueError(f"incident {incident_id}: a text field is not valid Unicode (lone surrogate)") from None
        found = commit.expected_version
        version = found + len(commit.events)
        created = recorded[0] if recorded else datetime.now(UTC)
        row = {
            "m": m,
            "id": incident_id,
            "reference": commit.reference,
            "is_open": commit.is_open,
            "version": version,
            "expected": found,
            "created": created,
            "updated": recorded[-1] if recorded else created,
            "last": recorded[-1] if recorded else None,
        }
        wake = to_utc(commit.wake_at) if commit.wake_at is not None and commit.is_open else None
        psycopg = _psycopg()
        try:
            # Pipelined: every statement goes out at once and the transaction costs two round trips, not seven.
            # The incident row's version check is read last; a mismatch rolls back all the rest with it.
            async with self._connection() as conn, conn.pipeline(), conn.transaction():
                cursor = await conn.execute(_INSERT_INCIDENT if found == 0 else _UPDATE_INCIDENT, row)
                if commit.events:
                    await conn.execute(
                        _INSERT_EVENTS,
                        (
                            m,
                            incident_id,
                            list(range(found + 1, version + 1)),
                            [event.type for event in commit.events],
                            payloads,
                            recorded,
                        ),
                    )
                if wake is None:
                    await conn.execute(
                        "DELETE FROM hothat_wakeups WHERE municipality = %s AND incident_id = %s", (m, incident_id)
                    )
                else:
                    await conn.execute(_SET_WAKE, (m, incident_id, wake))
                if commit.outbox_put:
                    await conn.execute(
                        _PUT_OUTBOX,
                        (
                            m,
                            incident_id,
                            [item.key for item in commit.outbox_put],
                            outbox_payloads,
                            [to_utc(item.created_at) for item in commit.outbox_put],
                        ),
                    )
                if commit.outbox_done:
                    await conn.execute(
                        "DELETE FROM hothat_outbox WHERE municipality = %s AND incident_id = %s AND key = ANY(%s)",
                        (m, incident_id, list(commit.outbox_done)),
                    )
                if await cursor.fetchone() is None:
                    raise _Stale
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name != "hothat_incidents_reference":
                raise await self._stale(incident_id, found) from None
            holder = await self.find(commit.reference)
            raise ConcurrencyError(
                f"incident {incident_id}: its reference is already used by incident {holder}"
            ) from None
        except (_Stale, psycopg.errors.ForeignKeyViolation):
            # A stale version shows as the version check's empty answer, or, the pipeline having run on, as events
            # colliding with stored ones (or, for an incident that is not there, as rows without their incident).
            raise await self._stale(incident_id, found) from None
        except psycopg.DataError:
            # Text with a NUL character, or a value out of a column's range: the caller's data, never echoed.
            raise ValueError(f"incident {incident_id}: a commit field holds a value PostgreSQL cannot store") from None
        return version

    async def load(self, incident_id: str) -> list[StoredEvent]:
        """The whole trail of one incident, oldest first (empty for an unknown incident)."""
        rows = await self._fetch(
            "SELECT version, type, payload, recorded_at FROM hothat_events"
            " WHERE municipality = %s AND incident_id = %s ORDER BY version",
            (self._municipality, incident_id),
        )
        return [StoredEvent(incident_id, v, t, bytes(p).decode(), r.astimezone(UTC)) for v, t, p, r in rows]

    async def find(self, reference: str) -> str | None:
        """The incident id for a reference number, or ``None``."""
        if not reference:
            return None
        rows = await self._fetch(
            "SELECT id FROM hothat_incidents WHERE municipality = %s AND reference = %s",
            (self._municipality, reference),
        )
        return cast(str, rows[0][0]) if rows else None

    async def open_incidents(self) -> list[str]:
        """Ids of all open incidents, oldest first."""
        return await self.incidents(include_closed=False)

    async def incidents(self, *, include_closed: bool = True) -> list[str]:
        """Ids of all incidents (or only the open ones), oldest first."""
        only_open = "" if include_closed else " AND is_open"
        rows = await self._fetch(
            f"SELECT id FROM hothat_incidents WHERE municipality = %s{only_open} ORDER BY seq", (self._municipality,)
        )
        return [incident_id for (incident_id,) in rows]

    async def due(self, now: datetime, limit: int = 100) -> list[WakeUp]:
        """Wake-ups at or before ``now``, earliest first (ties by incident id), at most ``limit``, claimed.

        With a ``lease`` each returned wake-up is leased to this store until ``now + lease``: no other store
        returns it meanwhile, and wake-ups other stores hold are left out (at most ``due_batch`` per call, so
        several processes share the work). A commit that sets or clears the incident's wake-up ends the lease.
        """
        now = to_utc(now)
        limit = max(limit, 0)
        if self._lease <= timedelta(0):
            rows = await self._fetch(
                "SELECT incident_id, at FROM hothat_wakeups WHERE municipality = %s AND at <= %s"
                " ORDER BY at, incident_id LIMIT %s",
                (self._municipality, now, limit),
            )
        else:
            params = {
                "m": self._municipality,
                "now": now,
                "limit": min(limit, self._due_batch),
                "owner": self._owner,
                "until": now + self._lease,
            }
            rows = await self._fetch(_CLAIM_DUE, params)
        return sorted((WakeUp(i, at.astimezone(UTC)) for i, at in rows), key=lambda w: (w.at, w.incident_id))

    async def next_wake(self) -> datetime | None:
        """When :meth:`due` can next return something: the earliest wake-up, or the end of a lease on it."""
        rows = await self._fetch(
            "SELECT min(greatest(at, claimed_until)) FROM hothat_wakeups WHERE municipality = %s",
            (self._municipality,),
        )
        at = rows[0][0]
        return None if at is None else cast(datetime, at).astimezone(UTC)

    async def outbox(self, incident_id: str | None = None) -> list[OutboxItem]:
        """Unsettled outbox rows (of one incident, or all), oldest ``created_at`` first, ties by key."""
        if incident_id is None:
            rows = await self._fetch(_OUTBOX_COLUMNS + " ORDER BY created_at, key", (self._municipality,))
        else:
            rows = await self._fetch(
                _OUTBOX_COLUMNS + " AND incident_id = %s ORDER BY created_at, key", (self._municipality, incident_id)
            )
        return _outbox_items(rows)

    async def claim(self, key: str, owner: str, until: datetime, *, now: datetime | None = None) -> bool:
        """Lease the unsettled outbox row ``key`` to ``owner`` until ``until`` (see :meth:`Store.claim`).

        Atomic between processes: of two owners claiming one row at once, one wins.
        """
        until, now = lease_times(owner, until, now)
        params = {"m": self._municipality, "key": key, "owner": owner, "until": until, "now": now}
        async with self._connection() as conn:
            cursor = await conn.execute(_CLAIM_OUTBOX, params)
            return cursor.rowcount == 1

    async def stale_outbox(self, now: datetime, limit: int = 100) -> list[OutboxItem]:
        """Unsettled outbox rows without a live lease at ``now``, oldest first, at most ``limit``."""
        rows = await self._fetch(
            _OUTBOX_COLUMNS + " AND (claimed_until IS NULL OR claimed_until <= %s) ORDER BY created_at, key LIMIT %s",
            (self._municipality, to_utc(now), max(limit, 0)),
        )
        return _outbox_items(rows)

    async def purge(self, incident_ids: Sequence[str]) -> int:
        """Remove incidents with their events, wake-ups and outbox rows; returns how many were removed."""
        if not incident_ids:
            return 0
        async with self._connection() as conn:
            cursor = await conn.execute(
                "DELETE FROM hothat_incidents WHERE municipality = %s AND id = ANY(%s)",
                (self._municipality, list(incident_ids)),
            )
            return cursor.rowcount

    async def close(self) -> None:
        """Close the connections. Idempotent; connections in use close when their call finishes."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()

    # -- connections -----------------------------------------------------------------------------------------

    async def _fetch(self, query: str, params: Sequence[Any] | dict[str, Any]) -> list[tuple[Any, ...]]:
        async with self._connection() as conn:
            cursor = await conn.execute(query, params)
            return await cursor.fetchall()

    async def _stale(self, incident_id: str, expected: int) -> ConcurrencyError:
        rows = await self._fetch(
            "SELECT version FROM hothat_incidents WHERE municipality = %s AND id = %s",
            (self._municipality, incident_id),
        )
        found = cast(int, rows[0][0]) if rows else 0
        return ConcurrencyError(f"incident {incident_id}: expected version {expected}, found {found}")

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A connection of the pool for one call (autocommit unless the call opens a transaction).

        psycopg's ``OperationalError`` (server gone, connection lost) becomes ``StoreError`` naming the server;
        the connection is then dropped, so the next call connects anew.
        """
        if self._closed:
            raise StoreError(f"{self._where}: the store is closed")
        psycopg = _psycopg()
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self._connect()
            try:
                yield conn
            except psycopg.OperationalError as exc:
                raise StoreError(f"{self._where}: the database failed ({_first_line(exc, self._dsn)})") from None
            finally:
                idle = psycopg.pq.TransactionStatus.IDLE
                if self._closed or conn.broken or conn.closed or conn.info.transaction_status != idle:
                    with contextlib.suppress(Exception):
                        await conn.close()
                else:
                    self._idle.append(conn)

    async def _connect(self) -> AsyncConnection[Any]:
        psycopg = _psycopg()
        options: dict[str, Any] = {"autocommit": True, "application_name": "hothat"}
        if "connect_timeout" not in self._dsn.get_secret_value():
            options["connect_timeout"] = max(1, round(self._connect_timeout))
        conn: AsyncConnection[Any] | None = None
        try:
            conn = await psycopg.AsyncConnection.connect(self._dsn.get_secret_value(), **options)
        except psycopg.ProgrammingError:
            pass  # its message quotes the connection string, password and all: raised below, outside this block
        except psycopg.OperationalError as exc:
            raise StoreError(f"cannot connect to {self._where}: {_why(exc, self._dsn)}") from None
        if conn is None:
            raise StoreError(
                "the PostgreSQL connection string is malformed: use 'host=... dbname=... user=...' or a "
                "postgresql:// URI (see docs/operations/postgres.md)"
            )
        try:
            if not self._migrated:
                async with self._migrating:
                    if not self._migrated:
                        await self._migrate(conn)
                        self._migrated = True
        except BaseException:
            await conn.close()
            raise
        return conn

    async def _migrate(self, conn: AsyncConnection[Any]) -> None:
        """Bring the schema to ``SCHEMA_VERSION`` in one transaction; refuse a newer one."""
        psycopg = _psycopg()
        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS hothat_schema_version ("
                    " version integer PRIMARY KEY, migrated_at timestamptz NOT NULL DEFAULT now())"
                )
                cursor = await conn.execute("SELECT coalesce(max(version), 0) FROM hothat_schema_version")
                row = await cursor.fetchone()
                found = cast(int, row[0]) if row is not None else 0
                if found > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self._where} has hothat schema version {found}, but this hothat knows versions 1 to "
                        f"{SCHEMA_VERSION}: it was migrated by a newer hothat. Upgrade hothat (or restore a backup "
                        "made with this version)"
                    )
                for version in range(found + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS[version - 1]:
                        await conn.execute(statement)
                    await conn.execute("INSERT INTO hothat_schema_version (version) VALUES (%s)", (version,))
        except psycopg.errors.InvalidSchemaName:
            raise StoreError(
                f"{self._where}: no schema to create hothat's tables in: the search_path names no schema the user "
                "may use. Create one and grant it (see docs/operations/postgres.md)"
            ) from None
        except psycopg.errors.InsufficientPrivilege:
            raise StoreError(
                f"{self._where}: the user may not create hothat's tables. Grant it CREATE on the schema (or run "
                "hothat once as the schema's owner to migrate); see docs/operations/postgres.md"
            ) from None
        except psycopg.OperationalError as exc:
            raise StoreError(f"{self._where}: migrating the schema failed ({_first_line(exc, self._dsn)})") from None


class _Stale(Exception):
    """The incident row was not at the expected version (raised inside the transaction to roll it back)."""


def _psycopg() -> Any:
    """psycopg, imported on first use, so hothat itself never needs it."""
    try:
        import psycopg
    except ImportError:
        raise StoreError("the PostgreSQL store needs psycopg: pip install 'hothat[postgres]'") from None
    return psycopg


def _outbox_items(rows: list[tuple[Any, ...]]) -> list[OutboxItem]:
    return [OutboxItem(key, owner, bytes(p).decode(), at.astimezone(UTC)) for key, owner, p, at in rows]


def _describe(dsn: str) -> str:
    """``PostgreSQL database DB on HOST:PORT as USER``, from the DSN and libpq's environment; never the password."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(dsn)
    except ImportError:
        parts = {}
    except Exception:  # malformed: reported at connect time, without quoting it
        return "PostgreSQL (malformed connection string)"

    def part(name: str, env: str, default: str) -> str:
        return str(parts.get(name) or os.environ.get(env) or default)

    host = part("host", "PGHOST", "localhost")
    port = part("port", "PGPORT", "5432")
    user = part("user", "PGUSER", "the OS user")
    dbname = part("dbname", "PGDATABASE", user)
    return f"PostgreSQL database {dbname!r} on {host}:{port} as {user}"


def _first_line(exc: Exception, dsn: SecretStr) -> str:
    """The first line of a psycopg error, with the password (should libpq ever quote it) blanked out."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    with contextlib.suppress(Exception):
        from psycopg.conninfo import conninfo_to_dict

        password = conninfo_to_dict(dsn.get_secret_value()).get("password")
        if password:
            text = text.replace(str(password), "***")
    return text


def _why(exc: Exception, dsn: SecretStr) -> str:
    """What a failed connection means for the operator."""
    text = str(exc)
    if "password authentication failed" in text or "no password supplied" in text:
        return "the server refused the login (wrong user name or password); check the DSN or PGPASSWORD/.pgpass"
    if "does not exist" in text and "database" in text:
        return "the database does not exist; create it (createdb) or correct dbname"
    if "Connection refused" in text:
        return "nothing accepts connections there; is PostgreSQL running, and are host and port right?"
    if "timeout" in text.lower():
        return "no answer in time; check the host name, the network and firewalls"
    return _first_line(exc, dsn)
