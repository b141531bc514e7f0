"""Restart: a new engine on the same store goes on where the old one stopped."""

from __future__ import annotations

from engine_kit import Deadlines, Rig, minutes, municipality, step

from hothat.channels import InboundEvent, InboundKind
from hothat.engine import Engine
from hothat.engine import events as ev
from hothat.errors import StoreError
from hothat.plugins import HothatPlugins, get_plugin_manager
from hothat.store import Commit, MemoryStore

ACK15 = Deadlines(ack_within=minutes(15))


def muni() -> object:
    return municipality(
        step("3.1.1", "party_security_contact", deadlines=ACK15, escalation=("party_group_leader",)),
    )


def second_engine(rig: Rig) -> Engine:
    """A fresh engine (new process, same store and clock) with the same channels."""
    return Engine(
        rig.engine.municipality,
        store=rig.store,
        clock=rig.clock,
        plugins=rig.engine.plugins,
        channels={"sms": rig.sms, "email": rig.email, "voice": rig.voice},
        token_secret=b"k" * 48,
    )


async def test_overdue_escalation_fires_at_restart_and_the_watchdog_records_the_stall() -> None:
    rig = Rig(muni())  # type: ignore[arg-type]
    await rig.engine.start()
    incident = await rig.engine.report(kind="threat", severity="serious", party="s")
    await rig.engine.idle()
    await rig.engine.stop()
    rig.clock.advance(minutes(40))  # the process was down; the 15-minute deadline passed long ago
    rig.store.close = _noop  # type: ignore[method-assign]  # keep the memory store across "processes"
    engine = second_engine(rig)
    async with engine:
        await engine.idle()
        trail = await engine.trail(incident.id)
    stall = [e for e in trail if isinstance(e, ev.StallDetected)]
    assert len(stall) == 1
    # The next wake-up was Per's e-mail, due 10 minutes after the SMS.
    assert stall[0].due_at - incident.reported_at == minutes(10)
    assert stall[0].overdue_seconds == 30 * 60
    escalated = [e for e in trail if isinstance(e, ev.Escalated)]
    assert [e.at - incident.reported_at for e in escalated] == [minutes(40)]
    assert [(m.person_id, m.medium) for m in rig.sent] == [("per", "sms"), ("per", "email"), ("eva", "sms")]


async def test_queued_but_unsent_message_is_sent_after_restart_and_sent_ones_are_not_repeated() -> None:
    rig = Rig(muni())  # type: ignore[arg-type]
    rig.store.close = _noop  # type: ignore[method-assign]
    await rig.engine.start()
    # Simulate a crash between "queued" and "delivered": the delivery task never runs.
    rig.engine._spawn = lambda coro: coro.close()  # type: ignore[method-assign]
    incident = await rig.engine.report(kind="threat", severity="serious", party="s")
    assert rig.sent == []
    assert [o.key for o in await rig.store.outbox()] == [f"{incident.id}:3.1.1:0:0:0"]
    engine = second_engine(rig)
    async with engine:
        await engine.idle()
        assert [m.person_id for m in rig.sent] == ["per"]
        assert await rig.store.outbox() == []
    third = second_engine(rig)
    async with third:
        await third.idle()
    assert [m.person_id for m in rig.sent] == ["per"]  # not sent again


async def test_reply_codes_still_work_after_restart() -> None:
    rig = Rig(muni())  # type: ignore[arg-type]
    rig.store.close = _noop  # type: ignore[method-assign]
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.idle()
    code = rig.sent[0].reply_code
    engine = second_engine(rig)
    async with engine:
        await engine.handle_inbound(InboundEvent(InboundKind.ACKNOWLEDGE, "sms", "+46701740610", reply_code=code))
        acked = [e for e in await engine.trail(incident.id) if isinstance(e, ev.Acknowledged)]
    assert [(e.person, e.via) for e in acked] == [("per", "sms")]


