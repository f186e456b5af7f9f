"""X Account Activity API channel (`x`): the CRC handshake, the delivery signature, and which events are kept.

Fixtures in tests/fixtures/x/ follow docs.x.com "Account Activity API → Payload examples" (the
direct_message, typing, favorite, follow, tweet_delete and user_event revoke bodies are those examples;
tweet_create_events carry v1.1 Tweet objects as in X's Tweet data dictionary, the longform one is the
documented `extended_tweet` example) and "Webhooks → Quickstart" for the CRC and signature scheme. The
generic authentication cases (missing or wrong signature, tampered body, key rotation) come from the harness
(test_generic_cases.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.exceptions import SignatureInvalid
from chalicelib.channels.sources import SourceConfig, SourceSecrets
from chalicelib.channels.x import XChannel
from tests.channels.harness import FIXTURES, NOW, ChannelTable, WebhookCase, payload_invalid

SECRET = "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu"
OTHER_SECRET = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"
ACCOUNT = "2244994945"
JSON = {"content-type": "application/json"}


def signature(body: bytes) -> str:
    """The x-twitter-webhooks-signature X sends with `body`."""
    return XChannel().sign(body, {"consumer_secret": SECRET}, NOW).headers["x-twitter-webhooks-signature"]


def expected_crc(secret: str, token: str) -> str:
    """The CRC answer computed independently of the module, exactly as X's quickstart shows it."""
    digest = hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def tweets(*objects: dict) -> bytes:
    return json.dumps({"for_user_id": ACCOUNT, "tweet_create_events": list(objects)}).encode()


VALID = tweets(
    {
        "id_str": "1",
        "text": "@TwitterDev hi",
        "user": {"id_str": "9", "screen_name": "kim"},
        "timestamp_ms": "1539202764000",
    }
)
NO_EVENTS: list[dict] = []

