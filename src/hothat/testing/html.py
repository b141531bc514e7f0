"""A timeline as one self-contained HTML page: inline CSS and SVG, no scripts, no fonts or files fetched.

The picture has two parts on one time axis: the steps (a bar from start to completion, hatched while nobody has
taken the step) and one lane per role with a mark for every message (shape by medium), acknowledgement, decline,
escalation, completion, exhausted escalation and role that reached nobody. Every mark is an SVG element with
``data-event``, ``data-step``, ``data-role``, ``data-person`` and ``data-offset`` attributes and a tooltip
(``<title>``); a table below lists the same events in words.

Only display names appear, and a person with protected identity is shown by role only. Notes, descriptions and
addresses never appear.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from hothat.channels import MessageKind
from hothat.domain import Medium
from hothat.testing._checks import Outcome
from hothat.testing.timeline import Timeline, TimelineEntry, format_offset, label

__all__ = ["render_html"]

_W = 1200
_LEFT = 250
_RIGHT = 40
_STEP_ROW = 30
_LANE = 60
_AXIS = 44

_MEDIUM_COLOUR = {Medium.SMS: "#1d4ed8", Medium.EMAIL: "#7e22ce", Medium.VOICE: "#0f766e"}
_LANE_EVENTS = {
    "message",
    "delivery_failed",
    "acknowledged",
    "declined",
    "escalated",
    "exhausted",
    "unresolved",
    "completed",
    "overdue",
    "no_effect",
    "fallback",
}
_INCIDENT_EVENTS = {"reported", "fact", "closed", "role_assigned", "stalled"}
_TICKS = [timedelta(minutes=m) for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)]

_WORDS = {
    "sv": {
        "title": "Tidslinje",
        "steps": "Steg",
        "roles": "Roller",
        "incident": "Incidenten",
        "legend": "Teckenförklaring",
        "all": "Alla händelser",
        "time": "Tid",
        "clock": "Klockan",
        "event": "Händelse",
        "step": "Steg",
        "role": "Roll",
        "person": "Person",
        "medium": "Medium",
        "expect": "Förväntningar",
        "met": "uppfylld",
        "unmet": "inte uppfylld",
        "instead": "I stället",
        "waiting": "väntar på att någon tar steget",
        "taken": "taget",
        "done": "klart",
        "skipped": "hoppas över",
        "never": "startade inte",
        "messages": "meddelanden",
        "start": "Start",
        "footer": "Simulerad med hothat på en virtuell klocka: "
        "inga meddelanden skickades på riktigt. Personer med skyddad identitet visas bara med roll.",
        "sms": "SMS",
        "email": "E-post",
        "voice": "Samtal",
        "escalated_kind": "eskalering (orange kant)",
        "reminder_kind": "påminnelse (streckad)",
        "info_kind": "besked, för kännedom (ihålig)",
        "unresolved_kind": "ingen nådd: ta över (röd kant)",
    },
    "en": {
        "title": "Timeline",
        "steps": "Steps",
        "roles": "Roles",
        "incident": "The incident",
        "legend": "Legend",
        "all": "All events",
        "time": "Time",
        "clock": "Clock",
        "event": "Event",
        "step": "Step",
        "role": "Role",
        "person": "Person",
        "medium": "Medium",
        "expect": "Expectations",
        "met": "met",
        "unmet": "not met",
        "instead": "Instead",
        "waiting": "waiting for someone to take the step",
        "taken": "taken",
        "done": "done",
        "skipped": "skipped",
        "never": "did not start",
        "messages": "messages",
        "start": "Start",
        "footer": "Simulated by hothat on a virtual clock: no message was really sent. People with protected "
        "identity are shown by role only.",
        "sms": "SMS",
        "email": "E-mail",
        "voice": "Call",
        "escalated_kind": "escalation (orange rim)",
        "reminder_kind": "reminder (dashed)",
        "info_kind": "notice, for information (hollow)",
        "unresolved_kind": "nobody reached: take over (red rim)",
    },
}

_DAYS = {
    "sv": ("mån", "tis", "ons", "tor", "fre", "lör", "sön"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1f2937; background: #f8fafc; margin: 0; padding: 24px 32px 40px; }
header h1 { font-size: 22px; margin: 0 0 4px; }
header p { margin: 0; color: #475569; }
.card { background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; padding: 16px 20px; margin-top: 18px; }
.card h2 { font-size: 16px; margin: 0 0 10px; }
ul.expect { list-style: none; margin: 0; padding: 0; }
ul.expect li { padding: 6px 0 6px 30px; position: relative; border-top: 1px solid #f1f5f9; }
ul.expect li:first-child { border-top: none; }
ul.expect li::before { position: absolute; left: 4px; top: 5px; font-weight: 700; font-size: 16px; }
ul.expect li.ok::before { content: "✓"; color: #15803d; }
ul.expect li.fail::before { content: "✗"; color: #b91c1c; }
ul.expect li.fail { background: #fef2f2; }
ul.expect .why { display: block; color: #7f1d1d; font-size: 14px; }
figure { margin: 0; }
svg.timeline { width: 100%; height: auto; display: block; font-family: inherit; }
svg .lane-label { font-size: 13px; fill: #1f2937; }
svg .section { font-size: 12px; font-weight: 700; fill: #475569; letter-spacing: .06em; text-transform: uppercase; }
svg .tick { font-size: 11px; fill: #64748b; }
svg .tick-clock { font-size: 10px; fill: #94a3b8; }
svg .note { font-size: 11px; fill: #475569; }
.legend { display: flex; flex-wrap: wrap; gap: 8px 22px; margin-top: 12px; font-size: 13px; color: #334155; }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 10px 4px 0; border-bottom: 1px solid #f1f5f9; white-space: nowrap; }
th { color: #475569; font-weight: 600; }
td.event { white-space: normal; }
details summary { cursor: pointer; font-weight: 600; }
footer { margin-top: 18px; font-size: 12px; color: #64748b; }
"""


