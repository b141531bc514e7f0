"""A municipality file becomes the frozen domain: what each key turns into."""

from __future__ import annotations

import re
import tomllib
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pydantic
import pytest

from hothat.channels import Channel, ChannelSettings, MemoryChannel
from hothat.config import json_schema, load_config, load_config_text, load_example
from hothat.config._schema import parse_days
from hothat.domain.incident import IncidentKind, Severity
from hothat.domain.people import Medium, RoleScope
from hothat.domain.routine import Deadlines, FactCondition, Strategy, Text
from hothat.errors import ConfigurationError
from hothat.plugins import get_plugin_manager, hookimpl

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*/municipality.toml"))

MINIMAL = """
[municipality]
id = "testby"
name = "Testby kommun"
reference_prefix = "TB"

[[people]]
id = "per"
name = "Per"
contact = [{ sms = "070-174 06 05" }]

[holders]
municipal_security_strategist = ["per"]

[[routines]]
id = "r"
name = "Rutin"

[[routines.steps]]
id = "1"
title = "Bedömning"
owner = "municipal_security_strategist"
"""


def test_the_oxelosund_example_becomes_the_domain() -> None:
    m = load_example()
    assert (m.id, m.name, m.reference_prefix, m.default_routine) == ("oxelosund", "Oxelösunds kommun", "OX", "bilaga3")
    assert m.retention == timedelta(days=730)
    assert m.source == "oxelosund.toml (built in)"
    lars = m.directory.people["lars"]
    assert [(c.medium, c.address, c.delay) for c in lars.contacts] == [
        (Medium.SMS, "+46701740611", timedelta(0)),
        (Medium.VOICE, "+46846500411", timedelta(minutes=5)),
        (Medium.EMAIL, "lars.holm@oxelosund.example", timedelta(minutes=10)),
    ]
    assert m.directory.people["lena"].protected_identity
    assert m.directory.people["ali"].language == "en"
    routine = m.routines["bilaga3"]
    assert routine.unresolved_to == "municipal_security_strategist"
    assert [s.id for s in routine.steps] == ["3.1.1", "3.1.2", "3.1.3", "3.2.1", "3.2.2", "3.2.2b", "3.2.3", "3.2.3b"]
    first = routine.step("3.1.1")
    assert first.owners == ("party_security_contact",)
    assert first.deadlines == Deadlines(timedelta(minutes=15), timedelta(hours=2))
    assert first.deadlines_for(Severity.ACUTE) == Deadlines(timedelta(minutes=5), timedelta(minutes=30))
    assert first.escalation == ("party_group_leader", "municipal_security_strategist")
    assert first.repeat == 1
    assert first.instruction.sv.startswith("Den utsatte och partiets säkerhetsansvarig gör en bedömning")
    report = routine.step("3.1.3")
    assert report.when == FactCondition("police_report_wanted")
    assert report.strategy is Strategy.SEQUENTIAL
    assert [item.id for item in report.checklist] == ["access_protection", "mandate_link"]
    assert report.checklist[0].text.sv == "Anmälaren begär att polisanmälan blir åtkomstskyddad"
    support = routine.step("3.2.1")
    assert support.after == ()
    assert support.fills_role == "support_person"
    assert routine.step("3.2.2").when == FactCondition("needs_healthcare")
    assert routine.step("3.2.3").owners == ("party_security_contact", "municipal_security_strategist")
    assert routine.step("3.2.3").joint
    assert [c.name for c in m.channels] == ["sms", "voice", "email"]
    assert m.channels[2].disclosure == "standard"
    assert m.channels[2].medium is Medium.EMAIL


def test_in_oxelosund_the_party_without_a_security_contact_reaches_its_group_leader() -> None:
    d = load_example().directory
    assert "party_security_contact" not in d.parties["c"].holders
    found = d.resolve("party_security_contact", "c")
    assert [p.id for p in found.people] == ["olle"]
    assert found.fell_back


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_examples_use_only_made_up_contact_details(path: Path) -> None:
    """PTS fiction ranges for phones and .example domains for e-mail: no real person can be reached."""
    m = load_config(path)
    for person in m.directory.people.values():
        for contact in person.contacts:
            if contact.medium is Medium.EMAIL:
                assert contact.address.endswith(".example"), contact.address
            else:
                assert re.fullmatch(r"\+46(70174060[5-9]|7017406[1-9]\d|8465004\d\d)", contact.address), contact


