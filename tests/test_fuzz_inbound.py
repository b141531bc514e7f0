"""Fuzzing with hypothesis: whatever arrives, only the library's own error types escape.

- the config loader, on the Oxelösund file mutated as text (characters and lines deleted, duplicated, replaced):
  only ``ConfigurationError``;
- every SMS provider's callback parser, with random methods, URLs, headers and bodies, and with random bodies that
  carry a *valid* signature or token (so the parser behind the verification is reached): only ``InboundError`` or
  a well-formed ``InboundResult``; the voice channel's parsers the same way, when the phone-tree plugin is there;
- the reply-code and keyword parsers: never raise;
- the link-token verifier: only ``TokenError``.

Sizes are chosen so the file runs in well under 20 s on two cores (see docs/security.md for why atheris is not used).
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_kit import OXELOSUND_TEXT, TOKEN_SECRET

from hothat.channels import InboundEvent, InboundResult
from hothat.config import load_config_text
from hothat.errors import ConfigurationError, InboundError, TokenError
from hothat.messages.codes import Reply, parse_keyword, parse_reply
from hothat.messages.tokens import LinkAction, LinkTokens

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)

text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60)
any_bytes = st.binary(max_size=300)


# -- the config loader --------------------------------------------------------------------------------------------

LINES = OXELOSUND_TEXT.splitlines(keepends=True)


@st.composite
def mutated_config(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "replace", "cut", "insert"]))
        if action == "delete":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        elif action == "replace":
            lines[index] = draw(text) + "\n"
        elif action == "cut":
            line = lines[index]
            at = draw(st.integers(0, max(len(line) - 1, 0)))
            lines[index] = (
                line[:at] + draw(st.sampled_from(["", '"', "[", "]", "=", "{", "\\", "\x00", "ö"])) + line[at:]
            )
        else:
            lines.insert(
                index, draw(st.sampled_from(["[[people]]\n", 'id = "x"\n', "[channels.sms]\n", "[[routines.steps]]\n"]))
            )
    return "".join(lines)


@SLOW
@given(mutated_config())
def test_a_mutated_config_raises_only_configuration_error(document: str) -> None:
    problems: tuple[object, ...] = ()
    try:
        load_config_text(document, "oxelosund.toml")
    except ConfigurationError as exc:
        problems = exc.problems
        assert problems, "a ConfigurationError names at least one problem"
    assert all(getattr(p, "source", None) == "oxelosund.toml" for p in problems)


# -- reply codes and keywords -------------------------------------------------------------------------------------


@FAST
@given(
    st.one_of(text, st.from_regex(r"\s*(ok|ja)?\s*[0-9０-９]{1,8}\s*(n|nej|no|kan inte|ok)?[.!?]*\s*", fullmatch=True))
)
def test_the_reply_parsers_never_raise(message: str) -> None:
    reply = parse_reply(message)
    assert reply is None or (isinstance(reply, Reply) and reply.code.isdigit() and int(reply.code) >= 10)
    assert parse_keyword(message) in (None, "stop", "start")


# -- link tokens --------------------------------------------------------------------------------------------------

TOKENS = LinkTokens(TOKEN_SECRET)
GENUINE = TOKENS.issue("01JINCIDENT", "3.1.1", "per", LinkAction.ACKNOWLEDGE, NOW, "nonce")


@st.composite
def token_like(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["random", "mutate", "parts"]))
    if kind == "random":
        return draw(text)
    if kind == "mutate":
        chars = list(GENUINE)
        for _ in range(draw(st.integers(1, 3))):
            chars[draw(st.integers(0, len(chars) - 1))] = draw(st.sampled_from("AZaz09-_.=+/"))
        return "".join(chars)
    b64 = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=80)
    return ".".join([draw(st.sampled_from(["v1", "v2", ""])), draw(b64), draw(b64)])


@FAST
@given(token_like())
def test_the_link_token_verifier_raises_only_token_error(token: str) -> None:
    try:
        claims = TOKENS.verify(token, NOW, is_used=lambda nonce: False)
    except TokenError as exc:
        refused: TokenError | None = exc
    else:
        refused = None
        assert token == GENUINE
        assert claims.person_id == "per"
    if refused is not None:
        assert refused.reason in {"malformed", "forged", "expired", "mismatch", "used"}
        assert token not in str(refused) or len(token) < 8


@SLOW
@given(st.dictionaries(st.sampled_from("ispane"), st.one_of(st.integers(), text, st.none(), st.lists(st.integers()))))
def test_a_correctly_signed_but_odd_payload_is_malformed_not_a_crash(payload: dict[str, object]) -> None:
    import base64
    import hashlib
    import hmac

    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    signed = f"v1.{body}"
    signature = base64.urlsafe_b64encode(hmac.new(TOKEN_SECRET, signed.encode(), hashlib.sha256).digest())
    token = f"{signed}.{signature.rstrip(b'=').decode()}"
    with contextlib.suppress(TokenError):
        TOKENS.verify(token, NOW - timedelta(days=400))


# -- SMS callbacks ------------------------------------------------------------------------------------------------

sms = pytest.importorskip("hothat_sms", reason="the SMS parsers belong to the hothat-sms plugin")
from hothat_sms import SmsChannel, SmsSettings  # noqa: E402
from hothat_sms._signing import sinch_signature, twilio_signature  # noqa: E402

BASE = "https://kommun.example/hooks/sms"
ELKS_TOKEN = "elks-webhook-token-0123456789"
TWILIO_SID = "AC" + "a1b2c3d4" * 4
TWILIO_TOKEN = "twilio-auth-token"
SINCH_SECRET = "sinch-hmac-secret"
SINCH_TOKEN = "sinch-webhook-token-0123456789"
CHANNEL = SmsChannel(
    SmsSettings.model_validate(
        {
            "public_base_url": BASE,
            "replay_memory": 100,
            "providers": [
                {
                    "provider": "46elks",
                    "username": "u1",
                    "password": "p",
                    "sender": "+46766861004",
                    "webhook_token": ELKS_TOKEN,
                },
                {"provider": "twilio", "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "sender": "+46766861005"},
                {
                    "provider": "sinch",
                    "service_plan_id": "plan0123456789",
                    "api_token": "t",
                    "sender": "+46766861006",
                    "webhook_secret": SINCH_SECRET,
                    "webhook_token": SINCH_TOKEN,
                },
            ],
        }
    )
)

field_names = st.sampled_from(
    [
        "id",
        "from",
        "to",
        "message",
        "direction",
        "status",
        "created",
        "delivered",
        "MessageSid",
        "SmsSid",
        "From",
        "To",
        "Body",
        "MessageStatus",
        "SmsStatus",
        "ErrorCode",
        "AccountSid",
        "x",
    ]
)
field_values = st.one_of(
    text,
    st.sampled_from(
        [
            "incoming",
            "delivered",
            "failed",
            "sent",
            "10",
            "10n",
            "STOP",
            "+46701740620",
            "46701740620",
            "2026-11-20 21:00:00",
            TWILIO_SID,
        ]
    ),
)
forms = st.lists(st.tuples(field_names, field_values), max_size=8)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), text),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(text, children, max_size=3)),
    max_leaves=8,
)
sinch_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"type": st.sampled_from(["mo_text", "recipient_delivery_report_sms", "delivery_report_sms", "x"])},
        optional={
            "id": json_values,
            "from": json_values,
            "body": json_values,
            "batch_id": json_values,
            "recipient": json_values,
            "status": st.one_of(json_values, st.sampled_from(["Delivered", "Failed"])),
            "client_reference": json_values,
            "received_at": json_values,
            "at": json_values,
        },
    ),
)


def well_formed(result: object) -> None:
    assert isinstance(result, InboundResult)
    assert 200 <= result.status < 300
    assert isinstance(result.body, bytes)
    assert all(isinstance(e, InboundEvent) for e in result.events)


def parse(method: str, url: str, headers: dict[str, str], body: bytes) -> None:
    try:
        result = CHANNEL.parse_inbound(method, url, headers, body)
    except InboundError:
        return
    well_formed(result)


@FAST
@given(
    st.sampled_from(["POST", "GET", "post", "PUT", ""]),
    st.one_of(
        text,
        st.sampled_from(
            [f"{BASE}/{p}/{k}" for p in ("46elks", "twilio", "sinch", "x") for k in ("inbound", "status", "")]
        ),
    ),
    st.dictionaries(
        st.sampled_from(
            [
                "X-Twilio-Signature",
                "x-sinch-webhook-signature",
                "x-sinch-webhook-signature-nonce",
                "x-sinch-webhook-signature-timestamp",
                "x-sinch-webhook-signature-algorithm",
                "Content-Type",
                "X-Forwarded-For",
            ]
        ),
        text,
    ),
    any_bytes,
)
def test_any_request_to_the_sms_webhook_is_refused_or_parsed(
    method: str, url: str, headers: dict[str, str], body: bytes
) -> None:
    parse(method, url, headers, body)


@FAST
@given(st.sampled_from(["inbound", "status"]), forms, st.sampled_from(["", "&ref=x:1:0:0:0", "&ref=%00", "&token=a"]))
def test_a_genuine_46elks_callback_with_any_fields_is_refused_or_parsed(
    kind: str, fields: list[tuple[str, str]], extra: str
) -> None:
    url = f"{BASE}/46elks/{kind}?{urlencode({'token': ELKS_TOKEN})}{extra}"
    parse("POST", url, {"Content-Type": "application/x-www-form-urlencoded"}, urlencode(fields).encode())


@FAST
@given(st.sampled_from(["inbound", "status"]), forms)
def test_a_correctly_signed_twilio_callback_with_any_fields_is_refused_or_parsed(
    kind: str, fields: list[tuple[str, str]]
) -> None:
    url = f"{BASE}/twilio/{kind}"
    signature = twilio_signature(TWILIO_TOKEN, url, fields)
    parse("POST", url, {"X-Twilio-Signature": signature}, urlencode(fields).encode())


@FAST
@given(
    st.sampled_from(["inbound", "status"]),
    st.one_of(sinch_bodies.map(lambda v: json.dumps(v).encode()), any_bytes),
    text,
)
def test_a_correctly_signed_sinch_callback_with_any_body_is_refused_or_parsed(
    kind: str, body: bytes, nonce: str
) -> None:
    url = f"{BASE}/sinch/{kind}?{urlencode({'token': SINCH_TOKEN})}"
    nonce = nonce or "n"
    timestamp = str(int(NOW.timestamp()))
    headers = {
        "x-sinch-webhook-signature-nonce": nonce,
        "x-sinch-webhook-signature-timestamp": timestamp,
        "x-sinch-webhook-signature": sinch_signature(SINCH_SECRET, body, nonce, timestamp),
    }
    parse("POST", url, headers, body)


# -- voice callbacks ----------------------------------------------------------------------------------------------


def _voice_channel() -> object | None:
    try:
        from hothat_phonetree import VoiceChannel, VoiceSettings
        from hothat_phonetree._settings import LOCALES, REQUIRED_PROMPTS
    except ImportError:
        return None
    prompts = {name: f"https://media.kommun.example/{name}.mp3" for name in REQUIRED_PROMPTS}
    prompts |= {
        f"{lang}:{name}": f"https://media.kommun.example/{lang}/{name}.mp3"
        for lang in LOCALES
        if lang != "sv"
        for name in REQUIRED_PROMPTS
    }
    settings = VoiceSettings.model_validate(
        {
            "public_base_url": "https://kommun.example/hooks/voice",
            "providers": [
                {
                    "provider": "46elks",
                    "username": "u1",
                    "password": "p",
                    "caller_id": "+46766861004",
                    "webhook_token": ELKS_TOKEN,
                    "prompts": prompts,
                },
                {
                    "provider": "twilio",
                    "account_sid": TWILIO_SID,
                    "auth_token": TWILIO_TOKEN,
                    "caller_id": "+46766861005",
                },
                {
                    "provider": "sinch",
                    "application_key": "0123456789abcdef0123",
                    "application_secret": "c2VjcmV0",
                    "caller_id": "+46766861006",
                },
            ],
        }
    )
    return VoiceChannel(settings)


VOICE = _voice_channel()
needs_voice = pytest.mark.skipif(VOICE is None, reason="the hothat-phonetree plugin is not importable")


@needs_voice
@FAST
@given(
    st.sampled_from(["POST", "GET"]),
    st.one_of(
        text,
        st.builds(
            lambda p, e, q: f"https://kommun.example/hooks/voice/{p}/{e}?{q}",
            st.sampled_from(["46elks", "twilio", "sinch", "x"]),
            st.sampled_from(["callback", "answer", "status", "gather", "ice", "pie", "dice", "x"]),
            st.lists(st.tuples(field_names, field_values), max_size=4).map(urlencode),
        ),
    ),
    st.dictionaries(st.sampled_from(["X-Twilio-Signature", "Authorization", "Content-Type", "x-timestamp"]), text),
    st.one_of(
        any_bytes, forms.map(lambda f: urlencode(f).encode()), sinch_bodies.map(lambda v: json.dumps(v).encode())
    ),
)
def test_any_request_to_the_voice_webhook_is_refused_or_parsed(
    method: str, url: str, headers: dict[str, str], body: bytes
) -> None:
    try:
        result = VOICE.parse_inbound(method, url, headers, body)  # type: ignore[union-attr]
    except InboundError:
        return
    well_formed(result)


@needs_voice
@FAST
@given(
    st.sampled_from(["callback", "answer", "status", "gather", "x"]),
    st.lists(st.tuples(field_names, field_values), max_size=6),
    forms,
)
def test_a_correctly_signed_twilio_voice_callback_is_refused_or_parsed(
    event: str, query: list[tuple[str, str]], fields: list[tuple[str, str]]
) -> None:
    url = f"https://kommun.example/hooks/voice/twilio/{event}?{urlencode(query)}"
    signature = twilio_signature(TWILIO_TOKEN, url, fields)
    try:
        result = VOICE.parse_inbound("POST", url, {"X-Twilio-Signature": signature}, urlencode(fields).encode())  # type: ignore[union-attr]
    except InboundError:
        return
    well_formed(result)