def _x(offset: timedelta, span: timedelta) -> float:
    fraction = offset / span if span else 0.0
    return _LEFT + max(0.0, min(1.0, fraction)) * (_W - _LEFT - _RIGHT)


def _tick_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"+{days}d" + (f"{hours}h" if hours else "")
    if hours:
        return f"+{hours}h" + (f"{mins:02d}" if mins else "")
    return f"+{mins}m"


def _shape(entry: TimelineEntry) -> str:
    """The SVG of one mark, centred on (0, 0)."""
    event = entry.event
    if event in ("message", "delivery_failed"):
        colour = _MEDIUM_COLOUR.get(entry.medium or Medium.SMS, "#334155")
        kind = entry.kind
        hollow = kind in (MessageKind.TAKEN, MessageKind.INFORMED, MessageKind.CLOSED) or event == "delivery_failed"
        fill = "#ffffff" if hollow else colour
        stroke, width, dash = colour, 1.5, ""
        if kind is MessageKind.ESCALATION:
            stroke, width = "#ea580c", 3
        elif kind is MessageKind.UNRESOLVED:
            stroke, width = "#dc2626", 3
        elif kind is MessageKind.REMINDER:
            stroke, width, dash = "#a16207", 2, ' stroke-dasharray="3 2"'
        style = f'fill="{fill}" stroke="{stroke}" stroke-width="{width}"{dash}'
        if entry.medium is Medium.EMAIL:
            body = f'<rect x="-6" y="-6" width="12" height="12" rx="1.5" {style}/>'
        elif entry.medium is Medium.VOICE:
            body = f'<path d="M0,-8 L7.5,6 L-7.5,6 Z" {style}/>'
        else:
            body = f'<circle r="6.5" {style}/>'
        if event == "delivery_failed":
            body += '<path d="M-4,-4 L4,4 M4,-4 L-4,4" stroke="#6b7280" stroke-width="2"/>'
        return body
    if event == "acknowledged":
        return (
            '<circle r="9" fill="#15803d"/>'
            '<path d="M-4.5,0.5 L-1.2,3.8 L4.8,-3.2" fill="none" stroke="#fff" stroke-width="2.4" '
            'stroke-linecap="round" stroke-linejoin="round"/>'
        )
    if event == "declined":
        return (
            '<circle r="9" fill="#b91c1c"/>'
            '<path d="M-3.8,-3.8 L3.8,3.8 M3.8,-3.8 L-3.8,3.8" stroke="#fff" stroke-width="2.4" '
            'stroke-linecap="round"/>'
        )
    if event == "escalated":
        return (
            '<path d="M-8,-7 L-1,0 L-8,7 M0,-7 L7,0 L0,7" fill="none" stroke="#ea580c" stroke-width="3" '
            'stroke-linecap="round" stroke-linejoin="round"/>'
        )
    if event == "completed":
        return (
            '<path d="M-5,9 L-5,-10" stroke="#14532d" stroke-width="2.2" stroke-linecap="round"/>'
            '<path d="M-4,-10 L8,-5.5 L-4,-1 Z" fill="#14532d"/>'
        )
    if event == "exhausted":
        return (
            '<path d="M-4,-9.5 L4,-9.5 L9.5,-4 L9.5,4 L4,9.5 L-4,9.5 L-9.5,4 L-9.5,-4 Z" fill="#b91c1c"/>'
            '<path d="M0,-5 L0,1.5" stroke="#fff" stroke-width="2.4" stroke-linecap="round"/>'
            '<circle cy="5" r="1.4" fill="#fff"/>'
        )
    if event == "unresolved":
        return (
            '<circle r="8" fill="#fff" stroke="#b91c1c" stroke-width="2.5"/>'
            '<path d="M-5.5,5.5 L5.5,-5.5" stroke="#b91c1c" stroke-width="2.5"/>'
        )
    if event == "overdue":
        return (
            '<circle r="8" fill="#fef9c3" stroke="#a16207" stroke-width="2"/>'
            '<path d="M0,-4.5 L0,0 L3.5,2.5" fill="none" stroke="#a16207" stroke-width="2" '
            'stroke-linecap="round"/>'
        )
    if event == "fallback":
        return (
            '<path d="M-7,-5 L4,-5 L4,5 M0,1 L4,5 L8,1" fill="none" stroke="#475569" stroke-width="2" '
            'stroke-linecap="round" stroke-linejoin="round"/>'
        )
    if event == "fact":
        return '<path d="M0,-7 L7,0 L0,7 L-7,0 Z" fill="#334155"/>'
    if event in ("reported", "closed"):
        return '<circle r="5" fill="#334155"/>'
    if event == "no_effect":
        return '<circle r="6" fill="#fff" stroke="#94a3b8" stroke-width="2" stroke-dasharray="2 2"/>'
    return '<circle r="4" fill="#64748b"/>'


