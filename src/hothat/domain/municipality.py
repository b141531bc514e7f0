"""The municipality: everything one configuration file describes, as frozen domain values."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import attrs

from hothat.domain.incident import IncidentKind, Severity
from hothat.domain.people import Directory, Medium
from hothat.domain.routine import Routine

__all__ = ["ChannelConfig", "Municipality", "RoutineRule"]


@attrs.frozen
class ChannelConfig:
    """One ``[channels.NAME]`` table.

    Attributes:
        name: the table's name, used by contact points (``channel = "sms"``) and in the trail.
        plugin: the channel class's name (``"sms.46elks"``, ``"log"``, ``"memory"``).
        medium: the medium it serves; ``None`` means the class's own.
        settings: the rest of the table, validated later by the class's ``Settings`` model.
        disclosure: ``"minimal"``, ``"standard"`` or ``"full"``; ``None`` means the class's default.
    """

    name: str
    plugin: str
    medium: Medium | None = None
    settings: Mapping[str, Any] = attrs.field(factory=dict)
    disclosure: str | None = None


@attrs.frozen
class RoutineRule:
    """Which routine an incident gets: the first rule that matches kind and severity wins.

    Empty sets match everything.
    """

    routine: str
    kinds: frozenset[IncidentKind] = frozenset()
    severities: frozenset[Severity] = frozenset()

    def matches(self, kind: IncidentKind, severity: Severity) -> bool:
        """Whether an incident of this kind and severity gets this rule's routine."""
        return (not self.kinds or kind in self.kinds) and (not self.severities or severity in self.severities)


@attrs.frozen
class Municipality:
    """A municipality's whole configuration.

    Attributes:
        id: a short id (``"oxelosund"``), the tenancy key in stores.
        name: the display name used in messages (``"Oxelösunds kommun"``).
        reference_prefix: the prefix of reference numbers (``"OX"`` gives ``OX-2026-0042``).
        directory: people, roles, parties and holders.
        routines: routine id → routine.
        rules: routine selection rules, tried in order.
        default_routine: the routine when no rule matches.
        channels: configured channels, in order (the first of a medium is its default).
        locale: the default message language (``"sv"``).
        timezone: the municipality's time zone for availability and printed times.
        token_secret_env: the environment variable holding the link-token secret.
        token_secret_file: a file holding the link-token secret instead, if any (absolute: the loader resolves
            a relative path against the municipality file's folder).
        link_base_url: the public URL links in e-mail point to (``https://intranet.example/hothat``).
        retention: how long a closed incident is kept before ``hothat purge`` may remove it.
        store: the SQLite file (relative to the config file's folder), or ``":memory:"``.
        source: where the configuration came from (a file name), for messages.
    """

    id: str
    name: str
    reference_prefix: str
    directory: Directory
    routines: Mapping[str, Routine]
    default_routine: str
    rules: tuple[RoutineRule, ...] = ()
    channels: tuple[ChannelConfig, ...] = ()
    locale: str = "sv"
    timezone: str = "Europe/Stockholm"
    token_secret_env: str = "HOTHAT_TOKEN_SECRET"
    token_secret_file: str | None = None
    link_base_url: str = "http://127.0.0.1:8080/hothat"
    retention: timedelta | None = None
    store: str = "hothat.db"
    source: str = "<config>"

    def routine_for(self, kind: IncidentKind, severity: Severity, party: str | None = None) -> Routine:
        """The routine an incident runs: the matching rule's (or the default), after the party's own chain."""
        routine_id = next((r.routine for r in self.rules if r.matches(kind, severity)), self.default_routine)
        routine = self.routines[routine_id]
        party_obj = self.directory.parties.get(party) if party else None
        if party_obj is not None and party_obj.routine and party_obj.routine in self.routines:
            return self.routines[party_obj.routine].then(routine)
        return routine

    def known_routine(self, routine_id: str) -> Routine | None:
        """A routine by id, composed ids (``"a+b"``) included."""
        if routine_id in self.routines:
            return self.routines[routine_id]
        first, plus, rest = routine_id.partition("+")
        if plus and first in self.routines:
            then = self.known_routine(rest)
            if then is not None:
                return self.routines[first].then(then)
        return None
