"""Phone numbers and e-mail addresses, checked once at the configuration boundary.

Phone numbers are parsed with ``phonenumbers`` (region SE unless written with a country code) and kept in
E.164, so no channel ever parses them again. E-mail addresses are checked by a deliberately strict function of
our own: an address a municipality writes down for an alert must be plain and unambiguous.
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import PhoneNumberType as _T
from phonenumbers import shortnumberinfo

from hothat._text import quoted as _quoted

__all__ = ["parse_phone", "quoted", "validate_email"]

_EXAMPLE = "070-174 06 05 or +46 70 174 06 05"


def quoted(text: str) -> str:
    """Text in double quotes as TOML writes it, with line breaks, control and bidi characters escaped."""
    return _quoted(text)


# Numbers that can take an SMS (providers/README: Swedish landlines cannot).
_SMS_TYPES = {_T.MOBILE, _T.FIXED_LINE_OR_MOBILE}
_VOICE_TYPES = {
    _T.MOBILE,
    _T.FIXED_LINE_OR_MOBILE,
    _T.FIXED_LINE,
    _T.VOIP,
    _T.PERSONAL_NUMBER,
    _T.UAN,
    _T.TOLL_FREE,
}
_TYPE_NAMES = {
    _T.FIXED_LINE: "a landline",
    _T.TOLL_FREE: "a toll-free number",
    _T.PREMIUM_RATE: "a premium-rate number",
    _T.SHARED_COST: "a shared-cost number",
    _T.VOIP: "an IP telephony number",
    _T.PERSONAL_NUMBER: "a personal (forwarding) number",
    _T.PAGER: "a pager number",
    _T.UAN: "a company switchboard number",
    _T.VOICEMAIL: "a voicemail access number",
}
# Emergency numbers of the regions a Swedish municipality's staff may have phones from, checked on the digits.
_EMERGENCY_REGIONS = ("SE", "US", "GB", "NO", "DK", "FI")


@functools.lru_cache(maxsize=4096)
def parse_phone(text: str, *, sms: bool = False, region: str = "SE") -> str:
    """Parse a phone number as people write it into E.164 (``"070-174 06 05"`` → ``"+46701740605"``).

    Args:
        text: the number, in any common spacing; a leading ``+`` or ``00`` gives the country.
        sms: the number is to receive SMS, so it must be a mobile number.
        region: the country assumed for numbers written without a country code.

    Returns:
        The number in E.164.

    Raises:
        ValueError: the number is invalid, an emergency or other short number, premium-rate, has an extension,
            or (with ``sms``) cannot receive SMS. The message says what to write instead.
    """
    shown = quoted(text)
    digits = re.sub(r"\D", "", text)
    if 0 < len(digits) <= 6 and any(shortnumberinfo.is_emergency_number(digits, r) for r in _EMERGENCY_REGIONS):
        return _refuse(f"{shown} is an emergency number: a contact point must reach a person, give their own number")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return _refuse(f"{shown} is not a phone number: write it like {_EXAMPLE}")
    # Short numbers (1177, 114 14) are written without the trunk 0; "070-174 0" is a long number cut short.
    written_short = len(digits) <= 6 and not text.strip().startswith(("0", "+"))
    if number.country_code == 46 and written_short and shortnumberinfo.is_possible_short_number(number):
        return _refuse(
            f"{shown} is a short number (a service number or short code): give a full number, like {_EXAMPLE}"
        )
    if not phonenumbers.is_valid_number(number):
        where = "Swedish " if number.country_code == 46 else ""
        return _refuse(f"{shown} is not a valid {where}phone number: check the digits; write it like {_EXAMPLE}")
    if number.extension:
        return _refuse(f"{shown} has an extension, which hothat cannot dial: give a direct number")
    kind = phonenumbers.number_type(number)
    if kind == _T.PREMIUM_RATE:
        return _refuse(f"{shown} is a premium-rate number: hothat never calls or texts premium-rate numbers")
    described = _TYPE_NAMES.get(kind, "not a personal number")
    if sms and kind not in _SMS_TYPES:
        return _refuse(
            f"{shown} is {described} and cannot receive SMS: use voice = {shown} for it, and a mobile number for sms"
        )
    if not sms and kind not in _VOICE_TYPES:
        return _refuse(f"{shown} is {described}, not one a person answers: give a mobile or landline number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _refuse(message: str) -> str:
    raise ValueError(message)


# A dot-atom local part (RFC 5322 without quoted strings or comments) and LDH domain labels.
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def validate_email(text: str) -> str:
    """Check an e-mail address strictly and return it with its domain in lower case.

    Accepted: one ``@``; a plain ASCII local part of at most 64 characters (letters, digits and
    ``!#$%&'*+/=?^_`{|}~-``, dots only between them); a domain of at least two labels that IDNA can encode,
    with a top-level label that is not all digits. Reserved domains such as ``.example`` are accepted, so
    examples can be written without real addresses. Refused: spaces, line breaks and other control
    characters, quoted local parts, IP-address domains, anything longer than 254 characters.

    Raises:
        ValueError: the address is not acceptable; the message says why.
    """
    shown = quoted(text)
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError(f"{shown} is not an e-mail address: it contains a space, line break or control character")
    if text.count("@") != 1:
        raise ValueError(f"{shown} is not an e-mail address: it must contain exactly one @")
    local, domain = text.split("@")
    if not local or len(local) > 64 or not _LOCAL.fullmatch(local):
        raise ValueError(
            f"{shown} is not an e-mail address: the part before @ must be 1-64 plain letters, digits "
            "or . _ - + (no dot at either end, no two dots in a row)"
        )
    domain = domain.lower()
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(
            f"{shown} is not an e-mail address: the domain {domain!r} cannot be encoded (check for stray characters)"
        ) from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{shown} is not an e-mail address: the domain must be a name with a dot, like kommun.example")
    if labels[-1].isdigit():
        raise ValueError(f"{shown} is not an e-mail address: give a domain name, not an IP address")
    address = f"{local}@{domain}"
    if len(local) + 1 + len(ascii_domain) > 254:
        raise ValueError(f"{shown} is not an e-mail address: it is longer than 254 characters")
    return address