CASES = [
    WebhookCase(
        "@mention of the account",
        fixture="tweet_mention.json",
        events=[
            {
                "channel": "x",
                "kind": "mention",
                "external_id": "1050118621198921728",
                "text": "@TwitterDev the new onboarding docs are great, thanks for the clear examples!",
                "author": {
                    "channel_user_id": "3001969357",
                    "handle": "@furiouscamper",
                    "name": "Jordan Brinks",
                },
                "occurred_at": "2018-10-10T20:19:24.123000Z",
                "thread_id": "1050118621198921728",
                "language": "en",
                "permalink": "https://x.com/furiouscamper/status/1050118621198921728",
                "metadata": {"for_user_id": ACCOUNT, "event_type": "tweet_create", "user_has_blocked": False},
            }
        ],
        response={"status": "accepted", "events": 1},
    ),
    WebhookCase(
        "reply to the account's post: a mention in the replied-to thread",
        fixture="tweet_reply.json",
        events=[
            {
                "kind": "mention",
                "external_id": "1050119104231538689",
                "text": "@TwitterDev The rate limit page still shows the old numbers, very confusing.",
                "thread_id": "1050118621198921700",
                "occurred_at": "2018-10-10T20:21:19Z",
            }
        ],
    ),
    WebhookCase(
        "longform tweet: full_text, mention only past the cut, created_at when no timestamp_ms",
        fixture="tweet_longform.json",
        events=[
            {
                "kind": "mention",
                "external_id": "1924465506158878979",
                "text": "The Antikythera Mechanism: A Window into Ancient Ingenuity Discovered in 1901 "
                "among the wreckage of a Roman ship off the Greek island of Antikythera, this device still "
                "amazes. Loved the thread, @HistoryInPics",
                "occurred_at": "2025-05-19T14:01:46Z",
                "metadata": {"for_user_id": "1582853809"},
            }
        ],
    ),
    WebhookCase(
        "quote tweet of the account's post without a mention is a comment",
        fixture="tweet_quote.json",
        events=[
            {
                "kind": "comment",
                "external_id": "1050122500000000001",
                "text": "This change broke our client, please roll it back https://t.co/MkGjXf9aXm",
                "author": {"channel_user_id": "199566737", "handle": "@LeBraat", "name": "Le Braat"},
                "permalink": "https://x.com/LeBraat/status/1050122500000000001",
                "metadata": {"quoted_status_id": "1050118621198921999"},
            }
        ],
    ),
    WebhookCase(
        "several tweets in one delivery (the account's own one skipped): one SQS send",
        fixture="tweet_batch.json",
        events=[
            {"external_id": "1050124000000000003", "author": {"handle": "@LeBraat"}, "language": "en"},
            {
                "external_id": "1050124500000000004",
                "text": "@TwitterDev ¡Gracias por la ayuda!",
                "language": "es",
                "occurred_at": "2018-10-10T20:42:48Z",
            },
        ],
        response={"status": "accepted", "events": 2},
    ),
    WebhookCase(
        "direct message from a customer (the documented example)",
        fixture="direct_message.json",
        events=[
            {
                "channel": "x",
                "kind": "message",
                "external_id": "954491830116155396",
                "text": "Hello World!",
                "author": {
                    "channel_user_id": "3001969357",
                    "handle": "@furiouscamper",
                    "name": "Jordan Brinks",
                },
                "occurred_at": "2018-01-19T23:12:40.557000Z",
                "thread_id": "dm:3001969357",
                "permalink": None,
                "metadata": {"for_user_id": "4337869213", "event_type": "direct_message"},
            }
        ],
    ),
    WebhookCase("the account's own tweet", fixture="tweet_own.json", events=NO_EVENTS),
    WebhookCase("a retweet adds no words", fixture="tweet_retweet.json", events=NO_EVENTS),
    WebhookCase("a DM the account sent", fixture="direct_message_sent.json", events=NO_EVENTS),
    WebhookCase(
        "like",
        fixture="favorite_event.json",
        events=NO_EVENTS,
        response={"status": "accepted", "events": 0, "skipped": [{"reason": "not_a_message_event"}]},
    ),
    # Issue 11, item 1: X sends tweet and DM text HTML-escaped; the customer's words are stored.
    WebhookCase(
        "tweet text is unescaped exactly once",
        body=tweets(
            {
                "id_str": "11",
                "text": "@TwitterDev Prices &lt; competitors &amp; quality &gt; expected (I typed &amp;lt;)",
                "user": {"id_str": "9", "screen_name": "kim"},
                "timestamp_ms": "1539202764000",
            }
        ),
        events=[
            {
                "external_id": "11",
                "text": "@TwitterDev Prices < competitors & quality > expected (I typed &lt;)",
            }
        ],
    ),
    WebhookCase(
        "longform full_text is unescaped too",
        body=tweets(
            {
                "id_str": "12",
                "text": "cut &amp;",
                "extended_tweet": {"full_text": "@TwitterDev R&amp;D &gt; marketing"},
                "user": {"id_str": "9", "screen_name": "kim"},
                "timestamp_ms": "1539202764000",
            }
        ),
        events=[{"external_id": "12", "text": "@TwitterDev R&D > marketing"}],
    ),
    WebhookCase(
        "DM text is unescaped",
        body=json.dumps(
            {
                "for_user_id": ACCOUNT,
                "direct_message_events": [
                    {
                        "type": "message_create",
                        "id": "d1",
                        "created_timestamp": "1539202764000",
                        "message_create": {
                            "sender_id": "9",
                            "target": {"recipient_id": ACCOUNT},
                            "message_data": {"text": "2 &lt; 3 &amp;&amp; 4 &gt; 3"},
                        },
                    }
                ],
            }
        ).encode(),
        events=[{"external_id": "d1", "kind": "message", "text": "2 < 3 && 4 > 3"}],
    ),
    # Issue 11, item 3: an edited tweet has a new id; it is stored under the original's id (edit_history).
    WebhookCase(
        "edited tweet whose original never arrived",
        body=tweets(
            {
                "id_str": "1002",
                "text": "@TwitterDev the docs are great (edited)",
                "user": {"id_str": "9", "screen_name": "kim"},
                "timestamp_ms": "1539202764000",
                "edit_history": {"initial_tweet_id": "1001", "edit_tweet_ids": ["1001", "1002"]},
            }
        ),
        events=[
            {
                "external_id": "1001",
                "thread_id": "1001",
                "text": "@TwitterDev the docs are great (edited)",
                "permalink": "https://x.com/kim/status/1002",
                "metadata": {"edited": True, "edit_tweet_id": "1002"},
            }
        ],
    ),
    WebhookCase(
        "a tweet that is its own edit history is no edit",
        body=tweets(
            {
                "id_str": "1003",
                "text": "@TwitterDev hello",
                "user": {"id_str": "9", "screen_name": "kim"},
                "timestamp_ms": "1539202764000",
                "edit_history": {"initial_tweet_id": "1003", "edit_tweet_ids": ["1003"]},
            }
        ),
        events=[{"external_id": "1003", "metadata": {"edited": None}}],
    ),
    WebhookCase("follow", fixture="follow_event.json", events=NO_EVENTS),
    WebhookCase("typing indicator", fixture="typing_event.json", events=NO_EVENTS),
    # A deleted tweet marks the stored one (platform_deleted_at), as every channel's platform deletions do.
    WebhookCase(
        "tweet deletion notice",
        fixture="tweet_delete.json",
        events=NO_EVENTS,
        deletions=1,
        response={"status": "accepted", "events": 0, "deletions": 1},
    ),
    WebhookCase("authorization revoked (no for_user_id)", fixture="user_revoke.json", events=NO_EVENTS),
    WebhookCase(
        "a tweet with only whitespace",
        body=tweets({"id_str": "2", "text": "  ", "user": {"id_str": "9"}, "timestamp_ms": "1"}),
        events=NO_EVENTS,
    ),
    WebhookCase(
        "signature without the sha256= prefix",
        body=VALID,
        sign=False,
        headers={**JSON, "x-twitter-webhooks-signature": signature(VALID).removeprefix("sha256=")},
        status=401,
        error_code="signature_invalid",
    ),
    WebhookCase(
        "hex instead of base64",
        body=VALID,
        sign=False,
        headers={
            **JSON,
            "x-twitter-webhooks-signature": "sha256="
            + hmac.new(SECRET.encode(), VALID, hashlib.sha256).hexdigest(),
        },
        status=401,
        error_code="signature_invalid",
    ),
    WebhookCase(
        "malformed JSON after a valid signature",
        body=b'{"for_user_id": ',
        status=400,
        error_code="malformed_json",
    ),
    payload_invalid(
        "tweet_create_events is not a list", b'{"for_user_id": "1", "tweet_create_events": "tweet"}'
    ),
    payload_invalid("tweet without a user", tweets({"id_str": "3", "text": "hello", "timestamp_ms": "1"})),
    payload_invalid(
        "tweets without for_user_id",
        b'{"tweet_create_events": [{"id_str": "4", "text": "x", "user": {"id_str": "9"}}]}',
    ),
    payload_invalid(
        "tweet without a usable time",
        tweets({"id_str": "5", "text": "hello", "user": {"id_str": "9"}, "created_at": "yesterday"}),
    ),
    payload_invalid(
        "direct message with a malformed created_timestamp",
        json.dumps(
            {
                "for_user_id": "1",
                "direct_message_events": [
                    {
                        "type": "message_create",
                        "id": "6",
                        "created_timestamp": "soon",
                        "message_create": {"sender_id": "2", "message_data": {"text": "hi"}},
                    }
                ],
            }
        ).encode(),
    ),
    # Found by test_normalizer_properties: times past the year 9999 raised ValueError/OverflowError (500),
    # a user name of another type failed Author validation (500), a non-object extended_tweet had no .get.
    payload_invalid(
        "timestamp_ms past the year 9999",
        tweets({"id_str": "1", "text": "hi", "user": {"id_str": "9"}, "timestamp_ms": "9" * 17}),
    ),
    payload_invalid(
        "extended_tweet that is not an object",
        tweets({"id_str": "1", "text": "hi", "user": {"id_str": "9"}, "extended_tweet": "long"}),
    ),
    # Issue 13, item 2: a field is refused only where it is read. The account's own posts and messages and
    # retweets are skipped unread, so a malformed field in one is no error (the payload model defers it).
    WebhookCase(
        "the account's own tweet with an extended_tweet that is not an object is skipped",
        body=tweets({"id_str": "1", "text": "hi", "user": {"id_str": ACCOUNT}, "extended_tweet": "long"}),
        events=NO_EVENTS,
    ),
    WebhookCase(
        "a retweet without a usable time is skipped",
        body=tweets(
            {"id_str": "1", "text": "hi", "user": {"id_str": "9"}, "retweeted_status": {}, "created_at": "?"}
        ),
        events=NO_EVENTS,
    ),
    WebhookCase(
        "a DM the account sent with message_data that is not an object is skipped",
        body=json.dumps(
            {
                "for_user_id": ACCOUNT,
                "direct_message_events": [
                    {
                        "type": "message_create",
                        "id": "6",
                        "message_create": {"sender_id": ACCOUNT, "message_data": "hi"},
                    }
                ],
            }
        ).encode(),
        events=NO_EVENTS,
    ),
    payload_invalid(
        "a DM from a customer with message_data that is not an object",
        json.dumps(
            {
                "for_user_id": ACCOUNT,
                "direct_message_events": [
                    {
                        "type": "message_create",
                        "id": "6",
                        "message_create": {"sender_id": "2", "message_data": "hi"},
                    }
                ],
            }
        ).encode(),
    ),
    WebhookCase(
        "user name and screen_name of another type are left out",
        body=tweets(
            {
                "id_str": "1",
                "text": "hi",
                "user": {"id_str": "9", "name": {}, "screen_name": 7},
                "timestamp_ms": "1539202764000",
            }
        ),
        events=[{"external_id": "1", "author": {"channel_user_id": "9", "name": None, "handle": None}}],
    ),
]


