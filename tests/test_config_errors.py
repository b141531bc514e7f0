# ruff: noqa: E501  (the expected messages are data, kept whole so a reader sees exactly what a user sees)
"""Every kind of mistake in a municipality file, with the exact path and message the user gets.

Each case edits a small valid file (``BASE``) and lists every problem expected, in order. The messages are the
product here: a municipal developer must be able to fix the file from them alone.
"""

from __future__ import annotations

import pytest

from hothat.config import load_config_text
from hothat.errors import ConfigurationError

BASE = """\
[municipality]
id = "testby"
name = "Testby kommun"
reference_prefix = "TB"

[[people]]
id = "per"
name = "Per"
contact = [{ sms = "070-174 06 05" }, { email = "per@testby.example" }]

[[people]]
id = "eva"
name = "Eva"
contact = [{ sms = "070-174 06 06" }]

[holders]
municipal_security_strategist = ["eva"]

[[parties]]
id = "s"
name = "Socialdemokraterna"
holders = { party_security_contact = ["per"] }

[[routines]]
id = "r"
name = "Rutin"
unresolved_to = "municipal_security_strategist"

[[routines.steps]]
id = "1"
title = "Bedömning"
owner = "party_security_contact"
ack_within = "15m"
escalation = ["municipal_security_strategist"]

[[routines.steps]]
id = "2"
title = "Polisen"
owner = "municipal_security_strategist"
"""


def edit(edits: list[tuple[str, str]]) -> str:
    """Apply ``(old, new)`` replacements to ``BASE``; an empty ``old`` appends ``new``."""
    text = BASE
    for old, new in edits:
        if not old:
            text += new
        else:
            assert old in text, old
            text = text.replace(old, new, 1)
    return text