def _legend_icon(entry: TimelineEntry) -> str:
    return f'<svg width="24" height="24" viewBox="-12 -12 24 24" aria-hidden="true">{_shape(entry)}</svg>'


def _legend(timeline: Timeline, lang: str) -> str:
    w = _WORDS[lang]
    at = datetime(2026, 1, 1)
    zero = timedelta(0)
    items: list[tuple[TimelineEntry, str]] = []
    for medium in Medium:
        items.append((TimelineEntry(at, zero, "message", medium=medium, kind=MessageKind.NOTIFY), w[medium.value]))
    items += [
        (TimelineEntry(at, zero, "message", medium=Medium.SMS, kind=MessageKind.ESCALATION), w["escalated_kind"]),
        (TimelineEntry(at, zero, "message", medium=Medium.SMS, kind=MessageKind.UNRESOLVED), w["unresolved_kind"]),
        (TimelineEntry(at, zero, "message", medium=Medium.SMS, kind=MessageKind.REMINDER), w["reminder_kind"]),
        (TimelineEntry(at, zero, "message", medium=Medium.SMS, kind=MessageKind.TAKEN), w["info_kind"]),
    ]
    for event in (
        "acknowledged",
        "declined",
        "escalated",
        "completed",
        "overdue",
        "exhausted",
        "unresolved",
        "fallback",
        "delivery_failed",
        "fact",
        "no_effect",
    ):
        items.append((TimelineEntry(at, zero, event, medium=Medium.SMS), label(event, lang)))
    spans = "".join(f"<span>{_legend_icon(e)}{escape(text)}</span>" for e, text in items)
    bars = (
        f'<span><svg width="34" height="14" aria-hidden="true"><rect width="34" height="14" '
        f'fill="url(#hatch)" stroke="#94a3b8"/></svg>{escape(w["waiting"])}</span>'
        f'<span><svg width="34" height="14" aria-hidden="true"><rect width="34" height="14" fill="#16a34a" '
        f"/></svg>{escape(w['taken'])}</span>"
    )
    return f'<div class="legend" aria-label="{escape(w["legend"])}">{bars}{spans}</div>'


def _local(at: datetime, zone: ZoneInfo) -> datetime:
    return at.astimezone(zone)


def _start_text(origin: datetime | None, zone: ZoneInfo, lang: str) -> str:
    if origin is None:
        return ""
    local = _local(origin, zone)
    return f"{_DAYS[lang][local.weekday()]} {local:%Y-%m-%d %H:%M}"


