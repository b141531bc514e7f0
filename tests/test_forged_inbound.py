"""Forged, replayed and misapplied input: refused, changes nothing, and is logged without its content.

The engine runs the Oxelösund routine on a virtual clock with SMS over HTTP to the fake gateway (46elks, Twilio and
Sinch accounts, each verified its own way) and e-mail into a recording channel (for the signed links). Every refusal
is checked in the captured log: the reason is there, the phone number, the message text and the secret are not.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("hothat_sms", reason="the forged-callback tests need the hothat-sms plugin")

from reliability_kit import FRIDAY_NIGHT, HOOKS, TOKEN_SECRET, Recorder, oxelosund, plugins

from hothat.channels import InboundEvent, InboundKind, MemoryChannel, OutboundMessage
from hothat.engine import Engine, VirtualClock
from hothat.engine import events as ev
from hothat.engine.core import StepStatus
from hothat.errors import InboundError, TokenError
from hothat.messages.tokens import LinkTokens
from hothat.store import MemoryStore
from hothat_sms import SmsChannel, SmsSettings
from hothat_sms.testing import FakeGateway, WebhookRequest

PER = "+46701740620"  # (S) party security contact: owns 3.1.1 and 3.2.1
PER_NATIONAL = ("070-174 06 20", "0701740620", "701740620")


class Town:
    """An engine with a three-provider SMS channel on a fake gateway and recorded e-mail."""

    def __init__(self, gateway: FakeGateway, store: MemoryStore | None = None, clock: VirtualClock | None = None):
        self.gateway = gateway
        self.mail: list[OutboundMessage] = []
        self.store = store or MemoryStore()
        self.clock = clock or VirtualClock(FRIDAY_NIGHT)
        self.sms = SmsChannel(
            SmsSettings.model_validate(
                {
                    "public_base_url": HOOKS,
                    "providers": [gateway.provider_table(p) for p in ("46elks", "twilio", "sinch")],
                }
            )
        )
        self.engine = Engine(
            oxelosund(),
            store=self.store,
            clock=self.clock,
            plugins=plugins(),
            channels={"sms": self.sms, "voice": MemoryChannel(), "email": Recorder(self.mail)},
            token_secret=TOKEN_SECRET,
        )

    def reply(self, provider: str, text: str, sender: str = PER) -> WebhookRequest:
        return self.gateway.reply(provider, self.sms.webhook_url(provider, "inbound"), sender=sender, text=text)

    def code(self, step: str = "3.1.1", reference: str = "") -> str:
        [sent] = [s for s in self.gateway.messages if s.to == PER and step in s.text and reference in s.text]
        match = re.search(r"\b(\d{2,6})n\b", sent.text)
        assert match is not None
        return match[1]

    async def taken(self, incident_id: str, step: str = "3.1.1") -> bool:
        return (await self.engine.status(incident_id)).step(step).status is not StepStatus.ACTIVE


@pytest.fixture
async def town() -> AsyncIterator[Town]:
    with FakeGateway() as gateway:
        town = Town(gateway)
        async with town.engine:
            yield town


def leaked(caplog: pytest.LogCaptureFixture, *secrets: str) -> list[str]:
    """Log lines (message and traceback) that contain any of ``secrets``."""
    out = []
    for record in caplog.records:
        text = record.getMessage() + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
        if any(s and s in text for s in secrets):
            out.append(text)
    return out


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "refused" in r.getMessage() or "not applied" in r.getMessage()]


def tamper(request: WebhookRequest, **changes: object) -> WebhookRequest:
    return WebhookRequest(*(changes.get(f, getattr(request, f)) for f in WebhookRequest._fields))


async def incident(town: Town) -> str:
    reported = await town.engine.report(kind="threat", severity="serious", targeted="lena", party="s")
    await town.engine.idle()
    return reported.id


# -- SMS callbacks ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "forge"),
    [
        ("46elks", lambda r: tamper(r, url=r.url.replace("token=", "token=x"))),
        ("46elks", lambda r: tamper(r, url=r.url.split("?")[0])),
        ("twilio", lambda r: tamper(r, headers={k: v for k, v in r.headers.items() if k != "X-Twilio-Signature"})),
        ("twilio", lambda r: tamper(r, headers={**r.headers, "X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})),
        ("twilio", lambda r: tamper(r, body=r.body.replace(b"From=%2B46701740620", b"From=%2B46701740621"))),
        ("sinch", lambda r: tamper(r, headers={**r.headers, "x-sinch-webhook-signature": "AAAA"})),
        ("sinch", lambda r: tamper(r, headers={k: v for k, v in r.headers.items() if "signature" not in k})),
        ("sinch", lambda r: tamper(r, body=r.body.replace(b'"body": "', b'"body": "1'))),
    ],
    ids=[
        "46elks-wrong-token",
        "46elks-no-token",
        "twilio-no-signature",
        "twilio-bad-signature",
        "twilio-altered-sender",
        "sinch-bad-signature",
        "sinch-unsigned",
        "sinch-altered-body",
    ],
)
async def test_a_forged_sms_reply_is_refused_changes_nothing_and_is_logged_without_content(
    town: Town, caplog: pytest.LogCaptureFixture, provider: str, forge: object
) -> None:
    caplog.set_level(logging.DEBUG)
    incident_id = await incident(town)
    code = town.code()
    genuine = town.reply(provider, code)
    forged = forge(genuine)  # type: ignore[operator]
    with pytest.raises(InboundError) as refused:
        await town.engine.inbound("sms", *forged)
    assert not await town.taken(incident_id)
    assert refusals(caplog), "the refusal is logged"
    token = town.gateway.webhook_token
    body_text = forged.body.decode()
    assert leaked(caplog, PER, *PER_NATIONAL, token, body_text) == []
    assert PER not in str(refused.value)
    assert token not in str(refused.value)


@pytest.mark.parametrize("provider", ["46elks", "twilio", "sinch"])
async def test_a_replayed_reply_is_refused_while_the_channel_remembers_it(
    town: Town, caplog: pytest.LogCaptureFixture, provider: str
) -> None:
    caplog.set_level(logging.DEBUG)
    incident_id = await incident(town)
    request = town.reply(provider, town.code("3.2.1") + "n")  # "I can't" for 3.2.1
    await town.engine.inbound("sms", *request)
    with pytest.raises(InboundError, match="replay"):
        await town.engine.inbound("sms", *request)
    declined = [e for e in await town.engine.trail(incident_id) if isinstance(e, ev.Declined)]
    assert len(declined) == 1
    assert leaked(caplog, PER, *PER_NATIONAL, town.gateway.webhook_token) == []


async def _capture_then_reuse(provider: str) -> bool:
    """A signed reply to incident A, captured, is replayed at a restarted engine where the same code now belongs
    to incident B. Returns whether B was taken on Per's behalf."""
    with FakeGateway() as gateway:
        first = Town(gateway)
        async with first.engine:
            a = await incident(first)
            code = first.code("3.1.1")
            captured = first.reply(provider, code)
            await first.engine.inbound("sms", *captured)
            assert await first.taken(a)
            for step in ("3.1.1", "3.2.1"):
                await first.engine.complete(a, step=step, person="per", checked=_checklist(step))
            await first.engine.close(a, by="per")
        first.store.close = _noop  # type: ignore[method-assign]  # the same store across "processes"
        second = Town(gateway, store=first.store, clock=first.clock)
        second.clock.advance(timedelta(days=2))
        async with second.engine:
            b = await incident(second)
            reference = (await second.engine.status(b)).incident.reference
            assert second.code("3.1.1", reference) == code  # the smallest free code, given out again
            try:
                await second.engine.inbound("sms", *captured)
            except InboundError:
                return False
            return await second.taken(b)


