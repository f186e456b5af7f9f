"""One received mail (raw RFC 5322 bytes) as at most one FeedbackEvent.

Parsed with the standard library's `email` package under `policy.default`. The author comes from `From`
(the address lower-cased, so the identity links to the customer by e-mail as a form's contact does), the text
is the customer's new words (quotes.py; HTML-only mail through html_text.py), the subject and attachment names
go to metadata, the thread is the root of `References` (else `In-Reply-To`, else the mail itself), and the
item's identity derives from `Message-ID`, so a mail delivered twice is stored once. Automatic mail
(RFC 3834 `Auto-Submitted`, vacation responders, bounces) is skipped, not stored.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

from chalicelib.channels.email.html_text import html_to_text
from chalicelib.channels.email.quotes import NewWords, new_words, without_sign_off
from chalicelib.models import LANGUAGE_HINTS, MAX_ID_CHARS, Author, Channel, FeedbackEvent, Kind

# SES accepts mails up to 40 MB; the text of one is what is analysed, the rest (attachments) is not read.
MAX_RAW_BYTES = 40 * 1024 * 1024
# Charsets mail clients declare for text that is really their superset: decoding by the superset keeps
# the curly quotes and euro signs of Windows and the extra kanji of Windows' Shift_JIS.
_SUPERSETS = {
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
}
# Charsets a body is declared in (or defaults to) when its sender did not say it is UTF-8: scripts and old
# clients send 8-bit UTF-8 under no charset (us-ascii by RFC 2045) or label it Latin-1. Bytes that decode as
# UTF-8 are read so (Latin-1 text beyond ASCII almost never forms valid UTF-8), the rest by the superset.
_UTF8_FIRST = frozenset({"us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252"})
# Precedence of automatic mail (RFC 3834 section 2); not `list`: a group forwarding to the address sets it.
_AUTOMATIC_PRECEDENCE = frozenset({"bulk", "auto_reply", "junk"})
_BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})
# Senders that write on someone else's behalf (a site's contact form, a form service): their address is
# nobody's, and the customer is the `Reply-To` they set. By the local part: no-reply addresses, the web
# server's and WordPress's own, form senders ("forms-receipts-noreply", "form-submission", "formresponses").
_RELAY_LOCAL_PARTS = re.compile(
    r"^(.*no[-_.]?reply.*|.*do[-_.]?not[-_.]?reply.*|wordpress|www-data|apache|nginx|nobody|mailer|"
    r"web-?forms?|forms?|form[-_.]?(submissions?|responses?|notifications?)|formresponses|submissions?|"
    r"contact[-_.]?forms?)(\+.*)?$",
    re.IGNORECASE,
)
# Form services that mail a site's submissions from their own domain (the respondent as Reply-To).
_FORM_SERVICE_DOMAINS = (
    "formspree.io", "jotform.com", "wufoo.com", "typeform.com", "netlify.com", "hsforms.com",
    "squarespace.info", "getform.io", "usebasin.com", "formsubmit.co", "123formbuilder.com",
    "cognitoforms.com",
)  # fmt: skip
# The names Outlook gives the images embedded in a mail's HTML (a signature's logo): image001.png …
_OUTLOOK_IMAGE_NAME = re.compile(r"^image\d{3}\.(png|jpe?g|gif|bmp|emz|wmz)$", re.IGNORECASE)
# What clients write into the plain-text alternative where the HTML shows an embedded image: Outlook's
# "[cid:image001.png@01DB…]" and Gmail's "[image: Acme logo]".
_IMAGE_PLACEHOLDER = re.compile(r"\[(cid:[^\]\s]{1,300}|image: [^\]\n]{0,200})\]", re.IGNORECASE)
# The prefixes mail clients put before a forwarded mail's subject (Outlook: FW, WG, TR, RV, ENC, Doorst).
_FORWARD_SUBJECTS = re.compile(r"^(fw|fwd|wg|tr|rv|enc|doorst)\s?:", re.IGNORECASE)
# Contact Form 7's default mail body: the visitor's "From:" line a few lines above the "Message Body:" label.
_FORM_FROM = re.compile(r"^from:\s*(?P<value>.*<[^<>\s]+@[^<>\s]+>)$", re.IGNORECASE)
_FORM_MESSAGE_LABEL = re.compile(r"^message body:$", re.IGNORECASE)
_SURROGATES = re.compile("[\ud800-\udfff]")
# A display name such as "Jane Doe via Shop" (form services and mailing lists sending for a person).
_VIA_NAME = re.compile(r"^(?P<name>.+?)\s+via\s+\S.*$", re.IGNORECASE)
# Subject prefixes of out-of-office replies from responders that set no header (older Exchange, some
# webmails): the prefix and its colon, so "Out of office hours support" written by a person is kept.
_AUTO_REPLY_SUBJECTS = re.compile(
    r"^(automatic reply|auto-reply|autoreply|out of (the )?office( reply| autoreply)?|réponse automatique|"
    r"automatische antwort|abwesenheitsnotiz|respuesta automática|risposta automatica|resposta automática|"
    r"automatisch antwoord|autosvar|automatisk svar|automatyczna odpowiedź)"
    r"\s?:",
    re.IGNORECASE,
)
# Subjects of delivery failures from servers that send them as plain mail (not multipart/report): Exim,
# Exchange's "Undeliverable:", Gmail's and Postfix's wordings.
_BOUNCE_SUBJECTS = re.compile(
    r"^((undeliverable|unzustellbar|non remis|returned mail|mail delivery failed) ?:|"
    r"undelivered mail returned to sender$|delivery status notification \((failure|delay)\)$)",
    re.IGNORECASE,
)


class MailRefused(ValueError):
    """A mail that cannot be read as feedback at all (not a mail message); the reason is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ParsedMail:
    """What one mail says, before it is attributed to a source."""

    external_id: str
    author: Author
    subject: str
    text: str
    thread_id: str
    sent_at: datetime | None
    attachments: list[str] = field(default_factory=list)
    # Why the mail is not customer feedback (a stable snake_case reason), or None when it is.
    automatic: str | None = None
    html_only: bool = False
    forwarded: bool = False
    language: str | None = None


