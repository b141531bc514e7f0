"""Outbound messages: templates and disclosure levels, GSM-7 for SMS, reply codes and link tokens.

- :func:`render` turns a :class:`RenderContext` into a :class:`Rendered` message (Swedish or English, per
  medium, message kind and disclosure level); it is the builtin ``hothat_render_message``.
- :mod:`hothat.messages.gsm`: :func:`normalize`, :func:`sms_info` and :func:`split` for SMS text.
- :mod:`hothat.messages.codes`: SMS reply codes (``12`` takes a step, ``12n`` declines) and STOP/START.
- :mod:`hothat.messages.tokens`: signed, expiring, single-use tokens for e-mail links.
"""

from hothat.messages.codes import Reply, allocate_code, parse_keyword, parse_reply
from hothat.messages.gsm import SmsInfo, is_gsm7, normalize, sms_info, split
from hothat.messages.templates import Actor, RenderContext, Rendered, render
from hothat.messages.tokens import LinkAction, LinkTokens, TokenClaims, new_nonce, secret_from_env

__all__ = [
    "Actor",
    "LinkAction",
    "LinkTokens",
    "RenderContext",
    "Rendered",
    "Reply",
    "SmsInfo",
    "TokenClaims",
    "allocate_code",
    "is_gsm7",
    "new_nonce",
    "normalize",
    "parse_keyword",
    "parse_reply",
    "render",
    "secret_from_env",
    "sms_info",
    "split",
]
