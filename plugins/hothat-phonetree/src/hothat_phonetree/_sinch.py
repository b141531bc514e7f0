"""Sinch Voice (Calling API v1): a ``customCallout`` steered by signed JSON callbacks answered with SVAML.

The callout's inline ICE connects the number (``connectPstn``, with answering-machine detection when
``machine_detection`` is set). Sinch then posts, to our one ``callback`` URL:

- **ACE** (answered): ``amd.status`` ``machine`` → ``hangup`` and the call is recorded as voicemail; otherwise
  ``runMenu``: the message as text-to-speech (``#tts[...]``, locale ``sv-SE``), keys 1 and 2 return to us,
  star replays the menu inside Sinch, silence replays it ``plays`` times;
- **PIE** (a menu result): ``return`` with the key, ``timeout`` after the last play, ``hangup``;
- **DICE** (disconnected, informational): ``result`` ``ANSWERED``, ``BUSY``, ``NOANSWER`` or ``FAILED``. DICE goes
  to the application's callback URL set in the Sinch dashboard: set it to this channel's ``callback`` URL.

The message key travels in the callout's ``custom`` field, which Sinch echoes in every callback; callbacks are
signed over their body (``Authorization: Application key:signature``), so it cannot be forged or altered, and a
stale ``x-timestamp`` is refused.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from hothat.channels import DeliveryStatus, InboundEvent
from hothat.errors import InboundError
from hothat_phonetree._base import Callback, CallParams, CallScript, Env, Key, VoiceProvider, is_machine
from hothat_phonetree._settings import SinchVoiceSettings
from hothat_phonetree._signing import sinch_application_signature
from hothat_sms._base import Refusal, basic_auth, by_status, json_object, pick

__all__ = ["CALLOUT_PATH", "SinchProvider", "tts_prompt"]

CALLOUT_PATH = "/calling/v1/callouts"
_CONTENT_TYPE = "application/json"
_MAX_BODY = 64 * 1024
_TTS_CHUNK = 600  # Sinch's default text-to-speech limit per prompt
_ENDED = {"BUSY": DeliveryStatus.BUSY, "NOANSWER": DeliveryStatus.NO_ANSWER, "FAILED": DeliveryStatus.FAILED}
_HANGUP: dict[str, Any] = {"instructions": [], "action": {"name": "hangup"}}
_FRACTION = re.compile(r"(\.\d{6})\d+")


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def tts_prompt(text: str) -> str:
    """``text`` as Sinch prompts: ``#tts[...]`` pieces of at most 600 characters, joined with ``;``.

    ``[``, ``]`` and ``;`` would end a prompt early, so they are replaced; pieces are cut at sentence ends.
    """
    clean = text.replace("[", "(").replace("]", ")").replace(";", ",")
    parts: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", clean.strip()):
        while len(sentence) > _TTS_CHUNK:  # one very long sentence: cut it at a space
            cut = sentence.rfind(" ", 0, _TTS_CHUNK)
            cut = cut if cut > 0 else _TTS_CHUNK
            parts.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        parts.append(sentence)
    pieces: list[str] = []
    current = ""
    for part in parts:
        if current and len(current) + 1 + len(part) > _TTS_CHUNK:
            pieces.append(current)
            current = part
        else:
            current = f"{current} {part}".strip()
    if current:
        pieces.append(current)
    return ";".join(f"#tts[{piece}]" for piece in pieces)


class SinchProvider(VoiceProvider[SinchVoiceSettings]):
    """The Sinch Voice adapter."""

    events: ClassVar[frozenset[str]] = frozenset({"callback"})

    def __init__(self, settings: SinchVoiceSettings, env: Env) -> None:
        super().__init__(settings, env)
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        """The wall clock for signing and for checking callbacks' ``x-timestamp`` (tests may replace it)."""

    def _sign(self, method: str, body: bytes, timestamp: str, path: str, content_type: str = _CONTENT_TYPE) -> str:
        secret = self.settings.application_secret.get_secret_value()
        return sinch_application_signature(secret, method, body, content_type, timestamp, path)

    def build(self, client: httpx.AsyncClient, script: CallScript) -> httpx.Request:
        s, voice = self.settings, self.env.settings
        params = script.params
        connect: dict[str, Any] = {
            "name": "connectPstn",
            "number": script.address,
            "cli": s.caller_id,
            "maxDuration": voice.max_call_duration,
            "dialTimeout": voice.ring_timeout,
            "locale": params.words.tts,
        }
        if s.machine_detection:
            connect["amd"] = {"enabled": True}
        callback = self.env.url(self.name, "callback")
        payload = {
            "method": "customCallout",
            "customCallout": {
                "ice": _dumps({"action": connect}),
                "ace": callback,
                "pie": callback,
                "custom": urlencode(params.pairs()),
                "maxDuration": voice.max_call_duration,
            },
        }
        body = _dumps(payload).encode()
        headers = {"Content-Type": _CONTENT_TYPE, "Accept": "application/json"}
        if s.auth == "basic":
            headers["Authorization"] = basic_auth(s.application_key, s.application_secret)
        else:
            timestamp = self.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            headers["x-timestamp"] = timestamp
            signature = self._sign("POST", body, timestamp, urlsplit(s.api_url).path.rstrip("/") + CALLOUT_PATH)
            headers["Authorization"] = f"Application {s.application_key}:{signature}"
        return client.build_request("POST", f"{s.api_url}{CALLOUT_PATH}", content=body, headers=headers)

    def accepted(self, response: httpx.Response) -> tuple[str | None, dict[str, Any]]:
        data = json_object(response)
        call_id = data.get("callId")
        return (call_id if isinstance(call_id, str) else None), pick(data, "callId")

    def refused(self, response: httpx.Response) -> Refusal:
        code = json_object(response).get("errorCode")
        refusal = by_status(response)
        if isinstance(code, str | int) and str(code).isdigit():
            return Refusal(refusal.scope, f"Sinch {code}: {refusal.reason}", refusal.retry_after)
        return refusal

    # -- callbacks ----------------------------------------------------------------------------------------

    def verify(self, event: str, url: str, headers: Mapping[str, str], body: bytes) -> None:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        key, _, signature = credentials.partition(":")
        if scheme.lower() != "application" or not key or not signature:
            raise InboundError("the callback is not signed (no 'Authorization: Application key:signature')")
        if not hmac.compare_digest(key.lower().encode(), self.settings.application_key.lower().encode()):
            raise InboundError("the callback is signed for another Sinch application")
        timestamp = headers.get("x-timestamp", "")
        try:
            when = datetime.fromisoformat(_FRACTION.sub(r"\1", timestamp.replace("Z", "+00:00")))
        except ValueError:
            raise InboundError("the callback's x-timestamp is missing or unreadable") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if abs((self.now() - when).total_seconds()) > self.settings.max_clock_skew:
            raise InboundError("the callback's x-timestamp is too old (or our clock is wrong)")
        expected = self._sign("POST", body, timestamp, urlsplit(url).path, headers.get("content-type", ""))
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise InboundError("the callback's signature does not match")

    def handle(self, event: str, url: str, headers: Mapping[str, str], body: bytes) -> Callback:
        if len(body) > _MAX_BODY:
            raise InboundError("the callback body is too large")
        try:
            data = json.loads(body)
        except ValueError:
            raise InboundError("the callback body is not JSON") from None
        if not isinstance(data, dict):
            raise InboundError("the callback body is not a JSON object")
        kind = str(data.get("event", ""))
        call_id = str(data.get("callid") or data.get("callId") or "")
        if kind in ("ice", "notify") or not call_id:
            # A call *to* our number, or a notice: not a call of ours. An incoming call is hung up.
            return self._svaml(_HANGUP, (), ()) if kind == "ice" else Callback(status=200)
        custom = data.get("custom")
        params = CallParams.parse(dict(parse_qsl(custom if isinstance(custom, str) else "", max_num_fields=20)))
        address = self.env.address(params)
        stamp = str(data.get("timestamp", ""))
        if kind == "ace":
            return self._answered(data, params, call_id, address)
        if kind == "pie":
            return self._input(data, params, call_id, address, stamp)
        if kind == "dice":
            return self._disconnected(data, params, call_id, address)
        raise InboundError("a Sinch callback of an unknown kind")

    def _answered(self, data: Mapping[str, Any], params: CallParams, call_id: str, address: str) -> Callback:
        keys = ((self.name, call_id, "ace"),)
        amd = data.get("amd")
        if isinstance(amd, dict) and is_machine(str(amd.get("status", ""))):
            events = self.env.told(params, DeliveryStatus.VOICEMAIL, address, call_id)
            return self._svaml(_HANGUP, events, keys)
        return self._svaml(self._menu(self.env.text(params), params), (), keys)

    def _input(self, data: Mapping[str, Any], params: CallParams, call_id: str, address: str, stamp: str) -> Callback:
        result = data.get("menuResult")
        result = result if isinstance(result, dict) else {}
        kind, value = str(result.get("type", "")), str(result.get("value", ""))
        keys = ((self.name, call_id, "pie", stamp, kind, value),)
        if kind in ("timeout", "hangup") or not kind:
            events = self.env.told(params, DeliveryStatus.ANSWERED_NO_KEY, address, call_id)
            return self._svaml(_HANGUP, events, keys)
        # "return" carries the key (1 or 2); "invalidinput", "error" and the rest are explained again.
        action, events = self.env.on_key(value if kind in ("return", "sequence") else "?", params, address, call_id)
        words = params.words
        svaml = {
            Key.ACKNOWLEDGED: lambda: self._last_words(words.acknowledged, params),
            Key.DECLINED: lambda: self._last_words(words.declined, params),
            Key.GOODBYE: lambda: self._last_words(words.goodbye, params),
            Key.REPLAY: lambda: self._menu(self.env.text(params), params),
            Key.INVALID: lambda: self._menu(words.invalid + " " + self.env.text(params), params),
            Key.NO_KEY: lambda: _HANGUP,
        }[action]()
        return self._svaml(svaml, events, keys)

    def _disconnected(self, data: Mapping[str, Any], params: CallParams, call_id: str, address: str) -> Callback:
        result = str(data.get("result", ""))
        keys = ((self.name, call_id, "dice"),)
        events: tuple[InboundEvent, ...] = ()
        if result in _ENDED:
            events = self.env.told(params, _ENDED[result], address, call_id)
        elif result == "ANSWERED":  # hung up before any key (or the outcome was told already)
            events = self.env.told(params, DeliveryStatus.ANSWERED_NO_KEY, address, call_id, if_unknown=False)
        return Callback(events, keys, status=200)

    def _menu(self, text: str, params: CallParams) -> dict[str, Any]:
        prompt = tts_prompt(text)
        menu = {
            "id": "main",
            "mainPrompt": prompt,
            "repeatPrompt": prompt,
            "repeats": self.env.settings.plays - 1,
            "maxDigits": 1,
            "timeoutMills": self.env.settings.gather_timeout * 1000,
            "options": [
                {"dtmf": "1", "action": "return(1)"},
                {"dtmf": "2", "action": "return(2)"},
                {"dtmf": "*", "action": "menu(main)"},
            ],
        }
        action = {"name": "runMenu", "barge": True, "locale": params.words.tts, "menus": [menu]}
        return {"instructions": [], "action": action}

    @staticmethod
    def _last_words(text: str, params: CallParams) -> dict[str, Any]:
        say = {"name": "say", "text": text, "locale": params.words.tts}
        return {"instructions": [say], "action": {"name": "hangup"}}

    @staticmethod
    def _svaml(
        svaml: Mapping[str, Any], events: tuple[InboundEvent, ...], keys: tuple[tuple[str, ...], ...]
    ) -> Callback:
        return Callback(events, keys, 200, _dumps(svaml).encode(), {"Content-Type": "application/json"})
