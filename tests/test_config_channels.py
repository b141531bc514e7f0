# ruff: noqa: E501  (the expected messages are data, kept whole so a reader sees exactly what a user sees)
"""Channel tables are checked with their plugin's own settings model; secrets come from ``x``, ``x_env`` or ``x_file``.

Each case adds channel tables to a small valid file and lists every problem expected, exactly as ``load_config``
reports it. The real SMS and e-mail plugins check their tables, as they do for a municipality.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pydantic
import pytest

from hothat.channels import SecretReading, SecretSettings, secret_context
from hothat.config import channel_settings, check_config_text, load_config, load_config_text
from hothat.config._channels import channel_classes
from hothat.errors import ConfigurationError
from hothat.messages.tokens import secret_for
from hothat.plugins import get_plugin_manager

pytest.importorskip("hothat_sms", reason="the SMS plugin checks its own tables here")
pytest.importorskip("hothat_email", reason="the e-mail plugin checks its own tables here")

BASE = """\
[municipality]
id = "testby"
name = "Testby kommun"
reference_prefix = "TB"

[[people]]
id = "per"
name = "Per"
contact = [{ sms = "070-174 06 05" }, { email = "per@testby.example" }]

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

SMS = """
[channels.sms]
plugin = "sms"

[[channels.sms.providers]]
provider = "46elks"
username = "u0123456789abcdef"
password_env = "TESTBY_ELKS_PASSWORD"
sender = "Testby"
webhook_token_env = "TESTBY_ELKS_WEBHOOK"
"""

EMAIL = """
[channels.email]
plugin = "email.smtp"
host = "smtp.testby.example"
from_address = "hothat@testby.example"
username = "hothat"
password_env = "TESTBY_SMTP_PASSWORD"
"""

SECRETS = {
    "TESTBY_ELKS_PASSWORD": "SECRET-elks-password-4711",
    "TESTBY_ELKS_WEBHOOK": "SECRET-elks-webhook-token-4711",
    "TESTBY_SMTP_PASSWORD": "SECRET-smtp-password-4711",
}


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HOTHAT_TOKEN_SECRET", raising=False)


def problems(text: str, **options: object) -> list[tuple[str, str]]:
    with pytest.raises(ConfigurationError) as caught:
        load_config_text(text, "testby.toml", **options)  # type: ignore[arg-type]
    assert all(p.source == "testby.toml" for p in caught.value.problems)
    return [(p.path, p.message) for p in caught.value.problems]


def test_valid_channel_tables_load() -> None:
    municipality = load_config_text(BASE + SMS + EMAIL, "testby.toml")
    assert [c.plugin for c in municipality.channels] == ["sms", "email.smtp"]


