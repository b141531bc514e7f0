"""People, their contact points and availability, roles, parties, and the directory that resolves roles."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import attrs

__all__ = [
    "Availability",
    "ContactPoint",
    "Directory",
    "Medium",
    "Party",
    "Person",
    "Resolution",
    "Role",
    "RoleScope",
    "TimeWindow",
]


class Medium(enum.StrEnum):
    """How a message reaches a person."""

    EMAIL = "email"
    SMS = "sms"
    VOICE = "voice"


@attrs.frozen
class ContactPoint:
    """One way to reach a person.

    Attributes:
        medium: email, sms or voice.
        address: an e-mail address, or a phone number in E.164 (``+46701740605``), parsed at the config boundary.
        delay: how long after the previous contact point was tried (with no answer) this one is tried.
        channel: the configured channel that serves this point; ``None`` means the first channel of the medium.
    """

    medium: Medium
    address: str
    delay: timedelta = timedelta(0)
    channel: str | None = None

    def redacted(self) -> str:
        """The address with most of it hidden, for logs: ``+4670…05``, ``a…@kommun.example``."""
        if self.medium is Medium.EMAIL:
            local, _, domain = self.address.partition("@")
            return f"{local[:1]}…@{domain}"
        return f"{self.address[:5]}…{self.address[-2:]}"


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@attrs.frozen
class TimeWindow:
    """A weekly window, e.g. weekdays 08:00-17:00. ``end <= start`` means the window runs past midnight.

    Attributes:
        days: ISO weekdays the window *starts* on, 1 = Monday ... 7 = Sunday.
        start: local start time.
        end: local end time.
    """

    days: frozenset[int]
    start: time
    end: time

    def contains(self, local: datetime) -> bool:
        """Whether a local (zone-aware) time falls in this window."""
        clock = local.time().replace(tzinfo=None)
        day = local.isoweekday()
        if self.start < self.end:
            return day in self.days and self.start <= clock < self.end
        # Overnight: the part after start on a listed day, or the part before end on the day after one.
        yesterday = 7 if day == 1 else day - 1
        return (day in self.days and clock >= self.start) or (yesterday in self.days and clock < self.end)


@attrs.frozen
class Availability:
    """When someone can be reached. No windows means always.

    Attributes:
        windows: the weekly windows.
        timezone: an IANA zone name; municipalities use ``Europe/Stockholm``.
    """

    windows: tuple[TimeWindow, ...] = ()
    timezone: str = "Europe/Stockholm"

    @property
    def always(self) -> bool:
        """True when there are no windows."""
        return not self.windows

    def is_available(self, at: datetime) -> bool:
        """Whether ``at`` (aware) falls in any window."""
        if not self.windows:
            return True
        local = at.astimezone(_zone(self.timezone))
        return any(w.contains(local) for w in self.windows)

    def next_available(self, at: datetime, *, horizon: timedelta = timedelta(days=8)) -> datetime | None:
        """The first minute at or after ``at`` that is available, or ``None`` within ``horizon``."""
        if self.is_available(at):
            return at
        probe = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
        end = at + horizon
        step = timedelta(minutes=1)
        while probe < end:
            if self.is_available(probe):
                return probe
            probe += step
        return None


@attrs.frozen
class Person:
    """Someone who may be told about an incident or hold a role.

    Attributes:
        id: a stable identifier used in the config and the trail (never shown to recipients).
        name: the display name; never put in an outbound message when ``protected_identity`` is set.
        contacts: contact points in order of preference.
        language: ``"sv"`` (default) or ``"en"``, the language of messages to this person.
        protected_identity: the person has protected identity (sekretessmarkering, skyddad folkbokföring):
            they are never named in any outbound message.
        availability: when the person can be reached.
    """

    id: str
    name: str
    contacts: tuple[ContactPoint, ...] = ()
    language: str = "sv"
    protected_identity: bool = False
    availability: Availability = Availability()

    def contacts_for(self, medium: Medium) -> tuple[ContactPoint, ...]:
        """The person's contact points of one medium, in order."""
        return tuple(c for c in self.contacts if c.medium is medium)


class RoleScope(enum.StrEnum):
    """Where a role's holders are written down."""

    MUNICIPALITY = "municipality"
    PARTY = "party"
    INCIDENT = "incident"


