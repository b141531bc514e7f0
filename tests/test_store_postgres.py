"""What only the PostgreSQL store promises: tenancy, several processes on one database, migrations, clear errors.

The shared behaviour is in ``test_store_contract.py``. Here several stores on one database stand in for several
engine processes: each store has its own connections and its own lease owner id.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pg_kit
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import SecretStr

from hothat.errors import ConcurrencyError, StoreError
from hothat.store import Commit, EventRecord, OutboxItem, Store, WakeUp
from hothat.store.postgres import SCHEMA_VERSION, PostgresStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
PASSWORD = "hemligt-lösenord-7"  # a test role's password: it must never reach a message


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def events(*payloads: str) -> tuple[EventRecord, ...]:
    return tuple(EventRecord("Noted", p, T0) for p in payloads)


@pytest.fixture
def cluster(pytestconfig: pytest.Config) -> pg_kit.Cluster:
    return pg_kit.cluster(pytestconfig)


@pytest.fixture
def dsn(cluster: pg_kit.Cluster) -> str:
    return cluster.fresh_dsn()


def schema_of(dsn: str) -> str:
    return str(conninfo_to_dict(dsn)["options"]).split("=")[-1]


Opener = Callable[..., Awaitable[PostgresStore]]


@pytest.fixture
async def open_store(dsn: str) -> AsyncIterator[Opener]:
    """Opens stores on the test's schema (``municipality`` defaults to ``oxelosund``); closes them at the end."""
    opened: list[PostgresStore] = []

    async def open_one(municipality: str = "oxelosund", **kwargs: Any) -> PostgresStore:
        store = await PostgresStore.open(dsn, municipality=municipality, **kwargs)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.close()


# -- tenancy -------------------------------------------------------------------------------------------------


async def test_two_municipalities_in_one_database_never_see_each_other(open_store: Opener) -> None:
    oxelosund, tibro = await open_store("oxelosund"), await open_store("tibro")
    for store, text in [(oxelosund, "hot i Oxelösund"), (tibro, "hat i Tibro")]:
        # The same incident id, reference and outbox key in both: each municipality has its own.
        await store.commit(
            Commit(
                "inc-1",
                0,
                events(text),
                wake_at=at(60),
                outbox_put=(OutboxItem("inc-1:k", "inc-1", text, T0),),
                reference="2026-0001",
            )
        )
    await oxelosund.commit(Commit("inc-2", 0, events("bara Oxelösund"), wake_at=at(30)))

    assert [e.payload for e in await tibro.load("inc-1")] == ["hat i Tibro"]
    assert await tibro.load("inc-2") == []
    assert await tibro.incidents() == ["inc-1"]
    assert await tibro.open_incidents() == ["inc-1"]
    assert await tibro.find("2026-0001") == "inc-1"
    assert [o.payload for o in await tibro.outbox()] == ["hat i Tibro"]
    assert await tibro.due(at(45)) == []
    assert await tibro.next_wake() == at(60)
    assert await oxelosund.next_wake() == at(30)

    # Claims, settling and purging stay within the municipality too.
    assert await tibro.claim("inc-1:k", "tibro-engine", at(90), now=T0)
    assert await oxelosund.claim("inc-1:k", "oxelosund-engine", at(90), now=T0)
    with pytest.raises(ConcurrencyError):
        await tibro.commit(Commit("inc-2", 1, events("not Tibro's")))
    assert await tibro.purge(["inc-1", "inc-2"]) == 1
    assert [e.payload for e in await oxelosund.load("inc-1")] == ["hot i Oxelösund"]
    assert await oxelosund.incidents() == ["inc-1", "inc-2"]
    assert [o.payload for o in await oxelosund.stale_outbox(at(100))] == ["hot i Oxelösund"]


async def test_a_commit_of_another_municipality_is_refused(open_store: Opener) -> None:
    store = await open_store("oxelosund")

    with pytest.raises(ValueError, match="'oxelosund' \\(this store's\\), not 'tibro'"):
        await store.commit(Commit("inc-1", 0, events("a"), municipality="tibro"))
    assert await store.incidents() == []
    assert await store.commit(Commit("inc-1", 0, events("a"), municipality="oxelosund")) == 1


