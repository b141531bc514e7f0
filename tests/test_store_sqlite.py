"""What only the SQLite store promises: durability, migrations, and clear errors for a file in trouble."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hothat.errors import ConcurrencyError, StoreError
from hothat.store import Commit, EventRecord, OutboxItem, StoredEvent, WakeUp
from hothat.store.sqlite import _MIGRATIONS, SCHEMA_VERSION, IncidentRow, SqliteStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SECRET = "Anna Andersson hotad vid Storgatan 4"  # payload text that must never reach an error message


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def events(*payloads: str) -> tuple[EventRecord, ...]:
    return tuple(EventRecord("Noted", p, T0) for p in payloads)


def full_commit(incident_id: str, expected: int, payload: str = SECRET, *, minutes: float = 5) -> Commit:
    return Commit(
        incident_id,
        expected,
        events(payload, payload),
        wake_at=at(minutes),
        outbox_put=(OutboxItem(f"{incident_id}/{expected}", incident_id, payload, at(0)),),
        reference=f"R-{incident_id}-{expected}",
        municipality="ostra-goinge",
    )


Everything = tuple[list[IncidentRow], list[list[StoredEvent]], list[WakeUp], list[OutboxItem]]


async def everything(store: SqliteStore) -> Everything:
    return (
        await store.incident_rows(),
        [await store.load(i) for i in await store.incidents()],
        await store.due(at(100_000), limit=10_000),
        await store.outbox(),
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "hothat.db"


@pytest.fixture
async def store(path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(path, busy_timeout=0.05) as opened:
        yield opened


async def pragma(store: SqliteStore, name: str) -> object:
    """Run a PRAGMA on the store's own connection (settings like ``synchronous`` are per connection)."""
    return await store._call(lambda conn, _: conn.execute(f"PRAGMA {name}").fetchone()[0], None)


async def test_everything_survives_close_and_reopen(path: Path) -> None:
    async with SqliteStore(path) as store:
        await store.commit(full_commit("inc-1", 0))
        await store.commit(full_commit("inc-2", 0, minutes=1))
        await store.commit(Commit("inc-2", 2, events("closed"), is_open=False, outbox_done=("inc-2/0",)))
        before = await everything(store)

    async with SqliteStore(path) as reopened:
        assert await everything(reopened) == before
        assert await reopened.open_incidents() == ["inc-1"]
        assert await reopened.find("R-inc-1-0") == "inc-1"
        assert await reopened.commit(Commit("inc-1", 2, events("more"))) == 3


async def test_file_is_wal_with_full_sync_foreign_keys_secure_delete_and_current_schema(store: SqliteStore) -> None:
    assert await pragma(store, "journal_mode") == "wal"
    assert await pragma(store, "synchronous") == 2  # FULL
    assert await pragma(store, "foreign_keys") == 1
    assert await pragma(store, "secure_delete") == 1
    assert await pragma(store, "user_version") == SCHEMA_VERSION


async def test_normal_sync_can_be_chosen_for_throwaway_data(path: Path) -> None:
    async with SqliteStore(path, synchronous="NORMAL") as store:
        assert await pragma(store, "synchronous") == 1
    with pytest.raises(ValueError, match="synchronous"):
        SqliteStore(path, synchronous="OFF")  # type: ignore[arg-type]


async def test_construction_does_no_io_and_close_is_idempotent(path: Path) -> None:
    store = SqliteStore(path)
    await store.close()
    await store.close()
    assert not path.exists()
    with pytest.raises(StoreError, match="closed"):
        await store.load("inc-1")


async def test_in_memory_database(tmp_path: Path) -> None:
    async with SqliteStore(":memory:") as store:
        assert await store.commit(full_commit("inc-1", 0)) == 2
        assert await store.due(at(5)) == [WakeUp("inc-1", at(5))]
    assert list(tmp_path.iterdir()) == []


async def test_purged_incidents_leave_no_trace_in_the_file(path: Path) -> None:
    async with SqliteStore(path) as store:
        for n in range(50):
            payload = SECRET * (1 if n % 2 else 200)  # small rows and rows spilling onto overflow pages
            await store.commit(full_commit(f"inc-{n}", 0, payload))
        await store.commit(Commit("kept", 0, events("kept")))
        assert await store.purge([f"inc-{n}" for n in range(50)]) == 50

    assert not Path(f"{path}-wal").exists()
    assert SECRET.encode() not in path.read_bytes()


