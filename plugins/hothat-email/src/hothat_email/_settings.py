"""The ``[channels.NAME]`` table of an SMTP channel, validated with pydantic."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Literal

import pydantic

from hothat.channels import ChannelSettings

__all__ = ["Security", "SmtpSettings", "normalise_address"]

Security = Literal["starttls", "tls", "none"]

_DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def has_control(value: str) -> bool:
    """Whether ``value`` holds a control, format or line separator character (CR, LF, NUL, U+2028 ...)."""
    return any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in value)


def normalise_address(value: str) -> str:
    """Check a plain e-mail address (``local@domain``) and return it with an IDNA (``xn--``) domain.

    Only dot-atom local parts in ASCII are taken: no display names, quoted local parts, IP literals or
    line breaks, so nothing that reaches a header or the SMTP envelope can carry more than one address.

    Raises:
        ValueError: saying what is wrong with the address.
    """
    if has_control(value):
        raise ValueError("an e-mail address must not contain line breaks or control characters")
    local, at, domain = value.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"{value!r} is not an e-mail address of the form name@domain")
    if not _LOCAL_PART.fullmatch(local):
        raise ValueError(f"the part before @ in {value!r} must be plain ASCII letters, digits and . _ + -")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"the domain of {value!r} is not a valid domain name") from None
    if len(ascii_domain) > 253 or not _DOMAIN.fullmatch(ascii_domain):
        raise ValueError(f"the domain of {value!r} is not a valid domain name")
    address = f"{local}@{ascii_domain.lower()}"
    if len(address) > 254:
        raise ValueError(f"{value!r} is longer than the 254 characters an e-mail address may have")
    return address


def _is_loopback(host: str) -> bool:
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class SmtpSettings(ChannelSettings):
    """Settings of the ``email.smtp`` channel: one ``[channels.NAME]`` table with ``plugin = "email.smtp"``.

    Attributes:
        host: the SMTP server (``smtp.kommun.example``).
        port: the server port; by default 587 for ``starttls``, 465 for ``tls`` and 25 for ``none``.
        security: ``"starttls"`` (the default: upgrade to TLS and refuse to send if the server does not
            offer STARTTLS), ``"tls"`` (implicit TLS, usually port 465) or ``"none"`` (clear text, only for a
            server on this machine: localhost, 127.0.0.1 or ::1).
        username: the login name, if the server wants a login.
        password: the password. Rather than writing it in the file, give ``password_env`` (an environment
            variable holding it) or ``password_file`` (a file holding it); either is read when the settings are
            loaded, so a missing variable or file is a configuration error, not a failed alert later.
        from_address: the sender address, also the envelope sender that bounces go to.
        from_name: the sender's display name; by default the municipality's name.
        reply_to: an address replies should go to (a security function's shared mailbox), if any.
        timeout: seconds to wait for each step of the conversation (connect, TLS, login, each command, the
            answer to the mail's content); the whole conversation is bounded by three times this.
        ca_bundle: a PEM file of certificate authorities to trust instead of the system's (a municipal CA).
    """

    host: str
    port: int | None = pydantic.Field(default=None, ge=1, le=65535)
    security: Security = "starttls"
    username: str | None = None
    # validate_default: the validator also runs when the password is absent, to notice a username without one.
    password: pydantic.SecretStr | None = pydantic.Field(default=None, validate_default=True)
    from_address: str
    from_name: str | None = None
    reply_to: str | None = None
    timeout: float = pydantic.Field(default=30.0, gt=0, le=600)
    ca_bundle: pydantic.FilePath | None = None

    @pydantic.field_validator("host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        value = value.strip()
        if not value or has_control(value) or any(ch.isspace() for ch in value):
            raise ValueError("host must be a host name or IP address without spaces")
        return value

    @pydantic.field_validator("security")
    @classmethod
    def _check_security(cls, value: Security, info: pydantic.ValidationInfo) -> Security:
        host = info.data.get("host")
        if value == "none" and host is not None and not _is_loopback(host):
            raise ValueError(
                f'security = "none" sends mail and passwords unencrypted, so it is allowed only for a server '
                f'on this machine (localhost, 127.0.0.1, ::1), not {host!r}; use "starttls" (port 587) '
                'or "tls" (port 465)'
            )
        return value

    @pydantic.field_validator("password")
    @classmethod
    def _password_with_username(
        cls, value: pydantic.SecretStr | None, info: pydantic.ValidationInfo
    ) -> pydantic.SecretStr | None:
        if "username" in info.data and (info.data["username"] is None) != (value is None):
            raise ValueError("username and password (or password_env, password_file) go together: give both or neither")
        return value

    @pydantic.field_validator("from_address", "reply_to")
    @classmethod
    def _check_address(cls, value: str | None) -> str | None:
        return None if value is None else normalise_address(value)

    @pydantic.field_validator("from_name", "username")
    @classmethod
    def _check_text(cls, value: str | None) -> str | None:
        if value is not None and has_control(value):
            raise ValueError("must not contain line breaks or control characters")
        return value

    @property
    def effective_port(self) -> int:
        """The port to connect to: ``port`` or the default for ``security``."""
        return self.port if self.port is not None else _DEFAULT_PORTS[self.security]