TABLE = ChannelTable("x", {"consumer_secret": SECRET}, accepted=CASES[0])


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
def test_x_cases(harness, case):
    harness.run(case)


def crc(token: str | None, **kwargs) -> WebhookCase:
    return WebhookCase(
        f"crc {token!r}",
        method="GET",
        query={} if token is None else {"crc_token": token},
        sign=False,
        headers={},
        events=NO_EVENTS,
        **kwargs,
    )


def test_crc_answers_with_the_exact_response_token(harness):
    token = "9b4507b3-9040-4669-9ca3-6b94edb50553"
    # X publishes no CRC test vector. Secret and token are those of the public Twitter CRC sample (gist
    # jcipriano/46c4b3f379d214d57a9ddfa70dba49fe), which prints no output: the expected value was computed
    # with Python's hmac/base64 as X's quickstart does, and is pinned here as a literal.
    expected = "sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="
    assert expected_crc(SECRET, token) == expected

    result = harness.run(crc(token, response={"response_token": expected}))

    assert result.body == b'{"response_token":"sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="}'
    headers = {name.lower(): value for name, value in result.headers.items()}
    assert headers["content-type"] == "application/json"


def test_crc_needs_a_token(harness):
    harness.run(crc(None, status=400, error_code="handshake_malformed"))
    harness.run(crc("", status=400, error_code="handshake_malformed"))


