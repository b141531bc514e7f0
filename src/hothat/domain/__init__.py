"""The frozen domain of hothat: people, roles, parties, the directory, incidents and routines.

Nothing in this package does I/O. Every value is an immutable attrs class, built once from the configuration
(``hothat.config``) and shared by the engine.
"""

from hothat.domain.durations import format_duration, parse_duration
from hothat.domain.incident import (
    Incident,
    IncidentKind,
    IncidentStatus,
    LocationKind,
    MandateLink,
    ProtectedIdentity,
    Severity,
)
from hothat.domain.municipality import ChannelConfig, Municipality, RoutineRule
from hothat.domain.people import (
    Availability,
    ContactPoint,
    Directory,
    Medium,
    Party,
    Person,
    Resolution,
    Role,
    RoleScope,
    TimeWindow,
)
from hothat.domain.roles import BUILTIN_ROLES
from hothat.domain.routine import (
    ChecklistItem,
    Deadlines,
    FactCondition,
    Routine,
    Step,
    Strategy,
    Text,
    TreeNode,
)

__all__ = [
    "BUILTIN_ROLES",
    "Availability",
    "ChannelConfig",
    "ChecklistItem",
    "ContactPoint",
    "Deadlines",
    "Directory",
    "FactCondition",
    "Incident",
    "IncidentKind",
    "IncidentStatus",
    "LocationKind",
    "MandateLink",
    "Medium",
    "Municipality",
    "Party",
    "Person",
    "ProtectedIdentity",
    "Resolution",
    "Role",
    "RoleScope",
    "Routine",
    "RoutineRule",
    "Severity",
    "Step",
    "Strategy",
    "Text",
    "TimeWindow",
    "TreeNode",
    "format_duration",
    "parse_duration",
]
