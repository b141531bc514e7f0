"""hothat-email: the ``email.smtp`` channel for hothat.

Install it next to hothat and add a table to the municipality file::

    [channels.email]
    plugin = "email.smtp"
    host = "smtp.kommun.example"
    from_address = "hothat@kommun.example"
    username = "hothat"
    password_env = "HOTHAT_SMTP_PASSWORD"

hothat finds the channel through the ``hothat`` entry point group; this module is the plugin.
"""

from __future__ import annotations

from collections.abc import Sequence

import hothat
from hothat.channels import Channel
from hothat_email._channel import SmtpChannel, SmtpClient, SmtpFactory
from hothat_email._message import build_message
from hothat_email._settings import SmtpSettings

__all__ = [
    "SmtpChannel",
    "SmtpClient",
    "SmtpFactory",
    "SmtpSettings",
    "build_message",
    "hothat_register_channels",
]


@hothat.hookimpl
def hothat_register_channels() -> Sequence[type[Channel]]:
    """Provide the ``email.smtp`` channel."""
    return [SmtpChannel]
