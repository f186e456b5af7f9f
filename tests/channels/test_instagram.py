"""Instagram channel (`instagram`): comments and live comments, @mentions and direct messages.

Fixtures in tests/fixtures/instagram/ follow Meta's Instagram Platform "Webhook Notification Examples"
(developers.facebook.com/docs/instagram-platform/webhooks/examples: the comments/live_comments payload
{id, from {id, username}, text, media {id, media_product_type}} and the messaging payload with
message, is_echo, is_deleted, reaction, read and story_mention attachments), the Webhooks reference for the
Instagram object (parent_id, the `messages` field) and the Mentions guide ({comment_id, media_id}).
"""

from __future__ import annotations

import json

import pytest

from tests.channels.harness import ChannelTable, WebhookCase, payload_invalid
from tests.channels.meta_cases import (
    APP_SECRET,
    NO_EVENTS,
    SECRETS,
    auth_cases,
    handshake_cases,
    signed_with,
)

ACCOUNT = "17841405309211844"
MEDIA = "17918195224117851"
CUSTOMER_IGSID = "1234567890123456"
DM_MID = (
    "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1MzA5MjExODQ0OjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI2"
    "MDAwMDAwMDAwMDAwMDA2MjE2NTU0MDc2MjA2MDYz"
)


def instagram_body(*entries: dict) -> bytes:
    return json.dumps({"object": "instagram", "entry": list(entries)}).encode()


COMMENT = {
    "channel": "instagram",
    "kind": "comment",
    "external_id": "17865799348089039",
    "text": "Love the new colours! When is the restock? 😍",
    "author": {"channel_user_id": "232323232", "handle": "dana.scott", "name": None, "email": None},
    # The comments webhook has no creation time: entry.time (when Meta sent it) stands in.
    "occurred_at": "2026-11-21T11:58:05Z",
    "thread_id": MEDIA,
    "metadata": {"field": "comments", "media_product_type": "FEED"},
}

