"""Shared fixtures: settings per provider, a voice message, and channels whose HTTP traffic respx intercepts."""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from hothat.channels import Disclosure, MessageKind, OutboundMessage
from hothat.domain.people import Medium
from hothat_phonetree import REQUIRED_PROMPTS, VoiceChannel, VoiceSettings

BASE = "https://kommun.example/hothat/hooks/voice"
ELKS_TOKEN = "elks-webhook-token-0123456789"
TWILIO_SID = "AC" + "a1b2c3d4" * 4
TWILIO_TOKEN = "twilio-auth-token"
SINCH_KEY = "669E367E-6BBA-48AB-AF15-266871C28135"
SINCH_SECRET = "BeIukql3pTKJ8RGL5zo0DA=="  # the example secret of Sinch's signing documentation
RECIPIENT = "+46701740620"
KEY = "01JD8ZQ3K4M5N6P7Q8R9S0T1V2:3.1.1:0:1:0"
TEXT = (
    "Det här är Oxelösunds kommun. Ärende OX-2026-0042, allvarlighetsgrad allvarlig. Du behövs för steg 3.1.1 "
    "(Bedömning av situationen). Svara inom 15 minuter. Tryck 1 om du tar ärendet, 2 om du inte kan, stjärna "
    "för att höra meddelandet igen."
)
MEDIA = "https://media.oxelosund.example/hothat"
PROMPTS = {name: f"{MEDIA}/sv/{name}.mp3" for name in REQUIRED_PROMPTS}

# Building an SSL context loads the CA bundle (about 0.1 s): build it once for every test client.
TLS = ssl.create_default_context()


def elks(**overrides: Any) -> dict[str, Any]:
    """A 46elks table."""
    return {
        "provider": "46elks",
        "username": "u1234",
        "password": "elks-pw",
        "caller_id": "+46766861004",
        "webhook_token": ELKS_TOKEN,
        "prompts": dict(PROMPTS),
        **overrides,
    }


def twilio(**overrides: Any) -> dict[str, Any]:
    """A Twilio table."""
    return {
        "provider": "twilio",
        "account_sid": TWILIO_SID,
        "auth_token": TWILIO_TOKEN,
        "caller_id": "+46766861005",
        **overrides,
    }


def sinch(**overrides: Any) -> dict[str, Any]:
    """A Sinch table."""
    return {
        "provider": "sinch",
        "application_key": SINCH_KEY,
        "application_secret": SINCH_SECRET,
        "caller_id": "+46766861006",
        **overrides,
    }


TABLES: dict[str, Callable[..., dict[str, Any]]] = {"46elks": elks, "twilio": twilio, "sinch": sinch}


def settings(*providers: dict[str, Any], **overrides: Any) -> VoiceSettings:
    """Channel settings with these providers, in order."""
    return VoiceSettings.model_validate({"public_base_url": BASE, "providers": list(providers), **overrides})


def message(**overrides: Any) -> OutboundMessage:
    """The call the engine would make to the party security contact about step 3.1.1."""
    values: dict[str, Any] = {
        "key": KEY,
        "incident_id": "01JD8ZQ3K4M5N6P7Q8R9S0T1V2",
        "reference": "OX-2026-0042",
        "municipality": "Oxelösunds kommun",
        "step_id": "3.1.1",
        "kind": MessageKind.NOTIFY,
        "person_id": "per",
        "medium": Medium.VOICE,
        "address": RECIPIENT,
        "locale": "sv",
        "disclosure": Disclosure.MINIMAL,
        "subject": "Oxelösunds kommun: ärende OX-2026-0042 (allvarlig), du behövs för steg 3.1.1",
        "text": TEXT,
        "prompt": "notify.minimal",
    }
    return OutboundMessage(**{**values, **overrides})


def basic(user: str, password: str) -> str:
    """An HTTP Basic ``Authorization`` value, built independently of the code under test."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


MakeChannel = Callable[..., VoiceChannel]


@pytest.fixture
async def make_channel() -> AsyncIterator[MakeChannel]:
    """Build channels on one shared client (respx intercepts it) and close them afterwards."""
    client = httpx.AsyncClient(verify=TLS)
    made: list[VoiceChannel] = []

    def make(*providers: dict[str, Any], clock: Callable[[], float] | None = None, **overrides: Any) -> VoiceChannel:
        channel = VoiceChannel(settings(*providers, **overrides), client=client, clock=clock)
        made.append(channel)
        return channel

    yield make
    for channel in made:
        await channel.aclose()
    await client.aclose()