def test_a_file_without_channels_needs_no_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_plugins(**options: object) -> None:
        raise AssertionError("no plugin manager is built for a file without channels")

    monkeypatch.setattr("hothat.plugins.get_plugin_manager", no_plugins)
    assert load_config_text(BASE, "testby.toml").channels == ()


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        pytest.param(
            [('sender = "Testby"', 'sendr = "Testby"')],
            [
                (
                    "channels.sms.providers[0]",
                    'unknown key "sendr"; did you mean "sender"? The keys allowed here are: provider, id, base_url, username, password (or password_env, password_file), sender, webhook_token (or webhook_token_env, webhook_token_file), allowed_ips, client_ip_header, dryrun.',
                )
            ],
            id="unknown_key",
        ),
        pytest.param(
            [('sender = "Testby"', 'sender = "Testbykommun"')],  # 12 characters: 11 is the most an SMS sender has
            [
                (
                    "channels.sms.providers[0].sender",
                    "sender must be an E.164 number (+46...) or 2-11 letters and digits",
                )
            ],
            id="sender_12_characters",
        ),
        pytest.param(
            [('host = "smtp.testby.example"', 'host = "smtp.testby.example"\ntimeout = "fem"')],
            [("channels.email.timeout", 'expected a number, got the text "fem"')],
            id="timeout_fem",
        ),
        pytest.param(
            [('plugin = "sms"', 'plugin = "sms.46elks"')],
            [
                (
                    "channels.sms.plugin",
                    'no installed plugin provides "sms.46elks"; did you mean "sms"? The installed channels are: email.smtp, log, memory, sms, voice.',
                )
            ],
            id="plugin_misnamed",
        ),
        pytest.param(
            [('password_env = "TESTBY_ELKS_PASSWORD"', 'password_env = "TESTBY_UNSET"')],
            [
                (
                    "channels.sms.providers[0].password_env",
                    "the environment variable TESTBY_UNSET is not set: set it in the service's environment, or give password_file (a file holding the secret)",
                )
            ],
            id="env_unset",
        ),
        pytest.param(
            [('password_env = "TESTBY_SMTP_PASSWORD"', 'password_file = "/nonexistent/hothat/smtp-password"')],
            [
                (
                    "channels.email.password_file",
                    'the file "/nonexistent/hothat/smtp-password" does not exist: check the path, or give password_env',
                )
            ],
            id="file_missing",
        ),
        pytest.param(
            [('password_env = "TESTBY_SMTP_PASSWORD"', 'password = "x"\npassword_env = "TESTBY_SMTP_PASSWORD"')],
            [("channels.email.password_env", "give either password or password_env, not both")],
            id="secret_and_env",
        ),
        pytest.param(
            [
                (
                    'password_env = "TESTBY_SMTP_PASSWORD"',
                    'password = "x"\npassword_env = "TESTBY_SMTP_PASSWORD"\npassword_file = "smtp"',
                )
            ],
            [("channels.email.password_file", "give only one of password, password_env, password_file")],
            id="all_three",
        ),
        pytest.param(
            [('password_env = "TESTBY_SMTP_PASSWORD"', 'password_env = "hunter2 is my password"')],
            [
                (
                    "channels.email.password_env",
                    "must be the name of an environment variable (letters, digits and _, e.g. HOTHAT_SMTP_PASSWORD), not the secret itself",
                )
            ],
            id="secret_in_env_key",
        ),
        pytest.param(
            [('username = "hothat"\npassword_env = "TESTBY_SMTP_PASSWORD"\n', "")],
            [],
            id="no_login_is_fine",
        ),
        pytest.param(
            [('password_env = "TESTBY_ELKS_PASSWORD"\n', "")],
            [
                (
                    "channels.sms.providers[0]",
                    'required key "password" is missing (or give password_env, an environment variable, or password_file, a file holding it)',
                )
            ],
            id="secret_missing_altogether",
        ),
        pytest.param(
            [('provider = "46elks"', 'provider = "telia"')],
            [("channels.sms.providers[0].provider", '"telia" is not allowed here: use one of 46elks, twilio, sinch')],
            id="unknown_provider",
        ),
        pytest.param(
            [('plugin = "email.smtp"', 'plugin = "email.smtp"\ndisclosure = "full"\nport = 70000')],
            [
                (
                    "channels.email.disclosure",
                    'full disclosure (with the incident description) is only for internal channels: add internal = true if this channel never leaves the municipality\'s own systems, or use "standard"',
                ),
                ("channels.email.port", "must be at most 65535, got 70000"),
            ],
            id="core_and_plugin_problems_together",
        ),
    ],
)
def test_bad_channel_tables_give_exact_problems(edits: list[tuple[str, str]], expected: list[tuple[str, str]]) -> None:
    text = BASE + SMS + EMAIL
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    if not expected:
        load_config_text(text, "testby.toml")
        return
    assert problems(text) == expected


def test_a_plugin_that_is_not_installed_says_what_to_install() -> None:
    bare = get_plugin_manager(load_entrypoints=False)  # only the core's log and memory channels
    assert problems(BASE + SMS, plugins=bare) == [
        (
            "channels.sms.plugin",
            'no installed plugin provides "sms": sms channels come with hothat-sms; install it with: pip install hothat-sms. The installed channels are: log, memory.',
        )
    ]
    voice = '\n[channels.voice]\nplugin = "voice.46elks"\n'
    assert problems(BASE + voice, plugins=bare) == [
        (
            "channels.voice.plugin",
            'no installed plugin provides "voice.46elks": voice channels come with hothat-phonetree, whose channel is "voice"; install it with: pip install hothat-phonetree. The installed channels are: log, memory.',
        )
    ]
    # An unknown name gets no guessed package name to install (a made-up name is how typosquatting works).
    pager = '\n[channels.pager]\nplugin = "pager"\nmedium = "sms"\n'
    assert problems(BASE + pager, plugins=bare) == [
        (
            "channels.pager.plugin",
            'no installed plugin provides "pager". The installed channels are: log, memory. Install the package that provides it (pip install PACKAGE), or check the name.',
        )
    ]


