"""The dashboard in Chromium: the token kept in sessionStorage, charts for seeded data read back from the
DOM (data attributes on the SVG elements), the date-range filter, the customer profile link, and the top
themes with their feedback."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ROOT, save_screenshot
from tests.browser.seed import (
    CUSTOMER_EMAIL,
    CUSTOMER_NAME,
    EARLIER,
    FROM,
    SEED,
    THEMES,
    TO,
    expected_nps,
)

TOKEN_KEY = "feedback-dashboard:token"


@pytest.fixture(scope="package")
def seeded(local_stack) -> str:
    """The seeded days in the running stack; returns the known customer's id."""
    result = local_stack.run_module("tests.browser.seed", str(local_stack.moto_port))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def dashboard_url(local_stack, start=FROM, end=TO, token: str | None = None) -> str:
    url = f"{local_stack.api}/dashboard?from={start.isoformat()}&to={end.isoformat()}"
    return url + (f"#token={token}" if token else "")


def data(locator, *names: str) -> list[tuple[str, ...]]:
    """The given data attributes of every element the locator finds."""
    return [
        tuple(element.get_attribute(f"data-{name}") for name in names)
        for element in locator.element_handles()
    ]


def test_dashboard_plots_the_seeded_figures(page, local_stack, seeded):
    page.goto(dashboard_url(local_stack, token=local_stack.read_token))
    days_chart = page.locator("svg[data-chart=days]")
    expect(days_chart).to_be_visible()
    # The token left the address bar and lives in this tab's sessionStorage.
    assert "token" not in page.url
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") == local_stack.read_token

    per_day = Counter(day for day, *_ in SEED)
    # The axis spans the days with data (little data: no lone bars on a long axis), the gaps between included.
    first, last = min(per_day), max(per_day)
    assert (first, last) != (FROM, TO)
    dates = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    assert data(days_chart.locator("g.day"), "date", "total") == [
        (d.isoformat(), str(per_day[d])) for d in dates
    ]
    assert days_chart.get_attribute("data-total") == str(len(SEED))
    segments: Counter[str] = Counter()
    for sentiment, count in data(days_chart.locator("rect"), "sentiment", "count"):
        segments[sentiment] += int(count)
    assert segments == Counter((s.value if s else "NONE") for _, _, s, *_ in SEED)
    first_day = days_chart.locator(f"g.day[data-date='{FROM + timedelta(days=1)}'] rect")
    assert sorted(data(first_day, "sentiment", "count")) == [
        ("MIXED", "1"),
        ("NEGATIVE", "1"),
        ("NEUTRAL", "1"),
        ("POSITIVE", "2"),
    ]

    channels = Counter(channel.value for _, channel, *_ in SEED)
    plotted = data(page.locator("svg[data-chart=channels] g.channel"), "channel", "total")
    assert dict(plotted) == {channel: str(n) for channel, n in channels.items()}
    assert [int(total) for _, total in plotted] == sorted(channels.values(), reverse=True)

    ratings: defaultdict[str, list[int]] = defaultdict(list)
    for day, _, _, rating, *_ in SEED:
        if rating is not None:
            ratings[day.isoformat()].append(rating)
    points = data(page.locator("svg[data-chart=nps] circle"), "date", "nps", "responses")
    assert [(d, float(nps), int(n)) for d, nps, n in points] == [
        (d, expected_nps(r), len(r)) for d, r in sorted(ratings.items())
    ]
    all_ratings = [rating for ratings_of_day in ratings.values() for rating in ratings_of_day]
    expect(page.locator("[data-card=total]")).to_have_attribute("data-value", str(len(SEED)))
    nps_card = page.locator("[data-card=nps]")
    assert float(nps_card.get_attribute("data-value")) == expected_nps(all_ratings)

    # Counts per channel, and the newest negative feedback first, text shown as text.
    expect(page.locator("#channel-table tbody tr")).to_have_count(len(channels))
    negatives = [text for _, _, s, _, text, _ in SEED if s and s.value == "NEGATIVE"]
    expect(page.locator("#negatives li .text")).to_have_text(list(reversed(negatives)))
    assert page.locator("#negatives b").count() == 0
    # Each says where it came from: its source (named once the API's config cache has the name:
    # test_dashboard_morning.py).
    newest_first = reversed(SEED)
    sources = [(f"seed-{channel}",) for _, channel, s, *_ in newest_first if s and s.value == "NEGATIVE"]
    assert data(page.locator("#negatives li .meta bdi.source"), "source") == sources
    save_screenshot(page, "dashboard.png", full_page=True)

    # The newest negative from a known customer links to the profile.
    page.get_by_role("link", name=f"{CUSTOMER_NAME} — customer profile").first.click()
    expect(page.get_by_role("heading", name=CUSTOMER_NAME)).to_be_visible()
    assert page.url.endswith(f"#customer={seeded}")
    expect(page.locator("#customer-body")).to_contain_text(CUSTOMER_EMAIL)
    page.get_by_role("link", name="← Back to the dashboard").click()
    expect(days_chart).to_be_visible()


def test_date_range_filter(page, local_stack, seeded):
    page.goto(dashboard_url(local_stack, token=local_stack.read_token))
    seeded_days = {day for day, *_ in SEED}
    expect(page.locator("svg[data-chart=days] g.day")).to_have_count(
        (max(seeded_days) - min(seeded_days)).days + 1
    )
    last = max(day for day, *_ in SEED)

    page.get_by_label("From", exact=True).fill(last.isoformat())
    page.get_by_label("To", exact=True).fill(last.isoformat())
    page.get_by_role("button", name="Apply").click()

    expect(page.locator("svg[data-chart=days] g.day")).to_have_count(1)
    expect(page.locator("svg[data-chart=days]")).to_have_attribute(
        "data-total", str(sum(1 for day, *_ in SEED if day == last))
    )
    assert f"from={last}&to={last}" in page.url  # a shareable view


