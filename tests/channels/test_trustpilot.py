"""Trustpilot channel (`trustpilot`): the URL token, service-review events, batches, identity.

Fixtures in tests/fixtures/trustpilot/ follow the payload Trustpilot documents for its service-review
webhooks ("How to set up Trustpilot Webhooks", support.trustpilot.com/hc/en-us/community/posts/
10109980750738): `{"events": [{"eventName": "service-review-created", "version": "1", "eventData": {id,
language, title, text, referenceId, stars, createdAt, isVerified, locationId, link, consumer {id, name,
link}, tags}}]}`. `service-review-updated` carries the same eventData and `service-review-deleted` only
the review id (as modelled by lindar-open/trustpilot-client's event classes).

Trustpilot signs nothing and publishes no test vector: the source's token is in the subscription URL, which
the channel's `sign` puts in the query of every case that gives no query of its own. The generic
authentication cases (missing or wrong token, rotation) come from the harness (test_generic_cases.py).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.channels.harness import NOW, ChannelTable, WebhookCase

TOKEN = "Gx2vQ8mZr4Lk1sTn7YwPb0JcH5dFa3Ue9KoVi6NqXtM"


def case(label: str, **kwargs) -> WebhookCase:
    """A request to the subscription URL with the source's token, unless the case gives its own query."""
    if "query" in kwargs:
        kwargs.setdefault("sign", False)
    return WebhookCase(label, **kwargs)


CREATED = case(
    "service review created",
    fixture="service_review_created.json",
    events=[
        {
            "channel": "trustpilot",
            "kind": "review",
            "external_id": "6a1f0c2e9b3d4e00128f7a51",
            "text": (
                "Great service\n\nNothing other than excellent customer service. Delivery was a day early."
            ),
            "language": "en",
            "rating": 5,
            "rating_scale": "stars",
            "author": {
                "channel_user_id": "5d2a9e1c0000ff0001a4c3b2",
                "name": "Maria Jensen",
                "handle": None,
                "email": None,
            },
            "occurred_at": "2026-11-21T11:57:12Z",
            "thread_id": None,
            "permalink": "https://www.trustpilot.com/reviews/6a1f0c2e9b3d4e00128f7a51",
            "metadata": {
                "event_name": "service-review-created",
                "review_id": "6a1f0c2e9b3d4e00128f7a51",
                "reference_id": "ORDER-10442",
                "is_verified": True,
                "location_id": "43f51215-a1fc-4c60-b6dd-e4afb6d7b831",
            },
        }
    ],
    response={"status": "accepted", "events": 1},
)

BATCH = case(
    "two created reviews and a deletion in one delivery",
    fixture="batch.json",
    deletions=1,
    events=[
        {
            "external_id": "6a1f0d7700aa4e0012c0ffee",
            "text": "Langsom levering\n\nPakken kom to uger for sent, og ingen svarede på mine mails.",
            "language": "da",
            "rating": 2,
            "author": {"channel_user_id": "5d2a9e1c0000ff0001a4c3c9", "name": "Jonas P."},
            "occurred_at": "2026-11-21T11:40:03Z",
            "metadata": {"reference_id": "ORDER-10450", "is_verified": False},
        },
        {
            "external_id": "6a1f0d9a11bb4e0012c0beef",
            "text": "OK\n\nDoes what it says.",
            "rating": 3,
            "rating_scale": "stars",
            "occurred_at": "2026-11-21T11:41:30Z",
        },
    ],
    response={"status": "accepted", "events": 2, "deletions": 1},
)


def review_body(event_name: str = "service-review-created", **fields) -> bytes:
    import json

    data = {
        "id": "6b0000000000000000000001",
        "stars": 1,
        "title": "Never again",
        "text": "Wrong size twice.",
        "createdAt": "2026-11-21T10:00:00Z",
        "consumer": {"id": "c-1", "name": "Customer"},
        **fields,
    }
    data = {key: value for key, value in data.items() if value is not None}
    return json.dumps({"events": [{"eventName": event_name, "version": "1", "eventData": data}]}).encode()


