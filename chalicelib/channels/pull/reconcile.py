"""The periodic reconcile: what the review APIs never report (a deletion; the App Store's edit, which keeps
its createdDate) found by listing the recent window again and comparing it with what the source saw.

None of the three APIs reports a deletion (a deleted review just stops being listed), and the App Store lists
a review by its createdDate only. So every `reconcile_hours` (default 24) a run that caught up lists the
reviews of its window again, newest first, and compares them with the source's record of the reviews it
saw in that window (review id → version and time, kept in its pull state):

- a recorded review no longer listed, though the listing covered its time: deleted on the platform → a
  PlatformDeletion of its last version, queued through the ingest queue (the analyze step marks the item);
- a recorded review listed with another version (text or rating) at the same time: an edit the platform did
  not re-date → queued as a new version, as any edit.

The window is where the listing is complete: Google Play lists only the last 7 days, so its window is 6
(a day's margin for clocks and a review edited at the edge); the others list everything, and the window is
the `reconcile_days` setting (default 30). A review older than the window is never concluded deleted. The
record is compact (about 40 bytes a review plus its id) and capped at MAX_RECORD_BYTES, the newest kept, so
the state item stays far under DynamoDB's 400 KB: a source with more reviews in its window than the cap
holds has its deletions detected among the newest the cap holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from chalicelib.channels.pull.base import PulledReview, PullPlatform, Session
from chalicelib.models import PlatformDeletion, feedback_id_for

DEFAULT_RECONCILE_HOURS = 24
DEFAULT_RECONCILE_DAYS = 30
# The margin kept inside a platform's own listing limit (Google Play's 7 days → 6).
LISTING_MARGIN = timedelta(days=1)
MAX_RECONCILE_PAGES = 50
# The record's share of the state item (DynamoDB's item limit is 400 KB; the checkpoint needs little).
MAX_RECORD_BYTES = 250_000
ENTRY_OVERHEAD_BYTES = 8  # a map entry's own cost beyond its name and value, roughly


@dataclass(frozen=True)
class Seen:
    """A review as the record keeps it: its last version and its listing time (whole seconds)."""

    version: str
    epoch: int

    @classmethod
    def parse(cls, value: str) -> Seen | None:
        version, _, epoch = value.partition(":")
        return cls(version, int(epoch)) if version and epoch.isdigit() else None

    @classmethod
    def of(cls, review: PulledReview) -> Seen:
        return cls(review.version, int(review.modified_at.timestamp()))

    def encoded(self) -> str:
        return f"{self.version}:{self.epoch}"


@dataclass
class Reconciled:
    edited: list[PulledReview] = field(default_factory=list)
    deletions: list[PlatformDeletion] = field(default_factory=list)
    record: dict[str, str] = field(default_factory=dict)
    pages: int = 0
    complete: bool = False


def _setting(settings: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(settings.get(name, default))
    except ValueError:
        value = default
    return min(max(value, low), high)


def reconcile_interval(settings: Mapping[str, str]) -> timedelta:
    """The source's `reconcile_hours` setting, between 1 hour and 7 days (default 24)."""
    return timedelta(hours=_setting(settings, "reconcile_hours", DEFAULT_RECONCILE_HOURS, 1, 24 * 7))


def window_start(platform: PullPlatform, settings: Mapping[str, str], now: datetime) -> datetime:
    """The oldest time the reconcile concludes about: `reconcile_days` back (default 30, 1 to 365), within
    the platform's own listing limit less a margin."""
    days = timedelta(days=_setting(settings, "reconcile_days", DEFAULT_RECONCILE_DAYS, 1, 365))
    if platform.listing_days is not None:
        days = min(days, timedelta(days=platform.listing_days) - LISTING_MARGIN)
    return now - days


def recorded(record: Mapping[str, str], reviews: Iterable[PulledReview]) -> dict[str, str]:
    """The record with the reviews a run pulled (their newest version)."""
    updated = dict(record)
    for review in reviews:
        updated[review.review_id] = Seen.of(review).encoded()
    return updated


def pruned(record: Mapping[str, str], start: datetime) -> dict[str, str]:
    """The record without what is older than the window, cut to MAX_RECORD_BYTES (the newest kept)."""
    floor = int(start.timestamp())
    entries = [
        (seen.epoch, review_id, value)
        for review_id, value in record.items()
        if (seen := Seen.parse(value)) is not None and seen.epoch >= floor
    ]
    kept, size = {}, 0
    for _, review_id, value in sorted(entries, reverse=True):
        size += len(review_id.encode()) + len(value) + ENTRY_OVERHEAD_BYTES
        if size > MAX_RECORD_BYTES:
            break
        kept[review_id] = value
    return kept


def reconcile(
    platform: PullPlatform,
    session: Session,
    record: Mapping[str, str],
    now: datetime,
    max_pages: int = MAX_RECONCILE_PAGES,
) -> Reconciled:
    """List the window again and compare it with `record`. A listing cut short (the page budget) concludes
    only about the times it covered; a quota or platform error propagates and concludes nothing."""
    source = session.source
    start = window_start(platform, source.settings, now)
    result = Reconciled()
    listed: dict[str, PulledReview] = {}
    token: str | None = None
    while result.pages < max_pages:
        page = platform.fetch_page(session, token)
        result.pages += 1
        for review in page.reviews:
            if review.modified_at >= start:
                listed.setdefault(review.review_id, review)  # newest first: the first listing is the newest
        if not page.next_page_token or any(review.modified_at < start for review in page.reviews):
            result.complete = True
            break
        token = page.next_page_token
    # Covered: every whole second after `horizon` (the record keeps whole seconds, so the horizon's own
    # second, which the listing may have cut within, or the next page may hold, concludes nothing).
    if result.complete:
        horizon = int(start.timestamp())
    elif listed:
        horizon = int(min(r.modified_at for r in listed.values()).timestamp())
    else:
        return Reconciled(record=dict(record), pages=result.pages)
    updated = dict(record)
    for review_id, value in record.items():
        seen = Seen.parse(value)
        if seen is None or review_id in listed:
            continue
        if seen.epoch > horizon:
            result.deletions.append(
                PlatformDeletion(
                    feedback_id=feedback_id_for(source.source_id, f"{review_id}@{seen.version}"),
                    source_id=source.source_id,
                    deleted_at=now,
                )
            )
            del updated[review_id]  # recorded once: a re-run finds nothing more to say of it
    for review_id, review in listed.items():
        seen = Seen.parse(record.get(review_id, ""))
        if seen is not None and seen.version != review.version:
            # Listed at its old time: the version is dated when it was seen, so it sorts after the first.
            result.edited.append(replace(review, modified_at=max(now, review.modified_at), edited=True))
        updated[review_id] = Seen.of(review).encoded()
    result.record = pruned(updated, start)
    return result
