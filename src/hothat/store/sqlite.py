"""``SqliteStore``: the embedded durable store, one SQLite file in WAL mode, stdlib ``sqlite3`` only.

Every call runs on one worker thread that owns the only connection, so the event loop never blocks on disk
and writes are serialised. Commits that queue up while the worker is busy are written together in one
transaction (group commit, one ``fsync`` for all of them); each keeps its own savepoint, so a refused commit
does not take its neighbours down, and no caller hears back before the transaction is on disk.

Usage::

    async with SqliteStore("hothat.db") as store:  # opens (creating or migrating the file) on entry
        version = await store.commit(commit)

    store = await SqliteStore.open("hothat.db")    # the same, without a ``with`` block
    await store.close()

``SqliteStore(path)`` alone does no I/O: the file is opened by the first call, and a failed open is retried
by the next one. ``":memory:"`` gives a private in-memory database (tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NamedTuple, Self, TypeVar, cast

from hothat.errors import ConcurrencyError, StoreError
from hothat.store.base import Commit, OutboxItem, StoredEvent, WakeUp, lease_times, to_utc

__all__ = ["SCHEMA_VERSION", "IncidentRow", "SqliteStore"]

_T = TypeVar("_T")
_A = TypeVar("_A")

# Schema migrations: migration n (1-based) takes a database from `PRAGMA user_version` n-1 to n. Append new
# ones at the end and never edit a released one: a file records how far it got, and a file written by a newer
# hothat (a higher user_version) is refused rather than misread. Every table carries `municipality`, the
# tenancy key, so the model stays parallel to the coming PostgreSQL store (row-level security per tenant).
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        # `seq` keeps "oldest first" stable: VACUUM may renumber an implicit rowid, never an explicit one.
        """CREATE TABLE incidents (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            municipality TEXT NOT NULL,
            reference TEXT NOT NULL,
            is_open INTEGER NOT NULL CHECK (is_open IN (0, 1)),
            version INTEGER NOT NULL CHECK (version >= 0),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE UNIQUE INDEX incidents_reference ON incidents (reference) WHERE reference <> ''",
        "CREATE INDEX incidents_open ON incidents (is_open)",
        """CREATE TABLE events (
            incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
            version INTEGER NOT NULL CHECK (version >= 1),
            municipality TEXT NOT NULL,
            type TEXT NOT NULL,
            payload TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (incident_id, version)
        )""",
        # WITHOUT ROWID: keyed by their primary key alone, so a write touches one b-tree less (pages written
        # per commit are what a commit costs).
        """CREATE TABLE wakeups (
            incident_id TEXT PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
            municipality TEXT NOT NULL,
            at TEXT NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX wakeups_at ON wakeups (at)",
        """CREATE TABLE outbox (
            key TEXT PRIMARY KEY,
            incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
            municipality TEXT NOT NULL,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX outbox_incident ON outbox (incident_id)",
    ),
    (
        # Outbox leases (Store.claim): which engine process may attempt a notification, and until when.
        "ALTER TABLE outbox ADD COLUMN claimed_by TEXT",
        "ALTER TABLE outbox ADD COLUMN claimed_until TEXT",
    ),
)

SCHEMA_VERSION = len(_MIGRATIONS)
"""The schema version this hothat writes (``PRAGMA user_version`` of a migrated file)."""

# Commits written in one transaction at most. 64 already spreads one fsync thin (a few per cent of a commit), and a
# bounded batch keeps the wait of a commit arriving behind it (the B3 report-to-first-send latency) short.
_MAX_BATCH = 64


class IncidentRow(NamedTuple):
    """One incident as :meth:`SqliteStore.incident_rows` reports it.

    ``created_at`` and ``updated_at`` are the ``recorded_at`` of the incident's first and latest event (the
    engine's clock, so a simulated run reports simulated time); an incident committed without events takes
    the wall clock.
    """

    id: str
    municipality: str
    reference: str
    is_open: bool
    version: int
    created_at: datetime
    updated_at: datetime


