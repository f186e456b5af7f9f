"""The contract every export file writer follows, and the row layout the flat formats share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from chalicelib.models import StoredFeedback

if TYPE_CHECKING:
    from chalicelib.export.streams import WrittenFile
    from chalicelib.themes.taxonomy import Taxonomy

# The root of the day folders (exports/dt=YYYY-MM-DD/); a writer whose file needs a prefix of its own (Athena
# reads every object under a table's location) names it in its `key_prefix`.
EXPORTS_ROOT = "exports/"

# One row per feedback item; the order is the CSV header and the column order of every flat format.
FEEDBACK_COLUMNS = (
    "feedback_id",
    "source_id",
    "channel",
    "kind",
    "external_id",
    "thread_id",
    "occurred_at",
    "received_at",
    "stored_at",
    "text",
    "language",
    "rating",
    "rating_scale",
    "author_channel_user_id",
    "author_handle",
    "author_name",
    "author_email",
    "permalink",
    "sentiment",
    "sentiment_positive",
    "sentiment_negative",
    "sentiment_neutral",
    "sentiment_mixed",
    "analyzer",
    "analyzed_at",
    "skipped_reason",
    "customer_id",
    "pii_redacted",
    "platform_deleted_at",
    "themes",
)


# The item's times (UTC): Parquet holds them typed, the CSV files as csv_time writes them.
TIMESTAMP_COLUMNS = frozenset(
    {"occurred_at", "received_at", "stored_at", "analyzed_at", "platform_deleted_at"}
)


def csv_time(value: datetime) -> str:
    """A UTC time as every CSV cell holds it: always to the microsecond (`2026-11-21T10:00:00.000000Z`). A
    platform's whole-second time beside a form's exact one in one column otherwise gives two layouts, and
    tools that take a column's format from its first row (pandas' parse_dates) leave it as text."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# A link in an export is followed by people in their CRM, BI tool or spreadsheet: web links only.
WEB_URL_SCHEMES = frozenset({"http", "https"})


def web_url(value: Any) -> str | None:
    """`value` when it is an http(s) URL with a host; None for anything else (javascript:, data:, file:,
    relative or scheme-relative links, text). urlsplit drops the tabs and line breaks browsers ignore, so
    `java\tscript:` is seen as the javascript: URL it is."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    return value if parts.scheme.lower() in WEB_URL_SCHEMES and parts.netloc else None


def _is_url_field(name: str) -> bool:
    return name.lower().endswith(("url", "link"))


def for_export(feedback: StoredFeedback) -> StoredFeedback:
    """The item as every export file shows it. Ingest accepts web links only, but items stored before it
    did may hold a `javascript:` permalink (or form page_url in metadata): such a link is left out here, so
    it reaches no CSV, JSON Lines or Parquet file (defense in depth; the stored item is unchanged)."""
    updates: dict[str, Any] = {}
    if feedback.permalink is not None and web_url(feedback.permalink) is None:
        updates["permalink"] = None
    unsafe = [
        key
        for key, value in feedback.metadata.items()
        if _is_url_field(key) and value is not None and web_url(value) is None
    ]
    if unsafe:
        updates["metadata"] = {key: value for key, value in feedback.metadata.items() if key not in unsafe}
    return feedback.model_copy(update=updates) if updates else feedback


def feedback_row(feedback: StoredFeedback) -> dict[str, Any]:
    """A stored item flattened to FEEDBACK_COLUMNS (None where absent; times as csv_time). `themes` stays the
    stored list of {id, sentiment, evidence} (empty for an item stored before tagging): each format writes it
    its own way."""
    data = feedback.model_dump(mode="json")
    author = data.pop("author") or {}
    scores = data.pop("sentiment_scores") or {}
    flat = {
        **data,
        **{f"author_{key}": value for key, value in author.items()},
        **{f"sentiment_{key}": value for key, value in scores.items()},
        "themes": data.get("themes") or [],
    }
    for column in TIMESTAMP_COLUMNS:
        value = getattr(feedback, column)
        flat[column] = None if value is None else csv_time(value)
    return {column: flat.get(column) for column in FEEDBACK_COLUMNS}


class ThemeNames:
    """Theme id → name and parent, from the taxonomy in force when the export runs (read on first need, so
    a day without tagged items reads no taxonomy). A retired theme is still in the taxonomy and keeps its
    name; an id the taxonomy no longer has (an import dropped it) is its own name and has no parent."""

    def __init__(self, taxonomy: Taxonomy | None = None) -> None:
        self._taxonomy = taxonomy

    def _current(self) -> Taxonomy:
        if self._taxonomy is None:
            # Imported here: a day without tagged items loads neither the taxonomy nor its records' reader.
            from chalicelib.themes import records as taxonomy_records

            self._taxonomy = taxonomy_records.current()
        return self._taxonomy

    def name(self, theme_id: str) -> str:
        theme = self._current().get(theme_id)
        return theme.name if theme is not None else theme_id

    def parent(self, theme_id: str) -> str | None:
        theme = self._current().get(theme_id)
        return theme.parent if theme is not None else None

    def named(self, themes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Stored tags ({id, sentiment, evidence}) with the theme's name after its id."""
        return [{"id": tag["id"], "name": self.name(tag["id"]), **tag} for tag in themes]


class ExportWriter(Protocol):
    """Writes one export file from a stream of items as they come (to S3 or a local directory, see
    streams.py), then reports what it wrote."""

    filename: str
    content_type: str
    key_prefix: str

    def write(self, feedback: StoredFeedback) -> None:
        """Add one item."""
        ...

    def close(self) -> WrittenFile:
        """Finish the file and return where it is, its size and its sha256."""
        ...

    @property
    def rows(self) -> int:
        """How many items were written."""
        ...
