"""Resolve hothat roles from the municipality's own directory: a ``hothat_resolve_role`` plugin.

Who holds a role changes more often than a configuration file: a strategist goes on leave, a party appoints a new
security contact. An intranet that already keeps these as LDAP (or Active Directory) groups can let hothat ask the
directory instead. The municipality file still lists the people and how to reach them; the directory says who,
among them, holds each role right now.

- ``FakeLdap`` stands in for the LDAP server: an in-memory tree of entries, groups with ``member`` attributes.
  Swap in a real client (ldap3, bonsai) behind the same two calls.
- ``CachedGroups`` keeps each group's members for ``ttl`` seconds. The hook is called on the engine's event loop
  and must answer at once, without network I/O, so lookups come from the cache; a failing server is answered
  from the last good copy.
- ``DirectoryResolver`` implements the hook. It answers for the roles it maps to groups, follows the role's
  fallbacks and availability the way the builtin does, and returns ``None`` for every other role, so the
  municipality file answers those.

Register it with the engine::

    resolver = DirectoryResolver(CachedGroups(ldap), ROLE_GROUPS, base="dc=oxelosund,dc=example")
    plugins = HothatPlugins(get_plugin_manager(plugins=[resolver]))
    engine = Engine.from_config("municipality.toml", plugins=plugins)

or publish it in a package through the ``hothat`` entry-point group (see the plugins page).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from hothat import Directory, Incident, Person, Resolution, Role, RoleScope, hookimpl

__all__ = ["BASE", "ROLE_GROUPS", "CachedGroups", "DirectoryResolver", "FakeLdap", "LdapUnavailable", "example_tree"]

log = logging.getLogger("intranet_directory")

# --8<-- [start:groups]
ROLE_GROUPS: Mapping[str, str] = {
    # role id → the group holding it; {party} is the party id, {base} the directory's base DN
    "municipal_security_strategist": "cn=sakerhetsstrateger,ou=roller,{base}",
    "municipal_ceo": "cn=kommundirektor,ou=roller,{base}",
    "party_security_contact": "cn=sakerhetsansvarig,ou={party},ou=partier,{base}",
    "party_group_leader": "cn=gruppledare,ou={party},ou=partier,{base}",
}
# --8<-- [end:groups]

BASE = "dc=oxelosund,dc=example"


# --8<-- [start:tree]
def example_tree() -> dict[str, dict[str, list[str]]]:
    """Oxelösund's directory as the intranet keeps it: Karin is on leave, and the Social Democrats have made
    their group leader, Anna, their security contact as well (the municipality file still says Per)."""

    def person(uid: str) -> tuple[str, dict[str, list[str]]]:
        return f"uid={uid},ou=people,{BASE}", {"objectClass": ["inetOrgPerson"], "uid": [uid]}

    def group(dn: str, *uids: str) -> tuple[str, dict[str, list[str]]]:
        members = [f"uid={uid},ou=people,{BASE}" for uid in uids]
        return f"{dn},{BASE}", {"objectClass": ["groupOfNames"], "member": members}

    people = ["karin", "lars", "eva", "johan", "per", "anna", "ali", "maria", "olle"]
    return dict(
        [person(uid) for uid in people]
        + [
            group("cn=sakerhetsstrateger,ou=roller", "lars"),
            group("cn=kommundirektor,ou=roller", "eva", "johan"),
            group("cn=sakerhetsansvarig,ou=s,ou=partier", "anna"),
            group("cn=gruppledare,ou=s,ou=partier", "anna"),
            group("cn=sakerhetsansvarig,ou=m,ou=partier", "ali"),
            group("cn=gruppledare,ou=m,ou=partier", "maria"),
            group("cn=sakerhetsansvarig,ou=c,ou=partier"),  # appointed nobody: the group leader takes it
            group("cn=gruppledare,ou=c,ou=partier", "olle"),
        ]
    )


# --8<-- [end:tree]


class LdapUnavailable(Exception):
    """The directory server did not answer."""


class FakeLdap:
    """An in-memory LDAP tree: ``dn → attributes`` (each attribute a list of strings, as LDAP returns them).

    Args:
        entries: the tree.
    """

    def __init__(self, entries: Mapping[str, Mapping[str, list[str]]]) -> None:
        self.entries = {dn.lower(): dict(attrs) for dn, attrs in entries.items()}
        self.queries = 0
        self.down = False

    def read(self, dn: str) -> Mapping[str, list[str]] | None:
        """One entry by its DN (a base-scope search), or ``None``."""
        self.queries += 1
        if self.down:
            raise LdapUnavailable("ldap://ldap.kommun.example: connection refused")
        return self.entries.get(dn.lower())

    def set_members(self, group_dn: str, member_dns: Iterable[str]) -> None:
        """Change a group's members (what HR does in the real directory)."""
        self.entries.setdefault(group_dn.lower(), {"objectClass": ["groupOfNames"]})["member"] = list(member_dns)


