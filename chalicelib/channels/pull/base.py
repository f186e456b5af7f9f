"""The pull contract: a platform fetches one page of reviews from where a checkpoint says, and its reviews
become FeedbackEvents the same way for every platform.

A platform lists reviews newest first (by the time each was written or last edited). A run starts at the
top and pages down until it meets a review older than the checkpoint's `since`; the newest time it saw
becomes the next `since`. A run cut short (its page budget, a quota error) keeps the page token it reached,
so the next run resumes there before starting again from the top. The versions listed at exactly the
checkpoint's time are remembered with it, so a review sharing that second with one already pulled is still
pulled, and the one pulled is not queued again. Overlaps are harmless anyway: a review's identity is its
platform id and version, so a review pulled twice is stored once.

An edit (the text or the rating changed) is a new version: a new item under `{review id}@{version}`, where
the version is a digest of the rating and text, in the thread of the review's id, so both versions stay
and the newest is the last one. The platforms' review APIs do not report deletions (a deleted review just
stops being listed): the periodic reconcile (reconcile.py) finds them, and the App Store's edits that keep
their date, by listing the recent window again.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar

from pydantic import ValidationError

from chalicelib.channels.pull.exceptions import (
    CredentialsRejected,
    PlatformUnavailable,
    PullError,
    QuotaExceeded,
    SourceRejected,
)
from chalicelib.channels.pull.http import JsonHttp, JsonResponse
from chalicelib.channels.sources import SourceConfig, SourceSecrets
from chalicelib.models import Author, FeedbackEvent, Kind, RatingScale
from chalicelib.models import Channel as ChannelName

VERSION_CHARS = 12


@dataclass(frozen=True)
class PulledReview:
    """One review as a platform lists it, in the platform-neutral shape the events are made from."""

    review_id: str
    rating: int | None
    text: str
    # When the review was written or last edited: the platform's order, and what checkpoints compare.
    modified_at: datetime
    created_at: datetime | None = None
    author_name: str | None = None
    language: str | None = None
    # A weaker guess than `language` (the reviewer's device language): used where detection is unsure.
    language_hint: str | None = None
    permalink: str | None = None
    edited: bool | None = None
    metadata: Mapping[str, str | int | float | bool | None] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """A digest of what the customer wrote: an edit of the text or the rating is another version."""
        digest = hashlib.sha256(f"{self.rating}\x1f{self.text}".encode()).hexdigest()
        return digest[:VERSION_CHARS]

    @property
    def key(self) -> str:
        """This version's identity: the event's external_id."""
        return f"{self.review_id}@{self.version}"


@dataclass(frozen=True)
class NumberSetting:
    """A whole-number setting of every pull source: what it is for and the values it takes."""

    help: str
    low: int
    high: int

    def error(self, name: str, value: str) -> str | None:
        """Why `value` is refused (a word, or a number out of range), or None."""
        try:
            number = int(value.strip())
        except ValueError:
            number = None
        if number is None or not self.low <= number <= self.high:
            return f"--setting {name}: {value!r} is not a whole number from {self.low} to {self.high}"
        return None


# The schedule's settings every pull platform understands (state.py and reconcile.py read them within these
# bounds; `sources add` refuses a value outside them rather than store one that would be read otherwise).
SCHEDULE_SETTINGS: Mapping[str, NumberSetting] = {
    "poll_minutes": NumberSetting("minutes between pulls (default 15)", 5, 24 * 60),
    "backfill_days": NumberSetting(
        "how many days back a new source's first run reaches (default 30)", 0, 3650
    ),
    "reconcile_hours": NumberSetting(
        "hours between the re-listings of the recent window that find deletions (default 24)", 1, 24 * 7
    ),
}
# How far back the re-listing looks, where the platform lists every review (not Google Play's 7 days).
RECONCILE_DAYS = NumberSetting("how many days back the re-listing looks (default 30)", 1, 365)


@dataclass(frozen=True)
class Page:
    """One page of a platform's listing, and the token of the next (None on the last page)."""

    reviews: list[PulledReview]
    next_page_token: str | None = None


