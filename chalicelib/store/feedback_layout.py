"""A feedback item's attributes: the compact layout it is stored in, and the reading of every layout before.

What a feedback's fields become as item attributes (keys apart: feedback.py builds those) and back; the
per-day and customer index keys and the reads are in feedback.py, the listings in feedback_pages.py.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.models import StoredFeedback
from chalicelib.store.schema import PK

ITEM_TYPE = "FEEDBACK"

# The compact layout (README, Guarantees): an item under 1 KB costs half the write units of one just over
# it, twice over (the transactional Put and the per-day index entry). Fields at their defaults are left out
# (and `received_at` when it is `occurred_at`), the id is the primary key's, the scores are a list, a theme
# tag is one string pointing at its evidence in the text, and a text that compresses is stored compressed.
# Every attribute an expression, a projection or a partial update names (channel, sentiment, customer_id,
# rating, analyzer, taxonomy_version, `size(themes)`, the re-analysis' fields, platform_deleted_at) keeps
# its name and type. The others have short names (SHORT_NAMES; the author's too), the times are epoch
# microseconds (a number of 9 bytes or fewer instead of a 27-character text), the kind is left out when it
# is the channel's usual one, and a permalink that is the form's page URL points at it. Items written before
# (every field as dumped, or the first compact layout with long names and texts) read the same.
SCORE_ORDER = ("positive", "negative", "neutral", "mixed")
COMPRESSED_TEXT = "text_z"  # the first compact layout's name; SHORT_NAMES[COMPRESSED_TEXT] now
SHORT_NAMES = {
    "source_id": "so",
    "kind": "k",
    "external_id": "x",
    "thread_id": "th",
    "text": "t",
    COMPRESSED_TEXT: "tz",
    "text_truncated": "tt",
    "rating_scale": "rs",
    "author": "a",
    "occurred_at": "o",
    "received_at": "r",
    "permalink": "p",
    "metadata": "m",
    "stored_at": "sa",
    "pii_redacted": "pr",
    "pii_types": "pi",
    "raw_mail_key": "rm",
}
_LONG_NAMES = {short: name for name, short in SHORT_NAMES.items()}
_AUTHOR_NAMES = {"channel_user_id": "u", "handle": "h", "name": "n", "email": "e"}
_AUTHOR_LONG_NAMES = {short: name for name, short in _AUTHOR_NAMES.items()}
# Stored as epoch microseconds (analyzed_at under its own name: the re-analysis writes it).
TIMES = ("occurred_at", "received_at", "stored_at", "analyzed_at")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# The kind each channel's items nearly always have, left out of the item. Never change an entry: items
# without a kind read as their channel's entry here.
USUAL_KINDS = {
    "form": "form_response",
    "typeform": "form_response",
    "trustpilot": "review",
    "google_play": "review",
    "app_store": "review",
    "google_business": "review",
    "email": "message",
    "telegram": "message",
    "whatsapp": "message",
    "messenger": "message",
    "facebook": "comment",
    "instagram": "comment",
}
# What `permalink` holds when it is the form's page URL (`metadata.page_url`); a permalink is an http(s) URL.
_SAME_AS_PAGE_URL = "="
_DEFAULTS = {
    "text": "",
    "text_truncated": False,
    "pii_redacted": False,
    "pii_types": [],
    "metadata": {},
    "raw_mail_key": None,
}
_SENTIMENT_LETTERS = {"POSITIVE": "P", "NEGATIVE": "N", "NEUTRAL": "U", "MIXED": "M"}
_LETTER_SENTIMENTS = {letter: name for name, letter in _SENTIMENT_LETTERS.items()}


def stored_fields(feedback: StoredFeedback) -> dict[str, Any]:
    """The item attributes of a feedback's fields in the compact layout (keys apart)."""
    # raw_mail_key is left out of every dump (it never leaves the table) but kept here, for an erasure.
    fields = {**feedback.model_dump(mode="json", exclude_none=True), "raw_mail_key": feedback.raw_mail_key}
    del fields["feedback_id"]
    for name, default in _DEFAULTS.items():
        if fields.get(name) == default:
            del fields[name]
    if fields["received_at"] == fields["occurred_at"]:  # a form response, a webhook without a time of its own
        del fields["received_at"]
    for name in TIMES:
        if name in fields:
            fields[name] = (getattr(feedback, name) - _EPOCH) // _MICROSECOND
    if USUAL_KINDS.get(fields["channel"]) == fields["kind"]:
        del fields["kind"]
    if fields.get("permalink") is not None and fields["permalink"] == fields.get("metadata", {}).get(
        "page_url"
    ):
        fields["permalink"] = _SAME_AS_PAGE_URL
    author = {_AUTHOR_NAMES[name]: value for name, value in fields.pop("author", {}).items()}
    if author:
        fields["author"] = author
    if "sentiment_scores" in fields:
        fields["sentiment_scores"] = encode_scores(fields["sentiment_scores"])
    if "themes" in fields:
        fields["themes"] = encode_themes(fields["themes"], feedback.text)
    text = fields.get("text")
    if text:
        compressed = zlib.compress(text.encode(), 9)
        if len(compressed) < len(text.encode()):
            fields[COMPRESSED_TEXT] = compressed
            del fields["text"]
    return {SHORT_NAMES.get(name, name): value for name, value in fields.items()}


