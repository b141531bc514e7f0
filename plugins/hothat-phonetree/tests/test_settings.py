"""Settings: the example file validates; recordings, secrets and limits are checked; the plugin is found."""

from __future__ import annotations

import base64
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest

from hothat.plugins import HothatPlugins, channel_settings_errors, get_plugin_manager
from hothat_phonetree import (
    REQUIRED_PROMPTS,
    TEMPLATE_IDS,
    ElksVoiceSettings,
    SinchVoiceSettings,
    TwilioVoiceSettings,
    VoiceChannel,
    VoiceSettings,
)

from .conftest import PROMPTS, elks, settings, sinch, twilio

EXAMPLE = Path(__file__).parents[1] / "examples" / "voice.toml"
ENV = {
    "ELKS_PASSWORD": "elks-secret-pw",
    "ELKS_WEBHOOK_TOKEN": "elks-token-0123456789abcdef",
    "TWILIO_AUTH_TOKEN": "twilio-secret-token",
    "SINCH_APPLICATION_SECRET": base64.b64encode(b"sinch-application-secret").decode(),
}


def example_table() -> dict[str, Any]:
    table = dict(tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))["channels"]["voice"])
    assert table.pop("plugin") == VoiceChannel.name
    return table


def test_the_example_file_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)

    assert channel_settings_errors(VoiceChannel, example_table()) == []
    parsed = VoiceSettings.model_validate(example_table())
    elks_, twilio_, sinch_ = parsed.providers
    assert isinstance(elks_, ElksVoiceSettings)
    assert isinstance(twilio_, TwilioVoiceSettings)
    assert isinstance(sinch_, SinchVoiceSettings)
    assert elks_.password.get_secret_value() == "elks-secret-pw"
    assert elks_.prompt_url("notify.standard", "en") == "https://media.oxelosund.se/hothat/v1/en/notify.mp3"
    assert elks_.prompt_url("taken.minimal", "en") == "https://media.oxelosund.se/hothat/v1/sv/taken.mp3"
    assert sinch_.api_url == "https://calling-euc1.api.sinch.com"
    assert (parsed.rate_window, parsed.min_gap) == (timedelta(minutes=15), timedelta(seconds=60))


def test_the_prompt_ids_are_the_engines_template_ids() -> None:
    assert len(TEMPLATE_IDS) == 21  # 7 message kinds x 3 disclosure levels
    assert "notify.minimal" in TEMPLATE_IDS
    assert REQUIRED_PROMPTS == (
        "notify.minimal",
        "escalation.minimal",
        "reminder.minimal",
        "taken.minimal",
        "informed.minimal",
        "unresolved.minimal",
        "closed.minimal",
        "confirm.acknowledged",
        "confirm.declined",
    )


def test_a_missing_recording_is_a_clear_error_listing_what_is_missing() -> None:
    prompts = {k: v for k, v in PROMPTS.items() if k not in ("closed.minimal", "confirm.declined")}

    with pytest.raises(pydantic.ValidationError) as caught:
        settings(elks(prompts=prompts))

    message = str(caught.value)
    assert "46elks has no text-to-speech" in message
    assert "missing: closed.minimal, confirm.declined" in message
    assert "docs/plugins/phonetree.md" in message


@pytest.mark.parametrize(
    ("prompts", "words"),
    [
        ({"notify.everything": "https://media.example/a.mp3"}, "'notify.everything' is not a prompt id"),
        ({"de:notify.minimal": "https://media.example/a.mp3"}, "'de:notify.minimal' is not a prompt id"),
        ({"notify.minimal": "http://media.example/a.mp3"}, "prompts.notify.minimal must use https"),
    ],
)
def test_bad_prompts_are_refused(prompts: dict[str, str], words: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=words):
        settings(elks(prompts={**PROMPTS, **prompts}))


def test_secrets_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    parsed = VoiceSettings.model_validate(example_table())

    shown = repr(parsed) + str(parsed)
    for value in ENV.values():
        assert value not in shown
    assert "**********" in shown


def test_a_missing_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_VARIABLE", raising=False)
    table = twilio()
    del table["auth_token"]
    with pytest.raises(pydantic.ValidationError, match="auth_token_env: the environment variable NO_SUCH_VARIABLE"):
        settings({**table, "auth_token_env": "NO_SUCH_VARIABLE"})


def test_validation_errors_never_echo_secrets() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        settings(sinch(application_secret="not base64 hunter2!"))
    assert "hunter2" not in str(caught.value)
    assert "application_secret must be the base64 secret" in str(caught.value)


@pytest.mark.parametrize(
    ("table", "words"),
    [
        (twilio(caller_id="0766861005"), "caller_id must be one of your voice numbers in E.164"),
        (twilio(voices={"de": "Polly.Marlene"}), "'de' is not a language"),
        (twilio(max_concurrent_calls=0), "greater than or equal to 1"),
        (sinch(region="mars"), "Input should be"),
        (sinch(application_key="not a key"), "String should match pattern"),
        (elks(webhook_token="short"), "at least 16 characters"),
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
        ({"public_base_url": "http://kommun.example/hooks"}, "must use https"),
        ({"rate_window": "15 minutes"}, "is not a duration"),
        ({"rate_window": "30s"}, "rate_window must be between 1m and 1d"),
        ({"min_gap": "2h"}, "min_gap must be between 0s and 1h"),
        ({"gather_timeout": 60}, "less than or equal to 30"),
        ({"plays": 0}, "greater than or equal to 1"),
    ],
)
def test_bad_channel_settings_are_refused(overrides: dict[str, Any], words: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=words):
        settings(twilio(), **overrides)


def test_public_base_url_is_required() -> None:
    with pytest.raises(pydantic.ValidationError, match="public_base_url"):
        VoiceSettings.model_validate({"providers": [twilio()]})


def test_the_same_provider_twice_needs_ids() -> None:
    with pytest.raises(pydantic.ValidationError, match="two providers are named 'twilio': give each an id"):
        settings(twilio(), twilio())
    assert [p.name for p in settings(twilio(), twilio(id="reserve")).providers] == ["twilio", "reserve"]


def test_the_plugin_is_discovered_through_its_entry_point() -> None:
    channels = HothatPlugins(get_plugin_manager(only=["phonetree"])).channels()
    assert channels["voice"] is VoiceChannel
    assert VoiceChannel.medium == "voice"
    assert VoiceChannel.default_disclosure == "minimal"
