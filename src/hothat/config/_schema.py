"""The pydantic models of a municipality file: the shape of each table, with a description on every field.

These models check one record at a time (types, unknown keys, phone numbers, e-mail addresses, durations,
identifiers). Whatever spans records (references, duplicates, cycles, who can be reached) is checked by
``_checks``. The models also produce the published JSON Schema.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic
from pydantic import AfterValidator, Field, StrictBool, StrictInt, WithJsonSchema

from hothat._text import describe, hidden_characters
from hothat.channels import Disclosure
from hothat.config._contact import parse_phone, quoted, validate_email
from hothat.domain.durations import parse_duration
from hothat.domain.incident import IncidentKind, Severity
from hothat.domain.people import Medium, RoleScope
from hothat.domain.routine import Strategy

__all__ = [
    "AvailabilityModel",
    "ChannelModel",
    "ChecklistModel",
    "ContactModel",
    "DeadlinesModel",
    "FileModel",
    "MunicipalityModel",
    "PartyModel",
    "PersonModel",
    "RoleModel",
    "RoutineHeaderModel",
    "RoutineModel",
    "RuleModel",
    "StepModel",
    "TextModel",
    "TreeModel",
    "WindowModel",
    "parse_clock",
    "parse_days",
]

# ----------------------------------------------------------------------------------------------------------
# Scalar types with messages that say what to write
# ----------------------------------------------------------------------------------------------------------

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
ROLE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
_ID = re.compile(ID_PATTERN)
_ROLE = re.compile(ROLE_PATTERN)


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(
            f'{quoted(value)} is not a valid id: use letters, digits, "_", "-" or "." '
            '(no spaces, at most 64 characters), e.g. "per" or "3.1.2"'
        )
    return value


def _check_role_id(value: str) -> str:
    if not _ROLE.match(value):
        raise ValueError(
            f'{quoted(value)} is not a valid role id: use lower-case letters, digits and "_", '
            'starting with a letter, e.g. "party_security_contact"'
        )
    return value


def _check_fact(value: str) -> str:
    words = value.split()
    fact = words[-1] if words else ""
    if not (len(words) == 1 or (len(words) == 2 and words[0] == "not")) or not _ROLE.match(fact) or fact == "not":
        raise ValueError(
            f'{quoted(value)} is not a condition: write a fact name such as "police_report_wanted", '
            'or "not" and a fact name, e.g. "not needs_healthcare"'
        )
    return value


def _check_duration(value: str) -> str:
    try:
        parse_duration(value)
    except ValueError as exc:  # keep its advice, quote the value as the file does
        raise ValueError(f"{quoted(value)} is not a duration: {str(exc).partition(': ')[2]}") from None
    return value


def _check_deadline(value: str) -> str:
    if not parse_duration(_check_duration(value)):
        raise ValueError(f'{quoted(value)} is zero: a deadline must be longer than that, e.g. "15m"')
    return value


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'{quoted(value)} is not a time zone: use an IANA name such as "Europe/Stockholm"') from None
    return value


def _matching(regex: str, what: str) -> AfterValidator:
    """A validator checking a string against ``regex``, whose error message says ``what`` to write."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(f"{quoted(value)} is not {what}")
        return value

    return AfterValidator(check)


_MUNICIPALITY_ID = r"^[a-z][a-z0-9_-]{0,31}$"
_PREFIX = r"^[A-Z][A-Z0-9]{0,7}$"
ENV_PATTERN = r"^[A-Z_][A-Z0-9_]*$"
MunicipalityId = Annotated[
    str,
    _matching(
        _MUNICIPALITY_ID,
        'a municipality id: use lower-case ASCII letters, digits, "_" and "-", e.g. "oxelosund"',
    ),
    WithJsonSchema({"type": "string", "pattern": _MUNICIPALITY_ID}),
]
Prefix = Annotated[
    str,
    _matching(
        _PREFIX,
        'a reference prefix: use 1-8 upper-case ASCII letters or digits, starting with a letter, e.g. "OX"',
    ),
    WithJsonSchema({"type": "string", "pattern": _PREFIX}),
]
EnvName = Annotated[
    str,
    _matching(
        ENV_PATTERN,
        'an environment variable name: use upper-case ASCII letters, digits and "_", e.g. "HOTHAT_TOKEN_SECRET"',
    ),
    WithJsonSchema({"type": "string", "pattern": ENV_PATTERN}),
]


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(
            f'{quoted(value)} is not a base URL: write e.g. "https://intranet.kommun.example/hothat" '
            "(http or https, no ? or #)"
        )
    return value


