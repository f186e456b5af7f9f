"""Synthetic input: form responses, Meta deliveries, and stored items with their customers' profiles."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tools.bench.comprehend import sentiment_entry

# Synthetic input: who writes in and what they write.
EMAIL_SHARE = 0.6  # responses that leave an email address
REPEAT_SHARE = 0.3  # of those, the share written by someone who already wrote in (1,000 → ~420 customers)
PII_COMMENT_SHARE = 0.05  # comments holding the writer's email address or phone number
DIGIT_COMMENT_SHARE = 0.10  # comments holding harmless digits ("3 days", "order #48213")

BENCH_PAGE_ID = "105371222151234"
# Each bench delivery: this many entries, each with this many Page comments and Messenger messages.
META_ENTRIES, META_COMMENTS, META_MESSAGES = 2, 10, 5

OPENINGS = (
    "I love the new dashboard",
    "Checkout was slow again today",
    "Support was helpful and fast",
    "The app keeps crashing when I upload photos",
    "Delivery arrived on Tuesday",
    "Great prices, but the mobile site is broken on my phone",
    "I asked for a refund two weeks ago",
    "Excellent onboarding call with your team",
    "Menu layout changed",
    "Terrible experience with the courier",
)
DETAILS = (
    " and the reports load in a second.",
    " and I had to retry the payment three times before it went through.",
    " The agent stayed on the line until everything worked, thank you.",
    " It happens on both Android and iOS, every single time, since the last update.",
    " Nothing special to report, the parcel was complete.",
    " Please fix the layout; the buttons overlap the price and I cannot tap them.",
    " Nobody answered my emails and the order page still shows it as pending.",
    " Our whole team is using it now — très bien 👍.",
)

# Appended to some comments: the writer's own contact details (PII), or digits that are not PII.
PII_FRAGMENTS = (
    " You can reach me at {email} if you need the details.",
    " Call me back on +1 415 555 {n4}, any time after 5pm.",
    " My mobile is 07700 900{n3}, text me when it is fixed.",
    " Write to {email} or ring 020 7946 {n4}.",
)
DIGIT_FRAGMENTS = (
    " I waited {n1} days for an answer.",
    " Order #{n5} still shows as pending.",
    " Paid ${n2} for express shipping.",
    " It took {n2} minutes on the phone to sort out.",
    " Second time in {n1} weeks.",
)


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        email=f"{rng.choice(['anna.k', 'j.smith', 'maria.g', 'tom_b'])}{rng.randint(1, 99)}@mail.example.org",
        n1=rng.randint(2, 9),
        n2=rng.randint(10, 99),
        n3=rng.randint(100, 999),
        n4=rng.randint(1000, 9999),
        n5=rng.randint(10000, 99999),
    )


def synthetic_comment(rng: random.Random) -> str:
    """A comment of realistic length: mostly one or two sentences, sometimes a long story; a few hold the
    writer's email or phone number (PII_COMMENT_SHARE), some harmless digits (DIGIT_COMMENT_SHARE)."""
    text = rng.choice(OPENINGS)
    roll = rng.random()
    if roll < 0.35:
        text += "."
    else:
        sentences = 1 if roll < 0.8 else rng.randint(3, 12)
        text += "".join(rng.choice(DETAILS) for _ in range(sentences))
    extra = rng.random()
    if extra < PII_COMMENT_SHARE:
        text += _fill(rng.choice(PII_FRAGMENTS), rng)
    elif extra < PII_COMMENT_SHARE + DIGIT_COMMENT_SHARE:
        text += _fill(rng.choice(DIGIT_FRAGMENTS), rng)
    if rng.random() < 0.005:
        # A pasted essay: longer than Comprehend's 5,000-byte limit, so the analyzer must truncate it.
        text = (text + " ") * 40
    return text[:9000]


