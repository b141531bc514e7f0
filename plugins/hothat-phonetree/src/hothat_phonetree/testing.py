"""Test doubles for calls: a fake voice gateway for 46elks, Twilio and Sinch, and a loopback web app.

:class:`FakeVoiceGateway` extends ``hothat_sms.testing.FakeGateway`` (the same loopback server, faults and
credential checks) with the three providers' call APIs. It records every call it is asked to place and, when
told to complete it, plays the callee a test scripted (:class:`Callee`): it follows the call's own
instructions (TwiML, 46elks actions, SVAML) as the provider would, presses the scripted keys, and posts each
callback (signed or MAC'd as the provider would) to the web app, whose answer decides the next step.

:class:`WebhookServer` is that web app: an asyncio HTTP server on 127.0.0.1 that hands every request, with
its exact public URL, to a handler such as ``engine.inbound`` and answers with the result.

Example::

    async with WebhookServer.for_engine(engine) as app:         # or build the channel's settings first
        with FakeVoiceGateway() as gateway:
            settings = VoiceSettings.model_validate(
                {"public_base_url": f"{app.url}/hooks/voice", "providers": [gateway.voice_table("twilio")]}
            )
            ...
            gateway.expect("+46701740621", Callee.presses("1"))
            [record] = await asyncio.to_thread(gateway.complete_all)

Nothing sleeps: a call rings, is answered and ends as fast as the callbacks go. Every loop is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

import attrs
import phonenumbers

from hothat.channels import InboundResult
from hothat.errors import HothatError, InboundError
from hothat_phonetree._settings import LOCALES, REQUIRED_PROMPTS
from hothat_phonetree._signing import sinch_application_signature
from hothat_sms.testing import FakeGateway, GatewayRequest, GatewayResponse, WebhookRequest

__all__ = ["CallRecord", "Callee", "Exchange", "FakeVoiceGateway", "PlacedCall", "WebhookServer"]

log = logging.getLogger("hothat_phonetree.testing")

_MAX_STEPS = 25
"""Callbacks one call may make before the fake gives up on it (a loop in the web app's answers)."""
_TTS = re.compile(r"#tts\[(.*?)\]")

Outcome = Literal["answer", "busy", "no_answer", "failed", "voicemail", "hang_up"]


@attrs.frozen
class Callee:
    """How the person (or machine) at a number behaves when called.

    Attributes:
        outcome: ``answer`` (a person picks up), ``busy``, ``no_answer``, ``failed`` (the network could not
            connect), ``voicemail`` (a machine picks up) or ``hang_up`` (a person picks up and hangs up while
            the message plays).
        keys: the keys pressed, one per prompt, in order (a machine's "keys" test that it is not believed).
    """

    outcome: Outcome = "answer"
    keys: tuple[str, ...] = ()

    @classmethod
    def presses(cls, *keys: str) -> Callee:
        """A person who answers and presses ``keys`` (``"*", "1"``: hear it again, then take it)."""
        return cls("answer", keys)

    @classmethod
    def silent(cls) -> Callee:
        """A person who answers and presses nothing."""
        return cls("answer")

    @classmethod
    def busy(cls) -> Callee:
        """The line is busy."""
        return cls("busy")

    @classmethod
    def no_answer(cls) -> Callee:
        """Nobody picks up."""
        return cls("no_answer")

    @classmethod
    def failed(cls) -> Callee:
        """The call cannot be connected."""
        return cls("failed")

    @classmethod
    def voicemail(cls, *keys: str) -> Callee:
        """An answering machine picks up (and, to test it is never believed, may "press" ``keys``)."""
        return cls("voicemail", keys)

    @classmethod
    def hangs_up(cls) -> Callee:
        """A person picks up and hangs up while the message plays."""
        return cls("hang_up")


@attrs.frozen
class PlacedCall:
    """One call the gateway was asked to place.

    Attributes:
        provider: ``"46elks"``, ``"twilio"`` or ``"sinch"``.
        id: the call id the gateway gave it.
        to: the number called (E.164).
        caller_id: the number shown to the callee.
        fields: every field of the request, as read (form fields, or the Sinch JSON body).
    """

    provider: str
    id: str
    to: str
    caller_id: str
    fields: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Exchange:
    """One callback the gateway made: where to, and what the web app answered."""

    url: str
    fields: Mapping[str, Any]
    status: int
    body: bytes


@attrs.frozen
class CallRecord:
    """How a completed call went.

    Attributes:
        call: the call.
        callee: the behaviour played.
        heard: what the callee heard, in order: sentences said, or audio URLs played (46elks).
        pressed: the keys the provider passed on.
        exchanges: every callback and the web app's answer.
    """

    call: PlacedCall
    callee: Callee
    heard: tuple[str, ...]
    pressed: tuple[str, ...]
    exchanges: tuple[Exchange, ...]


def _callable(number: str) -> bool:
    if number == "+4670000000":  # 46elks' free test number
        return True
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number))
    except phonenumbers.NumberParseException:
        return False


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _now_elks() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat()


