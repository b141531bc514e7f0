"""Checks that span records: references, duplicates, cycles, and whether every step can reach somebody.

Each check runs on whatever validated, so one run lists as many problems as it can find. Every message names
what is wrong and says what to write instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Mapping, Sequence

from hothat.channels import Disclosure
from hothat.config._build import DEFAULT_UNRESOLVED, channel_medium, directory, effective_roles, person
from hothat.config._errors import Path, Report, did_you_mean
from hothat.config._parse import Parsed, ParsedRoutine
from hothat.config._schema import StepModel, TreeModel
from hothat.domain.durations import parse_duration
from hothat.domain.people import Directory, Person, Role, RoleScope
from hothat.domain.roles import BUILTIN_ROLES
from hothat.domain.routine import Strategy

__all__ = ["find_cycles", "owner_refs", "run_checks"]

_ROLE_HINT = " Declare a role of your own under [[roles]]; the configuration reference lists the built-in roles."
_PERSON_HINT = " Every person needs a [[people]] entry with that id."


def find_cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Every distinct cycle found by a depth-first walk, each as ``[a, b, ..., a]``, in the graph's order."""
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                if frozenset(cycle) not in seen:
                    seen.add(frozenset(cycle))
                    cycles.append(cycle)
            elif nxt not in state and nxt in graph:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node)
    return cycles


def owner_refs(step: StepModel) -> list[tuple[Path, str]]:
    """The step's owner roles with the path of each (``owner`` or ``owners[k]``)."""
    if step.owners is not None:
        return [(("owners", k), role) for k, role in enumerate(step.owners)]
    return [(("owner",), step.owner)] if step.owner else []


def _describe_context(parties: Mapping[str, str], contexts: Sequence[str | None]) -> str:
    named = [f'party "{c}" ({parties[c]})' for c in contexts if c is not None]
    if None in contexts:
        named.append("an incident with no party, such as one against a staff member")
    return named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"


