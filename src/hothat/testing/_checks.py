"""Checks on a timeline, shared by the simulation's ``assert_*`` helpers and the expectations of scenario files.

Each check returns an :class:`Outcome`: whether it held, what was expected, and what happened (instead), in the
timeline's language, so a failure reads as a sentence a security chief understands.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import attrs

from hothat.channels import MessageKind
from hothat.domain import Medium, format_duration
from hothat.testing.timeline import Timeline, TimelineEntry, format_offset

__all__ = ["Outcome"]


@attrs.frozen
class Outcome:
    """The result of one check.

    Attributes:
        ok: whether the check held.
        expected: what was expected, as a sentence.
        actual: what happened (for a failure: what happened instead).
        deadline: the offset the check was judged at, if it has one.
    """

    ok: bool
    expected: str
    actual: str
    deadline: timedelta | None = None


class _Words:
    """Swedish or English phrases for outcome sentences."""

    def __init__(self, timeline: Timeline) -> None:
        self.tl = timeline
        self.en = timeline.lang == "en"

    def t(self, sv: str, en: str) -> str:
        return en if self.en else sv

    def role(self, role: str | None) -> str:
        return self.tl.role_name(role)

    def who(self, e: TimelineEntry) -> str:
        name = self.tl.person_name(e.person, e.role)
        role = self.role(e.role)
        return f"{name} ({role})" if not name.startswith("[") else name

    def when(self, offset: timedelta) -> str:
        return format_offset(offset)


def _ran_to(words: _Words, now: timedelta, deadline: timedelta | None) -> str:
    if deadline is not None and now < deadline:
        return words.t(
            f" (simuleringen kördes bara till {words.when(now)})", f" (the simulation only ran to {words.when(now)})"
        )
    return ""


def _story(words: _Words, tl: Timeline, step: str) -> str:
    """What happened to a step, in a few words: started, escalations, exhaustion, skip."""
    parts: list[str] = []
    started = tl.where("activated", step=step)
    skipped = tl.where("skipped", step=step)
    if skipped:
        return words.t(
            f"steget hoppades över vid {words.when(skipped[0].offset)}",
            f"the step was skipped at {words.when(skipped[0].offset)}",
        )
    if not started:
        return words.t("steget startade aldrig", "the step never started")
    parts.append(words.t(f"startade {words.when(started[0].offset)}", f"started {words.when(started[0].offset)}"))
    escalations = tl.where("escalated", step=step)
    if escalations:
        times = ", ".join(f"{words.when(e.offset)} → {words.role(e.role)}" for e in escalations[:6])
        parts.append(words.t(f"eskalerade {times}", f"escalated {times}"))
    exhausted = tl.where("exhausted", step=step)
    if exhausted:
        parts.append(
            words.t(
                f"eskaleringen uttömd {words.when(exhausted[0].offset)}",
                f"escalation exhausted {words.when(exhausted[0].offset)}",
            )
        )
    unresolved = tl.where("unresolved", step=step)
    if unresolved:
        roles = ", ".join(dict.fromkeys(words.role(e.role) for e in unresolved))
        parts.append(words.t(f"ingen nåbar för {roles}", f"nobody reachable for {roles}"))
    return "; ".join(parts)


def _matches(e: TimelineEntry, role: str | None, person: str | None) -> bool:
    return (role is None or e.has_role(role)) and (person is None or e.person == person)


def _by_whom(words: _Words, role: str | None, person: str | None) -> str:
    if person is not None:
        return words.t(f" av {words.tl.person_name(person, role)}", f" by {words.tl.person_name(person, role)}")
    if role is not None:
        return words.t(f" av {words.role(role)}", f" by {words.role(role)}")
    return ""


def answered(
    tl: Timeline,
    now: timedelta,
    event: str,
    step: str,
    *,
    role: str | None = None,
    person: str | None = None,
    within: timedelta | None = None,
    expected: bool = True,
) -> Outcome:
    """``step`` was acknowledged (or completed: ``event="completed"``) by ``role``/``person`` within ``within``."""
    w = _Words(tl)
    verb = {
        "acknowledged": ("kvitteras", "acknowledged"),
        "completed": ("blir klart", "completed"),
        "activated": ("startar", "started"),
        "skipped": ("hoppas över", "skipped"),
    }[event]
    deadline = w.t(f" senast {w.when(within)}", f" by {w.when(within)}") if within is not None else ""
    negation = "" if expected else w.t(" inte", " not")
    text = w.t(
        f"{step} {verb[0]}{negation}{_by_whom(w, role, person)}{deadline}",
        f"{step} is{negation} {verb[1]}{_by_whom(w, role, person)}{deadline}",
    )
    found = tl.where(event, step=step)
    matching = [e for e in found if _matches(e, role, person)]
    in_time = [e for e in matching if within is None or e.offset <= within]
    ok = bool(in_time) == expected
    if in_time:
        first = in_time[0]
        who = w.t(f" av {w.who(first)}", f" by {w.who(first)}") if first.person else ""
        actual = w.t(f"{step} {verb[0]} {w.when(first.offset)}{who}", f"{step} {verb[1]} {w.when(first.offset)}{who}")
    elif matching:
        first = matching[0]
        late = first.offset - within if within is not None else timedelta(0)
        actual = w.t(
            f"{step} {verb[0]} först {w.when(first.offset)} av {w.who(first)}, {format_duration(late)} för sent",
            f"{step} was {verb[1]} only at {w.when(first.offset)} by {w.who(first)}, {format_duration(late)} late",
        )
    elif found:
        first = found[0]
        actual = w.t(
            f"{step} {verb[0]} {w.when(first.offset)} av {w.who(first)} i stället",
            f"{step} was {verb[1]} at {w.when(first.offset)} by {w.who(first)} instead",
        )
    else:
        never = w.t(f"{step} {verb[0]} aldrig", f"{step} was never {verb[1]}")
        actual = f"{never}: {_story(w, tl, step)}{_ran_to(w, now, within)}"
    return Outcome(ok, text, actual, within)


def step_event(tl: Timeline, event: str, step: str, *, expected: bool = True) -> Outcome:
    """Whether the step ever escalated (``"escalated"``), exhausted (``"exhausted"``) or reached nobody
    (``"unresolved"``)."""
    w = _Words(tl)
    sv_yes, sv_no, en_yes, en_no = {
        "escalated": ("eskalerar", "eskalerar inte", "escalates", "does not escalate"),
        "exhausted": (
            "får uttömd eskalering",
            "får inte uttömd eskalering",
            "exhausts its escalation",
            "does not exhaust its escalation",
        ),
        "unresolved": (
            "når ingen för någon roll",
            "når någon för varje roll",
            "finds nobody for a role",
            "finds someone for every role",
        ),
    }[event]
    text = w.t(f"{step} {sv_yes if expected else sv_no}", f"{step} {en_yes if expected else en_no}")
    found = tl.where(event, step=step)
    ok = bool(found) == expected
    if found:
        e = found[0]
        actual = w.t(
            f"{step}: {tl.detail_text(e) or w.role(e.role)} vid {w.when(e.offset)} ({_story(w, tl, step)})",
            f"{step}: {tl.detail_text(e) or w.role(e.role)} at {w.when(e.offset)} ({_story(w, tl, step)})",
        )
    else:
        actual = w.t(f"{step}: {_story(w, tl, step)}", f"{step}: {_story(w, tl, step)}")
    return Outcome(ok, text, actual)


def _fact(tl: Timeline, fact: str) -> bool | None:
    value: bool | None = None
    for e in tl.where("fact"):
        name, _, decided = e.detail.partition("=")
        if name == fact:
            value = decided == "true"
    return value


def contacted(
    tl: Timeline,
    *,
    role: str | None = None,
    person: str | None = None,
    medium: Medium | None = None,
    within: timedelta | None = None,
    expected: bool = True,
    unless_fact: str | None = None,
) -> Outcome:
    """Whether any message reached ``role``/``person`` (on ``medium``, within ``within``)."""
    w = _Words(tl)
    target = w.tl.person_name(person, role) if person else w.role(role)
    on = f" ({medium.value})" if medium else ""
    by = w.t(f" senast {w.when(within)}", f" by {w.when(within)}") if within is not None else ""
    if expected:
        text = w.t(f"{target} kontaktas{on}{by}", f"{target} is contacted{on}{by}")
    else:
        text = w.t(f"{target} kontaktas aldrig{on}", f"{target} is never contacted{on}")
    if unless_fact:
        text += w.t(f", utom om {unless_fact} = ja", f", unless {unless_fact} = yes")
    messages = [
        e
        for e in tl.where("message")
        if _matches(e, role, person)
        and (medium is None or e.medium is medium)
        and (within is None or e.offset <= within)
    ]
    if unless_fact and _fact(tl, unless_fact) is True:
        return Outcome(True, text, w.t(f"gäller inte: {unless_fact} = ja", f"does not apply: {unless_fact} = yes"))
    ok = bool(messages) == expected
    if messages:
        first = messages[0]
        kind = first.kind.value if first.kind else "-"
        actual = w.t(
            f"{len(messages)} meddelande(n), det första {w.when(first.offset)} till {w.who(first)} ({kind}, "
            f"steg {first.step})",
            f"{len(messages)} message(s), the first at {w.when(first.offset)} to {w.who(first)} ({kind}, "
            f"step {first.step})",
        )
    else:
        actual = w.t(f"{target} fick inget meddelande", f"{target} got no message")
    return Outcome(ok, text, actual, within)


def message_count(
    tl: Timeline,
    *,
    person: str | None = None,
    role: str | None = None,
    kind: MessageKind | None = None,
    medium: Medium | None = None,
    count: int | None = None,
    at_most: int | None = None,
    at_least: int | None = None,
) -> Outcome:
    """How many messages were sent (to ``person``/``role``, of ``kind``, on ``medium``)."""
    w = _Words(tl)
    messages = [
        e
        for e in tl.where("message")
        if _matches(e, role, person) and (kind is None or e.kind is kind) and (medium is None or e.medium is medium)
    ]
    n = len(messages)
    scope = []
    if person or role:
        scope.append(
            w.t(
                f"till {w.tl.person_name(person, role) if person else w.role(role)}",
                f"to {w.tl.person_name(person, role) if person else w.role(role)}",
            )
        )
    if kind:
        scope.append(f"({kind.value})")
    if medium:
        scope.append(f"({medium.value})")
    where = (" " + " ".join(scope)) if scope else ""
    bounds = []
    ok = True
    if count is not None:
        bounds.append(w.t(f"exakt {count}", f"exactly {count}"))
        ok = ok and n == count
    if at_most is not None:
        bounds.append(w.t(f"högst {at_most}", f"at most {at_most}"))
        ok = ok and n <= at_most
    if at_least is not None:
        bounds.append(w.t(f"minst {at_least}", f"at least {at_least}"))
        ok = ok and n >= at_least
    text = w.t(f"{' och '.join(bounds)} meddelanden{where}", f"{' and '.join(bounds)} messages{where}")
    by_kind: dict[str, int] = {}
    for e in messages:
        by_kind[e.kind.value if e.kind else "?"] = by_kind.get(e.kind.value if e.kind else "?", 0) + 1
    split = ", ".join(f"{k} {v}" for k, v in by_kind.items())
    actual = w.t(
        f"{n} meddelanden{where}" + (f" ({split})" if split else ""),
        f"{n} messages{where}" + (f" ({split})" if split else ""),
    )
    return Outcome(ok, text, actual)


def protected_not_named(tl: Timeline, texts: Sequence[tuple[TimelineEntry | None, str]]) -> Outcome:
    """No message text names a person with protected identity."""
    w = _Words(tl)
    names = [p.name for p in tl.municipality.directory.people.values() if p.protected_identity and p.name]
    text = w.t(
        "ingen med skyddad identitet nämns i något meddelande", "nobody with protected identity is named in any message"
    )
    for entry, body in texts:
        lowered = body.casefold()
        for name in names:
            if name.casefold() in lowered:
                where = f" {w.when(entry.offset)}" if entry is not None else ""
                return Outcome(
                    False,
                    text,
                    w.t(
                        f"ett meddelande{where} nämner en person med skyddad identitet",
                        f"a message{where} names a person with protected identity",
                    ),
                )
    return Outcome(True, text, w.t(f"{len(texts)} meddelanden granskade", f"{len(texts)} messages checked"))