def test_missing_secrets_may_be_warnings_and_everything_else_still_counts() -> None:
    text = (BASE + SMS + EMAIL).replace("TESTBY_ELKS_PASSWORD", "TESTBY_UNSET")
    text = text.replace('password_env = "TESTBY_SMTP_PASSWORD"', 'password_file = "/nonexistent/smtp"')
    checked = check_config_text(text, "testby.toml", missing_secrets="warn")
    assert checked.ok
    assert checked.municipality is not None
    assert [(w.path, w.message) for w in checked.warnings] == [
        (
            "channels.sms.providers[0].password_env",
            "the environment variable TESTBY_UNSET is not set: set it in the service's environment, or give password_file (a file holding the secret)",
        ),
        (
            "channels.email.password_file",
            'the file "/nonexistent/smtp" does not exist: check the path, or give password_env',
        ),
    ]
    # Lowered, the rest of the table is still checked in full: a stand-in takes the missing secret's place.
    broken = text.replace('sender = "Testby"', 'sender = "Testbykommun"')
    checked = check_config_text(broken, "testby.toml", missing_secrets="warn")
    assert [(p.path, p.message) for p in checked.problems] == [
        ("channels.sms.providers[0].sender", "sender must be an E.164 number (+46...) or 2-11 letters and digits")
    ]
    assert len(checked.warnings) == 2
    with pytest.raises(ValueError, match='missing_secrets must be "error" or "warn"'):
        check_config_text(text, missing_secrets="ignore")  # type: ignore[arg-type]


def test_a_secret_file_is_read_once_relative_to_the_municipality_file(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    secret = tmp_path / "secrets" / "smtp"
    secret.write_text("från-filen\n", encoding="utf-8")
    secret.chmod(0o600)
    path = tmp_path / "kommun.toml"
    path.write_text(BASE + EMAIL.replace('password_env = "TESTBY_SMTP_PASSWORD"', 'password_file = "secrets/smtp"'))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cwd = Path.cwd()
    os.chdir(elsewhere)  # relative to the file, not to where the command runs
    try:
        municipality = load_config(path)
        settings = channel_settings(municipality, channel_classes())
    finally:
        os.chdir(cwd)
    password = settings["email"].password  # type: ignore[attr-defined]
    assert password.get_secret_value() == "från-filen"  # the trailing line break is not part of the secret
    assert "från-filen" not in repr(settings)


@pytest.mark.parametrize(
    ("content", "mode", "expected"),
    [
        (b"", 0o600, 'the file "smtp" is empty: write the secret in it'),
        (b"\n", 0o600, 'the file "smtp" is empty: write the secret in it'),
        (b"\xff\xfe", 0o600, 'the file "smtp" is not UTF-8 text'),
        (b"x" * 70_000, 0o600, 'the file "smtp" is larger than 64 KiB: give the file that holds only the secret'),
    ],
)
def test_an_unusable_secret_file_is_a_problem(tmp_path: Path, content: bytes, mode: int, expected: str) -> None:
    (tmp_path / "smtp").write_bytes(content)
    (tmp_path / "smtp").chmod(mode)
    text = BASE + EMAIL.replace('password_env = "TESTBY_SMTP_PASSWORD"', 'password_file = "smtp"')
    checked = check_config_text(text, "testby.toml", base_dir=tmp_path, missing_secrets="warn")
    assert [(p.path, p.message) for p in checked.problems] == [("channels.email.password_file", expected)]


def test_a_folder_is_not_a_secret_file(tmp_path: Path) -> None:
    (tmp_path / "smtp").mkdir()
    text = BASE + EMAIL.replace('password_env = "TESTBY_SMTP_PASSWORD"', 'password_file = "smtp"')
    assert problems(text, base_dir=tmp_path) == [
        ("channels.email.password_file", '"smtp" is not a file: give the file that holds the secret')
    ]


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_secret_file_everyone_can_read_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "smtp").write_text("hemligt\n")
    (tmp_path / "smtp").chmod(0o644)
    text = BASE + EMAIL.replace('password_env = "TESTBY_SMTP_PASSWORD"', 'password_file = "smtp"')
    checked = check_config_text(text, "testby.toml", base_dir=tmp_path)
    assert checked.ok
    assert [(w.path, w.message) for w in checked.warnings] == [
        (
            "channels.email.password_file",
            'the file "smtp" can be read by every user of this machine: restrict it, e.g. chmod 600 (or 640 with the service\'s group)',
        )
    ]
    caplog.set_level(logging.WARNING, logger="hothat.config")
    load_config_text(text, "testby.toml", base_dir=tmp_path)  # load_config logs its warnings
    assert [r.getMessage() for r in caplog.records] == [
        f"testby.toml: {checked.warnings[0].path}: {checked.warnings[0].message}"
    ]
    (tmp_path / "smtp").chmod(0o640)  # readable by the service's group only: fine
    assert check_config_text(text, "testby.toml", base_dir=tmp_path).warnings == ()


