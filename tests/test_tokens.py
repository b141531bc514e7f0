"""Link tokens: a link works once, for its recipient and step, until it expires, and cannot be forged."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hothat.errors import ConfigurationError, TokenError
from hothat.messages.tokens import LinkAction, LinkTokens, TokenClaims, new_nonce, secret_from_env

SECRET = b"s" * 32
NOW = datetime(2026, 3, 14, 21, 30, tzinfo=UTC)
TOKENS = LinkTokens(SECRET, ttl=timedelta(hours=24))


def issue(action: LinkAction = LinkAction.ACKNOWLEDGE, tokens: LinkTokens = TOKENS) -> str:
    return tokens.issue("01J0INCIDENT", "3.1.1", "per", action, NOW, "nonce-1")


def reason(
    token: str,
    now: datetime = NOW,
    *,
    is_used: Callable[[str], bool] = lambda nonce: False,
) -> str:
    with pytest.raises(TokenError) as caught:
        TOKENS.verify(
            token,
            now,
            is_used=is_used,
        )
    text = str(caught.value)
    assert len(token) < 4 or token not in text
    assert "per" not in text
    assert "nonce" not in text
    return caught.value.reason


def test_issue_and_verify() -> None:
    token = issue(LinkAction.DECLINE)
    assert token.startswith("v1.")
    assert all(c.isalnum() or c in "-_." for c in token)
    claims = TOKENS.verify(
        token, NOW + timedelta(hours=1), incident_id="01J0INCIDENT", step_id="3.1.1", person_id="per"
    )
    assert claims == TokenClaims(
        "01J0INCIDENT", "3.1.1", "per", LinkAction.DECLINE, "nonce-1", NOW + timedelta(hours=24)
    )


def test_same_inputs_give_the_same_token() -> None:
    assert issue() == issue()
    assert issue(LinkAction.ACKNOWLEDGE) != issue(LinkAction.DECLINE)


def test_changed_payload_is_forged() -> None:
    version, body, signature = issue().split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["a"] = "decline"
    changed = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert reason(f"{version}.{changed}.{signature}") == "forged"


def test_changed_signature_is_forged() -> None:
    token = issue()
    last = token[-2]
    assert reason(token[:-2] + ("A" if last != "A" else "B") + token[-1]) == "forged"


def test_other_secret_is_forged() -> None:
    assert reason(issue(tokens=LinkTokens(b"t" * 32))) == "forged"


def test_expiry_boundary() -> None:
    token = issue()
    TOKENS.verify(token, NOW + timedelta(hours=24) - timedelta(microseconds=1))
    assert reason(token, NOW + timedelta(hours=24)) == "expired"
    assert reason(token, NOW + timedelta(days=30)) == "expired"


def test_expiry_compares_instants_across_timezones() -> None:
    stockholm_summer = timezone(timedelta(hours=2))
    assert reason(issue(), (NOW + timedelta(hours=24)).astimezone(stockholm_summer)) == "expired"


def test_replay_is_refused() -> None:
    used: set[str] = set()
    token = issue()
    claims = TOKENS.verify(token, NOW, is_used=used.__contains__)
    used.add(claims.nonce)
    assert reason(token, is_used=used.__contains__) == "used"


@pytest.mark.parametrize(
    ("incident", "step", "person"),
    [("other", "3.1.1", "per"), ("01J0INCIDENT", "3.1.2", "per"), ("01J0INCIDENT", "3.1.1", "jan")],
)
def test_use_for_another_incident_step_or_person(incident: str, step: str, person: str) -> None:
    TOKENS.verify(issue(), NOW, incident_id="01J0INCIDENT", step_id="3.1.1", person_id="per")
    with pytest.raises(TokenError, match="mismatch"):
        TOKENS.verify(issue(), NOW, incident_id=incident, step_id=step, person_id=person)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "v1",
        "v1..",
        "v1.abc",
        "v2.e30.abc",
        "v1.e30.abc.def",
        "v1.e30.ab+c",
        "v1.e 30.abc",
        "v1.ä.abc",
        "x" * 5000,
    ],
)
def test_malformed(token: str) -> None:
    assert reason(token) == "malformed"


def test_signed_but_unreadable_payload_is_malformed() -> None:
    body = base64.urlsafe_b64encode(b'{"i": 1}').rstrip(b"=").decode()
    signed = f"v1.{body}"
    assert reason(f"{signed}.{TOKENS._sign(signed)}") == "malformed"


@given(st.text(max_size=300))
def test_any_string_gives_only_token_error(token: str) -> None:
    with pytest.raises(TokenError) as caught:
        TOKENS.verify(token, NOW)
    assert caught.value.reason in {"malformed", "forged"}


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", max_size=200))
def test_token_shaped_strings_give_only_token_error(tail: str) -> None:
    with pytest.raises(TokenError):
        TOKENS.verify("v1." + tail, NOW)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TOKENS.issue("i", "s", "p", LinkAction.ACKNOWLEDGE, datetime(2026, 1, 1), "n")


def test_short_secret_refused_and_never_shown() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        LinkTokens(b"short")
    assert "sss" not in repr(TOKENS)


def test_new_nonce_is_random_and_url_safe() -> None:
    nonces = {new_nonce() for _ in range(50)}
    assert len(nonces) == 50
    assert all(len(n) >= 16 and all(c.isalnum() or c in "-_" for c in n) for n in nonces)


def test_secret_from_env() -> None:
    value = base64.urlsafe_b64encode(bytes(range(48))).decode()
    assert secret_from_env("HOTHAT_LINK_SECRET", environ={"HOTHAT_LINK_SECRET": value}) == bytes(range(48))
    assert secret_from_env("S", environ={"S": value.rstrip("=") + "\n"}) == bytes(range(48))
    standard = base64.b64encode(bytes(range(200, 240))).decode()
    assert secret_from_env("S", environ={"S": standard}) == bytes(range(200, 240))


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (None, "is not set"),
        ("", "is not set"),
        ("c2hvcnQ", "holds 5 bytes"),
        ("not base64 at all!", "not base64"),
    ],
)
def test_secret_from_env_errors(value: str | None, says: str) -> None:
    environ = {} if value is None else {"HOTHAT_LINK_SECRET": value}
    with pytest.raises(ConfigurationError) as caught:
        secret_from_env("HOTHAT_LINK_SECRET", environ=environ)
    text = str(caught.value)
    assert "HOTHAT_LINK_SECRET" in text
    assert says in text
    assert "secrets.token_urlsafe(48)" in text
    if value:
        assert value not in text


def test_secret_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTHAT_TEST_SECRET", "A" * 64)
    assert len(secret_from_env("HOTHAT_TEST_SECRET")) == 48
