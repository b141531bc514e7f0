"""hothat-sms: the SMS channel for hothat, through 46elks, Twilio or Sinch with failover between them.

Install it next to hothat and name it in the municipality file::

    [channels.sms]
    plugin = "sms"
    public_base_url = "https://intranet.kommun.se/hothat/hooks/sms"

    [[channels.sms.providers]]
    provider = "46elks"
    username = "u0123456789abcdef"
    password_env = "ELKS_PASSWORD"
    sender = "+46766861004"
    webhook_token_env = "ELKS_WEBHOOK_TOKEN"

See ``docs/plugins/sms.md`` for every setting, the webhooks and the failover rules.
"""

from __future__ import annotations

from collections.abc import Sequence

import hothat
from hothat.channels import Channel
from hothat_sms._channel import SmsChannel, redact
from hothat_sms._settings import (
    ELKS_CALLBACK_IPS,
    ElksSettings,
    ProviderSettings,
    SinchSettings,
    SmsSettings,
    Timeout,
    TwilioSettings,
)

__all__ = [
    "ELKS_CALLBACK_IPS",
    "ElksSettings",
    "ProviderSettings",
    "SinchSettings",
    "SmsChannel",
    "SmsSettings",
    "Timeout",
    "TwilioSettings",
    "hothat_register_channels",
    "redact",
]


@hothat.hookimpl
def hothat_register_channels() -> Sequence[type[Channel]]:
    """The SMS channel, ``plugin = "sms"`` in a ``[channels.NAME]`` table."""
    return [SmsChannel]