class _Job:
    """One call waiting for the worker: ``fn`` is ``None`` for a commit (``arg`` is then the ``Commit``)."""

    __slots__ = ("arg", "fn", "future", "loop")

    def __init__(
        self,
        fn: Callable[[sqlite3.Connection, Any], Any] | None,
        arg: Any,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.fn = fn
        self.arg = arg
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()


def _text(value: datetime) -> str:
    # Fixed-width ISO-8601 in UTC with microseconds: sorts as text in time order, so `at <= ?` and ORDER BY
    # work on the column as stored.
    return to_utc(value).isoformat(timespec="microseconds")


_when = datetime.fromisoformat


def _settle(results: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in results:
        if future.cancelled():
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)


class SqliteStore:
    """The :class:`~hothat.store.Store` on one SQLite file.

    Args:
        path: the database file (created if missing, with its ``-wal`` and ``-shm`` companions beside it), or
            ``":memory:"``.
        busy_timeout: seconds a write waits for another process's lock before raising ``StoreError``.
        synchronous: ``"FULL"`` (the default) makes every acknowledged commit survive a power loss;
            ``"NORMAL"`` survives a killed process but may lose the last commits on a power loss or OS crash.
            See ``docs/operations/sqlite.md``.
        check: run ``PRAGMA quick_check`` when opening (reads the whole file; turn off only for huge files).

    Besides the protocol it offers :meth:`incident_rows` (for reports) and :meth:`backup` (online backup).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 5.0,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        check: bool = True,
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', not {synchronous!r}")
        self._path = os.fspath(path)
        self._busy_timeout = busy_timeout
        self._synchronous = synchronous
        self._check = check
        self._conn: sqlite3.Connection | None = None
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"SqliteStore({self._path!r})"

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 5.0,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        check: bool = True,
    ) -> SqliteStore:
        """Create the store and open its file now, so a locked, corrupt or too new file is reported here."""
        store = cls(path, busy_timeout=busy_timeout, synchronous=synchronous, check=check)
        await store._call(_nothing, None)
        return store

    async def __aenter__(self) -> Self:
        await self._call(_nothing, None)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- the Store protocol ----------------------------------------------------------------------------------

    async def commit(self, commit: Commit) -> int:
        """Write ``commit`` atomically (see :class:`~hothat.store.Commit`); returns the new version.

        Returns only once the transaction is on disk. Raises ``ConcurrencyError`` on a stale
        ``expected_version`` (or a reference another incident holds) and ``StoreError`` when the file cannot
        be written (locked, full); in every case nothing of the commit is stored. Cancelling the awaiting
        task does not cancel the write: the commit may still be stored.
        """
        return cast(int, await self._submit(_Job(None, commit, asyncio.get_running_loop())))

    async def load(self, incident_id: str) -> list[StoredEvent]:
        """The whole trail of one incident, oldest first (empty for an unknown incident)."""
        return await self._call(_load, incident_id)

    async def find(self, reference: str) -> str | None:
        """The incident id for a reference number, or ``None``."""
        return await self._call(_find, reference) if reference else None

    async def open_incidents(self) -> list[str]:
        """Ids of all open incidents, oldest first."""
        return await self._call(_ids, "SELECT id FROM incidents WHERE is_open = 1 ORDER BY seq")

    async def incidents(self, *, include_closed: bool = True) -> list[str]:
        """Ids of all incidents (or only the open ones), oldest first."""
        if not include_closed:
            return await self.open_incidents()
        return await self._call(_ids, "SELECT id FROM incidents ORDER BY seq")

    async def due(self, now: datetime, limit: int = 100) -> list[WakeUp]:
        """Wake-ups at or before ``now``, earliest first (ties by incident id), at most ``limit``."""
        return await self._call(_due, (_text(now), max(limit, 0)))

    async def next_wake(self) -> datetime | None:
        """The earliest wake-up of all, or ``None``."""
        return await self._call(_next_wake, None)

    async def outbox(self, incident_id: str | None = None) -> list[OutboxItem]:
        """Unsettled outbox rows (of one incident, or all), oldest ``created_at`` first, ties by key."""
        return await self._call(_outbox, incident_id)

    async def claim(self, key: str, owner: str, until: datetime, *, now: datetime | None = None) -> bool:
        """Lease the unsettled outbox row ``key`` to ``owner`` until ``until`` (see :meth:`Store.claim`)."""
        until, now = lease_times(owner, until, now)
        return await self._call(_claim, (owner, _text(until), key, owner, _text(now)))

    async def stale_outbox(self, now: datetime, limit: int = 100) -> list[OutboxItem]:
        """Unsettled outbox rows without a live lease at ``now``, oldest first, at most ``limit``."""
        return await self._call(_stale_outbox, (_text(now), max(limit, 0)))

    async def purge(self, incident_ids: Sequence[str]) -> int:
        """Remove incidents with their events, wake-ups and outbox rows; returns how many were removed."""
        return await self._call(_purge, list(incident_ids))

    async def close(self) -> None:
        """Finish the queued calls, close the file (checkpointing the WAL) and stop the worker. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._thread is None:
            return
        try:
            await self._submit(_Job(_disconnect, None, asyncio.get_running_loop()))
        finally:
            self._queue.put(None)
            self._thread.join()

    # -- beyond the protocol ---------------------------------------------------------------------------------

    async def incident_rows(self) -> list[IncidentRow]:
        """Every incident's row, oldest first: what a report lists without loading any trail."""
        return await self._call(_incident_rows, None)

    async def backup(self, path: str | os.PathLike[str]) -> None:
        """Copy the database to ``path`` with SQLite's online backup API, consistent while the store runs.

        The copy is one self-contained file (no ``-wal``); an existing file at ``path`` is replaced. Calls
        queued behind the backup wait for it.
        """
        target = os.fspath(path)
        if self._path != ":memory:" and Path(target).resolve() == Path(self._path).resolve():
            raise ValueError(f"backup target {target} is the live database itself; choose another file")
        await self._call(_backup, target)

    # -- the worker ------------------------------------------------------------------------------------------

    async def _call(self, fn: Callable[[sqlite3.Connection, _A], _T], arg: _A) -> _T:
        return cast(_T, await self._submit(_Job(fn, arg, asyncio.get_running_loop())))

    def _submit(self, job: _Job) -> asyncio.Future[Any]:
        if self._closed and job.fn is not _disconnect:
            raise StoreError(f"{self._path}: the store is closed")
        if self._thread is None:
            # A daemon, so a store nobody closed cannot keep the interpreter from exiting; a transaction cut
            # short that way was never acknowledged, and SQLite rolls it back on the next open.
            self._thread = threading.Thread(target=self._work, name=f"hothat-sqlite {self._path}", daemon=True)
            self._thread.start()
        self._queue.put(job)
        return job.future

    def _work(self) -> None:
        """The worker thread: runs jobs in order, gathering consecutive commits into one transaction."""
        carry: list[_Job | None] = []
        while True:
            job = carry.pop() if carry else self._queue.get()
            if job is None:
                return
            jobs = [job]
            while job.fn is None and len(jobs) < _MAX_BATCH:
                try:
                    following = self._queue.get_nowait()
                except queue.Empty:
                    break
                if following is None or following.fn is not None:
                    carry.append(following)  # not a commit: it runs after this batch, in order
                    break
                jobs.append(following)
            try:
                outcomes = self._commit_batch(jobs) if job.fn is None else [self._run(job)]
            except BaseException as exc:  # a bug here must not leave callers waiting forever
                outcomes = [(None, exc)] * len(jobs)
            settled = [(j.loop, j.future, result, error) for j, (result, error) in zip(jobs, outcomes, strict=True)]
            for loop in {entry[0] for entry in settled}:
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
                    loop.call_soon_threadsafe(_settle, [entry[1:] for entry in settled if entry[0] is loop])

    def _run(self, job: _Job) -> tuple[Any, BaseException | None]:
        assert job.fn is not None
        try:
            if job.fn is _disconnect:
                conn, self._conn = self._conn, None
                if conn is not None:
                    conn.close()  # the last connection to close checkpoints the WAL into the file
                return None, None
            return job.fn(self._connection(), job.arg), None
        except sqlite3.Error as exc:
            return None, self._error(exc)
        except Exception as exc:
            return None, exc

    def _commit_batch(self, jobs: list[_Job]) -> list[tuple[Any, BaseException | None]]:
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            return [(None, self._error(exc)) for _ in jobs]
        except StoreError as exc:
            return [(None, StoreError(str(exc))) for _ in jobs]
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            for job in jobs:
                # A savepoint per commit: one refused commit is undone alone, its batch neighbours stay.
                conn.execute("SAVEPOINT hothat_commit")
                try:
                    outcomes.append((_commit(conn, job.arg), None))
                except (
                    ValueError,
                    TypeError,
                    StoreError,
                    sqlite3.IntegrityError,
                    sqlite3.ProgrammingError,
                ) as exc:
                    conn.execute("ROLLBACK TO hothat_commit")
                    outcomes.append((None, _refusal(job.arg, exc)))
                conn.execute("RELEASE hothat_commit")
            conn.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                return [(None, self._error(exc)) for _ in jobs]
            raise
        return outcomes

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        if sqlite3.sqlite_version_info < (3, 24):  # upsert (ON CONFLICT DO UPDATE)
            raise StoreError(f"SQLite {sqlite3.sqlite_version} is too old for hothat: it needs 3.24 or newer")
        try:
            conn = sqlite3.connect(self._path, timeout=self._busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            mode = _use_wal(conn, self._busy_timeout)
            if mode != "wal" and self._path != ":memory:":
                raise StoreError(
                    f"{self._path}: SQLite could not use WAL journal mode here (got {mode!r}); "
                    "put the database on a local file system"
                )
            # `synchronous`: in WAL mode a commit appends to the -wal file. FULL fsyncs that file at every
            # commit, so an acknowledged commit survives a killed process AND a power loss or OS crash. NORMAL
            # fsyncs only at checkpoints: a killed process loses nothing (the OS still has the writes), but a
            # power loss may roll back the last commits (the file stays consistent). We promise that nothing
            # acknowledged is lost, so FULL is the default; its cost, one fsync per transaction, is shared by
            # every commit in a group-commit batch. NORMAL is there for throwaway data (simulations, tests).
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            # Zero deleted content (purged incidents, settled outbox rows) instead of leaving it in free pages:
            # retention must really erase. Some builds default to it, others not; FAST would leave freed pages.
            conn.execute("PRAGMA secure_delete = ON")
            if self._check and conn.execute("PRAGMA quick_check").fetchall() != [("ok",)]:
                raise StoreError(_corrupt(self._path))
            _migrate(conn, self._path)
        except sqlite3.Error as exc:
            conn.close()
            raise self._error(exc) from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def _error(self, exc: sqlite3.Error) -> StoreError:
        """A ``StoreError`` saying what happened to the file and what to do; never the data involved."""
        code = exc.sqlite_errorcode & 0xFF  # the primary result code
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            message = (
                f"{self._path} is locked by another process: gave up after {self._busy_timeout:g} s. "
                "Nothing was written; stop the other program using the file or raise busy_timeout"
            )
        elif code == sqlite3.SQLITE_FULL:
            message = f"the disk holding {self._path} is full: nothing of the write was stored; free space"
        elif code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            message = _corrupt(self._path)
        elif code == sqlite3.SQLITE_CANTOPEN:
            message = f"cannot open {self._path}: check that its folder exists and that hothat may write there"
        elif code == sqlite3.SQLITE_READONLY:
            message = f"{self._path} is read-only: hothat must be able to write the file and its folder"
        else:
            message = f"{self._path}: SQLite failed ({exc.sqlite_errorname}: {exc})"
        error = StoreError(message)
        error.__cause__ = exc
        return error


# -- what the worker runs (module functions: the connection is their first argument) -------------------------


def _nothing(conn: sqlite3.Connection, arg: None) -> None:
    return None


def _disconnect(conn: sqlite3.Connection, arg: None) -> None:
    """Marks the closing job; the worker closes the connection itself (it may never have opened one)."""


def _corrupt(path: str) -> str:
    return (
        f"{path} is not a readable hothat database (damaged, or not SQLite at all). Stop hothat, keep the "
        "file for inspection and restore the latest backup (see docs/operations/sqlite.md)"
    )


def _use_wal(conn: sqlite3.Connection, patience: float) -> str:
    """Switch the file to WAL (once per file; it stays WAL) and return the journal mode in use."""
    deadline = time.monotonic() + patience
    while (mode := conn.execute("PRAGMA journal_mode").fetchone()[0]) != "wal":
        try:
            return cast(str, conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            # The switch needs the file to itself and SQLite does not wait for that with the busy handler:
            # when two processes create the same file at once, one retries here for a while.
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.005)
    return cast(str, mode)


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    """Bring the schema to ``SCHEMA_VERSION``, one transaction per migration."""
    for version in range(conn.execute("PRAGMA user_version").fetchone()[0] + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Read again under the write lock: another process may have migrated while we waited for it.
            found = conn.execute("PRAGMA user_version").fetchone()[0]
            if found == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise StoreError(f"{path} is an SQLite database of another program, not a hothat store")
            if found < version:
                for statement in _MIGRATIONS[version - 1]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {found}, but this hothat knows versions 1 to {SCHEMA_VERSION}: it "
            "was written by a newer hothat. Upgrade hothat (or restore a backup made with this version)"
        )


def _refusal(commit: Commit, exc: Exception) -> Exception:
    """The error a caller gets for its own refused commit, worded without any of its data."""
    if isinstance(exc, sqlite3.IntegrityError):
        return ConcurrencyError(f"incident {commit.incident_id}: a conflicting write got there first")
    if isinstance(exc, sqlite3.ProgrammingError):
        return TypeError(f"incident {commit.incident_id}: a commit field has a type SQLite cannot store")
    if isinstance(exc, UnicodeError):
        return ValueError(f"incident {commit.incident_id}: a text field is not valid Unicode (lone surrogate)")
    return exc


def _commit(conn: sqlite3.Connection, commit: Commit) -> int:
    incident_id = commit.incident_id
    recorded = [_text(event.recorded_at) for event in commit.events]
    wake = _text(commit.wake_at) if commit.wake_at is not None and commit.is_open else None
    row = conn.execute(
        "SELECT version, municipality, reference, is_open FROM incidents WHERE id = ?", (incident_id,)
    ).fetchone()
    found, municipality, reference, was_open = row if row is not None else (0, commit.municipality, "", None)
    if found != commit.expected_version:
        raise ConcurrencyError(f"incident {incident_id}: expected version {commit.expected_version}, found {found}")
    if commit.municipality and commit.municipality != municipality:
        raise ValueError(f"incident {incident_id} is of municipality {municipality!r}, not {commit.municipality!r}")
    if commit.reference and commit.reference != reference:
        holder = conn.execute("SELECT id FROM incidents WHERE reference = ?", (commit.reference,)).fetchone()
        if holder is not None:
            raise ConcurrencyError(f"incident {incident_id}: its reference is already used by incident {holder[0]}")
        reference = commit.reference
    version = found + len(commit.events)
    if row is None:
        created = recorded[0] if recorded else _text(datetime.now(UTC))
        conn.execute(
            "INSERT INTO incidents (id, municipality, reference, is_open, version, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                incident_id,
                municipality,
                reference,
                commit.is_open,
                version,
                created,
                recorded[-1] if recorded else created,
            ),
        )
    elif reference == row[2] and commit.is_open == was_open:
        # Naming an indexed column in SET rewrites its index entry even when the value stays: leave them out.
        conn.execute(
            "UPDATE incidents SET version = ?, updated_at = coalesce(?, updated_at) WHERE id = ?",
            (version, recorded[-1] if recorded else None, incident_id),
        )
    else:
        conn.execute(
            "UPDATE incidents SET reference = ?, is_open = ?, version = ?, updated_at = coalesce(?, updated_at)"
            " WHERE id = ?",
            (reference, commit.is_open, version, recorded[-1] if recorded else None, incident_id),
        )
    if commit.events:
        conn.executemany(
            "INSERT INTO events (incident_id, version, municipality, type, payload, recorded_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (incident_id, found + n, municipality, event.type, event.payload, at)
                for n, (event, at) in enumerate(zip(commit.events, recorded, strict=True), start=1)
            ],
        )
    if wake is None:
        conn.execute("DELETE FROM wakeups WHERE incident_id = ?", (incident_id,))
    else:
        conn.execute(
            "INSERT INTO wakeups (incident_id, municipality, at) VALUES (?, ?, ?)"
            " ON CONFLICT (incident_id) DO UPDATE SET at = excluded.at",
            (incident_id, municipality, wake),
        )
    if commit.outbox_put:
        conn.executemany(
            "INSERT OR IGNORE INTO outbox (key, incident_id, municipality, payload, created_at) VALUES (?, ?, ?, ?, ?)",
            [(o.key, incident_id, municipality, o.payload, _text(o.created_at)) for o in commit.outbox_put],
        )
    if commit.outbox_done:
        conn.executemany(
            "DELETE FROM outbox WHERE key = ? AND incident_id = ?",
            [(key, incident_id) for key in commit.outbox_done],
        )
    return version