def _checklist(step: str) -> list[str]:
    return [i.id for i in oxelosund().routines["bilaga3"].step(step).checklist]


async def _noop() -> None:
    return None


async def test_a_captured_twilio_reply_replayed_after_a_restart_does_not_take_a_new_incident() -> None:
    assert not await _capture_then_reuse("twilio")


async def test_a_captured_sinch_reply_replayed_after_a_restart_does_not_take_a_new_incident() -> None:
    assert not await _capture_then_reuse("sinch")


async def test_a_reply_with_someone_elses_code_or_from_a_stranger_takes_nothing(town: Town) -> None:
    incident_id = await incident(town)
    code = town.code()
    for sender in ("+46701740621", "+46701740699"):  # Anna (asked for nothing yet), a stranger
        await town.engine.inbound("sms", *town.reply("46elks", code, sender=sender))
    await town.engine.inbound("sms", *town.reply("46elks", "999999"))  # Per, a code he was never given
    assert not await town.taken(incident_id)
    assert not [e for e in await town.engine.trail(incident_id) if isinstance(e, ev.Acknowledged | ev.Declined)]


async def test_a_delivery_report_never_acknowledges(town: Town) -> None:
    incident_id = await incident(town)
    for sms in town.gateway.messages:
        if sms.status_url:
            await town.engine.inbound("sms", *town.gateway.delivery_report(sms))
    assert not await town.taken(incident_id)


