"""End to end: an Oxelösund incident escalates by e-mail, over STARTTLS with a login, in one thread per person.

The engine runs the shipped Oxelösund routine on a virtual clock. SMS and voice go to memory channels (nobody
answers them); the e-mail channel talks SMTP to a real aiosmtpd server on 127.0.0.1. The party's security
contact takes the step by following the "Jag tar det" link in his mail, and the group leader, who had been
escalated to, is told in the same thread.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from hothat.channels import MemoryChannel
from hothat.config import load_config
from hothat.engine import Engine, VirtualClock
from hothat.engine import events as ev
from hothat.engine.core import StepStatus
from hothat.store import MemoryStore
from hothat_email import SmtpChannel, SmtpSettings

from .conftest import PASSWORD, USERNAME, Server, ServerFactory, Tls

OXELOSUND = Path(__file__).parents[3] / "examples" / "oxelosund" / "municipality.toml"
PER = "per@s.oxelosund.example"  # (S) party security contact: owns 3.1.1 and 3.2.1
ANNA = "anna.sjoberg@s.oxelosund.example"  # (S) group leader: the first escalation level
FRIDAY_NIGHT = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)


@pytest.fixture
async def rig(smtp_server: ServerFactory, tls: Tls) -> AsyncIterator[tuple[Engine, Server]]:
    server = smtp_server()
    settings = SmtpSettings.model_validate(
        {
            "host": server.host,
            "port": server.port,
            "username": USERNAME,
            "password": PASSWORD,
            "from_address": "hothat@oxelosund.example",
            "ca_bundle": str(tls.ca_bundle),
            "timeout": 5,
        }
    )
    engine = Engine(
        load_config(OXELOSUND),
        store=MemoryStore(),
        clock=VirtualClock(FRIDAY_NIGHT),
        channels={"email": SmtpChannel(settings), "sms": MemoryChannel(), "voice": MemoryChannel()},
        token_secret=b"e2e-link-secret-" * 2,
    )
    async with engine:
        yield engine, server


def mails_to(server: Server, address: str) -> list[EmailMessage]:
    return [r.message for r in server.received if r.rcpt_tos == [address]]


def plain(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def thread(mails: list[EmailMessage]) -> list[EmailMessage]:
    """The mails with the thread's root first (steps run in parallel, so arrival order is not fixed)."""
    return sorted(mails, key=lambda m: m["In-Reply-To"] is not None)


def link(mail: EmailMessage, label: str) -> str:
    match = re.search(rf"^{label}: (https://\S+)$", plain(mail), re.MULTILINE)
    assert match is not None, f"the mail offers {label!r}"
    return match[1]


async def test_an_escalation_arrives_as_one_thread_per_person(rig: tuple[Engine, Server]) -> None:
    engine, server = rig
    incident = await engine.report(kind="threat", severity="serious", targeted="lena", party="s")
    await engine.idle()
    assert server.received == []  # e-mail is each person's third contact point, after SMS and voice

    # 21:15: Per's e-mail turn comes, for both of his steps; Anna is escalated to by SMS.
    await engine.advance("16m")
    root, follow_up = thread(mails_to(server, PER))
    assert root["In-Reply-To"] is None
    assert follow_up["References"] == follow_up["In-Reply-To"] == root["Message-ID"]
    [assess] = [m for m in (root, follow_up) if m["Subject"].endswith("3.1.1")]
    prefix = f"[Oxelösunds kommun] Ärende {incident.reference} (allvarlig)"
    assert assess["Subject"] == f"{prefix}, du behövs för steg 3.1.1"
    assert "Bedömning av situationen" in plain(assess)

    # 21:25: nobody has answered; Anna's e-mail turn comes.
    await engine.advance("10m")
    escalated = thread(mails_to(server, ANNA))
    assert {m["Subject"].split(", ")[-1] for m in escalated} == {
        "ingen har svarat på steg 3.1.1",
        "ingen har svarat på steg 3.2.1",
    }
    anna_root = escalated[0]["Message-ID"]
    assert escalated[1]["In-Reply-To"] == anna_root

    # Per takes 3.1.1 by following the link in his mail about it.
    token = parse_qs(urlsplit(link(assess, "Jag tar det")).query)["t"][0]
    assert await engine.follow_link(token) == "acknowledged"
    await engine.idle()
    step = (await engine.status(incident.id)).step("3.1.1")
    assert (step.status, step.assignees) == (StepStatus.ACKNOWLEDGED, ("per",))
    [taken] = [e for e in await engine.trail(incident.id) if isinstance(e, ev.Acknowledged)]
    assert (taken.person, taken.via) == ("per", "email")

    # Anna is told in her thread, with no answer links: there is nothing left for her to take.
    told = mails_to(server, ANNA)[len(escalated) :]
    [done] = [m for m in told if "3.1.1" in m["Subject"]]
    assert done["Subject"] == f"[Oxelösunds kommun] Steg 3.1.1 i ärende {incident.reference} är taget"
    assert done["In-Reply-To"] == done["References"] == anna_root
    assert "Per Exempelsson" in plain(done)
    assert "Du behöver inte göra något" in plain(done)
    assert "https://" not in plain(done)

    # Every mail went over TLS with a login, has its own Message-ID, and never names the protected target.
    assert all(r.tls and r.authenticated for r in server.received)
    ids = [r.message["Message-ID"] for r in server.received]
    assert len(ids) == len(set(ids))
    for received in server.received:
        text = plain(received.message) + str(received.message["Subject"])
        assert "Lena" not in text
        assert "Kask" not in text
    sent = [e for e in await engine.trail(incident.id) if isinstance(e, ev.NotificationSent) and e.channel == "email"]
    assert {e.provider_id for e in sent} == set(ids)