def test_a_store_needs_a_municipality() -> None:
    with pytest.raises(ValueError, match="municipality"):
        PostgresStore("host=127.0.0.1", municipality="")


# -- several processes: claimed wake-ups ---------------------------------------------------------------------


async def test_a_due_wake_up_goes_to_one_store_until_its_lease_runs_out(open_store: Opener) -> None:
    first, second = await open_store(lease=LEASE), await open_store(lease=LEASE)
    await first.commit(Commit("inc-1", 0, events("a"), wake_at=at(10)))

    assert await first.due(at(10)) == [WakeUp("inc-1", at(10))]
    assert await second.due(at(10)) == []
    assert await first.due(at(11)) == []  # its own lease too: due() hands a wake-up out once
    # The scheduler must not spin on a wake-up someone else holds: it is next free when the lease ends.
    assert await second.next_wake() == at(10) + LEASE

    # Its holder died: the lease runs out and the wake-up is due again, for anyone.
    assert await second.due(at(10) + LEASE) == [WakeUp("inc-1", at(10))]


async def test_a_commit_setting_or_clearing_the_wake_up_ends_its_lease(open_store: Opener) -> None:
    first, second = await open_store(lease=LEASE), await open_store(lease=LEASE)
    await first.commit(Commit("inc-1", 0, events("a"), wake_at=at(10)))
    await first.commit(Commit("inc-2", 0, events("a"), wake_at=at(10)))
    assert len(await first.due(at(10))) == 2

    await first.commit(Commit("inc-1", 1, events("escalated"), wake_at=at(20)))
    await first.commit(Commit("inc-2", 1, events("closed"), is_open=False))

    assert await second.next_wake() == at(20)
    assert await second.due(at(20)) == [WakeUp("inc-1", at(20))]


async def test_due_hands_out_small_batches_so_stores_share_the_work(open_store: Opener) -> None:
    stores = [await open_store(lease=LEASE, due_batch=3) for _ in range(3)]
    for n in range(10):
        await stores[0].commit(Commit(f"inc-{n}", 0, events("a"), wake_at=at(n)))

    handed = [await store.due(at(100), limit=500) for store in stores]

    assert [[w.incident_id for w in batch] for batch in handed] == [
        ["inc-0", "inc-1", "inc-2"],
        ["inc-3", "inc-4", "inc-5"],
        ["inc-6", "inc-7", "inc-8"],
    ]
    assert await stores[0].due(at(100), limit=500) == [WakeUp("inc-9", at(9))]
    assert await stores[1].due(at(100), limit=500) == []


async def test_concurrent_due_calls_of_many_stores_hand_each_wake_up_out_once(open_store: Opener) -> None:
    stores = [await open_store(lease=LEASE, due_batch=7, pool_size=4) for _ in range(4)]
    ids = [f"inc-{n:03}" for n in range(120)]
    await asyncio.gather(*(stores[0].commit(Commit(i, 0, events("a"), wake_at=at(1))) for i in ids))

    async def drain(store: PostgresStore) -> list[str]:
        taken: list[str] = []
        while batch := await store.due(at(5), limit=500):
            taken += [w.incident_id for w in batch]
        return taken

    handed = await asyncio.gather(*(drain(store) for store in stores for _ in range(3)))

    everything = [i for batch in handed for i in batch]
    assert sorted(everything) == ids  # each exactly once


async def test_a_lease_of_zero_claims_nothing(open_store: Opener) -> None:
    first, second = await open_store(lease=timedelta(0)), await open_store(lease=timedelta(0))
    await first.commit(Commit("inc-1", 0, events("a"), wake_at=at(10)))

    assert await first.due(at(10)) == [WakeUp("inc-1", at(10))]
    assert await second.due(at(10)) == [WakeUp("inc-1", at(10))]
    assert await second.next_wake() == at(10)


# -- several processes: optimistic concurrency and outbox leases --------------------------------------------