# -- e-mail link tokens -------------------------------------------------------------------------------------------


async def _links(town: Town) -> tuple[str, dict[str, str]]:
    incident_id = await incident(town)
    await town.engine.advance("16m")  # Per's e-mail turn: SMS at once, voice 5 min later, e-mail 10 min after that
    [mail] = [m for m in town.mail if m.person_id == "per" and m.step_id == "3.1.1"]
    assert mail.ack_url
    assert mail.decline_url
    urls = {"ack": mail.ack_url, "decline": mail.decline_url}
    tokens = {action: parse_qs(urlsplit(url).query)["t"][0] for action, url in urls.items()}
    return incident_id, tokens


async def test_a_link_token_works_once(town: Town, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    incident_id, tokens = await _links(town)
    assert await town.engine.follow_link(tokens["ack"]) == "acknowledged"
    with pytest.raises(TokenError) as used:
        await town.engine.follow_link(tokens["ack"])
    assert used.value.reason == "used"
    assert tokens["ack"] not in str(used.value)
    # Through a channel's inbound event, as a web app might hand it on: refused too, and logged without the token.
    event = InboundEvent(InboundKind.ACKNOWLEDGE, "email", token=tokens["ack"])
    with pytest.raises(TokenError):
        await town.engine.handle_inbound(event)
    acked = [e for e in await town.engine.trail(incident_id) if isinstance(e, ev.Acknowledged)]
    assert len(acked) == 1
    assert leaked(caplog, tokens["ack"], tokens["decline"]) == []


@pytest.mark.parametrize("change", ["incident", "step", "person", "signature", "payload", "expired", "other-secret"])
async def test_a_forged_or_misapplied_link_token_is_refused(
    town: Town, caplog: pytest.LogCaptureFixture, change: str
) -> None:
    caplog.set_level(logging.DEBUG)
    incident_id, tokens = await _links(town)
    token = tokens["ack"]
    issuer = LinkTokens(TOKEN_SECRET)
    claims = issuer.verify(token, town.clock.now())
    now = town.clock.now()
    if change == "incident":
        forged = issuer.issue("01JZZZZZZZZZZZZZZZZZZZZZZZ", claims.step_id, "per", claims.action, now, "n1")
    elif change == "step":
        # A genuine token for step 3.2.1 cannot take 3.1.1: the verifier is told what the caller expects.
        with pytest.raises(TokenError, match="mismatch"):
            issuer.verify(token, now, step_id="3.2.1")
        forged = issuer.issue(incident_id, "9.9.9", "per", claims.action, now, "n2")
    elif change == "person":
        forged = issuer.issue(incident_id, "3.1.1", "olle", claims.action, now, "n3")  # (C): no role in the chain
    elif change == "signature":
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    elif change == "payload":
        head, payload, sig = token.split(".")
        forged = f"{head}.{payload[:-2]}xx.{sig}"
    elif change == "expired":
        town.clock.advance(timedelta(days=2))
        forged = token
    else:
        forged = LinkTokens(b"another-municipality-secret-0123456789").issue(
            incident_id, "3.1.1", "per", claims.action, now, "n4"
        )
    with pytest.raises((TokenError, LookupError)) as refused:
        await town.engine.follow_link(forged)
    assert forged not in str(refused.value)
    assert not [e for e in await town.engine.trail(incident_id) if isinstance(e, ev.Acknowledged)]
    assert leaked(caplog, forged, token) == []


async def test_a_refused_link_is_logged_with_its_reason(town: Town, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await _links(town)
    with pytest.raises(TokenError):
        await town.engine.follow_link("v1.bm9wZQ.AAAA")
    assert any("malformed" in r.getMessage() or "forged" in r.getMessage() for r in caplog.records)