def test_no_secret_value_appears_in_any_problem_or_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    (tmp_path / "token").write_text("SECRET-elks-webhook-file-4711")
    (tmp_path / "token").chmod(0o644)  # a warning, which must not show the content either
    text = (BASE + SMS + EMAIL).replace('sender = "Testby"', 'sender = "Testbykommun"')
    text = text.replace('webhook_token_env = "TESTBY_ELKS_WEBHOOK"', 'webhook_token_file = "token"')
    text = text.replace('password_env = "TESTBY_SMTP_PASSWORD"', 'password = 4711123456\nport = "SECRET-not-a-port"')
    text += '\n[channels.mail2]\nplugin = "email.smtp"\nhost = "h.example"\nfrom_address = "a@b.example"\nusername = "u"\npassword_env = "SECRET-given-as-variable-4711"\n'
    checked = check_config_text(text, "testby.toml", base_dir=tmp_path)
    shown = "\n".join(str(p) for p in checked.problems + checked.warnings) + repr(checked)
    with pytest.raises(ConfigurationError) as caught:
        load_config_text(text, "testby.toml", base_dir=tmp_path)
    shown += str(caught.value) + repr(caught.value.problems) + "\n".join(r.getMessage() for r in caplog.records)
    for needle in [*SECRETS.values(), "SECRET-elks-webhook-file-4711", "4711123456", "SECRET-given-as-variable-4711"]:
        assert needle not in shown
    assert "channels.email.password: expected text in quotes" in shown  # the wrong type is reported, not echoed
    assert 'channels.email.port: expected a whole number, got the text "SECRET-not-a-port"' in shown  # not a secret


def test_the_engine_builds_settings_with_one_call() -> None:
    municipality = load_config_text(BASE + SMS + EMAIL, "testby.toml")
    settings = channel_settings(municipality, channel_classes())
    assert set(settings) == {"sms", "email"}
    assert settings["sms"].providers[0].password.get_secret_value() == SECRETS["TESTBY_ELKS_PASSWORD"]  # type: ignore[attr-defined]
    assert set(channel_settings(municipality, channel_classes(), only={"email"})) == {"email"}


def test_the_engine_call_reports_problems_in_the_same_form(monkeypatch: pytest.MonkeyPatch) -> None:
    municipality = load_config_text(BASE + SMS + EMAIL, "testby.toml")
    monkeypatch.delenv("TESTBY_SMTP_PASSWORD")  # gone between loading the file and starting the engine
    with pytest.raises(ConfigurationError) as caught:
        channel_settings(municipality, channel_classes())
    assert [str(p) for p in caught.value.problems] == [
        "testby.toml: channels.email.password_env: the environment variable TESTBY_SMTP_PASSWORD is not set: set it in the service's environment, or give password_file (a file holding the secret)"
    ]
    bare = channel_classes(get_plugin_manager(load_entrypoints=False))
    with pytest.raises(ConfigurationError, match=r"channels\.sms\.plugin: no installed plugin provides \"sms\""):
        channel_settings(municipality, bare)


