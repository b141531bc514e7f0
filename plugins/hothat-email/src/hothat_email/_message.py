"""Turn an :class:`~hothat.channels.OutboundMessage` into a threaded ``EmailMessage``.

Only ``email.message.EmailMessage`` and ``email.headerregistry.Address`` build headers: they refuse line
breaks in header values and encode non-ASCII text (RFC 2047). On top of that every value that comes from an
incident or a configuration is flattened to one clean line first, so a hostile reference or subject can
never add a header. The text and HTML arrive rendered by the core at the channel's disclosure level; this
module adds no incident content, only the answer links when the rendering does not already carry them.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

from hothat.channels import MessageKind, OutboundMessage
from hothat_email._settings import SmtpSettings, normalise_address

__all__ = ["build_message", "clean_line", "message_id", "root_id"]

SUBJECT_LIMIT = 150
"""The longest subject we write; the incident's own subject is shortened to fit, the prefix never is."""

_LABELS = {
    "sv": {"case": "Ärende", "ack": "Jag tar det", "decline": "Jag kan inte"},
    "en": {"case": "Case", "ack": "I'll take it", "decline": "I can't"},
}
_ASKING = frozenset({MessageKind.NOTIFY, MessageKind.ESCALATION, MessageKind.UNRESOLVED})
_THREAD_SAFE = re.compile(r"[A-Za-z0-9-]{1,64}(?:\.[A-Za-z0-9-]{1,64}){0,3}")
_SPACES = re.compile(r"\s+")


def clean_line(value: str, limit: int) -> str:
    """Flatten ``value`` to one header-safe line of at most ``limit`` characters.

    Control, format and separator characters (CR, LF, NUL, tab, U+2028, bidi overrides) become spaces, runs of
    white space collapse, and an over-long value is cut at a word boundary with an ellipsis.
    """
    flat = "".join(" " if unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} else ch for ch in value)
    flat = _SPACES.sub(" ", flat).strip()
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:-–") + "…"


def _lang(locale: str) -> str:
    """``"en"`` for English locales, else ``"sv"``: Swedish is the default."""
    return "en" if locale.split("-")[0].split("_")[0].lower() == "en" else "sv"


def _labels(locale: str) -> dict[str, str]:
    return _LABELS[_lang(locale)]


def subject_line(message: OutboundMessage) -> str:
    """``[Oxelösunds kommun] Ärende OX-2026-0042: <subject>``, sanitised, at most ``SUBJECT_LIMIT`` long.

    The bracketed municipality always leads, and the reference appears exactly once: a subject that already
    names it (the builtin templates do, after a leading ``"Oxelösunds kommun: "``, which is dropped) is kept
    as it is rather than prefixed a second time.
    """
    municipality = clean_line(message.municipality, 60)
    reference = clean_line(message.reference, 40)
    subject = clean_line(message.subject, 4 * SUBJECT_LIMIT)
    if municipality and subject.casefold().startswith(municipality.casefold() + ":"):
        subject = subject[len(municipality) + 1 :].lstrip()
    prefix = f"[{municipality}] " if municipality else ""
    at = subject.casefold().find(reference.casefold()) if reference else -1
    if at >= 0 and at + len(reference) < SUBJECT_LIMIT - len(prefix) - 1:
        subject = subject[:1].upper() + subject[1:]
    elif reference:
        prefix += f"{_labels(message.locale)['case']} {reference}: "
    subject = clean_line(subject, max(SUBJECT_LIMIT - len(prefix), 20))
    return (prefix + subject).strip().rstrip(":")


def _thread_key(message: OutboundMessage) -> str:
    if _THREAD_SAFE.fullmatch(message.thread):
        return message.thread
    # Anything else (empty, or characters a Message-ID cannot hold) becomes a stable digest: the same incident
    # and recipient always give the same thread root.
    seed = message.thread or f"{message.incident_id}\0{message.address.lower()}"
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:32]


def root_id(message: OutboundMessage, domain: str) -> str:
    """The thread's root Message-ID, the same for every message of one incident to one recipient."""
    return f"<hothat.{_thread_key(message)}.0@{domain}>"