async def test_incident_rows_report_each_incident(store: SqliteStore) -> None:
    await store.commit(Commit("inc-1", 0, (EventRecord("Reported", "{}", at(1)),), reference="OX-1", municipality="m"))
    await store.commit(Commit("inc-1", 1, (EventRecord("Closed", "{}", at(9)),), is_open=False))

    assert await store.incident_rows() == [IncidentRow("inc-1", "m", "OX-1", False, 2, at(1), at(9))]


async def test_newer_schema_is_refused_and_says_to_upgrade(path: Path) -> None:
    async with SqliteStore(path):
        pass
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()

    with pytest.raises(StoreError) as refused:
        await SqliteStore.open(path)

    message = str(refused.value)
    assert str(path) in message
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert f"versions 1 to {SCHEMA_VERSION}" in message
    assert "Upgrade hothat" in message


async def test_a_version_1_file_is_migrated_and_its_outbox_rows_can_be_claimed(path: Path) -> None:
    with sqlite3.connect(path, isolation_level=None) as raw:
        for statement in _MIGRATIONS[0]:  # the schema as hothat 0.1 wrote it, before outbox leases
            raw.execute(statement)
        raw.execute("PRAGMA user_version = 1")
        when = T0.isoformat(timespec="microseconds")
        raw.execute("INSERT INTO incidents VALUES (1, 'inc-1', 'm', 'R-1', 1, 1, ?, ?)", (when, when))
        raw.execute("INSERT INTO outbox VALUES ('k', 'inc-1', 'm', '{}', ?)", (when,))
    raw.close()

    async with SqliteStore(path) as store:
        assert await pragma(store, "user_version") == SCHEMA_VERSION == 2
        assert await store.outbox() == [OutboxItem("k", "inc-1", "{}", T0)]
        assert await store.stale_outbox(at(0)) == [OutboxItem("k", "inc-1", "{}", T0)]
        assert await store.claim("k", "engine-1", at(1), now=at(0))
        assert not await store.claim("k", "engine-2", at(1), now=at(0))
        assert await store.find("R-1") == "inc-1"


async def test_garbage_file_is_refused_naming_it_and_the_backup(path: Path) -> None:
    path.write_bytes(b"this is not a database, " * 500)

    with pytest.raises(StoreError) as refused:
        await SqliteStore.open(path)

    assert str(path) in str(refused.value)
    assert "restore the latest backup" in str(refused.value)


async def test_damaged_pages_are_found_at_open(path: Path) -> None:
    async with SqliteStore(path) as store:
        for n in range(200):
            await store.commit(full_commit(f"inc-{n}", 0))
    with path.open("r+b") as damaged:
        damaged.seek(4096 * 3)
        damaged.write(os.urandom(4096 * 4))

    with pytest.raises(StoreError, match="restore the latest backup"):
        await SqliteStore.open(path)


async def test_database_of_another_program_is_refused(path: Path) -> None:
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE customers (name TEXT)")
    raw.close()

    with pytest.raises(StoreError, match="another program"):
        await SqliteStore.open(path)


async def test_missing_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="folder exists"):
        await SqliteStore.open(tmp_path / "no-such-folder" / "hothat.db")


async def test_two_stores_opening_a_new_file_at_once_both_work(path: Path) -> None:
    first, second = await asyncio.gather(SqliteStore.open(path), SqliteStore.open(path))
    try:
        await first.commit(full_commit("inc-1", 0))
        assert len(await second.load("inc-1")) == 2
    finally:
        await first.close()
        await second.close()


async def test_locked_database_is_reported_and_nothing_is_written(path: Path, store: SqliteStore) -> None:
    await store.commit(full_commit("inc-1", 0))
    before = await everything(store)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(StoreError, match="locked by another process") as refused:
            await store.commit(full_commit("inc-1", 2))
        assert str(path) in str(refused.value)
        assert SECRET not in str(refused.value)
        assert await everything(store) == before
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert await store.commit(full_commit("inc-1", 2)) == 4


async def test_commit_failing_midway_leaves_nothing(path: Path, store: SqliteStore) -> None:
    await store.commit(full_commit("inc-1", 0))
    # A rogue writer appends version 3 without moving the incident's version: our insert of the
    # events 3 and 4 collides after the incident row was already updated in the transaction.
    with sqlite3.connect(path) as rogue:
        rogue.execute("INSERT INTO events VALUES ('inc-1', 3, 'ostra-goinge', 'Rogue', '{}', ?)", (T0.isoformat(),))
    rogue.close()
    before = await everything(store)

    with pytest.raises(ConcurrencyError) as refused:
        await store.commit(full_commit("inc-1", 2, minutes=1))

    assert SECRET not in str(refused.value)
    assert await everything(store) == before
    assert await store.find("R-inc-1-2") is None


