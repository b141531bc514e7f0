"""A fake SMS gateway for tests: a loopback HTTP server speaking the 46elks, Twilio and Sinch SMS APIs.

It checks credentials, records every message, answers as the provider would (ids, JSON shapes, error
bodies), injects faults, and makes the callbacks the provider would make (delivery reports and replies),
signed or tokened as the real one. Only the standard library is used; it binds 127.0.0.1 on a free port.

Example::

    with FakeGateway() as gateway:
        settings = SmsSettings(
            public_base_url="https://kommun.example/hooks/sms",
            providers=[gateway.provider_table("46elks"), gateway.provider_table("twilio")],
        )
        async with SmsChannel(settings) as channel:
            gateway.fail_next(401, provider="46elks")        # 46elks refuses: Twilio takes it
            receipt = await channel.deliver(message)
            [sms] = gateway.messages
            request = gateway.reply(sms.provider, channel.webhook_url(sms.provider, "inbound"),
                                    sender=sms.to, text="12")
            result = channel.parse_inbound(*request)

Extend it with :meth:`FakeGateway.add_route` (the voice adapter adds call routes the same way).
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import re
import secrets
import socket
import threading
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import attrs
import phonenumbers

from hothat.messages.gsm import sms_info
from hothat_sms._signing import sinch_signature, twilio_signature

__all__ = ["FakeGateway", "GatewayRequest", "GatewayResponse", "SentSms", "WebhookRequest"]

_MAX_BODY = 1024 * 1024


class WebhookRequest(NamedTuple):
    """A callback as the provider would make it; unpack it into ``parse_inbound(*request)``."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


@attrs.frozen
class SentSms:
    """One message the gateway accepted.

    Attributes:
        provider: ``"46elks"``, ``"twilio"`` or ``"sinch"``.
        id: the id the gateway gave it.
        to: the recipient, E.164.
        sender: the ``from`` it was sent with.
        text: the text, as decoded by the gateway.
        status_url: where delivery reports go, if the request asked for them.
        reference: Sinch's ``client_reference``.
        fields: every field of the request, as read.
    """

    provider: str
    id: str
    to: str
    sender: str
    text: str
    status_url: str | None = None
    reference: str | None = None
    fields: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class GatewayRequest:
    """A request the gateway received: what a route handler gets."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        """The body's form fields (the last value of a repeated name)."""
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))