def parse(raw: bytes, envelope_sender: str | None = None, recipients: Sequence[str] = ()) -> ParsedMail:
    """Read one raw mail; `envelope_sender` (SMTP MAIL FROM) stands in for a missing `From`, and the
    `recipients` it was delivered to name the site's own domains (its contact form's relay address)."""
    if not raw.strip():
        raise MailRefused("empty", "The mail is empty.")
    if len(raw) > MAX_RAW_BYTES:
        raise MailRefused("too_large", f"The mail is larger than {MAX_RAW_BYTES // (1024 * 1024)} MB.")
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if not any(_header(message, name) for name in ("from", "message-id", "date", "subject", "content-type")):
        raise MailRefused("not_a_mail", "The data has none of the headers of a mail message.")
    sites = frozenset(address.rsplit("@", 1)[-1].strip().lower() for address in recipients if "@" in address)
    sender = _author(message, envelope_sender)
    author = _customer(sender, _header(message, "reply-to"), sites)
    body, html_only = _body(message)
    subject = _header(message, "subject")
    words = _words(message, body, html_only, subject)
    # Forwarded with nothing written above: the words are the forwarded mail's, and so is their author (the
    # customer who said them, not the colleague who passed them on), when its header names an address.
    said_by = _customer(_mailbox(words.forwarded_from), "", sites) if words.forwarded_from else None
    attached = _attached_mail(message)
    if attached is not None:
        # A forward as attachment: the words written above it, or, when none, the attached mail's own.
        if not words.text:
            body, html_only = _body(attached)
            words = new_words(body)
            said_by = _customer(_mailbox(_header(attached, "from")), _header(attached, "reply-to"), sites)
        words = NewWords(text=words.text, forwarded=True)
    author = said_by if said_by is not None and said_by.email else author
    # A contact form's own body (Contact Form 7's default: the visitor's From line, then "Message Body:"),
    # unless someone wrote a note above its forward: its message is the words, and its From the customer
    # where no Reply-To named one or a colleague forwarded it.
    form = _form_submission(body) if said_by is not None or not words.forwarded else None
    if form is not None:
        visitor, message_text = form
        if visitor.email and (author.email is None or words.forwarded):
            author = visitor
        words = NewWords(text=message_text, forwarded=words.forwarded)
    words = NewWords(text=without_sign_off(words.text, author.name), forwarded=words.forwarded)
    message_id = _first_id(_header(message, "message-id"))
    external_id = _external_id(message_id, raw)
    references = _ids(_header(message, "references"))
    in_reply_to = _ids(_header(message, "in-reply-to"))
    thread_root = (references or in_reply_to or [message_id or external_id])[0]
    return ParsedMail(
        external_id=external_id,
        author=author,
        subject=subject,
        # A mail whose whole message is its subject ("App crashes on login", empty body) is still feedback.
        text=words.text or subject,
        thread_id=_bounded(thread_root),
        sent_at=_date(_header(message, "date")),
        attachments=_attachment_names(message),
        automatic=_automatic(
            message,
            (sender, author),
            subject,
            # None: not known (a test, a replay); "" or "<>": the null reverse-path.
            null_sender=envelope_sender is not None and not envelope_sender.strip().strip("<>").strip(),
        ),
        html_only=html_only,
        forwarded=words.forwarded,
        language=_language(_header(message, "content-language")),
    )


