"""``hothat demo``: the main job, end to end, on one machine, with nothing to configure.

An Oxelösund incident on a Friday night runs through the shipped routine over real transports on loopback: SMS to a
fake 46elks gateway over HTTP, e-mail to a local SMTP server, voice calls to the fake gateway (when the adapters are
installed; otherwise the ``log`` channel stands in and the demo says so). The engine runs on a virtual clock, so
four hours of escalation take a few seconds, with the SQLite store by default. People answer the way people do:
the party's security contact sleeps through it, the group leader answers the SMS, a strategist clicks the link in
her e-mail, the CEO presses 1 on the phone. The demo ends with the timeline, the incident's report, a drill of the
whole configuration and the timeline picture as an HTML file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hothat.channels import Channel
from hothat.config import load_example
from hothat.domain import Municipality
from hothat.engine import Engine, VirtualClock
from hothat.engine import events as ev
from hothat.store.sqlite import SqliteStore

__all__ = ["run_demo"]

FRIDAY_NIGHT = datetime(2026, 11, 20, 21, 47, tzinfo=UTC)  # 22:47 in Oxelösund
PUBLIC_BASE = "https://intranat.oxelosund.example/hothat/hooks"


@dataclass
class Wiring:
    """What the demo runs on: real loopback servers where the adapters are installed, the log channel elsewhere."""

    channels: dict[str, Channel] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    gateway: Any = None
    sms: Any = None
    voice: Any = None
    inbox: list[bytes] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def _smtp_inbox(wiring: Wiring) -> Iterator[int | None]:
    """A real SMTP server on 127.0.0.1 that keeps every message in ``wiring.inbox``."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        yield None
        return

    class Inbox:
        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            wiring.inbox.append(bytes(envelope.original_content or envelope.content))
            return "250 OK"

    port = _free_port()
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@contextlib.asynccontextmanager
async def _wire(clock: VirtualClock, engine_ref: list[Engine]) -> AsyncIterator[Wiring]:
    wiring = Wiring()
    async with contextlib.AsyncExitStack() as stack:
        try:
            from hothat_sms import SmsChannel, SmsSettings
            from hothat_sms.testing import FakeGateway
        except ImportError:
            wiring.notes.append("SMS: the log channel (install hothat-sms for the fake 46elks gateway)")
        else:
            try:  # the voice fake speaks SMS too: one gateway for both
                from hothat_phonetree.testing import FakeVoiceGateway as Gateway
            except ImportError:
                Gateway = FakeGateway  # type: ignore[assignment,misc]
            gateway = stack.enter_context(Gateway())
            wiring.gateway = gateway
            settings = SmsSettings.model_validate(
                {"public_base_url": PUBLIC_BASE, "providers": [gateway.provider_table("46elks")]}
            )
            wiring.sms = SmsChannel(settings)
            wiring.channels["sms"] = wiring.sms
            wiring.notes.append(f"SMS: 46elks API on a fake gateway at {gateway.url}")
            await _wire_voice(wiring, stack, clock, engine_ref)
        port = stack.enter_context(_smtp_inbox(wiring))
        try:
            from hothat_email import SmtpChannel, SmtpSettings
        except ImportError:
            port = None
        if port is None:
            wiring.notes.append("e-mail: the log channel (install hothat-email and aiosmtpd for a local SMTP server)")
        else:
            smtp_settings = SmtpSettings.model_validate(
                {
                    "host": "127.0.0.1",
                    "port": port,
                    "security": "none",
                    "from_address": "hothat@oxelosund.example",
                    "timeout": 5,
                }
            )
            wiring.channels["email"] = SmtpChannel(smtp_settings)
            wiring.notes.append(f"e-mail: SMTP server on 127.0.0.1:{port}")
        yield wiring


async def _wire_voice(
    wiring: Wiring, stack: contextlib.AsyncExitStack, clock: VirtualClock, engine_ref: list[Engine]
) -> None:
    """Voice calls to the same fake gateway, its callbacks through a loopback web app to ``engine.inbound``."""
    try:
        from hothat_phonetree import VoiceChannel, VoiceSettings
        from hothat_phonetree.testing import WebhookServer
    except ImportError:
        wiring.notes.append("voice: the log channel (install hothat-phonetree for calls with keypresses)")
        return

    async def inbound(method: str, url: str, headers: Any, body: bytes) -> Any:
        return await engine_ref[0].inbound("voice", method, url, headers, body)

    app = await stack.enter_async_context(WebhookServer(inbound))
    settings = VoiceSettings.model_validate(
        {"public_base_url": f"{app.url}/hooks/voice", "providers": [wiring.gateway.voice_table("twilio")]}
    )
    wiring.voice = VoiceChannel(settings, clock=lambda: clock.now().timestamp())
    wiring.channels["voice"] = wiring.voice
    wiring.notes.append(f"voice: Twilio Calls API on the same gateway, callbacks to {app.url}")