@attrs.frozen
class GatewayResponse:
    """What a route handler answers."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def json(cls, status: int, data: object) -> GatewayResponse:
        """A JSON answer."""
        return cls(status, json.dumps(data).encode(), {"Content-Type": "application/json"})

    @classmethod
    def text(cls, status: int, text: str) -> GatewayResponse:
        """A plain-text answer."""
        return cls(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})


Handler = Callable[["FakeGateway", GatewayRequest, "re.Match[str]"], GatewayResponse]


@attrs.define
class _Fault:
    provider: str | None
    count: int
    response: GatewayResponse | None = None
    delay: float = 0.0
    drop: bool = False


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat()


def _mobile(number: str) -> bool:
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return False
    if number == "+4670000000":  # 46elks' free test number
        return True
    return phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def _basic(headers: Mapping[str, str]) -> tuple[str, str] | None:
    value = headers.get("authorization", "")
    if not value.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


class FakeGateway:
    """A loopback stand-in for the 46elks, Twilio and Sinch SMS APIs.

    Use it as a context manager (it starts on enter and stops on exit). Thread-safe: the server answers on
    its own threads while the test reads :attr:`messages`.

    Args:
        elks_username, elks_password: the 46elks credentials it accepts.
        twilio_account_sid, twilio_auth_token: the Twilio credentials it accepts (the token signs callbacks).
        sinch_service_plan_id, sinch_api_token: the Sinch credentials it accepts.
        sinch_webhook_secret: the secret Sinch callbacks are HMAC-signed with (``None``: unsigned).
        max_messages: refuse (503) beyond this many messages, so a runaway test stays bounded.
    """

    def __init__(
        self,
        *,
        elks_username: str = "u0123456789abcdef0123456789abcdef",
        elks_password: str = "elks-password-for-tests",
        twilio_account_sid: str = "AC" + "0123456789abcdef" * 2,
        twilio_auth_token: str = "twilio-auth-token-for-tests",
        sinch_service_plan_id: str = "plan0123456789abcdef",
        sinch_api_token: str = "sinch-api-token-for-tests",
        sinch_webhook_secret: str | None = "sinch-webhook-secret-for-tests",
        max_messages: int = 1000,
    ) -> None:
        self.elks_username, self.elks_password = elks_username, elks_password
        self.twilio_account_sid, self.twilio_auth_token = twilio_account_sid, twilio_auth_token
        self.sinch_service_plan_id, self.sinch_api_token = sinch_service_plan_id, sinch_api_token
        self.sinch_webhook_secret = sinch_webhook_secret
        self.max_messages = max_messages
        self.webhook_token = secrets.token_urlsafe(24)
        """The URL token :meth:`provider_table` puts in the 46elks and Sinch tables."""
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._messages: list[SentSms] = []
        self._faults: list[_Fault] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests = 0
        """How many HTTP requests reached a route (faults included)."""
        self.add_route("POST", r"/a1/sms", "46elks", _elks_send)
        self.add_route("POST", r"/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json", "twilio", _twilio_send)
        self.add_route("POST", r"/xms/v1/(?P<plan>[^/]+)/batches", "sinch", _sinch_send)

    # -- lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> FakeGateway:
        """Bind 127.0.0.1 on a free port and serve on a background thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _make_handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeGateway", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections, and wait for the server thread."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeGateway:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        if self._server is None:
            raise RuntimeError("the gateway is not running: use it as a context manager")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- configuration helpers ----------------------------------------------------------------------------

    def provider_table(self, provider: str, **overrides: Any) -> dict[str, Any]:
        """A ``[[channels.sms.providers]]`` table pointing at this gateway with matching credentials."""
        tables: dict[str, dict[str, Any]] = {
            "46elks": {
                "provider": "46elks",
                "base_url": f"{self.url}/a1",
                "username": self.elks_username,
                "password": self.elks_password,
                "sender": "+46766861004",
                "webhook_token": self.webhook_token,
            },
            "twilio": {
                "provider": "twilio",
                "base_url": self.url,
                "account_sid": self.twilio_account_sid,
                "auth_token": self.twilio_auth_token,
                "sender": "+46766861005",
            },
            "sinch": {
                "provider": "sinch",
                "base_url": self.url,
                "service_plan_id": self.sinch_service_plan_id,
                "api_token": self.sinch_api_token,
                "sender": "+46766861006",
                "webhook_token": self.webhook_token,
                **({"webhook_secret": self.sinch_webhook_secret} if self.sinch_webhook_secret else {}),
            },
        }
        return {**tables[provider], **overrides}

    def add_route(self, method: str, path: str, provider: str, handler: Handler) -> None:
        """Serve ``method`` on paths matching the regular expression ``path`` (matched in full).

        ``provider`` names the API for fault filters; ``handler(gateway, request, match)`` answers.
        """
        self._routes.append((method.upper(), re.compile(path), provider, handler))

    # -- faults -------------------------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        provider: str | None = None,
        json_body: object = None,
        text: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next ``count`` requests (to ``provider``, or any) with ``status`` and this body."""
        if json_body is not None:
            response = GatewayResponse.json(status, json_body)
        else:
            response = GatewayResponse.text(status, text)
        response = attrs.evolve(response, headers={**response.headers, **(headers or {})})
        self._add_fault(_Fault(provider, count, response=response))

    def delay_next(self, seconds: float, *, count: int = 1, provider: str | None = None) -> None:
        """Hold the next ``count`` answers for ``seconds`` (at most 10) after reading the request."""
        self._add_fault(_Fault(provider, count, delay=min(seconds, 10.0)))

    def drop_next(self, *, count: int = 1, provider: str | None = None) -> None:
        """Read the next ``count`` requests, record nothing, and close the connection without answering."""
        self._add_fault(_Fault(provider, count, drop=True))

    def _add_fault(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, provider: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.provider in (None, provider):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # -- recorded messages --------------------------------------------------------------------------------

    @property
    def messages(self) -> list[SentSms]:
        """Every accepted message so far, oldest first (a copy)."""
        with self._lock:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[SentSms]:
        """Block until at least ``count`` messages arrived; return them.

        In an async test, run it off the event loop: ``await asyncio.to_thread(gateway.wait_for, 2)``.

        Raises:
            TimeoutError: fewer arrived within ``timeout`` seconds.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(f"expected {count} messages, the gateway got {len(self._messages)}")
            return list(self._messages)

    def _record(self, sms: SentSms) -> bool:
        with self._changed:
            if len(self._messages) >= self.max_messages:
                return False
            self._messages.append(sms)
            self._changed.notify_all()
            return True

    # -- callbacks ----------------------------------------------------------------------------------------

    def delivery_report(self, sms: SentSms, status: str = "delivered", *, error_code: str = "") -> WebhookRequest:
        """The delivery report ``sms``'s provider would send: ``status`` is ``"delivered"`` or ``"failed"``.

        Twilio's ``error_code`` (``"30003"``: handset unreachable) goes with a failed report.
        """
        if sms.status_url is None:
            raise ValueError("the message asked for no delivery report")
        if sms.provider == "46elks":
            fields = {"id": sms.id, "status": status}
            if status == "delivered":
                fields["delivered"] = _now()
            return self.elks_webhook(sms.status_url, fields)
        if sms.provider == "twilio":
            twilio_status = "delivered" if status == "delivered" else "undelivered"
            fields = {
                "AccountSid": self.twilio_account_sid,
                "ApiVersion": "2010-04-01",
                "From": sms.sender,
                "MessageSid": sms.id,
                "MessageStatus": twilio_status,
                "SmsSid": sms.id,
                "SmsStatus": twilio_status,
                "To": sms.to,
            }
            if error_code:
                fields["ErrorCode"] = error_code
            return self.twilio_webhook(sms.status_url, fields)
        payload = {
            "type": "recipient_delivery_report_sms",
            "batch_id": sms.id,
            "recipient": sms.to.lstrip("+"),
            "code": 0 if status == "delivered" else 402,
            "status": "Delivered" if status == "delivered" else "Failed",
            "at": datetime.now(UTC).isoformat(),
            "client_reference": sms.reference,
        }
        return self.sinch_webhook(sms.status_url, payload)

    def reply(self, provider: str, url: str, *, sender: str, text: str, to: str | None = None) -> WebhookRequest:
        """The callback ``provider`` makes when ``sender`` texts ``text`` to ``to`` (default: our sender)."""
        to = to or self.provider_table(provider)["sender"]
        sms_id = secrets.token_hex(16)
        if provider == "46elks":
            fields = {
                "direction": "incoming",
                "id": f"s{sms_id}",
                "from": sender,
                "to": to,
                "created": _now(),
                "message": text,
            }
            return self.elks_webhook(url, fields)
        if provider == "twilio":
            fields = {
                "AccountSid": self.twilio_account_sid,
                "ApiVersion": "2010-04-01",
                "Body": text,
                "From": sender,
                "MessageSid": f"SM{sms_id}",
                "NumMedia": "0",
                "NumSegments": str(sms_info(text).segments),
                "SmsMessageSid": f"SM{sms_id}",
                "SmsSid": f"SM{sms_id}",
                "SmsStatus": "received",
                "To": to,
            }
            return self.twilio_webhook(url, fields)
        payload = {
            "type": "mo_text",
            "id": sms_id,
            "from": sender.lstrip("+"),
            "to": to.lstrip("+"),
            "body": text,
            "received_at": datetime.now(UTC).isoformat(),
            "operator_id": "24001",
        }
        return self.sinch_webhook(url, payload)

    def elks_webhook(self, url: str, fields: Mapping[str, str]) -> WebhookRequest:
        """A 46elks callback: a form POST; its authenticity is the token already in ``url``."""
        return WebhookRequest(
            "POST",
            url,
            {"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": "176.10.154.199"},
            urlencode(fields).encode(),
        )

    def twilio_webhook(self, url: str, fields: Mapping[str, str]) -> WebhookRequest:
        """A Twilio callback: a form POST signed with the auth token over ``url`` and the sorted fields."""
        signature = twilio_signature(self.twilio_auth_token, url, fields.items())
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
        return WebhookRequest("POST", url, headers, urlencode(fields).encode())

    def sinch_webhook(self, url: str, payload: Mapping[str, Any]) -> WebhookRequest:
        """A Sinch callback: a JSON POST, HMAC-signed when the gateway has a ``sinch_webhook_secret``."""
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if self.sinch_webhook_secret:
            nonce, timestamp = secrets.token_hex(12), str(int(datetime.now(UTC).timestamp()))
            headers |= {
                "x-sinch-webhook-signature-timestamp": timestamp,
                "x-sinch-webhook-signature-nonce": nonce,
                "x-sinch-webhook-signature-algorithm": "HmacSHA256",
                "x-sinch-webhook-signature": sinch_signature(self.sinch_webhook_secret, body, nonce, timestamp),
            }
        return WebhookRequest("POST", url, headers, body)

    def post(self, request: WebhookRequest, *, timeout: float = 5.0) -> tuple[int, bytes]:
        """Send a callback to a loopback web app, as the provider would; return its status and body.

        Raises:
            ValueError: the URL is not a loopback address (the gateway never calls out).
        """
        host = urlsplit(request.url).hostname or ""
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError("the fake gateway only posts to loopback addresses")
        http_request = urllib.request.Request(
            request.url, data=request.body, headers=dict(request.headers), method=request.method
        )
        try:
            with urllib.request.urlopen(http_request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read()

    # -- serving ------------------------------------------------------------------------------------------

    def _handle(self, request: GatewayRequest) -> GatewayResponse | None:
        """Route one request; ``None`` means: drop the connection without answering."""
        for method, pattern, provider, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None or method != request.method:
                continue
            with self._lock:
                self.requests += 1
            fault = self._take_fault(provider)
            if fault is not None:
                if fault.drop:
                    return None
                if fault.delay:
                    self._stopping.wait(fault.delay)
                if fault.response is not None:
                    return fault.response
            return handler(self, request, match)
        return GatewayResponse.json(404, {"message": "The requested resource was not found", "status": 404})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog. socketserver's default of 5 drops connections when a sender opens many at once (a
    # fan-out): they stall on SYN retries or are reset, which a real provider's front end never does.
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connections cut by a test (timeouts, drops) are expected: stay quiet."""


def _make_handler(gateway: FakeGateway) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

        def setup(self) -> None:
            super().setup()
            with gateway._lock:
                gateway._connections.add(self.connection)

        def finish(self) -> None:
            with gateway._lock:
                gateway._connections.discard(self.connection)
            with contextlib.suppress(OSError):
                super().finish()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests assert on what matters."""

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                self._answer(GatewayResponse.text(413, "too large"))
                return
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = GatewayRequest(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            response = gateway._handle(request)
            if response is None:
                self.close_connection = True
                return
            self._answer(response)

        def _answer(self, response: GatewayResponse) -> None:
            try:
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)
            except OSError:
                self.close_connection = True

        do_POST = _serve
        do_GET = _serve

    return _Handler


# -- the providers' send APIs ----------------------------------------------------------------------------


def _elks_send(gateway: FakeGateway, request: GatewayRequest, match: re.Match[str]) -> GatewayResponse:
    if _basic(request.headers) != (gateway.elks_username, gateway.elks_password):
        return GatewayResponse.text(401, "API access requires Basic HTTP authentication")
    form = request.form()
    to, sender, text = form.get("to", ""), form.get("from", ""), form.get("message")
    if not sender or text is None:
        return GatewayResponse.text(400, "Missing key from or message")
    if not _mobile(to):
        return GatewayResponse.text(400, "Invalid to number")
    parts = sms_info(text).segments
    answer: dict[str, Any] = {
        "status": "created",
        "direction": "outgoing",
        "from": sender,
        "to": to,
        "message": text,
        "created": _now(),
        "parts": parts,
    }
    if form.get("dryrun") == "yes":
        return GatewayResponse.json(200, {**answer, "estimated_cost": 3500 * parts})
    sms = SentSms("46elks", f"s{secrets.token_hex(16)}", to, sender, text, form.get("whendelivered"), None, form)
    if not gateway._record(sms):
        return GatewayResponse.text(503, "gateway full")
    return GatewayResponse.json(200, {**answer, "id": sms.id, "cost": 3500 * parts})


def _twilio_error(status: int, code: int, message: str) -> GatewayResponse:
    more = f"https://www.twilio.com/docs/errors/{code}"
    return GatewayResponse.json(status, {"code": code, "message": message, "more_info": more, "status": status})


def _twilio_send(gateway: FakeGateway, request: GatewayRequest, match: re.Match[str]) -> GatewayResponse:
    credentials = (gateway.twilio_account_sid, gateway.twilio_auth_token)
    if _basic(request.headers) != credentials or match["sid"] != gateway.twilio_account_sid:
        return _twilio_error(401, 20003, "Authenticate")
    form = request.form()
    to, body = form.get("To", ""), form.get("Body")
    sender = form.get("From") or form.get("MessagingServiceSid") or ""
    if not sender or body is None:
        return _twilio_error(400, 21603, "The 'From' number is required.")
    if not _mobile(to):
        return _twilio_error(400, 21211, "Invalid 'To' Phone Number")
    sms = SentSms("twilio", f"SM{secrets.token_hex(16)}", to, sender, body, form.get("StatusCallback"), None, form)
    if not gateway._record(sms):
        return _twilio_error(503, 20500, "gateway full")
    return GatewayResponse.json(
        201,
        {
            "sid": sms.id,
            "account_sid": gateway.twilio_account_sid,
            "to": to,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": body,
            "status": "queued",
            "num_segments": str(sms_info(body).segments),
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "error_code": None,
            "error_message": None,
            "price": None,
            "price_unit": "USD",
            "uri": f"/2010-04-01/Accounts/{gateway.twilio_account_sid}/Messages/{sms.id}.json",
        },
    )


def _sinch_send(gateway: FakeGateway, request: GatewayRequest, match: re.Match[str]) -> GatewayResponse:
    if request.headers.get("authorization") != f"Bearer {gateway.sinch_api_token}":
        return GatewayResponse.json(401, {"code": "unauthorized", "text": "Invalid credentials"})
    if match["plan"] != gateway.sinch_service_plan_id:
        return GatewayResponse.json(403, {"code": "forbidden", "text": "Service plan not found"})
    try:
        payload = json.loads(request.body)
    except ValueError:
        return GatewayResponse.json(400, {"code": "syntax_invalid_json", "text": "The JSON is invalid"})
    recipients, sender, text = payload.get("to"), payload.get("from"), payload.get("body")
    if not isinstance(recipients, list) or len(recipients) != 1 or not sender or not isinstance(text, str):
        return GatewayResponse.json(400, {"code": "syntax_constraint_violation", "text": "to, from and body"})
    if not _mobile(recipients[0]):
        return GatewayResponse.json(403, {"code": "illegal_number_type", "text": "Illegal number type"})
    sms = SentSms(
        "sinch",
        secrets.token_hex(13).upper(),
        recipients[0],
        sender,
        text,
        payload.get("callback_url"),
        payload.get("client_reference"),
        payload,
    )
    if not gateway._record(sms):
        return GatewayResponse.json(503, {"code": "internal_error", "text": "gateway full"})
    now = datetime.now(UTC).isoformat()
    return GatewayResponse.json(
        201,
        {
            "id": sms.id,
            "to": [recipients[0].lstrip("+")],
            "from": sender,
            "canceled": False,
            "body": text,
            "type": "mt_text",
            "created_at": now,
            "modified_at": now,
            "delivery_report": payload.get("delivery_report", "none"),
            "client_reference": sms.reference,
            "flash_message": False,
        },
    )
