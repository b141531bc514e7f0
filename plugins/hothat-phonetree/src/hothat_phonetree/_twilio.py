"""Twilio: ``POST /2010-04-01/Accounts/{sid}/Calls.json`` with inline TwiML; HMAC-SHA1-signed callbacks.

The call's TwiML plays the message inside ``<Gather numDigits="1">`` (``plays`` times) and, when no key
comes, redirects to our ``nokey`` callback. A key goes to the ``gather`` callback, which answers with the
next TwiML: a short confirmation and ``<Hangup/>``, or the message again. The ``status`` callback (the
``completed`` event) gives busy, no-answer, failed and, with ``MachineDetection=Enable``, the
answering-machine verdict ``AnsweredBy`` (``machine_start``, ``machine_end_beep``, ..., ``fax``): a machine
is never asked for a key and never acknowledges anything.

Every callback URL carries the call's parameters; ``X-Twilio-Signature`` covers the full URL, so they cannot
be forged without the auth token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from xml.sax.saxutils import escape, quoteattr

import httpx

from hothat.channels import DeliveryStatus, InboundEvent
from hothat.errors import InboundError
from hothat_phonetree._base import Callback, CallParams, CallScript, Key, VoiceProvider, is_machine, query_pairs
from hothat_phonetree._settings import TwilioVoiceSettings
from hothat_sms._base import Refusal, basic_auth, form_fields, json_object, pick
from hothat_sms._signing import twilio_signature_valid
from hothat_sms._twilio import twilio_refusal

__all__ = ["MAX_TWIML", "RECIPIENT_CODES", "TwilioProvider"]

MAX_TWIML = 4000
"""Twilio's limit on the ``Twiml`` parameter, in characters."""

RECIPIENT_CODES = {
    13224: "the number is not a valid phone number",
    21211: "the To number is invalid",
    21214: "the To number cannot be reached",
    21217: "the To number does not appear to be valid",
}
"""Twilio error codes about the number called, not about us: no other provider will do better."""

_XML = '<?xml version="1.0" encoding="UTF-8"?>'
_HANGUP = f"{_XML}<Response><Hangup/></Response>"
_ENDED = {
    "busy": DeliveryStatus.BUSY,
    "no-answer": DeliveryStatus.NO_ANSWER,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}


