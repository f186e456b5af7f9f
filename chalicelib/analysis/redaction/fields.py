"""Redaction of what a customer wrote beside the text: an e-mail's subject and its attachments' names, a
review's title, and the address of the page a form was sent from (its query may carry `?email=…`, a reset
token, an order number; for forms it is also the item's permalink).

The text goes to the configured redactor (Comprehend on AWS); these short fields go to the pattern redactor
only, on every backend: it costs no request, and a subject or a URL has the shapes the patterns know (an
address, a card, a phone), not the prose Comprehend is paid to read. Everything else in `metadata` is an id
or a setting that the platform or we chose, and is left alone: a Luhn-valid event id is not a card.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from chalicelib.analysis.redaction.base import label_for
from chalicelib.analysis.redaction.patterns import PatternRedactor
from chalicelib.models import Channel, StoredFeedback

# Metadata keys whose value is words the customer chose (channels/email/message.py, pull/app_store.py).
FREE_TEXT_METADATA = ("subject", "title", "attachments")
# Metadata keys holding the URL of the customer's page (forms/validation.py).
URL_METADATA = ("page_url",)
# A query parameter named like a credential (`?token=…`, `reset_password_token`, `api_key`, `session_id`)
# keeps its name and loses its value, whatever the value looks like.
_CREDENTIAL_NAME = re.compile(r"token|secret|passw|pwd|api[_-]?key|auth|session|signature", re.IGNORECASE)
CREDENTIAL_TYPE = "PASSWORD"
# Kept as they are in a rebuilt query and path, so a mask reads `email=[EMAIL]`.
_SAFE = "[]@:!$'()*,/"


def redact_beside_text(item: StoredFeedback, redactor: PatternRedactor) -> StoredFeedback:
    """The item with the personal data in its free-text metadata and its page URL masked (and their types
    added to `pii_types`); the item itself when there was none."""
    metadata, types = dict(item.metadata), set()
    for key in FREE_TEXT_METADATA:
        value = metadata.get(key)
        if isinstance(value, str) and value:
            redaction = redactor.redact_text(value)
            metadata[key], types = redaction.text, types | set(redaction.types)
    for key in URL_METADATA:
        value = metadata.get(key)
        if isinstance(value, str) and value:
            metadata[key], found = redact_url(value, redactor)
            types |= found
    permalink = item.permalink
    # A form's permalink is the page it was sent from (the browser's address); other channels' are made from
    # the platform's ids and are left as they are.
    if item.channel == Channel.FORM and permalink:
        permalink, found = redact_url(permalink, redactor)
        types |= found
    if not types:
        return item
    return item.model_copy(
        update={
            "metadata": metadata,
            "permalink": permalink,
            "pii_redacted": True,
            "pii_types": sorted(types | set(item.pii_types)),
        }
    )


def redact_url(url: str, redactor: PatternRedactor) -> tuple[str, set[str]]:
    """The URL with the personal data in its path segments and query values masked, and the types found;
    the URL unchanged (byte for byte) when nothing was."""
    parts = urlsplit(url)
    types: set[str] = set()
    segments = []
    for segment in parts.path.split("/"):
        redaction = redactor.redact_text(unquote(segment))
        segments.append(quote(redaction.text, safe=_SAFE) if redaction.types else segment)
        types |= set(redaction.types)
    pairs = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if value and _CREDENTIAL_NAME.search(name):
            pairs.append((name, label_for(CREDENTIAL_TYPE)))
            types.add(CREDENTIAL_TYPE)
            continue
        redaction = redactor.redact_text(value)
        pairs.append((name, redaction.text))
        types |= set(redaction.types)
    if not types:
        return url, types
    query = urlencode(pairs, safe=_SAFE) if parts.query else ""
    return urlunsplit((parts.scheme, parts.netloc, "/".join(segments), query, parts.fragment)), types