def message_id(message: OutboundMessage, domain: str) -> str:
    """The message's Message-ID: the root for ``sequence`` 0, else ``<hothat.{thread}.{n}.{digest}@domain>``.

    The digest of the message's key keeps follow-ups distinct even if two ever share a sequence number (mail
    systems silently drop a second message with a Message-ID they have seen), while a redelivery of the very
    same message keeps its id, so the recipient's mail program can recognise the duplicate.
    """
    if message.sequence <= 0:
        return root_id(message, domain)
    digest = hashlib.sha256(message.key.encode("utf-8")).hexdigest()[:12]
    return f"<hothat.{_thread_key(message)}.{message.sequence}.{digest}@{domain}>"


def _missing_links(message: OutboundMessage, body: str) -> list[tuple[str, str]]:
    """The answer links ``body`` lacks; only asking messages offer them (never a "taken" or "closed" mail)."""
    if message.kind not in _ASKING:
        return []
    labels = _labels(message.locale)
    pairs = ((labels["ack"], message.ack_url), (labels["decline"], message.decline_url))
    return [(label, url) for label, url in pairs if url and url not in body and html.escape(url) not in body]


def _links_text(message: OutboundMessage) -> str:
    lines = [f"{label}: {url}" for label, url in _missing_links(message, message.text)]
    return "\n\n" + "\n".join(lines) + "\n" if lines else ""


def _links_html(message: OutboundMessage, body: str) -> str:
    anchors = [
        f'<a href="{html.escape(url)}" style="margin-right:1.5em">{html.escape(label)}</a>'
        for label, url in _missing_links(message, body)
    ]
    return f'<p style="font-size:1.1em">{" ".join(anchors)}</p>' if anchors else ""


def _html_body(message: OutboundMessage) -> str:
    lang = _lang(message.locale)
    if message.html is not None:
        body = message.html
    else:
        paragraphs = [p for p in re.split(r"\n\s*\n", message.text.strip()) if p.strip()]
        body = "\n".join(
            "<p>" + "<br>\n".join(html.escape(line) for line in p.splitlines()) + "</p>" for p in paragraphs
        )
    links = _links_html(message, body)
    if re.search(r"<html[\s>]", body, re.IGNORECASE):
        # A whole document from the core: put the links just before </body> (or at the end).
        match = re.search(r"</body\s*>", body, re.IGNORECASE)
        return body[: match.start()] + links + body[match.start() :] if match else body + links
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"></head>\n'
        f"<body>\n{body}\n{links}\n</body></html>\n"
    )


def build_message(message: OutboundMessage, settings: SmtpSettings) -> EmailMessage:
    """Build the e-mail for one recipient.

    Args:
        message: the rendered message from the core.
        settings: the channel's settings (sender, reply-to).

    Returns:
        A ``multipart/alternative`` message (plain text and HTML, both quoted-printable UTF-8, so the mail is
        7-bit clean for any server) with threading and auto-reply suppression headers.

    Raises:
        ValueError: if the recipient address is not a plain e-mail address.
    """
    recipient = normalise_address(message.address)
    sender = settings.from_address
    domain = sender.rpartition("@")[2]
    display = clean_line(settings.from_name or message.municipality, 80)

    mail = EmailMessage(policy=policy.SMTP)
    mail["From"] = Address(display_name=display, addr_spec=sender)
    mail["To"] = Address(addr_spec=recipient)
    if settings.reply_to:
        mail["Reply-To"] = Address(addr_spec=settings.reply_to)
    mail["Subject"] = subject_line(message)
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = message_id(message, domain)
    if message.sequence > 0:
        # RFC 5322 3.6.4: every follow-up answers the first alert. Naming only the root keeps the thread whole
        # even when an earlier follow-up never arrived (a refused or ambiguous delivery).
        mail["In-Reply-To"] = mail["References"] = root_id(message, domain)
    # RFC 3834: no auto-replies to machine mail; Exchange/Outlook read their own header. No "Precedence": its
    # bulk/list values mark mass mail, which filters and queues treat as low priority: wrong for an alert.
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Auto-Response-Suppress"] = "All"

    text = message.text.rstrip() + _links_text(message)
    mail.set_content(text + "\n", subtype="plain", charset="utf-8", cte="quoted-printable")
    mail.add_alternative(_html_body(message), subtype="html", charset="utf-8", cte="quoted-printable")
    mail["Content-Language"] = _lang(message.locale)  # after the body: set_content drops Content-* headers
    for part in mail.iter_parts():
        del part["MIME-Version"]  # add_alternative repeats it in the part; RFC 2045 wants it at the top only
    return mail
