"""The feedback item's compact layout: the same StoredFeedback back in either layout, every attribute an
expression names kept, a typical item under 1 KB; negative items in the sparse index, pointer items of an
older table moved onto it by a rebuild."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.config import settings
from chalicelib.models import Sentiment, SentimentScores, StoredFeedback, ThemeTag
from chalicelib.store import counters, dynamo, feedback_layout, feedback_pages, reanalysis, schema
from chalicelib.store import feedback as feedback_store
from tests.factories import NOW, form_event, stored_positive
from tools.cost.units import item_size

REVIEW = (
    "I love the new dashboard and the reports load in a second. I had to retry the payment three times "
    "before it went through. Please fix the layout; the buttons overlap the price and I cannot tap them. "
    "It happens on both Android and iOS, every single time, since the last update. Nobody answered my "
    "emails and the order page still shows it as pending."
)


def tagged(text: str = REVIEW, sentiment: Sentiment = Sentiment.POSITIVE, **fields) -> StoredFeedback:
    """A form response with a customer, Comprehend's full-precision scores and three theme tags (one whose
    evidence the text does not hold, as a model may paraphrase)."""
    event = form_event("layout-1", text, metadata={"page_url": "https://shop.example.com/checkout/done"})
    return stored_positive(event).model_copy(
        update={
            "sentiment": sentiment,
            "sentiment_scores": SentimentScores(
                positive=0.9876543211, negative=0.0012345678, neutral=0.0101010101, mixed=0.0010101010
            ),
            "analyzer": "comprehend",
            "customer_id": "cus_0123456789abcdef01234567",
            "themes": [
                ThemeTag(
                    id="payment", sentiment=Sentiment.NEGATIVE, evidence="retry the payment three times"
                ),
                ThemeTag(
                    id="app-layout", sentiment=Sentiment.NEGATIVE, evidence="the buttons overlap the price"
                ),
                ThemeTag(id="support", sentiment=Sentiment.NEGATIVE, evidence="no answer from support"),
            ],
            "taxonomy_version": 3,
            **fields,
        }
    )


def old_layout(feedback: StoredFeedback) -> dict:
    """The item as written before the compact layout: every field as dumped, and no negatives index key."""
    item = feedback_store.to_item(feedback)
    for name in (*feedback_layout.stored_fields(feedback), schema.NEGATIVE_PK):
        item.pop(name, None)
    return {**item, **feedback.model_dump(mode="json", exclude_none=True)}


def through_dynamodb(item: dict) -> dict:
    return dynamo.deserialize(dynamo.serialize(item))


def test_an_item_reads_back_as_the_same_feedback_in_either_layout(stack):
    for feedback in (
        tagged(),
        tagged(text="Short and sweet", themes=None, taxonomy_version=None),
        tagged(text="", sentiment_scores=None, sentiment=None, pii_redacted=True, pii_types=["EMAIL"]),
        tagged(text_truncated=True, customer_id=None, received_at=NOW + timedelta(seconds=5)),
    ):
        for item in (feedback_store.to_item(feedback), old_layout(feedback)):
            read = feedback_store.from_item(through_dynamodb(item))
            assert read == feedback
            assert read.model_dump_json() == feedback.model_dump_json()


def test_the_compact_layout_keeps_what_expressions_name_and_shrinks_the_rest(stack):
    feedback = tagged()
    item = through_dynamodb(feedback_store.to_item(feedback))

    # FilterExpression (channel, sentiment, customer_id, size(themes)), the re-analysis and re-tagging
    # conditions (analyzer, sentiment, customer_id, taxonomy_version), the customer index's projection.
    assert (item["channel"], item["sentiment"], item["customer_id"]) == (
        "form",
        "POSITIVE",
        feedback.customer_id,
    )
    assert (item["analyzer"], item["taxonomy_version"], len(item["themes"])) == ("comprehend", 3, 3)
    assert item[schema.RECORD_TYPE] == "FEEDBACK"
    # The id only in the key, no defaults (received_at is occurred_at), the text compressed, tags pointing
    # into it.
    assert not {"feedback_id", "text", "text_truncated", "received_at"} & item.keys()
    payment, layout = REVIEW.index("retry the payment"), REVIEW.index("the buttons overlap")
    assert item["themes"][:2] == [f"payment|N|@{payment}:29", f"app-layout|N|@{layout}:29"]
    assert item["themes"][2] == "support|N|=no answer from support"
    assert item["sentiment_scores"] == [0.9876543211, 0.0012345678, 0.0101010101, 0.001010101]

    size = item_size(dynamo.serialize(feedback_store.to_item(feedback)))
    before = item_size(dynamo.serialize(old_layout(feedback)))
    assert size <= 1024 < before


def test_a_listing_filters_compact_items_by_dynamodb_as_before(stack):
    feedback = tagged()
    other = tagged(sentiment=Sentiment.NEGATIVE).model_copy(update={"feedback_id": "fb_" + "e" * 32})
    dynamo.batch_write(
        settings().table_name, [dynamo.put_request(feedback_store.to_item(f)) for f in (feedback, other)]
    )
    filters = feedback_pages.Filters(sentiment="NEGATIVE", themes=("payment",))

    page = feedback_pages.page_days([NOW.date()], filters, limit=10)

    assert [item.feedback_id for item in page.items] == [other.feedback_id]
    assert page.items[0].themes == other.themes


def test_only_negative_items_are_in_the_sparse_index_and_a_reanalysis_moves_them(stack):
    negative = tagged(sentiment=Sentiment.NEGATIVE)
    assert feedback_store.to_item(negative)[schema.NEGATIVE_PK] == schema.NEGATIVE_PARTITION
    assert schema.NEGATIVE_PK not in feedback_store.to_item(tagged())

    update = reanalysis._item_update(negative, tagged())["Update"]
    assert "#negative" in update["UpdateExpression"].split("REMOVE")[1]
    update = reanalysis._item_update(tagged(), negative)["Update"]
    assert "#negative = :negative" in update["UpdateExpression"].split("REMOVE")[0]


def test_a_rebuild_moves_an_older_tables_negatives_from_pointers_onto_the_index(stack):
    older = [
        tagged(sentiment=Sentiment.NEGATIVE).model_copy(
            update={"feedback_id": f"fb_{n:032x}", "stored_at": NOW + timedelta(minutes=n)}
        )
        for n in range(3)
    ]
    pointers = [
        {**counters.negative_key(f), schema.RECORD_TYPE: "NEGATIVE", "feedback_id": f.feedback_id}
        for f in older
    ]
    table = settings().table_name
    dynamo.batch_write(table, [dynamo.put_request(i) for i in [*map(old_layout, older), *pointers]])
    assert counters.newest_negative_ids(NOW.date(), NOW.date(), 10) == []

    counters.rebuild_day(NOW.date(), feedback_store.list_day(NOW.date()), {})

    newest = counters.newest_negative_ids(NOW.date(), NOW.date(), 10)
    assert newest == [(f.stored_at.isoformat(), f.feedback_id) for f in reversed(older)]
    assert all(dynamo.get_item(table, counters.negative_key(f)) is None for f in older)
    # The items themselves read as before.
    assert [feedback_store.get(f.feedback_id) for f in older] == older


def test_a_profile_is_read_by_its_key_not_through_the_customer_index(stack):
    from chalicelib import aws
    from chalicelib.store import customers, profiles
    from tests.test_customers import customer_of, event, process

    first, second = event("p1", email="ana@example.com"), event("p2", email="ana@example.com", user="u-ana")
    process(first, second)
    customer_id = customer_of(first)
    table = settings().table_name
    key = profiles.profile_key(customer_id)
    assert schema.CUSTOMER_PK not in dynamo.get_item(table, key)

    seen = customers.view(customer_id)

    assert seen is not None and seen.profile["feedback_count"] == 2
    assert sorted(i["identity"] for i in seen.identities) == ["demo#u-ana", "email#ana@example.com"]
    assert {f.feedback_id for f in seen.recent_feedback} == {first.feedback_id, second.feedback_id}
    # A profile written before it left the index keeps its entry: the view still reads it once.
    aws.client("dynamodb").update_item(
        TableName=table,
        Key=dynamo.serialize(key),
        UpdateExpression="SET #pk = :pk, #sk = :sk",
        ExpressionAttributeNames={"#pk": schema.CUSTOMER_PK, "#sk": schema.CUSTOMER_SK},
        ExpressionAttributeValues=dynamo.serialize(
            {":pk": schema.customer_partition(customer_id), ":sk": profiles.PROFILE}
        ),
    )
    assert customers.view(customer_id) == seen


def test_a_typical_tagged_item_bills_one_unit_per_copy_and_a_negative_one_more(stack):
    """The floor under `make bench`'s WRU per stored item: a customer's 1 KB-ish review with three theme
    tags costs 2 WRU as a transactional Put and 1 per index entry (per-day, negatives); no pointer
    item is written."""
    from chalicelib import aws
    from chalicelib.store import feedback_write
    from chalicelib.store.identities import Resolution
    from tools.bench.capacity import CapacityTally
    from tools.bench.counting import RequestCounter
    from tools.bench.storage import index_shapes

    items = [
        tagged(sentiment=Sentiment.NEGATIVE if n % 2 else Sentiment.POSITIVE).model_copy(
            update={"feedback_id": f"fb_{n:032x}", "customer_id": None}
        )
        for n in range(10)
    ]
    counter = RequestCounter()
    tally = CapacityTally(counter, index_shapes())
    tally.attach(aws.client("dynamodb").meta.events)

    with counter.phase_of("write"):
        feedback_write.save_feedback(items, Resolution(), {})

    billed = tally.wru_by_kind["write"]
    assert billed["feedback"] == 2 * len(items)
    assert (billed["feedback in by_day"], billed["feedback in by_negative"]) == (len(items), len(items) // 2)
    assert billed["negative pointer"] == 0