class TwilioProvider(VoiceProvider[TwilioVoiceSettings]):
    """The Twilio adapter."""

    events: ClassVar[frozenset[str]] = frozenset({"gather", "nokey", "status"})

    # -- placing the call ---------------------------------------------------------------------------------

    def build(self, client: httpx.AsyncClient, script: CallScript) -> httpx.Request:
        s, voice = self.settings, self.env.settings
        params = script.params
        data = {
            "To": script.address,
            "From": s.caller_id,
            "Twiml": self._menu(script.text, params, first=True),
            "StatusCallback": self.env.url(self.name, "status", params),
            "StatusCallbackEvent": "completed",
            "StatusCallbackMethod": "POST",
            "Timeout": str(voice.ring_timeout),
            "TimeLimit": str(voice.max_call_duration),
        }
        if s.machine_detection:
            data["MachineDetection"] = "Enable"
        return client.build_request(
            "POST",
            f"{s.api_url}/2010-04-01/Accounts/{s.account_sid}/Calls.json",
            data=data,
            headers={"Authorization": basic_auth(s.account_sid, s.auth_token), "Accept": "application/json"},
        )

    def _say(self, text: str, params: CallParams) -> str:
        voice = self.settings.voices.get(params.locale)
        voice_attr = f" voice={quoteattr(voice)}" if voice else ""
        return f'<Say{voice_attr} language="{params.words.tts}">{escape(text)}</Say>'

    def _menu(self, text: str, params: CallParams, *, first: bool = False) -> str:
        """``text`` inside a ``<Gather>`` (played ``plays`` times, fewer if the TwiML would be too long).

        Raises:
            ValueError: even one play is longer than Twilio takes inline (only for the first TwiML).
        """
        action = quoteattr(self.env.url(self.name, "gather", params))
        gather = (
            f'<Gather input="dtmf" numDigits="1" timeout="{self.env.settings.gather_timeout}" action={action} '
            f'method="POST">{self._say(text, params)}</Gather>'
        )
        tail = f'<Redirect method="POST">{escape(self.env.url(self.name, "nokey", params))}</Redirect></Response>'
        for plays in range(self.env.settings.plays, 0, -1):
            twiml = f"{_XML}<Response>{gather * plays}{tail}"
            if len(twiml) <= MAX_TWIML or not first:
                return twiml
        raise ValueError(f"the message is too long for Twilio's inline TwiML ({MAX_TWIML} characters)")

    def _last_words(self, text: str, params: CallParams) -> str:
        return f"{_XML}<Response>{self._say(text, params)}<Hangup/></Response>"

    def accepted(self, response: httpx.Response) -> tuple[str | None, dict[str, Any]]:
        data = json_object(response)
        sid = data.get("sid")
        return (sid if isinstance(sid, str) else None), pick(data, "sid", "status")

    def refused(self, response: httpx.Response) -> Refusal:
        return twilio_refusal(response, RECIPIENT_CODES)

    # -- callbacks ----------------------------------------------------------------------------------------

    def verify(self, event: str, url: str, headers: Mapping[str, str], body: bytes) -> None:
        signature = headers.get("x-twilio-signature")
        if not signature:
            raise InboundError("the callback has no X-Twilio-Signature")
        fields = form_fields(body)
        if not twilio_signature_valid(self.settings.auth_token.get_secret_value(), url, fields, signature):
            raise InboundError("the X-Twilio-Signature does not match")
        account = dict(fields).get("AccountSid")
        if account is not None and account != self.settings.account_sid:
            raise InboundError("the callback is for another Twilio account")

    def handle(self, event: str, url: str, headers: Mapping[str, str], body: bytes) -> Callback:
        fields = dict(form_fields(body))
        params = CallParams.parse(query_pairs(url))
        sid = fields.get("CallSid", "")
        if not sid:
            raise InboundError("a Twilio call callback without CallSid")
        address = self.env.address(params, fields.get("To", ""))
        machine = is_machine(fields.get("AnsweredBy", ""))
        if event == "status":
            return self._status(fields, params, sid, address, machine)
        keys = ((self.name, sid, event, str(params.turn), fields.get("Digits", "")),)
        if machine:  # a machine picked up: it is never asked for a key, whatever it "pressed"
            events = self.env.told(params, DeliveryStatus.VOICEMAIL, address, sid)
            return self._twiml(_HANGUP, events, keys)
        if event == "nokey":
            events = self.env.told(params, DeliveryStatus.ANSWERED_NO_KEY, address, sid)
            return self._twiml(_HANGUP, events, keys)
        action, events = self.env.on_key(fields.get("Digits", ""), params, address, sid)
        words = params.words
        twiml = {
            Key.ACKNOWLEDGED: lambda: self._last_words(words.acknowledged, params),
            Key.DECLINED: lambda: self._last_words(words.declined, params),
            Key.GOODBYE: lambda: self._last_words(words.goodbye, params),
            Key.REPLAY: lambda: self._menu(self.env.text(params), params.next_turn()),
            Key.INVALID: lambda: self._menu(words.invalid, params.next_turn()),
            Key.NO_KEY: lambda: _HANGUP,
        }[action]()
        return self._twiml(twiml, events, keys)

    def _status(self, fields: Mapping[str, str], params: CallParams, sid: str, address: str, machine: bool) -> Callback:
        status = fields.get("CallStatus", "")
        keys = ((self.name, sid, "status", status),)
        events: tuple[InboundEvent, ...] = ()
        if status in _ENDED:
            events = self.env.told(params, _ENDED[status], address, sid)
        elif status == "completed" and machine:
            events = self.env.told(params, DeliveryStatus.VOICEMAIL, address, sid)
        elif status == "completed":  # a person hung up before any key: only if we know no outcome was told
            events = self.env.told(params, DeliveryStatus.ANSWERED_NO_KEY, address, sid, if_unknown=False)
        return Callback(events, keys)

    @staticmethod
    def _twiml(twiml: str, events: tuple[InboundEvent, ...], keys: tuple[tuple[str, ...], ...]) -> Callback:
        return Callback(events, keys, 200, twiml.encode(), {"Content-Type": "text/xml; charset=utf-8"})
