"""The store contract: every store behaves alike. A new store joins by adding a factory to ``FACTORIES``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pg_kit
import pytest

from hothat.errors import ConcurrencyError
from hothat.store import Commit, EventRecord, MemoryStore, OutboxItem, Store, WakeUp
from hothat.store.postgres import PostgresStore
from hothat.store.sqlite import SqliteStore


async def _memory(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return MemoryStore()


async def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return await SqliteStore.open(tmp_path / "hothat.db")


async def _postgres(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    # Emptied tables per test. `due()` claims nothing here (lease 0): the contract's due() is the one every store
    # shares; what claiming adds is in test_store_postgres.py. One connection, so that commits gathered in
    # one order are stored in it (with several, "oldest first" among concurrent commits is the database's order).
    dsn = pg_kit.cluster(request.config).emptied_dsn("contract")
    return await PostgresStore.open(dsn, municipality="ostra-goinge", lease=timedelta(0), pool_size=1)


FACTORIES: dict[str, Callable[[pytest.FixtureRequest, Path], Awaitable[Store]]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "postgres": _postgres,
}


@pytest.fixture(params=sorted(FACTORIES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await FACTORIES[request.param](request, tmp_path)
    yield opened
    await opened.close()


T0 = datetime(2026, 3, 2, 9, 15, 30, 123456, tzinfo=UTC)
STOCKHOLM_SUMMER = timezone(timedelta(hours=2))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def events(*payloads: str, when: datetime = T0) -> tuple[EventRecord, ...]:
    return tuple(EventRecord("Noted", p, when) for p in payloads)


def item(incident_id: str, key: str, minutes: float = 0, payload: str = "{}") -> OutboxItem:
    return OutboxItem(key, incident_id, payload, at(minutes))


async def snapshot(store: Store, incident_id: str) -> tuple[object, ...]:
    """Everything a reader can see of one incident and of the store."""
    return (
        await store.load(incident_id),
        await store.outbox(),
        await store.due(at(10_000)),
        await store.next_wake(),
        await store.incidents(),
        await store.open_incidents(),
    )


async def test_is_a_store(store: Store) -> None:
    assert isinstance(store, Store)


async def test_trail_round_trips_exact_payloads_in_order(store: Store) -> None:
    payloads = [
        '{"text": "Hot mot förtroendevald i Östra Göinge, ärende 12"}',
        '{"emoji": "🚨", "quote": "\\"citat\\"", "newline": "rad 1\\nrad 2"}',
        "",
        "tab\tand real\nnewline, NUL \x00 inside",
        '{"long": "' + "å" * 50_000 + '"}',
    ]
    assert await store.commit(Commit("inc-1", 0, events(*payloads[:2]))) == 2
    assert await store.commit(Commit("inc-1", 2, events(*payloads[2:]))) == 5

    trail = await store.load("inc-1")

    assert [e.payload for e in trail] == payloads
    assert [e.version for e in trail] == [1, 2, 3, 4, 5]
    assert {(e.incident_id, e.type, e.recorded_at) for e in trail} == {("inc-1", "Noted", T0)}


async def test_unknown_incident_has_an_empty_trail(store: Store) -> None:
    assert await store.load("nobody") == []


async def test_commit_without_events_keeps_the_version(store: Store) -> None:
    await store.commit(Commit("inc-1", 0, events("a")))
    assert await store.commit(Commit("inc-1", 1, wake_at=at(5))) == 1
    assert await store.commit(Commit("inc-1", 1, events("b"))) == 2


async def test_stale_version_is_refused_and_writes_nothing(store: Store) -> None:
    await store.commit(
        Commit("inc-1", 0, events("a", "b"), wake_at=at(5), outbox_put=(item("inc-1", "k1"),), reference="R-1")
    )
    before = await snapshot(store, "inc-1")

    stale = Commit(
        "inc-1",
        1,
        events("lost"),
        wake_at=at(1),
        outbox_put=(item("inc-1", "k2"),),
        outbox_done=("k1",),
        is_open=False,
        reference="R-2",
    )
    with pytest.raises(ConcurrencyError, match="expected version 1, found 2"):
        await store.commit(stale)

    assert await snapshot(store, "inc-1") == before
    assert await store.find("R-1") == "inc-1"
    assert await store.find("R-2") is None


async def test_new_incident_with_a_version_is_refused_and_not_created(store: Store) -> None:
    with pytest.raises(ConcurrencyError):
        await store.commit(Commit("inc-1", 3, events("a"), wake_at=at(1)))

    assert await store.incidents() == []
    assert await store.next_wake() is None
    assert await store.commit(Commit("inc-1", 0, events("a"))) == 1


async def test_wake_up_is_set_moved_and_cleared(store: Store) -> None:
    await store.commit(Commit("inc-1", 0, events("a"), wake_at=at(10)))
    assert await store.due(at(9)) == []
    assert await store.due(at(10)) == [WakeUp("inc-1", at(10))]

    await store.commit(Commit("inc-1", 1, wake_at=at(30)))
    assert await store.due(at(29)) == []
    assert await store.next_wake() == at(30)

    await store.commit(Commit("inc-1", 1, wake_at=None))
    assert await store.due(at(10_000)) == []
    assert await store.next_wake() is None


async def test_due_is_earliest_first_ties_by_id_and_limited(store: Store) -> None:
    for incident_id, minutes in [("c", 3), ("b", 1), ("a", 3), ("d", 2), ("e", 9)]:
        await store.commit(Commit(incident_id, 0, events("x"), wake_at=at(minutes)))

    assert await store.due(at(5)) == [
        WakeUp("b", at(1)),
        WakeUp("d", at(2)),
        WakeUp("a", at(3)),
        WakeUp("c", at(3)),
    ]
    assert await store.due(at(5), limit=2) == [WakeUp("b", at(1)), WakeUp("d", at(2))]
    assert await store.due(at(5), limit=0) == []
    assert await store.next_wake() == at(1)


async def test_closed_incident_has_no_wake_up(store: Store) -> None:
    await store.commit(Commit("inc-1", 0, events("a"), wake_at=at(1)))
    await store.commit(Commit("inc-1", 1, events("closed"), wake_at=at(2), is_open=False))

    assert await store.due(at(10)) == []
    assert await store.next_wake() is None


async def test_outbox_put_is_idempotent_on_key(store: Store) -> None:
    await store.commit(Commit("inc-1", 0, events("a"), outbox_put=(item("inc-1", "k1", payload='{"n": 1}'),)))
    await store.commit(Commit("inc-1", 1, outbox_put=(item("inc-1", "k1", minutes=5, payload='{"n": 2}'),)))

    assert await store.outbox() == [item("inc-1", "k1", payload='{"n": 1}')]


async def test_outbox_is_oldest_first_per_incident_and_settles(store: Store) -> None:
    await store.commit(Commit("a", 0, events("x"), outbox_put=(item("a", "a-late", 7), item("a", "a-early", 1))))
    await store.commit(Commit("b", 0, events("x"), outbox_put=(item("b", "b-mid", 4), item("b", "a-tie", 7))))

    assert [o.key for o in await store.outbox()] == ["a-early", "b-mid", "a-late", "a-tie"]  # ties by key
    assert [o.key for o in await store.outbox("b")] == ["b-mid", "a-tie"]
    assert await store.outbox("nobody") == []

    await store.commit(Commit("a", 1, outbox_done=("a-early", "b-mid", "no-such-key")))

    # "b-mid" is b's row, not a's to settle.
    assert [o.key for o in await store.outbox()] == ["b-mid", "a-late", "a-tie"]


async def test_settled_key_can_be_put_again(store: Store) -> None:
    await store.commit(Commit("a", 0, outbox_put=(item("a", "k"),)))
    await store.commit(Commit("a", 0, outbox_done=("k",)))
    await store.commit(Commit("a", 0, outbox_put=(item("a", "k", minutes=3),)))

    assert await store.outbox() == [item("a", "k", minutes=3)]


async def test_put_and_settle_in_one_commit(store: Store) -> None:
    await store.commit(Commit("a", 0, outbox_put=(item("a", "old"),)))
    await store.commit(Commit("a", 0, outbox_put=(item("a", "new"),), outbox_done=("old",)))

    assert [o.key for o in await store.outbox()] == ["new"]


async def test_find_by_reference(store: Store) -> None:
    await store.commit(Commit("inc-1", 0, events("a"), reference="OX-2026-0001"))
    await store.commit(Commit("inc-2", 0, events("a")))

    assert await store.find("OX-2026-0001") == "inc-1"
    assert await store.find("OX-2026-0002") is None
    assert await store.find("") is None

    await store.commit(Commit("inc-1", 1, events("b")))  # an empty reference keeps it
    assert await store.find("OX-2026-0001") == "inc-1"

    await store.commit(Commit("inc-1", 2, reference="OX-2026-0009"))  # a new one replaces it
    assert await store.find("OX-2026-0009") == "inc-1"
    assert await store.find("OX-2026-0001") is None


async def test_reference_of_another_incident_is_refused(store: Store) -> None:
    await store.commit(Commit("inc-1", 0, events("a"), reference="OX-1"))
    await store.commit(Commit("inc-2", 0, events("a"), wake_at=at(3)))
    before = await snapshot(store, "inc-2")

    with pytest.raises(ConcurrencyError, match="reference"):
        await store.commit(Commit("inc-2", 1, events("b"), wake_at=at(1), reference="OX-1"))

    assert await snapshot(store, "inc-2") == before
    assert await store.find("OX-1") == "inc-1"


async def test_municipality_is_fixed_by_the_first_commit(store: Store) -> None:
    await store.commit(Commit("inc-1", 0, events("a"), municipality="ostra-goinge"))
    assert await store.commit(Commit("inc-1", 1, events("b"))) == 2
    assert await store.commit(Commit("inc-1", 2, events("c"), municipality="ostra-goinge")) == 3

    with pytest.raises(ValueError, match="municipality"):
        await store.commit(Commit("inc-1", 3, events("d"), municipality="tibro"))
    assert len(await store.load("inc-1")) == 3


async def test_open_incidents_and_all_incidents_oldest_first(store: Store) -> None:
    for incident_id in ["m", "z", "a"]:
        await store.commit(Commit(incident_id, 0, events("x")))
    await store.commit(Commit("z", 1, events("closed"), is_open=False))

    assert await store.incidents() == ["m", "z", "a"]
    assert await store.incidents(include_closed=False) == ["m", "a"]
    assert await store.open_incidents() == ["m", "a"]

    await store.commit(Commit("z", 2, events("reopened"), is_open=True))
    assert await store.open_incidents() == ["m", "z", "a"]


async def test_purge_removes_everything_of_an_incident_and_nothing_of_another(store: Store) -> None:
    for incident_id in ["gone", "kept"]:
        await store.commit(
            Commit(
                incident_id,
                0,
                events("x", "y"),
                wake_at=at(1),
                outbox_put=(item(incident_id, f"{incident_id}-k"),),
                reference=f"R-{incident_id}",
            )
        )
    kept = await store.load("kept")

    assert await store.purge(["gone", "never-existed", "gone"]) == 1

    assert await store.load("gone") == []
    assert await store.find("R-gone") is None
    assert await store.incidents() == ["kept"]
    assert await store.due(at(5)) == [WakeUp("kept", at(1))]
    assert [o.key for o in await store.outbox()] == ["kept-k"]
    assert await store.load("kept") == kept
    assert await store.find("R-kept") == "kept"
    assert await store.purge([]) == 0
    # A purged id and reference are free again.
    assert await store.commit(Commit("gone", 0, events("new"), reference="R-gone")) == 1
    assert await store.incidents() == ["kept", "gone"]


async def test_datetimes_come_back_as_the_same_instant_in_utc(store: Store) -> None:
    local = T0.astimezone(STOCKHOLM_SUMMER)
    await store.commit(
        Commit(
            "inc-1",
            0,
            (EventRecord("Noted", "{}", local),),
            wake_at=local + timedelta(microseconds=1),
            outbox_put=(OutboxItem("k", "inc-1", "{}", local),),
        )
    )
    times = [
        (await store.load("inc-1"))[0].recorded_at,
        (await store.outbox())[0].created_at,
        (await store.due(local + timedelta(microseconds=1)))[0].at,
        await store.next_wake(),
    ]

    assert times == [T0, T0, T0 + timedelta(microseconds=1), T0 + timedelta(microseconds=1)]
    assert all(t is not None and t.tzinfo is UTC for t in times)
    assert await store.due(local) == []  # one microsecond early


async def test_naive_datetimes_are_refused(store: Store) -> None:
    naive = datetime(2026, 3, 2, 9, 0)
    with pytest.raises(ValueError, match="naive"):
        EventRecord("Noted", "{}", naive)
    with pytest.raises(ValueError, match="naive"):
        Commit("inc-1", 0, wake_at=naive)
    with pytest.raises(ValueError, match="naive"):
        OutboxItem("k", "inc-1", "{}", naive)
    with pytest.raises(ValueError, match="naive"):
        await store.due(naive)


def test_commit_refuses_rows_of_another_incident_and_negative_versions() -> None:
    with pytest.raises(ValueError, match="belongs to incident b"):
        Commit("a", 0, outbox_put=(item("b", "k"),))
    with pytest.raises(ValueError):
        Commit("a", -1)


async def test_concurrent_commits_of_many_incidents_are_all_stored(store: Store) -> None:
    ids = [f"inc-{n:03}" for n in range(200)]

    versions = await asyncio.gather(
        *(store.commit(Commit(i, 0, events("a", "b"), wake_at=at(n), reference=i)) for n, i in enumerate(ids))
    )

    assert versions == [2] * len(ids)
    assert await store.incidents() == ids
    assert [w.incident_id for w in await store.due(at(1_000), limit=1_000)] == ids
    assert [await store.find(i) for i in ids] == ids


# -- outbox leases (claim, stale_outbox): no notification attempted by two engine processes at once ---------------


async def test_claim_leases_a_row_to_one_owner_until_it_runs_out(store: Store) -> None:
    await store.commit(Commit("a", 0, events("x"), outbox_put=(item("a", "k"),)))

    assert await store.claim("k", "engine-1", at(1), now=at(0))
    assert not await store.claim("k", "engine-2", at(9), now=at(0.5))  # engine-1's lease is live
    assert await store.claim("k", "engine-1", at(3), now=at(0.5))  # a renewal
    assert not await store.claim("k", "engine-2", at(9), now=at(2))  # renewed past at(1)
    assert await store.claim("k", "engine-2", at(5), now=at(3))  # ran out at at(3): taken over
    assert not await store.claim("k", "engine-1", at(9), now=at(4))

    assert await store.outbox() == [item("a", "k")]  # a claimed row is still unsettled


async def test_claim_wall_clock_and_giving_a_lease_up(store: Store) -> None:
    await store.commit(Commit("a", 0, outbox_put=(item("a", "k"),)))
    now = datetime.now(UTC)

    assert await store.claim("k", "engine-1", now + timedelta(hours=1))
    assert not await store.claim("k", "engine-2", now + timedelta(hours=2))
    assert await store.claim("k", "engine-1", now - timedelta(seconds=1))  # shortened into the past: given up
    assert await store.claim("k", "engine-2", now + timedelta(hours=2))


async def test_settled_and_unknown_rows_cannot_be_claimed(store: Store) -> None:
    await store.commit(Commit("a", 0, outbox_put=(item("a", "k"), item("a", "other"))))
    assert await store.claim("k", "engine-1", at(10), now=at(0))
    await store.commit(Commit("a", 0, outbox_done=("k",)))

    assert not await store.claim("k", "engine-1", at(10), now=at(0))
    assert not await store.claim("never-queued", "engine-1", at(10), now=at(0))
    assert [o.key for o in await store.outbox()] == ["other"]

    # A key put again after settling is a new row: the old lease went with the settled one.
    await store.commit(Commit("a", 0, outbox_put=(item("a", "k", minutes=5),)))
    assert await store.claim("k", "engine-2", at(10), now=at(0))


async def test_putting_a_claimed_key_again_keeps_its_lease(store: Store) -> None:
    await store.commit(Commit("a", 0, outbox_put=(item("a", "k"),)))
    assert await store.claim("k", "engine-1", at(10), now=at(0))
    await store.commit(Commit("a", 0, outbox_put=(item("a", "k", minutes=1),)))

    assert not await store.claim("k", "engine-2", at(10), now=at(1))
    assert await store.stale_outbox(at(1)) == []


async def test_stale_outbox_lists_rows_without_a_live_lease_oldest_first(store: Store) -> None:
    rows = (item("a", "a-3", 3), item("a", "a-1", 1), item("a", "a-2", 2))
    await store.commit(Commit("a", 0, events("x"), outbox_put=rows))
    await store.commit(Commit("b", 0, events("x"), outbox_put=(item("b", "b-2", 2), item("b", "b-4", 4))))
    assert await store.claim("a-1", "engine-1", at(10), now=at(0))  # live until at(10)
    assert await store.claim("a-2", "engine-2", at(5), now=at(0))  # runs out at at(5)

    assert [o.key for o in await store.stale_outbox(at(4))] == ["b-2", "a-3", "b-4"]  # ties by key
    assert [o.key for o in await store.stale_outbox(at(5))] == ["a-2", "b-2", "a-3", "b-4"]
    assert [o.key for o in await store.stale_outbox(at(5), limit=2)] == ["a-2", "b-2"]
    assert await store.stale_outbox(at(5), limit=0) == []
    assert await store.stale_outbox(at(20)) == await store.outbox()

    await store.commit(Commit("b", 1, outbox_done=("b-2",)))
    assert [o.key for o in await store.stale_outbox(at(5))] == ["a-2", "a-3", "b-4"]
    assert (await store.stale_outbox(at(5)))[0] == item("a", "a-2", 2)


async def test_purged_rows_cannot_be_claimed_and_take_their_leases_along(store: Store) -> None:
    await store.commit(Commit("a", 0, events("x"), outbox_put=(item("a", "k"),)))
    assert await store.claim("k", "engine-1", at(10), now=at(0))
    await store.purge(["a"])

    assert not await store.claim("k", "engine-1", at(10), now=at(0))
    await store.commit(Commit("a", 0, events("x"), outbox_put=(item("a", "k"),)))
    assert await store.claim("k", "engine-2", at(10), now=at(0))


async def test_concurrent_claims_of_one_row_have_one_winner(store: Store) -> None:
    await store.commit(Commit("a", 0, outbox_put=(item("a", "k"),)))

    won = await asyncio.gather(*(store.claim("k", f"engine-{n}", at(10), now=at(0)) for n in range(20)))

    assert won.count(True) == 1


async def test_claim_arguments_are_checked(store: Store) -> None:
    await store.commit(Commit("a", 0, outbox_put=(item("a", "k"),)))

    with pytest.raises(ValueError, match="naive"):
        await store.claim("k", "engine-1", datetime(2026, 3, 2, 9, 0))
    with pytest.raises(ValueError, match="naive"):
        await store.claim("k", "engine-1", at(1), now=datetime(2026, 3, 2, 9, 0))
    with pytest.raises(ValueError, match="owner"):
        await store.claim("k", "", at(1))
    with pytest.raises(ValueError, match="naive"):
        await store.stale_outbox(datetime(2026, 3, 2, 9, 0))
    assert await store.claim("k", "engine-1", at(1), now=at(0))