def test_base_file_is_valid() -> None:
    municipality = load_config_text(BASE, "testby.toml")
    assert municipality.id == "testby"


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        pytest.param(
            [('sms = "070-174 06 05"', 'sms = "070-174 06"')],
            [
                (
                    "people[0].contact[0]",
                    '"070-174 06" is not a valid Swedish phone number: check the digits; write it like 070-174 06 05 or +46 70 174 06 05',
                ),
            ],
            id="phone_invalid",
        ),
        pytest.param(
            [('sms = "070-174 06 05"', 'sms = "08-465 004 00"')],
            [
                (
                    "people[0].contact[0]",
                    '"08-465 004 00" is a landline and cannot receive SMS: use voice = "08-465 004 00" for it, and a mobile number for sms',
                ),
            ],
            id="phone_landline_sms",
        ),
        pytest.param(
            [('sms = "070-174 06 05"', 'voice = "112"')],
            [
                (
                    "people[0].contact[0]",
                    '"112" is an emergency number: a contact point must reach a person, give their own number',
                ),
            ],
            id="phone_112",
        ),
        pytest.param(
            [('sms = "070-174 06 05"', 'voice = "911"')],
            [
                (
                    "people[0].contact[0]",
                    '"911" is an emergency number: a contact point must reach a person, give their own number',
                ),
            ],
            id="phone_911",
        ),
        pytest.param(
            [('sms = "070-174 06 05"', 'voice = "114 14"')],
            [
                (
                    "people[0].contact[0]",
                    '"114 14" is a short number (a service number or short code): give a full number, like 070-174 06 05 or +46 70 174 06 05',
                ),
            ],
            id="phone_short",
        ),
        pytest.param(
            [('sms = "070-174 06 05"', 'voice = "0900-123 45 67"')],
            [
                (
                    "people[0].contact[0]",
                    '"0900-123 45 67" is a premium-rate number: hothat never calls or texts premium-rate numbers',
                ),
            ],
            id="phone_premium",
        ),
        pytest.param(
            [('sms = "070-174 06 05"', 'voice = "08-465 004 00 ext 12"')],
            [
                (
                    "people[0].contact[0]",
                    '"08-465 004 00 ext 12" has an extension, which hothat cannot dial: give a direct number',
                ),
            ],
            id="phone_ext",
        ),
        pytest.param(
            [('sms = "070-174 06 05"', 'sms = "ring mig"')],
            [
                (
                    "people[0].contact[0]",
                    '"ring mig" is not a phone number: write it like 070-174 06 05 or +46 70 174 06 05',
                ),
            ],
            id="phone_garbage",
        ),
        pytest.param(
            [('email = "per@testby.example"', 'email = "per@testby"')],
            [
                (
                    "people[0].contact[1]",
                    '"per@testby" is not an e-mail address: the domain must be a name with a dot, like kommun.example',
                ),
            ],
            id="email_no_dot",
        ),
        pytest.param(
            [('email = "per@testby.example"', 'email = "per@@testby.example"')],
            [
                (
                    "people[0].contact[1]",
                    '"per@@testby.example" is not an e-mail address: it must contain exactly one @',
                ),
            ],
            id="email_two_at",
        ),
        pytest.param(
            [('email = "per@testby.example"', 'email = "per son@testby.example"')],
            [
                (
                    "people[0].contact[1]",
                    '"per son@testby.example" is not an e-mail address: it contains a space, line break or control character',
                ),
            ],
            id="email_space",
        ),
        pytest.param(
            [('email = "per@testby.example"', 'email = "per@testby.example\\nBcc: x@y.example"')],
            [
                (
                    "people[0].contact[1]",
                    '"per@testby.example\\nBcc: x@y.example" is not an e-mail address: it contains a space, line break or control character',
                ),
            ],
            id="email_newline",
        ),
        pytest.param(
            [('email = "per@testby.example"', 'email = ".per@testby.example"')],
            [
                (
                    "people[0].contact[1]",
                    '".per@testby.example" is not an e-mail address: the part before @ must be 1-64 plain letters, digits or . _ - + (no dot at either end, no two dots in a row)',
                ),
            ],
            id="email_dots",
        ),
        pytest.param(
            [('sms = "070-174 06 05"', 'sms = "070-174 06 05", email = "a@b.example"')],
            [
                (
                    "people[0].contact[0]",
                    'give exactly one of sms, voice or email in each contact point, e.g. { sms = "070-174 06 05" } (found sms and email)',
                ),
            ],
            id="two_media",
        ),
        pytest.param(
            [('sms = "070-174 06 05"', 'delay = "5m"')],
            [
                (
                    "people[0].contact[0]",
                    'give exactly one of sms, voice or email in each contact point, e.g. { sms = "070-174 06 05" }',
                ),
            ],
            id="no_media",
        ),
        pytest.param(
            [('name = "Per"', 'nmae = "Per"')],
            [
                (
                    "people[0]",
                    'unknown key "nmae"; did you mean "name"? The keys allowed here are: id, name, language, protected_identity, availability, contact.',
                ),
            ],
            id="unknown_key",
        ),
        pytest.param(
            [('name = "Per"\n', "")],
            [
                (
                    "people[0]",
                    'required key "name" is missing: the person\'s name (never sent when protected_identity is set).',
                ),
            ],
            id="missing_name",
        ),
        pytest.param(
            [('name = "Per"', "name = 5")],
            [
                ("people[0].name", "expected text in quotes, got the number 5"),
            ],
            id="wrong_type",
        ),
        pytest.param(
            [('name = "Per"', 'name = "Per"\nprotected_identity = "yes"')],
            [
                (
                    "people[0].protected_identity",
                    'expected true or false (without quotes), got the text "yes"',
                ),
            ],
            id="bool_type",
        ),
        pytest.param(
            [('owner = "party_security_contact"', 'owner = "party_securty_contact"')],
            [
                (
                    "routines[0].steps[0].owner",
                    'step 1: unknown role "party_securty_contact"; did you mean "party_security_contact"? Declare a role of your own under [[roles]]; the configuration reference lists the built-in roles.',
                ),
            ],
            id="unknown_role_owner",
        ),
        pytest.param(
            [('["eva"]', '["eva", "evo"]')],
            [
                (
                    "holders.municipal_security_strategist[1]",
                    'unknown person "evo"; did you mean "eva"? Every person needs a [[people]] entry with that id.',
                ),
            ],
            id="unknown_person_holders",
        ),
        pytest.param(
            [('title = "Polisen"', 'title = "Polisen"\nafter = ["3"]')],
            [
                (
                    "routines[0].steps[1].after[0]",
                    'step 2: unknown step "3". The steps of this routine are: 1, 2.',
                ),
            ],
            id="unknown_step_after",
        ),
        pytest.param(
            [('title = "Polisen"', 'title = "Polisen"\nafter = ["2"]')],
            [
                ("routines[0].steps[1].after[0]", "step 2: a step cannot wait for itself"),
            ],
            id="after_self",
        ),
        pytest.param(
            [('title = "Bedömning"', 'title = "Bedömning"\nafter = ["2"]')],
            [
                (
                    "routines[0].steps[0].after",
                    "step 1: steps wait for each other in a cycle: 1 → 2 → 1, so none of them can ever start (a step without after waits for the step before it); remove one of these after entries",
                ),
            ],
            id="after_cycle",
        ),
        pytest.param(
            [('reference_prefix = "TB"', 'reference_prefix = "TB"\ndefault_routine = "rr"')],
            [
                (
                    "municipality.default_routine",
                    'unknown routine "rr"; did you mean "r"? The routines are: r.',
                ),
            ],
            id="unknown_default_routine",
        ),
        pytest.param(
            [("", '\n[[routine_rules]]\nroutine = "preventive"\nkinds = ["planned_risky_activity"]\n')],
            [
                ("routine_rules[0].routine", 'unknown routine "preventive". The routines are: r.'),
            ],
            id="unknown_rule_routine",
        ),
        pytest.param(
            [('name = "Socialdemokraterna"', 'name = "Socialdemokraterna"\nroutine = "s_chain"')],
            [
                ("parties[0].routine", 'unknown routine "s_chain". The routines are: r.'),
            ],
            id="unknown_party_routine",
        ),
        pytest.param(
            [("", '\n[[routine_rules]]\nroutine = "r"\nkinds = ["threats"]\n')],
            [
                (
                    "routine_rules[0].kinds[0]",
                    '"threats" is not allowed here: use one of threat, hate, harassment, violence, property_damage, theft, undue_influence, corruption_attempt, insult_violation, planned_risky_activity; did you mean "threat"?',
                ),
            ],
            id="unknown_kind",
        ),
        pytest.param(
            [
                ('sms = "070-174 06 05"', 'sms = "070-174 06 05", channel = "text"'),
                ("", '\n[channels.sms]\nplugin = "log"\nmedium = "sms"\n'),
            ],
            [
                ("people[0].contact[0].channel", 'unknown channel "text". The channels are: sms.'),
            ],
            id="unknown_channel",
        ),
        pytest.param(
            [
                ('email = "per@testby.example"', 'email = "per@testby.example", channel = "sms"'),
                ("", '\n[channels.sms]\nplugin = "log"\nmedium = "sms"\n'),
            ],
            [
                (
                    "people[0].contact[1].channel",
                    'channel "sms" serves sms, but this contact point is email: name a channel of that medium, or leave channel out to use the first one',
                ),
            ],
            id="channel_medium",
        ),
        pytest.param(
            [("", '\n[channels.main]\nplugin = "log"\n')],
            [
                (
                    "channels.main",
                    'say which medium channel "main" serves: add medium = "sms", "voice" or "email"',
                ),
            ],
            id="channel_no_medium",
        ),
        pytest.param(
            # A valid SMTP table (the table is checked with the plugin's own model), only not internal.
            [
                (
                    "",
                    '\n[channels.mail]\nplugin = "email.smtp"\ndisclosure = "full"\nhost = "smtp.testby.example"\n'
                    'from_address = "hothat@testby.example"\n',
                )
            ],
            [
                (
                    "channels.mail.disclosure",
                    'full disclosure (with the incident description) is only for internal channels: add internal = true if this channel never leaves the municipality\'s own systems, or use "standard"',
                ),
            ],
            id="channel_full",
        ),
        pytest.param(
            [('id = "eva"', 'id = "per"'), ('["eva"]', '["per"]')],
            [
                ("people[1].id", 'duplicate person id "per" (also at people[0]): ids must be unique'),
            ],
            id="duplicate_person",
        ),
        pytest.param(
            [('id = "2"', 'id = "1"')],
            [
                (
                    "routines[0].steps[1].id",
                    'duplicate step id "1" in routine "r" (also at steps[0]): ids must be unique',
                ),
            ],
            id="duplicate_step",
        ),
        pytest.param(
            [("", '\n[[parties]]\nid = "s"\nname = "Sverigedemokraterna"\n')],
            [
                ("parties[1].id", 'duplicate party id "s" (also at parties[0]): ids must be unique'),
            ],
            id="duplicate_party",
        ),
        pytest.param(
            [("", '\n[[roles]]\nid = "x_role"\nname = "X"\n\n[[roles]]\nid = "x_role"\nname = "Y"\n')],
            [
                ("roles[1].id", 'duplicate role id "x_role" (also at roles[0]): ids must be unique'),
            ],
            id="duplicate_role",
        ),
        pytest.param(
            [("", '\n[[roles]]\nid = "party_group_leader"\nfallbacks = ["party_security_contact"]\n')],
            [
                (
                    "roles[0].fallbacks",
                    "role fallbacks form a cycle: party_security_contact → party_group_leader → party_security_contact; remove one of these fallbacks so the chain ends",
                ),
            ],
            id="fallback_cycle",
        ),
        pytest.param(
            [("", '\n[[roles]]\nid = "a_role"\nname = "A"\nfallbacks = ["a_role"]\n')],
            [
                ("roles[0].fallbacks[0]", "a role cannot fall back to itself"),
            ],
            id="fallback_self",
        ),
        pytest.param(
            [("", '\n[[roles]]\nid = "a_role"\n')],
            [
                (
                    "roles[0]",
                    '"a_role" is not a built-in role: give it a name, e.g. name = { sv = "...", en = "..." }',
                ),
            ],
            id="new_role_no_name",
        ),
        pytest.param(
            [("", '\n[[roles]]\nid = "party_group_leader"\nscope = "municipality"\n')],
            [
                (
                    "roles[0].scope",
                    '"party_group_leader" is a built-in party role and its scope cannot change: declare a role with an id of your own',
                ),
            ],
            id="builtin_scope",
        ),
        pytest.param(
            [("", '\n[[roles]]\nid = "A Role"\nname = "A"\n')],
            [
                (
                    "roles[0].id",
                    '"A Role" is not a valid role id: use lower-case letters, digits and "_", starting with a letter, e.g. "party_security_contact"',
                ),
            ],
            id="bad_role_id",
        ),
        pytest.param(
            [('id = "eva"', 'id = "eva b"'), ('["eva"]', '["eva b"]')],
            [
                (
                    "people[1].id",
                    '"eva b" is not a valid id: use letters, digits, "_", "-" or "." (no spaces, at most 64 characters), e.g. "per" or "3.1.2"',
                ),
                (
                    "holders.municipal_security_strategist[0]",
                    '"eva b" is not a valid id: use letters, digits, "_", "-" or "." (no spaces, at most 64 characters), e.g. "per" or "3.1.2"',
                ),
            ],
            id="bad_id",
        ),
        pytest.param(
            [('ack_within = "15m"', 'ack_within = "15 min"')],
            [
                (
                    "routines[0].steps[0].ack_within",
                    'step 1: "15 min" is not a duration: write a number and a unit, e.g. 90s, 15m, 2h, 1d or 1h30m',
                ),
            ],
            id="duration_invalid",
        ),
        pytest.param(
            [('ack_within = "15m"', 'ack_within = "1m1h"')],
            [
                (
                    "routines[0].steps[0].ack_within",
                    'step 1: "1m1h" is not a duration: give each unit once, largest first (e.g. 1h30m)',
                ),
            ],
            id="duration_order",
        ),
        pytest.param(
            [('ack_within = "15m"', 'ack_within = "0s"')],
            [
                (
                    "routines[0].steps[0].ack_within",
                    'step 1: "0s" is zero: a deadline must be longer than that, e.g. "15m"',
                ),
            ],
            id="duration_zero",
        ),
        pytest.param(
            [('ack_within = "15m"', "ack_within = 15")],
            [
                (
                    "routines[0].steps[0].ack_within",
                    'step 1: expected text in quotes with a unit, e.g. "15m", got the number 15',
                ),
            ],
            id="duration_number",
        ),
        pytest.param(
            [('ack_within = "15m"', 'ack_within = "2h"\ndone_within = "1h"')],
            [
                (
                    "routines[0].steps[0].ack_within",
                    "step 1: ack_within (2h) is longer than done_within (1h): a step must be acknowledged before it can be done",
                ),
            ],
            id="ack_after_done",
        ),
        pytest.param(
            [('ack_within = "15m"\n', "")],
            [
                (
                    "routines[0].steps[0].escalation",
                    'step 1: escalation needs a deadline to escalate on: add ack_within = "15m" (without it nobody is ever escalated to)',
                ),
            ],
            id="escalation_no_ack",
        ),
        pytest.param(
            [('title = "Polisen"', 'title = "Polisen"\nwhen = "police report wanted"')],
            [
                (
                    "routines[0].steps[1].when",
                    'step 2: "police report wanted" is not a condition: write a fact name such as "police_report_wanted", or "not" and a fact name, e.g. "not needs_healthcare"',
                ),
            ],
            id="when_syntax",
        ),
        pytest.param(
            [('title = "Polisen"', 'title = "Polisen"\nwhen = "not"')],
            [
                (
                    "routines[0].steps[1].when",
                    'step 2: "not" is not a condition: write a fact name such as "police_report_wanted", or "not" and a fact name, e.g. "not needs_healthcare"',
                ),
            ],
            id="when_not",
        ),
        pytest.param(
            [
                (
                    'title = "Polisen"',
                    'title = "Polisen"\nstrategy = "tree"\nneeded = 3\ntree = { role = "municipal_security_strategist", children = [{ person = "per" }] }',
                )
            ],
            [
                (
                    "routines[0].steps[1].needed",
                    "step 2: needed = 3, but the tree has only 2 nodes: lower needed or add nodes",
                ),
            ],
            id="tree_needed",
        ),
        pytest.param(
            [('title = "Polisen"', 'title = "Polisen"\nstrategy = "tree"')],
            [
                (
                    "routines[0].steps[1].strategy",
                    'step 2: strategy = "tree" needs a tree: add tree = { role = "...", children = [{ person = "..." }] }',
                ),
            ],
            id="tree_missing",
        ),
        pytest.param(
            [
                (
                    'title = "Polisen"',
                    'title = "Polisen"\nstrategy = "tree"\ntree = { role = "municipal_security_strategist", person = "per" }',
                )
            ],
            [
                (
                    "routines[0].steps[1].tree",
                    'step 2: a tree node names exactly one of role or person, e.g. { role = "party_group_leader" } or { person = "per" }',
                ),
            ],
            id="tree_node_both",
        ),
        pytest.param(
            [('title = "Polisen"', 'title = "Polisen"\nneeded = 2')],
            [
                (
                    "routines[0].steps[1].needed",
                    'step 2: needed only applies to strategy = "tree": remove it',
                ),
            ],
            id="needed_not_tree",
        ),
        pytest.param(
            [
                (
                    'owner = "municipal_security_strategist"',
                    'owner = "municipal_security_strategist"\nowners = ["municipal_ceo"]',
                )
            ],
            [
                ("routines[0].steps[1]", "step 2: give owner or owners, not both"),
            ],
            id="owner_and_owners",
        ),
        pytest.param(
            [('owner = "municipal_security_strategist"\n', "")],
            [
                (
                    "routines[0].steps[1]",
                    'step 2: no owner: add owner = "role_id", or owners = ["role_a", "role_b"] for a step two roles own jointly',
                ),
            ],
            id="no_owner",
        ),
        pytest.param(
            [('title = "Polisen"', 'title = "Polisen"\nfills_role = "municipal_ceo"')],
            [
                (
                    "routines[0].steps[1].fills_role",
                    'step 2: "municipal_ceo" is not filled per incident: fills_role names an incident role, such as support_person',
                ),
            ],
            id="fills_role_not_incident",
        ),
        pytest.param(
            [
                (
                    'municipal_security_strategist = ["eva"]',
                    'municipal_security_strategist = ["eva"]\nparty_group_leader = ["per"]',
                )
            ],
            [
                (
                    "holders.party_group_leader",
                    '"party_group_leader" is a party role: list its holders in each party, e.g. holders = { party_group_leader = ["per"] } under [[parties]]',
                ),
            ],
            id="party_role_in_holders",
        ),
        pytest.param(
            [
                (
                    'holders = { party_security_contact = ["per"] }',
                    'holders = { party_security_contact = ["per"], municipal_ceo = ["eva"] }',
                )
            ],
            [
                (
                    "parties[0].holders.municipal_ceo",
                    '"municipal_ceo" is a municipality role, not a party role: list its holders under [holders]',
                ),
            ],
            id="municipal_role_in_party",
        ),
        pytest.param(
            [
                (
                    'municipal_security_strategist = ["eva"]',
                    'municipal_security_strategist = ["eva"]\nsupport_person = ["per"]',
                )
            ],
            [
                (
                    "holders.support_person",
                    '"support_person" is filled per incident (like the targeted person or the chosen support person), so it has no holders in the file: remove this line',
                ),
            ],
            id="incident_role_holders",
        ),
        pytest.param(
            [
                (
                    'holders = { party_security_contact = ["per"] }',
                    'holders = { party_security_contact = ["per"], support_person = ["eva"] }',
                )
            ],
            [
                (
                    "parties[0].holders.support_person",
                    '"support_person" is filled per incident, so it has no holders in the file: remove it',
                ),
            ],
            id="incident_role_in_party",
        ),
        pytest.param(
            [
                ("", '\n[[parties]]\nid = "c"\nname = "Centerpartiet"\n'),
                ('unresolved_to = "municipal_security_strategist"\n', 'unresolved_to = "municipal_ceo"\n'),
            ],
            [
                (
                    "routines[0].unresolved_to",
                    'unresolved_to "municipal_ceo" reaches nobody for party "s" (Socialdemokraterna), party "c" (Centerpartiet) and an incident with no party, such as one against a staff member: nobody holds municipal_ceo, so an escalation that runs out would tell nobody; give that role holders, or set unresolved_to = "..." to a role that has some',
                ),
                (
                    "routines[0].steps[0].owner",
                    'step 1: nobody can take this step for party "c" (Centerpartiet) and an incident with no party, such as one against a staff member: nobody holds party_security_contact or its fallback party_group_leader, nor unresolved_to "municipal_ceo"; give that party holders = { party_security_contact = ["..."] } or set unresolved_to (now "municipal_ceo") to a role that has holders',
                ),
            ],
            id="unreachable_owner",
        ),
        pytest.param(
            [
                ('unresolved_to = "municipal_security_strategist"\n', ""),
                ('municipal_security_strategist = ["eva"]', 'municipal_ceo = ["eva"]'),
                ('escalation = ["municipal_security_strategist"]', 'escalation = ["municipal_ceo"]'),
                ('owner = "municipal_security_strategist"', 'owner = "municipal_ceo"'),
            ],
            [
                (
                    "routines[0]",
                    'the default unresolved_to "municipal_security_unit" reaches nobody for party "s" (Socialdemokraterna) and an incident with no party, such as one against a staff member: nobody holds municipal_security_unit or its fallbacks municipal_security_officer, municipal_security_chief, municipal_security_strategist, municipal_security_coordinator, so an escalation that runs out would tell nobody; give that role holders, or set unresolved_to = "..." to a role that has some',
                ),
                (
                    "routines[0].steps[0].owner",
                    'step 1: nobody can take this step for an incident with no party, such as one against a staff member: nobody holds party_security_contact or its fallback party_group_leader, nor unresolved_to "municipal_security_unit"; set unresolved_to (now "municipal_security_unit") to a role that has holders',
                ),
            ],
            id="unreachable_unresolved",
        ),
        pytest.param(
            [
                (
                    'name = "Eva"',
                    'name = "Eva"\navailability = { windows = [{ days = "mon-fredag", from = "08:00", to = "17:00" }] }',
                )
            ],
            [
                (
                    "people[1].availability.windows[0].days",
                    '"mon-fredag" is not a list of days: write e.g. "mon-fri", "sat,sun" or "daily"',
                ),
            ],
            id="days_invalid",
        ),
        pytest.param(
            [
                (
                    'name = "Eva"',
                    'name = "Eva"\navailability = { windows = [{ days = "mon-fri", from = "8", to = "25:00" }] }',
                )
            ],
            [
                (
                    "people[1].availability.windows[0].from",
                    '"8" is not a time of day: write HH:MM from 00:00 to 23:59, e.g. "08:00"',
                ),
                (
                    "people[1].availability.windows[0].to",
                    '"25:00" is not a time of day: write HH:MM from 00:00 to 24:00, e.g. "08:00"',
                ),
            ],
            id="time_invalid",
        ),
        pytest.param(
            [
                (
                    'name = "Eva"',
                    'name = "Eva"\navailability = { windows = [{ days = "mon-fri", form = "08:00", to = "17:00" }] }',
                )
            ],
            [
                (
                    "people[1].availability.windows[0]",
                    'unknown key "form"; did you mean "from"? The keys allowed here are: days, from, to.',
                ),
            ],
            id="window_typo",
        ),
        pytest.param(
            [('reference_prefix = "TB"', 'reference_prefix = "TB"\ntimezone = "Europe/Stockhol"')],
            [
                (
                    "municipality.timezone",
                    '"Europe/Stockhol" is not a time zone: use an IANA name such as "Europe/Stockholm"',
                ),
            ],
            id="timezone_invalid",
        ),
        pytest.param(
            [('reference_prefix = "TB"', 'reference_prefix = "tb"')],
            [
                (
                    "municipality.reference_prefix",
                    '"tb" is not a reference prefix: use 1-8 upper-case ASCII letters or digits, starting with a letter, e.g. "OX"',
                ),
            ],
            id="prefix_invalid",
        ),
        pytest.param(
            [('reference_prefix = "TB"', 'reference_prefix = "TB"\nlink_base_url = "intranet/hothat"')],
            [
                (
                    "municipality.link_base_url",
                    '"intranet/hothat" is not a base URL: write e.g. "https://intranet.kommun.example/hothat" (http or https, no ? or #)',
                ),
            ],
            id="url_invalid",
        ),
        pytest.param(
            [('name = "Per"', 'name = "Per"\nlanguage = "de"')],
            [
                ("people[0].language", '"de" is not allowed here: use one of sv, en'),
            ],
            id="language",
        ),
        pytest.param(
            [('ack_within = "15m"', 'ack_within = "15m"\nby_severity = { acut = { ack_within = "5m" } }')],
            [
                (
                    "routines[0].steps[0].by_severity.acut",
                    'step 1: "acut" is not allowed as a key here: use one of acute, serious, threat, below_threshold, preventive; did you mean "acute"?',
                ),
            ],
            id="severity_key",
        ),
        pytest.param(
            [('title = "Polisen"', 'title = "Polisen"\nstrategy = "sequental"')],
            [
                (
                    "routines[0].steps[1].strategy",
                    'step 2: "sequental" is not allowed here: use one of all, sequential, tree; did you mean "sequential"?',
                ),
            ],
            id="strategy_typo",
        ),
        pytest.param(
            [("", "\n[peple]\nx = 1\n")],
            [
                (
                    "peple",
                    'unknown top-level table "peple"; did you mean "people"? The tables are: municipality, roles, people, holders, parties, routines, routine_rules, channels.',
                ),
            ],
            id="unknown_table",
        ),
        pytest.param(
            [('[municipality]\nid = "testby"\nname = "Testby kommun"\nreference_prefix = "TB"\n', "")],
            [
                (
                    "",
                    "the [municipality] table is missing: add it with at least id, name and reference_prefix",
                ),
            ],
            id="no_municipality",
        ),
        pytest.param(
            [("", '\n[people.x]\nname = "x"\n')],
            [
                (
                    "people[1]",
                    'unknown key "x". The keys allowed here are: id, name, language, protected_identity, availability, contact.',
                ),
            ],
            id="people_not_array",
        ),
        pytest.param(
            [
                ('name = "Socialdemokraterna"', 'name = "Socialdemokraterna"\nroutine = "s_chain"'),
                (
                    "",
                    '\n[[routines]]\nid = "s_chain"\nname = "S"\n\n[[routines.steps]]\nid = "1"\ntitle = "P"\nowner = "party_security_contact"\n',
                ),
                ('reference_prefix = "TB"', 'reference_prefix = "TB"\ndefault_routine = "r"'),
            ],
            [
                (
                    "parties[0].routine",
                    'routine "s_chain" runs before "r", but both have step 1: give the party routine\'s steps ids of their own, e.g. "P1", "P2"',
                ),
            ],
            id="party_routine_clash",
        ),
        pytest.param(
            [
                (
                    "",
                    '\n[[routines]]\nid = "r2"\nname = "R2"\n\n[[routines.steps]]\nid = "1"\ntitle = "P"\nowner = "party_security_contact"\n',
                )
            ],
            [
                (
                    "municipality",
                    'default_routine is missing: name the routine an incident gets when no [[routine_rules]] matches, e.g. default_routine = "r"',
                ),
            ],
            id="no_default_routine",
        ),
        pytest.param(
            [("", '\n[[routines]]\nid = "r2"\nname = "R2"\n')],
            [
                (
                    "municipality",
                    'default_routine is missing: name the routine an incident gets when no [[routine_rules]] matches, e.g. default_routine = "r"',
                ),
                ("routines[1]", 'routine "r2" has no steps: add at least one [[routines.steps]]'),
            ],
            id="no_steps",
        ),
        pytest.param(
            [
                (
                    'escalation = ["municipal_security_strategist"]',
                    'escalation = ["municipal_security_strategist"]\nrepeat = -1',
                )
            ],
            [
                ("routines[0].steps[0].repeat", "step 1: must be at least 0, got -1"),
            ],
            id="repeat_negative",
        ),
        pytest.param(
            [('name = "Per"', "name = Per")],
            [
                (
                    "line 8, column 8",
                    'TOML syntax error: invalid value (write text in quotes ("..."), true/false, a number, an array [...] or a table { ... })',
                ),
            ],
            id="toml_syntax",
        ),
        pytest.param(
            [('name = "Per"', 'name = "Per"\nname = "Per2"')],
            [
                (
                    "line 9, column 14",
                    "TOML syntax error: cannot overwrite a value (a key or table is given twice; keep one)",
                ),
            ],
            id="toml_dup",
        ),
        pytest.param(
            [('name = "Per"', 'name = "Per')],
            [
                (
                    "line 8, column 12",
                    "TOML syntax error: illegal character '\\n' (a text may be missing its closing quote, or holds a character TOML does not allow)",
                ),
            ],
            id="toml_unclosed",
        ),
    ],
)
def test_bad_file_lists_every_problem_with_exact_message(
    edits: list[tuple[str, str]], expected: list[tuple[str, str]]
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config_text(edit(edits), "testby.toml")
    problems = caught.value.problems
    assert [(p.path, p.message) for p in problems] == expected
    assert all(p.source == "testby.toml" for p in problems)
