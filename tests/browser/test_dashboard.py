"""The dashboard in Chromium: the token kept in sessionStorage, charts for seeded data read back from the
DOM (data attributes on the SVG elements), the date-range filter and the customer profile link."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import save_screenshot
from tests.browser.seed import CUSTOMER_EMAIL, CUSTOMER_NAME, FROM, SEED, TO, expected_nps

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
    dates = [FROM + timedelta(days=n) for n in range((TO - FROM).days + 1)]
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
    expect(page.locator("svg[data-chart=days] g.day")).to_have_count((TO - FROM).days + 1)
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