_STRING = {"type": "string"}
Id = Annotated[str, AfterValidator(_check_id), WithJsonSchema({**_STRING, "pattern": ID_PATTERN})]
RoleId = Annotated[str, AfterValidator(_check_role_id), WithJsonSchema({**_STRING, "pattern": ROLE_PATTERN})]
Fact = Annotated[str, AfterValidator(_check_fact), WithJsonSchema({**_STRING, "examples": ["police_report_wanted"]})]
Duration = Annotated[str, AfterValidator(_check_duration), WithJsonSchema({**_STRING, "examples": ["90s", "1h30m"]})]
Deadline = Annotated[str, AfterValidator(_check_deadline), WithJsonSchema({**_STRING, "examples": ["15m", "2h"]})]
Zone = Annotated[str, AfterValidator(_check_zone), WithJsonSchema({**_STRING, "examples": ["Europe/Stockholm"]})]
Url = Annotated[str, AfterValidator(_check_url), WithJsonSchema({**_STRING, "format": "uri"})]


def _plain(value: str, allow: str = "\n\t") -> str:
    """Refuse control, format and separator characters (line breaks and tabs only where ``allow`` has them)."""
    hidden = hidden_characters(value, allow=allow)
    if hidden:
        fix = "write it on one line" if hidden[0] in "\n\r\t" else "remove it"
        raise ValueError(f"contains {describe(hidden[0])}: {fix}")
    return value


def _one_line(value: str) -> str:
    return _plain(value, allow="")


def _one_line_text(value: TextModel) -> TextModel:
    for language, text in (("Swedish", value.sv), ("English", value.en)):
        hidden = hidden_characters(text)
        if hidden:
            fix = "write it on one line" if hidden[0] in "\n\r\t" else "remove it"
            raise ValueError(f"the {language} text contains {describe(hidden[0])}: {fix}")
    return value


Name = Annotated[str, Field(min_length=1), AfterValidator(_one_line)]
OneLine = Annotated[str, AfterValidator(_one_line)]
Plain = Annotated[str, AfterValidator(_plain)]

_DAY_NAMES = {
    **{name: n for n, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), start=1)},
    **{
        name: n
        for n, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"), start=1
        )
    },
    **{name: n for n, name in enumerate(("mån", "tis", "ons", "tor", "fre", "lör", "sön"), start=1)},
}
_DAY_GROUPS = {"daily": range(1, 8), "weekdays": range(1, 6), "weekends": range(6, 8)}


def parse_days(text: str) -> frozenset[int]:
    """Read a day list such as ``"mon-fri"``, ``"sat,sun"``, ``"fri-mon"`` or ``"daily"`` as ISO weekdays.

    Day names are English or Swedish three-letter abbreviations (``mon`` / ``mån``) or English full names;
    a range may wrap past Sunday. ``daily``, ``weekdays`` and ``weekends`` name the obvious sets.
    """
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        if part in _DAY_GROUPS:
            days.update(_DAY_GROUPS[part])
            continue
        first, dash, last = part.partition("-")
        if first not in _DAY_NAMES or (dash and last not in _DAY_NAMES):
            raise ValueError(f'"{text}" is not a list of days: write e.g. "mon-fri", "sat,sun" or "daily"')
        start = _DAY_NAMES[first]
        end = _DAY_NAMES[last] if dash else start
        span = (end - start) % 7
        days.update((start - 1 + k) % 7 + 1 for k in range(span + 1))
    return frozenset(days)


