"""The contract every CRM target implements, and the CRM-neutral view of what is synced.

A target gets a connection (its settings) and its secrets, and offers four operations (and `merge`, with a
default that only re-keys the sync's own links):
`setup()` creates what the sync needs in the CRM (fields, groups) and says what it created, `check()` proves
the credentials work, `sync(items)` pushes stored items (contact upsert, profile fields, one activity per
item whose CRM id is kept), `erase(customer_ids)` removes what the sync put there. The neutral models below
(`ContactFields`, `Activity`) are what both HubSpot and Salesforce map onto their own field names, so the
field-mapping overrides a connection carries apply to either.
"""

from __future__ import annotations

import html
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from chalicelib.crm.connections import CrmConnection
from chalicelib.models import StoredFeedback
from chalicelib.store import crm_links

LIST_SEPARATOR = ";"  # HubSpot multiple checkboxes and Salesforce multi-select picklists both split on ";"
TOP_THEMES = 3


@dataclass(frozen=True)
class ContactFields:
    """One customer as the CRM contact shows it; names only when the customer gave one (never a
    placeholder), the email only when known (else the customer id is the contact's key)."""

    customer_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    profile: dict[str, Any]  # connections.PROFILE_FIELDS → value (None: unknown)


@dataclass(frozen=True)
class Activity:
    """One stored item as a CRM activity (a HubSpot note, a Salesforce Task)."""

    feedback_id: str
    customer_id: str
    occurred_at: str  # ISO 8601, UTC, with "Z"
    subject: str
    body: str
    body_html: str


@dataclass
class SyncReport:
    """What one sync of a batch did; `failed` maps a feedback id to why (retried by the caller)."""

    synced: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    contacts_written: int = 0
    activities_created: int = 0
    activities_updated: int = 0


@dataclass
class MergeReport:
    """What a merge did in the CRM: contacts merged there, and activities now on the survivor's contact."""

    contacts_merged: int = 0
    activities_moved: int = 0


@dataclass
class ErasureReport:
    contacts_deleted: int = 0
    contacts_cleared: int = 0
    activities_deleted: int = 0


class CrmTarget(ABC):
    """A CRM the sync writes to; one instance per connection and invocation."""

    type: ClassVar[str]

    def __init__(self, connection: CrmConnection) -> None:
        self.connection = connection

    @abstractmethod
    def setup(self) -> list[str]:
        """Create what the sync needs in the CRM, idempotently; the names of what was created now."""

    @abstractmethod
    def check(self) -> str:
        """A short description of the account the credentials reach; raises on refused credentials."""

    @abstractmethod
    def sync(self, items: Sequence[StoredFeedback]) -> SyncReport:
        """Push the items (already filtered by the connection's settings)."""

    @abstractmethod
    def erase(self, customer_ids: Sequence[str]) -> ErasureReport:
        """Remove the customers' synced activities and contact data from the CRM."""

    def merge(self, keep: str, absorbed: str) -> MergeReport:
        """Make the absorbed customer's contact and activities the survivor's (customer `absorbed` is now
        part of `keep`). The default only re-keys what the sync remembers, so the absorbed customer's items
        are found again under the survivor; a CRM with a merge of its own overrides this."""
        moved = crm_links.merge_links(self.connection.connection_id, keep, absorbed, contact_id=None)
        return MergeReport(activities_moved=moved)


def selected(connection: CrmConnection, item: StoredFeedback) -> bool:
    """Whether the connection's settings sync this item (anonymous feedback never: no contact to log on)."""
    rules = connection.settings
    if not item.customer_id:
        return False
    if rules.sources and item.source_id not in rules.sources:
        return False
    if rules.channels and str(item.channel) not in rules.channels:
        return False
    if rules.min_sentiment_score is not None:
        score = item.sentiment_score
        if score is None or score < rules.min_sentiment_score:
            return False
    below_rating = rules.min_rating is not None and item.rating is not None and item.rating < rules.min_rating
    return not below_rating


def activity_of(item: StoredFeedback, subject: str) -> Activity:
    """The item as an activity: the subject (sentiment, rating) above the text (a rating alone: subject)."""
    text = item.text.strip()
    body = f"{subject}\n\n{text}" if text else subject
    if item.permalink:
        body += f"\n\n{item.permalink}"
    paragraphs = [f"<p><strong>{html.escape(subject)}</strong></p>"]
    paragraphs += [f"<p>{html.escape(part)}</p>" for part in text.split("\n\n") if part.strip()]
    if item.permalink:
        paragraphs.append(f'<p><a href="{html.escape(item.permalink)}">{html.escape(item.permalink)}</a></p>')
    return Activity(
        feedback_id=item.feedback_id,
        customer_id=str(item.customer_id),
        occurred_at=item.occurred_at.isoformat().replace("+00:00", "Z"),
        subject=subject,
        body=body,
        body_html="".join(paragraphs),
    )


def top_themes(theme_counts: dict[str, int]) -> list[str]:
    """The customer's most frequent themes, most frequent first (ties by name, so stable)."""
    ranked = sorted(theme_counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [name for name, count in ranked[:TOP_THEMES] if count > 0]
