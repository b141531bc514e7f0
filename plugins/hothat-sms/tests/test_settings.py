"""Settings: secrets from the environment, never shown; the example file validates; the plugin is found."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pydantic
import pytest

from hothat.plugins import HothatPlugins, channel_settings_errors, get_plugin_manager
from hothat_sms import ElksSettings, SinchSettings, SmsChannel, SmsSettings, TwilioSettings

from .conftest import elks, settings, sinch, twilio

EXAMPLE = Path(__file__).parents[1] / "examples" / "sms.toml"
ENV = {
    "ELKS_PASSWORD": "elks-secret-pw",
    "ELKS_WEBHOOK_TOKEN": "elks-token-0123456789abcdef",
    "TWILIO_AUTH_TOKEN": "twilio-secret-token",
    "SINCH_API_TOKEN": "sinch-secret-token",
    "SINCH_WEBHOOK_SECRET": "sinch-hmac-secret",
    "SINCH_WEBHOOK_TOKEN": "sinch-token-0123456789abcdef",
}


def example_table() -> dict[str, Any]:
    table = dict(tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))["channels"]["sms"])
    assert table.pop("plugin") == SmsChannel.name
    return table


def test_the_example_file_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)

    assert channel_settings_errors(SmsChannel, example_table()) == []
    parsed = SmsSettings.model_validate(example_table())
    elks_, twilio_, sinch_ = parsed.providers
    assert isinstance(elks_, ElksSettings)
    assert isinstance(twilio_, TwilioSettings)
    assert isinstance(sinch_, SinchSettings)
    assert [p.name for p in parsed.providers] == ["46elks", "twilio", "sinch"]
    assert elks_.password.get_secret_value() == "elks-secret-pw"
    assert len(elks_.allowed_ips) == 4
    assert sinch_.api_url == "https://eu.sms.api.sinch.com"
    assert parsed.timeout.to_httpx().read == 15


def test_secrets_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    parsed = SmsSettings.model_validate(example_table())

    shown = repr(parsed) + str(parsed) + repr(SmsChannel(parsed).settings)
    for value in ENV.values():
        assert value not in shown
    assert "**********" in shown


def test_validation_errors_never_echo_secrets() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        settings(elks(password="hunter2-secret", sender="not a sender!"))
    assert "hunter2-secret" not in str(caught.value)
    assert "sender must be an E.164 number" in str(caught.value)


def test_a_missing_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_VARIABLE", raising=False)
    table = elks()
    del table["password"]
    with pytest.raises(pydantic.ValidationError, match="password_env: the environment variable NO_SUCH_VARIABLE"):
        settings({**table, "password_env": "NO_SUCH_VARIABLE"})


def test_a_secret_and_its_env_key_together_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELKS_PASSWORD", "x")
    with pytest.raises(pydantic.ValidationError, match="either password or password_env"):
        settings(elks(password_env="ELKS_PASSWORD"))


@pytest.mark.parametrize(
    ("table", "words"),
    [
        (twilio(messaging_service_sid="MG" + "0" * 32), "exactly one of sender and messaging_service_sid"),
        (twilio(sender=None), "exactly one of sender and messaging_service_sid"),
        (twilio(account_sid="AC123"), "String should match pattern"),
        (sinch(webhook_secret=None, webhook_token=None), "webhook_secret .* or webhook_token"),
        (sinch(sender="Kommunen"), "sender must be an E.164 number"),
        (elks(webhook_token="short"), "at least 16 characters"),
        (elks(base_url="http://api.46elks.com/a1"), "must use https"),
        (elks(id="Main Account"), "id must be"),
        (elks(provider="telia"), "does not match any of the expected tags"),
        (elks(unknown_key=1), "Extra inputs are not permitted"),
    ],
)
def test_bad_provider_tables_are_refused_with_a_clear_message(table: dict[str, Any], words: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=words):
        settings(table)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"providers": []}, "list at least one provider"),
        ({"public_base_url": "https://kommun.example/hooks?x=1"}, "must not have a query string"),
        ({"public_base_url": "ftp://kommun.example/hooks"}, "http"),
        ({"attempts_per_provider": 0}, "greater than or equal to 1"),
    ],
)
def test_bad_channel_settings_are_refused(overrides: dict[str, Any], words: str) -> None:
    table = {"providers": [elks()], **overrides}
    with pytest.raises(pydantic.ValidationError, match=words):
        SmsSettings.model_validate(table)


def test_the_same_provider_twice_needs_ids() -> None:
    with pytest.raises(pydantic.ValidationError, match="two providers are named '46elks': give each an id"):
        settings(elks(), elks(username="u2"))
    assert [p.name for p in settings(elks(), elks(id="reserve")).providers] == ["46elks", "reserve"]


def test_the_plugin_is_discovered_through_its_entry_point() -> None:
    channels = HothatPlugins(get_plugin_manager(only=["sms"])).channels()
    assert channels["sms"] is SmsChannel
