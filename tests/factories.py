"""Test data several suites share: a form response as the ack path builds it, and that response stored with
an analysis (as the analyze path stores it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.models import (
    Analysis,
    Author,
    Channel,
    FeedbackEvent,
    Kind,
    Sentiment,
    SentimentScores,
    StoredFeedback,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
_DERIVED = object()  # the default email: one per external id, so every response is its own customer


def form_event(
    external_id: str,
    text: str = "Great service",
    language: str | None = "en",
    *,
    at: datetime = NOW,
    email: Any = _DERIVED,
    name: str | None = None,
    **fields: Any,
) -> FeedbackEvent:
    """A response to the `demo` form; `email` defaults to `<external_id>@example.com`."""
    return FeedbackEvent.create(
        source_id="demo",
        external_id=external_id,
        channel=Channel.FORM,
        kind=Kind.FORM_RESPONSE,
        text=text,
        language=language,
        author=Author(email=f"{external_id}@example.com" if email is _DERIVED else email, name=name),
        occurred_at=at,
        received_at=at,
        **fields,
    )


def stored_positive(event: FeedbackEvent, analyzer: str = "lexicon") -> StoredFeedback:
    """`event` as stored after an analysis that found it POSITIVE, analysed and stored when it occurred."""
    at = event.occurred_at
    analysis = Analysis(
        sentiment=Sentiment.POSITIVE,
        scores=SentimentScores(positive=0.9, negative=0.05, neutral=0.05, mixed=0.0),
        language="en",
        analyzer=analyzer,
        analyzed_at=at,
    )
    return StoredFeedback.from_event(event, analysis, at)
