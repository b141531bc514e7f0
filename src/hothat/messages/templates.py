"""The builtin message templates: Swedish (default) and English, per medium, message kind and disclosure.

What each disclosure level carries (``docs/concepts/disclosure.md`` has the table and rendered examples):

- ``minimal``: the municipality, the reference number, the severity, the step (number and title) and how to
  answer. No names (a person who took a step is shown by role), no kind, time, party, place or description.
- ``standard``: adds the kind, the time in the municipality's timezone, the party, the recipient's role, the
  name of whoever took the step, the step's instruction and checklist, and the answer deadline in SMS.
- ``full``: adds the description and the targeted person; only on channels marked internal, and falls back
  to ``standard`` elsewhere.

A person with protected identity is never named, at any level: :attr:`Actor.display` gives their role instead.
SMS text is normalised to GSM-7 and, at ``minimal``, kept to one segment by shortening the step title (never
more than two).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from hothat.channels import Disclosure, MessageKind
from hothat.domain.incident import IncidentKind, Severity
from hothat.domain.people import Medium
from hothat.domain.routine import Text
from hothat.messages.gsm import SmsInfo, normalize, sms_info

__all__ = ["Actor", "RenderContext", "Rendered", "render"]


@attrs.frozen
class Actor:
    """A person a message may mention: who took a step, or the targeted person.

    Attributes:
        name: the person's name.
        role_name: their role's name in the recipient's language ("kommunens säkerhetsstrateg").
        protected: True when the person has protected identity: the name is then never shown.
    """

    name: str
    role_name: str
    protected: bool = False

    @property
    def display(self) -> str:
        """The role name for a protected person, otherwise the name."""
        return self.role_name if self.protected else self.name


def _aware(instance: object, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be a timezone-aware datetime")


def _timezone(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    try:
        ZoneInfo(value)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"{attribute.name} {value!r} is not an IANA timezone such as 'Europe/Stockholm'") from None


_NO_TEXT = Text("")


@attrs.frozen
class RenderContext:
    """Everything the templates may use for one message to one person.

    The context holds more than any one level shows; :func:`render` picks what the disclosure level allows.

    Attributes:
        municipality: the municipality's display name ("Oxelösunds kommun").
        reference: the incident's reference number ("OX-2026-0042").
        severity: how urgent the incident is.
        incident_kind: the incident category (``standard`` and up).
        occurred_at: when it happened (``standard`` and up), timezone-aware.
        timezone: the municipality's IANA timezone ("Europe/Stockholm"), for showing ``occurred_at``.
        party_name: the targeted person's party, if any (``standard`` and up).
        step_id: the step number ("3.1.1"); ``""`` for messages about the whole incident.
        step_title: the step's title.
        instruction: what the owner is to do (``standard`` and up).
        checklist: the step's checklist items (``standard`` and up).
        message_kind: why the message is sent.
        medium: email, sms or voice.
        locale: ``"sv"`` (default) or ``"en"``; anything else renders Swedish.
        disclosure: the channel's disclosure level.
        level: the escalation level (0 is the step's owner).
        reply_code: the SMS reply code for this recipient and step.
        ack_url: the signed "I take it" link (e-mail).
        decline_url: the signed "I can't" link (e-mail).
        ack_within: how long the recipient has to answer.
        taken_by: who took the step (taken messages, reminders).
        targeted: the targeted person (``full`` only).
        description: the incident description (``full`` only).
        recipient_role: the role the recipient is asked as (``standard`` and up).
        internal: True when the channel is marked internal; ``full`` needs it.
    """

    municipality: str
    reference: str
    severity: Severity
    incident_kind: IncidentKind
    occurred_at: datetime = attrs.field(validator=_aware)
    timezone: str = attrs.field(default="Europe/Stockholm", validator=_timezone)
    party_name: str | None = None
    step_id: str = ""
    step_title: Text = _NO_TEXT
    instruction: Text = _NO_TEXT
    checklist: tuple[Text, ...] = ()
    message_kind: MessageKind = MessageKind.NOTIFY
    medium: Medium = Medium.SMS
    locale: str = "sv"
    disclosure: Disclosure = Disclosure.MINIMAL
    level: int = 0
    reply_code: str | None = None
    ack_url: str | None = None
    decline_url: str | None = None
    ack_within: timedelta | None = None
    taken_by: Actor | None = None
    targeted: Actor | None = None
    description: str = ""
    recipient_role: str = ""
    internal: bool = False

    @property
    def effective_disclosure(self) -> Disclosure:
        """The level rendered: ``full`` falls back to ``standard`` on a channel not marked internal."""
        if self.disclosure is Disclosure.FULL and not self.internal:
            return Disclosure.STANDARD
        return self.disclosure


@attrs.frozen
class Rendered:
    """A rendered message.

    Attributes:
        subject: an e-mail subject; for SMS and voice a short title for logs and the trail.
        text: the body: plain text for e-mail, GSM-7-normalised text for SMS, spoken sentences for voice.
        html: an HTML body for e-mail, every value escaped; ``None`` for SMS and voice.
        prompt: a stable template id, ``"<kind>.<level>"`` (``"notify.minimal"``), for prerecorded prompts.
        sms: the encoding and segment count of an SMS text; ``None`` for other media.
    """

    subject: str
    text: str
    html: str | None = None
    prompt: str = ""
    sms: SmsInfo | None = None


# ------------------------------------------------------------------------------------------------------------
# Wording
# ------------------------------------------------------------------------------------------------------------


@attrs.frozen
class _Strings:
    """Every phrase of one language. Placeholders: m municipality, ref reference, sev severity, step (the step
    phrase), Step (the same, capitalised, without title), by (" av X"), code, id."""

    severity: Mapping[Severity, str]
    kind: Mapping[IncidentKind, str]
    months: tuple[str, ...]
    header: str
    short_header: str
    voice_header: str
    voice_short_header: str
    body: Mapping[MessageKind, str]
    subject: Mapping[MessageKind, str]
    step: str
    step_untitled: str
    no_step: str
    capital_step: str
    capital_no_step: str
    by: str
    labels: Mapping[str, str]
    sms_answer: str
    voice_answer: str
    voice_repeat: str
    email_ack: str
    email_decline: str
    within: str
    date: str
    voice_date: str
    units: Mapping[str, tuple[str, str]]
    conjunction: str


_SHORT = frozenset({MessageKind.TAKEN, MessageKind.CLOSED})
"""Kinds whose message needs neither severity nor step title: the short header is used."""

_ASKING = frozenset({MessageKind.NOTIFY, MessageKind.ESCALATION, MessageKind.UNRESOLVED})
"""Kinds that ask the recipient to take the step: they carry the answer instructions."""

_SV = _Strings(
    severity={
        Severity.ACUTE: "akut",
        Severity.SERIOUS: "allvarlig",
        Severity.THREAT: "hot, ej akut",
        Severity.BELOW_THRESHOLD: "under brottsgränsen",
        Severity.PREVENTIVE: "förebyggande",
    },
    kind={
        IncidentKind.THREAT: "hot",
        IncidentKind.HATE: "hat",
        IncidentKind.HARASSMENT: "trakasserier",
        IncidentKind.VIOLENCE: "våld",
        IncidentKind.PROPERTY_DAMAGE: "skadegörelse",
        IncidentKind.THEFT: "stöld",
        IncidentKind.UNDUE_INFLUENCE: "otillåten påverkan",
        IncidentKind.CORRUPTION_ATTEMPT: "korruptionsförsök",
        IncidentKind.INSULT_VIOLATION: "kränkning",
        IncidentKind.PLANNED_RISKY_ACTIVITY: "riskfylld planerad aktivitet",
    },
    months=(
        "januari",
        "februari",
        "mars",
        "april",
        "maj",
        "juni",
        "juli",
        "augusti",
        "september",
        "oktober",
        "november",
        "december",
    ),
    header="{m}, ärende {ref} ({sev}).",
    short_header="{m}:",
    voice_header="Det här är {m}. Ärende {ref}, allvarlighetsgrad {sev}.",
    voice_short_header="Det här är {m}.",
    body={
        MessageKind.NOTIFY: "Du behövs för {step}.",
        MessageKind.ESCALATION: "Ingen har svarat på {step}.",
        MessageKind.REMINDER: "Påminnelse: tiden för {step} har gått ut.",
        MessageKind.TAKEN: "{Step} i ärende {ref} är taget{by}. Du behöver inte göra något.",
        MessageKind.INFORMED: "För kännedom: {step} har startat. Du behöver inte svara.",
        MessageKind.UNRESOLVED: "Ingen kunde nås för {step}.",
        MessageKind.CLOSED: "Ärende {ref} är avslutat. Tack för din insats.",
    },
    subject={
        MessageKind.NOTIFY: "{m}: ärende {ref} ({sev}), du behövs för {step}",
        MessageKind.ESCALATION: "{m}: ärende {ref} ({sev}), ingen har svarat på {step}",
        MessageKind.REMINDER: "{m}: påminnelse om {step} i ärende {ref}",
        MessageKind.TAKEN: "{m}: {step} i ärende {ref} är taget",
        MessageKind.INFORMED: "{m}: för kännedom, {step} i ärende {ref}",
        MessageKind.UNRESOLVED: "{m}: ärende {ref} ({sev}), ingen kunde nås för {step}",
        MessageKind.CLOSED: "{m}: ärende {ref} är avslutat",
    },
    step="steg {id} ({title})",
    step_untitled="steg {id}",
    no_step="ärendet",
    capital_step="Steg {id}",
    capital_no_step="Ett steg",
    by=" av {who}",
    labels={
        "kind": "Typ",
        "time": "Tid",
        "party": "Parti",
        "role": "Din roll",
        "level": "Eskaleringsnivå",
        "taken_by": "Taget av",
        "targeted": "Utsatt person",
        "instruction": "Att göra",
        "checklist": "Checklista",
        "description": "Beskrivning",
    },
    sms_answer="Svara {code} om du tar det, {code}n om du inte kan.",
    voice_answer="Tryck 1 om du tar ärendet, 2 om du inte kan, stjärna för att höra meddelandet igen.",
    voice_repeat="Tryck stjärna för att höra meddelandet igen.",
    email_ack="Jag tar det",
    email_decline="Jag kan inte",
    within="Svara inom {duration}.",
    date="{day} {month} {year} kl. {hour:02d}.{minute:02d}",
    voice_date="{day} {month} {year} klockan {hour:02d}.{minute:02d}",
    units={
        "d": ("dygn", "dygn"),
        "h": ("timme", "timmar"),
        "m": ("minut", "minuter"),
        "s": ("sekund", "sekunder"),
    },
    conjunction="och",
)

_EN = _Strings(
    severity={
        Severity.ACUTE: "acute",
        Severity.SERIOUS: "serious",
        Severity.THREAT: "non-acute threat",
        Severity.BELOW_THRESHOLD: "below threshold",
        Severity.PREVENTIVE: "preventive",
    },
    kind={
        IncidentKind.THREAT: "threat",
        IncidentKind.HATE: "hate",
        IncidentKind.HARASSMENT: "harassment",
        IncidentKind.VIOLENCE: "violence",
        IncidentKind.PROPERTY_DAMAGE: "property damage",
        IncidentKind.THEFT: "theft",
        IncidentKind.UNDUE_INFLUENCE: "undue influence",
        IncidentKind.CORRUPTION_ATTEMPT: "attempted corruption",
        IncidentKind.INSULT_VIOLATION: "violation of integrity",
        IncidentKind.PLANNED_RISKY_ACTIVITY: "risky planned activity",
    },
    months=(
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    header="{m}, incident {ref} ({sev}).",
    short_header="{m}:",
    voice_header="This is {m}. Incident {ref}, severity {sev}.",
    voice_short_header="This is {m}.",
    body={
        MessageKind.NOTIFY: "You are needed for {step}.",
        MessageKind.ESCALATION: "No answer yet for {step}.",
        MessageKind.REMINDER: "Reminder: the time for {step} has run out.",
        MessageKind.TAKEN: "{Step} in incident {ref} has been taken{by}. No action needed.",
        MessageKind.INFORMED: "For your information: {step} has started. No answer needed.",
        MessageKind.UNRESOLVED: "Nobody was reached for {step}.",
        MessageKind.CLOSED: "Incident {ref} is closed. Thank you for your help.",
    },
    subject={
        MessageKind.NOTIFY: "{m}: incident {ref} ({sev}), you are needed for {step}",
        MessageKind.ESCALATION: "{m}: incident {ref} ({sev}), no answer yet for {step}",
        MessageKind.REMINDER: "{m}: reminder about {step} in incident {ref}",
        MessageKind.TAKEN: "{m}: {step} in incident {ref} has been taken",
        MessageKind.INFORMED: "{m}: for your information, {step} in incident {ref}",
        MessageKind.UNRESOLVED: "{m}: incident {ref} ({sev}), nobody was reached for {step}",
        MessageKind.CLOSED: "{m}: incident {ref} is closed",
    },
    step="step {id} ({title})",
    step_untitled="step {id}",
    no_step="the incident",
    capital_step="Step {id}",
    capital_no_step="A step",
    by=" by {who}",
    labels={
        "kind": "Kind",
        "time": "Time",
        "party": "Party",
        "role": "Your role",
        "level": "Escalation level",
        "taken_by": "Taken by",
        "targeted": "Targeted person",
        "instruction": "What to do",
        "checklist": "Checklist",
        "description": "Description",
    },
    sms_answer="Reply {code} to take it, {code}n if you can't.",
    voice_answer="Press 1 to take it, 2 if you can't, star to hear this message again.",
    voice_repeat="Press star to hear this message again.",
    email_ack="I'll take it",
    email_decline="I can't",
    within="Please answer within {duration}.",
    date="{day} {month} {year} at {hour:02d}:{minute:02d}",
    voice_date="{day} {month} {year} at {hour:02d}:{minute:02d}",
    units={
        "d": ("day", "days"),
        "h": ("hour", "hours"),
        "m": ("minute", "minutes"),
        "s": ("second", "seconds"),
    },
    conjunction="and",
)


def _strings(locale: str) -> _Strings:
    return _EN if locale == "en" else _SV


# ------------------------------------------------------------------------------------------------------------
# Content: what goes out at the level, before it is laid out for a medium
# ------------------------------------------------------------------------------------------------------------


@attrs.frozen
class _Content:
    """The parts of one message, already chosen by disclosure level."""

    lead: Callable[[str], str]
    """Header and kind sentence, given the step title to use (SMS may shorten it)."""
    voice_lead: str
    subject: str
    details: tuple[tuple[str, str], ...]
    instruction: tuple[str, str] | None
    checklist: tuple[str, tuple[str, ...]] | None
    description: tuple[str, str] | None
    within: str | None


def _duration(value: timedelta, words: _Strings) -> str:
    seconds = int(value.total_seconds())
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            singular, plural = words.units[unit]
            parts.append(f"{count} {singular if count == 1 else plural}")
    if not parts:
        return f"0 {words.units['m'][1]}"
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + f" {words.conjunction} " + parts[-1]


def _when(ctx: RenderContext, words: _Strings, template: str) -> str:
    local = ctx.occurred_at.astimezone(ZoneInfo(ctx.timezone))
    return template.format(
        day=local.day,
        month=words.months[local.month - 1],
        year=local.year,
        hour=local.hour,
        minute=local.minute,
    )


def _who(actor: Actor, level: Disclosure) -> str:
    # At minimal nobody is named: the role says enough to act on, and SMS and voice are seen by bystanders.
    return actor.role_name if level is Disclosure.MINIMAL else actor.display


def _content(ctx: RenderContext) -> _Content:
    words = _strings(ctx.locale)
    level = ctx.effective_disclosure
    kind = ctx.message_kind
    sev = words.severity[ctx.severity]
    full_title = ctx.step_title.get(ctx.locale).strip()
    taker = _who(ctx.taken_by, level) if ctx.taken_by is not None else ""
    by = words.by.format(who=taker) if taker else ""
    capital_step = words.capital_step.format(id=ctx.step_id) if ctx.step_id else words.capital_no_step

    def step_phrase(title: str) -> str:
        if not ctx.step_id:
            return words.no_step
        template = words.step if title else words.step_untitled
        return template.format(id=ctx.step_id, title=title)

    def fill(template: str, title: str) -> str:
        return template.format(
            m=ctx.municipality, ref=ctx.reference, sev=sev, step=step_phrase(title), Step=capital_step, by=by
        )

    def lead(title: str) -> str:
        header = words.short_header if kind in _SHORT else words.header
        return fill(header, title) + " " + fill(words.body[kind], title)

    voice_header = words.voice_short_header if kind in _SHORT else words.voice_header
    voice_lead = fill(voice_header, full_title) + " " + fill(words.body[kind], full_title)
    subject = fill(words.subject[kind], "")

    details: list[tuple[str, str]] = []
    instruction = checklist = description = None
    labels = words.labels
    if level is not Disclosure.MINIMAL:
        details.append((labels["kind"], words.kind[ctx.incident_kind]))
        time_template = words.voice_date if ctx.medium is Medium.VOICE else words.date
        details.append((labels["time"], _when(ctx, words, time_template)))
        if ctx.party_name:
            details.append((labels["party"], ctx.party_name))
        if ctx.recipient_role:
            details.append((labels["role"], ctx.recipient_role))
        if kind is MessageKind.ESCALATION and ctx.level > 0:
            details.append((labels["level"], str(ctx.level)))
        if taker and kind is MessageKind.REMINDER:
            details.append((labels["taken_by"], taker))
        if level is Disclosure.FULL and ctx.targeted is not None:
            details.append((labels["targeted"], ctx.targeted.display))
        # What to do is noise for someone told the step is taken or the incident closed.
        text = ctx.instruction.get(ctx.locale).strip()
        if text and kind not in _SHORT:
            instruction = (labels["instruction"], text)
        items = tuple(item.get(ctx.locale).strip() for item in ctx.checklist if item.get(ctx.locale).strip())
        if items and kind not in _SHORT:
            checklist = (labels["checklist"], items)
        if level is Disclosure.FULL and ctx.description.strip():
            description = (labels["description"], ctx.description.strip())
    within = None
    if kind in _ASKING and ctx.ack_within is not None and ctx.ack_within > timedelta(0):
        within = words.within.format(duration=_duration(ctx.ack_within, words))
    return _Content(lead, voice_lead, subject, tuple(details), instruction, checklist, description, within)


# ------------------------------------------------------------------------------------------------------------
# Layout per medium
# ------------------------------------------------------------------------------------------------------------


def _sentence(text: str) -> str:
    """End ``text`` with a full stop unless it already ends a sentence (for SMS and speech)."""
    return text if text.endswith((".", "!", "?", ":")) else text + "."


def _sms(ctx: RenderContext, content: _Content, words: _Strings) -> tuple[str, SmsInfo]:
    level = ctx.effective_disclosure
    answer = ""
    if ctx.message_kind in _ASKING and ctx.reply_code:
        answer = words.sms_answer.format(code=ctx.reply_code)
    lines: list[str] = []
    lines.extend(_sentence(f"{label}: {value}") for label, value in content.details)
    if content.instruction:
        lines.append(_sentence(f"{content.instruction[0]}: {content.instruction[1]}"))
    if content.checklist:
        lines.append(f"{content.checklist[0]}: " + "; ".join(content.checklist[1]) + ".")
    if content.description:
        lines.append(_sentence(f"{content.description[0]}: {content.description[1]}"))
    if content.within and level is not Disclosure.MINIMAL:
        lines.append(content.within)

    def build(title: str) -> str:
        head = content.lead(title)
        if lines:
            return normalize("\n".join([head, *lines, answer] if answer else [head, *lines]))
        return normalize(f"{head} {answer}" if answer else head)

    title = ctx.step_title.get(ctx.locale).strip()
    text = build(title)
    if level is Disclosure.MINIMAL and sms_info(text).segments > 1:
        text = _fit(build, title, text)
    return text, sms_info(text)


_MIN_TITLE = 12
"""A shortened title keeps at least this many characters if the message is to fit one segment."""


def _fit(build: Callable[[str], str], title: str, untouched: str) -> str:
    """Shorten the step title with "..." so a minimal SMS fits one segment, or at most two.

    One segment is worth a shorter title as long as it keeps ``_MIN_TITLE`` characters, cut at a word if
    one fits; otherwise the whole title goes out in two segments, and only a title needing three is cut.
    """
    at_words = [title[:cut].rstrip() for cut in range(len(title) - 1, 0, -1) if title[cut] == " "]
    at_chars = [title[:cut].rstrip() for cut in range(len(title) - 1, 0, -1)]
    for prefix in at_words + at_chars:
        if len(prefix) >= _MIN_TITLE and sms_info(text := build(prefix + "...")).segments == 1:
            return text
    if sms_info(untouched).segments <= 2:
        return untouched
    for prefix in at_chars:
        if sms_info(text := build(prefix + "...")).segments <= 2:
            return text
    return build("")


def _voice(ctx: RenderContext, content: _Content, words: _Strings) -> str:
    sentences = [content.voice_lead]
    sentences.extend(_sentence(f"{label}: {value}") for label, value in content.details)
    if content.instruction:
        sentences.append(_sentence(f"{content.instruction[0]}: {content.instruction[1]}"))
    if content.checklist:
        sentences.append(f"{content.checklist[0]}: " + " ".join(_sentence(i) for i in content.checklist[1]))
    if content.description:
        sentences.append(_sentence(f"{content.description[0]}: {content.description[1]}"))
    if ctx.message_kind in _ASKING:
        if content.within:
            sentences.append(content.within)
        sentences.append(words.voice_answer)
    else:
        sentences.append(words.voice_repeat)
    return " ".join(sentences)


def _links(ctx: RenderContext, words: _Strings) -> list[tuple[str, str]]:
    if ctx.message_kind not in _ASKING:
        return []
    pairs = ((words.email_ack, ctx.ack_url), (words.email_decline, ctx.decline_url))
    return [(label, url) for label, url in pairs if url]


def _email_text(ctx: RenderContext, content: _Content, words: _Strings) -> str:
    blocks = [content.lead(ctx.step_title.get(ctx.locale).strip())]
    if content.details:
        blocks.append("\n".join(f"{label}: {value}" for label, value in content.details))
    if content.instruction:
        blocks.append(f"{content.instruction[0]}:\n{content.instruction[1]}")
    if content.checklist:
        blocks.append(f"{content.checklist[0]}:\n" + "\n".join(f"- {item}" for item in content.checklist[1]))
    if content.description:
        blocks.append(f"{content.description[0]}:\n{content.description[1]}")
    answer = [content.within] if content.within and _links(ctx, words) else []
    answer += [f"{label}: {url}" for label, url in _links(ctx, words)]
    if answer:
        blocks.append("\n".join(answer))
    return "\n\n".join(blocks) + "\n"


def _email_html(ctx: RenderContext, content: _Content, words: _Strings) -> str:
    def e(value: str) -> str:
        return html.escape(value, quote=True)

    def paragraphs(value: str) -> str:
        return "".join(f"<p>{e(line)}</p>" for line in value.split("\n") if line.strip())

    parts = [f"<p>{e(content.lead(ctx.step_title.get(ctx.locale).strip()))}</p>"]
    if content.details:
        rows = "".join(f"<tr><th>{e(label)}</th><td>{e(value)}</td></tr>" for label, value in content.details)
        parts.append(f'<table role="presentation">{rows}</table>')
    if content.instruction:
        parts.append(f"<h2>{e(content.instruction[0])}</h2>{paragraphs(content.instruction[1])}")
    if content.checklist:
        items = "".join(f"<li>{e(item)}</li>" for item in content.checklist[1])
        parts.append(f"<h2>{e(content.checklist[0])}</h2><ul>{items}</ul>")
    if content.description:
        parts.append(f"<h2>{e(content.description[0])}</h2>{paragraphs(content.description[1])}")
    links = _links(ctx, words)
    if links:
        if content.within:
            parts.append(f"<p>{e(content.within)}</p>")
        anchors = " ".join(f'<a href="{e(url)}">{e(label)}</a>' for label, url in links)
        parts.append(f"<p>{anchors}</p>")
    lang = "en" if ctx.locale == "en" else "sv"
    return f'<!DOCTYPE html>\n<html lang="{lang}"><body>{"".join(parts)}</body></html>\n'


def render(ctx: RenderContext) -> Rendered:
    """Render one message at the context's disclosure level, in its locale, for its medium.

    This is the builtin answer of the ``hothat_render_message`` hook.
    """
    words = _strings(ctx.locale)
    content = _content(ctx)
    prompt = f"{ctx.message_kind}.{ctx.effective_disclosure}"
    if ctx.medium is Medium.SMS:
        text, info = _sms(ctx, content, words)
        return Rendered(subject=content.subject, text=text, prompt=prompt, sms=info)
    if ctx.medium is Medium.VOICE:
        return Rendered(subject=content.subject, text=_voice(ctx, content, words), prompt=prompt)
    return Rendered(
        subject=content.subject,
        text=_email_text(ctx, content, words),
        html=_email_html(ctx, content, words),
        prompt=prompt,
    )
