"""The dashboard as a product manager opens it every morning, in Chromium: the latest feedback first in the
list of items, the last 7, 30 or 90 days a click away (and in the address), numbers as the reader's locale
writes them, sources and forms by their names, and a page that asks for nothing it does not have."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import today
from tests.browser.seed import FROM, NAMED_SOURCE, SEED, TO
from tests.browser.test_dashboard import dashboard_url, seeded  # noqa: F401  (the package's seeded stack)
from tests.browser.test_dashboard_navigation import loaded, query

CONFIG_CACHE_SECONDS = 60  # chalicelib/config.py's default, which the local stack keeps


def test_the_list_of_items_shows_the_newest_first(page, local_stack, seeded):  # noqa: F811
    page.goto(dashboard_url(local_stack, token=local_stack.read_token))
    loaded(page, FROM, TO)
    feed = page.locator("#items-feed > li")
    expect(feed).to_have_count(len(SEED))

    # Each item's meta line starts with when it was stored, to the minute ("2026-01-08 09:11 UTC · …").
    times = [text[:16] for text in feed.locator(".meta").all_inner_texts()]

    assert times == sorted(times, reverse=True)
    assert times[0].startswith(max(row[0] for row in SEED).isoformat())
    assert len({row[1] for row in SEED if row[0] == max(row[0] for row in SEED)}) > 1  # channels merged


def test_date_presets_live_in_the_address_and_the_custom_range_stays(page, local_stack, seeded):  # noqa: F811
    end = date.fromisoformat(today())
    page.goto(dashboard_url(local_stack, token=local_stack.read_token))
    loaded(page, FROM, TO)

    page.get_by_role("button", name="Last 7 days").click()
    loaded(page, end - timedelta(days=6), end)
    assert query(page)["period"] == ["7d"] and "from" not in query(page)  # a link opened tomorrow: its 7 days
    expect(page.get_by_role("button", name="Last 7 days")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_label("From", exact=True)).to_have_value((end - timedelta(days=6)).isoformat())

    page.go_back()
    loaded(page, FROM, TO)
    expect(page.get_by_role("button", name="Last 7 days")).to_have_attribute("aria-pressed", "false")

    page.goto(local_stack.api + "/dashboard?period=90d&channel=x")  # a shared link
    loaded(page, end - timedelta(days=89), end)
    expect(page.get_by_role("button", name="Last 90 days")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_label("Channel", exact=True)).to_have_value("x")

    page.get_by_label("From", exact=True).fill(FROM.isoformat())  # a custom range replaces the preset
    page.get_by_label("To", exact=True).fill(TO.isoformat())
    page.get_by_role("button", name="Apply").click()
    loaded(page, FROM, TO)
    assert "period" not in query(page) and query(page)["from"] == [FROM.isoformat()]
    expect(page.locator("[data-period][aria-pressed=true]")).to_have_count(0)


def _inflated(route) -> None:
    """/stats as the API answers it, with a total a reader needs grouped."""
    response = route.fetch()
    body = response.json()
    body["total"] = 1234567
    route.fulfill(response=response, json=body)


@pytest.mark.parametrize(("locale", "shown"), [("en-US", "1,234,567"), ("de-DE", "1.234.567")])
def test_numbers_follow_the_readers_locale(new_context, local_stack, seeded, locale, shown):  # noqa: F811
    page = new_context(locale=locale).new_page()
    page.route(re.compile(r"/stats\?"), _inflated)
    page.goto(dashboard_url(local_stack, token=local_stack.read_token))
    loaded(page, FROM, TO)

    expect(page.locator("[data-card=total] .value")).to_have_text(shown)
    expect(page.locator("[data-card=total]")).to_have_attribute("data-value", "1234567")  # machine-readable
    expect(page.locator("#status")).to_contain_text(shown)


def test_sources_and_forms_show_by_name(page, local_stack, seeded):  # noqa: F811
    source_id, name = NAMED_SOURCE
    row = page.locator(f"#source-table tr[data-source='{source_id}']")
    page.goto(dashboard_url(local_stack, token=local_stack.read_token))
    # The API reads configurations through its cache (CONFIG_CACHE_SECONDS, 60 s): a source the seed added
    # after the stack listed its sources is named once that list is read again.
    deadline = time.monotonic() + CONFIG_CACHE_SECONDS + 15
    while True:
        loaded(page, FROM, TO)
        if row.get_by_role("button", name=name).count() or time.monotonic() > deadline:
            break
        time.sleep(5)
        page.reload()
    expect(row.get_by_role("button", name=name)).to_be_visible()
    option = page.locator(f"#f-source option[value='{source_id}']")
    expect(option).to_have_text(name)
    named_items = page.locator("#items-feed > li .meta", has_text=name)
    expect(named_items).to_have_count(sum(1 for row in SEED if f"seed-{row[1]}" == source_id))
    # The latest negatives name theirs too.
    of_source = [sentiment for _, channel, sentiment, *_ in SEED if f"seed-{channel}" == source_id]
    negative = sum(1 for sentiment in of_source if sentiment and sentiment.value == "NEGATIVE")
    assert negative, "the seed has a negative from the named source"
    expect(page.locator("#negatives li .meta bdi.source", has_text=name)).to_have_count(negative)

    page.get_by_label("Form or source", exact=True).select_option(source_id)
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#slice-note")).to_contain_text(name)


def test_the_page_asks_for_nothing_it_does_not_have(page, local_stack, seeded):  # noqa: F811
    failed: list[str] = []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    page.on("console", lambda message: failed.append(message.text) if message.type == "error" else None)
    page.goto(dashboard_url(local_stack, token=local_stack.read_token))
    loaded(page, FROM, TO)
    page.wait_for_load_state("networkidle")

    assert page.locator("link[rel=icon]").count() == 1
    assert failed == []


def _one_long_comment(route) -> None:
    """/feedback as the API answers it, its first item's comment 3,000 characters long."""
    response = route.fetch()
    body = response.json()
    if body["items"]:
        body["items"][0]["text"] = "The checkout page froze again. " * 100
    route.fulfill(response=response, json=body)


def test_a_long_comment_shows_its_first_lines_until_asked(page, local_stack, seeded):  # noqa: F811
    page.route(re.compile(r"/feedback\?"), _one_long_comment)
    page.goto(dashboard_url(local_stack, token=local_stack.read_token))
    loaded(page, FROM, TO)
    first = page.locator("#items-feed > li").first
    text = first.locator(".text")
    expect(text).to_contain_text("froze again")
    line = float(text.evaluate("e => parseFloat(getComputedStyle(e).lineHeight) || 20"))

    folded = text.bounding_box()
    assert folded and folded["height"] <= 7 * line  # a few lines, not a screenful
    first.get_by_role("button", name="Show the whole comment").click()
    expect(first.get_by_role("button", name="Show less")).to_have_attribute("aria-expanded", "true")
    unfolded = text.bounding_box()
    assert unfolded and unfolded["height"] > 3 * folded["height"]
    short = page.locator("#items-feed > li").nth(1)
    expect(short.get_by_role("button")).to_have_count(0)  # a short comment has nothing to unfold