class _Checker:
    def __init__(self, parsed: Parsed, report: Report) -> None:
        self.parsed = parsed
        self.report = report
        self.zone = parsed.municipality.timezone if parsed.municipality else "Europe/Stockholm"
        self.roles = effective_roles((r for _, r in parsed.roles), self.zone)
        self.role_ids = set(self.roles) | parsed.broken_ids("roles")
        self.person_ids = {p.id for _, p in parsed.people} | parsed.broken_ids("people")
        self.party_names = {p.id: p.name for _, p in parsed.parties}
        self.routines = {r.header.id: r for r in parsed.routines if r.header is not None}
        self.routine_ids = set(self.routines) | parsed.broken_ids("routines")
        self.channel_ids = set(parsed.channels) | parsed.broken_ids("channels")
        self.municipal_routines = self._municipal_routines()

    # -- helpers ---------------------------------------------------------------------------------------------

    def _municipal_routines(self) -> list[str]:
        """The routines an incident can get by itself: the default one and those of routine rules."""
        header = self.parsed.municipality
        default = header.default_routine if header else None
        if default is None and len(self.parsed.routines) == 1:
            default = self.parsed.routines[0].raw_id
        names = [default] if default else []
        names += [rule.routine for _, rule in self.parsed.rules]
        return [n for n in dict.fromkeys(names) if n in self.routines]

    def _ref(self, path: Path, kind: str, name: str, known: Collection[str], hint: str, prefix: str = "") -> bool:
        if name in known:
            return True
        self.report.add(path, f'{prefix}unknown {kind} "{name}"{did_you_mean(name, known) or "."}{hint}')
        return False

    def _role(self, path: Path, role_id: str, prefix: str = "", *, incident: bool = True) -> Role | None:
        """Check a role reference; with ``incident=False`` an incident-scoped role is refused here."""
        if not self._ref(path, "role", role_id, self.role_ids, _ROLE_HINT, prefix):
            return None
        role = self.roles.get(role_id)
        if role is not None and role.scope is RoleScope.INCIDENT and not incident:
            self.report.add(
                path,
                f'{prefix}"{role_id}" is filled per incident, so it cannot be told when nobody '
                "else can be reached: name a municipality role that has holders",
            )
            return None
        return role

    def _people(self, path: Path, people: Sequence[str]) -> None:
        seen: set[str] = set()
        for k, person_id in enumerate(people):
            if person_id in seen:
                self.report.add((*path, k), f'"{person_id}" is listed twice')
            seen.add(person_id)
            self._ref((*path, k), "person", person_id, self.person_ids, _PERSON_HINT)

    def _steps_hint(self, routine: ParsedRoutine) -> str:
        ids = [s for s in routine.step_ids if s]
        return f" The steps of this routine are: {', '.join(ids)}." if ids else ""

    # -- sections --------------------------------------------------------------------------------------------

    def duplicates(self) -> None:
        sections: list[tuple[str, str, Iterable[tuple[int, str | None]]]] = [
            ("roles", "role", ((i, r.id) for i, r in self.parsed.roles)),
            ("people", "person", ((i, p.id) for i, p in self.parsed.people)),
            ("parties", "party", ((i, p.id) for i, p in self.parsed.parties)),
            ("routines", "routine", ((r.index, r.raw_id) for r in self.parsed.routines)),
        ]
        for section, what, items in sections:
            self._duplicate_ids((section,), what, items, "")
        for routine in self.parsed.routines:
            at: Path = ("routines", routine.index, "steps")
            self._duplicate_ids(at, "step", enumerate(routine.step_ids), f' in routine "{routine.raw_id}"')
            for j, step in routine.steps:
                items = enumerate(item.id for item in step.checklist)
                self._duplicate_ids((*at, j, "checklist"), "checklist item", items, f" of step {step.id}")

    def _duplicate_ids(self, at: Path, what: str, items: Iterable[tuple[int, str | None]], where: str) -> None:
        first: dict[str, int] = {}
        for index, item_id in items:
            if item_id is None:
                continue
            if item_id in first:
                self.report.add(
                    (*at, index, "id"),
                    f'duplicate {what} id "{item_id}"{where} (also at {at[-1]}[{first[item_id]}]): ids must be unique',
                )
            else:
                first[item_id] = index

    def role_records(self) -> None:
        for i, record in self.parsed.roles:
            base = BUILTIN_ROLES.get(record.id)
            if base is not None and record.scope is not None and record.scope is not base.scope:
                self.report.add(
                    ("roles", i, "scope"),
                    f'"{record.id}" is a built-in {base.scope.value} role and its '
                    "scope cannot change: declare a role with an id of your own",
                )
            if base is None and record.name is None and "name" not in self.parsed.dropped.get(("roles", i), set()):
                self.report.add(
                    ("roles", i),
                    f'"{record.id}" is not a built-in role: give it a name, e.g. name = {{ sv = "...", en = "..." }}',
                )
            for k, fallback in enumerate(record.fallbacks or ()):
                if fallback == record.id:
                    self.report.add(("roles", i, "fallbacks", k), "a role cannot fall back to itself")
                else:
                    self._role(("roles", i, "fallbacks", k), fallback)
        graph = {rid: [f for f in role.fallbacks if f in self.roles and f != rid] for rid, role in self.roles.items()}
        for cycle in find_cycles(graph):
            where = next((i for i, r in self.parsed.roles if r.id in cycle and r.fallbacks), None)
            path: Path = ("roles", where, "fallbacks") if where is not None else ("roles",)
            self.report.add(
                path,
                f"role fallbacks form a cycle: {' → '.join(cycle)}; remove one of these fallbacks so the chain ends",
            )

    def people(self) -> None:
        media = {name: channel_medium(model) for name, model in self.parsed.channels.items()}
        names = ", ".join(self.channel_ids)
        hint = f" The channels are: {names}." if names else " No channels are configured: add a [channels.NAME] table."
        for i, record in self.parsed.people:
            for k, contact in enumerate(record.contact):
                if contact.channel is None:
                    continue
                path: Path = ("people", i, "contact", k, "channel")
                if not self._ref(path, "channel", contact.channel, self.channel_ids, hint):
                    continue
                medium = media.get(contact.channel)
                if medium is not None and medium is not contact.medium:
                    self.report.add(
                        path,
                        f'channel "{contact.channel}" serves {medium.value}, but this contact '
                        f"point is {contact.medium.value}: name a channel of that medium, or "
                        "leave channel out to use the first one",
                    )

    def holders(self) -> None:
        for role_id, people in (self.parsed.holders or {}).items():
            path: Path = ("holders", role_id)
            role = self._role(path, role_id)
            if role is not None and role.scope is RoleScope.PARTY:
                self.report.add(
                    path,
                    f'"{role_id}" is a party role: list its holders in each party, e.g. '
                    f'holders = {{ {role_id} = ["per"] }} under [[parties]]',
                )
            elif role is not None and role.scope is RoleScope.INCIDENT:
                self.report.add(
                    path,
                    f'"{role_id}" is filled per incident (like the targeted person or the chosen '
                    "support person), so it has no holders in the file: remove this line",
                )
            self._people(path, people)

    def parties(self) -> None:
        for i, party in self.parsed.parties:
            if party.routine is not None:
                hint = f" The routines are: {', '.join(sorted(self.routine_ids))}."
                self._ref(("parties", i, "routine"), "routine", party.routine, self.routine_ids, hint)
            for role_id, people in party.holders.items():
                path: Path = ("parties", i, "holders", role_id)
                role = self._role(path, role_id)
                if role is not None and role.scope is RoleScope.MUNICIPALITY:
                    self.report.add(
                        path, f'"{role_id}" is a municipality role, not a party role: list its holders under [holders]'
                    )
                elif role is not None and role.scope is RoleScope.INCIDENT:
                    self.report.add(
                        path, f'"{role_id}" is filled per incident, so it has no holders in the file: remove it'
                    )
                self._people(path, people)

    def routine_records(self) -> None:
        for routine in self.parsed.routines:
            at: Path = ("routines", routine.index)
            if routine.header is not None and routine.header.unresolved_to is not None:
                self._role((*at, "unresolved_to"), routine.header.unresolved_to, incident=False)
            for j, step in routine.steps:
                self._step((*at, "steps", j), step, routine, routine.dropped.get(j, set()))
            self._after_cycles(routine)

    def _step(self, at: Path, step: StepModel, routine: ParsedRoutine, dropped: set[str]) -> None:
        p = f"step {step.id}: "
        if dropped & {"owner", "owners"}:
            pass  # reported where it was read
        elif not step.owner and not step.owners:
            self.report.add(
                at,
                p + 'no owner: add owner = "role_id", or owners = ["role_a", "role_b"] for a step '
                "two roles own jointly",
            )
        elif step.owner is not None and step.owners is not None:
            self.report.add(at, p + "give owner or owners, not both")
        seen: set[str] = set()
        for key, role_id in owner_refs(step):
            if role_id in seen:
                self.report.add(at + key, p + f'"{role_id}" is named twice in owners')
            seen.add(role_id)
            self._role(at + key, role_id, p)
        for field in ("informed", "escalation"):
            for k, role_id in enumerate(getattr(step, field)):
                self._role((*at, field, k), role_id, p)
        if step.unresolved_to is not None:
            self._role((*at, "unresolved_to"), step.unresolved_to, p, incident=False)
        if step.fills_role is not None:
            role = self._role((*at, "fills_role"), step.fills_role, p)
            if role is not None and role.scope is not RoleScope.INCIDENT:
                self.report.add(
                    (*at, "fills_role"),
                    p + f'"{step.fills_role}" is not filled per incident: '
                    "fills_role names an incident role, such as support_person",
                )
        known_steps = {s for s in routine.step_ids if s}
        for k, other in enumerate(step.after or ()):
            if other == step.id:
                self.report.add((*at, "after", k), p + "a step cannot wait for itself")
            else:
                self._ref((*at, "after", k), "step", other, known_steps, self._steps_hint(routine), p)
        self._strategy(at, step, p, dropped)
        self._deadlines(at, step, p, dropped)

    def _strategy(self, at: Path, step: StepModel, p: str, dropped: set[str]) -> None:
        if dropped & {"strategy", "tree", "needed"}:
            return  # reported where it was read
        if step.strategy is Strategy.TREE and step.tree is None:
            self.report.add(
                (*at, "strategy"),
                p + 'strategy = "tree" needs a tree: add tree = { role = "...", children = [{ person = "..." }] }',
            )
        if step.tree is not None and step.strategy is not Strategy.TREE:
            self.report.add(
                (*at, "tree"), p + 'a tree is only used with strategy = "tree": add that, or remove the tree'
            )
        if step.tree is not None:
            size = self._tree((*at, "tree"), step.tree, p)
            if step.needed > size:
                self.report.add(
                    (*at, "needed"),
                    p + f"needed = {step.needed}, but the tree has only {size} "
                    f"node{'s' if size != 1 else ''}: lower needed or add nodes",
                )
        elif step.needed > 1:
            self.report.add((*at, "needed"), p + 'needed only applies to strategy = "tree": remove it')

    def _tree(self, at: Path, node: TreeModel, p: str) -> int:
        if (node.role is None) == (node.person is None):
            self.report.add(
                at,
                p + 'a tree node names exactly one of role or person, e.g. { role = "party_group_'
                'leader" } or { person = "per" }',
            )
        if node.role is not None:
            self._role((*at, "role"), node.role, p)
        if node.person is not None:
            self._ref((*at, "person"), "person", node.person, self.person_ids, _PERSON_HINT, p)
        return 1 + sum(self._tree((*at, "children", k), child, p) for k, child in enumerate(node.children))

    def _deadlines(self, at: Path, step: StepModel, p: str, dropped: set[str]) -> None:
        def check(path: Path, ack: str | None, done: str | None) -> None:
            if ack is not None and done is not None and parse_duration(ack) > parse_duration(done):
                self.report.add(
                    path,
                    p + f"ack_within ({ack}) is longer than done_within ({done}): a step must be "
                    "acknowledged before it can be done",
                )

        check((*at, "ack_within"), step.ack_within, step.done_within)
        for severity, override in step.by_severity.items():
            check(
                (*at, "by_severity", severity.value),
                override.ack_within or step.ack_within,
                override.done_within or step.done_within,
            )
        has_ack = step.ack_within is not None or any(d.ack_within for d in step.by_severity.values())
        if step.escalation and not has_ack and not dropped & {"ack_within", "by_severity"}:
            self.report.add(
                (*at, "escalation"),
                p + "escalation needs a deadline to escalate on: add ack_within = "
                '"15m" (without it nobody is ever escalated to)',
            )

    def _after_cycles(self, routine: ParsedRoutine) -> None:
        graph: dict[str, list[str]] = {}
        implicit: set[tuple[str, str]] = set()
        position: dict[str, int] = {}
        for j, step in routine.steps:
            if step.id in position:
                continue  # a duplicate id, reported as such
            position[step.id] = j
            if step.after is not None or "after" in routine.dropped.get(j, set()):
                graph[step.id] = [d for d in step.after or () if d != step.id]
            elif j > 0 and routine.step_ids[j - 1] not in (None, step.id):
                before = routine.step_ids[j - 1]
                assert before is not None
                graph[step.id] = [before]
                implicit.add((step.id, before))
            else:
                graph[step.id] = []
        for cycle in find_cycles(graph):
            note = ""
            if any(pair in implicit for pair in itertools.pairwise(cycle)):
                note = " (a step without after waits for the step before it)"
            path: Path = ("routines", routine.index, "steps", position[cycle[0]], "after")
            self.report.add(
                path,
                f"step {cycle[0]}: steps wait for each other in a cycle: {' → '.join(cycle)}, so "
                f"none of them can ever start{note}; remove one of these after entries",
            )

    def rules(self) -> None:
        hint = f" The routines are: {', '.join(sorted(self.routine_ids))}."
        for i, rule in self.parsed.rules:
            self._ref(("routine_rules", i, "routine"), "routine", rule.routine, self.routine_ids, hint)

    def municipality(self) -> None:
        header = self.parsed.municipality
        if header is None:
            return
        if header.default_routine is not None:
            hint = f" The routines are: {', '.join(sorted(self.routine_ids))}."
            self._ref(("municipality", "default_routine"), "routine", header.default_routine, self.routine_ids, hint)
        elif len(self.parsed.routines) > 1 and "default_routine" not in self.parsed.municipality_dropped:
            first = self.parsed.routines[0].raw_id or "..."
            self.report.add(
                ("municipality",),
                "default_routine is missing: name the routine an incident gets when "
                f'no [[routine_rules]] matches, e.g. default_routine = "{first}"',
            )

    def channels(self) -> None:
        for name, channel in self.parsed.channels.items():
            if channel_medium(channel) is None:
                self.report.add(
                    ("channels", name),
                    f'say which medium channel "{name}" serves: add medium = "sms", "voice" or "email"',
                )
            if channel.disclosure is Disclosure.FULL and (channel.model_extra or {}).get("internal") is not True:
                self.report.add(
                    ("channels", name, "disclosure"),
                    "full disclosure (with the incident description) is "
                    "only for internal channels: add internal = true if this channel never leaves the "
                    'municipality\'s own systems, or use "standard"',
                )

    def party_routines(self) -> None:
        done: set[tuple[str, str]] = set()
        for i, party in self.parsed.parties:
            mine = self.routines.get(party.routine or "")
            if mine is None or party.routine is None:
                continue
            for other_id in self.municipal_routines:
                if (party.routine, other_id) in done:
                    continue
                done.add((party.routine, other_id))
                path: Path = ("parties", i, "routine")
                if other_id == party.routine:
                    self.report.add(
                        path,
                        f'"{party.routine}" is also a municipal routine: a party routine runs '
                        "before the municipal one, so name a routine of the party's own",
                    )
                    continue
                theirs = {s for s in self.routines[other_id].step_ids if s}
                clash = [s for s in mine.step_ids if s and s in theirs]
                if clash:
                    self.report.add(
                        path,
                        f'routine "{party.routine}" runs before "{other_id}", but both have step '
                        f"{', '.join(clash)}: give the party routine's steps ids of their own, "
                        'e.g. "P1", "P2"',
                    )

    # -- who can be reached ----------------------------------------------------------------------------------

    def reachability(self) -> None:
        """Every step's owner must reach somebody, for every party the routine can run for."""
        parsed = self.parsed
        unsure = parsed.broken_ids("roles") or parsed.broken_ids("parties") or parsed.partial & {"roles", "parties"}
        if parsed.holders is None or unsure:
            return  # the directory is not known well enough to say who can be reached
        people: dict[str, Person] = {p.id: person(p, self.zone) for _, p in parsed.people}
        # A person whose record is broken is reported there; count them as present here.
        people.update({pid: Person(pid, pid) for pid in parsed.broken_ids("people")})
        found = directory(people, self.roles, (p for _, p in parsed.parties), parsed.holders)
        for routine in parsed.routines:
            if routine.header is None:
                continue
            contexts = self._contexts(routine.header.id)
            at: Path = ("routines", routine.index)
            default = routine.header.unresolved_to or DEFAULT_UNRESOLVED
            self._unresolved(
                found,
                at + (("unresolved_to",) if routine.header.unresolved_to else ()),
                default,
                contexts,
                "",
            )
            for j, step in routine.steps:
                fallback = step.unresolved_to or default
                if step.unresolved_to is not None:
                    self._unresolved(found, (*at, "steps", j, "unresolved_to"), fallback, contexts, f"step {step.id}: ")
                for key, role_id in owner_refs(step):
                    self._owner(found, (*at, "steps", j, *key), step, role_id, fallback, contexts)

    def _contexts(self, routine_id: str) -> list[str | None]:
        users = [p.id for _, p in self.parsed.parties if p.routine == routine_id]
        if users and routine_id not in self.municipal_routines:
            return list(users)
        return [*self.party_names, None]

    def _reaches(self, found: Directory, role_id: str, context: str | None) -> bool:
        role = self.roles.get(role_id)
        if role is None or role.scope is RoleScope.INCIDENT:
            return True  # reported elsewhere, or filled per incident
        return bool(found.resolve(role_id, context).people)

    def _chain(self, found: Directory, role_id: str, context: str | None) -> str:
        """``"a"`` or ``"a or its fallbacks b, c"``: the roles tried for ``role_id``."""
        first, *rest = found.resolve(role_id, context).via
        if not rest:
            return first
        return f"{first} or its fallback{'s' if len(rest) > 1 else ''} {', '.join(rest)}"

    def _unresolved(self, found: Directory, path: Path, role_id: str, contexts: Sequence[str | None], p: str) -> None:
        failing = [c for c in contexts if not self._reaches(found, role_id, c)]
        if not failing:
            return
        where = "unresolved_to" if path[-1] == "unresolved_to" else "the default unresolved_to"
        self.report.add(
            path,
            f'{p}{where} "{role_id}" reaches nobody for {_describe_context(self.party_names, failing)}: '
            f"nobody holds {self._chain(found, role_id, failing[0])}, so an escalation that runs out "
            'would tell nobody; give that role holders, or set unresolved_to = "..." to a role that has some',
        )

    def _owner(
        self,
        found: Directory,
        path: Path,
        step: StepModel,
        role_id: str,
        fallback: str,
        contexts: Sequence[str | None],
    ) -> None:
        role = self.roles.get(role_id)
        if role is None or role.scope is RoleScope.INCIDENT:
            return
        failing = [
            c for c in contexts if not self._reaches(found, role_id, c) and not self._reaches(found, fallback, c)
        ]
        if not failing:
            return
        fixes = []
        parties = [c for c in failing if c is not None]
        if role.scope is RoleScope.PARTY and parties:
            fixes.append(
                f'give {"that party" if len(parties) == 1 else "those parties"} holders = {{ {role_id} = ["..."] }}'
            )
        elif role.scope is RoleScope.MUNICIPALITY:
            fixes.append(f'add {role_id} = ["..."] under [holders]')
        fixes.append(f'set unresolved_to (now "{fallback}") to a role that has holders')
        self.report.add(
            path,
            f"step {step.id}: nobody can take this step for {_describe_context(self.party_names, failing)}: "
            f'nobody holds {self._chain(found, role_id, failing[0])}, nor unresolved_to "{fallback}"; '
            + " or ".join(fixes),
        )


def run_checks(parsed: Parsed, report: Report) -> None:
    """Run every cross-record check on what validated, reporting into ``report``."""
    checker = _Checker(parsed, report)
    checker.duplicates()
    checker.role_records()
    checker.people()
    checker.holders()
    checker.parties()
    checker.routine_records()
    checker.rules()
    checker.municipality()
    checker.channels()
    checker.party_routines()
    checker.reachability()