def test_crc_cannot_be_used_to_sign_a_delivery(harness):
    """The CRC and the delivery signature are the same HMAC under the same key: a CRC over a JSON body
    would hand out that body's signature. Tokens that could be a JSON object are refused."""
    forged_body = tweets({"id_str": "66", "text": "forged", "user": {"id_str": "9"}, "timestamp_ms": "1"})
    harness.run(crc(forged_body.decode(), status=400, error_code="handshake_malformed"))
    harness.run(crc(" " + forged_body.decode(), status=400, error_code="handshake_malformed"))
    harness.run(crc("a" * 1025, status=400, error_code="handshake_malformed"))


def test_crc_uses_the_current_secret_during_a_rotation(harness):
    from chalicelib.channels import sources

    sources.rotate(harness.source.source_id, {"consumer_secret": OTHER_SECRET})
    harness.run(crc("abc", response={"response_token": expected_crc(OTHER_SECRET, "abc")}))


def test_published_signature_vectors_verify(channel_harness):
    """X's own webhook library (xdevplatform/autohook, test/signature.js): consumer secret "test"."""
    harness = channel_harness("x", {"consumer_secret": "test"})
    json_vector = WebhookCase(
        "autohook JSON vector: valid, no Account Activity events in it",
        body=b'{"test_number":1,"test_string":"two"}',
        sign=False,
        headers={
            **JSON,
            "x-twitter-webhooks-signature": "sha256=YWHphPn/JFq43jkF0y4/w8R/SelmLjvpunhVFY8JhlI=",
        },
        events=NO_EVENTS,
    )
    form_vector = WebhookCase(
        "autohook form vector: the signature verifies, then the body is not JSON",
        body=b"test=1&other_test=2",
        sign=False,
        headers={
            **JSON,
            "x-twitter-webhooks-signature": "sha256=25Cu3iwbbiqBTwQRzcKJZwisjf736V2Q8UaTlkfLSoc=",
        },
        status=400,
        error_code="malformed_json",
    )
    harness.run(json_vector)
    harness.run(form_vector)
    signed = XChannel().sign(json_vector.body or b"", {"consumer_secret": "test"}, NOW)
    header = "x-twitter-webhooks-signature"
    assert signed.headers == {header: json_vector.headers[header]}