def render_html(
    timeline: Timeline,
    *,
    title: str = "",
    subtitle: str = "",
    outcomes: Sequence[Outcome] = (),
    lang: str | None = None,
) -> str:
    """The timeline as a self-contained HTML page (Swedish labels unless ``lang="en"``).

    Args:
        timeline: what happened.
        title: the page heading (a scenario's name).
        subtitle: a line under it (a scenario's description).
        outcomes: expectations with their outcomes, listed above the picture.
        lang: ``"sv"`` or ``"en"``; default the timeline's language.
    """
    lang = "en" if (lang or timeline.lang) == "en" else "sv"
    w = _WORDS[lang]
    zone = ZoneInfo(timeline.municipality.timezone)
    entries = list(timeline)
    end = max((e.offset for e in entries), default=timedelta(0))
    span = max(end * 1.04, timedelta(minutes=30))

    steps = _steps(timeline)
    roles = _roles(timeline)
    steps_top = _AXIS + 26
    roles_top = steps_top + len(steps) * _STEP_ROW + 40
    lanes = [None, *roles]  # None: the incident lane
    height = roles_top + len(lanes) * _LANE + 16

    svg: list[str] = [
        f'<svg class="timeline" viewBox="0 0 {_W} {height}" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'aria-label="{escape(w["title"])}">',
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff7ed"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#fdba74" stroke-width="3"/></pattern></defs>',
    ]
    svg += _axis(span, timeline.origin, zone, height)
    svg.append(f'<text class="section" x="12" y="{steps_top - 10}">{escape(w["steps"])}</text>')
    svg += _step_rows(timeline, steps, span, steps_top, lang)
    svg.append(f'<text class="section" x="12" y="{roles_top - 10}">{escape(w["roles"])}</text>')
    svg += _lanes(timeline, lanes, span, roles_top, lang)
    svg.append("</svg>")

    messages = len(timeline.where("message"))
    meta = " · ".join(
        filter(
            None,
            [
                escape(timeline.municipality.name),
                f"{escape(w['start'])} {escape(_start_text(timeline.origin, zone, lang))}" if timeline.origin else "",
                f"{messages} {escape(w['messages'])}",
            ],
        )
    )
    parts = [
        "<!doctype html>",
        f'<html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(w['title'])}: {escape(title or timeline.municipality.name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<header><h1>{escape(w['title'])}{': ' + escape(title) if title else ''}</h1>",
        f"<p>{escape(subtitle)}</p>" if subtitle else "",
        f"<p>{meta}</p></header>",
    ]
    if outcomes:
        items = []
        for outcome in outcomes:
            state = "ok" if outcome.ok else "fail"
            why = f'<span class="why">{escape(w["instead"])}: {escape(outcome.actual)}</span>' if not outcome.ok else ""
            items.append(
                f'<li class="{state}" data-ok="{str(outcome.ok).lower()}">{escape(outcome.expected)}'
                f" <small>({escape(w['met'] if outcome.ok else w['unmet'])})</small>{why}</li>"
            )
        parts.append(
            f'<section class="card"><h2>{escape(w["expect"])}</h2><ul class="expect">{"".join(items)}</ul></section>'
        )
    parts.append(
        f'<section class="card"><figure>{"".join(svg)}<figcaption>{_legend(timeline, lang)}'
        "</figcaption></figure></section>"
    )
    parts.append(_table(timeline, zone, lang))
    parts.append(f"<footer>{escape(w['footer'])}</footer></body></html>")
    return "\n".join(p for p in parts if p)


def _steps(timeline: Timeline) -> list[str]:
    """Step ids in routine order (the routine of the first incident), then any others seen."""
    seen: list[str] = []
    for e in timeline:
        if e.step and e.step not in seen:
            seen.append(e.step)
    reported = next((e for e in timeline if e.event == "reported"), None)
    routine = None
    if reported is not None:
        for r in timeline.municipality.routines.values():
            if {s.id for s in r.steps} >= set(seen):
                routine = r
                break
    if routine is None:
        return seen
    return [s.id for s in routine.steps if s.id in seen] + [s for s in seen if s not in {x.id for x in routine.steps}]


def _roles(timeline: Timeline) -> list[str]:
    roles: list[str] = []
    for e in timeline:
        if e.event in _LANE_EVENTS and e.role and e.role not in roles:
            roles.append(e.role)
    return roles


def _step_title(timeline: Timeline, step_id: str, lang: str) -> str:
    for routine in timeline.municipality.routines.values():
        for step in routine.steps:
            if step.id == step_id:
                return step.title.get(lang)
    return ""


