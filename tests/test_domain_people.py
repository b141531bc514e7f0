"""The directory: who holds a role, with fallbacks, availability and cycles; weekly time windows."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from hothat.domain.people import (
    Availability,
    ContactPoint,
    Directory,
    Medium,
    Party,
    Person,
    Role,
    RoleScope,
    TimeWindow,
)
from hothat.domain.roles import BUILTIN_ROLES, OFFICE_HOURS

STOCKHOLM = ZoneInfo("Europe/Stockholm")
WEEKDAYS = frozenset(range(1, 6))


def at(text: str) -> datetime:
    """A Stockholm local time, e.g. ``"2026-03-04 14:00"`` (a Wednesday)."""
    return datetime.fromisoformat(text).replace(tzinfo=STOCKHOLM)


ALWAYS = Availability()


def person(pid: str, availability: Availability = ALWAYS) -> Person:
    return Person(pid, pid.title(), (ContactPoint(Medium.SMS, "+46701740605"),), availability=availability)


def directory(*extra_roles: Role, people: tuple[Person, ...] = (), **holders: tuple[str, ...]) -> Directory:
    everyone = {p.id: p for p in (person("per"), person("anna"), person("olle"), person("karin"), *people)}
    roles = dict(BUILTIN_ROLES)
    roles.update({r.id: r for r in extra_roles})
    parties = {
        "s": Party("s", "Socialdemokraterna", {"party_security_contact": ("per",), "party_group_leader": ("anna",)}),
        "c": Party("c", "Centerpartiet", {"party_group_leader": ("olle",)}),
    }
    return Directory(people=everyone, roles=roles, parties=parties, holders=holders)


def test_a_party_role_resolves_per_party() -> None:
    found = directory().resolve("party_security_contact", "s")
    assert [p.id for p in found.people] == ["per"]
    assert found.via == ("party_security_contact",)
    assert not found.fell_back


def test_a_party_without_a_security_contact_falls_back_to_its_group_leader() -> None:
    found = directory().resolve("party_security_contact", "c")
    assert [p.id for p in found.people] == ["olle"]
    assert found.via == ("party_security_contact", "party_group_leader")
    assert found.fell_back
    assert found.resolved_role == "party_group_leader"


def test_a_party_role_without_a_party_resolves_to_nobody() -> None:
    found = directory().resolve("party_security_contact", None)
    assert found.people == ()


def test_the_security_unit_falls_back_to_whichever_security_title_is_held() -> None:
    found = directory(municipal_security_strategist=("karin",)).resolve("municipal_security_unit")
    assert [p.id for p in found.people] == ["karin"]
    assert found.via == (
        "municipal_security_unit",
        "municipal_security_officer",
        "municipal_security_chief",
        "municipal_security_strategist",
    )


def test_holders_outside_their_hours_are_skipped_and_the_fallback_answers() -> None:
    office = Availability(OFFICE_HOURS.windows)
    d = directory(
        Role("night_role", fallbacks=("duty_officer",)),
        people=(person("day", office),),
        night_role=("day",),
        duty_officer=("karin",),
    )
    daytime = d.resolve("night_role", at=at("2026-03-04 14:00"))
    assert [p.id for p in daytime.people] == ["day"]
    evening = d.resolve("night_role", at=at("2026-03-04 21:00"))
    assert [p.id for p in evening.people] == ["karin"]
    assert [p.id for p in evening.unavailable] == ["day"]
    assert evening.via == ("night_role", "duty_officer")


def test_a_role_with_office_hours_reaches_nobody_at_the_weekend() -> None:
    d = directory(skr_advisor=("karin",))
    assert [p.id for p in d.resolve("skr_advisor", at=at("2026-03-04 10:00")).people] == ["karin"]
    saturday = d.resolve("skr_advisor", at=at("2026-03-07 10:00"))
    assert saturday.people == ()
    assert [p.id for p in saturday.unavailable] == ["karin"]


def test_without_a_time_availability_is_ignored() -> None:
    d = directory(people=(person("day", OFFICE_HOURS),), duty_officer=("day",))
    assert [p.id for p in d.resolve("duty_officer").people] == ["day"]


def test_fallback_cycles_end_instead_of_looping() -> None:
    d = directory(Role("a_role", fallbacks=("b_role",)), Role("b_role", fallbacks=("a_role",)))
    found = d.resolve("a_role")
    assert found.people == ()
    assert found.via == ("a_role", "b_role")


def test_a_cycle_does_not_hide_a_later_fallback() -> None:
    d = directory(
        Role("a_role", fallbacks=("b_role", "c_role")),
        Role("b_role", fallbacks=("a_role",)),
        Role("c_role"),
        c_role=("karin",),
    )
    found = d.resolve("a_role")
    assert [p.id for p in found.people] == ["karin"]
    assert found.via == ("a_role", "b_role", "c_role")


def test_incident_roles_are_filled_per_incident() -> None:
    d = directory()
    assert d.resolve("support_person").people == ()
    found = d.resolve("support_person", incident_holders={"support_person": ("anna",)})
    assert [p.id for p in found.people] == ["anna"]


def test_unknown_roles_and_people_resolve_to_nobody() -> None:
    d = directory(municipal_ceo=("ghost",))
    assert d.resolve("no_such_role").people == ()
    assert d.resolve("municipal_ceo").people == ()
    with pytest.raises(KeyError, match="ghost"):
        d.person("ghost")


def test_role_scopes_route_holders() -> None:
    d = directory(party_group_leader=("karin",))  # a party role listed municipality-wide is not used
    assert d.direct_holders("party_group_leader") == ()
    assert d.direct_holders("party_group_leader", "s") == ("anna",)
    assert RoleScope.PARTY is d.roles["party_group_leader"].scope


# -- time windows ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "inside"),
    [
        ("2026-03-06 21:59", False),  # Friday, before the window
        ("2026-03-06 22:00", True),  # Friday, start
        ("2026-03-06 23:59", True),
        ("2026-03-07 00:00", True),  # Saturday, the night that started on Friday
        ("2026-03-07 05:59", True),
        ("2026-03-07 06:00", False),  # end is exclusive
        ("2026-03-07 22:30", False),  # Saturday is not a start day
        ("2026-03-05 23:00", False),  # Thursday
    ],
)
def test_an_overnight_window_runs_past_midnight_into_the_next_day(local: str, inside: bool) -> None:
    friday_night = TimeWindow(frozenset({5}), time(22, 0), time(6, 0))
    assert friday_night.contains(at(local)) is inside


def test_an_overnight_window_on_sunday_reaches_into_monday() -> None:
    sunday_night = TimeWindow(frozenset({7}), time(20, 0), time(7, 0))
    assert sunday_night.contains(at("2026-03-09 06:30"))  # Monday morning
    assert not sunday_night.contains(at("2026-03-09 20:30"))  # Monday evening


def test_a_whole_day_window() -> None:
    weekend = TimeWindow(frozenset({6, 7}), time(0, 0), time(0, 0))
    assert weekend.contains(at("2026-03-07 00:00"))
    assert weekend.contains(at("2026-03-08 23:59"))
    assert not weekend.contains(at("2026-03-09 00:00"))


def test_availability_uses_its_own_time_zone_across_daylight_saving() -> None:
    office = Availability((TimeWindow(WEEKDAYS, time(8, 0), time(17, 0)),), "Europe/Stockholm")
    # 06:30 UTC is 08:30 in summer (CEST) but 07:30 in winter (CET).
    assert office.is_available(datetime(2026, 7, 1, 6, 30, tzinfo=UTC))
    assert not office.is_available(datetime(2026, 1, 7, 6, 30, tzinfo=UTC))


def test_next_available_finds_monday_morning() -> None:
    office = Availability((TimeWindow(WEEKDAYS, time(8, 0), time(17, 0)),))
    friday_evening = at("2026-03-06 18:00")
    assert office.next_available(friday_evening) == at("2026-03-09 08:00")
    assert office.next_available(at("2026-03-09 09:15")) == at("2026-03-09 09:15")
    assert Availability().always
