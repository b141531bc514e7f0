"""The engine set-up B2 and B3 share: a small municipality, SQLite in a temporary folder, SMS over real HTTP.

Every person has one SMS contact point; each role has one holder, so one escalation level is one SMS:

- ``3.1.1``: the party's security contact (Per), escalating to the party's group leader (Eva), then to the
  municipal security strategist (Karin); 15 minutes to acknowledge at each level.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hothat.channels import OutboundMessage, Receipt
from hothat.domain import (
    ChannelConfig,
    ContactPoint,
    Deadlines,
    Directory,
    Medium,
    Municipality,
    Party,
    Person,
    Role,
    RoleScope,
    Routine,
    Step,
    Text,
)
from hothat.engine import Engine, VirtualClock
from hothat.engine.clock import Clock
from hothat.plugins import HothatPlugins, get_plugin_manager
from hothat.store.sqlite import SqliteStore
from hothat_sms import SmsChannel, SmsSettings

START = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
ACK_WITHIN = timedelta(minutes=15)
PEOPLE = {"per": "+46701740610", "eva": "+46701740611", "karin": "+46701740620", "sara": "+46701740640"}


def municipality() -> Municipality:
    """The benchmark's municipality (see the module docs)."""
    people = {
        pid: Person(pid, pid.title(), (ContactPoint(Medium.SMS, number, timedelta(0)),), language="sv")
        for pid, number in PEOPLE.items()
    }
    roles = [
        Role("party_security_contact", RoleScope.PARTY, "Partiets säkerhetsansvarig", "Party security contact"),
        Role("party_group_leader", RoleScope.PARTY, "Gruppledare", "Group leader"),
        Role("municipal_security_strategist", RoleScope.MUNICIPALITY, "Säkerhetsstrateg", "Security strategist"),
        Role("municipal_security_chief", RoleScope.MUNICIPALITY, "Säkerhetschef", "Security chief"),
    ]
    directory = Directory(
        people=people,
        roles={r.id: r for r in roles},
        parties={
            "s": Party("s", "Socialdemokraterna", {"party_security_contact": ("per",), "party_group_leader": ("eva",)})
        },
        holders={"municipal_security_strategist": ("karin",), "municipal_security_chief": ("sara",)},
    )
    step = Step(
        "3.1.1",
        Text("Kontakta den utsatte", "Contact the targeted person"),
        ("party_security_contact",),
        deadlines=Deadlines(ACK_WITHIN),
        escalation=("party_group_leader", "municipal_security_strategist"),
    )
    routine = Routine("r", Text("Rutin", "Routine"), (step,), unresolved_to="municipal_security_chief")
    return Municipality(
        id="bench",
        name="Benchkommun",
        reference_prefix="BK",
        directory=directory,
        routines={"r": routine},
        default_routine="r",
        channels=(ChannelConfig("sms", "sms", Medium.SMS),),
    )


class PhoneSms(SmsChannel):
    """The real SMS channel, noting the reply code each recipient read (what their phone shows)."""

    def __init__(self, settings: SmsSettings) -> None:
        super().__init__(settings)
        self.codes: dict[str, tuple[str, str]] = {}
        """Per incident: the address and reply code of the latest request that asked for an answer."""

    async def deliver(self, message: OutboundMessage) -> Receipt:
        """Send over HTTP, then note the code."""
        receipt = await super().deliver(message)
        if message.reply_code:
            self.codes[message.incident_id] = (message.address, message.reply_code)
        return receipt


async def engine(folder: Path, provider_table: dict[str, Any], clock: Clock | None = None) -> tuple[Engine, PhoneSms]:
    """An engine on SQLite (``folder/bench.db``, synchronous FULL) with the SMS channel to the gateway."""
    logging.getLogger("hothat").setLevel(logging.ERROR)
    logging.getLogger("hothat_sms").setLevel(logging.ERROR)
    store = await SqliteStore.open(folder / "bench.db")
    channel = PhoneSms(SmsSettings(providers=[provider_table]))
    built = Engine(
        municipality(),
        store=store,
        clock=clock if clock is not None else VirtualClock(START),
        plugins=HothatPlugins(get_plugin_manager(load_entrypoints=False)),
        channels={"sms": channel},
        token_secret=b"b" * 48,
    )
    return built, channel