CASES = [
    # Issue 11, item 3: a DM edit is stored under the mid of the message it edits (the first version kept).
    WebhookCase(
        "DM message_edit whose original never arrived",
        body=instagram_body(
            {
                "id": ACCOUNT,
                "time": 1795262285,
                "messaging": [
                    {
                        "sender": {"id": CUSTOMER_IGSID},
                        "recipient": {"id": ACCOUNT},
                        "timestamp": 1795262290123,
                        "message_edit": {"mid": "aWdfZAG1faXRlbTo", "text": "Size M, not L", "num_edit": 1},
                    }
                ],
            }
        ),
        events=[
            {
                "channel": "instagram",
                "kind": "message",
                "external_id": "aWdfZAG1faXRlbTo",
                "text": "Size M, not L",
                "metadata": {"edited": True},
            }
        ],
    ),
    # --- kept -------------------------------------------------------------------------------------------
    WebhookCase(
        "comment", fixture="comment.json", events=[COMMENT], response={"status": "accepted", "events": 1}
    ),
    WebhookCase(
        "live comment",
        fixture="live_comment.json",
        events=[
            {
                "kind": "comment",
                "external_id": "17865799348089041",
                "text": "The sound keeps cutting out",
                "author": {"channel_user_id": "343434343", "handle": "kim_lee"},
                "thread_id": "17918195224117999",
                "metadata": {"field": "live_comments", "media_product_type": "LIVE"},
            }
        ],
    ),
    WebhookCase(
        "reply to a comment",
        fixture="comment_reply.json",
        events=[{"external_id": "17865799348089042", "metadata": {"parent_id": "17865799348089039"}}],
    ),
    # Issue 11, item 2: Meta sends a mention without text or author; an item with neither text nor rating
    # is not stored on any channel (it would be an empty row in every export).
    WebhookCase(
        "mention in a comment (Meta sends ids only)",
        fixture="mention_in_comment.json",
        events=NO_EVENTS,
        response={
            "status": "accepted",
            "events": 0,
            "skipped": [{"reason": "no_text", "item": "entry[0].changes[0]"}],
        },
    ),
    WebhookCase("mention in a caption", fixture="mention_in_caption.json", events=NO_EVENTS),
    WebhookCase(
        "direct message",
        fixture="dm_text.json",
        events=[
            {
                "channel": "instagram",
                "kind": "message",
                "external_id": DM_MID,
                "text": "Do you ship to Canada?",
                "author": {"channel_user_id": CUSTOMER_IGSID},
                "thread_id": CUSTOMER_IGSID,
                "occurred_at": "2026-11-21T11:58:00.456000Z",
                "metadata": {"recipient_id": ACCOUNT},
            }
        ],
    ),
    WebhookCase(
        "direct message delivered as a `messages` change",
        fixture="dm_changes_messages.json",
        events=[
            {
                "kind": "message",
                "external_id": "random_mid_0000000000000000000000000000001",
                "text": "Is the store open on Sunday?",
                "occurred_at": "2026-11-21T11:58:02Z",
            }
        ],
    ),
    WebhookCase(
        "batch: entries with several changes and several direct messages, one SQS send",
        fixture="batch.json",
        events=[
            {"kind": "comment", "external_id": "17865799348089060", "text": "Is this available in size M?"},
            {"kind": "comment", "external_id": "17865799348089062", "metadata": {"field": "live_comments"}},
            {
                "kind": "comment",
                "external_id": "17865799348089064",
                "text": "Shipping was slow this time",
                "occurred_at": "2026-11-21T11:58:10Z",
            },
            {"kind": "message", "external_id": "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1batch1"},
            {"kind": "message", "external_id": "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1batch3"},
            {
                "kind": "message",
                "external_id": "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1batch4",
                "author": {"channel_user_id": "9876543210987654"},
            },
        ],
        response={
            "status": "accepted",
            "events": 6,
            "skipped": [
                {"reason": "own_message", "item": "entry[0].changes[1]"},
                {"reason": "no_text", "item": "entry[0].changes[3]"},
                {"reason": "no_text", "item": "entry[1].changes[0]"},
                {"reason": "not_feedback_event", "item": "entry[1].changes[1]"},
                {"reason": "own_message", "item": "entry[2].messaging[1]"},
                {"reason": "not_feedback_event", "item": "entry[3].messaging[0]"},
            ],
        },
    ),
    # --- skipped: 200, nothing queued -------------------------------------------------------------------
    WebhookCase("the account's own comment", fixture="own_comment.json", events=NO_EVENTS),
    WebhookCase("echo of the account's own message", fixture="dm_echo.json", events=NO_EVENTS),
    WebhookCase("reaction to a message", fixture="dm_reaction.json", events=NO_EVENTS),
    WebhookCase("message seen", fixture="dm_seen.json", events=NO_EVENTS),
    WebhookCase(
        "unsent (deleted) message marks the stored one",
        fixture="dm_deleted.json",
        events=NO_EVENTS,
        deletions=1,
        response={"status": "accepted", "events": 0, "deletions": 1},
    ),
    WebhookCase("story mention without text", fixture="dm_story_mention.json", events=NO_EVENTS),
    WebhookCase("story insights", fixture="story_insights.json", events=NO_EVENTS),
    # --- authentication and handshake -------------------------------------------------------------------
    *auth_cases("instagram", "comment.json"),
    *handshake_cases(),
    # --- signed but not the documented shape: 422, nothing queued ---------------------------------------
    payload_invalid("Page delivery sent to an Instagram source", b'{"object": "page", "entry": []}'),
    payload_invalid(
        "comment without id",
        instagram_body(
            {"id": ACCOUNT, "changes": [{"field": "comments", "value": {"text": "hi", "from": {"id": "1"}}}]}
        ),
    ),
    WebhookCase(
        "mention without ids (skipped like every mention)",
        body=instagram_body({"id": ACCOUNT, "changes": [{"field": "mentions", "value": {}}]}),
        events=NO_EVENTS,
    ),
    payload_invalid(
        "change value that is not an object",
        instagram_body({"id": ACCOUNT, "changes": [{"field": "comments", "value": "hi"}]}),
    ),
    payload_invalid(
        "messaging is not a list",
        instagram_body({"id": ACCOUNT, "messaging": {"message": {"mid": "m", "text": "hi"}}}),
    ),
    # Found by test_normalizer_properties: a non-string field was looked up in a set (TypeError).
    WebhookCase(
        "change field that is not a string is skipped like any unknown field",
        body=instagram_body(
            {
                "id": ACCOUNT,
                "changes": [
                    {"field": [], "value": {}},
                    {"field": "comments", "value": {"id": "c-1", "text": "Hi", "from": {"id": "2"}}},
                ],
            }
        ),
        events=[{"external_id": "c-1", "text": "Hi"}],
    ),
]


TABLE = ChannelTable(
    "instagram",
    SECRETS,
    accepted=next(c for c in CASES if c.label == "comment"),
    settings={"account_id": "17841405309211844", "username": "acme.coffee"},
)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
def test_instagram_cases(harness, case):
    harness.run(case)


def test_username_setting_skips_the_accounts_own_replies(channel_harness):
    harness = channel_harness("instagram", SECRETS, settings={"username": "@Acme.Coffee"})
    body = instagram_body(
        {
            "id": ACCOUNT,
            "time": 1795262285,
            "changes": [
                # With Instagram Login the account's own comment may carry an id other than entry.id.
                {
                    "field": "comments",
                    "value": {
                        "id": "c-own",
                        "text": "Thanks!",
                        "from": {"id": "55", "username": "acme.coffee"},
                    },
                },
                {
                    "field": "comments",
                    "value": {"id": "c-customer", "text": "Nice", "from": {"id": "66", "username": "kim"}},
                },
            ],
        }
    )

    harness.run(
        WebhookCase(
            "username setting",
            body=body,
            sign=False,
            headers=signed_with(APP_SECRET, body),
            events=[{"external_id": "c-customer", "text": "Nice"}],
        )
    )


def test_redelivery_is_stored_once(harness):
    harness.assert_redelivery_stored_once(next(c for c in CASES if c.fixture == "batch.json"))


def test_instagram_console_help_names_what_to_paste():
    from chalicelib.channels.instagram import InstagramChannel

    channel = InstagramChannel()
    for needle in (
        "/webhooks/<source_id>",
        "verify_token",
        "app_secret",
        "`comments`",
        "`messages`",
    ):
        assert needle in channel.console_help