@attrs.frozen
class Role:
    """A responsibility in a routine, e.g. ``party_security_contact``.

    Attributes:
        id: the stable identifier (see the glossary).
        scope: municipality-wide, per party, or filled per incident (targeted person, support person).
        name_sv: the Swedish name.
        name_en: the English name.
        fallbacks: roles to use, in order, when this one resolves to nobody available.
        availability: when holders of this role can be reached (an adviser in office hours).
    """

    id: str
    scope: RoleScope = RoleScope.MUNICIPALITY
    name_sv: str = ""
    name_en: str = ""
    fallbacks: tuple[str, ...] = ()
    availability: Availability = Availability()

    def name(self, locale: str = "sv") -> str:
        """The role's name in a locale, falling back to the id."""
        text = self.name_en if locale == "en" else self.name_sv
        return text or self.name_sv or self.name_en or self.id


@attrs.frozen
class Party:
    """A political party in the municipality.

    Attributes:
        id: short identifier, e.g. ``"s"``, ``"m"``.
        name: the party's name.
        holders: role id → person ids, in order, for party-scoped roles.
        routine: a routine the party runs before the municipal one (Ängelholm), if any.
    """

    id: str
    name: str
    holders: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    routine: str | None = None


@attrs.frozen
class Resolution:
    """The answer to "who holds this role now?".

    Attributes:
        role: the role that was asked for.
        via: the roles tried, in order; the last one is the role that answered (or the last tried).
        people: the people reached, in order; empty when nobody holds the role or any fallback.
        unavailable: people who hold a tried role but were outside their availability window.
    """

    role: str
    via: tuple[str, ...]
    people: tuple[Person, ...]
    unavailable: tuple[Person, ...] = ()

    @property
    def resolved_role(self) -> str:
        """The role that supplied the people (the asked role unless a fallback answered)."""
        return self.via[-1] if self.via else self.role

    @property
    def fell_back(self) -> bool:
        """True when a fallback role answered."""
        return len(self.via) > 1 and bool(self.people)


@attrs.frozen
class Directory:
    """Who holds which role: municipality-wide, per party, and per incident.

    Attributes:
        people: person id → person.
        roles: role id → role.
        parties: party id → party (with its party-scoped holders).
        holders: role id → person ids for municipality-scoped roles.
    """

    people: Mapping[str, Person]
    roles: Mapping[str, Role]
    parties: Mapping[str, Party] = attrs.field(factory=dict)
    holders: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)

    def direct_holders(
        self,
        role_id: str,
        party: str | None = None,
        incident_holders: Mapping[str, tuple[str, ...]] | None = None,
    ) -> tuple[str, ...]:
        """The person ids written down for one role, without fallbacks or availability."""
        role = self.roles.get(role_id)
        if role is None:
            return ()
        if role.scope is RoleScope.PARTY:
            if party is None or party not in self.parties:
                return ()
            return tuple(self.parties[party].holders.get(role_id, ()))
        if role.scope is RoleScope.INCIDENT:
            return tuple((incident_holders or {}).get(role_id, ()))
        return tuple(self.holders.get(role_id, ()))

    def resolve(
        self,
        role_id: str,
        party: str | None = None,
        *,
        at: datetime | None = None,
        incident_holders: Mapping[str, tuple[str, ...]] | None = None,
    ) -> Resolution:
        """Resolve a role to people, following fallbacks (depth first, cycle-safe).

        With ``at``, people outside their (or the role's) availability are left out and listed in
        ``unavailable``; when that leaves nobody, the fallbacks are tried, as when nobody holds the role.
        """
        via: list[str] = []
        unavailable: list[Person] = []
        seen: set[str] = set()

        def walk(current: str) -> tuple[Person, ...]:
            if current in seen:
                return ()
            seen.add(current)
            via.append(current)
            role = self.roles.get(current)
            people = [self.people[p] for p in self.direct_holders(current, party, incident_holders) if p in self.people]
            if at is not None and role is not None:
                available = [
                    p for p in people if role.availability.is_available(at) and p.availability.is_available(at)
                ]
                unavailable.extend(p for p in people if p not in available)
                people = available
            if people:
                return tuple(people)
            for fallback in role.fallbacks if role is not None else ():
                found = walk(fallback)
                if found:
                    return found
            return ()

        found = walk(role_id)
        return Resolution(role=role_id, via=tuple(via), people=found, unavailable=tuple(unavailable))

    def person(self, person_id: str) -> Person:
        """Look up a person; raises ``KeyError`` naming the id."""
        try:
            return self.people[person_id]
        except KeyError:
            raise KeyError(f"no person with id {person_id!r}") from None
