"""What the three review-platform fakes share: a review store with edits and deletions, a quota, a clock,
a request log, and the HTTP server (base.py's loopback server, with a handler that parses the request).

Each fake (google_play.py, app_store.py, google_business.py) implements its platform's documented request
and response shapes on top; they are written by hand because no maintained emulator of these APIs exists.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tools.fakes.base import Answer, JsonHandler, LoopbackServer


@dataclass
class FakeReview:
    review_id: str
    author: str
    rating: int
    text: str
    created: float  # epoch seconds
    modified: float
    title: str = ""
    language: str = "en"
    app_version: str = "2.4.1"
    device: str = "a14"
    territory: str = "USA"
    # The developer's (or owner's) public reply, and when it was written (`reply_to_review`).
    reply: str = ""
    replied: float | None = None


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)


class FakeReviewApi:
    """The reviews a platform holds (newest first by `modified`), and the knobs tests turn."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.reviews: dict[str, FakeReview] = {}
        self.requests: list[Request] = []
        # API requests left before the quota answer (None: unlimited); token requests do not count.
        self.quota_remaining: int | None = None
        # How long a Google quota answer asks to wait (its google.rpc.RetryInfo detail; None: no detail).
        # App Store Connect documents no such hint (only X-Rate-Limit's rolling hour), so its fake sends none.
        self.quota_retry_seconds: int | None = None
        self._lock = threading.Lock()
        self._counter = 0

    def add_review(
        self, text: str, rating: int, author: str = "A customer", age_seconds: float = 0, **extra: Any
    ) -> FakeReview:
        with self._lock:
            self._counter += 1
            when = self.clock() - age_seconds
            review = FakeReview(f"rev-{self._counter:06d}", author, rating, text, when, when, **extra)
            self.reviews[review.review_id] = review
            return review

    def edit_review(
        self, review_id: str, text: str | None = None, rating: int | None = None, redate: bool = True
    ) -> FakeReview:
        """The customer edits the review; `redate=False`: the platform keeps listing it at its old time (the
        App Store lists a review by its createdDate only, and an edit may not change it)."""
        review = self.reviews[review_id]
        review.text = review.text if text is None else text
        review.rating = review.rating if rating is None else rating
        if redate:
            review.modified = self.clock()
        return review

    def reply_to_review(self, review_id: str, text: str) -> FakeReview:
        """The developer (or the business) answers the review in public: the reply is listed with the review
        (Play's developerComment, Business Profile's reviewReply); what the customer wrote is unchanged."""
        review = self.reviews[review_id]
        review.reply, review.replied = text, self.clock()
        return review

    def delete_review(self, review_id: str) -> None:
        """The customer (or the platform's moderation) deletes the review: it is no longer listed, and no
        API says so (none of the three has a deletion field or event)."""
        del self.reviews[review_id]

    def newest_first(self) -> list[FakeReview]:
        return sorted(self.reviews.values(), key=lambda r: (r.modified, r.review_id), reverse=True)

    def api_requests(self) -> list[Request]:
        return [request for request in self.requests if not request.path.endswith("/token")]

    def spend_quota(self) -> bool:
        """False when the quota is spent (the request gets the platform's quota answer)."""
        if self.quota_remaining is None:
            return True
        if self.quota_remaining <= 0:
            return False
        self.quota_remaining -= 1
        return True

    def handle(self, request: Request) -> Answer:
        raise NotImplementedError


def page_token(offset: int) -> str:
    """An opaque page token, as the platforms' are."""
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def offset_of(token: str | None) -> int | None:
    """The offset a token stands for; 0 without one, None for a token this fake never issued."""
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["o"]
    except (ValueError, KeyError, TypeError):
        return None
    return offset if isinstance(offset, int) and offset >= 0 else None


def bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    return value[7:] if value.lower().startswith("bearer ") else None


class _Handler(JsonHandler):
    fake: FakeReviewApi
    content_type = "application/json; charset=UTF-8"

    def answer(self) -> Answer:
        raw = self.request_body()
        parts = urlsplit(self.path)
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()} if raw else {}
        request = Request(
            self.command,
            parts.path,
            {k: v[0] for k, v in parse_qs(parts.query).items()},
            {k.lower(): v for k, v in self.headers.items()},
            form,
        )
        self.fake.requests.append(request)
        return self.fake.handle(request)


class ReviewApiServer(LoopbackServer):
    """A review-platform fake served on loopback; `start()` or a context manager."""

    def __init__(self, fake: FakeReviewApi, port: int = 0) -> None:
        self.fake = fake
        super().__init__(type("Handler", (_Handler,), {"fake": fake}), port)