async def test_racing_writers_of_one_incident_lose_nothing_and_never_overwrite(open_store: Opener) -> None:
    stores = [await open_store(pool_size=4) for _ in range(3)]
    await stores[0].commit(Commit("inc-1", 0, events("reported")))

    async def append(store: PostgresStore, writer: int, count: int) -> int:
        conflicts = 0
        for n in range(count):
            while True:  # what the engine does on a conflict: reload, then try again
                version = len(await store.load("inc-1"))
                try:
                    await store.commit(Commit("inc-1", version, events(f"{writer}/{n}")))
                    break
                except ConcurrencyError:
                    conflicts += 1
        return conflicts

    conflicts = await asyncio.gather(*(append(store, w, 15) for w, store in enumerate(stores * 2)))

    trail = await stores[1].load("inc-1")
    assert [e.version for e in trail] == list(range(1, 92))
    assert sorted(e.payload for e in trail[1:]) == sorted(f"{w}/{n}" for w in range(6) for n in range(15))
    assert sum(conflicts) > 0  # they really raced


async def test_of_many_simultaneous_first_commits_one_wins(open_store: Opener) -> None:
    stores = [await open_store(pool_size=5) for _ in range(3)]

    async def create(store: PostgresStore, n: int) -> int | str:
        try:
            return await store.commit(Commit("inc-1", 0, events(f"writer {n}"), reference="R-1"))
        except ConcurrencyError as exc:
            return str(exc)

    outcomes = await asyncio.gather(*(create(store, n) for n, store in enumerate(stores * 5)))

    assert outcomes.count(1) == 1
    # Every loser got a ConcurrencyError (its wording depends on which check the race reached: version or reference).
    assert all(isinstance(o, str) for o in outcomes if o != 1)
    assert len(await stores[2].load("inc-1")) == 1


async def test_simultaneous_claims_from_many_stores_have_one_winner(open_store: Opener) -> None:
    stores = [await open_store(pool_size=8) for _ in range(3)]
    await stores[0].commit(Commit("inc-1", 0, outbox_put=(OutboxItem("k", "inc-1", "{}", T0),)))
    now = datetime.now(UTC)

    won = await asyncio.gather(
        *(store.claim("k", f"{store.owner}/{n}", now + LEASE) for store in stores for n in range(10))
    )

    assert won.count(True) == 1
    assert await stores[1].stale_outbox(now) == []
    assert [o.key for o in await stores[1].stale_outbox(now + LEASE)] == ["k"]


async def test_owner_ids_differ_per_store(open_store: Opener) -> None:
    first, second = await open_store(), await open_store()

    assert first.owner != second.owner
    assert first.municipality == "oxelosund"


# -- schema --------------------------------------------------------------------------------------------------


async def test_the_schema_is_created_once_even_by_stores_starting_together(dsn: str) -> None:
    stores = await asyncio.gather(*(PostgresStore.open(dsn, municipality=f"m{n}") for n in range(4)))
    for store in stores:
        await store.close()

    with psycopg.connect(dsn) as conn:
        versions = conn.execute("SELECT version FROM hothat_schema_version").fetchall()
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()").fetchone()
    assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]
    assert tables == (5,)  # incidents, events, wakeups, outbox and hothat_schema_version


async def test_a_newer_schema_is_refused_and_says_to_upgrade(dsn: str) -> None:
    async with PostgresStore(dsn, municipality="oxelosund") as store:
        await store.commit(Commit("inc-1", 0, events("a")))
    with psycopg.connect(dsn) as conn:
        conn.execute("INSERT INTO hothat_schema_version (version) VALUES (%s)", (SCHEMA_VERSION + 1,))

    with pytest.raises(StoreError) as refused:
        await PostgresStore.open(dsn, municipality="oxelosund")

    message = str(refused.value)
    assert "'hothat_test' on 127.0.0.1:" in message
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert f"versions 1 to {SCHEMA_VERSION}" in message
    assert "Upgrade hothat" in message


