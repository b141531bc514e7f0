"""Faults over time: a provider or the database goes away for a while, and the engine comes through.

- The SMS gateway refuses connections for ten virtual minutes: the message is retried with backoff on the engine's
  clock, then the next medium is tried, and SMS works again once the gateway is back.
- The SMTP server is stopped for a minute: the e-mail is retried and delivered when it is back.
- Another process holds the SQLite file locked (``BEGIN IMMEDIATE``): a clear ``StoreError``, nothing half-written,
  and once the lock is gone the engine catches up: the backlog empties, the outbox empties, the escalation goes on.
- The disk is full (a store wrapper refusing commits): delivery outcomes are kept and recorded later.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from reliability_kit import (
    FRIDAY_NIGHT,
    HOOKS,
    MEMORY_CHANNELS,
    TOKEN_SECRET,
    Outage,
    Recorder,
    SmtpServer,
    oxelosund,
    plugins,
    read_trails,
    trail_problems,
)

from hothat.channels import MemoryChannel, OutboundMessage
from hothat.engine import Engine, VirtualClock
from hothat.engine import events as ev
from hothat.engine.core import retry_delay
from hothat.engine.events import FailureKind
from hothat.errors import StoreError
from hothat.store import Commit
from hothat.store.sqlite import SqliteStore


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def of(kind: type[ev.Event], trail: list[ev.Event]) -> list[ev.Event]:
    return [e for e in trail if isinstance(e, kind)]


async def test_sms_gateway_down_for_ten_minutes_retries_then_next_medium_then_recovers() -> None:
    sms_plugin = pytest.importorskip("hothat_sms", reason="needs the hothat-sms plugin")
    from hothat_sms.testing import FakeGateway

    outage = Outage()
    calls: list[OutboundMessage] = []
    with FakeGateway() as gateway:
        client = httpx.AsyncClient(transport=outage)
        settings = sms_plugin.SmsSettings.model_validate(
            {"public_base_url": HOOKS, "providers": [gateway.provider_table("46elks")], "attempts_per_provider": 1}
        )
        engine = Engine(
            oxelosund(),
            clock=VirtualClock(FRIDAY_NIGHT),
            plugins=plugins(),
            channels={
                "sms": sms_plugin.SmsChannel(settings, client=client),
                "voice": Recorder(calls),
                "email": MemoryChannel(),
            },
            token_secret=TOKEN_SECRET,
        )
        async with engine:
            outage.down = True
            incident = await engine.report(kind="threat", severity="serious", party="s")
            await engine.advance("10m")
            outage.down = False
            await engine.advance("6m")
            trail = await engine.trail(incident.id)
            assert engine.backlog == 0
            assert await engine.store.outbox() == []
        await client.aclose()
    key = f"{incident.id}:3.1.1:0:0"
    failed = [e for e in of(ev.DeliveryFailed, trail) if e.key.startswith(key)]  # type: ignore[attr-defined]
    # Tried at once, then after 30 s, 2 min and 5 min more (each plus its key's jitter): four refused connections,
    # each a retryable failure.
    expected = _retry_times(failed)
    assert [(e.at - FRIDAY_NIGHT, e.failure) for e in failed] == [  # type: ignore[attr-defined]
        (at, FailureKind.RETRYABLE) for at in expected
    ]
    assert all("could not connect" in e.reason for e in failed)  # type: ignore[attr-defined]
    assert outage.refused >= 8  # both of Per's steps
    # Retries used up: Per's next medium (voice) at once, not five minutes later.
    assert sorted((m.person_id, m.step_id) for m in calls[:2]) == [("per", "3.1.1"), ("per", "3.2.1")]
    # Each step's voice call follows its own last SMS retry at once.
    voice = {e.key.split(":")[1]: e.at - FRIDAY_NIGHT for e in of(ev.NotificationSent, trail) if e.channel == "voice"}  # type: ignore[attr-defined]
    for step in ("3.1.1", "3.2.1"):
        sms_failed = [e for e in of(ev.DeliveryFailed, trail) if e.key.startswith(f"{incident.id}:{step}:0:0")]  # type: ignore[attr-defined]
        assert voice[step] == _retry_times(sms_failed)[-1]
    # The gateway is back: the escalation to Anna at 15 minutes goes out by SMS, on time.
    [escalated] = [e for e in of(ev.Escalated, trail) if e.step == "3.1.1"]  # type: ignore[attr-defined]
    assert escalated.at - FRIDAY_NIGHT == minutes(15)
    assert any(s.to == "+46701740621" and "3.1.1" in s.text for s in gateway.messages)
    assert trail_problems(engine.municipality, incident.id, trail, finished=False) == []


async def test_smtp_server_down_for_a_minute_the_mail_is_retried_and_delivered() -> None:
    email_plugin = pytest.importorskip("hothat_email", reason="needs the hothat-email plugin")
    from reliability_kit import OXELOSUND_TEXT

    with SmtpServer() as smtp:
        channels = MEMORY_CHANNELS.replace(
            '[channels.email]\nplugin = "memory"\nmedium = "email"',
            f'[channels.email]\nplugin = "email.smtp"\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\n'
            f'username = "hothat"\npassword = "smtp-password"\nfrom_address = "hothat@oxelosund.example"\ntimeout = 2',
        )
        head, _, rest = OXELOSUND_TEXT.partition("# --8<-- [start:channels]")
        _, _, tail = rest.partition("# --8<-- [end:channels]")
        per = (
            '  { sms = "070-174 06 20" },\n  { voice = "070-174 06 20", delay = "5m" },\n'
            '  { email = "per@s.oxelosund.example", delay = "10m" },'
        )
        assert per in head
        head = head.replace(
            per, '  { email = "per@s.oxelosund.example" },\n  { sms = "070-174 06 20", delay = "10m" },'
        )
        from hothat.config import load_config_text

        engine = Engine(
            load_config_text(head + channels + tail, "oxelosund.toml"),
            clock=VirtualClock(FRIDAY_NIGHT),
            plugins=plugins(email_plugin),
            token_secret=TOKEN_SECRET,
        )
        async with engine:
            smtp.stop()
            incident = await engine.report(kind="threat", severity="serious", party="s")
            await engine.advance("1m")
            smtp.start()
            await engine.advance("3m")
            trail = await engine.trail(incident.id)
        received = [rcpt for rcpt, _ in smtp.received]
    failed = [e for e in of(ev.DeliveryFailed, trail) if e.key.startswith(f"{incident.id}:3.1.1:0:0")]  # type: ignore[attr-defined]
    expected = _retry_times(failed)
    assert (
        [(e.at - FRIDAY_NIGHT, e.failure) for e in failed]
        == [  # type: ignore[attr-defined]
            (at, FailureKind.RETRYABLE) for at in expected[:2]
        ]
    )
    sent = [e for e in of(ev.NotificationSent, trail) if e.key.startswith(f"{incident.id}:3.1.1:0:0")]  # type: ignore[attr-defined]
    # The second retry (30 s + 2 min, each with its jitter) finds the server back.
    assert [e.at - FRIDAY_NIGHT for e in sent] == [expected[2]]  # type: ignore[attr-defined]
    assert ["per@s.oxelosund.example"] in received


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "hothat.db"


class Lock:
    """Another process's write lock on the SQLite file (``BEGIN IMMEDIATE``), held until :meth:`release`."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


