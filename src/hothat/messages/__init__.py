"""Outbound message text: GSM-7 handling for SMS, reply codes, link tokens and the templates."""

from hothat.messages.gsm import SmsInfo, is_gsm7, normalize, sms_info, split

__all__ = ["SmsInfo", "is_gsm7", "normalize", "sms_info", "split"]