def test_oxelosund_has_no_single_point_of_failure() -> None:
    m = load_config(ROOT / "examples/oxelosund/municipality.toml")
    assert all(len({c.medium for c in p.contacts}) >= 2 for p in m.directory.people.values())
    assert len(m.directory.holders["municipal_security_strategist"]) == 2
    assert len(m.directory.holders["municipal_ceo"]) == 2
    assert len(m.directory.parties) >= 3
    for step in m.routines["bilaga3"].steps:
        for role in step.escalation:
            for party in m.directory.parties:
                assert m.directory.resolve(role, party).people, (step.id, role, party)


def test_angelholm_parties_run_their_own_chain_before_the_municipal_routine() -> None:
    m = load_config(ROOT / "examples/angelholm/municipality.toml")
    joined = m.routine_for(IncidentKind.THREAT, Severity.SERIOUS, party="s")
    assert joined.id == "s_kedja+sakerhetsenheten"
    assert joined.dependencies(joined.step("R1")) == ("P2",)
    assert m.routine_for(IncidentKind.THREAT, Severity.SERIOUS, party="kd").id == "sakerhetsenheten"


def test_lidingo_sends_planned_risky_activities_to_the_preventive_routine() -> None:
    m = load_config(ROOT / "examples/lidingo/municipality.toml")
    assert m.routine_for(IncidentKind.PLANNED_RISKY_ACTIVITY, Severity.PREVENTIVE).id == "forebyggande"
    assert m.routine_for(IncidentKind.THREAT, Severity.ACUTE).id == "hot_och_hat"
    either = m.routines["hot_och_hat"].step("L2")
    assert either.owners == ("city_security_contact",)
    assert [p.id for p in m.directory.resolve("city_security_contact").people] == ["birgitta", "mats"]
    assert m.directory.roles["city_security_contact"].name("en") == "Executive board chair or security chief"


def test_the_weak_example_has_a_step_nobody_can_take_on_a_weekday_afternoon() -> None:
    m = load_config(ROOT / "examples/weak/municipality.toml")
    stockholm = ZoneInfo("Europe/Stockholm")
    tuesday_afternoon = datetime(2026, 3, 3, 14, 0, tzinfo=stockholm)
    tuesday_night = datetime(2026, 3, 3, 23, 0, tzinfo=stockholm)
    assert m.directory.resolve("duty_officer", at=tuesday_afternoon).people == ()
    assert [p.id for p in m.directory.resolve("duty_officer", at=tuesday_night).people] == ["bo"]
    assert len(m.directory.people["ulla"].contacts) == 1


def test_roles_can_be_changed_and_declared() -> None:
    text = (
        MINIMAL
        + """
[[roles]]
id = "party_security_contact"
fallbacks = []

[[roles]]
id = "evening_contact"
scope = "municipality"
name = { sv = "Kvällskontakt", en = "Evening contact" }
fallbacks = ["municipal_security_strategist"]
availability = { timezone = "Europe/Helsinki", windows = [{ days = "mon-fri", from = "17:00", to = "08:00" }] }
"""
    )
    roles = load_config_text(text).directory.roles
    assert roles["party_security_contact"].fallbacks == ()
    assert roles["party_security_contact"].name_sv == "Partiets säkerhetsansvarig"
    evening = roles["evening_contact"]
    assert evening.scope is RoleScope.MUNICIPALITY
    assert evening.name("sv") == "Kvällskontakt"
    assert evening.availability.timezone == "Europe/Helsinki"
    window = evening.availability.windows[0]
    assert (window.days, window.start, window.end) == (frozenset(range(1, 6)), time(17, 0), time(8, 0))


def test_availability_defaults_to_the_municipality_time_zone() -> None:
    text = MINIMAL.replace('reference_prefix = "TB"', 'reference_prefix = "TB"\ntimezone = "Europe/Oslo"').replace(
        'name = "Per"', 'name = "Per"\navailability = { windows = [{ days = "daily", from = "00:00", to = "24:00" }] }'
    )
    per = load_config_text(text).directory.people["per"]
    assert per.availability.timezone == "Europe/Oslo"
    assert per.availability.windows[0].end == time(0, 0)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("mon-fri", {1, 2, 3, 4, 5}),
        ("sat,sun", {6, 7}),
        ("daily", {1, 2, 3, 4, 5, 6, 7}),
        ("fri-mon", {5, 6, 7, 1}),
        ("mån-fre", {1, 2, 3, 4, 5}),
        ("Weekends", {6, 7}),
        ("mon, wed, fri", {1, 3, 5}),
        ("sunday", {7}),
    ],
)
def test_day_lists(text: str, days: set[int]) -> None:
    assert parse_days(text) == frozenset(days)