class People:
    """How the demo's people answer, through the same paths as real people."""

    def __init__(self, engine: Engine, wiring: Wiring, say: Callable[[str], None]) -> None:
        self.engine = engine
        self.wiring = wiring
        self.say = say

    def _sms_to(self, number: str, step: str) -> Any:
        gateway = self.wiring.gateway
        found = [s for s in gateway.messages if s.to == number and f" {step}" in s.text]
        return found[-1] if found else None

    async def reply_sms(self, number: str, step: str, *, decline: bool = False) -> bool:
        """Answer the last SMS about ``step`` with its reply code, through the gateway's signed callback."""
        if self.wiring.gateway is None:
            return False
        sms = await asyncio.to_thread(lambda: self._sms_to(number, step))
        if sms is None:
            return False
        match = re.search(r"\b(\d{2,6})n\b", sms.text)
        if match is None:
            return False
        text = match[1] + ("n" if decline else "")
        request = self.wiring.gateway.reply(
            "46elks", self.wiring.sms.webhook_url("46elks", "inbound"), sender=number, text=text
        )
        await self.engine.inbound("sms", *request)
        self.say(f'  {number[:7]}… svarar "{text}" på sms:et om steg {step}')
        return True

    async def click_link(self, address: str, step: str) -> bool:
        """Click "Jag tar det" in the last e-mail about ``step`` to ``address``."""
        for raw in reversed(self.wiring.inbox):
            mail = message_from_bytes(raw, policy=policy.default)
            if mail["To"] is None or address not in str(mail["To"]) or step not in str(mail["Subject"]):
                continue
            body = mail.get_body(preferencelist=("plain",))
            text = body.get_content() if body is not None else ""
            for url in re.findall(r"https?://\S+", text):
                token = parse_qs(urlsplit(url).query).get("t", [""])[0]
                if not token:
                    continue
                try:
                    outcome = await self.engine.follow_link(token)
                except Exception:  # a decline link first, or a used one: try the next
                    continue
                if outcome == "acknowledged":
                    self.say(f"  {address.split('@')[0]} klickar på länken i e-posten om steg {step}")
                    return True
        return False

    async def wait(self, duration: str) -> None:
        """Let ``duration`` pass minute by minute, answering the phone calls that come in on the way."""
        from hothat.domain import parse_duration

        for _ in range(int(parse_duration(duration).total_seconds() // 60)):
            await self.engine.advance("1m")
            await self.calls()

    async def calls(self) -> None:
        """Play every call placed so far: Karin takes 3.1.2 with key 1; nobody else picks up at night."""
        gateway = self.wiring.gateway
        if self.wiring.voice is None:
            return
        from hothat_phonetree.testing import Callee

        for _ in range(10):
            await self.engine.idle()
            pending = gateway.pending()
            if not pending:
                return
            for call in pending:
                words = str(call.fields.get("Twiml", ""))
                takes = call.to == KARIN and "3.1.2" in words
                gateway.expect(call.to, Callee.presses("1") if takes else Callee.no_answer())
                await asyncio.to_thread(gateway.complete, call)
                if takes:
                    self.say("  Karin svarar i telefon och trycker 1")


KARIN = "+46701740610"


async def _script(engine: Engine, people: People, say: Callable[[str], None]) -> str:
    """The Friday night. Returns the incident id."""
    steps = engine.municipality.routines["bilaga3"]
    say("22:47  Lena Kask (S) tar emot ett hotfullt sms efter fullmäktige och anmäler det till partiet.")
    incident = await engine.report(
        kind="threat",
        severity="serious",
        targeted="lena",
        party="s",
        mandate_link="yes",
        location_kind="online",
        description="Hotfullt sms efter fullmäktiges möte om detaljplanen; avsändaren nämner hennes adress.",
    )
    say(f"       ärende {incident.reference}: partiets säkerhetsansvarig (Per) sover: sms, samtal och e-post.")
    await people.wait("16m")
    say("23:03  ingen har svarat på 15 minuter: gruppledaren (Anna) tillfrågas.")
    await people.wait("2m")
    for step in ("3.1.1", "3.2.1"):
        if not await people.reply_sms("+46701740621", step):
            await engine.acknowledge(incident.id, step=step, person="anna", via="api")
    await people.wait("8m")
    say("23:13  Anna har bedömt situationen med Lena: strategen behövs, ingen sjukvård.")
    await engine.record_fact(incident.id, "strategist_needed", True, by="anna")
    await engine.record_fact(incident.id, "needs_healthcare", False, by="anna")
    await engine.complete(incident.id, step="3.1.1", person="anna", note="Bedömt tillsammans med den utsatte.")
    await people.wait("6m")  # the strategists get an SMS at once and a call five minutes later
    if (await engine.status(incident.id)).step("3.1.2").status.value == "active":
        await engine.acknowledge(incident.id, step="3.1.2", person="karin", via="api")
    await people.wait("25m")
    say("23:44  Lena vill polisanmäla. Karin har kontaktat polisen.")
    await engine.record_fact(incident.id, "police_report_wanted", True, by="lena")
    await engine.complete(incident.id, step="3.1.2", person="karin", note="Polisen kontaktad, koppling till uppdraget.")
    await people.wait("11m")  # the CEO: an SMS, then her e-mail ten minutes later
    if not await people.click_link("eva.berg@oxelosund.example", "3.1.3"):
        await engine.acknowledge(incident.id, step="3.1.3", person="eva", via="api")
    await people.wait("20m")
    await engine.complete(
        incident.id,
        step="3.2.1",
        person="anna",
        note="Kamrat hos Lena; stödperson vald.",
        checked=[i.id for i in steps.step("3.2.1").checklist],
    )
    await engine.advance("1h")
    await engine.complete(
        incident.id,
        step="3.1.3",
        person="eva",
        note="Anmälan gjord med åtkomstskydd.",
        checked=[i.id for i in steps.step("3.1.3").checklist],
    )
    await engine.advance("2h")
    await people.calls()
    say("03:10  natten är över: resten av rutinen (stöd, information) pågår; demon stänger ärendet här.")
    await engine.close(incident.id, by="karin", reason="Demo")
    await engine.advance("1m")
    await people.calls()
    return incident.id


async def run_demo(
    *, db: Path, html: Path | None, lang: str = "sv", out: Callable[[str], None] = print, drill: bool = True
) -> int:
    """Run the demo; returns the exit code."""

    municipality = load_example("oxelosund")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    quiet = logging.getLogger("hothat")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the demo tells its own story; the adapters' warnings would only interrupt it
    try:
        return await _run(municipality, db=db, html=html, lang=lang, out=out, drill=drill)
    finally:
        quiet.setLevel(level)


async def _run(
    municipality: Municipality, *, db: Path, html: Path | None, lang: str, out: Callable[[str], None], drill: bool
) -> int:
    from hothat.testing.timeline import TimelineBuilder

    clock = VirtualClock(FRIDAY_NIGHT)
    engine_ref: list[Engine] = []
    async with _wire(clock, engine_ref) as wiring:
        out("hothat demo: ett ärende i Oxelösund, en fredagskväll, på en virtuell klocka")
        for note in wiring.notes:
            out(f"  · {note}")
        out(f"  · SQLite: {db}")
        out("")
        engine = Engine(
            municipality,
            store=SqliteStore(db),
            clock=clock,
            channels=wiring.channels,
            token_secret=secrets.token_bytes(48),
        )
        engine_ref.append(engine)
        async with engine:
            incident_id = await _script(engine, People(engine, wiring, out), out)
            trail = await engine.trail(incident_id)
        builder = TimelineBuilder(municipality)
        builder.feed(incident_id, trail)
        timeline = builder.timeline(lang=lang)
        out("")
        out("Tidslinje (t = tid sedan anmälan):" if lang == "sv" else "Timeline (t = time since the report):")
        out(timeline.text())
        out("")
        out(_transport_summary(wiring, trail))
        out("")
        out(await _report(db, municipality, incident_id, lang))
        if html is not None:
            from hothat.testing.html import render_html

            html.write_text(render_html(timeline, title=f"{municipality.name}: demo", lang=lang), encoding="utf-8")
            out(f"Tidslinjen som bild: {html}")
        if drill:
            out("")
            out(await _drill(municipality, lang))
    return 0


def _transport_summary(wiring: Wiring, trail: list[ev.Event]) -> str:
    sent = sum(1 for e in trail if isinstance(e, ev.NotificationSent))
    failed = sum(1 for e in trail if isinstance(e, ev.DeliveryFailed))
    parts = [f"{len(trail)} händelser i spåret, {sent} meddelanden skickade, {failed} misslyckade"]
    if wiring.gateway is not None:
        parts.append(f"{len(wiring.gateway.messages)} sms tog emot av gatewayen")
    if wiring.inbox:
        parts.append(f"{len(wiring.inbox)} e-postmeddelanden kom fram till SMTP-servern")
    return "; ".join(parts) + "."


async def _report(db: Path, municipality: Municipality, incident_id: str, lang: str) -> str:
    """What ``hothat report --store DB`` prints: the incident list with times to acknowledgement."""
    from datetime import timedelta

    from hothat import report

    async with SqliteStore(db) as store:
        found = await report.incident_list(store, now=FRIDAY_NIGHT + timedelta(days=1), recent=None)
    heading = f"$ hothat report --store {db}"
    return heading + "\n" + report.format_incidents(found, "text", lang=lang, municipality=municipality)


async def _drill(municipality: Municipality, lang: str) -> str:
    """The drill of the whole configuration (``hothat drill``), its first lines."""
    from hothat.testing.drill import drill_async

    report = await drill_async(municipality)
    lines = report.text(lang).splitlines()
    heading = "$ hothat drill (den inbyggda Oxelösundsfilen)" if lang == "sv" else "$ hothat drill (built-in Oxelösund)"
    return "\n".join([heading, *lines[:40], *(["…"] if len(lines) > 40 else [])])
