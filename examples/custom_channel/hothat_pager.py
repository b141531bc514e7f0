"""An example channel plugin: hand each message to a local pager bridge as one JSON line.

A municipality whose on-call staff carry pagers runs a small bridge that reads a spool file (or a pipe). This
plugin writes one line per message. It shows everything a channel needs: a name and medium, a settings model,
``deliver`` returning a receipt or raising the right ``DeliveryError``, and the registration hook.

Install it as its own distribution named ``hothat-pager``::

    [project.entry-points.hothat]
    pager = "hothat_pager"

and configure it in the municipality file::

    [channels.pager]
    plugin = "pager.spool"
    medium = "sms"
    spool = "/var/spool/pager/outgoing.jsonl"
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import hothat
from hothat import Channel, ChannelSettings, Medium, OutboundMessage, PermanentDeliveryError, Receipt
from hothat import RetryableDeliveryError as Retry


class PagerSettings(ChannelSettings):
    """The ``[channels.NAME]`` table: where the bridge reads from."""

    spool: Path


class PagerChannel(Channel):
    """Writes ``{"to": ..., "text": ..., "key": ...}`` lines for a pager bridge."""

    name: ClassVar[str] = "pager.spool"
    medium: ClassVar[Medium] = Medium.SMS
    Settings: ClassVar[type[ChannelSettings]] = PagerSettings

    async def deliver(self, message: OutboundMessage) -> Receipt:
        settings = self.settings
        assert isinstance(settings, PagerSettings)
        if not message.address.startswith("+46"):
            # This bridge only pages Swedish numbers: the engine moves on to the next contact point at once.
            raise PermanentDeliveryError("the pager bridge only takes Swedish numbers", channel=self.name)
        line = json.dumps({"to": message.address, "text": message.text, "key": message.key}, ensure_ascii=False)
        try:
            with settings.spool.open("a", encoding="utf-8") as spool:
                spool.write(line + "\n")
        except OSError as exc:
            # A full disk or a missing folder may pass: the engine retries with backoff, then moves on.
            raise Retry(f"cannot write the spool file: {exc.strerror}", channel=self.name) from None
        return Receipt(channel=self.name, address=message.address, provider_id=message.key)


@hothat.hookimpl
def hothat_register_channels() -> list[type[Channel]]:
    """Register the channel class with hothat."""
    return [PagerChannel]
