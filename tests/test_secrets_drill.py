"""Secrets: a full drill with a recognisable value in every credential, and not one of them may show up anywhere.

The Oxelösund routine runs on a virtual clock with every channel built from the municipality file by the plugins
themselves (so each ``*_env`` key is read from the environment): SMS through 46elks, Twilio and Sinch, voice through
Twilio and Sinch (when the phone-tree plugin is importable), e-mail over SMTP with a login to a real aiosmtpd server.
Along the way a provider refuses our credentials once, the SMTP server is away for a while, a forged callback and a
forged link arrive, a person answers by SMS and another by link. Then no secret (nor its base64 or Basic-auth form)
may appear in any log line of any logger at DEBUG, in repr/str/JSON of any settings or channel, in any exception
raised, or in any trail payload in the store.
"""

from __future__ import annotations

import base64
import logging
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

hothat_sms = pytest.importorskip("hothat_sms", reason="the drill sends SMS through hothat-sms")
hothat_email = pytest.importorskip("hothat_email", reason="the drill sends e-mail through hothat-email")

from reliability_kit import FRIDAY_NIGHT, SmtpServer, oxelosund, plugins  # noqa: E402

from hothat.engine import Engine, VirtualClock  # noqa: E402
from hothat.errors import HothatError, InboundError, TokenError  # noqa: E402
from hothat.store.sqlite import SqliteStore  # noqa: E402
from hothat_sms.testing import FakeGateway  # noqa: E402

try:
    import hothat_phonetree
    from hothat_phonetree.testing import FakeVoiceGateway
except ImportError:  # the drill runs without voice, and says so
    hothat_phonetree = None  # type: ignore[assignment]

SECRETS = {
    "ELKS_PASSWORD": "SECRET-ELKS-PASSWORD-7f3a",
    "ELKS_WEBHOOK_TOKEN": "SECRET-ELKS-WEBHOOK-TOKEN-7f3a",
    "TWILIO_AUTH_TOKEN": "SECRET-TWILIO-AUTH-TOKEN-7f3a",
    "SINCH_API_TOKEN": "SECRET-SINCH-API-TOKEN-7f3a",
    "SINCH_WEBHOOK_SECRET": "SECRET-SINCH-WEBHOOK-SECRET-7f3a",
    "SINCH_WEBHOOK_TOKEN": "SECRET-SINCH-WEBHOOK-TOKEN-7f3a",
    "SINCH_VOICE_SECRET": base64.b64encode(b"SECRET-SINCH-VOICE-APPLICATION-7f3a").decode(),
    "SMTP_PASSWORD": "SECRET-SMTP-PASSWORD-7f3a",
}
LINK_KEY = b"SECRET-LINK-TOKEN-KEY-7f3a-0123456789abcdef"
ELKS_USER = "u7f3a0123456789"
TWILIO_SID = "AC" + "7f3a0123" * 4


def forms(value: str) -> set[str]:
    """A secret and the encodings it could leak in: base64 (alone and as the tail of Basic auth), URL-quoted."""
    from urllib.parse import quote

    out = {value, quote(value, safe=""), base64.b64encode(value.encode()).decode()}
    for user in (ELKS_USER, TWILIO_SID, "hothat"):
        out.add(base64.b64encode(f"{user}:{value}".encode()).decode())
    return out


NEEDLES = sorted(
    {f for v in SECRETS.values() for f in forms(v)}
    | {LINK_KEY.decode(), base64.b64encode(LINK_KEY).decode(), base64.urlsafe_b64encode(LINK_KEY).decode().rstrip("=")}
)


def found(text: str) -> list[str]:
    return [n for n in NEEDLES if n in text]


def channels_toml(gateway: FakeGateway, smtp: SmtpServer) -> str:
    toml = f"""
[channels.sms]
plugin = "sms"
public_base_url = "https://intranat.oxelosund.example/hothat/hooks/sms"
attempts_per_provider = 1

[[channels.sms.providers]]
provider = "46elks"
base_url = "{gateway.url}/a1"
username = "{ELKS_USER}"
password_env = "ELKS_PASSWORD"
sender = "+46766861004"
webhook_token_env = "ELKS_WEBHOOK_TOKEN"

[[channels.sms.providers]]
provider = "twilio"
base_url = "{gateway.url}"
account_sid = "{TWILIO_SID}"
auth_token_env = "TWILIO_AUTH_TOKEN"
sender = "+46766861005"

[[channels.sms.providers]]
provider = "sinch"
base_url = "{gateway.url}"
service_plan_id = "plan7f3a0123"
api_token_env = "SINCH_API_TOKEN"
sender = "+46766861006"
webhook_secret_env = "SINCH_WEBHOOK_SECRET"
webhook_token_env = "SINCH_WEBHOOK_TOKEN"

[channels.email]
plugin = "email.smtp"
host = "127.0.0.1"
port = {smtp.port}
security = "none"
username = "hothat"
password_env = "SMTP_PASSWORD"
from_address = "hothat@oxelosund.example"
timeout = 5
"""
    if hothat_phonetree is None:
        return toml + '\n[channels.voice]\nplugin = "memory"\nmedium = "voice"\n'
    return (
        toml
        + f"""
[channels.voice]
plugin = "voice"
public_base_url = "https://intranat.oxelosund.example/hothat/hooks/voice"

[[channels.voice.providers]]
provider = "twilio"
base_url = "{gateway.url}"
account_sid = "{TWILIO_SID}"
auth_token_env = "TWILIO_AUTH_TOKEN"
caller_id = "+46766861005"

[[channels.voice.providers]]
provider = "sinch"
base_url = "{gateway.url}"
application_key = "669E367E-6BBA-48AB-AF15-266871C28135"
application_secret_env = "SINCH_VOICE_SECRET"
caller_id = "+46766861006"
"""
    )


