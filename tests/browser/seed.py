"""Seed the running local stack with feedback on fixed past days, for the dashboard test.

`python -m tests.browser.seed <moto_port>` (a separate process, so the test process's environment stays on its
own moto). SEED is imported by the test to compute what the charts must show.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta

from chalicelib.models import (
    Analysis,
    Author,
    Channel,
    FeedbackEvent,
    Kind,
    RatingScale,
    Sentiment,
    SentimentScores,
    StoredFeedback,
)

FROM, TO = date(2026, 1, 4), date(2026, 1, 10)
CUSTOMER_EMAIL, CUSTOMER_NAME = "dana@example.com", "Dana Whitfield"
POSITIVE, NEUTRAL, MIXED, NEGATIVE = (
    Sentiment.POSITIVE,
    Sentiment.NEUTRAL,
    Sentiment.MIXED,
    Sentiment.NEGATIVE,
)
# (day, channel, sentiment or None (not analysed), NPS rating or None, text, written by the known customer)
SEED: list[tuple[date, Channel, Sentiment | None, int | None, str, bool]] = [
    (date(2026, 1, 5), Channel.FORM, POSITIVE, 10, "Setup took two minutes", False),
    (date(2026, 1, 5), Channel.FORM, POSITIVE, 9, "Great support team", False),
    (date(2026, 1, 5), Channel.FORM, NEGATIVE, 3, "Checkout kept failing", False),
    (date(2026, 1, 5), Channel.SLACK, NEUTRAL, None, "Where is the export button?", False),
    (date(2026, 1, 5), Channel.X, MIXED, None, "Nice app, terrible onboarding", False),
    (date(2026, 1, 6), Channel.FORM, POSITIVE, 8, "Works fine", False),
    (date(2026, 1, 6), Channel.WEBHOOK, NEGATIVE, None, "Support never answered my ticket", True),
    (date(2026, 1, 6), Channel.SLACK, POSITIVE, None, "Thanks, that fixed it", False),
    (date(2026, 1, 6), Channel.FORM, None, 7, "", False),
    (date(2026, 1, 8), Channel.FORM, NEGATIVE, 2, "Refund took <b>weeks</b> & nobody called", True),
    (date(2026, 1, 8), Channel.FORM, POSITIVE, 10, "Best tool we bought this year", False),
    (date(2026, 1, 8), Channel.X, NEGATIVE, None, "Worst update ever", False),
]


def expected_nps(ratings: list[int]) -> float | None:
    """NPS as the dashboard plots it, computed independently of chalicelib.read.stats."""
    if not ratings:
        return None
    promoters = sum(1 for r in ratings if r >= 9)
    detractors = sum(1 for r in ratings if r <= 6)
    return round(100 * (promoters - detractors) / len(ratings), 1)


def items(customer_id: str) -> list[StoredFeedback]:
    """The seeded items, minutes apart in list order, so the newest negative is the last one."""
    result = []
    for index, (day, channel, sentiment, rating, text, known) in enumerate(SEED):
        when = datetime(day.year, day.month, day.day, 9, tzinfo=UTC) + timedelta(minutes=index)
        event = FeedbackEvent.create(
            source_id=f"seed-{channel}",
            external_id=f"seed-{index}",
            channel=channel,
            kind=Kind.FORM_RESPONSE if channel is Channel.FORM else Kind.COMMENT,
            text=text,
            rating=rating,
            rating_scale=RatingScale.NPS if rating is not None else None,
            author=Author(email=CUSTOMER_EMAIL, name=CUSTOMER_NAME) if known else Author(),
            occurred_at=when,
            received_at=when,
        )
        analysis = Analysis(
            sentiment=sentiment,
            scores=SentimentScores(positive=0.1, negative=0.8, neutral=0.1, mixed=0.0) if sentiment else None,
            language="en",
            analyzer="lexicon",
            analyzed_at=when,
            skipped_reason=None if sentiment else "empty_text",
        )
        result.append(StoredFeedback.from_event(event, analysis, when, customer_id if known else None))
    return result


def main(moto_port: int) -> int:
    """Create the known customer through the real analyze path, then store the seeded days."""
    from chalicelib.local.environment import use_local_stack

    use_local_stack(moto_port)
    from chalicelib.analysis.lexicon import LexiconAnalyzer
    from chalicelib.ingest import processing
    from chalicelib.ingest.queue import encode_events
    from chalicelib.store import customers, feedback_write
    from chalicelib.store.identities import Resolution

    now = datetime.now(UTC)
    first = FeedbackEvent.create(
        source_id="seed-form",
        external_id="seed-customer",
        channel=Channel.FORM,
        kind=Kind.FORM_RESPONSE,
        text="Signed up today",
        author=Author(email=CUSTOMER_EMAIL, name=CUSTOMER_NAME),
        occurred_at=now,
        received_at=now,
    )
    report = processing.analyze_and_store(encode_events([first]), LexiconAnalyzer())
    assert report.errors == [None], report.errors
    customer_id = customers.find_by_email(CUSTOMER_EMAIL)
    assert customer_id, "the customer was not created"
    feedback_write.save_feedback(items(customer_id), Resolution())
    print(customer_id)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