def to_event(
    mail: ParsedMail,
    *,
    source_id: str,
    recipient: str,
    received_at: datetime,
    language_hint: str | None = None,
    raw_mail_key: str | None = None,
) -> FeedbackEvent:
    """The FeedbackEvent of a parsed mail for the source its `recipient` address belongs to (`raw_mail_key`:
    where the raw mail lies in S3, for an erasure)."""
    metadata: dict[str, str | int | bool] = {"subject": mail.subject, "recipient": recipient}
    if mail.attachments:
        # Names only: attachments are never stored.
        metadata["attachments"] = ", ".join(mail.attachments)
        metadata["attachment_count"] = len(mail.attachments)
    if mail.html_only:
        metadata["html_only"] = True
    if mail.forwarded:
        metadata["forwarded"] = True
    return FeedbackEvent.create(
        source_id=source_id,
        external_id=mail.external_id,
        channel=Channel.EMAIL,
        kind=Kind.MESSAGE,
        text=mail.text,
        thread_id=mail.thread_id,
        language=mail.language,
        language_hint=None if mail.language else language_hint,
        author=mail.author,
        # A mail cannot have been written after it arrived: a later Date is a sender's wrong clock, which
        # would date the customer's profile (last seen) years ahead.
        occurred_at=min(mail.sent_at, received_at) if mail.sent_at else received_at,
        received_at=received_at,
        metadata={key: value for key, value in metadata.items() if value not in ("", None)},
        raw_mail_key=raw_mail_key,
    )


# --- headers ----------------------------------------------------------------------------------------------


def _header(message: Message, name: str) -> str:
    """A header's decoded value ('' when absent); a header too broken to decode is read as its raw text."""
    try:
        value = message.get(name)
    except (ValueError, TypeError, IndexError, AttributeError):
        value = None
        for key, raw in message.raw_items() if isinstance(message, EmailMessage) else []:
            if key.lower() == name:
                value = raw
                break
    # Bytes that are no UTF-8 in a raw header come back as lone surrogates, which no JSON or id can hold.
    return _SURROGATES.sub("\ufffd", " ".join(str(value).split())) if value is not None else ""


def _author(message: Message, envelope_sender: str | None) -> Author:
    author = _mailbox(_header(message, "from"))
    if author.email is None and envelope_sender and "@" in envelope_sender:
        return Author(email=_mailbox(envelope_sender).email, name=author.name)
    return author