def synthetic_responses(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Form submissions as the widget sends them: an NPS rating, mostly a comment, sometimes a language,
    and for EMAIL_SHARE of them an email address, REPEAT_SHARE of which someone who wrote in before."""
    rng = random.Random(seed)
    responses = []
    customers: list[int] = []
    for index in range(count):
        body: dict[str, Any] = {"rating": rng.randint(0, 10), "response_id": f"bench-{index:06d}"}
        if rng.random() < 0.9:
            body["comment"] = synthetic_comment(rng)
        if rng.random() < 0.5:
            body["language"] = rng.choice(["en", "en-US", "en-GB"])
        if rng.random() < EMAIL_SHARE:
            if customers and rng.random() < REPEAT_SHARE:
                customer = rng.choice(customers)
            else:
                customer = index
                customers.append(customer)
            body["email"] = f"customer{customer}@example.com"
            body["name"] = f"Customer {customer}"
        body["page_url"] = "https://shop.example.com/checkout/done"
        responses.append(body)
    return responses


def distinct_emails(responses: Iterable[dict[str, Any]]) -> tuple[int, int]:
    """(responses with an email, distinct emails, case-insensitive) among form responses."""
    emails = [r["email"].lower() for r in responses if r.get("email")]
    return len(emails), len(set(emails))


def meta_delivery(
    index: int, entries: int = META_ENTRIES, comments: int = META_COMMENTS, messages: int = META_MESSAGES
) -> bytes:
    """A Meta Page delivery batching `entries` entries, each with feed comments and Messenger messages,
    in the shape of Meta's Webhooks reference (ids unique per delivery)."""
    entry_list = []
    for entry in range(entries):
        changes = [
            {
                "field": "feed",
                "value": {
                    "from": {"id": f"60549{index:05d}{entry}{n:02d}", "name": f"Customer {n}"},
                    "post_id": f"{BENCH_PAGE_ID}_1221{index:05d}",
                    "comment_id": f"1221{index:05d}_{entry}{n:04d}",
                    "created_time": 1795262280 + n,
                    "item": "comment",
                    "parent_id": f"{BENCH_PAGE_ID}_1221{index:05d}",
                    "verb": "add",
                    "message": f"Comment {n} on delivery {index}: the new menu is great",
                },
            }
            for n in range(comments)
        ]
        messaging = [
            {
                "sender": {"id": f"2490{index:05d}{entry}{n:02d}"},
                "recipient": {"id": BENCH_PAGE_ID},
                "timestamp": 1795262285000 + n,
                "message": {"mid": f"m_{index}_{entry}_{n}", "text": f"Message {n}: where is my order?"},
            }
            for n in range(messages)
        ]
        entry_list.append(
            {"id": BENCH_PAGE_ID, "time": 1795262285, "changes": changes, "messaging": messaging}
        )
    return json.dumps({"object": "page", "entry": entry_list}).encode()


# Channels of the synthetic stored items: (channel, kind, rating scale, weight).
CHANNEL_MIX = (
    ("form", "form_response", "nps", 5),
    ("facebook", "comment", None, 1),
    ("instagram", "comment", None, 1),
    ("messenger", "message", None, 1),
    ("trustpilot", "review", "stars", 1),
    ("zendesk", "message", "csat", 1),
)
LANGUAGE_MIX = (("en", 8), ("es", 1), ("fr", 1))


@dataclass(frozen=True)
class SyntheticCustomer:
    customer_id: str
    email: str
    name: str


def synthetic_customer(number: int) -> SyntheticCustomer:
    """A customer as the analyze path would have created it from their email address."""
    from chalicelib.store.identities import customer_id_for

    email = f"shopper{number}@example.net"
    return SyntheticCustomer(customer_id_for(f"email#{email}"), email, f"Shopper {number}")


def synthetic_stored(
    rng: random.Random, external_id: str, stored_at: datetime, customer: SyntheticCustomer | None = None
) -> Any:
    """A StoredFeedback as the analyze path stores it: a channel from CHANNEL_MIX, a rating on that channel's
    scale, a comment analyzed and redacted (PatternRedactor, as the local stack does), the customer if any."""
    from chalicelib.analysis.redaction import PatternRedactor
    from chalicelib.models import Author, FeedbackEvent, SentimentScores, StoredFeedback

    channel, kind, scale, _ = rng.choices(CHANNEL_MIX, weights=[mix[3] for mix in CHANNEL_MIX])[0]
    text = synthetic_comment(rng)
    pii_types: list[str] = []
    if any(char.isdigit() or char == "@" for char in text):
        redaction = PatternRedactor().redact_text(text)
        text, pii_types = redaction.text, redaction.types
    author: dict[str, Any] = {}
    if channel != "form":
        author = {
            "channel_user_id": f"{rng.randrange(10**15, 10**16)}",
            "handle": f"user{rng.randrange(10**6)}",
        }
    if customer is not None:
        author |= {"email": customer.email, "name": customer.name}
    rating = None
    if scale is not None:
        rating = rng.randint(0, 10) if scale == "nps" else rng.randint(1, 5)
    entry = sentiment_entry(0, text)
    event = FeedbackEvent.create(
        source_id="demo" if channel == "form" else f"demo-{channel}",
        external_id=external_id,
        channel=channel,
        kind=kind,
        text=text,
        language=rng.choices([m[0] for m in LANGUAGE_MIX], weights=[m[1] for m in LANGUAGE_MIX])[0],
        rating=rating,
        rating_scale=scale,
        author=Author(**author),
        occurred_at=stored_at - timedelta(seconds=rng.randint(5, 3600)),
        received_at=stored_at - timedelta(seconds=rng.randint(1, 5)),
        permalink=None if channel == "form" else f"https://{channel}.example.com/p/{external_id}",
    )
    scores = {name.lower(): value for name, value in entry["SentimentScore"].items()}
    return StoredFeedback(
        **event.model_dump(),
        sentiment=entry["Sentiment"],
        sentiment_scores=SentimentScores(**scores),
        analyzer="comprehend",
        analyzed_at=stored_at,
        stored_at=stored_at,
        customer_id=customer.customer_id if customer else None,
        pii_redacted=bool(pii_types),
        pii_types=pii_types,
    )


def profile_item(customer: SyntheticCustomer, items: Sequence[Any], now: datetime) -> dict[str, Any]:
    """The profile item the analyze path's updates would have left for `customer` after `items`."""
    from chalicelib.store.profiles import PROFILE, profile_key
    from chalicelib.store.schema import CUSTOMER_PK, CUSTOMER_SK, RECORD_TYPE, customer_partition

    profile: dict[str, Any] = {
        **profile_key(customer.customer_id),
        RECORD_TYPE: PROFILE,
        CUSTOMER_PK: customer_partition(customer.customer_id),
        CUSTOMER_SK: PROFILE,
        "customer_id": customer.customer_id,
        "display_name": customer.name,
        "emails": {customer.email},
        "channels": {str(item.channel) for item in items},
        "first_seen": min(item.occurred_at for item in items).isoformat(),
        "last_seen": max(item.occurred_at for item in items).isoformat(),
        "created_at": now.isoformat(),
        "updated_at": now.isoformat(),
        "feedback_count": len(items),
    }
    handles = {item.author.handle for item in items if item.author.handle}
    if handles:
        profile["handles"] = handles
    for item in sorted(items, key=lambda i: i.occurred_at):
        profile[f"channel_{item.channel}"] = profile.get(f"channel_{item.channel}", 0) + 1
        profile[f"sentiment_{item.sentiment}"] = profile.get(f"sentiment_{item.sentiment}", 0) + 1
        profile["sentiment_scored"] = profile.get("sentiment_scored", 0) + 1
        profile["sentiment_score_sum"] = profile.get("sentiment_score_sum", 0) + item.sentiment_score
        if item.rating_scale in ("nps", "csat"):
            scale = str(item.rating_scale)
            profile[f"rating_{scale}_count"] = profile.get(f"rating_{scale}_count", 0) + 1
            profile[f"rating_{scale}_sum"] = profile.get(f"rating_{scale}_sum", 0) + item.rating
            profile[f"latest_{scale}"] = {"rating": item.rating, "at": item.occurred_at.isoformat()}
    return profile