async def test_no_secret_appears_in_logs_reprs_errors_or_the_trail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOTHAT_TOKEN_SECRET", base64.urlsafe_b64encode(LINK_KEY).decode())
    caplog.set_level(logging.DEBUG)
    gateway_class = FakeVoiceGateway if hothat_phonetree is not None else FakeGateway
    extra = {"sinch_application_secret": SECRETS["SINCH_VOICE_SECRET"]} if hothat_phonetree is not None else {}
    gateway = gateway_class(
        elks_username=ELKS_USER,
        elks_password=SECRETS["ELKS_PASSWORD"],
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=SECRETS["TWILIO_AUTH_TOKEN"],
        sinch_service_plan_id="plan7f3a0123",
        sinch_api_token=SECRETS["SINCH_API_TOKEN"],
        sinch_webhook_secret=SECRETS["SINCH_WEBHOOK_SECRET"],
        **extra,
    )
    gateway.webhook_token = SECRETS["ELKS_WEBHOOK_TOKEN"]
    errors: list[BaseException] = []
    extra_plugins = [hothat_sms, hothat_email] + ([hothat_phonetree] if hothat_phonetree is not None else [])
    with gateway, SmtpServer(password=SECRETS["SMTP_PASSWORD"]) as smtp:
        municipality = oxelosund(channels_toml(gateway, smtp))
        engine = Engine(
            municipality,
            store=SqliteStore(tmp_path / "hothat.db"),
            clock=VirtualClock(FRIDAY_NIGHT),
            plugins=plugins(*extra_plugins),
        )
        async with engine:
            sms = engine._bindings["sms"].channel  # the channel the engine built from the file
            gateway.fail_next(401, provider="46elks")  # 46elks refuses our credentials once: Twilio takes over
            await engine.report(
                kind="threat", severity="serious", targeted="lena", party="s", description="Hotbrev i brevlådan"
            )
            await engine.idle()
            smtp.stop()  # the mail server is away when the first e-mails are due
            await engine.advance("16m")
            smtp.start()
            await engine.advance("20m")
            # Forged input: a reply under a wrong 46elks token, and a made-up link.
            for attempt in (
                lambda: engine.inbound(
                    "sms",
                    *gateway.reply(
                        "46elks",
                        sms.webhook_url("46elks", "inbound").replace("token=", "token=x"),
                        sender="+46701740620",
                        text="10",
                    ),
                ),
                lambda: engine.follow_link("v1.e30." + "A" * 43),
            ):
                with pytest.raises((InboundError, TokenError)) as refused:
                    await attempt()
                errors.append(refused.value)
            # Genuine answers: Per by SMS through Sinch's signed callback, then a link from an e-mail.
            [first] = [m for m in gateway.messages if m.to == "+46701740620" and "3.1.1" in m.text][:1]
            code = re.search(r"\b(\d{2,6})n\b", first.text)[1]  # type: ignore[index]
            await engine.inbound(
                "sms", *gateway.reply("sinch", sms.webhook_url("sinch", "inbound"), sender="+46701740620", text=code)
            )
            for status in [m for m in gateway.messages if m.status_url][:5]:
                await engine.inbound("sms", *gateway.delivery_report(status))
            links = [
                parse_qs(urlsplit(m).query)["t"][0]
                for text in smtp.texts()
                for m in re.findall(r"https://\S+/link\?t=[\w.-]+", text)
            ]
            assert links, "the e-mails carry signed links"
            for token in links:
                try:
                    await engine.follow_link(token)
                except HothatError as exc:
                    errors.append(exc)
            await engine.advance("3h")
            reprs = []
            for binding in engine._bindings.values():
                settings = binding.channel.settings
                reprs += [repr(binding.channel), str(binding.channel), repr(settings), str(settings)]
                reprs += [settings.model_dump_json(), repr(settings.model_dump())]
                reprs += [repr(p) for p in getattr(settings, "providers", ())]
            reprs += [repr(engine._tokens), repr(engine)]
            trails = [str(r.payload) for i in await engine.store.incidents() for r in await engine.store.load(i)]
        sent_mail = smtp.received
    assert sent_mail, "the drill sent e-mail"
    assert any(e for e in trails), "the drill left a trail"
    log_lines = [
        r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
        for r in caplog.records
        if not r.name.startswith("mail.log")  # aiosmtpd: the test's own SMTP server, not hothat
    ]
    leaks = {
        "logs": [line for line in log_lines if found(line)],
        "reprs": [text for text in reprs if found(text)],
        "errors": [repr(e) for e in errors if found(str(e)) or found(repr(e))],
        "trail": [text for text in trails if found(text)],
    }
    assert leaks == {"logs": [], "reprs": [], "errors": [], "trail": []}
    assert len(log_lines) > 50, "the drill was logged at DEBUG (and the check looked at it)"


def test_an_smtp_settings_error_does_not_echo_the_password() -> None:
    import pydantic

    from hothat_email import SmtpSettings

    with pytest.raises(pydantic.ValidationError) as refused:
        SmtpSettings.model_validate(
            {"host": "127.0.0.1", "from_address": "a@b.se", "password": SECRETS["SMTP_PASSWORD"]}
        )
    assert SECRETS["SMTP_PASSWORD"] not in str(refused.value)


def test_sms_settings_errors_do_not_echo_secrets() -> None:
    import pydantic

    from hothat_sms import SmsSettings

    table = {
        "provider": "46elks",
        "username": "u",
        "password": SECRETS["ELKS_PASSWORD"],
        "sender": "nope",
        "webhook_token": "x",
    }
    with pytest.raises(pydantic.ValidationError) as refused:
        SmsSettings.model_validate({"providers": [table]})
    assert found(str(refused.value)) == []