def test_token_is_asked_once_per_tab_and_a_wrong_one_is_refused(new_context, local_stack, seeded):
    page = new_context().new_page()
    page.goto(dashboard_url(local_stack))
    token_field = page.get_by_label("Read token")
    expect(token_field).to_be_focused()

    token_field.fill("fbk_000000000000_" + "x" * 43)
    token_field.press("Enter")
    expect(page.locator("#token-error")).to_contain_text("not accepted")

    page.get_by_label("Read token").fill(local_stack.read_token)
    page.get_by_role("button", name="Open dashboard").click()
    expect(page.locator("svg[data-chart=days]")).to_be_visible()
    page.reload()  # kept for the tab: no second prompt
    expect(page.locator("svg[data-chart=days]")).to_be_visible()
    expect(page.get_by_label("Read token")).to_be_hidden()

    page.get_by_role("button", name="Forget token").click()
    expect(page.get_by_label("Read token")).to_be_visible()
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None


def theme_figures() -> tuple[dict[str, tuple[int, int, int]], dict[str, str | None], dict[str, str]]:
    """Per theme (items, negative items, items the week before), each parent counting its sub-themes'
    items once, computed from the seed and the starter taxonomy; and each theme's parent and name."""
    starter = json.loads(Path(ROOT, "chalicelib/themes/starter.json").read_text(encoding="utf-8"))
    parent = {theme["id"]: theme.get("parent") for theme in starter["themes"]}
    names = {theme["id"]: theme["name"] for theme in starter["themes"]}
    now: Counter[str] = Counter()
    negative: Counter[str] = Counter()
    before: Counter[str] = Counter()
    periods = [(now, THEMES.get(text, [])) for _, _, _, _, text, _ in SEED]
    periods += [(before, themes) for _, _, themes in EARLIER]
    for counter, themes in periods:
        about: dict[str, set[str]] = defaultdict(set)
        for theme, sentiment, _ in themes:
            for matched in {theme, parent[theme]} - {None}:
                about[matched].add(sentiment.value)
        for theme, sentiments in about.items():
            counter[theme] += 1
            negative[theme] += counter is now and "NEGATIVE" in sentiments
    figures = {theme: (now[theme], negative[theme], before[theme]) for theme in set(now) | set(before)}
    return figures, parent, names


def test_top_themes_and_their_feedback(page, local_stack, seeded):
    figures, parent, names = theme_figures()
    page.goto(dashboard_url(local_stack, token=local_stack.read_token))
    rows = page.locator("#theme-table tbody tr")
    expect(rows.first).to_be_visible()

    # Top-level themes by volume (ties: more the week before first, then by id), each with its sub-themes.
    rank = sorted(figures, key=lambda theme: (-figures[theme][0], -figures[theme][2], theme))
    order = [t for top in rank if not parent[top] for t in [top, *(c for c in rank if parent[c] == top)]]
    shown = data(rows, "theme", "total", "negative-share", "previous", "change")
    assert [theme for theme, *_ in shown] == order
    for theme, total, share, previous, change in shown:
        items, negatives, before = figures[theme]
        assert (int(total), int(previous), int(change)) == (items, before, items - before), theme
        assert float(share) == round(negatives / items, 3), theme
    support = page.locator("#theme-table tr[data-theme=support]")
    expect(support.locator("td").nth(2)).to_have_text("67 %")
    expect(page.locator("#theme-table tr[data-theme=checkout] td").last).to_have_text(
        "\u22122 (\u221266.7 %)"
    )  # minus signs
    expect(page.locator("#theme-table tr[data-theme=app] td").last).to_have_text("+3 (new)")

    # A theme lists its feedback, its sub-themes' included, text shown as text.
    about_support = [
        text
        for _, _, _, _, text, _ in SEED
        if any("support" in (theme, parent[theme]) for theme, *_ in THEMES.get(text, []))
    ]
    page.get_by_role("button", name=names["support"], exact=True).click()
    feed = page.locator("#theme-feed li .text")
    expect(feed).to_have_count(len(about_support))
    assert sorted(feed.all_text_contents()) == sorted(about_support)
    assert page.locator("#theme-feed b").count() == 0
    refund = page.locator("#theme-feed li", has_text="Refund took")
    expect(refund.locator(".evidence")).to_have_text(
        [f"{names['support-response']} · Negative — “nobody called”"]
    )
    save_screenshot(page.locator("section.themes"), "dashboard-themes.png")
    expect(page.locator("#theme-status")).to_have_text(
        f"{len(about_support)} feedback items about {names['support']}."
    )

    page.get_by_role("button", name=names["checkout"], exact=True).click()
    expect(page.locator("#theme-items")).to_have_attribute("data-theme", "checkout")
    expect(feed).to_have_text(["Checkout kept failing"])

    # Another range: the panel follows, the listing of the old range closes.
    last = max(day for day, *_ in SEED)
    page.get_by_label("From", exact=True).fill(last.isoformat())
    page.get_by_label("To", exact=True).fill(last.isoformat())
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#theme-items")).to_be_hidden()
    on_last_day = {
        theme
        for day, _, _, _, text, _ in SEED
        if day == last
        for tagged, *_ in THEMES.get(text, [])
        for theme in {tagged, parent[tagged]} - {None}
    }
    expect(rows).to_have_count(len(on_last_day))
