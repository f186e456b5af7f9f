"""GET /feedback?theme=&theme_sentiment=: a parent's filter includes its children, the sentiment is the
matching theme's, bad values are 400s before any read, and themed listings page with signed cursors that
read every matching item once, whatever the page size or the per-page read budget."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from chalicelib import aws
from chalicelib.auth import tokens
from chalicelib.models import Channel, Sentiment, StoredFeedback, ThemeTag
from chalicelib.read import cursors
from chalicelib.store import counters, feedback_pages, signing_keys
from chalicelib.store.schema import CUSTOMER_PK, CUSTOMER_SK, PK, SK
from chalicelib.themes import records as taxonomy_records
from chalicelib.themes.taxonomy import Taxonomy, Theme
from tests.test_export import save, stored

DAY = datetime(2026, 11, 18, 9, tzinfo=UTC)
DATE = DAY.date().isoformat()
CUSTOMER = "cus_" + "ab" * 12
LONG = "x" * 3000
TAXONOMY = Taxonomy(
    themes=[
        Theme(id="delivery", name="Delivery"),
        Theme(id="delivery-speed", name="Delivery time", parent="delivery"),
        Theme(id="delivery-damage", name="Damaged item", parent="delivery"),
        Theme(id="price", name="Price"),
        Theme(id="fax", name="Fax support", retired=True),
    ]
)
# external id → its tags (id, sentiment); the item's own sentiment is POSITIVE throughout, so the filter
# must read the theme's sentiment, not the item's.
TAGS: dict[str, list[tuple[str, str]]] = {
    "late": [("delivery-speed", "NEGATIVE")],
    "broken": [("delivery-damage", "NEGATIVE"), ("price", "POSITIVE")],
    "parcel": [("delivery", "POSITIVE")],
    "cheap": [("price", "POSITIVE")],
    "dear": [("price", "NEGATIVE")],
    "mixed": [("delivery-speed", "POSITIVE"), ("delivery-damage", "NEGATIVE")],
    "faxed": [("fax", "NEUTRAL")],
    "none": [],
    "untagged": [],  # stored before any tagger ran: no themes attribute at all
}


def tagged(external_id: str, when: datetime, tags: list[tuple[str, str]] | None) -> StoredFeedback:
    item = stored(external_id, when)
    themes = None if tags is None else [ThemeTag(id=i, sentiment=Sentiment(s), evidence=i) for i, s in tags]
    return item.model_copy(update={"themes": themes, "taxonomy_version": 1 if themes is not None else None})


@pytest.fixture
def headers(stack) -> dict[str, str]:
    tokens.clear_cache()
    signing_keys.clear_cache()
    token, _ = tokens.create_token("reader", ["read"])
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def seeded(stack) -> None:
    taxonomy_records.replace(TAXONOMY)
    items = [
        tagged(external_id, DAY + timedelta(minutes=n), None if external_id == "untagged" else tags)
        for n, (external_id, tags) in enumerate(TAGS.items())
    ]
    items[0] = items[0].model_copy(update={"customer_id": CUSTOMER})
    items[1] = items[1].model_copy(update={"customer_id": CUSTOMER})
    save(items)


def get(client, path: str, headers: dict[str, str]) -> tuple[int, dict]:
    response = client.http.get(path, headers=headers)
    return response.status_code, json.loads(response.body)


def listed(client, headers, query: str) -> list[str]:
    status, body = get(client, f"/feedback?date={DATE}&{query}", headers)
    assert status == 200, body
    assert body["next"] is None
    return sorted(item["external_id"] for item in body["items"])


def expected(ids: set[str], sentiment: str | None = None) -> list[str]:
    """The seeded items a filter must list, computed from TAGS, not by the code under test."""
    return sorted(
        external_id
        for external_id, tags in TAGS.items()
        if any(i in ids and sentiment in (None, s) for i, s in tags)
    )


# --- what a filter keeps ------------------------------------------------------------------------------------


def test_a_leaf_theme_lists_the_items_tagged_with_it(client, headers, seeded):
    assert listed(client, headers, "theme=price") == ["broken", "cheap", "dear"]
    assert listed(client, headers, "theme=delivery-speed") == ["late", "mixed"]


def test_a_parent_includes_its_children(client, headers, seeded):
    family = {"delivery", "delivery-speed", "delivery-damage"}

    assert listed(client, headers, "theme=delivery") == expected(family)
    assert listed(client, headers, "theme=delivery") == ["broken", "late", "mixed", "parcel"]


def test_theme_sentiment_is_the_matching_themes_sentiment(client, headers, seeded):
    family = {"delivery", "delivery-speed", "delivery-damage"}

    assert listed(client, headers, "theme=delivery&theme_sentiment=NEGATIVE") == ["broken", "late", "mixed"]
    assert listed(client, headers, "theme=delivery&theme_sentiment=POSITIVE") == expected(family, "POSITIVE")
    assert listed(client, headers, "theme=delivery&theme_sentiment=POSITIVE") == ["mixed", "parcel"]
    # "broken" is POSITIVE about price but NEGATIVE about the damage: only price's sentiment counts here.
    assert listed(client, headers, "theme=price&theme_sentiment=NEGATIVE") == ["dear"]
    assert listed(client, headers, "theme=price&theme_sentiment=MIXED") == []


def test_a_retired_theme_still_lists_the_items_tagged_before(client, headers, seeded):
    assert listed(client, headers, "theme=fax") == ["faxed"]


def test_theme_combines_with_the_other_filters(client, headers, seeded):
    assert listed(client, headers, "theme=price&sentiment=POSITIVE") == ["broken", "cheap", "dear"]
    assert listed(client, headers, "theme=price&sentiment=NEGATIVE") == []
    assert listed(client, headers, "theme=price&channel=slack") == []
    status, body = get(client, f"/feedback?customer_id={CUSTOMER}&theme=delivery-damage", headers)
    assert status == 200
    assert [item["external_id"] for item in body["items"]] == ["broken"]
    assert listed(client, headers, f"customer_id={CUSTOMER}&theme=price") == ["broken"]


def test_without_a_theme_every_item_is_listed_tagged_or_not(client, headers, seeded):
    assert listed(client, headers, "limit=500") == sorted(TAGS)


def test_a_taxonomy_change_takes_effect_for_the_filter(client, headers, seeded):
    themes = [*TAXONOMY.themes[:3], Theme(id="price", name="Price", parent="delivery"), TAXONOMY.themes[4]]
    taxonomy_records.replace(Taxonomy(themes=themes))

    assert listed(client, headers, "theme=delivery") == ["broken", "cheap", "dear", "late", "mixed", "parcel"]


# --- bad values ---------------------------------------------------------------------------------------------


@pytest.fixture
def aws_calls(client, headers) -> Iterator[Counter[str]]:
    """AWS operations made from here on (the token is read and cached first)."""
    assert client.http.get(f"/feedback?date={DATE}", headers=headers).status_code == 200
    calls: Counter[str] = Counter()

    def count(event_name: str, **kwargs) -> None:
        calls.update([event_name.split(".", 1)[1]])

    aws.client("dynamodb").meta.events.register("before-call", count)
    yield calls
    aws.client("dynamodb").meta.events.unregister("before-call", count)


@pytest.mark.parametrize(
    "query",
    [
        "theme=" + LONG,
        "theme=Delivery",  # ids are lower case
        "theme=" + "d" * 64,  # 63 characters at most
        "theme=-delivery",
        "theme=deliv%C3%A9ry",
        "theme=delivery%2Cprice",
        "theme=delivery&theme_sentiment=negative",
        "theme=delivery&theme_sentiment=" + LONG,
        "theme=delivery&theme_sentiment=NONE",
        "theme_sentiment=NEGATIVE",  # only with a theme
    ],
)
def test_bad_theme_parameters_are_400_without_a_read(client, headers, seeded, aws_calls, query):
    status, body = get(client, f"/feedback?date={DATE}&{query}", headers)

    assert (status, body["error"]["code"]) == (400, "invalid_filter")
    assert LONG not in body["error"]["message"]
    assert aws_calls == Counter()


@pytest.mark.parametrize("theme", ["shipping", "delivery-spee", "a" * 63, "0"])
def test_an_unknown_theme_is_400_unknown_theme_without_naming_it(client, headers, seeded, theme):
    status, body = get(client, f"/feedback?date={DATE}&theme={theme}", headers)

    assert (status, body["error"]["code"]) == (400, "unknown_theme")
    assert theme not in body["error"]["message"]
    assert "GET /themes" in body["error"]["message"]


def test_unknown_theme_reads_no_feedback(client, headers, seeded, aws_calls):
    get(client, f"/feedback?date={DATE}&theme=delivery", headers)  # the taxonomy is cached now
    aws_calls.clear()

    status, _ = get(client, f"/feedback?date={DATE}&theme=shipping", headers)

    assert status == 400
    assert aws_calls == Counter()


def test_without_a_taxonomy_every_theme_is_unknown(client, headers, stack):
    status, body = get(client, f"/feedback?date={DATE}&theme=delivery", headers)

    assert (status, body["error"]["code"]) == (400, "unknown_theme")


# --- pages --------------------------------------------------------------------------------------------------


# The channels `many` spreads its items over: a day listing reads a partition per channel a day holds.
MANY_CHANNELS = (Channel.FORM, Channel.TRUSTPILOT, Channel.ZENDESK, Channel.APP_STORE)


@pytest.fixture
def many(stack) -> list[str]:
    """60 items over three days and four channels, one in three about price (half NEGATIVE): the ids price
    must list."""
    taxonomy_records.replace(TAXONOMY)
    items, about_price = [], []
    for n in range(60):
        tags = [("price", "NEGATIVE" if n % 2 else "POSITIVE")] if n % 3 == 0 else [("delivery", "NEUTRAL")]
        item = tagged(f"item{n:02}", DAY + timedelta(hours=n), tags)
        items.append(item.model_copy(update={"channel": MANY_CHANNELS[n % len(MANY_CHANNELS)]}))
        if n % 3 == 0:
            about_price.append(f"item{n:02}")
    save(items)
    return about_price


def read_all(client, headers, query: str) -> tuple[list[str], list[int]]:
    """Every external id a listing returns, following next; and the size of each page."""
    seen, sizes, token = [], [], None
    while True:
        path = f"/feedback?{query}" + (f"&next={quote(token)}" if token else "")
        status, body = get(client, path, headers)
        assert status == 200, body
        seen += [item["external_id"] for item in body["items"]]
        sizes.append(len(body["items"]))
        token = body["next"]
        if token is None:
            return seen, sizes


@pytest.mark.parametrize("limit", [1, 2, 7, 500])
def test_a_themed_listing_pages_through_every_match_once(client, headers, many, limit):
    # Counted from the start, as a table `local provision` creates (a deployed stack: from its first day).
    assert counters.mark_complete_if_unset(counters.EVERY_DAY)

    seen, sizes = read_all(client, headers, f"from=2026-11-18&to=2026-11-21&theme=price&limit={limit}")

    assert sorted(seen) == sorted(many)
    assert len(seen) == len(set(seen))
    assert all(size <= limit for size in sizes)
    # The page size contract where no page spends its read budget: every page but the last is full.
    assert all(size == limit for size in sizes[:-1])


@pytest.mark.parametrize("limit", [1, 7, 500])
def test_a_themed_listing_of_days_not_known_counted_pages_through_every_match_once(
    client, headers, many, limit
):
    """Days before the counters' completeness mark may hold items stored before the counters existed, so a
    listing also reads their old-layout shards (8 a day, beside the 4 channels'; every channel's on the last,
    which has no counter item): 61 Queries for these four days, more than one page's budget (32), so a page
    may be short while `next` is set (README, "What a page costs"), but never holds a match twice or misses
    one, and the listing ends with `next: null`."""
    seen, sizes = read_all(client, headers, f"from=2026-11-18&to=2026-11-21&theme=price&limit={limit}")

    assert sorted(seen) == sorted(many)
    assert len(seen) == len(set(seen))
    assert all(size <= limit for size in sizes)


def test_theme_sentiment_pages_too(client, headers, many):
    seen, _ = read_all(client, headers, f"date={DATE}&theme=price&theme_sentiment=NEGATIVE&limit=2")
    negatives = [i for i in many if int(i[4:]) % 2 and i < "item15"]  # item00..item14 are on DAY

    assert sorted(seen) == negatives


def test_a_page_that_spent_its_read_budget_continues_with_a_cursor(client, headers, many, monkeypatch):
    monkeypatch.setattr(feedback_pages, "PAGE_ITEM_BUDGET", 4)

    seen, sizes = read_all(client, headers, "from=2026-11-18&to=2026-11-21&theme=price&limit=50")

    assert sorted(seen) == sorted(many)
    assert len(seen) == len(set(seen))
    assert max(sizes) < 50 and len(sizes) > 2  # short pages, and the cursor went on after them


def test_a_themed_cursor_is_valid_for_its_own_listing_only(client, headers, many):
    query = f"date={DATE}&theme=price&limit=1"
    _, first = get(client, f"/feedback?{query}", headers)
    token = quote(first["next"])

    for other in (
        f"date={DATE}&limit=1",
        f"date={DATE}&theme=delivery&limit=1",
        f"date={DATE}&theme=price&theme_sentiment=NEGATIVE&limit=1",
    ):
        status, body = get(client, f"/feedback?{other}&next={token}", headers)
        assert (status, body["error"]["code"]) == (400, "invalid_cursor"), other
    status, _ = get(client, f"/feedback?{query}&next={token}", headers)
    assert status == 200


def test_cursors_issued_before_theme_filters_existed_stay_valid(client, headers, many):
    """Listings without a theme keep the fingerprint they had, so cursors in flight over a deploy work."""
    day = datetime.fromisoformat(DATE).date()
    day_listing = cursors.fingerprint(days=[day, day], channel=None, sentiment=None, customer_id=None)
    customer_listing = cursors.fingerprint(customer=CUSTOMER, channel=None, sentiment=None, customer_id=None)
    day_token = cursors.issue({"day": 0, "shard": 1, "key": None}, day_listing)
    customer_key = {
        name: {"S": value}
        for name, value in {
            PK: "FEEDBACK#fb_" + "0" * 32,
            SK: "FEEDBACK",
            CUSTOMER_PK: f"CUSTOMER#{CUSTOMER}",
            CUSTOMER_SK: "FB#2026-11-18T09:00:00+00:00#fb_" + "0" * 32,
        }.items()
    }
    customer_token = cursors.issue({"key": customer_key}, customer_listing)

    assert get(client, f"/feedback?date={DATE}&next={quote(day_token)}", headers)[0] == 200
    assert get(client, f"/feedback?customer_id={CUSTOMER}&next={quote(customer_token)}", headers)[0] == 200
