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
    ThemeTag,
)

FROM, TO = date(2026, 1, 4), date(2026, 1, 10)
CUSTOMER_EMAIL, CUSTOMER_NAME = "dana@example.com", "Dana Whitfield"
# A seeded source configured with a name (the others are ids only, as items of a source since removed are).
NAMED_SOURCE = ("seed-x", "Brand mentions on X")
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


# The themes of the seeded texts, by ids of the starter taxonomy the local stack loads (support-response is a
# sub-theme of support), as the tagger would store them: (theme, sentiment about it, the words saying so).
Tag = tuple[str, Sentiment, str]
THEMES: dict[str, list[Tag]] = {
    "Great support team": [("support", POSITIVE, "Great support team")],
    "Checkout kept failing": [("checkout", NEGATIVE, "Checkout kept failing")],
    "Where is the export button?": [("app", NEUTRAL, "the export button")],
    "Nice app, terrible onboarding": [("app", POSITIVE, "Nice app")],
    "Support never answered my ticket": [("support-response", NEGATIVE, "never answered my ticket")],
    "Refund took <b>weeks</b> & nobody called": [
        ("returns", NEGATIVE, "Refund took <b>weeks</b>"),
        ("support-response", NEGATIVE, "nobody called"),
    ],
    "Worst update ever": [("app", NEGATIVE, "Worst update ever")],
}
# The week before FROM..TO, so the dashboard has a change to show: (day, text, themes).
EARLIER: list[tuple[date, str, list[Tag]]] = [
    (date(2025, 12, 29), "Checkout crashed", [("checkout", NEGATIVE, "Checkout crashed")]),
    (date(2026, 1, 1), "Checkout is fine now", [("checkout", POSITIVE, "Checkout is fine")]),
    (date(2026, 1, 2), "Checkout lost my cart", [("checkout", NEGATIVE, "Checkout lost my cart")]),
    (date(2026, 1, 3), "Support was quick", [("support-response", POSITIVE, "Support was quick")]),
]

# CSAT and star ratings on a later week of their own (so the week above keeps its figures), from the form
# "seed-ratings": (day, scale, rating, text).
RATED_FROM, RATED_TO = date(2026, 2, 2), date(2026, 2, 6)
RATED: list[tuple[date, RatingScale, int, str]] = [
    (date(2026, 2, 2), RatingScale.CSAT, 5, "Quick and friendly"),
    (date(2026, 2, 2), RatingScale.CSAT, 2, "Took too long"),
    (date(2026, 2, 2), RatingScale.STARS, 4, "Good app"),
    (date(2026, 2, 3), RatingScale.CSAT, 4, "Fine"),
    (date(2026, 2, 3), RatingScale.STARS, 5, "Love it"),
    (date(2026, 2, 3), RatingScale.STARS, 2, "Crashes"),
    (date(2026, 2, 5), RatingScale.CSAT, 1, "Nobody helped"),
    (date(2026, 2, 5), RatingScale.CSAT, 3, "It was fine I guess"),
    (date(2026, 2, 5), RatingScale.CSAT, 5, "Perfect"),
]


def _tags(themes: list[Tag]) -> list[ThemeTag]:
    return [ThemeTag(id=theme, sentiment=sentiment, evidence=words) for theme, sentiment, words in themes]


def expected_nps(ratings: list[int]) -> float | None:
    """NPS as the dashboard plots it, computed independently of chalicelib.read.stats."""
    if not ratings:
        return None
    promoters = sum(1 for r in ratings if r >= 9)
    detractors = sum(1 for r in ratings if r <= 6)
    return round(100 * (promoters - detractors) / len(ratings), 1)


def items(customer_id: str) -> list[StoredFeedback]:
    """The seeded items, minutes apart in list order, so the newest negative is the last one; then the
    items of the week before."""
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
        item = StoredFeedback.from_event(event, analysis, when, customer_id if known else None)
        result.append(item.model_copy(update={"themes": _tags(THEMES.get(text, [])), "taxonomy_version": 1}))
    for index, (day, text, themes) in enumerate(EARLIER):
        when = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
        event = FeedbackEvent.create(
            source_id="seed-form",
            external_id=f"seed-earlier-{index}",
            channel=Channel.FORM,
            kind=Kind.FORM_RESPONSE,
            text=text,
            occurred_at=when,
            received_at=when,
        )
        analysis = Analysis(sentiment=themes[0][1], language="en", analyzer="lexicon", analyzed_at=when)
        item = StoredFeedback.from_event(event, analysis, when, None)
        result.append(item.model_copy(update={"themes": _tags(themes), "taxonomy_version": 1}))
    for index, (day, scale, rating, text) in enumerate(RATED):
        when = datetime(day.year, day.month, day.day, 10, tzinfo=UTC) + timedelta(minutes=index)
        event = FeedbackEvent.create(
            source_id="seed-ratings",
            external_id=f"seed-rated-{index}",
            channel=Channel.FORM,
            kind=Kind.FORM_RESPONSE,
            text=text,
            rating=rating,
            rating_scale=scale,
            occurred_at=when,
            received_at=when,
        )
        analysis = Analysis(sentiment=POSITIVE, language="en", analyzer="lexicon", analyzed_at=when)
        result.append(StoredFeedback.from_event(event, analysis, when, None))
    return result


def main(moto_port: int) -> int:
    """Create the known customer through the real analyze path, then store the seeded days."""
    from chalicelib.local.environment import use_local_stack

    use_local_stack(moto_port)
    from chalicelib.analysis.lexicon import LexiconAnalyzer
    from chalicelib.channels import sources
    from chalicelib.ingest import processing
    from chalicelib.ingest.queue import encode_events
    from chalicelib.store import customers, feedback_write
    from chalicelib.store.identities import Resolution
    from chalicelib.themes import records as taxonomy_records

    sources.save(sources.SourceConfig(source_id=NAMED_SOURCE[0], type="x", name=NAMED_SOURCE[1]), {})
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
    # Counted under each theme's parent in the starter taxonomy the stack loaded, as the analyze step does.
    parents = taxonomy_records.current().parents()
    feedback_write.save_feedback(items(customer_id), Resolution(), parents)
    print(customer_id)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
