"""Over real HTTP on 127.0.0.1: the channel against the fake gateway, faults and callbacks included."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hothat.channels import DeliveryStatus, InboundKind
from hothat.errors import AmbiguousDeliveryError, InboundError, RetryableDeliveryError
from hothat_sms import SmsChannel, SmsSettings
from hothat_sms.testing import FakeGateway, GatewayResponse

from .conftest import KEY, RECIPIENT, TEXT, MakeChannel, message

PROVIDERS = ["46elks", "twilio", "sinch"]


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with FakeGateway() as gateway:
        yield gateway


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_sms_reaches_each_fake_provider_intact(
    gateway: FakeGateway, make_channel: MakeChannel, provider: str
) -> None:
    receipt = await make_channel(gateway.provider_table(provider)).deliver(message())

    [sms] = gateway.messages
    assert (sms.provider, sms.to, sms.text) == (provider, RECIPIENT, TEXT)  # å, ä, ö decoded as sent
    assert receipt.provider_id == sms.id
    assert receipt.raw["provider"] == provider
    assert sms.status_url is not None
    assert sms.status_url.startswith(f"https://kommun.example/hothat/hooks/sms/{provider}/status?")
    if provider == "sinch":
        assert sms.reference == KEY


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_delivery_reports_round_trip(gateway: FakeGateway, make_channel: MakeChannel, provider: str) -> None:
    channel = make_channel(gateway.provider_table(provider))
    receipt = await channel.deliver(message())
    [sms] = gateway.messages

    result = channel.parse_inbound(*gateway.delivery_report(sms, "delivered"))

    [event] = result.events
    assert (event.kind, event.status, event.provider_id, event.message_key) == (
        InboundKind.DELIVERY,
        DeliveryStatus.DELIVERED,
        receipt.provider_id,
        KEY,
    )
    failed = channel.parse_inbound(*gateway.delivery_report(sms, "failed", error_code="30003"))
    assert failed.events[0].status is DeliveryStatus.FAILED


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("text", "kind"), [("12", InboundKind.ACKNOWLEDGE), ("12 nej", InboundKind.DECLINE)])
async def test_replies_round_trip(
    gateway: FakeGateway, make_channel: MakeChannel, provider: str, text: str, kind: InboundKind
) -> None:
    channel = make_channel(gateway.provider_table(provider))
    request = gateway.reply(provider, channel.webhook_url(provider, "inbound"), sender=RECIPIENT, text=text)

    [event] = channel.parse_inbound(*request).events

    assert (event.kind, event.address, event.reply_code) == (kind, RECIPIENT, "12")


async def test_wrong_credentials_fail_over_to_the_next_provider(
    gateway: FakeGateway, make_channel: MakeChannel
) -> None:
    channel = make_channel(gateway.provider_table("46elks", password="wrong"), gateway.provider_table("twilio"))

    receipt = await channel.deliver(message())

    assert receipt.raw["provider"] == "twilio"
    assert [sms.provider for sms in gateway.messages] == ["twilio"]


async def test_a_5xx_is_retried_on_the_same_provider(gateway: FakeGateway, make_channel: MakeChannel) -> None:
    gateway.fail_next(502, provider="46elks")
    channel = make_channel(gateway.provider_table("46elks"), gateway.provider_table("twilio"))

    receipt = await channel.deliver(message())

    assert receipt.raw["provider"] == "46elks"
    assert gateway.requests == 2
    assert len(gateway.messages) == 1


async def test_a_429_with_retry_after(gateway: FakeGateway, make_channel: MakeChannel) -> None:
    gateway.fail_next(429, json_body={"code": 20429, "message": "Too Many Requests"}, headers={"Retry-After": "7"})

    with pytest.raises(RetryableDeliveryError) as caught:
        await make_channel(gateway.provider_table("twilio")).deliver(message())
    assert caught.value.retry_after == 7.0


async def test_a_dropped_connection_is_ambiguous(gateway: FakeGateway, make_channel: MakeChannel) -> None:
    gateway.drop_next(provider="46elks")
    channel = make_channel(gateway.provider_table("46elks"), gateway.provider_table("twilio"))

    with pytest.raises(AmbiguousDeliveryError):
        await channel.deliver(message())
    assert gateway.requests == 1  # never resent, never failed over
    assert gateway.messages == []


async def test_a_slow_answer_is_ambiguous(gateway: FakeGateway, make_channel: MakeChannel) -> None:
    gateway.delay_next(5.0)  # the gateway holds its answer; the channel stops reading after 0.2 s
    channel = make_channel(gateway.provider_table("sinch"), timeout={"read": 0.2})

    with pytest.raises(AmbiguousDeliveryError, match="ReadTimeout"):
        await channel.deliver(message())


async def test_a_closed_port_fails_over(gateway: FakeGateway, make_channel: MakeChannel) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/a1"
    channel = make_channel(gateway.provider_table("46elks", base_url=dead), gateway.provider_table("twilio"))

    receipt = await channel.deliver(message())

    assert receipt.raw["provider"] == "twilio"


async def test_the_gateway_is_bounded(make_channel: MakeChannel) -> None:
    with FakeGateway(max_messages=1) as gateway:
        channel = make_channel(gateway.provider_table("46elks"), attempts_per_provider=1)
        await channel.deliver(message())
        with pytest.raises(RetryableDeliveryError, match="HTTP 503"):
            await channel.deliver(message())
        assert len(gateway.messages) == 1


async def test_wait_for_returns_when_messages_arrive(gateway: FakeGateway, make_channel: MakeChannel) -> None:
    channel = make_channel(gateway.provider_table("46elks"))
    waiting = asyncio.create_task(asyncio.to_thread(gateway.wait_for, 2, 5.0))
    await channel.deliver(message())
    await channel.deliver(message(key="k2"))

    assert len(await waiting) == 2
    with pytest.raises(TimeoutError, match="expected 3 messages, the gateway got 2"):
        gateway.wait_for(3, timeout=0.05)


async def test_routes_can_be_added(gateway: FakeGateway) -> None:
    gateway.add_route("POST", r"/a1/calls", "46elks", lambda gw, request, match: GatewayResponse.json(200, {"ok": 1}))
    import urllib.request

    with urllib.request.urlopen(urllib.request.Request(f"{gateway.url}/a1/calls", data=b"", method="POST")) as r:
        assert r.read() == b'{"ok": 1}'


class _Receiver:
    """A tiny loopback web app that hands every request to ``channel.parse_inbound`` and answers with it."""

    def __init__(self, channel: SmsChannel) -> None:
        channel_ = channel

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = "https://kommun.example" + self.path
                try:
                    result = channel_.parse_inbound("POST", url, dict(self.headers.items()), body)
                    status, answer, headers = result.status, result.body, dict(result.headers)
                except InboundError:
                    status, answer, headers = 403, b"", {}
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


async def test_the_gateway_posts_callbacks_to_a_web_app(gateway: FakeGateway, make_channel: MakeChannel) -> None:
    channel = make_channel(gateway.provider_table("46elks"))
    path = channel.webhook_url("46elks", "inbound").removeprefix("https://kommun.example")
    with _Receiver(channel) as app:
        request = gateway.reply("46elks", app + path, sender=RECIPIENT, text="12")
        assert await asyncio.to_thread(gateway.post, request) == (204, b"")  # empty: nothing is texted back
        assert await asyncio.to_thread(gateway.post, request) == (403, b"")  # the replay
        forged = request._replace(url=app + path.replace("token=", "token=x"))
        assert await asyncio.to_thread(gateway.post, forged) == (403, b"")


def test_the_gateway_only_posts_to_loopback(gateway: FakeGateway) -> None:
    request = gateway.reply("46elks", "https://kommun.example/hooks/sms/46elks/inbound", sender=RECIPIENT, text="12")
    with pytest.raises(ValueError, match="loopback"):
        gateway.post(request)


def test_the_gateway_stops_cleanly() -> None:
    with FakeGateway() as gateway:
        port = int(gateway.url.rsplit(":", 1)[1])
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))


async def test_a_burst_waits_its_turn_and_every_sms_goes_out(gateway: FakeGateway) -> None:
    settings = SmsSettings(
        providers=[gateway.provider_table("46elks")],
        max_requests=4,
        timeout={"connect": 5, "read": 5, "write": 5, "pool": 0.2},
        attempts_per_provider=1,
    )
    burst = [message(address=f"+4670174{n:04d}") for n in range(300)]

    async with SmsChannel(settings) as channel:
        receipts = await asyncio.gather(*(channel.deliver(m) for m in burst))

    # Waiting for a free request slot is not a failure, however long the queue (the pool timeout is 0.2 s).
    assert len({r.provider_id for r in receipts}) == 300
    assert sorted(sms.to for sms in gateway.messages) == sorted(m.address for m in burst)
