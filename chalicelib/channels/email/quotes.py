"""The customer's new words in a plain-text mail body: quoted replies, signatures and disclaimers cut away.

Hand-written line rules rather than a library: the maintained reply parsers are either unmaintained ports or
pull in machine-learning models, and the shapes below are the ones the major clients write. A reply header
is recognised in the clients' languages ("On … wrote:", "Le … a écrit :", "Am … schrieb …:", "El …
escribió:" …), Outlook's header block (From:/Sent:/To:/Subject: in several languages) and separator lines;
everything from there on is the quoted mail. A forwarded mail keeps the words written above it, or, when
nothing was written, the forwarded text itself (the customer passes on what they want read).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "On <date>, <name> wrote:" in the languages of the major clients; Gmail may wrap it over two lines.
_REPLY_HEADERS = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"^on\b.{4,300}\bwrote:$",  # English (Gmail, Apple Mail, Thunderbird)
        r"^le\b.{4,300}\ba [ée]crit ?:$",  # French
        r"^am\b.{4,300}\bschrieb.{0,300}:$",  # German
        r"^el\b.{4,300}\bescribi[óo] ?:$",  # Spanish
        r"^il\b.{4,300}\bha scritto ?:$",  # Italian
        r"^(em|no dia)\b.{4,300}\bescreveu ?:$",  # Portuguese
        r"^op\b.{4,300}\bschreef.{0,300}:$",  # Dutch
        r"^.{0,300}\d{4}.{0,300}<[^>\s]+@[^>\s]+>:$",  # "2024/05/02 10:00 Name <a@b>:" (Japanese clients)
    )
]
# Lines that separate the new words from a quoted or forwarded mail.
_SEPARATORS = re.compile(
    r"^(-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|mensaje original|"
    r"messaggio originale|mensagem original|oorspronkelijk bericht)\s*-{2,}|_{20,})$",
    re.IGNORECASE,
)
_FORWARD_MARKERS = re.compile(
    r"^(-{2,}\s*(forwarded message|weitergeleitete nachricht|message transféré|mensaje reenviado|"
    r"messaggio inoltrato|mensagem encaminhada|doorgestuurd bericht)\s*-{2,}|begin forwarded message:)$",
    re.IGNORECASE,
)
# Outlook's quoted-mail header block: a From line, then Sent/Date and To/Subject lines right after it.
_FROM_LINE = re.compile(r"^\*?(from|de|von|da|van)\s?\*?\s?:", re.IGNORECASE)
_HEADER_LINE = re.compile(
    r"^\*?(sent|date|to|subject|cc|envoyé|à|objet|gesendet|an|betreff|enviado|para|asunto|inviato|"
    r"oggetto|verzonden|aan|onderwerp|datum)\s?\*?\s?:",
    re.IGNORECASE,
)
# Where a signature starts: the standard delimiter and the mobile clients' lines.
_SIGNATURE_STARTS = re.compile(
    r"^(--|__|sent from my .{1,40}|sent from (mail|outlook) for .{1,40}|get outlook for .{1,40}|"
    r"envoyé de mon .{1,40}|von meinem .{1,40} gesendet|enviado desde mi .{1,40}|inviato da .{1,40}|"
    r"enviado do meu .{1,40}|verzonden vanaf mijn .{1,40}|iphoneから送信)$",
    re.IGNORECASE,
)
# The opening words of the legal disclaimers companies append; the disclaimer runs to the end.
_DISCLAIMER_STARTS = re.compile(
    r"^(\*+\s*)?(confidentiality notice|disclaimer|this (e-?mail|message|communication)\b.{0,80}"
    r"\b(confidential|intended (solely |only )?for)|the information (contained )?in this (e-?mail|message)|"
    r"please consider the environment before printing|ce (message|courriel)\b.{0,80}\bconfidenti|"
    r"diese e-?mail\b.{0,80}\bvertraulich|este (correo|mensaje)\b.{0,80}\bconfidencial)",
    re.IGNORECASE,
)
_OUTLOOK_HEADER_SPAN = 6
# A closing line ("Best regards," "Mit freundlichen Grüßen") that a short name block follows: the closing and
# the block are the signature. Without a block after it, a closing line is kept as the customer's words.
_CLOSINGS = re.compile(
    r"^(best( regards| wishes)?|kind regards|warm regards|regards|many thanks|thanks( again| a lot)?|"
    r"thank you|cheers|sincerely( yours)?|yours (sincerely|truly|faithfully)|all the best|"
    r"mit freundlichen grüßen|mit freundlichem gruß|freundliche grüße|viele grüße|beste grüße|lg|mfg|"
    r"cordialement|bien cordialement|bien à vous|salutations|merci( beaucoup)?|"
    r"saludos( cordiales)?|un saludo|atentamente|gracias|cordiali saluti|distinti saluti|saluti|grazie|"
    r"atenciosamente|abraços|obrigad[oa]|met vriendelijke groet(en)?|vriendelijke groet(en)?|groeten|"
    r"よろしくお願いします|よろしくお願いいたします)[\s,.!]*$",
    re.IGNORECASE,
)
# A name block: at most this many lines (name, role, company, phone), each short.
_NAME_BLOCK_LINES = 5
_NAME_BLOCK_CHARS = 60


@dataclass(frozen=True)
class NewWords:
    """The customer's own text, and whether the mail forwarded another one."""

    text: str
    forwarded: bool = False
    # The `From:` of the forwarded mail's header block, when the text is that mail's (nothing written above).
    forwarded_from: str | None = None