def _load(conn: sqlite3.Connection, incident_id: str) -> list[StoredEvent]:
    rows = conn.execute(
        "SELECT version, type, payload, recorded_at FROM events WHERE incident_id = ? ORDER BY version",
        (incident_id,),
    )
    return [StoredEvent(incident_id, version, kind, payload, _when(at)) for version, kind, payload, at in rows]


def _find(conn: sqlite3.Connection, reference: str) -> str | None:
    row = conn.execute("SELECT id FROM incidents WHERE reference = ?", (reference,)).fetchone()
    return None if row is None else cast(str, row[0])


def _ids(conn: sqlite3.Connection, query: str) -> list[str]:
    return [incident_id for (incident_id,) in conn.execute(query)]


def _due(conn: sqlite3.Connection, arg: tuple[str, int]) -> list[WakeUp]:
    rows = conn.execute("SELECT incident_id, at FROM wakeups WHERE at <= ? ORDER BY at, incident_id LIMIT ?", arg)
    return [WakeUp(incident_id, _when(at)) for incident_id, at in rows]


def _next_wake(conn: sqlite3.Connection, arg: None) -> datetime | None:
    (at,) = conn.execute("SELECT min(at) FROM wakeups").fetchone()
    return None if at is None else _when(at)


def _outbox(conn: sqlite3.Connection, incident_id: str | None) -> list[OutboxItem]:
    query = "SELECT key, incident_id, payload, created_at FROM outbox"
    if incident_id is None:
        rows = conn.execute(query + " ORDER BY created_at, key")
    else:
        rows = conn.execute(query + " WHERE incident_id = ? ORDER BY created_at, key", (incident_id,))
    return [OutboxItem(key, owner, payload, _when(at)) for key, owner, payload, at in rows]


