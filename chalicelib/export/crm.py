"""contacts.csv and activities.csv: the day's customers and their feedback in column layouts that Salesforce
and HubSpot imports map by header (README, "CRM imports", documents the mapping and the manual steps).

- contacts.csv: one row per customer with feedback stored that day, from their profile (the aggregates as of
  the export run, not as of the end of the day). Headers "First Name", "Last Name" and "Email" are labels
  both tools map on their own; the rest are custom fields/properties created once with exactly these labels.
  "Feedback Customer ID" is the key to match on (a Salesforce External ID, a HubSpot unique-value property),
  so customers without an email are included and re-imports update instead of duplicating.
- activities.csv: one row per item of the day that has a customer (anonymous feedback has no contact to
  log it on): HubSpot note columns ("Activity Date", "Note Body"), a Salesforce Task "Subject" and "Status",
  and the contact's keys (Email, Feedback Customer ID) exactly as contacts.csv has them.

Cost: both files together read the touched customers' profiles once, with BatchGetItem (100 a request),
never a Scan; activities wait for the profiles in a zlib-compressed spool in memory (about a tenth of their
CSV bytes: nothing of the day goes to disk).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib.export.base import EXPORTS_ROOT, csv_time
from chalicelib.export.csv_writer import CSV_CONTENT_TYPE, CsvFile
from chalicelib.export.streams import FileTarget, WrittenFile, as_target
from chalicelib.models import StoredFeedback
from chalicelib.store import customers as customer_store

CUSTOMER_ID = "Feedback Customer ID"
CONTACT_COLUMNS = (
    CUSTOMER_ID,
    "First Name",
    "Last Name",
    "Email",
    "Feedback Count",
    "Feedback Mean Sentiment",
    "Feedback Latest NPS",
    "Feedback Latest NPS Date",
    "Feedback Latest CSAT",
    "Feedback Latest CSAT Date",
    "Feedback First Seen",
    "Feedback Last Seen",
    "Feedback Channels",
)
ACTIVITY_COLUMNS = (
    "Feedback ID",
    CUSTOMER_ID,
    "Email",
    "Activity Date",
    "Subject",
    "Note Body",
    "Status",
    "Feedback Type",
    "Feedback Channel",
    "Feedback Rating",
    "Feedback Rating Scale",
    "Feedback Sentiment",
    "Feedback Sentiment Score",
    "Occurred At",
    "Feedback Permalink",
)
# Multi-select values: Salesforce multi-select picklists and HubSpot multiple checkboxes both split on ";".
LIST_SEPARATOR = ";"
# A logged activity, not a to-do: Salesforce Task Status (a new Task defaults to "Not Started").
ACTIVITY_STATUS = "Completed"
# Salesforce Task Description (Comments) holds 32,000 characters; HubSpot's note body more.
NOTE_BODY_MAX_CHARS = 32_000
# Where a form response keeps the follow-up question its comment answers (forms/validation.py puts it there).
FOLLOW_UP_KEY = "follow_up_question"
# Merges can chain (A into B, B into C); tombstones are followed this far.
MAX_MERGE_HOPS = 5


# --- customers ---------------------------------------------------------------------------------------------


class TouchedCustomers:
    """The customers a day's items name, and their profiles, read once for both CRM files."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._profiles: dict[str, dict[str, Any]] | None = None

    @property
    def ids(self) -> frozenset[str]:
        """The customer ids as the items name them (before merges are followed)."""
        return frozenset(self._ids)

    def add(self, customer_id: str) -> None:
        if self._profiles is not None:
            raise RuntimeError("a customer was added after the profiles were read")
        self._ids.add(customer_id)

    def profiles(self) -> dict[str, dict[str, Any]]:
        """customer id as on the items → the profile it resolves to (a merge tombstone followed to the
        customer that absorbed it); ids without a profile (erased meanwhile) are left out."""
        if self._profiles is None:
            self._profiles = _resolve(self._ids)
        return self._profiles


def _resolve(customer_ids: set[str]) -> dict[str, dict[str, Any]]:
    fetched = customer_store.get_profiles(customer_ids) if customer_ids else {}
    # Items point at an absorbed customer only between a merge's tombstone and its item moves; the survivors
    # not read yet cost one more BatchGetItem round (no round at all on a day without such items).
    for _ in range(MAX_MERGE_HOPS):
        survivors = {p["merged_into"] for p in fetched.values() if p.get("merged_into")} - fetched.keys()
        if not survivors:
            break
        fetched.update(customer_store.get_profiles(survivors))
    resolved = {}
    for customer_id in customer_ids:
        profile = fetched.get(customer_id)
        for _ in range(MAX_MERGE_HOPS):
            if profile is None or not profile.get("merged_into"):
                break
            profile = fetched.get(profile["merged_into"])
        if profile is not None and not profile.get("merged_into"):
            resolved[customer_id] = profile
    return resolved


