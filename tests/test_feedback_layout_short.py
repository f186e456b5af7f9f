"""The feedback item's layout with short names and times as numbers: the same StoredFeedback back from it and
from the layouts written before (a fixture of the first compact layout), and the overhead of a typical form
response well under 1 KB, so that only a long text takes an item over it."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.models import Author, Channel, Kind, Sentiment, StoredFeedback
from chalicelib.store import dynamo
from chalicelib.store import feedback as feedback_store
from tests.factories import NOW, form_event
from tests.test_feedback_layout import REVIEW, old_layout, tagged, through_dynamodb
from tools.cost.units import item_size

FIXTURE = Path(__file__).parent / "fixtures" / "layout" / "compact_v1_items.json"
PAGE_URL = "https://shop.example.com/checkout/done"


def first_compact_layout() -> list[tuple[dict, StoredFeedback]]:
    """Items as the first compact layout wrote them (long names, times as text), each with its feedback."""
    cases = []
    for case in json.loads(FIXTURE.read_text()):
        item = case["item"]
        for value in item.values():
            if "B" in value:
                value["B"] = base64.b64decode(value["B"])
        cases.append((dynamo.deserialize(item), StoredFeedback.model_validate(case["feedback"])))
    return cases


def bench_like(text: str = REVIEW[:180], **fields) -> StoredFeedback:
    """A form response as the bench's widget sends it: NPS, email and name, the page URL, a theme tag."""
    event = form_event(
        "bench-000411",
        text,
        name="Customer 318",
        at=NOW + timedelta(microseconds=594_898),
        rating=1,
        rating_scale="nps",
        permalink=PAGE_URL,
        metadata={"form_name": "Demo NPS survey", "page_url": PAGE_URL},
    )
    base = tagged(text=text, sentiment=Sentiment.NEGATIVE, taxonomy_version=1, themes=None)
    return StoredFeedback.model_validate(
        {
            **base.model_dump(),
            **event.model_dump(exclude={"feedback_id"}),
            "analyzed_at": NOW + timedelta(seconds=46, microseconds=949_102),
            "stored_at": NOW + timedelta(seconds=46, microseconds=952_325),
            **fields,
        }
    )


def test_the_first_compact_layout_reads_back_as_the_same_feedback(stack):
    cases = first_compact_layout()
    assert cases and any("occurred_at" in item for item, _ in cases)
    for item, feedback in cases:
        read = feedback_store.from_item(item)
        assert read.model_dump_json() == feedback.model_dump_json()
        assert feedback_store.from_item(through_dynamodb(feedback_store.to_item(feedback))) == feedback


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"channel": Channel.WEBHOOK, "kind": Kind.COMMENT},  # a channel without a usual kind
        {"channel": Channel.FORM, "kind": Kind.MESSAGE},  # not the channel's usual kind
        {"permalink": "https://example.com/elsewhere"},
        {"permalink": None},
        {"metadata": {}},
        {"received_at": NOW + timedelta(minutes=3, microseconds=1)},
        {"author": Author()},
        {"author": Author(channel_user_id="u-1", handle="@ana", name="Ana", email="ana@example.com")},
        {"analyzed_at": None, "sentiment": None, "sentiment_scores": None, "analyzer": None},
        {"platform_deleted_at": NOW + timedelta(days=2)},
        {"text": "", "thread_id": "t-9", "text_truncated": True},
    ],
)
def test_every_field_reads_back_from_the_short_layout(stack, fields):
    feedback = bench_like(**fields)

    for item in (feedback_store.to_item(feedback), old_layout(feedback)):
        read = feedback_store.from_item(through_dynamodb(item))
        assert read == feedback
        assert read.model_dump_json() == feedback.model_dump_json()


def test_a_typical_form_response_is_stored_in_short_names_with_times_as_numbers(stack):
    feedback = bench_like()
    item = through_dynamodb(feedback_store.to_item(feedback))

    assert item["o"] == (feedback.occurred_at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    assert isinstance(item["sa"], int) and isinstance(item["analyzed_at"], int)
    assert "k" not in item and "kind" not in item  # a form's usual kind
    assert item["p"] == "="  # the page URL the metadata holds
    assert item["a"] == {"e": "bench-000411@example.com", "n": "Customer 318"}
    assert not {"source_id", "occurred_at", "stored_at", "permalink", "metadata", "author"} & item.keys()
    # What expressions and partial updates name keeps its name.
    assert {"channel", "sentiment", "customer_id", "rating", "analyzer", "language"} <= item.keys()


def test_the_overhead_of_a_form_response_leaves_room_for_a_long_comment(stack):
    empty = bench_like(text="")
    overhead = item_size(dynamo.serialize(feedback_store.to_item(empty)))
    before = item_size(dynamo.serialize(old_layout(empty)))
    # The first compact layout took 837 bytes for the same item (its keys and index keys: 286).
    assert overhead <= 680 < before

    # A 600-character comment (compressed) and three theme tags still fit in one write unit.
    long = bench_like(text=REVIEW + " " + REVIEW[:250], themes=tagged().themes)
    assert item_size(dynamo.serialize(feedback_store.to_item(long))) <= 1024