CASES = [
    CREATED,
    BATCH,
    # Issue 11, item 3: an updated review is an edit, stored under the review's own id (the first version
    # received is kept; see test_an_update_of_a_stored_review_keeps_the_first_version).
    case(
        "updated review whose creation never arrived, without updatedAt",
        fixture="service_review_updated.json",
        events=[
            {
                "external_id": "6a1f0d7700aa4e0012c0ffee",
                "text": (
                    "Langsom levering, men god support\n\n"
                    "Pakken kom for sent, men kundeservice ringede og løste det hurtigt."
                ),
                "rating": 4,
                "occurred_at": "2026-11-21T11:40:03Z",  # the review's createdAt
                "metadata": {
                    "event_name": "service-review-updated",
                    "review_id": "6a1f0d7700aa4e0012c0ffee",
                    "edited": True,
                    "edited_at": None,
                },
            }
        ],
    ),
    case(
        "updated review with updatedAt",
        body=review_body("service-review-updated", updatedAt="2026-11-21T11:30:00.000Z", stars=4),
        events=[
            {
                "external_id": "6b0000000000000000000001",
                "rating": 4,
                "occurred_at": "2026-11-21T10:00:00Z",
                "metadata": {"edited": True, "edited_at": "2026-11-21T11:30:00+00:00"},
            }
        ],
    ),
    case(
        "deleted review",
        fixture="service_review_deleted.json",
        events=[],
        deletions=1,
        response={"status": "accepted", "events": 0, "deletions": 1},
    ),
    # Issue 11, item 17: stars are a JSON integer, as Trustpilot documents; a boolean is never a rating.
    case("stars true", body=review_body(stars=True), status=422, error_code="payload_invalid"),
    case("stars as a string", body=review_body(stars="5"), status=422, error_code="payload_invalid"),
    # Issue 11, item 15: a platform would resend the same review, so a long one is cut, not refused.
    case(
        "a text longer than the product's bound is cut and flagged",
        body=review_body(title="", text="é" * 25_000),
        events=[{"text": "é" * 20_000, "text_truncated": True}],
    ),
    case("unknown event type", body=review_body("product-review-created"), events=[]),
    case(
        "title only, consumer displayName",
        body=review_body(text="", consumer={"id": "c-2", "displayName": "D. Name"}),
        events=[{"text": "Never again", "author": {"channel_user_id": "c-2", "name": "D. Name"}}],
    ),
    case(
        "empty token",
        fixture="service_review_created.json",
        query={"token": ""},
        status=401,
        error_code="signature_missing",
    ),
    case(
        "token in another parameter does not count",
        fixture="service_review_created.json",
        query={"secret": TOKEN},
        status=401,
        error_code="signature_missing",
    ),
    case(
        "wrong token before a malformed body is still 401",
        body=b'{"events": [',
        query={"token": "nope"},
        status=401,
        error_code="signature_invalid",
    ),
    case("malformed JSON after a valid token", body=b'{"events": [', status=400, error_code="malformed_json"),
    case("no events", body=b'{"events": []}', status=422, error_code="payload_invalid"),
    case(
        "events not a list", body=b'{"events": {"eventName": "x"}}', status=422, error_code="payload_invalid"
    ),
    case(
        "event without a name",
        body=b'{"events": [{"eventData": {}}]}',
        status=422,
        error_code="payload_invalid",
    ),
    case(
        "created event without eventData",
        body=b'{"events": [{"eventName": "service-review-created"}]}',
        status=422,
        error_code="payload_invalid",
    ),
    case("stars out of range", body=review_body(stars=6), status=422, error_code="payload_invalid"),
    case(
        "review without createdAt", body=review_body(createdAt=None), status=422, error_code="payload_invalid"
    ),
    case(
        "one bad event rejects the whole delivery",
        body=(
            b'{"events": [{"eventName": "service-review-created", "eventData": {"id": "a", "stars": 5, '
            b'"createdAt": "2026-11-21T10:00:00Z"}}, {"eventName": "service-review-created", '
            b'"eventData": {"id": "b", "stars": "five", "createdAt": "2026-11-21T10:00:00Z"}}]}'
        ),
        status=422,
        error_code="payload_invalid",
    ),
    # Found by test_normalizer_properties: such a time parses, then overflowed converting to UTC (500).
    case(
        "createdAt before the year 1 in UTC",
        body=review_body(createdAt="0001-01-01T00:00:00+14:00"),
        status=422,
        error_code="payload_invalid",
    ),
]


