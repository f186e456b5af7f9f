"""GET /stats, the dashboard's aggregates, through the API: per day and channel, the NPS, the newest
negatives, what it reads (the counters and the sparse index of negatives, never the per-day index), its
defaults and limits. Moved from test_web.py."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib import aws
from chalicelib.auth import tokens
from chalicelib.models import Channel, Sentiment
from chalicelib.read import stats
from chalicelib.read.routes import stats_days
from chalicelib.store import schema
from tests.test_export import save, stored

DAY1 = datetime(2026, 11, 18, 10, tzinfo=UTC)


@pytest.fixture
def read_token(stack):
    tokens.clear_cache()
    token, _ = tokens.create_token("dashboard", ["read"])
    yield {"Authorization": f"Bearer {token}"}
    tokens.clear_cache()


def _item(external_id: str, when: datetime, sentiment: Sentiment | None, channel: Channel, **fields):
    item = stored(external_id, when, **fields)
    return item.model_copy(update={"sentiment": sentiment, "channel": channel})


@pytest.fixture
def seeded_stats(stack):
    save(
        [
            _item("a", DAY1, Sentiment.POSITIVE, Channel.FORM, rating=10),
            _item(
                "b", DAY1 + timedelta(minutes=1), Sentiment.NEGATIVE, Channel.FORM, rating=2, text="Broken"
            ),
            _item("c", DAY1 + timedelta(minutes=2), Sentiment.NEUTRAL, Channel.SLACK, rating=8),
            _item("d", DAY1 + timedelta(days=2), Sentiment.NEGATIVE, Channel.SLACK, rating=None, text="Slow"),
            _item("e", DAY1 + timedelta(days=2, minutes=1), None, Channel.WEBHOOK, rating=None, text=""),
            _item("old", DAY1 - timedelta(days=1), Sentiment.NEGATIVE, Channel.FORM, text="Outside"),
        ]
    )


def test_stats_per_day_per_channel_nps_and_latest_negative(client, read_token, seeded_stats):
    response = client.http.get("/stats?from=2026-11-18&to=2026-11-20", headers=read_token)
    body = response.json_body

    assert response.status_code == 200, response.body
    assert body["total"] == 5
    assert [(d["date"], d["total"]) for d in body["days"]] == [
        ("2026-11-18", 3),
        ("2026-11-19", 0),
        ("2026-11-20", 2),
    ]
    first = body["days"][0]
    assert first["sentiment"] == {"POSITIVE": 1, "NEUTRAL": 1, "MIXED": 0, "NEGATIVE": 1, "NONE": 0}
    assert first["nps"] == {"score": 0.0, "responses": 3, "promoters": 1, "passives": 1, "detractors": 1}
    assert body["days"][1]["nps"]["score"] is None
    assert body["days"][2]["sentiment"]["NONE"] == 1
    assert [(c["channel"], c["total"]) for c in body["channels"]] == [
        ("form", 2),
        ("slack", 2),
        ("webhook", 1),
    ]
    assert [n["text"] for n in body["latest_negative"]] == ["Slow", "Broken"]  # newest first
    assert body["latest_negative"][0]["channel"] == "slack"
    # And the form or source each came through (`sources` names it).
    expected = [stored(i, w).source_id for i, w in (("d", DAY1 + timedelta(days=2)), ("b", DAY1))]
    assert [n["source_id"] for n in body["latest_negative"]] == expected
    assert body["sentiment"]["NEGATIVE"] == 2


def test_stats_reads_counters_and_the_negatives_index_never_the_day_index(client, read_token, seeded_stats):
    calls: list[dict] = []
    dynamodb = aws.client("dynamodb")

    def record(params: dict, **kwargs) -> None:
        calls.append(params)

    # The token's first use is stamped (auth/tokens.py note_use): done before counting, as in any later hour;
    # its record is read again.
    client.http.get("/themes", headers=read_token)
    tokens.TOKENS.clear_cache()
    dynamodb.meta.events.register("provide-client-params.dynamodb.*", record)
    operations: Counter[str] = Counter()
    dynamodb.meta.events.register(
        "before-call.dynamodb.*", lambda event_name, **kw: operations.update([event_name.rsplit(".", 1)[1]])
    )
    client.http.get("/stats?from=2026-11-18&to=2026-11-19", headers=read_token)

    # GetItem: the token record, once; BatchGetItem: the counters, then the newest negatives; Query: their
    # keys, in the sparse index of negatives (never the per-day index), and the forms' and sources' names
    # (their config records, once per cache window).
    assert operations == {"GetItem": 1, "BatchGetItem": 2, "Query": 3}
    assert [c.get("IndexName") for c in calls if "IndexName" in c] == [schema.NEGATIVE_INDEX]
    named = [
        c["ExpressionAttributeValues"][":kind"]["S"]
        for c in calls
        if "IndexName" not in c and "KeyConditionExpression" in c
    ]
    assert sorted(named) == ["FORM", "SOURCE"]

    operations.clear()
    client.http.get("/stats?from=2026-11-18&to=2026-11-19", headers=read_token)
    assert operations["Query"] == 1  # the names come from the cache


def test_stats_defaults_and_limits(client, read_token):
    today = date(2026, 11, 22)
    assert stats_days(None, None, today)[0] == date(2026, 10, 24)
    assert stats_days(None, None, today)[-1] == today
    assert stats_days(date(2026, 11, 1), None, today)[-1] == today  # `to` defaults to today, as documented

    bad = client.http.get("/stats?from=yesterday", headers=read_token)
    backwards = client.http.get("/stats?from=2026-11-20&to=2026-11-18", headers=read_token)
    too_long = client.http.get("/stats?from=2026-01-01&to=2026-11-18", headers=read_token)
    anonymous = client.http.get("/stats", headers={"Authorization": "Bearer nope"})

    assert [r.status_code for r in (bad, backwards, too_long)] == [400, 400, 400]
    assert {r.json_body["error"]["code"] for r in (bad, backwards, too_long)} == {"invalid_date"}
    assert anonymous.status_code == 401


def test_nps_tally():
    tally = stats.Nps()
    for rating in (10, 9, 8, 7, 6, 0):
        tally.add(rating)

    assert tally.as_json() == {"score": 0.0, "responses": 6, "promoters": 2, "passives": 2, "detractors": 2}
    assert stats.Nps().as_json()["score"] is None
