"""The incident: what happened, to whom, how serious, and the facts decided along the way.

Field names follow the incident-report field list of the project's domain notes; the description is sensitive
personal data (GDPR art. 10) and never leaves hothat above the ``full`` disclosure level.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime

import attrs

__all__ = [
    "Incident",
    "IncidentKind",
    "IncidentStatus",
    "LocationKind",
    "MandateLink",
    "ProtectedIdentity",
    "Severity",
]


class IncidentKind(enum.StrEnum):
    """What kind of incident this is (the glossary's incident categories)."""

    THREAT = "threat"
    HATE = "hate"
    HARASSMENT = "harassment"
    VIOLENCE = "violence"
    PROPERTY_DAMAGE = "property_damage"
    THEFT = "theft"
    UNDUE_INFLUENCE = "undue_influence"
    CORRUPTION_ATTEMPT = "corruption_attempt"
    INSULT_VIOLATION = "insult_violation"
    PLANNED_RISKY_ACTIVITY = "planned_risky_activity"


class Severity(enum.StrEnum):
    """How urgent the incident is; routines may shorten deadlines per severity."""

    ACUTE = "acute"
    SERIOUS = "serious"
    THREAT = "threat"
    BELOW_THRESHOLD = "below_threshold"
    PREVENTIVE = "preventive"


class MandateLink(enum.StrEnum):
    """Whether the incident is linked to the targeted person's political mandate (must be told to the police)."""

    YES = "yes"
    SUSPECTED = "suspected"
    NO = "no"


class LocationKind(enum.StrEnum):
    """Where it happened, as a kind of place (never an address)."""

    HOME = "home"
    PUBLIC_MEETING = "public_meeting"
    MUNICIPAL_PREMISES = "municipal_premises"
    PUBLIC_PLACE = "public_place"
    ONLINE = "online"
    OTHER = "other"


class ProtectedIdentity(enum.StrEnum):
    """Protected-identity level of the targeted person (sekretessmarkering, skyddad folkbokföring)."""

    NONE = "none"
    CONFIDENTIALITY_MARKING = "confidentiality_marking"
    PROTECTED_REGISTRATION = "protected_registration"


class IncidentStatus(enum.StrEnum):
    """Where the incident is in its life."""

    OPEN = "open"
    CLOSED = "closed"


@attrs.frozen
class Incident:
    """One reported incident.

    Attributes:
        id: a sortable unique id (ULID-like), used by the engine and store.
        reference: the municipality's reference number, e.g. ``OX-2026-0042``; the only identifier in messages.
        municipality: the municipality's id from the config.
        kind: the incident category.
        severity: how urgent.
        routine: the id of the routine run for this incident.
        occurred_at: when it happened.
        reported_at: when it was reported to hothat.
        targeted: the person id of the targeted person, if they are in the directory.
        party: the party id of the targeted person, if any.
        mandate_link: whether it is linked to the political mandate.
        description: free text, minimised; sensitive (art. 10); only at ``full`` disclosure.
        location_kind: a kind of place, never an address.
        protected_identity: the targeted person's protected-identity level.
        facts: facts decided along the way (``police_report_wanted`` ...); a missing key is undecided.
        holders: incident-scoped role holders (``targeted_person``, ``support_person``), role id → person ids.
        status: open or closed.
    """

    id: str
    reference: str
    municipality: str
    kind: IncidentKind
    severity: Severity
    routine: str
    occurred_at: datetime
    reported_at: datetime
    targeted: str | None = None
    party: str | None = None
    mandate_link: MandateLink = MandateLink.SUSPECTED
    description: str = ""
    location_kind: LocationKind = LocationKind.OTHER
    protected_identity: ProtectedIdentity = ProtectedIdentity.NONE
    facts: Mapping[str, bool] = attrs.field(factory=dict)
    holders: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    status: IncidentStatus = IncidentStatus.OPEN

    @property
    def is_protected(self) -> bool:
        """True when the targeted person has any protected-identity level."""
        return self.protected_identity is not ProtectedIdentity.NONE