async def test_one_refused_commit_in_a_group_leaves_the_others_stored(store: SqliteStore) -> None:
    await store.commit(full_commit("stale", 0))
    gate = threading.Event()
    # Hold the worker so the commits below queue up and are written as one group.
    held = asyncio.ensure_future(store._call(lambda conn, _: gate.wait(5), None))
    commits = [
        full_commit("a", 0),
        full_commit("stale", 0),  # stale: it is at version 2
        full_commit("b", 0),
        Commit("b", 2, events("and more")),  # sees b's first commit, in the same transaction
        Commit("c", 0, events("x"), reference="R-a-0"),  # a's reference, taken earlier in the same group
    ]
    tasks = [asyncio.ensure_future(store.commit(c)) for c in commits]
    asyncio.get_running_loop().call_soon(gate.set)

    outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    assert await held
    assert outcomes[0] == 2
    assert isinstance(outcomes[1], ConcurrencyError)
    assert outcomes[2:4] == [2, 3]
    assert isinstance(outcomes[4], ConcurrencyError)
    assert await store.incidents() == ["stale", "a", "b"]
    assert len(await store.load("stale")) == 2
    assert [o.key for o in await store.outbox()] == ["a/0", "b/0", "stale/0"]


async def test_full_disk_is_reported_and_rolled_back(store: SqliteStore) -> None:
    await store.commit(full_commit("inc-1", 0))
    before = await everything(store)
    pages = await pragma(store, "page_count")
    await pragma(store, f"max_page_count = {pages}")  # the file may not grow: as if the disk were full

    with pytest.raises(StoreError, match=r"disk holding .* is full") as refused:
        await store.commit(full_commit("inc-1", 2, "x" * 100_000))

    assert SECRET not in str(refused.value)
    assert await everything(store) == before
    await pragma(store, "max_page_count = 1000000")
    assert await store.commit(full_commit("inc-1", 2)) == 4


CHILD = """
import asyncio, sys
from datetime import UTC, datetime
from hothat.store import Commit, EventRecord
from hothat.store.sqlite import SqliteStore

async def main() -> None:
    store = await SqliteStore.open(sys.argv[1])
    for n in range(int(sys.argv[2])):
        await store.commit(Commit("inc-1", n, (EventRecord("Noted", str(n), datetime.now(UTC)),)))
    print("ok", flush=True)
    sys.stdin.readline()  # wait to be killed, the store still open

asyncio.run(main())
"""


def test_acknowledged_commits_survive_a_killed_process(path: Path) -> None:
    count = 50
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "ok\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert child.stdout is not None
        assert child.stdin is not None
        child.stdout.close()
        child.stdin.close()
    assert child.returncode == -signal.SIGKILL
    assert Path(f"{path}-wal").exists()  # killed before any clean close checkpointed it

    async def reopen() -> list[str]:
        async with SqliteStore(path) as store:
            return [e.payload for e in await store.load("inc-1")]

    assert asyncio.run(reopen()) == [str(n) for n in range(count)]


async def test_backup_is_a_consistent_standalone_copy(path: Path, tmp_path: Path, store: SqliteStore) -> None:
    for n in range(20):
        await store.commit(full_commit(f"inc-{n}", 0))
    copy = tmp_path / "backup" / "hothat-2026-03-02.db"
    copy.parent.mkdir()

    await store.backup(copy)
    await store.commit(full_commit("after-the-backup", 0))

    assert not Path(f"{copy}-wal").exists()
    async with SqliteStore(copy) as restored:
        assert await restored.incidents() == [f"inc-{n}" for n in range(20)]
        assert await everything(restored) == await everything_but(store, "after-the-backup")


async def everything_but(store: SqliteStore, incident_id: str) -> Everything:
    rows, trails, due, outbox = await everything(store)
    return (
        [r for r in rows if r.id != incident_id],
        [t for t in trails if t and t[0].incident_id != incident_id],
        [w for w in due if w.incident_id != incident_id],
        [o for o in outbox if o.incident_id != incident_id],
    )


async def test_backup_refuses_the_live_file_and_a_missing_folder(path: Path, tmp_path: Path) -> None:
    async with SqliteStore(path) as store:
        with pytest.raises(ValueError, match="live database"):
            await store.backup(path)
        with pytest.raises(StoreError, match="cannot write the backup"):
            await store.backup(tmp_path / "missing" / "copy.db")