def test_verify_rejects_the_vector_under_another_secret():
    request = WebhookRequest(
        source=SourceConfig(source_id="src_x_unit", type="x", name="unit"),
        secrets=SourceSecrets({"consumer_secret": "not-test"}),
        method="POST",
        headers={"x-twitter-webhooks-signature": "sha256=25Cu3iwbbiqBTwQRzcKJZwisjf736V2Q8UaTlkfLSoc="},
        query={},
        body=b"test=1&other_test=2",
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    with pytest.raises(SignatureInvalid):
        XChannel().verify(request)


def test_redelivery_is_stored_once(harness):
    harness.assert_redelivery_stored_once(next(c for c in CASES if c.fixture == "tweet_batch.json"))


def test_x_console_help_names_the_secret():
    channel = XChannel()
    assert channel.secret_names == ("consumer_secret",)
    assert "consumer_secret" in channel.console_help
    assert "/webhooks/<source_id>" in channel.console_help


def test_a_deleted_tweet_is_marked_deleted_and_kept(harness, stack):
    """The mention, then X's tweet_delete_events for it: one item, marked platform_deleted_at, text kept."""
    import json

    from app import analyze
    from chalicelib.local.lambda_runtime import SqsPoller
    from chalicelib.models import feedback_id_for
    from chalicelib.store import feedback

    mention = json.loads((FIXTURES / "x" / "tweet_mention.json").read_bytes())
    tweet = mention["tweet_create_events"][0]
    deleted = {
        "for_user_id": mention["for_user_id"],
        "tweet_delete_events": [
            {
                "status": {"id": tweet["id_str"], "user_id": tweet["user"]["id_str"]},
                "timestamp_ms": "1795262300000",
            }
        ],
    }
    for label, body in (("mention", mention), ("its deletion", deleted)):
        assert harness.send(WebhookCase(label, body=json.dumps(body).encode()), collect=False).status == 200
    assert SqsPoller(stack.queue_url, analyze).drain().failed == 0
    stored = feedback.get(feedback_id_for(harness.source.source_id, tweet["id_str"]))
    assert stored is not None and stored.platform_deleted_at is not None
    assert stack.table_item_count() == 1
