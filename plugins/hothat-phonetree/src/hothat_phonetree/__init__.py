"""hothat-phonetree: the voice channel for hothat, and phone trees: calls answered with a keypress.

Install it next to hothat and name it in the municipality file::

    [channels.voice]
    plugin = "voice"
    public_base_url = "https://intranet.kommun.se/hothat/hooks/voice"

    [[channels.voice.providers]]
    provider = "twilio"
    account_sid = "AC0123456789abcdef0123456789abcdef"
    auth_token_env = "TWILIO_AUTH_TOKEN"
    caller_id = "+46766861005"

The person called hears the message (in Swedish unless they speak English) and presses 1 to take the step,
2 if they can't (the engine moves on at once) or star to hear it again. Busy, no answer, voicemail and an
answer without a key acknowledge nothing. See ``docs/plugins/phonetree.md`` for every setting, the
callbacks, recording 46elks prompts, limits and phone trees.
"""

from __future__ import annotations

from collections.abc import Sequence

import hothat
from hothat.channels import Channel
from hothat_phonetree._channel import VoiceChannel
from hothat_phonetree._settings import (
    CONFIRMATION_PROMPTS,
    REQUIRED_PROMPTS,
    TEMPLATE_IDS,
    ElksVoiceSettings,
    SinchVoiceSettings,
    TwilioVoiceSettings,
    VoiceProviderSettings,
    VoiceSettings,
)
from hothat_phonetree._signing import sinch_application_signature
from hothat_phonetree._words import EN, SV, Words

__all__ = [
    "CONFIRMATION_PROMPTS",
    "EN",
    "REQUIRED_PROMPTS",
    "SV",
    "TEMPLATE_IDS",
    "ElksVoiceSettings",
    "SinchVoiceSettings",
    "TwilioVoiceSettings",
    "VoiceChannel",
    "VoiceProviderSettings",
    "VoiceSettings",
    "Words",
    "hothat_register_channels",
    "sinch_application_signature",
]


@hothat.hookimpl
def hothat_register_channels() -> Sequence[type[Channel]]:
    """The voice channel, ``plugin = "voice"`` in a ``[channels.NAME]`` table."""
    return [VoiceChannel]