def test_the_link_token_secret_can_come_from_a_file(tmp_path: Path) -> None:
    key = "A" * 64  # base64 of 48 bytes
    (tmp_path / "token").write_text(key + "\n")
    (tmp_path / "token").chmod(0o600)
    path = tmp_path / "kommun.toml"
    path.write_text(BASE.replace('reference_prefix = "TB"', 'reference_prefix = "TB"\ntoken_secret_file = "token"'))
    municipality = load_config(path)
    assert municipality.token_secret_file == str(tmp_path / "token")
    assert secret_for(municipality) == bytes(48)
    # Without a variable or a file the engine signs links with a temporary secret (and says so): no problem here.
    assert secret_for(load_config_text(BASE)) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'token_secret_file = "nonexistent-token"',
            [
                (
                    "municipality.token_secret_file",
                    'the file "nonexistent-token" does not exist (looked in {dir}): check the path, or give token_secret_env',
                )
            ],
        ),
        (
            'token_secret_file = "short"',
            [
                (
                    "municipality.token_secret_file",
                    'the file "short" holds 3 bytes, at least 32 are needed; set it to a random value made with: python -c "import secrets; print(secrets.token_urlsafe(48))"',
                )
            ],
        ),
        (
            'token_secret_env = "TESTBY_TOKEN"\ntoken_secret_file = "short"',
            [("municipality.token_secret_file", "give either token_secret_env or token_secret_file, not both")],
        ),
    ],
)
def test_link_token_secret_problems(tmp_path: Path, header: str, expected: list[tuple[str, str]]) -> None:
    (tmp_path / "short").write_text("YWJj")  # base64 of "abc"
    text = BASE.replace('reference_prefix = "TB"', f'reference_prefix = "TB"\n{header}')
    found = problems(text, base_dir=tmp_path)
    assert found == [(path, message.format(dir=tmp_path)) for path, message in expected]


def test_a_link_token_variable_that_is_set_must_hold_a_good_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTHAT_TOKEN_SECRET", "not base64 at all!")
    assert problems(BASE) == [
        (
            "municipality.token_secret_env",
            'the environment variable HOTHAT_TOKEN_SECRET is not base64; set it to a random value made with: python -c "import secrets; print(secrets.token_urlsafe(48))"',
        )
    ]


def test_a_nested_table_gets_the_three_spellings_by_subclassing() -> None:
    class Account(SecretSettings):
        token: pydantic.SecretStr

    class Outer(SecretSettings):
        accounts: list[Account]

    reading = SecretReading(environ={"ACCOUNT_TOKEN": "from-env"})
    outer = Outer.model_validate({"accounts": [{"token_env": "ACCOUNT_TOKEN"}]}, context=secret_context(reading))
    assert outer.accounts[0].token.get_secret_value() == "from-env"
    with pytest.raises(pydantic.ValidationError) as caught:
        Outer.model_validate({"accounts": [{"token_env": "UNSET_ACCOUNT_TOKEN"}]}, context=secret_context(reading))
    [error] = caught.value.errors()
    assert (error["type"], error["loc"]) == ("secret_missing", ("accounts", 0, "token_env"))


def test_the_channel_tables_in_the_configuration_page_name_real_plugins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docs_kit import DOCS, blocks

    [block] = [b for b in blocks(DOCS / "configuration.md") if b.lang == "toml" and "[channels." in b.text]
    monkeypatch.delenv("ELKS_PASSWORD", raising=False)
    checked = check_config_text(BASE + block.text, "kommun.toml", base_dir=tmp_path, missing_secrets="warn")
    assert checked.problems == ()
    # On this machine the secrets are not there, and that is all that is missing.
    assert [w.path for w in checked.warnings] == [
        "channels.sms.providers[0].password_env",
        "channels.sms.providers[0].webhook_token_file",
        "channels.email.password_file",
    ]
