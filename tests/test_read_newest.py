"""GET /feedback?order=newest (the dashboard's list of items): every page followed lists exactly the items the
oldest-first listing lists, newest first across days and across a day's channel partitions, with filters and
when a page's read budget cuts a day's partitions short; a bad `order` is a JSON 400."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.store import feedback_pages
from tests.test_openapi import validated
from tests.test_read_filters import DAYS, _all_items, api, bare  # noqa: F401  (the seeded API fixtures)


def _every_page(client, headers, schema, query: dict[str, str]) -> list[str]:
    ids: list[str] = []
    token = None
    for _ in range(500):
        path = "/feedback?" + urlencode({**query, **({"next": token} if token else {})})
        response = client.get(path, headers=headers)
        body = validated(schema, "/feedback", "GET", response)
        assert response.status_code == 200, body
        ids += [item["feedback_id"] for item in body["items"]]
        token = body["next"]
        if token is None:
            return ids
    raise AssertionError("the listing never ended")


def _newest_first(keeps: Any) -> list[str]:
    matching = [item for item in _all_items() if keeps(item)]
    return [item.feedback_id for item in sorted(matching, key=feedback_pages.day_sort_key, reverse=True)]


SPAN = {"from": DAYS[0].isoformat(), "to": DAYS[-1].isoformat(), "order": "newest"}


CASES: list[tuple[dict[str, str], Any]] = [
    ({"limit": "7"}, lambda item: True),
    ({"limit": "1"}, lambda item: True),
    ({"limit": "5", "sentiment": "NEGATIVE"}, lambda item: item.sentiment == "NEGATIVE"),
    ({"limit": "3", "q": "broken"}, lambda item: "broken" in (item.text or "").lower()),
]


def test_newest_first_lists_every_item_once_in_the_order_they_were_stored(api):  # noqa: F811
    client, headers, schema = api
    assert len({item.channel for item in _all_items()}) > 1  # a day's partitions merged, not listed in turn
    for query, keeps in CASES:
        expected = _newest_first(keeps)

        listed = _every_page(client, headers, schema, {**SPAN, **query})

        assert expected and listed == expected, query


def test_a_page_whose_budget_cuts_a_day_short_resumes_where_every_partition_was_read(api, monkeypatch):  # noqa: F811
    client, headers, schema = api
    monkeypatch.setattr(feedback_pages, "PAGE_ITEM_BUDGET", 12)
    monkeypatch.setattr(feedback_pages, "PAGE_QUERY_BUDGET", 6)

    listed = _every_page(client, headers, schema, {**SPAN, "limit": "10", "language": "es"})

    assert listed == _newest_first(lambda item: item.language == "es")


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ({"order": "latest"}, "order must be one of oldest, newest"),
        ({"order": "oldest", "customer_id": "cus_" + "0" * 24}, "newest first"),
    ],
)
def test_a_bad_order_is_a_json_400(bare, query, fragment):  # noqa: F811
    client, headers, schema = bare

    response = client.get("/feedback?" + urlencode(query), headers=headers)

    body = validated(schema, "/feedback", "GET", response)
    assert response.status_code == 400
    assert body["error"]["code"] == "invalid_filter" and fragment in body["error"]["message"]