def _mailbox(from_value: str) -> Author:
    """The first mailbox of a From value with a valid address (its name too), or an Author without one."""
    name, address = "", ""
    # Some senders (Python's legacy email API, older PHP mailers) encode the whole mailbox, address and all,
    # as one encoded word; decoded, it reads as one quoted local part, so it is read again unquoted.
    unquoted = from_value[1:-1] if len(from_value) > 1 and from_value[0] == from_value[-1] == '"' else ""
    for candidate_name, candidate_address in getaddresses([from_value]) + getaddresses([unquoted]):
        if "@" in candidate_address and "<" not in candidate_address:
            name, address = candidate_name, candidate_address
            break
    try:
        address = Address(addr_spec=address).addr_spec if address else ""
    except (ValueError, IndexError, HeaderParseError):  # "a@b@c": no address at all
        address = ""
    return Author(email=address.lower() or None, name=name.strip() or None)


def _within(domain: str, domains: Iterable[str]) -> bool:
    return any(domain == other or domain.endswith("." + other) for other in domains)


def _relayed(sender: Author, reply_to: Author, sites: frozenset[str]) -> bool:
    """Whether `sender` writes for someone else: a relay's or form service's address, or the site's own
    domain (its contact form mailing its own inbox) with a Reply-To outside it."""
    if not sender.email:
        return False
    local, _, domain = sender.email.rpartition("@")
    if _RELAY_LOCAL_PARTS.match(local) or _within(domain, _FORM_SERVICE_DOMAINS):
        return True
    own_site = _within(domain, sites) or any(_within(site, [domain]) for site in sites)
    outside = reply_to.email is not None and not _within(reply_to.email.rpartition("@")[2], [domain, *sites])
    return own_site and outside


def _customer(sender: Author, reply_to_value: str, sites: frozenset[str]) -> Author:
    """Who wrote the words: the sender, or, when the sender relays (a contact form), the Reply-To it set.
    A relay without one is nobody: its address would make every form's customer one customer."""
    reply_to = _mailbox(reply_to_value) if reply_to_value else Author()
    if reply_to.email == sender.email or not _relayed(sender, reply_to, sites):
        return sender
    via = _VIA_NAME.match(sender.name or "")
    return Author(email=reply_to.email, name=reply_to.name or (via["name"] if via else None))


def _words(message: Message, body: str, html_only: bool, subject: str) -> NewWords:
    """The new words of a mail's body; a forward with nothing written above it that only its subject
    tells from a reply (Outlook's "FW:" over its header block), or whose HTML holds the forwarded mail in
    its quote elements, is read again as the forward it is."""
    words = new_words(body)
    forward = _FORWARD_SUBJECTS.match(subject) is not None
    if words.text or words.forwarded or not (forward or html_only):
        return words
    html = next(
        (_text_of(part) for part in _own_parts(message) if part.get_content_type() == "text/html"), ""
    )
    again = new_words(html_to_text(html, keep_quotes=True) if html_only else body, forward=forward)
    return again if again.forwarded else words


def _form_submission(body: str) -> tuple[Author, str] | None:
    """The visitor and message of a contact form's mail in Contact Form 7's default layout ("From: name
    <address>" and "Subject:" lines, then "Message Body:" and the message), or None."""
    lines = [line.strip() for line in body.replace("\r\n", "\n").split("\n")]
    label = next((index for index, line in enumerate(lines) if _FORM_MESSAGE_LABEL.match(line)), None)
    if label is None:
        return None
    fields = [match for line in lines[max(0, label - 6) : label] if (match := _FORM_FROM.match(line))]
    if not fields:
        return None
    return _mailbox(fields[-1]["value"]), new_words("\n".join(lines[label + 1 :])).text


def _ids(value: str) -> list[str]:
    """The message ids in a Message-ID, In-Reply-To or References value, in order, without angle brackets."""
    found = re.findall(r"<([^<>\s]+)>", value)
    if not found and value.strip():
        found = value.split()
    return [_bounded(item) for item in found]


def _first_id(value: str) -> str | None:
    ids = _ids(value)
    return ids[0] if ids else None


def _bounded(message_id: str) -> str:
    # An id longer than an item id may be is replaced by its digest, never cut (a cut id could merge mails).
    if len(message_id) <= MAX_ID_CHARS - 8:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()


