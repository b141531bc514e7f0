"""A small municipality built in code, and helpers, for the engine tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta

import attrs

from hothat.channels import MemoryChannel, OutboundMessage
from hothat.domain import (
    Availability,
    ChannelConfig,
    ChecklistItem,
    ContactPoint,
    Deadlines,
    Directory,
    FactCondition,
    Medium,
    Municipality,
    Party,
    Person,
    Role,
    RoleScope,
    Routine,
    Severity,
    Step,
    Strategy,
    Text,
    TimeWindow,
)
from hothat.engine import Engine, VirtualClock
from hothat.engine import events as ev
from hothat.plugins import HothatPlugins, get_plugin_manager
from hothat.store import MemoryStore

START = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)  # a Friday night


def person(
    pid: str,
    name: str,
    *media: tuple[Medium, str, str],
    protected: bool = False,
    availability: Availability | None = None,
    language: str = "sv",
) -> Person:
    contacts = []
    for medium, address, delay in media:
        from hothat.domain import parse_duration

        contacts.append(ContactPoint(medium, address, parse_duration(delay)))
    return Person(
        pid,
        name,
        tuple(contacts),
        language=language,
        protected_identity=protected,
        availability=availability or Availability(),
    )


def sms(n: int, delay: str = "0s") -> tuple[Medium, str, str]:
    return (Medium.SMS, f"+467017406{n:02d}", delay)


def mail(pid: str, delay: str = "0s") -> tuple[Medium, str, str]:
    return (Medium.EMAIL, f"{pid}@kommun.example", delay)


def voice(n: int, delay: str = "0s") -> tuple[Medium, str, str]:
    return (Medium.VOICE, f"+467017406{n:02d}", delay)


OFFICE = Availability((TimeWindow(frozenset({1, 2, 3, 4, 5}), time(8), time(17)),))

PEOPLE = [
    person("anna", "Anna Utsatt", sms(5), protected=True),
    person("per", "Per Säkerhet", sms(10), mail("per", "10m")),
    person("eva", "Eva Gruppledare", sms(11), mail("eva", "10m")),
    person("gustav", "Gustav Gruppledare", sms(12)),
    person("karin", "Karin Strateg", sms(20), mail("karin", "5m")),
    person("lars", "Lars Strateg", sms(21)),
    person("jan", "Jan Kommunchef", sms(30), mail("jan", "5m")),
    person("sara", "Sara Säkerhetschef", sms(40)),
    person("rut", "Rut Rådgivare", sms(50), availability=OFFICE),
]

ROLES = [
    Role(
        "party_security_contact",
        RoleScope.PARTY,
        "Partiets säkerhetsansvarig",
        "Party security contact",
        fallbacks=("party_group_leader",),
    ),
    Role("party_group_leader", RoleScope.PARTY, "Gruppledare", "Group leader"),
    Role("municipal_security_strategist", RoleScope.MUNICIPALITY, "Säkerhetsstrateg", "Security strategist"),
    Role("municipal_ceo", RoleScope.MUNICIPALITY, "Kommunchef", "Municipal CEO"),
    Role("municipal_security_chief", RoleScope.MUNICIPALITY, "Säkerhetschef", "Security chief"),
    Role("skr_advisor", RoleScope.MUNICIPALITY, "SKR-rådgivare", "SKR adviser", availability=OFFICE),
    Role("nobody_role", RoleScope.MUNICIPALITY, "Ingen", "Nobody"),
    Role("targeted_person", RoleScope.INCIDENT, "Den utsatte", "Targeted person"),
    Role("support_person", RoleScope.INCIDENT, "Stödperson", "Support person"),
]

PARTIES = [
    Party("s", "Socialdemokraterna", {"party_security_contact": ("per",), "party_group_leader": ("eva",)}),
    Party("m", "Moderaterna", {"party_group_leader": ("gustav",)}),  # no security contact
]

HOLDERS = {
    "municipal_security_strategist": ("karin", "lars"),
    "municipal_ceo": ("jan",),
    "municipal_security_chief": ("sara",),
    "skr_advisor": ("rut",),
}


def step(sid: str, *owners: str, **kw: object) -> Step:
    return Step(sid, Text(f"Steg {sid}", f"Step {sid}"), tuple(owners), **kw)  # type: ignore[arg-type]


def routine(*steps: Step, unresolved_to: str = "municipal_security_chief") -> Routine:
    return Routine("r", Text("Rutin", "Routine"), tuple(steps), unresolved_to=unresolved_to)


def municipality(*steps: Step, unresolved_to: str = "municipal_security_chief") -> Municipality:
    directory = Directory(
        people={p.id: p for p in PEOPLE},
        roles={r.id: r for r in ROLES},
        parties={p.id: p for p in PARTIES},
        holders=HOLDERS,
    )
    return Municipality(
        id="test",
        name="Testkommun",
        reference_prefix="TK",
        directory=directory,
        routines={"r": routine(*steps, unresolved_to=unresolved_to)},
        default_routine="r",
        channels=(
            ChannelConfig("sms", "memory", Medium.SMS),
            ChannelConfig("email", "memory", Medium.EMAIL),
            ChannelConfig("voice", "memory", Medium.VOICE),
        ),
    )


class _Recording(MemoryChannel):
    def __init__(self, log: list[OutboundMessage]) -> None:
        super().__init__()
        self.log = log

    async def deliver(self, message: OutboundMessage) -> object:  # type: ignore[override]
        receipt = await super().deliver(message)
        self.log.append(message)
        return receipt


class Rig:
    """An engine on a virtual clock with one memory channel per medium."""

    def __init__(self, muni: Municipality, *, start: datetime = START) -> None:
        self.clock = VirtualClock(start)
        self.store = MemoryStore()
        self.log: list[OutboundMessage] = []
        self.sms = _Recording(self.log)
        self.email = _Recording(self.log)
        self.voice = _Recording(self.log)
        self.engine = Engine(
            muni,
            store=self.store,
            clock=self.clock,
            plugins=HothatPlugins(get_plugin_manager(load_entrypoints=False)),
            channels={"sms": self.sms, "email": self.email, "voice": self.voice},
            token_secret=b"k" * 48,
        )

    @property
    def sent(self) -> list[OutboundMessage]:
        return list(self.log)

    def to(self, pid: str, kind: str | None = None) -> list[OutboundMessage]:
        return [m for m in self.log if m.person_id == pid and (kind is None or m.kind == kind)]

    async def trail(self, incident_id: str) -> list[ev.Event]:
        return await self.engine.trail(incident_id)

    async def types(self, incident_id: str, *names: str) -> list[ev.Event]:
        return [e for e in await self.trail(incident_id) if type(e).__name__ in names]


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def names(events: Iterable[object]) -> list[str]:
    return [type(e).__name__ for e in events]


__all__ = [
    "START",
    "ChecklistItem",
    "Deadlines",
    "FactCondition",
    "Rig",
    "Severity",
    "Strategy",
    "attrs",
    "mail",
    "minutes",
    "municipality",
    "names",
    "person",
    "sms",
    "step",
    "voice",
]