# --8<-- [start:cache]
class CachedGroups:
    """Group members by group DN, each group re-read at most every ``ttl`` seconds.

    Args:
        ldap: the directory client.
        ttl: how long a group's members are trusted.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(self, ldap: FakeLdap, *, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ldap = ldap
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, tuple[str, ...]]] = {}

    def members(self, group_dn: str) -> tuple[str, ...] | None:
        """The ``uid`` of each member, in the group's order; ``None`` when the group is unknown."""
        key = group_dn.lower()
        cached = self._cache.get(key)
        if cached is not None and self.clock() - cached[0] < self.ttl:
            return cached[1]
        try:
            entry = self.ldap.read(group_dn)
            if entry is None:
                return None
            uids = []
            for member_dn in entry.get("member", []):
                person = self.ldap.read(member_dn)
                if person is not None and person.get("uid"):
                    uids.append(person["uid"][0])
        except LdapUnavailable as exc:
            if cached is None:
                raise
            # Paging must not stop because the directory is down: use the last good answer.
            log.warning(
                "directory unavailable (%s); using members of %s read %.0f s ago", exc, key, self.clock() - cached[0]
            )
            return cached[1]
        self._cache[key] = (self.clock(), tuple(uids))
        return self._cache[key][1]


# --8<-- [end:cache]


# --8<-- [start:resolver]
class DirectoryResolver:
    """A ``hothat_resolve_role`` plugin backed by directory groups.

    Args:
        groups: the cached directory.
        role_groups: role id → group DN template (``{party}``, ``{base}``).
        base: the directory's base DN.
    """

    def __init__(self, groups: CachedGroups, role_groups: Mapping[str, str], *, base: str) -> None:
        self.groups = groups
        self.role_groups = role_groups
        self.base = base

    def holders(self, role: str, party: str | None, directory: Directory, incident: Incident) -> tuple[str, ...]:
        """Person ids holding ``role``: from the directory group if the role is mapped, else from the file."""
        template = self.role_groups.get(role)
        scope = directory.roles[role].scope if role in directory.roles else RoleScope.MUNICIPALITY
        if template is None or (scope is RoleScope.PARTY and party is None):
            return directory.direct_holders(role, party, incident.holders)
        uids = self.groups.members(template.format(party=party, base=self.base))
        if uids is None:  # no such group: the file answers
            return directory.direct_holders(role, party, incident.holders)
        unknown = [uid for uid in uids if uid not in directory.people]
        if unknown:
            # Contact points live in the municipality file; a member it does not list cannot be reached.
            log.warning("%d member(s) of the group for %s are not in the municipality file", len(unknown), role)
        return tuple(uid for uid in uids if uid in directory.people)

    @hookimpl
    def hothat_resolve_role(
        self, role: Role, incident: Incident, directory: Directory, at: datetime
    ) -> Resolution | None:
        """Who holds ``role`` now, by the directory's groups; ``None`` for roles that are not mapped."""
        if not any(r in self.role_groups for r in _chain(role.id, directory)):
            return None
        via: list[str] = []
        unavailable: list[Person] = []

        def walk(current: str) -> tuple[Person, ...]:
            if current in via:
                return ()
            via.append(current)
            definition = directory.roles.get(current)
            people = [directory.people[p] for p in self.holders(current, incident.party, directory, incident)]
            available = [
                p
                for p in people
                if p.availability.is_available(at) and (definition is None or definition.availability.is_available(at))
            ]
            unavailable.extend(p for p in people if p not in available)
            if available:
                return tuple(available)
            for fallback in definition.fallbacks if definition is not None else ():
                found = walk(fallback)
                if found:
                    return found
            return ()

        people = walk(role.id)
        return Resolution(role=role.id, via=tuple(via), people=people, unavailable=tuple(unavailable))


# --8<-- [end:resolver]


def _chain(role_id: str, directory: Directory) -> list[str]:
    """The role and every fallback reachable from it."""
    seen: list[str] = []
    todo = [role_id]
    while todo:
        current = todo.pop(0)
        if current not in seen:
            seen.append(current)
            role = directory.roles.get(current)
            todo.extend(role.fallbacks if role is not None else ())
    return seen