def _external_id(message_id: str | None, raw: bytes) -> str:
    # Without a Message-ID the same bytes delivered again still make the same id.
    return message_id or "sha256:" + hashlib.sha256(raw).hexdigest()


def _date(value: str) -> datetime | None:
    try:
        sent_at = parsedate_to_datetime(value) if value else None
    except (ValueError, TypeError, IndexError):
        return None
    return sent_at if sent_at is not None and sent_at.tzinfo is not None else None


def _language(value: str) -> str | None:
    primary = value.split(",", maxsplit=1)[0].strip().split("-")[0].lower()
    return primary if primary in LANGUAGE_HINTS else None


def _automatic(
    message: Message, authors: Sequence[Author], subject: str, null_sender: bool = False
) -> str | None:
    """Why this mail was written by a program (RFC 3834, vacation responders, bounces), or None; `authors`:
    the sender and whom the words are attributed to (a forwarded bounce is a bounce too)."""
    auto_submitted = _header(message, "auto-submitted").split(";")[0].strip().lower()
    bounce = (
        message.get_content_type() == "multipart/report"
        or "x-ms-exchange-message-is-ndr" in message  # Exchange's plain non-delivery reports
        or any(author.email and author.email.split("@")[0] in _BOUNCE_SENDERS for author in authors)
        or _BOUNCE_SUBJECTS.match(subject) is not None
    )
    # RFC 8098: a read receipt is a report too, but of a mail read, not of one that failed.
    read_receipt = (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type") or "").lower() == "disposition-notification"
    )
    reasons = (
        (read_receipt, "read_receipt"),
        (bool(auto_submitted) and auto_submitted != "no", "auto_submitted"),
        (bool(_header(message, "x-autoreply") or _header(message, "x-autorespond")), "auto_reply"),
        (_header(message, "precedence").lower() in _AUTOMATIC_PRECEDENCE, "bulk_precedence"),
        (bounce, "bounce"),
        # RFC 5321 4.5.5 and RFC 3834 3.3: delivery reports and automatic replies are sent with the null
        # reverse-path (MAIL FROM:<>); a person's mail never is.
        (null_sender, "null_sender"),
        (_AUTO_REPLY_SUBJECTS.match(subject) is not None, "auto_reply"),
        # An invitation's answer (accepted, declined, tentative) that the calendar client wrote.
        (_calendar_reply(message), "calendar_reply"),
    )
    return next((reason for found, reason in reasons if found), None)


def _calendar_reply(message: Message) -> bool:
    return any(
        part.get_content_type() == "text/calendar" and str(part.get_param("method") or "").upper() == "REPLY"
        for part in _own_parts(message)
    )


# --- body -------------------------------------------------------------------------------------------------


def _unflowed(text: str, delete_space: bool) -> str:
    """A format=flowed text (RFC 3676: Thunderbird, Apple Mail) with its soft line breaks joined: a line
    ending in a space goes on in the next one of the same quote depth (the signature separator excepted)."""
    lines = text.replace("\r\n", "\n").split("\n")
    joined: list[tuple[int, str]] = []
    for raw_line in lines:
        depth = len(raw_line) - len(raw_line.lstrip(">"))
        line = raw_line[depth:].removeprefix(" ")  # space-stuffing (section 4.4) and the quote's own space
        if joined and joined[-1][0] == depth and joined[-1][1].endswith(" ") and joined[-1][1] != "-- ":
            previous = joined[-1][1]
            joined[-1] = (depth, (previous[:-1] if delete_space else previous) + line)
        else:
            joined.append((depth, line))
    return "\n".join((">" * depth + " " if depth else "") + line for depth, line in joined)


def _text_of(part: Message) -> str:
    """A text part decoded by its transfer encoding and charset (unreadable bytes become U+FFFD), its
    format=flowed soft line breaks joined."""
    text = _decoded(part)
    if part.get_content_type() == "text/plain" and str(part.get_param("format") or "").lower() == "flowed":
        return _unflowed(text, str(part.get_param("delsp") or "").lower() == "yes")
    return text


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = str(part.get_payload() or "").encode("utf-8", "replace")
    charset = (part.get_content_charset() or "us-ascii").lower()
    if charset in _UTF8_FIRST:
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            pass
    charset = _SUPERSETS.get(charset, charset)
    try:
        return payload.decode(charset, errors="replace")
    except (
        LookupError,
        ValueError,
    ):  # a charset Python does not know (or a NUL in its name): UTF-8 is likeliest
        return payload.decode("utf-8", errors="replace")