@dataclass(frozen=True)
class Checkpoint:
    """Where a source's pulling stands: reviews older than `since` were pulled by earlier runs; an unfinished
    run left `page_token` (the page to resume at) and `newest` (the newest time it had seen)."""

    since: datetime | None = None
    page_token: str | None = None
    newest: datetime | None = None
    # The versions listed at exactly `since` (pulled already: not queued again) and at `newest`.
    at_since: tuple[str, ...] = ()
    at_newest: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fetched:
    """A page's reviews newer than the checkpoint, and the checkpoint after it (`complete`: caught up)."""

    reviews: list[PulledReview]
    checkpoint: Checkpoint
    complete: bool


@dataclass
class Session:
    """What one run of one source needs: its configuration, secrets, HTTP client and the access token."""

    source: SourceConfig
    secrets: SourceSecrets
    http: JsonHttp
    access_token: str | None = None

    def setting(self, name: str, default: str | None = None) -> str | None:
        return self.source.settings.get(name, default)

    def required_setting(self, name: str) -> str:
        value = self.source.settings.get(name)
        if not value:
            raise SourceRejected(f"the source has no `{name}` setting")
        return value

    def secret(self, name: str) -> str:
        value = self.secrets.current(name)
        if not value:
            raise CredentialsRejected(f"the source has no `{name}` secret")
        return value


class PullPlatform(ABC):
    """A review platform polled on a schedule."""

    type: ClassVar[str]
    channel: ClassVar[ChannelName]
    secret_names: ClassVar[tuple[str, ...]]
    required_settings: ClassVar[tuple[str, ...]]
    setting_help: ClassVar[Mapping[str, str]] = {}
    console_help: ClassVar[str] = ""
    # The largest page the platform serves (fewer requests per review).
    page_size: ClassVar[int]
    # How many days back the platform lists reviews (None: all of them); the reconcile stays inside it.
    listing_days: ClassVar[int | None] = None

    def number_settings(self) -> Mapping[str, NumberSetting]:
        """The schedule's settings this platform's sources take (reconcile_days where it lists all)."""
        if self.listing_days is None:
            return {**SCHEDULE_SETTINGS, "reconcile_days": RECONCILE_DAYS}
        return SCHEDULE_SETTINGS

    def setting_errors(self, settings: Mapping[str, str]) -> list[str]:
        """What `sources add` must refuse in a source's settings: a schedule setting that is no whole number
        within its bounds (an unknown name is refused with the list of known ones)."""
        numbers = self.number_settings()
        return [
            error
            for name, value in sorted(settings.items())
            if name in numbers and (error := numbers[name].error(name, value))
        ]

    def secret_errors(self, secrets: Mapping[str, str]) -> list[str]:
        """What `sources add` and `sources rotate` must refuse in the secrets they are given (a key file
        that does not parse): refused there, it never pauses the first run. None by default."""
        return []

    @abstractmethod
    def authorize(self, session: Session) -> None:
        """Set `session.access_token` (a cached token where the platform's tokens outlive a run)."""

    @abstractmethod
    def fetch_page(self, session: Session, page_token: str | None) -> Page:
        """One page of the listing, newest first; `page_token` None is the first page."""

    def fetch_since(self, session: Session, checkpoint: Checkpoint) -> Fetched:
        """The next page after `checkpoint`: its reviews newer than `since` (or at `since` and not pulled
        yet: two reviews can share a second), and the checkpoint after it."""
        page = self.fetch_page(session, checkpoint.page_token)
        since = checkpoint.since
        fresh = [
            review
            for review in page.reviews
            if since is None
            or review.modified_at > since
            or (review.modified_at == since and review.key not in checkpoint.at_since)
        ]
        reached_older = since is not None and any(review.modified_at < since for review in page.reviews)
        times = [review.modified_at for review in page.reviews]
        newest = max([t for t in (checkpoint.newest, *times) if t is not None], default=None)
        kept = checkpoint.at_newest if checkpoint.newest == newest else ()
        at_newest = tuple(sorted({*kept, *(r.key for r in page.reviews if r.modified_at == newest)}))
        if page.next_page_token and not reached_older:
            following = replace(
                checkpoint, page_token=page.next_page_token, newest=newest, at_newest=at_newest
            )
            return Fetched(fresh, following, False)
        if newest is None or (since is not None and newest < since):
            # Nothing newer listed (the newest review deleted, say): the checkpoint stays where it was.
            return Fetched(fresh, Checkpoint(since=since, at_since=checkpoint.at_since), True)
        at_since = tuple(sorted({*checkpoint.at_since, *at_newest})) if newest == since else at_newest
        return Fetched(fresh, Checkpoint(since=newest, at_since=at_since), True)

    def event(self, source: SourceConfig, review: PulledReview, received_at: datetime) -> FeedbackEvent:
        """The review as a FeedbackEvent: one item per version, in the thread of the review's id."""
        version = review.version
        metadata = {
            "review_id": review.review_id,
            "version": version,
            "edited": review.edited,
            "modified_at": review.modified_at.isoformat(),
            **review.metadata,
        }
        try:
            return FeedbackEvent.create(
                source_id=source.source_id,
                external_id=review.key,
                channel=self.channel,
                kind=Kind.REVIEW,
                text=review.text,
                occurred_at=review.modified_at,
                received_at=received_at,
                author=Author(name=review.author_name),
                thread_id=review.review_id,
                language=review.language,
                language_hint=review.language_hint or source.default_language,
                rating=review.rating,
                rating_scale=RatingScale.STARS if review.rating is not None else None,
                permalink=review.permalink,
                metadata={key: value for key, value in metadata.items() if value is not None},
            )
        except ValidationError as error:
            fields = ", ".join(".".join(map(str, issue["loc"])) for issue in error.errors())
            raise PlatformUnavailable(
                f"a review has fields of the wrong shape or length: {fields}"
            ) from error