def _axis(span: timedelta, origin: datetime | None, zone: ZoneInfo, height: int) -> list[str]:
    tick = next((t for t in _TICKS if span / t <= 12), _TICKS[-1])
    out = [f'<line x1="{_LEFT}" y1="{_AXIS}" x2="{_W - _RIGHT}" y2="{_AXIS}" stroke="#cbd5e1"/>']
    n = 0
    while tick * n <= span:
        offset = tick * n
        x = _x(offset, span)
        out.append(f'<line x1="{x:.1f}" y1="{_AXIS}" x2="{x:.1f}" y2="{height - 8}" stroke="#eef2f7"/>')
        out.append(
            f'<text class="tick" x="{x:.1f}" y="{_AXIS - 20}" text-anchor="middle">{escape(_tick_text(offset))}</text>'
        )
        if origin is not None:
            out.append(
                f'<text class="tick-clock" x="{x:.1f}" y="{_AXIS - 7}" text-anchor="middle">'
                f"{_local(origin + offset, zone):%H:%M}</text>"
            )
        n += 1
    return out


def _attrs(timeline: Timeline, e: TimelineEntry, lang: str) -> str:
    person = timeline.person_name(e.person, e.role, lang) if e.person else ""
    fields = {
        "event": e.event,
        "step": e.step or "",
        "role": e.role or "",
        "person": person,
        "medium": e.medium.value if e.medium else "",
        "kind": e.kind.value if e.kind else "",
        "offset": format_offset(e.offset),
    }
    return " ".join(f'data-{k}="{escape(v)}"' for k, v in fields.items() if v)


def _tooltip(timeline: Timeline, e: TimelineEntry, lang: str) -> str:
    words = [format_offset(e.offset), label(e.event, lang, e.kind)]
    if e.step:
        words.append(e.step)
    who = timeline.person_name(e.person, e.role, lang) if e.person else ""
    role = timeline.role_name(e.role, lang) if e.role else ""
    if who and not who.startswith("["):
        words.append(f"{who} ({role})" if role else who)
    elif who or role:
        words.append(who or role)
    if e.medium:
        words.append(e.medium.value)
    detail = "" if e.event in ("completed", "delivery_failed", "no_effect") else timeline.detail_text(e, lang)
    return " · ".join(words) + (f" ({detail})" if detail else "")


def _mark(timeline: Timeline, e: TimelineEntry, x: float, y: float, lang: str) -> str:
    return (
        f'<g class="mark" {_attrs(timeline, e, lang)} transform="translate({x:.1f},{y:.1f})">'
        f"<title>{escape(_tooltip(timeline, e, lang))}</title>{_shape(e)}</g>"
    )


def _step_rows(timeline: Timeline, steps: list[str], span: timedelta, top: int, lang: str) -> list[str]:
    w = _WORDS[lang]
    out = []
    right = _W - _RIGHT
    for i, step in enumerate(steps):
        y = top + i * _STEP_ROW
        mid = y + _STEP_ROW / 2
        title = _step_title(timeline, step, lang)
        text = f"{step} {title}"
        if len(text) > 34:
            text = text[:33] + "…"
        out.append(
            f'<text class="lane-label" x="12" y="{mid + 4:.1f}"><title>{escape(step)} {escape(title)}'
            f"</title>{escape(text)}</text>"
        )
        started = timeline.where("activated", step=step)
        skipped = timeline.where("skipped", step=step)
        if skipped:
            x = _x(skipped[0].offset, span)
            out.append(
                f'<g class="bar" data-step="{escape(step)}" data-state="skipped">'
                f'<line x1="{x:.1f}" y1="{mid - 7:.1f}" x2="{x:.1f}" y2="{mid + 7:.1f}" stroke="#94a3b8" '
                f'stroke-width="2"/><text class="note" x="{x + 6:.1f}" y="{mid + 4:.1f}">'
                f"{escape(w['skipped'])}</text></g>"
            )
            continue
        if not started:
            out.append(f'<text class="note" x="{_LEFT + 4}" y="{mid + 4:.1f}">{escape(w["never"])}</text>')
            continue
        x0 = _x(started[0].offset, span)
        acked = timeline.where("acknowledged", step=step)
        done = timeline.where("completed", step=step)
        x_end = _x(done[0].offset, span) if done else right
        x_ack = _x(acked[-1].offset, span) if acked else x_end
        state = "completed" if done else "acknowledged" if acked else "waiting"
        out.append(f'<g class="bar" data-step="{escape(step)}" data-state="{state}">')
        if x_ack > x0:
            out.append(
                f'<rect x="{x0:.1f}" y="{mid - 7:.1f}" width="{x_ack - x0:.1f}" height="14" '
                f'fill="url(#hatch)" stroke="#fdba74"><title>{escape(step)}: {escape(w["waiting"])}'
                "</title></rect>"
            )
        if acked and x_end > x_ack:
            out.append(
                f'<rect x="{x_ack:.1f}" y="{mid - 7:.1f}" width="{x_end - x_ack:.1f}" height="14" '
                f'fill="#16a34a"><title>{escape(step)}: {escape(w["taken"])}</title></rect>'
            )
        if done:
            out.append(
                f'<rect x="{x_end - 1.5:.1f}" y="{mid - 10:.1f}" width="3" height="20" fill="#14532d">'
                f"<title>{escape(step)}: {escape(w['done'])} {format_offset(done[0].offset)}</title></rect>"
            )
        out.append("</g>")
    return out