def _is_attachment(part: Message) -> bool:
    return part.get_content_disposition() == "attachment" or (
        part.get_filename() is not None and part.get_content_maintype() != "text"
    )


def _own_parts(message: Message) -> Iterator[Message]:
    """The mail's leaf parts, not descending into an attached mail (a forward as attachment, a bounce's
    copy): that mail's text is someone else's words."""
    if message.get_content_type() == "message/rfc822":
        return
    if not message.is_multipart():
        yield message
        return
    payload = message.get_payload()
    for part in payload if isinstance(payload, list) else []:
        if isinstance(part, Message):
            yield from _own_parts(part)


def _attached_mail(message: Message) -> Message | None:
    """The first mail attached whole (message/rfc822), as Outlook's and Apple Mail's forward as attachment
    sends it."""
    for part in message.walk():
        if part is not message and part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            return inner if isinstance(inner, Message) else None
    return None


def _body(message: Message) -> tuple[str, bool]:
    """The mail's text (plain preferred, else HTML as text) and whether it came from HTML only."""
    plain = html = None
    for part in _own_parts(message):
        if _is_attachment(part):
            continue
        if part.get_content_type() == "text/plain" and plain is None:
            plain = _text_of(part)
        elif part.get_content_type() == "text/html" and html is None:
            html = _text_of(part)
    if plain is not None:
        plain = _IMAGE_PLACEHOLDER.sub("", plain)
    if plain is not None and plain.strip():
        return plain, False
    if html is not None:
        return html_to_text(html), True
    if not message.is_multipart() and message.get_content_maintype() not in ("text", "multipart"):
        return "", False
    # A body whose structure cannot be read (a broken boundary): its text, best effort.
    try:
        payload = message.get_payload()
    except (ValueError, LookupError):  # its charset names no codec (a NUL in it): its bytes as UTF-8
        payload = _decoded(message)
    return (payload if isinstance(payload, str) else ""), False


def _leaves(message: Message, related: bool = False) -> Iterator[tuple[Message, bool]]:
    """Every part that is no multipart container (an attached mail is one, then its parts), each with
    whether it is a component of a multipart/related body (RFC 2387: an image the HTML shows in place)."""
    # A leaf's payload is never decoded here (a broken charset parameter would raise).
    payload = message.get_payload() if message.is_multipart() else None
    if not isinstance(payload, list):
        yield message, related
        return
    if message.get_content_type() == "message/rfc822":
        yield message, related
        related = False
    inside = message.get_content_type() == "multipart/related"
    for index, part in enumerate(payload):
        if isinstance(part, Message):
            # The related body's first part is its root (the HTML itself), the others its components.
            yield from _leaves(part, related=inside and index > 0)


def _embedded(part: Message, related: bool, name: str | None) -> bool:
    """An image shown inside the body (a signature's logo, Outlook's image001.png), not an attachment: a
    part with a Content-ID, not marked as an attachment, that is a component of the related HTML body or
    carries the name Outlook gives its embedded images. Apple Mail's photos (inline, but in
    multipart/mixed) stay attachments: the customer attached them."""
    if part.get_content_disposition() == "attachment" or not _header(part, "content-id"):
        return False
    return related or bool(_OUTLOOK_IMAGE_NAME.match(name or ""))


def _attachment_names(message: Message) -> list[str]:
    names = []
    # An attached mail is an attachment (its parts are walked too: the attachments it carried).
    for part, related in _leaves(message):
        try:
            name = part.get_filename()
        except (ValueError, TypeError, IndexError):
            name = None
        if (name or _is_attachment(part)) and not _embedded(part, related, name):
            names.append(" ".join((name or part.get_content_type()).split())[:200])
    return names
