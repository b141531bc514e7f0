"""The built-in role catalogue follows the glossary."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hothat.domain.people import RoleScope
from hothat.domain.roles import BUILTIN_ROLES, builtin_role

GLOSSARY_IDS = {
    "elected_official", "targeted_person", "close_relative", "municipal_staff", "party_organisation",
    "party_security_contact", "party_group_leader", "municipal_security_officer", "municipal_security_chief",
    "municipal_security_strategist", "municipal_security_coordinator", "municipal_security_unit",
    "municipal_ceo",
    "ks_chair", "body_chair", "meeting_chair", "duty_officer", "support_person", "posom_group",
    "crisis_management_group", "police", "police_democracy_crime_unit", "police_bops",
    "preliminary_investigation_leader", "skr_advisor", "line_manager", "safety_representative",
}  # fmt: skip


def test_every_glossary_role_is_built_in_with_both_names() -> None:
    assert set(BUILTIN_ROLES) == GLOSSARY_IDS
    for role in BUILTIN_ROLES.values():
        assert role.name_sv
        assert role.name_en
    assert builtin_role("party_security_contact") is BUILTIN_ROLES["party_security_contact"]
    assert builtin_role("no_such_role") is None


def test_scopes() -> None:
    party = {r.id for r in BUILTIN_ROLES.values() if r.scope is RoleScope.PARTY}
    incident = {r.id for r in BUILTIN_ROLES.values() if r.scope is RoleScope.INCIDENT}
    assert party == {"party_security_contact", "party_group_leader", "party_organisation"}
    assert incident == {"targeted_person", "support_person", "close_relative"}


def test_lidingo_rule_party_security_contact_falls_back_to_group_leader() -> None:
    assert BUILTIN_ROLES["party_security_contact"].fallbacks == ("party_group_leader",)
    assert BUILTIN_ROLES["party_security_contact"].name("sv") == "Partiets säkerhetsansvarig"
    assert BUILTIN_ROLES["party_security_contact"].name("en") == "Party security contact"


def test_fallbacks_name_built_in_roles_and_form_no_cycle() -> None:
    for role in BUILTIN_ROLES.values():
        seen = [role.id]
        pending = list(role.fallbacks)
        while pending:
            current = pending.pop()
            assert current in BUILTIN_ROLES
            assert current not in seen, f"cycle through {current}"
            seen.append(current)
            pending.extend(BUILTIN_ROLES[current].fallbacks)


def test_the_skr_adviser_answers_in_office_hours_only() -> None:
    availability = BUILTIN_ROLES["skr_advisor"].availability
    stockholm = ZoneInfo("Europe/Stockholm")
    assert availability.is_available(datetime(2026, 3, 4, 10, 0, tzinfo=stockholm))
    assert not availability.is_available(datetime(2026, 3, 4, 19, 0, tzinfo=stockholm))
    assert not availability.is_available(datetime(2026, 3, 7, 10, 0, tzinfo=stockholm))
    assert BUILTIN_ROLES["municipal_ceo"].availability.always