def primary_email(profile: dict[str, Any]) -> str:
    """The contact's Email: a profile keeps a set of addresses, so the alphabetically first (stable across
    runs and identical in both files); empty when the customer never gave one."""
    return min(profile.get("emails") or [""])


def split_name(profile: dict[str, Any]) -> tuple[str, str]:
    """(First Name, Last Name), from what the customer gave, never a made-up name. Salesforce requires a
    Last Name, so it is never empty: "Ana María López" → ("Ana", "María López"); a one-word name →
    ("", "Ana"); no name → ("", the first handle without its "@"), else ("", the email's part before "@"),
    else ("", the customer id, which the row is matched on anyway). The Salesforce sync names contacts so."""
    name = " ".join((profile.get("display_name") or "").split())
    if name:
        first, _, rest = name.partition(" ")
        return (first, rest) if rest else ("", first)
    for handle in sorted(profile.get("handles") or []):
        cleaned = handle.strip().lstrip("@").strip()
        if cleaned:
            return "", cleaned
    email = primary_email(profile)
    return "", email.split("@", 1)[0] if email else str(profile["customer_id"])


def _utc_day(timestamp: str | None) -> str | None:
    """An ISO 8601 timestamp's UTC date as YYYY-MM-DD (None stays None)."""
    if not timestamp:
        return None
    return datetime.fromisoformat(timestamp).astimezone(UTC).date().isoformat()


def contact_row(profile: dict[str, Any]) -> dict[str, Any]:
    """A profile as a contacts.csv row (CONTACT_COLUMNS)."""
    summary = customer_store.summarize(profile)
    first, last = split_name(profile)
    nps = summary["latest_nps"] or {}
    csat = summary["latest_csat"] or {}
    return {
        CUSTOMER_ID: summary["customer_id"],
        "First Name": first,
        "Last Name": last,
        "Email": primary_email(profile),
        "Feedback Count": summary["feedback_count"],
        "Feedback Mean Sentiment": summary["mean_sentiment_score"],
        "Feedback Latest NPS": nps.get("rating"),
        "Feedback Latest NPS Date": _utc_day(nps.get("at")),
        "Feedback Latest CSAT": csat.get("rating"),
        "Feedback Latest CSAT Date": _utc_day(csat.get("at")),
        "Feedback First Seen": _utc_day(summary["first_seen"]),
        "Feedback Last Seen": _utc_day(summary["last_seen"]),
        "Feedback Channels": LIST_SEPARATOR.join(summary["channels"]),
    }


# --- activities --------------------------------------------------------------------------------------------


def _rating_label(feedback: StoredFeedback) -> str | None:
    if feedback.rating is None or feedback.rating_scale is None:
        return None
    return feedback.rating_scale.describe(feedback.rating)


def activity_subject(feedback: StoredFeedback) -> str:
    """The activity's subject, e.g. "Feedback via form: POSITIVE, NPS 9/10" (sentiment and rating if any)."""
    details = [str(d) for d in (feedback.sentiment, _rating_label(feedback)) if d]
    subject = f"Feedback via {feedback.channel}"
    return f"{subject}: {', '.join(details)}" if details else subject


def note_body(feedback: StoredFeedback) -> str:
    """The note's text: the comment, under the follow-up question it answers when the form asked one (the
    question alone would be lost on the CRM's side: "Too slow" means little without "What should we
    improve?"); the subject for a rating-only response, as a HubSpot note needs a body."""
    if not feedback.text.strip():
        return activity_subject(feedback)
    question = feedback.metadata.get(FOLLOW_UP_KEY)
    if isinstance(question, str) and question.strip():
        return f"{question.strip()}\n{feedback.text}"[:NOTE_BODY_MAX_CHARS]
    return feedback.text[:NOTE_BODY_MAX_CHARS]


