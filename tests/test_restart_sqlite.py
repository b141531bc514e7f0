"""Restart on a real SQLite file: a second engine, opened on the file after the first one stopped, goes on where
the first left off (overdue wake-ups at once and in order, queued sends made once, recorded sends never again)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, TypeVar

import pytest
from engine_kit import START, Deadlines, minutes, municipality, step

from hothat.channels import Channel, InboundEvent, InboundKind, OutboundMessage, Receipt, ReceiptStatus
from hothat.domain import Medium, Municipality
from hothat.engine import Engine, VirtualClock
from hothat.engine import events as ev
from hothat.errors import AmbiguousDeliveryError
from hothat.plugins import HothatPlugins, get_plugin_manager
from hothat.store.sqlite import SqliteStore

ACK15 = Deadlines(ack_within=minutes(15))


class ProcessDied(BaseException):
    """Raised inside ``deliver`` to play a process that dies there: the engine records nothing after it."""


class Phone(Channel):
    """Records every delivered message in a list shared by every engine of a test (the recipients' phones).

    ``script`` maps a message key to what happens when it is delivered: ``"die"`` (the process dies before the
    provider is called), ``"die-after"`` (the provider took it, then the process died before recording it),
    or an exception to raise.
    """

    name: ClassVar[str] = "phone"
    medium: ClassVar[Medium] = Medium.SMS

    def __init__(self, received: list[OutboundMessage], script: dict[str, object] | None = None) -> None:
        super().__init__()
        self.received = received
        self.script = script or {}

    async def deliver(self, message: OutboundMessage) -> Receipt:
        action = self.script.get(message.key.split(":", 1)[1])
        if action == "die":
            raise ProcessDied
        if isinstance(action, BaseException):
            raise action
        self.received.append(message)
        if action == "die-after":
            raise ProcessDied
        return Receipt(self.name, message.address, ReceiptStatus.DELIVERED, provider_id=message.key)


class Town:
    """One municipality, one SQLite file and one virtual clock; each :meth:`engine` is a new process's engine."""

    def __init__(self, path: Path, muni: Municipality) -> None:
        self.path = path
        self.muni = muni
        self.clock = VirtualClock(START)
        self.received: list[OutboundMessage] = []

    def engine(self, script: dict[str, object] | None = None) -> Engine:
        phone = Phone(self.received, script)
        return Engine(
            self.muni,
            store=SqliteStore(self.path),
            clock=self.clock,
            plugins=HothatPlugins(get_plugin_manager(load_entrypoints=False)),
            channels={"sms": phone, "email": phone, "voice": phone},
            token_secret=b"k" * 48,
        )

    def to(self, *, incident: str | None = None) -> list[tuple[str, str]]:
        return [(m.person_id, m.medium) for m in self.received if incident is None or m.incident_id == incident]


async def trail_of(path: Path, incident_id: str) -> list[ev.Event]:
    """The trail as a fresh reader of the file sees it."""
    async with SqliteStore(path) as store:
        return [ev.decode(r.type, r.payload) for r in await store.load(incident_id)]


async def outbox_keys(path: Path) -> list[str]:
    async with SqliteStore(path) as store:
        return [o.key for o in await store.outbox()]


async def open_ids(path: Path) -> set[str]:
    async with SqliteStore(path) as store:
        return set(await store.open_incidents())


E = TypeVar("E", bound=ev.Event)


def of(kind: type[E], trail: list[ev.Event]) -> list[E]:
    return [e for e in trail if isinstance(e, kind)]


@pytest.fixture
def town(tmp_path: Path) -> Town:
    return Town(
        tmp_path / "hothat.db",
        municipality(step("3.1.1", "party_security_contact", deadlines=ACK15, escalation=("party_group_leader",))),
    )


async def test_overdue_wake_ups_of_every_open_incident_fire_at_once_earliest_first(town: Town) -> None:
    async with town.engine() as first:
        s = await first.report(kind="threat", severity="serious", party="s")  # Per, then Eva
        await first.advance(minutes(3))
        m = await first.report(kind="threat", severity="serious", party="m")  # Gustav (M has no security contact)
        await first.advance(minutes(1))
        closed = await first.report(kind="threat", severity="serious", party="s")
        await first.idle()
        await first.close(closed.id)
    closed_trail = await trail_of(town.path, closed.id)
    assert town.to() == [("per", "sms"), ("gustav", "sms"), ("per", "sms"), ("per", "sms")]  # the last: "closed"
    town.received.clear()
    town.clock.advance(minutes(60))  # the process was down for an hour
    async with town.engine() as second:
        await second.idle()
    # Both incidents moved on at restart, the one due earliest first: Per's e-mail (due at 10 min) and the
    # escalation to Eva (15 min), then the escalation of the M incident (18 min) to its group leader, Gustav.
    # The closed incident stayed closed.
    # Deliveries run concurrently, so their order across incidents is not fixed; the wake-ups' order is (below).
    assert sorted(town.to()) == sorted([("per", "email"), ("eva", "sms"), ("gustav", "sms")])
    s_trail, m_trail = await trail_of(town.path, s.id), await trail_of(town.path, m.id)
    [s_stall], [m_stall] = of(ev.StallDetected, s_trail), of(ev.StallDetected, m_trail)
    assert s_stall.due_at == START + minutes(10)  # Per's e-mail
    assert m_stall.due_at == START + minutes(3 + 15)  # Gustav's deadline; the M group leader has no one above
    assert [e.at for e in of(ev.Escalated, s_trail)] == [START + minutes(64)]
    assert closed_trail == await trail_of(town.path, closed.id)
    assert await open_ids(town.path) == {s.id, m.id}


async def test_a_send_cut_off_by_a_crash_is_made_at_restart_and_never_repeated(town: Town) -> None:
    async with town.engine({"3.1.1:0:0:0": ProcessDied()}) as first:
        incident = await first.report(kind="threat", severity="serious", party="s")
    assert town.received == []  # the process "died" before the provider had it
    async with town.engine() as second:
        await second.idle()
    async with town.engine() as third:
        await third.idle()
    assert town.to() == [("per", "sms")]
    sent = of(ev.NotificationSent, await trail_of(town.path, incident.id))
    assert [e.key for e in sent] == [f"{incident.id}:3.1.1:0:0:0"]


async def test_a_send_the_provider_took_before_the_crash_is_sent_again_once_at_least_once(town: Town) -> None:
    async with town.engine({"3.1.1:0:0:0": "die-after"}) as first:
        incident = await first.report(kind="threat", severity="serious", party="s")
    async with town.engine() as second:
        await second.idle()
    async with town.engine() as third:
        await third.advance(minutes(1))
    # The window between the provider's answer and the commit: Per gets the SMS twice, the trail records one send.
    assert town.to() == [("per", "sms"), ("per", "sms")]
    assert len(of(ev.NotificationSent, await trail_of(town.path, incident.id))) == 1


async def test_an_ambiguous_send_is_never_resent_after_restart_and_the_next_contact_follows_by_the_clock(
    town: Town,
) -> None:
    maybe = AmbiguousDeliveryError("the provider timed out after taking the request")
    async with town.engine({"3.1.1:0:0:0": maybe}) as first:
        incident = await first.report(kind="threat", severity="serious", party="s")
        await first.advance(minutes(2))
    async with town.engine() as second:
        await second.advance(minutes(20))
    trail = await trail_of(town.path, incident.id)
    [failed] = of(ev.DeliveryFailed, trail)
    assert failed.failure is ev.FailureKind.AMBIGUOUS
    # Per's SMS is not resent; his e-mail came 10 minutes later, then the escalation to Eva at 15.
    assert town.to() == [("per", "email"), ("eva", "sms")]
    assert [(q.person, q.medium, q.at - START) for q in of(ev.NotificationQueued, trail)] == [
        ("per", "sms", minutes(0)),
        ("per", "email", minutes(10)),
        ("eva", "sms", minutes(15)),
    ]


async def test_reply_codes_and_the_stop_list_survive_a_restart(town: Town) -> None:
    async with town.engine() as first:
        incident = await first.report(kind="threat", severity="serious", party="s")
        await first.handle_inbound(InboundEvent(InboundKind.STOP, "sms", "+46701740611"))  # Eva's number
    code = town.received[0].reply_code
    async with town.engine() as second:
        await second.handle_inbound(InboundEvent(InboundKind.ACKNOWLEDGE, "sms", "+46701740610", reply_code=code))
        other = await second.report(kind="threat", severity="serious", party="s")
        await second.advance(minutes(16))  # nobody answers the second incident: it escalates to Eva
    trail, other_trail = await trail_of(town.path, incident.id), await trail_of(town.path, other.id)
    assert [(e.person, e.via) for e in of(ev.Acknowledged, trail)] == [("per", "sms")]
    assert [e.reason for e in of(ev.DeliveryFailed, other_trail)] == ["the number has opted out (STOP)"]
    assert ("eva", "sms") not in town.to(incident=other.id)
    assert ("eva", "email") in town.to(incident=other.id)


async def test_an_engine_on_the_file_finds_the_trail_written_before_it(town: Town) -> None:
    """The store is the only memory: everything ``status`` shows after a restart comes from the file."""
    async with town.engine() as first:
        incident = await first.report(kind="threat", severity="serious", party="s")
        await first.advance(minutes(16))
        before = await first.status(incident.id)
    async with town.engine() as second:
        after = await second.status(incident.id)
        assert await second.find(incident.reference) == incident.id
    assert after == before
    assert after.step("3.1.1").level == 1


async def test_a_closing_notice_cut_off_by_a_crash_is_sent_at_restart(town: Town) -> None:
    async with town.engine({"3.1.1:1:0:0": ProcessDied()}) as first:  # ask 1: the "closed" notice to Per
        incident = await first.report(kind="threat", severity="serious", party="s")
        await first.idle()
        await first.close(incident.id)
    assert town.to() == [("per", "sms")]
    assert await outbox_keys(town.path) == [f"{incident.id}:3.1.1:1:0:0"]
    async with town.engine() as second:
        await second.idle()
    assert town.to() == [("per", "sms"), ("per", "sms")]
    assert [m.kind for m in town.received] == ["notify", "closed"]


@pytest.mark.parametrize("restart", [False, True])
async def test_a_restart_does_not_change_the_next_reply_code(tmp_path: Path, restart: bool) -> None:
    town = Town(
        tmp_path / "hothat.db",
        municipality(
            step("3.1.1", "party_security_contact", deadlines=ACK15),
            step("3.1.2", "party_group_leader", deadlines=ACK15, escalation=("party_security_contact",)),
        ),
    )
    async with town.engine() as first:
        incident = await first.report(kind="threat", severity="serious", party="s")
        await first.complete(incident.id, step="3.1.1", person="per")  # Per's code for 3.1.1 rests for 24 h
        if not restart:
            await first.advance(minutes(16))  # nobody takes 3.1.2: Per is asked at the next level
    if restart:
        async with town.engine() as second:
            await second.advance(minutes(16))
    codes = [(m.step_id, m.reply_code) for m in town.received if m.person_id == "per" and m.medium == "sms"]
    # A released code is not given out again for a day (a late answer must not take the new request), and a
    # restart remembers that just as an engine that never stopped does.
    assert codes == [("3.1.1", "10"), ("3.1.2", "11")]


@pytest.mark.parametrize("restart", [False, True])
async def test_a_late_answer_to_a_closed_incident_never_takes_another_one_across_a_restart(
    town: Town, restart: bool
) -> None:
    async with town.engine() as first:
        closed = await first.report(kind="threat", severity="serious", party="s")
        await first.idle()
        await first.close(closed.id)  # Per's code for it is released, and rests for a day
        if not restart:
            later = await first.report(kind="threat", severity="serious", party="s")
            await first.idle()
    if restart:
        async with town.engine() as second:
            later = await second.report(kind="threat", severity="serious", party="s")
            await second.idle()
    async with town.engine() as third:  # Per answers the first message late
        await third.handle_inbound(InboundEvent(InboundKind.ACKNOWLEDGE, "sms", "+46701740610", reply_code="10"))
    assert of(ev.Acknowledged, await trail_of(town.path, later.id)) == []
    asked = [(m.incident_id, m.reply_code) for m in town.received if m.kind in ("notify", "escalation")]
    assert asked == [(closed.id, "10"), (later.id, "11")]
