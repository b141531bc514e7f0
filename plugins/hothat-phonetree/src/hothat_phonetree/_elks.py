"""46elks: ``POST /a1/calls`` (form, Basic auth) whose ``voice_start`` is an ``ivr`` action; form callbacks.

46elks has no text-to-speech: the message is the recording configured for its prompt id (``notify.minimal``)
and the confirmations are recordings too. The ``ivr`` action plays it ``plays`` times and posts the key to
our ``ivr`` callback (``result`` = the digit, or ``failed`` with ``why=noinput``), which answers with the
next action: the confirmation recording (the call ends after it), the menu again, or ``hangup``. The
``whenhangup`` callback, given on the initial request so that calls that never connect are reported too,
gives the call's final ``state``: ``success``, ``busy`` or ``failed``.

46elks cannot tell an answering machine from a person: a voicemail that picks up hears the recording, presses
nothing and is reported as answered without a key. It never acknowledges anything. 46elks reports a call
nobody picked up and one that failed both as ``failed``; hothat records them as not answered.

46elks signs nothing: every callback URL carries the call's parameters and an HMAC over them keyed with
``webhook_token``, so a URL cannot be made up or altered; ``allowed_ips`` adds 46elks' address list.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from hothat.channels import DeliveryStatus, InboundEvent
from hothat.errors import InboundError
from hothat_phonetree._base import Callback, CallParams, CallScript, Key, VoiceProvider, query_pairs, url_mac
from hothat_phonetree._settings import ElksVoiceSettings
from hothat_sms._base import Refusal, Scope, basic_auth, by_status, form_fields, json_object, pick

__all__ = ["ElksProvider"]

_HANGUP = {"hangup": "reject"}  # after the first action, 46elks only allows "reject"
_ENDED = {"busy": DeliveryStatus.BUSY, "failed": DeliveryStatus.NO_ANSWER}


class ElksProvider(VoiceProvider[ElksVoiceSettings]):
    """The 46elks adapter."""

    events: ClassVar[frozenset[str]] = frozenset({"ivr", "hangup"})

    def _url(self, event: str, params: CallParams) -> str:
        return self.env.url(self.name, event, params, self.settings.webhook_token)

    def _menu(self, params: CallParams) -> dict[str, Any]:
        """The ``ivr`` action that plays the call's recording and listens for one key.

        Raises:
            ValueError: no recording is configured for the call's prompt.
        """
        audio = self.settings.prompt_url(params.prompt, params.locale)
        if audio is None:
            raise ValueError(f"no recording is configured for prompt {params.prompt!r}")
        return {
            "ivr": audio,
            "digits": 1,
            "timeout": self.env.settings.gather_timeout,
            "repeat": self.env.settings.plays,
            "next": self._url("ivr", params),
        }

    def build(self, client: httpx.AsyncClient, script: CallScript) -> httpx.Request:
        s = self.settings
        params = script.params
        data = {
            "from": s.caller_id,
            "to": script.address,
            "voice_start": json.dumps(self._menu(params), separators=(",", ":")),
            "whenhangup": self._url("hangup", params),
            "timeout": str(self.env.settings.ring_timeout),
        }
        return client.build_request(
            "POST",
            f"{s.api_url}/calls",
            data=data,
            headers={"Authorization": basic_auth(s.username, s.password), "Accept": "application/json"},
        )

    def accepted(self, response: httpx.Response) -> tuple[str | None, dict[str, Any]]:
        data = json_object(response)
        call_id = data.get("id")
        return (call_id if isinstance(call_id, str) else None), pick(data, "id", "state")

    def refused(self, response: httpx.Response) -> Refusal:
        if response.status_code == 403:
            # 46elks' answer when the balance is spent: permanent for this account, not for the number.
            return Refusal(Scope.PROVIDER, "account refused: out of credit or blocked (HTTP 403)")
        return by_status(response)

    # -- callbacks ----------------------------------------------------------------------------------------

    def verify(self, event: str, url: str, headers: Mapping[str, str], body: bytes) -> None:
        pairs = query_pairs(url)
        given = pairs.pop("s", "")
        expected = url_mac(self.settings.webhook_token, self.name, event, list(pairs.items()))
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise InboundError("the callback URL's signature is missing or wrong")
        networks = self.settings.allowed_ips
        if not networks:
            return
        forwarded = headers.get(self.settings.client_ip_header.lower(), "")
        try:
            address = ipaddress.ip_address(forwarded.rsplit(",", 1)[-1].strip())
        except ValueError:
            raise InboundError("the caller's address is missing or unreadable") from None
        if not any(address in network for network in networks):
            raise InboundError("the caller's address is not in allowed_ips")

    def handle(self, event: str, url: str, headers: Mapping[str, str], body: bytes) -> Callback:
        fields = dict(form_fields(body))
        params = CallParams.parse(query_pairs(url))
        call_id = fields.get("callid") or fields.get("id") or ""
        if not call_id:
            raise InboundError("a 46elks call callback without callid")
        address = self.env.address(params)
        if event == "hangup":
            state = fields.get("state", "")
            keys: tuple[tuple[str, ...], ...] = ((self.name, call_id, "hangup", state),)
            events: tuple[InboundEvent, ...] = ()
            if state in _ENDED:
                events = self.env.told(params, _ENDED[state], address, call_id)
            elif state == "success":  # answered, and hung up before any key (or told already)
                events = self.env.told(params, DeliveryStatus.ANSWERED_NO_KEY, address, call_id, if_unknown=False)
            return Callback(events, keys)
        result = fields.get("result", "")
        keys = ((self.name, call_id, "ivr", str(params.turn), result),)
        if result == "failed" or not result:  # why=noinput: every play went by without a key
            events = self.env.told(params, DeliveryStatus.ANSWERED_NO_KEY, address, call_id)
            return self._action(_HANGUP, events, keys)
        action, events = self.env.on_key(result, params, address, call_id)
        if action in (Key.ACKNOWLEDGED, Key.DECLINED):
            prompt = "confirm.acknowledged" if action is Key.ACKNOWLEDGED else "confirm.declined"
            audio = self.settings.prompt_url(prompt, params.locale)
            return self._action({"play": audio} if audio else _HANGUP, events, keys)  # the call ends after it
        if action in (Key.REPLAY, Key.INVALID):  # no recording explains the keys: the message says how
            return self._action(self._menu(params.next_turn()), events, keys)
        return self._action(_HANGUP, events, keys)

    @staticmethod
    def _action(
        action: Mapping[str, Any], events: tuple[InboundEvent, ...], keys: tuple[tuple[str, ...], ...]
    ) -> Callback:
        body = json.dumps(action, separators=(",", ":")).encode()
        return Callback(events, keys, 200, body, {"Content-Type": "application/json"})