class _PagerSettings(ChannelSettings):
    username: str
    password: pydantic.SecretStr


class _Pager(MemoryChannel):
    name = "sms.pager"
    Settings = _PagerSettings


class _PagerPlugin:
    @hookimpl
    def hothat_register_channels(self) -> list[type[Channel]]:
        return [_Pager]


def test_channel_settings_are_passed_on_and_the_medium_read_from_the_plugin_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The table is checked with the plugin's own settings model, so the plugin (and the secret) must be there.
    monkeypatch.setenv("PAGER_PASSWORD", "hemligt")
    text = (
        MINIMAL
        + """
[channels.pager]
plugin = "sms.pager"
username = "u123"
password_env = "PAGER_PASSWORD"
"""
    )
    plugins = get_plugin_manager(load_entrypoints=False, plugins=[_PagerPlugin()])
    (channel,) = load_config_text(text, plugins=plugins).channels
    assert (channel.name, channel.plugin, channel.medium, channel.disclosure) == (
        "pager",
        "sms.pager",
        Medium.SMS,
        None,
    )
    assert dict(channel.settings) == {"username": "u123", "password_env": "PAGER_PASSWORD"}


def test_plain_text_is_swedish_and_defaults_are_filled_in() -> None:
    m = load_config_text(MINIMAL, "testby.toml")
    step = m.routines["r"].step("1")
    assert step.title == Text("Bedömning")
    assert (step.after, step.when, step.strategy, step.needed, step.repeat) == (None, None, Strategy.ALL, 1, 0)
    assert m.routines["r"].unresolved_to == "municipal_security_unit"
    assert m.default_routine == "r"  # the only routine
    assert (m.locale, m.timezone, m.store, m.token_secret_env) == (
        "sv",
        "Europe/Stockholm",
        "hothat.db",
        "HOTHAT_TOKEN_SECRET",
    )
    assert m.source == "testby.toml"


def test_a_toml_syntax_error_names_line_and_column() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config_text('[municipality]\nid = "x"\nname = Oxelösund\n', "x.toml")
    (problem,) = caught.value.problems
    assert str(problem).startswith("x.toml: line 3, column 8: TOML syntax error: invalid value")


def test_load_config_reports_a_missing_file_without_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigurationError) as caught:
        load_config(missing)
    (problem,) = caught.value.problems
    assert problem.source == str(missing)
    assert problem.message.startswith("no such file")
    with pytest.raises(ConfigurationError, match="is a folder"):
        load_config(tmp_path)


def test_load_config_reads_utf8_with_a_byte_order_mark_and_refuses_latin1(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_bytes(b"\xef\xbb\xbf" + MINIMAL.replace("Testby", "Överby").encode())
    assert load_config(good).name == "Överby kommun"
    bad = tmp_path / "bad.toml"
    bad.write_bytes(MINIMAL.replace("Testby", "Överby").encode("latin-1"))
    with pytest.raises(ConfigurationError) as caught:
        load_config(bad)
    (problem,) = caught.value.problems
    assert (problem.path, problem.message) == (
        "line 4",
        "the file is not UTF-8 text: save it as UTF-8 (å, ä and ö must be UTF-8)",
    )


def test_unknown_examples_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="no built-in example 'x'"):
        load_example("x")


def test_the_json_schema_describes_every_field() -> None:
    schema = json_schema()
    assert schema["title"] == "hothat municipality file"
    assert set(schema["properties"]) == {
        "municipality", "roles", "people", "holders", "parties", "routines", "routine_rules", "channels",
    }  # fmt: skip
    assert schema["required"] == ["municipality", "routines"]
    for name, definition in schema["$defs"].items():
        for key, field in definition.get("properties", {}).items():
            assert field.get("description"), f"{name}.{key} has no description"
    step = schema["$defs"]["StepModel"]
    assert step["additionalProperties"] is False
    assert schema["$defs"]["WindowModel"]["required"] == ["days", "from", "to"]


def test_the_packaged_example_is_the_one_in_examples() -> None:
    link = ROOT / "examples/oxelosund/municipality.toml"
    assert link.is_symlink()
    assert link.resolve() == (ROOT / "src/hothat/data/oxelosund.toml").resolve()
    tomllib.loads(link.read_text(encoding="utf-8"))