def parse_clock(text: str, *, end: bool = False) -> time:
    """Read ``"08:00"`` as a time; ``"24:00"`` (only as an end) means midnight at the end of the day."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    hour, minute = (int(match[1]), int(match[2])) if match else (-1, -1)
    if end and (hour, minute) == (24, 0):
        return time(0, 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        latest = "24:00" if end else "23:59"
        raise ValueError(f'"{text}" is not a time of day: write HH:MM from 00:00 to {latest}, e.g. "08:00"')
    return time(hour, minute)


# ----------------------------------------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------------------------------------


class _Table(pydantic.BaseModel):
    """A TOML table: unknown keys are refused, so a misspelled key is an error and never a silent default."""

    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=False)


class TextModel(_Table):
    """A text in Swedish and, optionally, English. A plain string is read as Swedish only."""

    sv: Annotated[Plain, Field(min_length=1)] = Field(
        description="The Swedish text (required: Swedish is the default language of every message)."
    )
    en: Plain = Field("", description="The English text; empty means English readers get the Swedish text.")

    @pydantic.model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        return {"sv": data} if isinstance(data, str) else data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: pydantic.GetJsonSchemaHandler) -> dict[str, Any]:
        table = handler.resolve_ref_schema(handler(core_schema))
        return {"anyOf": [{"type": "string", "description": "Swedish only."}, table]}


OneLineText = Annotated[TextModel, AfterValidator(_one_line_text)]
"""A name or a title: a text without line breaks or tabs."""


class WindowModel(_Table):
    """A weekly time window, e.g. weekdays 08:00-17:00. A ``to`` at or before ``from`` runs past midnight."""

    days: str = Field(
        description='The days the window starts on: "mon-fri", "sat,sun", "fri-mon", "daily", '
        '"weekdays", "weekends" (English or Swedish day abbreviations).'
    )
    start: str = Field(alias="from", description='Local start time, "HH:MM".')
    end: str = Field(alias="to", description='Local end time, "HH:MM"; "24:00" is the end of the day.')

    @pydantic.field_validator("days")
    @classmethod
    def _days(cls, value: str) -> str:
        parse_days(value)
        return value

    @pydantic.field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        parse_clock(value)
        return value

    @pydantic.field_validator("end")
    @classmethod
    def _end(cls, value: str) -> str:
        parse_clock(value, end=True)
        return value

    @pydantic.model_validator(mode="after")
    def _not_empty(self) -> WindowModel:
        if parse_clock(self.start) == parse_clock(self.end, end=True) and self.end.strip() != "24:00":
            raise ValueError('from and to are the same time: for a whole day write from = "00:00", to = "24:00"')
        return self


class AvailabilityModel(_Table):
    """When someone can be reached. Leave it out for "always"."""

    timezone: Zone | None = Field(None, description="IANA time zone of the windows; default the municipality's.")
    windows: list[WindowModel] = Field(min_length=1, description="The weekly windows; at least one.")


class ContactModel(_Table):
    """One way to reach a person: exactly one of ``sms``, ``voice`` or ``email``."""

    sms: str | None = Field(None, description="A mobile number for text messages (Swedish unless it starts with +).")
    voice: str | None = Field(None, description="A phone number to call: mobile or landline.")
    email: str | None = Field(None, description="An e-mail address.")
    delay: Duration = Field(
        "0s",
        description="How long after the previous contact point this one is tried, if nobody has answered.",
    )
    channel: Id | None = Field(
        None,
        description="The configured channel to use (a key of [channels]); default: the first channel of this medium.",
    )

    @pydantic.model_validator(mode="after")
    def _one_medium(self) -> ContactModel:
        given = [m for m in ("sms", "voice", "email") if getattr(self, m) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of sms, voice or email in each contact point, e.g. "
                '{ sms = "070-174 06 05" }' + (f" (found {' and '.join(given)})" if given else "")
            )
        if self.email is not None:
            validate_email(self.email)
        else:
            parse_phone(self.sms or self.voice or "", sms=self.sms is not None)
        return self

    @property
    def medium(self) -> Medium:
        """The medium this contact point uses."""
        return Medium.SMS if self.sms is not None else Medium.VOICE if self.voice is not None else Medium.EMAIL

    @property
    def address(self) -> str:
        """The normalised address: E.164 for phone numbers, lower-case domain for e-mail."""
        if self.email is not None:
            return validate_email(self.email)
        return parse_phone(self.sms or self.voice or "", sms=self.sms is not None)


class MunicipalityModel(_Table):
    """``[municipality]``: who the configuration is for and where its data lives."""

    id: MunicipalityId = Field(
        description='A short lower-case id, e.g. "oxelosund": the key of this municipality in stores.'
    )
    name: Name = Field(description='The display name used in messages, e.g. "Oxelösunds kommun".')
    reference_prefix: Prefix = Field(description='Upper-case prefix of reference numbers: "OX" gives OX-2026-0042.')
    locale: Literal["sv", "en"] = Field("sv", description='Default message language: "sv" or "en".')
    timezone: Zone = Field("Europe/Stockholm", description="IANA time zone for availability and printed times.")
    default_routine: Id | None = Field(
        None,
        description="The routine an incident gets when no routine rule "
        "matches; may be left out when there is one routine.",
    )
    link_base_url: Url = Field(
        "http://127.0.0.1:8080/hothat",
        description="The public base URL that acknowledgement links in e-mail use.",
    )
    token_secret_env: EnvName = Field(
        "HOTHAT_TOKEN_SECRET",
        description="Name of the environment variable that holds the link-token secret "
        "(the secret itself never goes in this file).",
    )
    token_secret_file: OneLine | None = Field(
        None,
        description="A file that holds the link-token secret, instead of token_secret_env (relative to this "
        "file's folder, or absolute; e.g. a container or systemd credential).",
    )
    store: OneLine = Field("hothat.db", description='The SQLite file, relative to this file\'s folder, or ":memory:".')
    retention: Duration | None = Field(
        None,
        description="How long a closed incident is kept before it may be "
        'purged, e.g. "730d"; default: kept until purged.',
    )


class RoleModel(_Table):
    """``[[roles]]``: declare a role of your own, or change a built-in role's names, fallbacks or hours."""

    id: RoleId = Field(description="The role id; a built-in id changes that role, any other id declares a new one.")
    scope: RoleScope | None = Field(
        None,
        description='Where holders are written: "municipality" ([holders]), '
        '"party" (parties[].holders) or "incident" (filled per '
        'incident). New roles default to "municipality".',
    )
    name: OneLineText | None = Field(
        None, description="The role's name in Swedish and English (required for a new role)."
    )
    fallbacks: list[RoleId] | None = Field(
        None, description="Roles tried in order when nobody holds this one; [] removes a built-in fallback."
    )
    availability: AvailabilityModel | None = Field(
        None, description="When holders of this role can be reached (e.g. an adviser in office hours)."
    )