def activity_row(feedback: StoredFeedback) -> dict[str, Any]:
    """An item as an activities.csv row; Email is filled in from the profile when the file is closed."""
    subject = activity_subject(feedback)
    body = note_body(feedback)
    return {
        "Feedback ID": feedback.feedback_id,
        CUSTOMER_ID: feedback.customer_id,
        "Email": None,
        "Activity Date": feedback.occurred_at.date().isoformat(),
        "Subject": subject,
        "Note Body": body,
        "Status": ACTIVITY_STATUS,
        "Feedback Type": str(feedback.kind),
        "Feedback Channel": str(feedback.channel),
        "Feedback Rating": feedback.rating,
        "Feedback Rating Scale": str(feedback.rating_scale) if feedback.rating_scale else None,
        "Feedback Sentiment": str(feedback.sentiment) if feedback.sentiment else None,
        "Feedback Sentiment Score": feedback.sentiment_score,
        "Occurred At": csv_time(feedback.occurred_at),
        "Feedback Permalink": feedback.permalink,
    }


# --- writers -----------------------------------------------------------------------------------------------


class CompressedSpool:
    """Lines kept in memory zlib-compressed until read back once, in order (the activities wait for the
    profiles here; written by hand as the standard library has no line-oriented compressed buffer)."""

    def __init__(self) -> None:
        self._compressor = zlib.compressobj(level=1)
        self._chunks: list[bytes] = []

    def append(self, line: str) -> None:
        self._chunks.append(self._compressor.compress(line.encode() + b"\n"))

    def lines(self) -> Iterator[str]:
        """Every line in order, decompressed as read; the spool is emptied."""
        self._chunks.append(self._compressor.flush())
        chunks, self._chunks = self._chunks, []
        decompressor, pending = zlib.decompressobj(), b""
        for chunk in chunks:
            pending += decompressor.decompress(chunk)
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield line.decode()


class ContactsWriter:
    """contacts.csv: notes the customers of the items it sees; on close reads their profiles and writes one
    row per customer, ordered by customer id."""

    filename = "contacts.csv"
    content_type = CSV_CONTENT_TYPE
    key_prefix = EXPORTS_ROOT
    manifest_count = "contacts"

    def __init__(self, where: Path | FileTarget, customers: TouchedCustomers | None = None) -> None:
        self._target = as_target(where)
        self._customers = customers or TouchedCustomers()
        self._rows = 0

    def write(self, feedback: StoredFeedback) -> None:
        if feedback.customer_id:
            self._customers.add(feedback.customer_id)

    def close(self) -> WrittenFile:
        survivors = {p["customer_id"]: p for p in self._customers.profiles().values()}
        out = CsvFile(self._target.open(self.filename, self.key_prefix, self.content_type), CONTACT_COLUMNS)
        for customer_id in sorted(survivors):
            out.write(contact_row(survivors[customer_id]))
        self._rows = out.rows
        return out.close()

    @property
    def rows(self) -> int:
        return self._rows


class ActivitiesWriter:
    """activities.csv: spools the rows of items with a customer (compressed, in memory), then on close
    writes them in stored order with the contact's keys from the profiles."""

    filename = "activities.csv"
    content_type = CSV_CONTENT_TYPE
    key_prefix = EXPORTS_ROOT
    manifest_count = "activities"

    def __init__(
        self, where: Path | FileTarget, customers: TouchedCustomers | None = None, header: bool = True
    ) -> None:
        self._target = as_target(where)
        self._header = header
        self._spool = CompressedSpool()
        self._customers = customers or TouchedCustomers()
        self._rows = 0

    def write(self, feedback: StoredFeedback) -> None:
        if not feedback.customer_id:
            return  # anonymous feedback: no contact to log it on
        self._customers.add(feedback.customer_id)
        self._spool.append(json.dumps(activity_row(feedback)))

    def close(self) -> WrittenFile:
        profiles = self._customers.profiles()
        output = self._target.open(self.filename, self.key_prefix, self.content_type)
        out = CsvFile(output, ACTIVITY_COLUMNS, self._header)
        for line in self._spool.lines():
            row = json.loads(line)
            profile = profiles.get(row[CUSTOMER_ID])
            if profile is None:
                continue  # the customer is gone (erased meanwhile): no contact row, no activity
            out.write({**row, CUSTOMER_ID: profile["customer_id"], "Email": primary_email(profile)})
        self._rows = out.rows
        return out.close()

    @property
    def rows(self) -> int:
        return self._rows


def crm_writers(where: Path | FileTarget) -> tuple[ContactsWriter, ActivitiesWriter]:
    """Both CRM files of one export, sharing one read of the touched customers' profiles."""
    customers = TouchedCustomers()
    return ContactsWriter(where, customers), ActivitiesWriter(where, customers)
