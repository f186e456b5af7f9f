"""The dashboard's filters, scores and drill-down in Chromium at 320 px, 768 px and desktop width: every
filter lists exactly the seeded items it selects and lives in the address (a reload restores it), a day, a
channel and a form open the items behind them with their customer's profile, the score cards show the
seed's NPS, and every new control has an accessible name, a 24 px target and fits the viewport."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import save_screenshot
from tests.browser.seed import CUSTOMER_NAME, SEED, THEMES, expected_nps
from tests.browser.test_dashboard import dashboard_url, seeded  # noqa: F401  (the package's seeded stack)

WIDTHS = {"phone": 320, "tablet": 768, "desktop": 1280}
MIN_TARGET_PX = 24  # WCAG 2.2 SC 2.5.8, as the widget's checks use
# Seed rows: (day, channel, sentiment, rating, text, by the known customer); the source is seed-<channel>.
Row = tuple[date, Any, Any, int | None, str, bool]
PARENTS = {"support-response": "support"}

FILTERS: list[tuple[str, str, str, Callable[[Row], bool]]] = [
    ("Form or source", "source", "seed-slack", lambda r: r[1].value == "slack"),
    ("Channel", "channel", "x", lambda r: r[1].value == "x"),
    ("Sentiment", "sentiment", "NEGATIVE", lambda r: r[2] is not None and r[2].value == "NEGATIVE"),
    (
        "Theme",
        "theme",
        "support",
        lambda r: any("support" in (t, PARENTS.get(t)) for t, *_ in THEMES.get(r[4], [])),
    ),
    ("Rating", "rating", "nps:promoter", lambda r: r[3] is not None and r[3] >= 9),
    ("Language", "language", "en", lambda r: True),
    ("Search comments", "q", "SUPPORT", lambda r: "support" in r[4].lower()),
]


# A list of the seeded week reads 8 day shards a day: under load its pages may take a while.
LIST_TIMEOUT_MS = 30_000


def listed(page, count: int) -> list[str]:
    """The texts of the listed items, once the list says it holds all `count` of them."""
    status = re.compile(rf"^{count} feedback items?\.$")
    expect(page.locator("#items-status")).to_have_text(status, timeout=LIST_TIMEOUT_MS)
    return sorted(page.locator("#items-feed li .text").all_text_contents())


def texts(keep: Callable[[Row], bool]) -> list[str]:
    return sorted(row[4] or "(no text)" for row in SEED if keep(row))


def open_board(new_context, local_stack, width: int, query: str = ""):
    page = new_context(viewport={"width": width, "height": 900}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(dashboard_url(local_stack, token=local_stack.read_token).replace("#", query + "#"))
    expect(page.locator("svg[data-chart=days]")).to_be_visible()
    return page, errors


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_every_filter_lists_its_items_and_lives_in_the_address(new_context, local_stack, seeded, width):  # noqa: F811
    page, errors = open_board(new_context, local_stack, width)
    listed(page, len(SEED))

    for label, name, value, keep in FILTERS:
        field = page.get_by_label(label, exact=True)
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
        page.get_by_role("button", name="Apply").click()

        assert texts(keep), f"the seed has nothing for {name}: the case tests nothing"
        assert listed(page, len(texts(keep))) == texts(keep), name
        assert parse_qs(urlsplit(page.url).query)[name] == [value]
        page.reload()  # restored from the address
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
        listed(page, len(texts(keep)))
        page.get_by_role("button", name="Clear filters").click()
        listed(page, len(SEED))
    assert not errors, errors


def test_filters_combine(page, local_stack, seeded):  # noqa: F811
    query = "&channel=form&sentiment=NEGATIVE&q=took"
    page.goto(dashboard_url(local_stack, token=local_stack.read_token).replace("#", query + "#"))

    assert listed(page, 1) == ["Refund took <b>weeks</b> & nobody called"]
    # The figures are cut by the first counted dimension only, and say so.
    expect(page.locator("#slice-note")).to_contain_text("channel form")
    expect(page.locator("#slice-note")).to_contain_text("sentiment, q")
    save_screenshot(page.locator("#filters"), "dashboard-filters.png")
    save_screenshot(page.locator("#items"), "dashboard-items.png")
    form_items = [row for row in SEED if row[1].value == "form"]
    expect(page.locator("[data-card=total]")).to_have_attribute("data-value", str(len(form_items)))


def test_scores_show_the_seeded_ratings(page, local_stack, seeded):  # noqa: F811
    page.goto(dashboard_url(local_stack, token=local_stack.read_token))
    ratings = [row[3] for row in SEED if row[3] is not None]

    card = page.locator("[data-card=nps-score]")
    expect(card).to_have_attribute("data-responses", str(len(ratings)))
    assert float(card.get_attribute("data-value")) == expected_nps(ratings)
    promoters = sum(r >= 9 for r in ratings)
    expect(card.locator(".detail")).to_contain_text(f"{promoters} promoters")
    expect(page.locator("[data-card=csat]")).to_have_attribute("data-responses", "0")
    # One row per form and source: no longer lumped under the channel "form".
    rows = page.locator("#source-table tbody tr")
    expect(rows).to_have_count(len({row[1] for row in SEED}))


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_drill_down_from_a_day_a_channel_and_a_form_to_the_items_and_a_profile(
    new_context,
    local_stack,
    seeded,  # noqa: F811
    width,
):
    page, errors = open_board(new_context, local_stack, width)
    day = max(row[0] for row in SEED)

    page.locator(f"svg[data-chart=days] g.day[data-date='{day}']").click()
    expect(page.locator("#items-title")).to_be_focused()
    assert listed(page, len(texts(lambda r: r[0] == day))) == texts(lambda r: r[0] == day)
    assert parse_qs(urlsplit(page.url).query)["from"] == [day.isoformat()]

    page.get_by_role("button", name="Clear filters").click()
    page.get_by_label("From", exact=True).fill(min(row[0] for row in SEED).isoformat())
    page.get_by_role("button", name="Apply").click()
    page.locator("svg[data-chart=channels] g.channel[data-channel=slack]").press("Enter")  # keyboard too
    assert listed(page, len(texts(lambda r: r[1].value == "slack"))) == texts(lambda r: r[1].value == "slack")

    page.get_by_role("button", name="Clear filters").click()
    page.locator("#source-table").get_by_role("button", name="seed-webhook").click()
    listed(page, 1)
    page.locator("#items-feed").get_by_role("link", name=f"{CUSTOMER_NAME} — customer profile").click()
    expect(page.get_by_role("heading", name=CUSTOMER_NAME)).to_be_visible()
    assert not errors, errors


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_the_new_controls_are_named_large_enough_and_fit(new_context, local_stack, seeded, width):  # noqa: F811
    page, errors = open_board(new_context, local_stack, width)
    expect(page.locator("#items-feed li").first).to_be_visible()

    for label, *_ in FILTERS:
        expect(page.get_by_label(label, exact=True)).to_be_visible()
    controls = page.locator(
        "#filters select, #filters input, #filters button, #source-table button, "
        "svg[data-chart] [role=button], #items-feed a"
    )
    assert controls.count() > 10
    for control in controls.all():
        name = control.evaluate(
            "e => e.getAttribute('aria-label') || (e.labels && e.labels[0] && e.labels[0].textContent)"
            " || e.textContent"
        )
        assert name and name.strip(), control.evaluate("e => e.outerHTML")
        box = control.bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0, name
        # Links inside text are exempt from the target size (WCAG 2.5.8 "inline"); form controls are not.
        if control.evaluate("e => e.tagName") in ("SELECT", "INPUT", "BUTTON"):
            assert min(box["width"], box["height"]) >= MIN_TARGET_PX, (name, box)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    wide = page.evaluate(
        "() => [...document.querySelectorAll('main *')].filter((e) => e.getBoundingClientRect().right >"
        " window.innerWidth + 1).slice(0, 8).map((e) => e.tagName + '#' + e.id)"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px: {wide}"
    assert not errors, errors


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_download_csv_of_the_filtered_list(new_context, local_stack, seeded, width):  # noqa: F811
    page, errors = open_board(new_context, local_stack, width, "&channel=form&q=t")
    keep = [row for row in SEED if row[1].value == "form" and "t" in row[4].lower()]
    listed(page, len(keep))

    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")

    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert sorted(row["text"] for row in rows) == sorted(row[4] for row in keep)
    assert {row["channel"] for row in rows} == {"form"}
    assert download.value.suggested_filename.endswith(".csv")
    expect(page.locator("#download-status")).to_have_text("CSV downloaded.")
    # The day's nightly files need the export scope, which the dashboard's read token lacks: it says so.
    page.get_by_role("button", name="Nightly export files of the last day").click()
    expect(page.locator("#download-status")).to_contain_text("No export files of")
    assert not errors, errors


def test_a_form_page_shows_its_responses_and_scores(page, local_stack, seeded):  # noqa: F811
    form_rows = [row for row in SEED if row[1].value == "form"]
    page.goto(dashboard_url(local_stack, token=local_stack.read_token))
    expect(page.locator("svg[data-chart=days]")).to_be_visible()
    page.goto(dashboard_url(local_stack) + "#form=seed-form")  # the token stays in the tab

    expect(page.get_by_role("heading", name="Form seed-form")).to_be_visible()
    assert listed(page, len(form_rows)) == texts(lambda r: r[1].value == "form")
    expect(page.get_by_label("Form or source", exact=True)).to_have_value("seed-form")
    card = page.locator("[data-card=nps-score]")
    ratings = [row[3] for row in form_rows if row[3] is not None]
    expect(card).to_have_attribute("data-responses", str(len(ratings)))
    assert float(card.get_attribute("data-value")) == expected_nps(ratings)
    expect(page.locator("svg[data-chart=nps] circle")).to_have_count(len({r[0] for r in form_rows if r[3]}))
    save_screenshot(page, "dashboard-form.png", full_page=True)


def test_a_link_with_a_form_and_a_token_opens_the_forms_page(new_context, local_stack, seeded):  # noqa: F811
    # The token was taken from "#form=…&token=…" but the whole hash went with it: the board of every source.
    page = new_context().new_page()
    page.goto(dashboard_url(local_stack) + f"#form=seed-form&token={local_stack.read_token}")

    expect(page.get_by_role("heading", name="Form seed-form")).to_be_visible()
    expect(page.get_by_label("Form or source", exact=True)).to_have_value("seed-form")
    assert urlsplit(page.url).fragment == "form=seed-form"  # the token left the address bar