def _is_reply_header(line: str) -> bool:
    return any(pattern.match(line) for pattern in _REPLY_HEADERS)


def _is_outlook_block(lines: list[str], start: int) -> bool:
    if not _FROM_LINE.match(lines[start]):
        return False
    following = [line for line in lines[start + 1 : start + _OUTLOOK_HEADER_SPAN] if line]
    return sum(1 for line in following if _HEADER_LINE.match(line)) >= 2


def _quote_start(lines: list[str], forward: bool = False) -> tuple[int, bool]:
    """The index of the first line of the quoted or forwarded part (len(lines) when none), and whether it
    is a forward (`forward`: a separator or Outlook's header block starts one, as in Outlook's FW:)."""
    for index, line in enumerate(lines):
        joined = f"{line} {lines[index + 1]}" if index + 1 < len(lines) else line
        if _FORWARD_MARKERS.match(line):
            return index, True
        if _SEPARATORS.match(line) or _is_outlook_block(lines, index):
            return index, forward
        if _is_reply_header(line):
            return index, False
        if re.match(r"^(on|le|am|el|il|em|op)\b", line, re.IGNORECASE) and _is_reply_header(joined):
            return index, False
        if line.startswith(">") and all(not rest or rest.startswith(">") for rest in lines[index:]):
            return index, False
    return len(lines), False


def _reply_header_lines(lines: list[str], start: int) -> int:
    """How many lines the reply header at `start` spans (Gmail may wrap it over two), 0 when none is."""
    if start >= len(lines):
        return 0
    if _is_reply_header(lines[start]):
        return 1
    return 2 if start + 1 < len(lines) and _is_reply_header(f"{lines[start]} {lines[start + 1]}") else 0


def _quoted_with_markers(lines: list[str], after_header: int) -> bool:
    """Whether the quoted mail after a reply header comes as `>` lines (so any line after it without `>`
    is the author's own, as in a bottom-posted reply)."""
    following = next((line for line in lines[after_header:] if line), "")
    return following.startswith(">")


def _forwarded_body(lines: list[str]) -> list[str]:
    """The forwarded mail's text: after the marker and its header block (From/Date/Subject/To lines)."""
    body = lines[1:]
    while body and (not body[0] or _FROM_LINE.match(body[0]) or _HEADER_LINE.match(body[0])):
        body = body[1:]
    return body


def _is_closing(lines: list[str], index: int) -> bool:
    if not _CLOSINGS.match(lines[index]):
        return False
    block = [line for line in lines[index + 1 :] if line]
    return 0 < len(block) <= _NAME_BLOCK_LINES and all(len(line) <= _NAME_BLOCK_CHARS for line in block)


def _without_signature(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if index > 0 and (
            _SIGNATURE_STARTS.match(line) or _DISCLAIMER_STARTS.match(line) or _is_closing(lines, index)
        ):
            return lines[:index]
    return lines


def without_sign_off(text: str, author_name: str | None) -> str:
    """`text` without a last line that is only the author's name or first name ("Jane", "- Jane Doe"), the
    sign-off most people type instead of a signature; kept when it is all the text."""
    names: set[str] = set()
    if author_name and author_name.split():
        # Outlook's directory names people "Last, First": they sign "First Last" or "First".
        last, comma, first = author_name.partition(",")
        for name in (author_name, f"{first} {last}" if comma and first.strip() else author_name):
            names |= {" ".join(name.split()).lower(), name.split()[0].lower()}
    lines = text.split("\n")
    last = lines[-1].strip().lstrip("-\u2013\u2014~ ").rstrip(".!, ").lower()
    if names and len(lines) > 1 and last in names:
        return _tidy(lines[:-1])
    return text


def new_words(body: str, forward: bool = False) -> NewWords:
    """What the author wrote in this mail (`body` is its plain text; `forward`: its subject says it is a
    forward, so a quote that starts with a separator or Outlook's header block is the forwarded mail)."""
    lines = [line.strip() for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    start, forwarded = _quote_start(lines, forward)
    own = [line for line in lines[:start] if not line.startswith(">")]
    header = _reply_header_lines(lines, start)
    if not _tidy(own) and not forwarded and header and _quoted_with_markers(lines, start + header):
        # Bottom-posted: a reply header, the quoted mail as `>` lines, and the new words under them.
        own = [line for line in lines[start + header :] if not line.startswith(">")]
    own = _without_signature(own)
    text = _tidy(own)
    if not text and forwarded:
        text = _tidy(
            _without_signature(new_words("\n".join(_forwarded_body(lines[start:]))).text.split("\n"))
        )
        return NewWords(text=text, forwarded=True, forwarded_from=_forwarded_sender(lines[start:]))
    return NewWords(text=text, forwarded=forwarded)


def _forwarded_sender(lines: list[str]) -> str | None:
    """The value of the `From:` line in the forwarded mail's header block (after the marker, or the block's
    first line where Outlook's block itself starts the forward)."""
    for line in lines[0 if _FROM_LINE.match(lines[0]) else 1 :]:
        if line and not (_FROM_LINE.match(line) or _HEADER_LINE.match(line)):
            return None  # the block ended without one
        if _FROM_LINE.match(line):
            return line.split(":", 1)[1].strip().strip("*").strip()
    return None


def _tidy(lines: list[str]) -> str:
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
