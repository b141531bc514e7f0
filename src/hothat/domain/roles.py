"""The built-in roles: the functions Swedish routines name, with stable ids, scopes and names.

The ids are those of the project's glossary. A municipality file may override a built-in role's names,
fallbacks and availability, or declare roles of its own, under ``[[roles]]``.

Two defaults encode what the routines say:

- ``party_security_contact`` falls back to ``party_group_leader``: if a party appoints no security contact,
  the responsibility falls on its group leader (Lidingö).
- ``municipal_security_unit`` (the default ``unresolved_to`` of every routine) falls back to
  ``municipal_security_officer``, which in turn falls back to the security chief, strategist and coordinator:
  the abstract "security function" binds to whichever of those titles the municipality has.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from types import MappingProxyType

from hothat.domain.people import Availability, Role, RoleScope, TimeWindow

__all__ = ["BUILTIN_ROLES", "OFFICE_HOURS", "builtin_role"]

OFFICE_HOURS = Availability(windows=(TimeWindow(frozenset(range(1, 6)), time(8, 0), time(17, 0)),))
"""Weekdays 08:00-17:00 in ``Europe/Stockholm`` (public holidays are not known to hothat)."""

_M = RoleScope.MUNICIPALITY
_P = RoleScope.PARTY
_I = RoleScope.INCIDENT

# id, scope, Swedish name, English name, fallbacks
_CATALOGUE: tuple[tuple[str, RoleScope, str, str, tuple[str, ...]], ...] = (
    ("elected_official", _M, "Förtroendevald", "Elected official", ()),
    ("targeted_person", _I, "Den utsatte", "Targeted person", ()),
    ("close_relative", _I, "Närstående", "Close relative", ()),
    ("support_person", _I, "Stödperson", "Support person", ()),
    ("municipal_staff", _M, "Medarbetare", "Municipal staff member", ()),
    ("party_organisation", _P, "Partiorganisationen", "Party organisation", ()),
    (
        "party_security_contact",
        _P,
        "Partiets säkerhetsansvarig",
        "Party security contact",
        ("party_group_leader",),
    ),
    ("party_group_leader", _P, "Gruppledare", "Party group leader", ()),
    (
        "municipal_security_officer",
        _M,
        "Säkerhetsansvarig i kommunen",
        "Municipal security officer",
        ("municipal_security_chief", "municipal_security_strategist", "municipal_security_coordinator"),
    ),
    ("municipal_security_chief", _M, "Säkerhetschef", "Municipal security chief", ()),
    ("municipal_security_strategist", _M, "Säkerhetsstrateg", "Municipal security strategist", ()),
    ("municipal_security_coordinator", _M, "Säkerhetssamordnare", "Security coordinator", ()),
    (
        "municipal_security_unit",
        _M,
        "Säkerhetsfunktionen",
        "Municipal security function",
        ("municipal_security_officer",),
    ),
    ("municipal_ceo", _M, "Kommundirektör", "Municipal CEO", ()),
    ("ks_chair", _M, "Kommunstyrelsens ordförande", "Chair of the municipal executive board", ()),
    ("body_chair", _M, "Ordförande i nämnd eller styrelse", "Committee or board chair", ()),
    ("meeting_chair", _M, "Ordförande vid sammanträdet", "Chair of the meeting", ()),
    ("duty_officer", _M, "Tjänsteperson i beredskap", "On-call duty officer", ()),
    ("posom_group", _M, "POSOM-gruppen", "Psychosocial crisis support group", ()),
    ("crisis_management_group", _M, "Krisledningsgruppen", "Crisis management group", ()),
    ("police", _M, "Polisen", "Swedish Police Authority", ()),
    (
        "police_democracy_crime_unit",
        _M,
        "Polisens demokrati- och hatbrottsgrupp",
        "Police hate and democracy crime unit",
        (),
    ),
    (
        "police_bops",
        _M,
        "Polisens brottsoffer- och personsäkerhetsverksamhet",
        "Police victim and personal safety",
        (),
    ),
    (
        "preliminary_investigation_leader",
        _M,
        "Förundersökningsledare",
        "Preliminary investigation leader",
        (),
    ),
    ("skr_advisor", _M, "SKR (bollplank)", "SKR adviser", ()),
    ("line_manager", _M, "Närmaste chef", "Line manager", ()),
    ("safety_representative", _M, "Skyddsombud", "Safety representative", ()),
)

# The association's phone support answers in office hours only (routines.md §8).
_AVAILABILITY = {"skr_advisor": OFFICE_HOURS}

BUILTIN_ROLES: Mapping[str, Role] = MappingProxyType(
    {
        role_id: Role(
            id=role_id,
            scope=scope,
            name_sv=sv,
            name_en=en,
            fallbacks=fallbacks,
            availability=_AVAILABILITY.get(role_id, Availability()),
        )
        for role_id, scope, sv, en, fallbacks in _CATALOGUE
    }
)
"""Every built-in role by id (read-only)."""


def builtin_role(role_id: str) -> Role | None:
    """The built-in role with this id, or ``None``."""
    return BUILTIN_ROLES.get(role_id)
