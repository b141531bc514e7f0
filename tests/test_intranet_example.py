"""examples/intranet: the Starlette app runs the engine in its lifespan and turns webhooks into answers.

The app is reached through httpx's ASGI transport at its public address; SMS go over HTTP to a fake 46elks and
Twilio gateway on 127.0.0.1, whose signed replies come back through the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hothat import Clock, Engine, MemoryChannel, MemoryStore, VirtualClock
from hothat.config import load_config
from hothat_sms import SmsChannel, SmsSettings
from hothat_sms.testing import FakeGateway

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = "https://intranat.oxelosund.example"
SMS_HOOKS = f"{PUBLIC}/hothat/hooks/sms"


def load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


intranet = load("intranet_app", ROOT / "examples" / "intranet" / "app.py")


class Wiring:
    def __init__(self, engine: Engine, client: httpx.AsyncClient, gateway: FakeGateway, sms: Any, email: Any):
        self.engine, self.client, self.gateway, self.sms, self.email = engine, client, gateway, sms, email

    async def sms_to(self, number: str, step: str) -> Any:
        """The SMS about ``step`` to ``number`` (Per gets two at once: 3.1.1 and 3.2.1)."""
        messages = await asyncio.to_thread(self.gateway.wait_for, 2)
        [sms] = [m for m in messages if m.to == number and f"steg {step} " in m.text]
        return sms

    def reply(self, provider: str, sms: Any, text: str) -> Any:
        return self.gateway.reply(provider, self.sms.webhook_url(provider, "inbound"), sender=sms.to, text=text)

    async def post(self, request: Any) -> httpx.Response:
        return await self.client.request(
            request.method, request.url, headers=dict(request.headers), content=request.body
        )


@contextlib.asynccontextmanager
async def running(provider: str = "46elks", clock: Clock | None = None) -> AsyncIterator[Wiring]:
    municipality = load_config(ROOT / "examples" / "oxelosund" / "municipality.toml")
    with FakeGateway() as gateway:
        settings = SmsSettings.model_validate(
            {"public_base_url": SMS_HOOKS, "providers": [gateway.provider_table(provider)]}
        )
        sms, email = SmsChannel(settings), MemoryChannel()
        engine = Engine(
            municipality,
            store=MemoryStore(),
            channels={"sms": sms, "email": email, "voice": MemoryChannel()},
            token_secret=b"intranet-test-secret-0123456789abcdef",
            clock=clock,
        )
        app = intranet.create_app(engine)
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url=PUBLIC) as client:
            try:
                yield Wiring(engine, client, gateway, sms, email)
            finally:
                # Python 3.11's asyncio.wait_for swallows a cancellation that arrives as the awaited event is set,
                # so a SystemClock engine stopped right after a wake-up can hang in stop(). Let the scheduler see
                # the last wake-up first. (Reported: SystemClock.sleep_until should use asyncio.timeout.)
                await engine.idle()
                for _ in range(5):
                    await asyncio.sleep(0)
        assert not engine._started  # the lifespan stopped the engine


@pytest.mark.parametrize("provider", ["46elks", "twilio"])
async def test_a_signed_sms_reply_takes_the_step(provider: str) -> None:
    async with running(provider) as w:
        incident = await w.engine.report(kind="threat", severity="serious", party="s")
        sms = await w.sms_to("+46701740620", "3.1.1")  # Per, the party's security contact
        code = re.search(r"Svara (\d+) ", sms.text)
        assert code is not None

        response = await w.post(w.reply(provider, sms, code[1]))

        assert response.status_code == (204 if provider == "46elks" else 200)
        if provider == "46elks":
            assert response.content == b""  # 46elks would text back any body
        status = await w.engine.status(incident.id)
        assert status.step("3.1.1").assignees == ("per",)


async def test_a_forged_or_replayed_callback_is_refused_with_403() -> None:
    async with running() as w:
        incident = await w.engine.report(kind="threat", severity="serious", party="s")
        sms = await w.sms_to("+46701740620", "3.1.1")
        code = re.search(r"Svara (\d+) ", sms.text)
        assert code is not None
        genuine = w.reply("46elks", sms, code[1])
        forged = genuine._replace(url=genuine.url.replace("token=", "token=x"))

        assert (await w.post(forged)).status_code == 403
        assert (await w.engine.status(incident.id)).step("3.1.1").assignees == ()
        assert (await w.post(genuine)).status_code == 204
        assert (await w.post(genuine)).status_code == 403  # the same callback again: a replay
        assert (await w.client.post("/hothat/hooks/voice/twilio/callback", content=b"Digits=1")).status_code == 403
        assert (await w.client.post("/hothat/hooks/fax/inbound", content=b"")).status_code == 404


async def test_an_email_link_asks_first_and_acts_only_on_post() -> None:
    async with running(clock=VirtualClock()) as w:
        incident = await w.engine.report(kind="threat", severity="serious", party="s")
        await w.engine.advance("15m")  # Per's third contact point: e-mail, ten minutes after the call
        mail = next(m for m in w.email.sent if m.ack_url)
        url = urlsplit(mail.ack_url)
        assert f"{url.scheme}://{url.netloc}{url.path}" == f"{PUBLIC}/hothat/link"

        shown = await w.client.get(mail.ack_url)  # what a mail scanner does: nothing happens
        assert shown.status_code == 200
        assert '<form method="post"' in shown.text
        assert shown.headers["cache-control"] == "no-store"
        assert (await w.engine.status(incident.id)).step("3.1.1").assignees == ()

        token = parse_qs(url.query)["t"][0]
        done = await w.client.post("/hothat/link", data={"t": token})
        assert done.status_code == 200
        assert "Du har tagit steget" in done.text
        assert (await w.engine.status(incident.id)).step("3.1.1").assignees == (mail.person_id,)

        again = await w.client.post("/hothat/link", data={"t": token})
        assert again.status_code == 403
        assert "redan använd" in again.text


async def test_a_bad_link_token_is_refused_without_a_traceback() -> None:
    async with running() as w:
        response = await w.client.post("/hothat/link", data={"t": "v1.not-a-token"})
        assert response.status_code == 403
        assert "Länken gäller inte" in response.text


async def test_health_reports_the_backlog() -> None:
    async with running() as w:
        response = await w.client.get("/hothat/health")
        assert response.json() == {"backlog": 0}


async def test_the_scheduler_runs_in_the_apps_event_loop() -> None:
    async with running() as w:
        scheduler = w.engine._scheduler
        assert scheduler is not None
        assert scheduler.get_loop() is asyncio.get_running_loop()
        assert not scheduler.done()
    assert scheduler.done()