TABLE = ChannelTable("trustpilot", {"token": TOKEN}, accepted=CREATED)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
def test_trustpilot_cases(harness, case):
    harness.run(case)


def test_redelivery_is_stored_once(harness):
    harness.assert_redelivery_stored_once(BATCH)


def test_an_update_of_a_stored_review_keeps_the_first_version(harness, stack):
    """Issue 11, item 3: created, then updated: one item, the created text and stars."""
    from app import analyze
    from chalicelib.local.lambda_runtime import SqsPoller
    from chalicelib.models import feedback_id_for
    from chalicelib.store import feedback

    created = review_body(stars=1, text="Wrong size twice.")
    updated = review_body(
        "service-review-updated", stars=4, text="Support fixed it.", updatedAt="2026-11-21T11:30:00Z"
    )
    for body in (created, updated):
        assert harness.send(case("review", body=body), collect=False).status == 200
    assert SqsPoller(stack.queue_url, analyze).drain().failed == 0
    stored = feedback.get(feedback_id_for(harness.source.source_id, "6b0000000000000000000001"))
    assert stored is not None and (stored.rating, stored.text) == (1, "Never again\n\nWrong size twice.")
    assert stack.table_item_count() == 1


def test_a_deleted_review_is_marked_deleted_once_and_kept(harness, stack):
    """service-review-deleted marks the stored review (platform_deleted_at), through the queue and analyze
    step; a redelivered deletion leaves the first mark; a deletion of a review never stored marks nothing."""
    from app import analyze
    from chalicelib.local.lambda_runtime import SqsPoller
    from chalicelib.models import feedback_id_for
    from chalicelib.store import feedback

    review_id = "6b0000000000000000000001"
    assert harness.send(case("review", body=review_body(stars=2)), collect=False).status == 200
    deleted = json.dumps(
        {"events": [{"eventName": "service-review-deleted", "version": "1", "eventData": {"id": review_id}}]}
    ).encode()
    first = harness.send(case("deleted", body=deleted), collect=False)
    assert json.loads(first.body) == {"status": "accepted", "events": 0, "deletions": 1}
    assert SqsPoller(stack.queue_url, analyze).drain().failed == 0
    stored = feedback.get(feedback_id_for(harness.source.source_id, review_id))
    assert stored is not None and stored.platform_deleted_at is not None
    assert (stored.text, stored.rating) == ("Never again\n\nWrong size twice.", 2)  # our copy is kept
    marked_at = stored.platform_deleted_at
    harness.send(case("deleted again", body=deleted, now=NOW + timedelta(hours=1)), collect=False)
    harness.send(case("never stored", fixture="service_review_deleted.json"), collect=False)
    assert SqsPoller(stack.queue_url, analyze).drain().failed == 0
    assert feedback.get(feedback_id_for(harness.source.source_id, review_id)).platform_deleted_at == marked_at
    assert stack.table_item_count() == 1


def test_generated_token_is_url_safe():
    from chalicelib.channels.trustpilot import TrustpilotChannel

    token = TrustpilotChannel().generate_secret("token")

    assert len(token) >= 40
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