def stored_names(names: Iterable[str]) -> tuple[str, ...]:
    """The attribute names fields may be stored under, in any layout (for a ProjectionExpression)."""
    return tuple(dict.fromkeys(n for name in names for n in (name, SHORT_NAMES.get(name, name))))


def encode_scores(scores: dict[str, float]) -> list[float]:
    """Sentiment scores as a list in SCORE_ORDER."""
    return [scores[name] for name in SCORE_ORDER]


def encode_themes(themes: list[dict[str, str]], text: str) -> list[str]:
    """Each theme tag as `<id>|<sentiment letter>|@<start>:<length>` (its evidence's place in the text) or
    `…|=<evidence>` when the text does not hold it. (Theme ids never hold a `|`: counters.py relies on it.)"""
    encoded = []
    for tag in themes:
        evidence, start = tag["evidence"], text.find(tag["evidence"])
        where = f"@{start}:{len(evidence)}" if start >= 0 else f"={evidence}"
        encoded.append(f"{tag['id']}|{_SENTIMENT_LETTERS[tag['sentiment']]}|{where}")
    return encoded


def id_of(item: dict[str, Any]) -> str:
    """A feedback item's id (deserialized, either layout: the compact one keeps it in the key only)."""
    return str(item.get("feedback_id") or str(item[PK]).removeprefix(f"{ITEM_TYPE}#"))


def _time(value: Any) -> Any:
    """A stored time as the model dumps it (ISO 8601, `Z`): from epoch microseconds, or as it was stored."""
    if isinstance(value, str) or value is None:
        return value
    return (_EPOCH + int(value) * _MICROSECOND).isoformat().replace("+00:00", "Z")


def plain_fields(item: dict[str, Any]) -> dict[str, Any]:
    """An item (deserialized) with its feedback fields as StoredFeedback names them, in any layout: the
    compact one (stored_fields), the first compact one (long names, times as text), or the one before it,
    which stored each field as dumped."""
    fields = {_LONG_NAMES.get(name, name): value for name, value in item.items()}
    if "feedback_id" not in fields and PK in fields:
        fields["feedback_id"] = id_of(fields)
    for name in TIMES:
        if name in fields:
            fields[name] = _time(fields[name])
    if "received_at" not in fields and "occurred_at" in fields:
        fields["received_at"] = fields["occurred_at"]
    if "kind" not in fields and fields.get("channel") in USUAL_KINDS:
        fields["kind"] = USUAL_KINDS[fields["channel"]]
    if fields.get("permalink") == _SAME_AS_PAGE_URL:
        fields["permalink"] = (fields.get("metadata") or {}).get("page_url")
    author = fields.get("author")
    if isinstance(author, dict):
        fields["author"] = {_AUTHOR_LONG_NAMES.get(name, name): value for name, value in author.items()}
    compressed = fields.pop(COMPRESSED_TEXT, None)
    if compressed is not None:
        fields["text"] = zlib.decompress(bytes(compressed)).decode()
    scores = fields.get("sentiment_scores")
    if isinstance(scores, list):
        fields["sentiment_scores"] = dict(zip(SCORE_ORDER, scores, strict=True))
    themes = fields.get("themes")
    if isinstance(themes, list) and any(isinstance(tag, str) for tag in themes):
        fields["themes"] = [_decode_tag(tag, str(fields.get("text", ""))) for tag in themes]
    return fields


def _decode_tag(tag: Any, text: str) -> Any:
    if not isinstance(tag, str):
        return tag
    theme_id, letter, where = tag.split("|", 2)
    if where.startswith("@"):
        start, length = (int(part) for part in where[1:].split(":"))
        evidence = text[start : start + length]
    else:
        evidence = where[1:]
    return {"id": theme_id, "sentiment": _LETTER_SENTIMENTS[letter], "evidence": evidence}