class FakeVoiceGateway(FakeGateway):
    """The SMS fake gateway, plus the 46elks, Twilio and Sinch call APIs and scripted callees.

    Args:
        sinch_application_key, sinch_application_secret: the Sinch Voice credentials it accepts (the secret,
            base64, signs callbacks).
        max_calls: refuse (503) beyond this many calls, so a runaway test stays bounded.
        **kwargs: passed to :class:`~hothat_sms.testing.FakeGateway` (the other providers' credentials).
    """

    def __init__(
        self,
        *,
        sinch_application_key: str = "669E367E-6BBA-48AB-AF15-266871C28135",
        sinch_application_secret: str = base64.b64encode(b"sinch-voice-secret-for-tests").decode(),
        max_calls: int = 1000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sinch_application_key, self.sinch_application_secret = sinch_application_key, sinch_application_secret
        self.max_calls = max_calls
        self.sinch_callback_url: str | None = None
        """The Sinch application's callback URL (where DICE goes); the ACE URL of the call if not set."""
        self._calls: list[PlacedCall] = []
        self._done: set[str] = set()
        self._callees: dict[str, list[Callee]] = {}
        self.add_route("POST", r"/a1/calls", "46elks", _elks_call)
        self.add_route("POST", r"/2010-04-01/Accounts/(?P<sid>[^/]+)/Calls\.json", "twilio", _twilio_call)
        self.add_route("POST", r"/calling/v1/callouts", "sinch", _sinch_callout)

    def __enter__(self) -> FakeVoiceGateway:
        self.start()
        return self

    # -- configuration helpers ----------------------------------------------------------------------------

    def voice_table(self, provider: str, **overrides: Any) -> dict[str, Any]:
        """A ``[[channels.voice.providers]]`` table pointing at this gateway with matching credentials."""
        prompts = {name: f"https://media.kommun.example/hothat/sv/{name}.mp3" for name in REQUIRED_PROMPTS}
        prompts |= {
            f"{lang}:{name}": f"https://media.kommun.example/hothat/{lang}/{name}.mp3"
            for lang in LOCALES
            if lang != "sv"
            for name in REQUIRED_PROMPTS
        }
        tables: dict[str, dict[str, Any]] = {
            "46elks": {
                "provider": "46elks",
                "base_url": f"{self.url}/a1",
                "username": self.elks_username,
                "password": self.elks_password,
                "caller_id": "+46766861004",
                "webhook_token": self.webhook_token,
                "prompts": prompts,
            },
            "twilio": {
                "provider": "twilio",
                "base_url": self.url,
                "account_sid": self.twilio_account_sid,
                "auth_token": self.twilio_auth_token,
                "caller_id": "+46766861005",
            },
            "sinch": {
                "provider": "sinch",
                "base_url": self.url,
                "application_key": self.sinch_application_key,
                "application_secret": self.sinch_application_secret,
                "caller_id": "+46766861006",
            },
        }
        return {**tables[provider], **overrides}

    def expect(self, number: str, *callees: Callee) -> None:
        """Script the calls to ``number``: the first call meets ``callees[0]``, and so on; the last repeats.

        An unscripted number does not answer.
        """
        with self._lock:
            self._callees[number] = list(callees)

    # -- calls --------------------------------------------------------------------------------------------

    @property
    def calls(self) -> list[PlacedCall]:
        """Every call placed so far, oldest first (a copy)."""
        with self._lock:
            return list(self._calls)

    def pending(self) -> list[PlacedCall]:
        """The calls placed but not yet completed, oldest first."""
        with self._lock:
            return [c for c in self._calls if c.id not in self._done]

    def wait_for_calls(self, count: int, timeout: float = 5.0) -> list[PlacedCall]:
        """Block until at least ``count`` calls were placed; return them.

        Raises:
            TimeoutError: fewer came within ``timeout`` seconds.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._calls) >= count, timeout):
                raise TimeoutError(f"expected {count} calls, the gateway got {len(self._calls)}")
            return list(self._calls)

    def _place(self, call: PlacedCall) -> bool:
        with self._changed:
            if len(self._calls) >= self.max_calls:
                return False
            self._calls.append(call)
            self._changed.notify_all()
            return True

    def complete_all(self) -> list[CallRecord]:
        """Complete every pending call (see :meth:`complete`), oldest first. Blocking: run it off the loop."""
        return [self.complete(call) for call in self.pending()]

    def complete(self, call: PlacedCall) -> CallRecord:
        """Play the scripted callee at ``call.to`` through the whole call, posting each callback.

        Blocking (it waits for the web app's answers): in an async test, ``await asyncio.to_thread(...)``.

        Raises:
            ValueError: the call was completed already.
        """
        with self._lock:
            if call.id in self._done:
                raise ValueError(f"call {call.id} was completed already")
            self._done.add(call.id)
            script = self._callees.get(call.to, [])
            callee = (script.pop(0) if len(script) > 1 else script[0]) if script else Callee.no_answer()
        run = _Run(self, call, callee)
        if call.provider == "twilio":
            run.twilio()
        elif call.provider == "46elks":
            run.elks()
        else:
            run.sinch()
        return CallRecord(call, callee, tuple(run.heard), tuple(run.pressed), tuple(run.exchanges))

    def sinch_voice_webhook(self, url: str, payload: Mapping[str, Any]) -> WebhookRequest:
        """A Sinch Voice callback: JSON, signed ``Authorization: Application key:signature`` with a fresh
        ``x-timestamp``, as Sinch signs it."""
        body = json.dumps(payload).encode()
        timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        signature = sinch_application_signature(
            self.sinch_application_secret, "POST", body, "application/json", timestamp, urlsplit(url).path
        )
        headers = {
            "Content-Type": "application/json",
            "x-timestamp": timestamp,
            "Authorization": f"Application {self.sinch_application_key}:{signature}",
        }
        return WebhookRequest("POST", url, headers, body)


class _Run:
    """One call being played through: the callee, what they heard, and the callbacks made."""

    def __init__(self, gateway: FakeVoiceGateway, call: PlacedCall, callee: Callee) -> None:
        self.gateway, self.call, self.callee = gateway, call, callee
        self.keys = list(callee.keys)
        self.heard: list[str] = []
        self.pressed: list[str] = []
        self.exchanges: list[Exchange] = []
        self.steps = 0

    def post(self, request: WebhookRequest, fields: Mapping[str, Any]) -> bytes:
        self.steps += 1
        if self.steps > _MAX_STEPS:
            raise RuntimeError(f"call {self.call.id} made more than {_MAX_STEPS} callbacks: a loop?")
        status, body = self.gateway.post(request)
        self.exchanges.append(Exchange(request.url, dict(fields), status, body))
        return body if 200 <= status < 300 else b""

    def key(self) -> str | None:
        """The next key, if the callee presses one now (a person who hangs up presses nothing)."""
        if self.callee.outcome not in ("answer", "voicemail") or not self.keys:
            return None
        return self.keys.pop(0)

    # -- Twilio -------------------------------------------------------------------------------------------

    def twilio(self) -> None:
        g, call = self.gateway, self.call
        base = {
            "AccountSid": g.twilio_account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": call.id,
            "Direction": "outbound-api",
            "From": call.caller_id,
            "To": call.to,
        }
        status_url = str(call.fields.get("StatusCallback", ""))
        ended = {"busy": "busy", "no_answer": "no-answer", "failed": "failed"}.get(self.callee.outcome)
        if ended:
            self._twilio_post(status_url, {**base, "CallStatus": ended, "CallDuration": "0"})
            return
        if call.fields.get("MachineDetection") == "Enable":
            base["AnsweredBy"] = "machine_end_beep" if self.callee.outcome == "voicemail" else "human"
        base["CallStatus"] = "in-progress"
        twiml: str | None = str(call.fields.get("Twiml", ""))
        while twiml:
            twiml = self._twiml(twiml, base)
        self._twilio_post(status_url, {**base, "CallStatus": "completed", "CallDuration": "42"})

    def _twilio_post(self, url: str, fields: Mapping[str, str]) -> bytes:
        return self.post(self.gateway.twilio_webhook(url, fields), fields)

    def _twiml(self, twiml: str, base: Mapping[str, str]) -> str | None:
        """Run one TwiML document; return the next one (from a callback), or None when the call ends."""
        for verb in ET.fromstring(twiml):
            if verb.tag == "Say":
                self.heard.append(verb.text or "")
            elif verb.tag == "Hangup":
                return None
            elif verb.tag == "Redirect":
                return self._twilio_post(verb.text or "", base).decode() or None
            elif verb.tag == "Gather":
                for say in verb:
                    self.heard.append(say.text or "")
                if self.callee.outcome == "hang_up":
                    return None
                key = self.key()
                if key is not None:  # otherwise the Gather times out and the next verb runs
                    self.pressed.append(key)
                    fields = {**base, "Digits": key, "FinishedOnKey": ""}
                    return self._twilio_post(verb.get("action", ""), fields).decode() or None
        return None

    # -- 46elks -------------------------------------------------------------------------------------------

    def elks(self) -> None:
        call = self.call
        hangup_url = str(call.fields.get("whenhangup", ""))
        common = {"callid": call.id, "from": call.caller_id, "to": call.to}
        ended = {"busy": "busy", "no_answer": "failed", "failed": "failed"}.get(self.callee.outcome)
        if ended:
            self._elks_post(hangup_url, {"id": call.id, "direction": "outgoing", "state": ended, **common})
            return
        action: Any = json.loads(str(call.fields.get("voice_start", "{}")))
        while isinstance(action, dict) and action:
            action = self._elks_action(action, common)
        done = {"id": call.id, "direction": "outgoing", "state": "success", "start": _now_elks(), "duration": "42"}
        self._elks_post(hangup_url, {**done, **common})

    def _elks_post(self, url: str, fields: Mapping[str, str]) -> bytes:
        return self.post(self.gateway.elks_webhook(url, fields), fields)

    def _elks_action(self, action: Mapping[str, Any], common: Mapping[str, str]) -> Any:
        """Run one 46elks action; return the next (from ``next``), or None when the call ends."""
        if "ivr" in action:
            result: dict[str, str] = {"result": "failed", "why": "noinput"}
            for _ in range(max(1, int(action.get("repeat", 3)))):
                self.heard.append(str(action["ivr"]))
                if self.callee.outcome == "hang_up":
                    return None
                key = self.key()  # 46elks cannot tell a machine: its "keys" are passed on as they come
                if key is not None:
                    self.pressed.append(key)
                    result = {"result": key}
                    break
            if "next" not in action:
                return None
            return self._elks_json(self._elks_post(str(action["next"]), {**common, **result}))
        if "play" in action:
            self.heard.append(str(action["play"]))
            if "next" in action:
                return self._elks_json(self._elks_post(str(action["next"]), {**common, "result": "success"}))
        return None

    @staticmethod
    def _elks_json(body: bytes) -> Any:
        try:
            return json.loads(body) if body else None
        except ValueError:
            return None  # not a valid action: 46elks ends the call

    # -- Sinch --------------------------------------------------------------------------------------------

    def sinch(self) -> None:
        g, call = self.gateway, self.call
        custom = call.fields.get("custom", "")
        ice = json.loads(str(call.fields.get("ice", "{}"))).get("action", {})
        ace_url = str(call.fields.get("ace", ""))
        dice_url = g.sinch_callback_url or ace_url
        base = {"callid": call.id, "version": 1, "custom": custom, "applicationKey": g.sinch_application_key}
        ended = {"busy": "BUSY", "no_answer": "NOANSWER", "failed": "FAILED"}.get(self.callee.outcome)
        if ended:
            reason = {"BUSY": "CALLEEHANGUP", "NOANSWER": "TIMEOUT", "FAILED": "GENERALERROR"}[ended]
            self._sinch_post(dice_url, {"event": "dice", **base, "result": ended, "reason": reason})
            return
        ace: dict[str, Any] = {"event": "ace", **base}
        if isinstance(ice.get("amd"), dict) and ice["amd"].get("enabled"):
            machine = self.callee.outcome == "voicemail"
            ace["amd"] = {"status": "machine" if machine else "human", "reason": "greeting", "duration": 3}
        svaml: Any = json.loads(self._sinch_post(ace_url, ace) or b"{}")
        while isinstance(svaml, dict) and svaml:
            svaml = self._svaml(svaml, base, str(call.fields.get("pie", ace_url)))
        self._sinch_post(dice_url, {"event": "dice", **base, "result": "ANSWERED", "reason": "MANAGERHANGUP"})

    def _sinch_post(self, url: str, payload: dict[str, Any]) -> bytes:
        payload = {**payload, "timestamp": datetime.now(UTC).isoformat()}
        return self.post(self.gateway.sinch_voice_webhook(url, payload), payload)

    def _svaml(self, svaml: Mapping[str, Any], base: Mapping[str, Any], pie_url: str) -> Any:
        """Run one SVAML answer; return the next (from a PIE), or None when the call ends."""
        for instruction in svaml.get("instructions", []):
            if instruction.get("name") == "say":
                self.heard.append(str(instruction.get("text", "")))
        action = svaml.get("action", {})
        if action.get("name") != "runMenu":
            return None
        menu = next(m for m in action.get("menus", []) if m.get("id") == "main")
        options = {o["dtmf"]: o["action"] for o in menu.get("options", [])}
        plays = 0
        while plays <= int(menu.get("repeats", 0)):
            self.heard.extend(_TTS.findall(str(menu.get("mainPrompt" if plays == 0 else "repeatPrompt", ""))))
            if self.callee.outcome == "hang_up":
                return None
            key = self.key()
            if key is None:
                plays += 1
                continue
            self.pressed.append(key)
            option = options.get(key, "")
            if option == "menu(main)":
                plays = 0  # Sinch replays the menu itself: no callback
                continue
            returned = re.fullmatch(r"return\((.*)\)", option)
            kind, value = ("return", returned[1]) if returned else ("invalidinput", key)
            result = {"menuId": "main", "type": kind, "value": value, "inputMethod": "dtmf"}
            return json.loads(self._sinch_post(pie_url, {"event": "pie", **base, "menuResult": result}) or b"{}")
        timeout = {"menuId": "main", "type": "timeout", "value": "", "inputMethod": ""}
        return json.loads(self._sinch_post(pie_url, {"event": "pie", **base, "menuResult": timeout}) or b"{}")


# -- the providers' call APIs ----------------------------------------------------------------------------


def _elks_call(gateway: FakeGateway, request: GatewayRequest, match: re.Match[str]) -> GatewayResponse:
    assert isinstance(gateway, FakeVoiceGateway)
    if (
        request.headers.get("authorization")
        != "Basic " + base64.b64encode(f"{gateway.elks_username}:{gateway.elks_password}".encode()).decode()
    ):
        return GatewayResponse.text(401, "API access requires Basic HTTP authentication")
    form = request.form()
    to, sender, start = form.get("to", ""), form.get("from", ""), form.get("voice_start", "")
    if not sender or not start:
        return GatewayResponse.text(400, "Missing key from or voice_start")
    if not _callable(to):
        return GatewayResponse.text(400, "Invalid to number")
    call = PlacedCall("46elks", f"c{secrets.token_hex(16)}", to, sender, form)
    if not gateway._place(call):
        return GatewayResponse.text(503, "gateway full")
    answer = {"direction": "outgoing", "from": sender, "to": to, "created": _now_elks(), "state": "ongoing"}
    return GatewayResponse.json(200, {**answer, "timeout": int(form.get("timeout", "60")), "id": call.id})


def _twilio_error(status: int, code: int, message: str) -> GatewayResponse:
    more = f"https://www.twilio.com/docs/errors/{code}"
    return GatewayResponse.json(status, {"code": code, "message": message, "more_info": more, "status": status})


def _twilio_call(gateway: FakeGateway, request: GatewayRequest, match: re.Match[str]) -> GatewayResponse:
    assert isinstance(gateway, FakeVoiceGateway)
    expected = _basic(gateway.twilio_account_sid, gateway.twilio_auth_token)
    if request.headers.get("authorization") != expected or match["sid"] != gateway.twilio_account_sid:
        return _twilio_error(401, 20003, "Authenticate")
    form = request.form()
    to, sender = form.get("To", ""), form.get("From", "")
    if not sender or not (form.get("Twiml") or form.get("Url")):
        return _twilio_error(400, 21205, "Url or Twiml is required")
    if not _callable(to):
        return _twilio_error(400, 21211, "Invalid 'To' Phone Number")
    call = PlacedCall("twilio", f"CA{secrets.token_hex(16)}", to, sender, form)
    if not gateway._place(call):
        return _twilio_error(503, 20500, "gateway full")
    return GatewayResponse.json(
        201,
        {
            "sid": call.id,
            "account_sid": gateway.twilio_account_sid,
            "to": to,
            "from": sender,
            "status": "queued",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{gateway.twilio_account_sid}/Calls/{call.id}.json",
        },
    )


def _sinch_error(status: int, code: str, message: str) -> GatewayResponse:
    return GatewayResponse.json(status, {"errorCode": code, "message": message, "reference": secrets.token_hex(8)})


def _sinch_authorized(gateway: FakeVoiceGateway, request: GatewayRequest) -> bool:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    key, _, signature = credentials.partition(":")
    if scheme == "Basic":
        return (
            credentials
            == base64.b64encode(f"{gateway.sinch_application_key}:{gateway.sinch_application_secret}".encode()).decode()
        )
    if scheme.lower() != "application" or key != gateway.sinch_application_key:
        return False
    expected = sinch_application_signature(
        gateway.sinch_application_secret,
        request.method,
        request.body,
        request.headers.get("content-type", ""),
        request.headers.get("x-timestamp", ""),
        request.path,
    )
    return secrets.compare_digest(expected, signature)


def _sinch_callout(gateway: FakeGateway, request: GatewayRequest, match: re.Match[str]) -> GatewayResponse:
    assert isinstance(gateway, FakeVoiceGateway)
    if not _sinch_authorized(gateway, request):
        return _sinch_error(401, "40100", "Invalid authorization header")
    try:
        payload = json.loads(request.body)
        callout = payload["customCallout"]
        connect = json.loads(callout["ice"])["action"]
    except (ValueError, KeyError, TypeError):
        return _sinch_error(400, "40001", "Invalid customCallout")
    if payload.get("method") != "customCallout" or connect.get("name") != "connectPstn":
        return _sinch_error(400, "40001", "Only customCallout with connectPstn is supported here")
    to = str(connect.get("number", ""))
    if not _callable(to):
        return _sinch_error(400, "40001", "Invalid destination")
    call = PlacedCall("sinch", secrets.token_hex(16), to, str(connect.get("cli", "")), callout)
    if not gateway._place(call):
        return _sinch_error(503, "50300", "gateway full")
    return GatewayResponse.json(200, {"callId": call.id})


# -- the web app -----------------------------------------------------------------------------------------

Handler = Callable[[str, str, Mapping[str, str], bytes], Awaitable[InboundResult]]


class WebhookServer:
    """A loopback web app for tests: each request, with its exact URL, goes to ``handler``; its answer goes back.

    An ``InboundError`` from the handler is answered 403 (the request is not believed), any other hothat error
    500. Use it as an async context manager; :attr:`url` is ``http://127.0.0.1:<port>``.

    Args:
        handler: ``async (method, url, headers, body) -> InboundResult``, e.g. ``engine.inbound`` for a channel.
        max_body: requests with a larger body are refused with 413.
    """

    def __init__(self, handler: Handler, *, max_body: int = 1024 * 1024) -> None:
        self.handler = handler
        self.max_body = max_body
        self.requests: list[tuple[str, int]] = []
        """Each request's URL path and the status answered, in order."""
        self._server: asyncio.Server | None = None

    @classmethod
    def for_engine(cls, engine: Any, channel: str = "voice") -> WebhookServer:
        """A web app that hands every request to ``engine.inbound(channel, ...)``."""

        async def handle(method: str, url: str, headers: Mapping[str, str], body: bytes) -> InboundResult:
            result: InboundResult = await engine.inbound(channel, method, url, headers, body)
            return result

        return cls(handle)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        if self._server is None:
            raise RuntimeError("the web app is not running: use it as an async context manager")
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> WebhookServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, headers, body = await asyncio.wait_for(self._answer(reader), timeout=10)
        except (TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            status, headers, body = 400, {}, b""
        reason = "OK" if status < 400 else "Error"
        head = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}", "Connection: close"]
        head.extend(f"{name}: {value}" for name, value in headers.items())
        with contextlib.suppress(ConnectionError):
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, Mapping[str, str], bytes]:
        request_line = (await reader.readuntil(b"\r\n")).decode("latin-1").strip()
        method, target, _ = request_line.split(" ", 2)
        headers: dict[str, str] = {}
        while (line := (await reader.readuntil(b"\r\n")).decode("latin-1").strip()) and len(headers) < 100:
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
        lowered = {k.lower(): v for k, v in headers.items()}
        length = int(lowered.get("content-length", "0"))
        if length > self.max_body:
            self.requests.append((urlsplit(target).path, 413))
            return 413, {}, b""
        body = await reader.readexactly(length) if length else b""
        url = f"http://{lowered.get('host', '127.0.0.1')}{target}"
        answer_headers: Mapping[str, str] = {}
        try:
            result = await self.handler(method, url, headers, body)
        except InboundError:
            status, answer = 403, b""
        except HothatError:
            log.exception("the web app's handler failed")
            status, answer = 500, b""
        else:
            status, answer_headers, answer = result.status, dict(result.headers), result.body
        self.requests.append((urlsplit(target).path, status))
        return status, answer_headers, answer
