"""``hothat validate``, ``schema`` and ``demo`` through ``main()``: exit codes, output, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hothat import cli

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*/municipality.toml"))

# One file, four different mistakes: a bad phone number, an unknown role in a step, steps waiting for each
# other in a cycle, and an SMS contact point on a landline.
FOUR_PROBLEMS = """
[municipality]
id = "testby"
name = "Testby kommun"
reference_prefix = "TB"

[[people]]
id = "per"
name = "Per Exempelsson"
contact = [{ sms = "070-174 06 05" }, { voice = "070-174 0" }]

[[people]]
id = "eva"
name = "Eva Exempel"
contact = [{ sms = "08-465 004 00" }, { email = "eva@testby.example" }]

[holders]
municipal_security_strategist = ["per", "eva"]

[[routines]]
id = "r"
name = "Rutin"

[[routines.steps]]
id = "1"
title = "Bedömning"
owner = "municipal_security_strategist"
after = ["2"]

[[routines.steps]]
id = "2"
title = "Polisen"
owner = "municipal_securty_strategist"
"""


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_every_example_validates(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{path}: OK\n")
    assert "Routine " in out
    assert err == ""


def test_the_four_configuration_examples_are_checked() -> None:
    assert {"oxelosund", "lidingo", "angelholm", "weak"} <= {p.parent.name for p in EXAMPLES}


def test_the_summary_shows_owners_per_party_with_fallbacks_and_deadlines(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", str(ROOT / "examples/oxelosund/municipality.toml")]) == 0
    out = capsys.readouterr().out
    assert "People: 10 (email 10, sms 10, voice 6; 1 with protected identity)" in out
    assert "c  Centerpartiet" in out
    assert "municipal_security_strategist  Säkerhetsstrateg: karin, lars" in out
    assert "  3.1.1  Bedömning av situationen\n" in out
    assert "owner       party_security_contact → s: per | m: ali | c: olle (via party_group_leader)" in out
    assert "deadlines   ack 15m, done 2h; acute: ack 5m, done 30m" in out
    assert "escalation  party_group_leader → municipal_security_strategist, repeated once" in out
    assert "starts      after 3.1.2, only when police_report_wanted" in out
    assert "owners      municipal_security_strategist → karin, lars (jointly)" in out


def test_a_file_with_four_mistakes_lists_all_four_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "testby.toml"
    path.write_text(FOUR_PROBLEMS, encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines == [
        f'{path}: people[0].contact[1]: "070-174 0" is not a valid Swedish phone number: check the digits; '
        "write it like 070-174 06 05 or +46 70 174 06 05",
        f'{path}: people[1].contact[0]: "08-465 004 00" is a landline and cannot receive SMS: use voice = '
        '"08-465 004 00" for it, and a mobile number for sms',
        f"{path}: routines[0].steps[0].after: step 1: steps wait for each other in a cycle: 1 → 2 → 1, so none "
        "of them can ever start (a step without after waits for the step before it); remove one of these after "
        "entries",
        f'{path}: routines[0].steps[1].owner: step 2: unknown role "municipal_securty_strategist"; did you mean '
        '"municipal_security_strategist"? Declare a role of your own under [[roles]]; the configuration '
        "reference lists the built-in roles.",
        f"4 problems found in {path}.",
    ]
    assert "Traceback" not in err


def test_a_missing_file_exits_2_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "kommun.toml"
    assert cli.main(["validate", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{missing}: no such file (looked in {tmp_path}): check the path\n")


def test_a_toml_syntax_error_exits_2_naming_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "k.toml"
    path.write_text('[municipality]\nid = "k"\nname = "K"\nname = "L"\n', encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 2
    assert f"{path}: line 4, column 11: TOML syntax error: cannot overwrite a value" in capsys.readouterr().err


def test_schema_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "StepModel" in schema["$defs"]


def test_usage_errors_exit_2_and_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage: hothat" in capsys.readouterr().err
    assert cli.main(["validate"]) == 2
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("validate", "schema", "demo"):
        assert name in out


def test_an_unexpected_error_is_reported_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(path: str, **options: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(cli, "check_config", broken)
    monkeypatch.delenv("HOTHAT_DEBUG", raising=False)
    assert cli.main(["validate", "x.toml"]) == 70
    err = capsys.readouterr().err
    assert (
        err
        == "hothat: internal error (RuntimeError); run again with HOTHAT_DEBUG=1 to see where, and please report it\n"
    )


def test_subcommands_are_registered_in_one_table() -> None:
    assert list(cli.COMMANDS)[:3] == ["validate", "schema", "demo"]
    assert cli.COMMANDS["validate"].run is cli.validate


# ----------------------------------------------------------------------------------------------------------
# Channel tables and secrets
# ----------------------------------------------------------------------------------------------------------

CHANNELS = """
[channels.sms]
plugin = "sms"

[[channels.sms.providers]]
provider = "46elks"
username = "u0123456789abcdef"
password_env = "TESTBY_CLI_ELKS_PASSWORD"
sender = "Testby"
webhook_token_file = "secrets/elks-webhook"

