"""Routines: ordered steps, each owned by a role, with deadlines, conditions and escalation."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import timedelta

import attrs

from hothat.domain.incident import Severity

__all__ = [
    "ChecklistItem",
    "Deadlines",
    "FactCondition",
    "Routine",
    "Step",
    "Strategy",
    "Text",
    "TreeNode",
]


@attrs.frozen
class Text:
    """A text in Swedish and, optionally, English."""

    sv: str
    en: str = ""

    def get(self, locale: str = "sv") -> str:
        """The text in ``locale``, falling back to Swedish."""
        if locale == "en" and self.en:
            return self.en
        return self.sv or self.en


class Strategy(enum.StrEnum):
    """How the holders of a step's role are notified."""

    ALL = "all"
    """Everyone at once; the first to acknowledge takes the step."""
    SEQUENTIAL = "sequential"
    """One holder at a time, each given ``ack_within``, until one acknowledges."""
    TREE = "tree"
    """A phone tree: each node's children are notified when the node answers *or* fails to."""


@attrs.frozen
class FactCondition:
    """A condition on one fact: ``police_report_wanted`` or ``not needs_healthcare``.

    A step waits while its fact is undecided and is skipped when the condition is false.
    """

    fact: str
    expected: bool = True

    @classmethod
    def parse(cls, text: str) -> FactCondition:
        """Parse ``"fact"`` or ``"not fact"``."""
        words = text.split()
        # "not" alone is a negation without a fact, not a fact named "not".
        if len(words) == 2 and words[0].lower() == "not" and words[1].lower() != "not":
            return cls(words[1], expected=False)
        if len(words) == 1 and words[0].lower() != "not":
            return cls(words[0], expected=True)
        raise ValueError(f"{text!r} is not a condition: write a fact name, or 'not' and a fact name")

    def evaluate(self, facts: Mapping[str, bool]) -> bool | None:
        """True or False once the fact is decided, ``None`` while it is undecided."""
        if self.fact not in facts:
            return None
        return facts[self.fact] is self.expected

    def __str__(self) -> str:
        return self.fact if self.expected else f"not {self.fact}"


@attrs.frozen
class ChecklistItem:
    """A state the owner must ensure and tick (Oxelösund: "Den utsatte har fått initialt stöd")."""

    id: str
    text: Text


@attrs.frozen
class Deadlines:
    """How long the step may wait for an acknowledgement and for completion. ``None``: no deadline."""

    ack_within: timedelta | None = None
    done_within: timedelta | None = None


@attrs.frozen
class TreeNode:
    """A node of a phone tree: a role or a person, and the nodes called after it.

    Exactly one of ``role`` and ``person`` is set.
    """

    role: str | None = None
    person: str | None = None
    children: tuple[TreeNode, ...] = ()

    def walk(self) -> tuple[TreeNode, ...]:
        """This node and all nodes below it, depth first."""
        out: list[TreeNode] = [self]
        for child in self.children:
            out.extend(child.walk())
        return tuple(out)


@attrs.frozen
class Step:
    """One step of a routine.

    Attributes:
        id: the step number, e.g. ``"3.1.2"``.
        title: a short title.
        instruction: what the owner is to do (verbatim from the municipality's routine where there is one).
        owners: the owning role ids; two or more means joint ownership: each must acknowledge and complete.
        informed: roles told about the step without owning it.
        after: step ids this step waits for; ``None`` means the previous step, ``()`` means none (parallel).
        when: a fact condition; while undecided the step waits, when false it is skipped.
        deadlines: default ``ack_within`` / ``done_within``.
        by_severity: deadlines that replace the defaults for one severity (acute is faster).
        escalation: roles to go to, in order, when the owner does not acknowledge in time.
        repeat: how many more times the escalation list is gone through after the last level.
        strategy: all, sequential or tree.
        tree: the tree for ``strategy = "tree"``.
        needed: how many acknowledgements the tree needs.
        checklist: items the owner ticks before completing.
        unresolved_to: the role told when nobody can be reached; ``None`` uses the routine's.
        fills_role: an incident role the step's completion fills (3.2.1 chooses the ``support_person``).
    """

    id: str
    title: Text
    owners: tuple[str, ...]
    instruction: Text = Text("")
    informed: tuple[str, ...] = ()
    after: tuple[str, ...] | None = None
    when: FactCondition | None = None
    deadlines: Deadlines = Deadlines()
    by_severity: Mapping[Severity, Deadlines] = attrs.field(factory=dict)
    escalation: tuple[str, ...] = ()
    repeat: int = 0
    strategy: Strategy = Strategy.ALL
    tree: TreeNode | None = None
    needed: int = 1
    checklist: tuple[ChecklistItem, ...] = ()
    unresolved_to: str | None = None
    fills_role: str | None = None

    def deadlines_for(self, severity: Severity) -> Deadlines:
        """The deadlines for one severity: an override field wins, the default fills what it leaves out."""
        override = self.by_severity.get(severity)
        if override is None:
            return self.deadlines
        return Deadlines(
            ack_within=override.ack_within if override.ack_within is not None else self.deadlines.ack_within,
            done_within=override.done_within if override.done_within is not None else self.deadlines.done_within,
        )

    @property
    def joint(self) -> bool:
        """True when two or more roles own the step together."""
        return len(self.owners) > 1


@attrs.frozen
class Routine:
    """An ordered set of steps, run for an incident.

    Attributes:
        id: the routine id.
        name: its name.
        steps: the steps in order; ``after = None`` in a step means "the one before".
        unresolved_to: the role told when a step's chain reaches nobody (default ``municipal_security_unit``
            if the config does not say).
        description: a longer text (source, adoption date).
    """

    id: str
    name: Text
    steps: tuple[Step, ...]
    unresolved_to: str = "municipal_security_unit"
    description: Text = Text("")

    def step(self, step_id: str) -> Step:
        """Find a step by id; raises ``KeyError`` naming it."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(f"routine {self.id!r} has no step {step_id!r}")

    def dependencies(self, step: Step) -> tuple[str, ...]:
        """The steps ``step`` waits for, with ``after = None`` read as "the one before"."""
        if step.after is not None:
            return step.after
        index = self.steps.index(step)
        return (self.steps[index - 1].id,) if index > 0 else ()

    def then(self, other: Routine) -> Routine:
        """This routine followed by ``other``: the first steps of ``other`` wait for this one's last steps.

        Used for a party's own chain run before the municipal routine (Ängelholm). Step ids must not clash.
        """
        if not self.steps:
            return other
        mine = {s.id for s in self.steps}
        clash = mine & {s.id for s in other.steps}
        if clash:
            raise ValueError(f"routines {self.id!r} and {other.id!r} share step ids: {sorted(clash)}")
        depended = {d for s in self.steps for d in self.dependencies(s)}
        tails = tuple(s.id for s in self.steps if s.id not in depended)
        joined: list[Step] = list(self.steps)
        for step in other.steps:
            deps = other.dependencies(step)
            if not deps:
                joined.append(attrs.evolve(step, after=tails))
            else:
                joined.append(attrs.evolve(step, after=deps))
        return Routine(
            id=f"{self.id}+{other.id}",
            name=Text(f"{self.name.sv} + {other.name.sv}", f"{self.name.get('en')} + {other.name.get('en')}"),
            steps=tuple(joined),
            unresolved_to=other.unresolved_to,
            description=other.description,
        )
