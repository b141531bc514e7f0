"""Shared fixtures: settings per provider, a message, and a channel whose HTTP traffic respx intercepts."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from hothat.channels import Disclosure, MessageKind, OutboundMessage
from hothat.domain.people import Medium
from hothat_sms import SmsChannel, SmsSettings

BASE = "https://kommun.example/hothat/hooks/sms"
ELKS_TOKEN = "elks-webhook-token-0123456789"
SINCH_TOKEN = "sinch-webhook-token-0123456789"
SINCH_SECRET = "sinch-hmac-secret"
TWILIO_SID = "AC" + "a1b2c3d4" * 4
TWILIO_TOKEN = "twilio-auth-token"
RECIPIENT = "+46701740605"
TEXT = "Oxelösunds kommun: OX-2026-0042, allvarligt hot. Svara 12 = jag tar det, 12n = kan inte."
KEY = "inc01HZX/3.1.1/per/notify/0/0"

# Building an SSL context loads the CA bundle (about 0.1 s): build it once for every test client.
TLS = ssl.create_default_context()


def elks(**overrides: Any) -> dict[str, Any]:
    """A 46elks table."""
    return {
        "provider": "46elks",
        "username": "u1234",
        "password": "elks-pw",
        "sender": "+46766861004",
        "webhook_token": ELKS_TOKEN,
        **overrides,
    }


def twilio(**overrides: Any) -> dict[str, Any]:
    """A Twilio table."""
    return {
        "provider": "twilio",
        "account_sid": TWILIO_SID,
        "auth_token": TWILIO_TOKEN,
        "sender": "+46766861005",
        **overrides,
    }


def sinch(**overrides: Any) -> dict[str, Any]:
    """A Sinch table."""
    return {
        "provider": "sinch",
        "service_plan_id": "plan1234abcd",
        "api_token": "sinch-api-token",
        "sender": "+46766861006",
        "webhook_secret": SINCH_SECRET,
        "webhook_token": SINCH_TOKEN,
        **overrides,
    }


def settings(*providers: dict[str, Any], **overrides: Any) -> SmsSettings:
    """Channel settings with these providers, in order."""
    return SmsSettings.model_validate({"public_base_url": BASE, "providers": list(providers), **overrides})


def message(**overrides: Any) -> OutboundMessage:
    """An SMS the engine would send to the party security contact."""
    values: dict[str, Any] = {
        "key": KEY,
        "incident_id": "inc01HZX",
        "reference": "OX-2026-0042",
        "municipality": "Oxelösunds kommun",
        "step_id": "3.1.1",
        "kind": MessageKind.NOTIFY,
        "person_id": "per",
        "medium": Medium.SMS,
        "address": RECIPIENT,
        "locale": "sv",
        "disclosure": Disclosure.MINIMAL,
        "subject": "OX-2026-0042",
        "text": TEXT,
        "reply_code": "12",
    }
    return OutboundMessage(**{**values, **overrides})


MakeChannel = Callable[..., SmsChannel]


@pytest.fixture
async def make_channel() -> AsyncIterator[MakeChannel]:
    """Build channels on one shared client (respx intercepts it) and close them afterwards."""
    client = httpx.AsyncClient(verify=TLS)
    made: list[SmsChannel] = []

    def make(*providers: dict[str, Any], **overrides: Any) -> SmsChannel:
        channel = SmsChannel(settings(*providers, **overrides), client=client)
        made.append(channel)
        return channel

    yield make
    for channel in made:
        await channel.aclose()
    await client.aclose()