class PersonModel(_Table):
    """``[[people]]``: someone who may be told about an incident or hold a role."""

    id: Id = Field(description='A stable id used in this file and in the audit trail, e.g. "per".')
    name: Name = Field(description="The person's name (never sent when protected_identity is set).")
    language: Literal["sv", "en"] = Field("sv", description='Language of messages to this person: "sv" or "en".')
    protected_identity: StrictBool = Field(
        False, description="The person has protected identity: they are never named in any outbound message."
    )
    availability: AvailabilityModel | None = Field(None, description="When the person can be reached; default: always.")
    contact: list[ContactModel] = Field(min_length=1, description="Contact points in order of preference.")


class PartyModel(_Table):
    """``[[parties]]``: a political party and who holds its party roles."""

    id: Id = Field(description='A short id, e.g. "s" or "m".')
    name: Name = Field(description='The party\'s name, e.g. "Socialdemokraterna".')
    routine: Id | None = Field(None, description="A routine of the party's own, run before the municipal one.")
    holders: dict[RoleId, list[Id]] = Field(default_factory=dict, description="Party role id → person ids, in order.")


class DeadlinesModel(_Table):
    """Deadlines that replace a step's defaults for one severity."""

    ack_within: Deadline | None = Field(None, description="Time allowed to acknowledge before escalating.")
    done_within: Deadline | None = Field(None, description="Time allowed to complete before reminding.")


class TreeModel(_Table):
    """A node of a phone tree: exactly one of ``role`` and ``person``, and the nodes called after it."""

    role: RoleId | None = Field(None, description="A role whose holders this node calls.")
    person: Id | None = Field(None, description="A person this node calls.")
    children: list[TreeModel] = Field(
        default_factory=list, description="Nodes called when this one answers or fails to."
    )


class ChecklistModel(_Table):
    """A state the step's owner ensures and ticks, e.g. "Den utsatte har fått initialt stöd"."""

    id: Id = Field(description="A stable id for the item.")
    sv: Name = Field(description="The Swedish text.")
    en: OneLine = Field("", description="The English text.")