def star_rating(value: Any) -> int | None:
    """A 1 to 5 star rating, or None for anything else."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5 else None


def raise_for_google(response: JsonResponse) -> None:
    """Google's error body {"error": {"code", "message", "status"}} as the pull error it means."""
    if response.status < 300:
        return
    error = response.body.get("error") if isinstance(response.body, dict) else None
    status = error.get("status") if isinstance(error, dict) else None
    message = f"{response.status} {status or ''}".strip()
    if response.status == 429 or status == "RESOURCE_EXHAUSTED":
        raise QuotaExceeded(message, google_retry_delay(error) or response.retry_after)
    if response.status in (401, 403) or status in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        raise CredentialsRejected(message)
    if response.status in (400, 404):
        raise SourceRejected(message)
    raise PlatformUnavailable(message)


# google.rpc.RetryInfo's retryDelay, a protobuf Duration in JSON: seconds with up to 9 fractional digits.
_DURATION = re.compile(r"([0-9]{1,12})(?:\.([0-9]{1,9}))?s")


def google_retry_delay(error: object) -> float | None:
    """Seconds a Google error's RetryInfo detail asks to wait (AIP-193), None when it names none."""
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else ():
        if not isinstance(detail, dict) or not str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            continue
        match = _DURATION.fullmatch(str(detail.get("retryDelay", "")))
        if match:
            return float(f"{match[1]}.{match[2] or 0}")
    return None


def require_json_object(response: JsonResponse) -> dict[str, Any]:
    if not isinstance(response.body, dict):
        raise PlatformUnavailable(f"{response.status} with a body that is not a JSON object")
    return response.body


__all__ = ["PullError"]