[channels.email]
plugin = "email.smtp"
host = "smtp.testby.example"
from_address = "hothat@testby.example"
username = "hothat"
password_env = "TESTBY_CLI_SMTP_PASSWORD"
"""
CLI_SECRETS = {"TESTBY_CLI_ELKS_PASSWORD": "SECRET-cli-elks-4711", "TESTBY_CLI_SMTP_PASSWORD": "SECRET-cli-smtp-4711"}
WEBHOOK_SECRET = "SECRET-cli-webhook-token-4711"


@pytest.fixture
def with_channels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A valid file with SMS and e-mail channels, its secrets in the environment and in a file next to it."""
    pytest.importorskip("hothat_sms", reason="the SMS plugin checks its own table")
    pytest.importorskip("hothat_email", reason="the e-mail plugin checks its own table")
    for name, value in CLI_SECRETS.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "elks-webhook").write_text(WEBHOOK_SECRET + "\n")
    (tmp_path / "secrets" / "elks-webhook").chmod(0o600)
    path = tmp_path / "testby.toml"
    valid = FOUR_PROBLEMS
    for mistake, fixed in [
        ('voice = "070-174 0"', 'voice = "070-174 06 07"'),
        ("08-465 004 00", "070-174 06 08"),
        ('after = ["2"]\n', ""),
        ("municipal_securty_strategist", "municipal_security_strategist"),
    ]:
        valid = valid.replace(mistake, fixed)
    path.write_text(valid + CHANNELS, encoding="utf-8")
    return path


def test_validate_checks_the_channel_tables_with_their_plugins(
    with_channels: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["validate", str(with_channels)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{with_channels}: OK\n")
    assert err == ""
    text = with_channels.read_text(encoding="utf-8")
    with_channels.write_text(text.replace('sender = "Testby"', 'sender = "Testbykommun"'), encoding="utf-8")
    assert cli.main(["validate", str(with_channels)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{with_channels}: channels.sms.providers[0].sender: sender must be an E.164 number (+46...) or 2-11 "
        "letters and digits",
        f"1 problem found in {with_channels}.",
    ]


def test_a_missing_secret_fails_unless_allowed_and_then_it_is_a_warning(
    with_channels: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TESTBY_CLI_ELKS_PASSWORD")
    (with_channels.parent / "secrets" / "elks-webhook").unlink()
    missing = [
        f"{with_channels}: channels.sms.providers[0].password_env: {{}}the environment variable "
        "TESTBY_CLI_ELKS_PASSWORD is not set: set it in the service's environment, or give password_file (a file "
        "holding the secret)",
        f'{with_channels}: channels.sms.providers[0].webhook_token_file: {{}}the file "secrets/elks-webhook" does '
        f"not exist (looked in {with_channels.parent}): check the path, or give webhook_token_env",
    ]
    assert cli.main(["validate", str(with_channels)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [line.format("") for line in missing] + [f"2 problems found in {with_channels}."]

    assert cli.main(["validate", "--allow-missing-secrets", str(with_channels)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{with_channels}: OK\n")
    assert err.splitlines() == [line.format("warning: ") for line in missing]

    # Only missing secrets are lowered: any other mistake still fails the file.
    text = with_channels.read_text(encoding="utf-8")
    with_channels.write_text(text.replace('host = "smtp', 'timeout = "fem"\nhost = "smtp'), encoding="utf-8")
    assert cli.main(["validate", "--allow-missing-secrets", str(with_channels)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        *(line.format("warning: ") for line in missing),
        f'{with_channels}: channels.email.timeout: expected a number, got the text "fem"',
        f"1 problem found in {with_channels}.",
    ]


def test_validate_never_prints_a_secret(with_channels: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = with_channels.read_text(encoding="utf-8")
    broken = text.replace('password_env = "TESTBY_CLI_SMTP_PASSWORD"', 'password = 4711\npassword_env = "X"')
    broken = broken.replace('password_env = "TESTBY_CLI_ELKS_PASSWORD"', 'password_env = "SECRET cli given as a name"')
    shown = ""
    for content in (text, broken):
        with_channels.write_text(content, encoding="utf-8")
        for flags in ([], ["--allow-missing-secrets"]):
            cli.main(["validate", *flags, str(with_channels)])
            out, err = capsys.readouterr()
            shown += out + err
    assert "channels.email.password_env: give either password or password_env, not both" in shown
    for secret in (*CLI_SECRETS.values(), WEBHOOK_SECRET, "4711", "SECRET cli given as a name"):
        assert secret not in shown


def test_validate_never_prints_raw_control_characters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "kommun\u202e\nlmot.toml"  # a file name is printed in every line
    path.write_text(FOUR_PROBLEMS.replace('name = "Per Exempelsson"', 'name = "Per\\u202eExempelsson"'))
    assert cli.main(["validate", str(path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 6  # the four mistakes, the name, and the count: no line broken in two
    assert all("\u202e" not in line for line in lines)
    assert lines[0].startswith(f"{tmp_path}/kommun\\u202e\\nlmot.toml: people[0].name: contains U+202E")