def _lanes(timeline: Timeline, lanes: list[str | None], span: timedelta, top: int, lang: str) -> list[str]:
    w = _WORDS[lang]
    out = []
    index = {role: i for i, role in enumerate(lanes)}
    for i, role in enumerate(lanes):
        y = top + i * _LANE
        fill = "#f8fafc" if i % 2 else "#ffffff"
        out.append(f'<rect x="0" y="{y}" width="{_W}" height="{_LANE}" fill="{fill}" opacity="0.7"/>')
        name = w["incident"] if role is None else timeline.role_name(role, lang)
        if len(name) > 34:
            name = name[:33] + "…"
        out.append(
            f'<text class="lane-label" x="12" y="{y + _LANE / 2 + 4:.1f}" '
            f'data-lane="{escape(role or "incident")}">{escape(name)}</text>'
        )
    placed: dict[int, list[tuple[float, float]]] = {}
    bottom = top + len(lanes) * _LANE
    for e in timeline:
        x = _x(e.offset, span)
        if e.event in ("reported", "closed"):
            out.append(
                f'<line x1="{x:.1f}" y1="{_AXIS}" x2="{x:.1f}" y2="{bottom}" stroke="#334155" '
                'stroke-width="1.5" stroke-dasharray="5 4"/>'
            )
        if e.event in _LANE_EVENTS and e.role in index:
            lane = index[e.role]
        elif e.event in _INCIDENT_EVENTS:
            lane = 0
        else:
            continue
        centre = top + lane * _LANE + _LANE / 2
        spot_x, spot_y = _free_spot(placed.setdefault(lane, []), x, centre)
        out.append(_mark(timeline, e, spot_x, spot_y, lang))
    return out


def _free_spot(placed: list[tuple[float, float]], x: float, centre: float) -> tuple[float, float]:
    """A place for a mark near (x, centre) that does not cover a mark already in the lane.

    Marks of the same moment stack up and down the lane; when the three rows are full, the mark moves right.
    """
    nudge = 0.0
    while True:
        for dy in (0.0, -17.0, 17.0):
            spot = (x + nudge, centre + dy)
            if all(abs(px - spot[0]) >= 19 or abs(py - spot[1]) >= 16 for px, py in placed):
                placed.append(spot)
                return spot
        nudge += 10.0
        if nudge > 160:  # a crowd: draw over the others rather than wander off
            placed.append((x, centre))
            return x, centre


def _table(timeline: Timeline, zone: ZoneInfo, lang: str) -> str:
    w = _WORDS[lang]
    rows = []
    for e in timeline:
        person = timeline.person_name(e.person, e.role, lang) if e.person else ""
        detail = "" if e.event in ("completed", "delivery_failed", "no_effect") else timeline.detail_text(e, lang)
        what = label(e.event, lang, e.kind) + (f" ({detail})" if detail else "")
        rows.append(
            f'<tr data-event="{escape(e.event)}"><td>{format_offset(e.offset)}</td>'
            f'<td>{_local(e.at, zone):%H:%M}</td><td class="event">{escape(what)}</td><td>{escape(e.step or "")}</td>'
            f"<td>{escape(timeline.role_name(e.role, lang) if e.role else '')}</td><td>{escape(person)}</td>"
            f"<td>{escape(e.medium.value if e.medium else '')}</td></tr>"
        )
    head = "".join(f"<th>{escape(w[k])}</th>" for k in ("time", "clock", "event", "step", "role", "person", "medium"))
    return (
        f'<section class="card"><details><summary>{escape(w["all"])} ({len(rows)})</summary>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></details></section>"
    )
