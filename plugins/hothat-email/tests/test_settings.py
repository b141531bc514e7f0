"""The ``[channels.NAME]`` table: defaults, secrets, clear text only on loopback, the shipped example."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pydantic
import pytest

import hothat.plugins
from hothat.channels import Disclosure
from hothat.engine import Engine
from hothat.errors import ConfigurationError
from hothat_email import SmtpChannel, SmtpSettings

EXAMPLE = Path(__file__).parents[1] / "examples" / "channels.toml"
OXELOSUND = Path(__file__).parents[3] / "examples" / "oxelosund" / "municipality.toml"
# Keys the core's config loader takes out of a [channels.NAME] table before the plugin sees the rest.
CORE_KEYS = {"plugin", "medium", "disclosure"}


def _settings(**table: Any) -> SmtpSettings:
    return SmtpSettings.model_validate(
        {"host": "smtp.oxelosund.example", "from_address": "a@oxelosund.example", **table}
    )


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("tls", 465)])
def test_the_port_follows_the_security_unless_given(security: str, port: int) -> None:
    assert _settings(security=security).effective_port == port
    assert _settings(security=security, port=2525).effective_port == 2525


def test_starttls_is_the_default() -> None:
    settings = _settings()
    assert settings.security == "starttls"
    assert settings.timeout == 30


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.53", "::1", "[::1]", "LOCALHOST."])
def test_clear_text_is_allowed_on_loopback(host: str) -> None:
    assert _settings(host=host, security="none").effective_port == 25


@pytest.mark.parametrize("host", ["smtp.oxelosund.example", "10.0.0.5", "localhost.evil.example", "::2"])
def test_clear_text_to_another_machine_is_refused_with_the_reason(host: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=r'security = "none" sends mail and passwords unencrypted'):
        _settings(host=host, security="none")


def test_the_password_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(username="hothat", password="hemligt-lösen")
    assert "hemligt-lösen" not in repr(settings)
    assert "hemligt-lösen" not in str(settings)
    assert "hemligt-lösen" not in settings.model_dump_json()


def test_the_password_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTHAT_SMTP_PASSWORD", "från-miljön")
    settings = _settings(username="hothat", password_env="HOTHAT_SMTP_PASSWORD")
    assert settings.password is not None
    assert settings.password.get_secret_value() == "från-miljön"
    assert "från-miljön" not in repr(settings)


def test_a_missing_password_variable_is_a_load_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTHAT_SMTP_PASSWORD", raising=False)
    with pytest.raises(pydantic.ValidationError, match="HOTHAT_SMTP_PASSWORD is not set"):
        _settings(username="hothat", password_env="HOTHAT_SMTP_PASSWORD")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"username": "hothat"}, "username and password"),
        ({"password": "x"}, "username and password"),
        ({"username": "u", "password": "x", "password_env": "HOME"}, "not both"),
        ({"username": "u", "password_env": "not a name"}, "password_env\n.*name of an environment variable"),
        ({"username": "hothat"}, "password\n.*go together"),
        ({"security": "ssl"}, "security"),
        ({"hots": "typo.example"}, "hots"),
        ({"timeout": 0}, "timeout"),
        ({"port": 70000}, "port"),
        ({"from_address": "hothat"}, "name@domain"),
        ({"ca_bundle": "/nonexistent/ca.pem"}, "ca_bundle"),
    ],
)
def test_mistakes_in_the_table_are_named(table: dict[str, Any], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        _settings(**table)


def test_an_idn_domain_is_written_in_ascii() -> None:
    assert _settings(from_address="hothat@håbo.example").from_address == "hothat@xn--hbo-ula.example"


def test_the_shipped_example_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTHAT_SMTP_PASSWORD", "example")
    channels = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))["channels"]
    assert set(channels) == {"email", "email-local"}
    for table in channels.values():
        assert table["plugin"] == SmtpChannel.name
        settings = SmtpSettings.model_validate({k: v for k, v in table.items() if k not in CORE_KEYS})
        assert (
            hothat.plugins.channel_settings_errors(SmtpChannel, {k: v for k, v in table.items() if k not in CORE_KEYS})
            == []
        )
        SmtpChannel(settings)


async def test_a_municipality_file_with_the_table_builds_the_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTHAT_SMTP_PASSWORD", "example")
    source = OXELOSUND.read_text(encoding="utf-8")
    logged = '[channels.email]\nplugin = "log"\nmedium = "email"\n'
    assert logged in source
    ours = EXAMPLE.read_text(encoding="utf-8").split("# For a local relay")[0]
    (tmp_path / "municipality.toml").write_text(source.replace(logged, ours), encoding="utf-8")
    engine = Engine.from_config(tmp_path / "municipality.toml", store=":memory:", token_secret=b"k" * 32)
    async with engine:
        [channel] = [b.channel for b in engine._bindings.values() if isinstance(b.channel, SmtpChannel)]
    assert channel.smtp_settings.host == "smtp.oxelosund.example"
    assert channel.smtp_settings.from_name == "Oxelösunds kommun – säkerhet"


def test_the_channel_is_found_through_its_entry_point() -> None:
    channels = hothat.plugins.HothatPlugins(hothat.plugins.get_plugin_manager()).channels()
    assert channels["email.smtp"] is SmtpChannel
    assert SmtpChannel.default_disclosure is Disclosure.STANDARD


def test_the_channel_needs_its_settings() -> None:
    with pytest.raises(ConfigurationError, match="host, from_address"):
        SmtpChannel()