async def test_stop_is_honoured_and_remembered_across_restarts() -> None:
    rig = Rig(muni())  # type: ignore[arg-type]
    rig.store.close = _noop  # type: ignore[method-assign]
    async with rig.engine:
        await rig.engine.handle_inbound(InboundEvent(InboundKind.STOP, "sms", "+46701740610"))
    engine = second_engine(rig)
    async with engine:
        incident = await engine.report(kind="threat", severity="serious", party="s")
        await engine.idle()
        failed = [e for e in await engine.trail(incident.id) if isinstance(e, ev.DeliveryFailed)]
        # Per's SMS is refused for the opt-out and his e-mail follows at once.
        assert [(e.failure, e.reason) for e in failed] == [("permanent", "the number has opted out (STOP)")]
        assert [(m.person_id, m.medium) for m in rig.sent] == [("per", "email")]
        await engine.handle_inbound(InboundEvent(InboundKind.START, "sms", "+46701740610"))
        second = await engine.report(kind="threat", severity="serious", party="s")
        await engine.idle()
        assert [(m.person_id, m.medium, m.incident_id) for m in rig.sent][-1] == ("per", "sms", second.id)
    assert "_contacts" not in await rig.store.open_incidents()


async def _noop() -> None:
    return None


class FlakyStore(MemoryStore):
    """A memory store whose commits fail while ``broken`` is set, like a locked or full database."""

    broken = False

    async def commit(self, commit: Commit) -> int:
        if self.broken and commit.events:
            raise StoreError("database is locked")
        return await super().commit(commit)


async def test_a_delivery_outcome_the_store_refuses_is_kept_and_recorded_later() -> None:
    rig = Rig(muni())  # type: ignore[arg-type]
    store = FlakyStore()
    engine = Engine(
        rig.engine.municipality,
        store=store,
        clock=rig.clock,
        plugins=rig.engine.plugins,
        channels={"sms": rig.sms, "email": rig.email, "voice": rig.voice},
        token_secret=b"k" * 48,
    )
    async with engine:
        incident = await engine.report(kind="threat", severity="serious", party="s")
        store.broken = True  # the SMS goes out, but its outcome cannot be written
        await engine.idle()
        assert [m.person_id for m in rig.sent] == ["per"]
        assert engine.backlog == 1
        assert [o.key for o in await store.outbox()] == [f"{incident.id}:3.1.1:0:0:0"]
        store.broken = False
        await engine.advance("1m")
        assert engine.backlog == 0
        assert await store.outbox() == []
        sent = [e for e in await engine.trail(incident.id) if isinstance(e, ev.NotificationSent)]
        assert len(sent) == 1
        await engine.advance("15m")  # and the escalation goes on as if nothing happened
        assert [m.person_id for m in rig.sent if m.medium == "sms"] == ["per", "eva"]


async def test_a_message_that_cannot_be_rendered_is_recorded_as_failed_and_the_next_contact_follows() -> None:
    import hothat

    class BrokenTemplates:
        @hothat.hookimpl
        def hothat_render_message(self, context):  # type: ignore[no-untyped-def]
            return 42  # not a Rendered: a plugin bug

    rig = Rig(muni())  # type: ignore[arg-type]
    rig.engine.plugins = HothatPlugins(get_plugin_manager(load_entrypoints=False, plugins=[BrokenTemplates()]))
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.idle()
        failed = [e for e in await rig.trail(incident.id) if isinstance(e, ev.DeliveryFailed)]
        assert failed
        assert failed[0].reason.startswith("the message could not be prepared")


async def test_a_reference_taken_at_the_same_moment_by_another_process_gives_the_next_one() -> None:
    class Racing(MemoryStore):
        """``find`` misses a reference another process is committing right now, once."""

        asked = 0

        async def find(self, reference: str) -> str | None:
            if reference.endswith("-0001"):
                self.asked += 1
                if self.asked == 2:  # the second process looks just before the first one's commit lands
                    return None
            return await super().find(reference)

    store = Racing()
    rig = Rig(muni())  # type: ignore[arg-type]
    first = Engine(
        rig.engine.municipality,
        store=store,
        clock=rig.clock,
        plugins=rig.engine.plugins,
        channels={"sms": rig.sms, "email": rig.email, "voice": rig.voice},
        token_secret=b"k" * 48,
    )
    second = Engine(
        rig.engine.municipality,
        store=store,
        clock=rig.clock,
        plugins=rig.engine.plugins,
        channels={"sms": rig.sms, "email": rig.email, "voice": rig.voice},
        token_secret=b"k" * 48,
    )
    async with first, second:
        one = await first.report(kind="threat", severity="serious", party="s")
        two = await second.report(kind="threat", severity="serious", party="s")  # its first pick clashes
    assert store.asked == 2
    assert (one.reference, two.reference) == ("TK-2026-0001", "TK-2026-0002")
    assert await store.find("TK-2026-0002") == two.id