def _claim(conn: sqlite3.Connection, arg: tuple[str, str, str, str, str]) -> bool:
    # One statement, so the check and the take are one atomic step (the worker runs in autocommit).
    cursor = conn.execute(
        "UPDATE outbox SET claimed_by = ?, claimed_until = ?"
        " WHERE key = ? AND (claimed_by IS NULL OR claimed_by = ? OR claimed_until <= ?)",
        arg,
    )
    return cursor.rowcount == 1


def _stale_outbox(conn: sqlite3.Connection, arg: tuple[str, int]) -> list[OutboxItem]:
    rows = conn.execute(
        "SELECT key, incident_id, payload, created_at FROM outbox"
        " WHERE claimed_until IS NULL OR claimed_until <= ? ORDER BY created_at, key LIMIT ?",
        arg,
    )
    return [OutboxItem(key, owner, payload, _when(at)) for key, owner, payload, at in rows]


def _purge(conn: sqlite3.Connection, incident_ids: list[str]) -> int:
    if not incident_ids:
        return 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Events, wake-ups and outbox rows go with the incident row (ON DELETE CASCADE).
        removed = conn.executemany("DELETE FROM incidents WHERE id = ?", [(i,) for i in incident_ids]).rowcount
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return removed


def _incident_rows(conn: sqlite3.Connection, arg: None) -> list[IncidentRow]:
    rows = conn.execute(
        "SELECT id, municipality, reference, is_open, version, created_at, updated_at FROM incidents ORDER BY seq"
    )
    return [IncidentRow(i, m, r, bool(o), v, _when(c), _when(u)) for i, m, r, o, v, c, u in rows]


def _backup(conn: sqlite3.Connection, target: str) -> None:
    try:
        copy = sqlite3.connect(target)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot write the backup {target}: check that its folder exists and is writable") from exc
    try:
        conn.backup(copy)
    except sqlite3.Error as exc:
        raise StoreError(f"backup to {target} failed ({exc.sqlite_errorname}); nothing in the store changed") from exc
    finally:
        copy.close()