@pytest.fixture
def sent() -> list[OutboundMessage]:
    return []


def engine_on(db: Path, sent: list[OutboundMessage], store: object | None = None) -> Engine:
    return Engine(
        oxelosund(),
        store=store or SqliteStore(db, busy_timeout=0.2),  # type: ignore[arg-type]
        clock=VirtualClock(FRIDAY_NIGHT),
        plugins=plugins(),
        channels={"sms": Recorder(sent), "voice": Recorder(sent), "email": Recorder(sent)},
        token_secret=TOKEN_SECRET,
    )


async def test_a_locked_database_is_a_clear_error_and_the_engine_catches_up_afterwards(
    db: Path, sent: list[OutboundMessage]
) -> None:
    engine = engine_on(db, sent)
    async with engine:
        incident = await engine.report(kind="threat", severity="serious", party="s")
        await engine.advance("14m")
        lock = Lock(db)
        # A report while locked: refused with a message that says what to do; nothing of it is stored.
        with pytest.raises(StoreError, match="locked by another process"):
            await engine.report(kind="threat", severity="serious", party="m")
        # The 15-minute escalation cannot be written either.
        with pytest.raises(StoreError, match="locked"):
            await engine.advance("2m")
        lock.release()
        await engine.advance("1m")
        assert engine.backlog == 0
        assert await engine.store.outbox() == []
        trail = await engine.trail(incident.id)
        [escalated] = [e for e in of(ev.Escalated, trail) if e.step == "3.1.1"]  # type: ignore[attr-defined]
        assert minutes(15) <= escalated.at - FRIDAY_NIGHT <= minutes(17)
        assert [m.person_id for m in sent if m.kind == "escalation" and m.step_id == "3.1.1"] == ["anna"]
    trails = await read_trails(db)
    assert list(trails) == [incident.id]  # the refused report left nothing behind
    assert trail_problems(engine.municipality, incident.id, trails[incident.id], finished=False) == []


class DiskFull:
    """A SQLite store whose commits fail with the store's disk-full error while ``full`` is set."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.full = False
        self.refused = 0

    async def commit(self, commit: Commit) -> int:
        if self.full:
            self.refused += 1
            raise StoreError(f"the disk holding {self.inner.path} is full: nothing of the write was stored; free space")
        return await self.inner.commit(commit)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


async def test_a_full_disk_keeps_delivery_outcomes_and_records_them_when_space_is_back(
    db: Path, sent: list[OutboundMessage]
) -> None:
    store = DiskFull(SqliteStore(db))
    engine = engine_on(db, sent, store)
    async with engine:
        incident = await engine.report(kind="threat", severity="serious", party="s")
        store.full = True  # the SMS go out, but their outcomes cannot be written
        await engine.idle()
        assert [m.person_id for m in sent] == ["per", "per"]
        assert engine.backlog == 2
        assert len(await engine.store.outbox()) == 2
        store.full = False
        await engine.advance("1m")
        assert engine.backlog == 0
        assert await engine.store.outbox() == []
        await engine.advance("15m")
        trail = await engine.trail(incident.id)
    assert store.refused >= 2
    assert len(of(ev.NotificationSent, trail)) >= 2
    [escalated] = [e for e in of(ev.Escalated, trail) if e.step == "3.1.1"]  # type: ignore[attr-defined]
    assert escalated.at - FRIDAY_NIGHT == minutes(15)
    # No message was sent twice because its outcome was late: each key went out once.
    keys = [m.key for m in sent]
    assert len(keys) == len(set(keys))
    trails = await read_trails(db)
    assert trail_problems(engine.municipality, incident.id, trails[incident.id], finished=False) == []


def _retry_times(failed: list[ev.Event]) -> list[timedelta]:
    """When the engine tries a failing message: at once, then after each backoff with the key's jitter."""
    times = [timedelta(0)]
    for attempt, event in enumerate(failed[:3], start=1):
        times.append(times[-1] + retry_delay(attempt, None, event.key))  # type: ignore[attr-defined]
    return times