class StepModel(_Table):
    """``[[routines.steps]]``: one step of a routine, owned by a role."""

    id: Id = Field(description='The step number, e.g. "3.1.2"; unique within the routine.')
    title: OneLineText = Field(description="A short title.")
    instruction: TextModel | None = Field(
        None, description="What the owner is to do (verbatim from the routine where there is one)."
    )
    owner: RoleId | None = Field(None, description="The role that owns the step.")
    owners: list[RoleId] | None = Field(
        None,
        description="Two or more roles owning the step jointly (each must acknowledge and complete); instead of owner.",
    )
    informed: list[RoleId] = Field(default_factory=list, description="Roles told about the step without owning it.")
    after: list[Id] | None = Field(
        None,
        description="Step ids this step waits for; left out: the previous step; []: none (starts at once).",
    )
    when: Fact | None = Field(
        None,
        description='A fact condition, "fact" or "not fact": the step waits while '
        "the fact is undecided and is skipped when false.",
    )
    ack_within: Deadline | None = Field(None, description="Time allowed to acknowledge before escalating.")
    done_within: Deadline | None = Field(None, description="Time allowed to complete before reminding.")
    by_severity: dict[Severity, DeadlinesModel] = Field(
        default_factory=dict, description="Severity → deadlines that replace the above."
    )
    escalation: list[RoleId] = Field(
        default_factory=list,
        description="Roles notified in order when the owner does not acknowledge in time.",
    )
    repeat: Annotated[StrictInt, Field(ge=0, le=10)] = Field(
        0, description="How many more times to go through the escalation list."
    )
    strategy: Strategy = Field(
        Strategy.ALL,
        description='"all" (everyone at once), "sequential" (one holder at a time) or "tree" (a phone tree).',
    )
    needed: Annotated[StrictInt, Field(ge=1)] = Field(1, description="Acknowledgements a phone tree needs.")
    tree: TreeModel | None = Field(None, description='The phone tree, for strategy = "tree".')
    checklist: list[ChecklistModel] = Field(
        default_factory=list, description="Items the owner ticks before completing."
    )
    unresolved_to: RoleId | None = Field(
        None, description="The role told when nobody can take the step; default: the routine's."
    )
    fills_role: RoleId | None = Field(
        None,
        description="An incident role filled by the person named on completion (3.2.1 fills support_person).",
    )


class RoutineHeaderModel(_Table):
    """A routine without its steps (validated apart, so one broken step does not hide the others)."""

    id: Id = Field(description='The routine id, e.g. "bilaga3".')
    name: OneLineText = Field(description="The routine's name.")
    description: TextModel | None = Field(None, description="Where the routine comes from (document, adoption date).")
    unresolved_to: RoleId | None = Field(
        None, description="The role told when a step reaches nobody; default municipal_security_unit."
    )


class RoutineModel(RoutineHeaderModel):
    """``[[routines]]``: an ordered set of steps run for an incident."""

    steps: list[StepModel] = Field(min_length=1, description="The steps, in order.")


class RuleModel(_Table):
    """``[[routine_rules]]``: which routine an incident gets; the first matching rule wins."""

    routine: Id = Field(description="The routine id.")
    kinds: list[IncidentKind] = Field(default_factory=list, description="Incident kinds matched; [] matches all.")
    severities: list[Severity] = Field(default_factory=list, description="Severities matched; [] matches all.")


class ChannelModel(pydantic.BaseModel):
    """``[channels.NAME]``: a delivery channel. Keys other than these are the channel's own settings."""

    model_config = pydantic.ConfigDict(extra="allow")

    plugin: Name = Field(
        description='The channel\'s plugin name: "log" and "memory" are built in, "sms", "voice" and '
        '"email.smtp" come with hothat-sms, hothat-phonetree and hothat-email.'
    )
    medium: Medium | None = Field(
        None,
        description='The medium served: "sms", "voice" or "email"; may be left '
        'out when the plugin name starts with it ("sms", "email.smtp").',
    )
    disclosure: Disclosure | None = Field(
        None,
        description='"minimal", "standard" or "full" (full needs internal = true); default: the channel\'s own.',
    )


class FileModel(_Table):
    """A whole municipality file."""

    municipality: MunicipalityModel = Field(description="Who the configuration is for.")
    roles: list[RoleModel] = Field(default_factory=list, description="Roles declared or changed.")
    people: list[PersonModel] = Field(default_factory=list, description="Everyone who can be reached.")
    holders: dict[RoleId, list[Id]] = Field(
        default_factory=dict, description="Municipality role id → person ids, in order."
    )
    parties: list[PartyModel] = Field(default_factory=list, description="The parties.")
    routines: list[RoutineModel] = Field(min_length=1, description="The routines.")
    routine_rules: list[RuleModel] = Field(default_factory=list, description="Routine selection rules, in order.")
    channels: dict[Id, ChannelModel] = Field(default_factory=dict, description="Delivery channels by name.")