async def test_a_user_without_rights_on_the_schema_is_told_what_to_grant(cluster: pg_kit.Cluster, dsn: str) -> None:
    schema = schema_of(dsn)
    role = f"reader_{schema}"
    cluster.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
    reader = make_conninfo(dsn, user=role, password=PASSWORD)

    with pytest.raises(StoreError, match="no schema to create hothat's tables in") as refused:
        await PostgresStore.open(reader, municipality="oxelosund")
    assert PASSWORD not in _messages(refused.value)

    cluster.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
    with pytest.raises(StoreError, match=r"may not create hothat's tables\. Grant it CREATE") as refused:
        await PostgresStore.open(reader, municipality="oxelosund")
    assert PASSWORD not in _messages(refused.value)


async def test_texts_postgres_cannot_hold_are_refused_without_echoing_them(open_store: Opener) -> None:
    store = await open_store()

    with pytest.raises(ValueError, match="cannot store") as refused:
        await store.commit(Commit("inc-\x00-1", 0, events("Anna Andersson")))
    assert "Anna" not in str(refused.value)
    with pytest.raises(ValueError, match="Unicode"):
        await store.commit(Commit("inc-1", 0, events("half a pair \ud83d")))
    assert await store.incidents() == []


# -- errors --------------------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _messages(exc: BaseException) -> str:
    """Everything an error carries that a log could show: its text and its whole cause chain."""
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None:
        parts.append(f"{current!s} {current!r}")
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


async def test_nothing_listening_is_reported_with_host_and_database_and_no_password() -> None:
    port = _closed_port()
    store = PostgresStore(
        SecretStr(f"postgresql://hothat:{PASSWORD}@127.0.0.1:{port}/kommunen"),
        municipality="oxelosund",
        connect_timeout=2,
    )

    with pytest.raises(StoreError) as refused:
        await store.load("inc-1")

    message = str(refused.value)
    assert f"PostgreSQL database 'kommunen' on 127.0.0.1:{port} as hothat" in message
    assert "is PostgreSQL running" in message
    assert PASSWORD not in _messages(refused.value)
    assert PASSWORD not in repr(store)


async def test_a_wrong_password_is_reported_as_a_refused_login(cluster: pg_kit.Cluster, dsn: str) -> None:
    role = f"guarded_{schema_of(dsn)}"
    cluster.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'the-right-one'")
    wrong = make_conninfo(dsn, user=role, password=PASSWORD)

    with pytest.raises(StoreError, match="refused the login") as refused:
        await PostgresStore.open(wrong, municipality="oxelosund")

    assert f"as {role}" in str(refused.value)
    assert PASSWORD not in _messages(refused.value)


async def test_a_missing_database_and_a_malformed_dsn_are_named_without_the_password(dsn: str) -> None:
    with pytest.raises(StoreError, match=r"'finns_inte'.*the database does not exist"):
        await PostgresStore.open(make_conninfo(dsn, dbname="finns_inte"), municipality="oxelosund")

    malformed = f"host=127.0.0.1 password=hemligt {PASSWORD}"  # a space: the parser quotes the password's end
    with pytest.raises(StoreError, match="malformed") as refused:
        await PostgresStore.open(malformed, municipality="oxelosund")
    assert PASSWORD not in _messages(refused.value)
    assert PASSWORD not in repr(PostgresStore(malformed, municipality="oxelosund"))


async def test_a_lost_connection_fails_one_call_and_the_next_one_reconnects(
    cluster: pg_kit.Cluster, open_store: Opener
) -> None:
    store = await open_store(pool_size=1)
    await store.commit(Commit("inc-1", 0, events("a")))
    # An administrator (or a failover) ends every connection of the store.
    cluster.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'hothat'")

    with pytest.raises(StoreError, match="the database failed"):
        await store.load("inc-1")

    assert [e.payload for e in await store.load("inc-1")] == ["a"]


async def test_a_closed_store_says_so(open_store: Opener) -> None:
    store = await open_store()
    await store.close()

    with pytest.raises(StoreError, match="closed"):
        await store.incidents()


def test_hothat_never_imports_psycopg_by_itself() -> None:
    code = "import sys, hothat, hothat.store, hothat.store.postgres, hothat.engine; sys.exit('psycopg' in sys.modules)"

    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_the_store_satisfies_the_protocol() -> None:
    assert isinstance(PostgresStore("host=127.0.0.1", municipality="m"), Store)
