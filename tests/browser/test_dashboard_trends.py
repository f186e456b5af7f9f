"""The dashboard's CSAT and stars trends, a form's own themes and the theme filter in Chromium: the points
plotted per day are the seed's (computed here from the seed, not from the API), each chart is named by its
caption and each point by its title, a form's page lists only its own themes (and their items), and a theme
chosen in the filters cuts the figures the counters can cut and names the rest."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import save_screenshot
from tests.browser.seed import RATED, RATED_FROM, RATED_TO, SEED, THEMES
from tests.browser.test_dashboard import dashboard_url, data, seeded, theme_figures  # noqa: F401
from tests.browser.test_dashboard_filters import WIDTHS, listed, open_board

RATED_FORM = "seed-ratings"


def expected_trends() -> tuple[list[tuple[str, float, int]], list[tuple[str, float, int]]]:
    """Per rated day (date, CSAT % rated 4-5, responses) and (date, stars mean, responses)."""
    csat: defaultdict[date, list[int]] = defaultdict(list)
    stars: defaultdict[date, list[int]] = defaultdict(list)
    for day, scale, rating, _ in RATED:
        (csat if scale.value == "csat" else stars)[day].append(rating)
    satisfied = [(d, round(100 * sum(r >= 4 for r in rs) / len(rs), 1), len(rs)) for d, rs in csat.items()]
    means = [(d, round(sum(rs) / len(rs), 2), len(rs)) for d, rs in stars.items()]
    return (
        [(d.isoformat(), value, n) for d, value, n in sorted(satisfied)],
        [(d.isoformat(), value, n) for d, value, n in sorted(means)],
    )


def plotted(page, chart: str) -> list[tuple[str, float, int]]:
    points = data(page.locator(f"svg[data-chart={chart}] circle"), "date", chart, "responses")
    return [(d, float(value), int(n)) for d, value, n in points]


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_csat_and_stars_are_drawn_per_day_named_and_readable(new_context, local_stack, seeded, width):  # noqa: F811
    page, errors = open_board(new_context, local_stack, width)
    page.get_by_label("From", exact=True).fill(RATED_FROM.isoformat())
    page.get_by_label("To", exact=True).fill(RATED_TO.isoformat())
    page.get_by_role("button", name="Apply").click()
    csat, stars = expected_trends()

    expect(page.locator("svg[data-chart=csat] circle")).to_have_count(len(csat))
    assert plotted(page, "csat") == csat
    expect(page.locator("svg[data-chart=stars] circle")).to_have_count(len(stars))
    assert plotted(page, "stars") == stars
    # Named as the NPS chart is: an image labelled by its caption, each point titled with its figures.
    for chart, caption in (("csat", "CSAT per day"), ("stars", "Stars per day")):
        svg = page.locator(f"svg[data-chart={chart}]")
        expect(svg).to_have_attribute("role", "img")
        expect(page.locator(f"#{svg.get_attribute('aria-labelledby')}")).to_contain_text(caption)
        assert svg.locator("circle title").count() == svg.locator("circle").count()
        box = svg.bounding_box()
        assert box and box["x"] + box["width"] <= width + 1
    first_day, percent, responses = csat[0]
    expect(page.locator(f"svg[data-chart=csat] circle[data-date='{first_day}'] title")).to_have_text(
        f"{first_day} · CSAT % satisfied {percent:g} ({responses} ratings)"
    )
    if width == WIDTHS["desktop"]:
        save_screenshot(page.locator("div.pair", has=page.locator("#chart-csat")), "dashboard-trends.png")
    # The daily table holds the same figures for those who do not read charts.
    row = page.locator("#day-table tbody tr", has_text=first_day)
    expect(row.locator("td").nth(7)).to_have_text(f"{percent:g}")
    # Days without a rating leave the line, and a range without any says so.
    expect(page.locator("svg[data-chart=nps]")).to_have_count(0)
    expect(page.locator("#chart-nps")).to_have_text("No NPS ratings in this period.")

    # A form's page draws its own trends.
    page.goto(dashboard_url(local_stack, RATED_FROM, RATED_TO) + f"#form={RATED_FORM}")
    expect(page.get_by_role("heading", name=f"Form {RATED_FORM}")).to_be_visible()
    expect(page.locator("svg[data-chart=csat] circle")).to_have_count(len(csat))
    assert plotted(page, "csat") == csat and plotted(page, "stars") == stars
    assert not errors, errors


def test_a_form_page_shows_its_own_themes_and_their_items(page, local_stack, seeded):  # noqa: F811
    _, parent, names = theme_figures()
    form_texts = [text for _, channel, _, _, text, _ in SEED if channel.value == "form"]
    own = {
        theme
        for text in form_texts
        for tagged, *_ in THEMES.get(text, [])
        for theme in {tagged, parent[tagged]} - {None}
    }
    every = {t for text in THEMES for tagged, *_ in THEMES[text] for t in {tagged, parent[tagged]} - {None}}
    assert own < every, "the seed gives the form no theme of its own to show"
    page.goto(dashboard_url(local_stack, token=local_stack.read_token))
    expect(page.locator("svg[data-chart=days]")).to_be_visible()

    page.goto(dashboard_url(local_stack) + "#form=seed-form")

    expect(page.get_by_role("heading", name="Top themes of seed-form")).to_be_visible()
    rows = page.locator("#theme-table tbody tr")
    expect(rows).to_have_count(len(own))
    assert {theme for (theme,) in data(rows, "theme")} == own
    expect(page.locator("#slice-note")).not_to_contain_text("the themes")
    # A theme of the form lists the form's items about it, not those of other sources.
    page.get_by_role("button", name=names["support"], exact=True).click()
    about = [t for t in form_texts if any("support" in (x, parent[x]) for x, *_ in THEMES.get(t, []))]
    feed = page.locator("#theme-feed li .text")
    expect(feed).to_have_count(len(about))
    assert sorted(feed.all_text_contents()) == sorted(about)


def test_the_theme_filter_cuts_the_figures_and_names_what_it_cannot(page, local_stack, seeded):  # noqa: F811
    _, parent, _ = theme_figures()
    about = [row for row in SEED if any("support" in (t, parent[t]) for t, *_ in THEMES.get(row[4], []))]
    page.goto(dashboard_url(local_stack, token=local_stack.read_token).replace("#", "&theme=support#"))

    listed(page, len(about))
    expect(page.locator("[data-card=total]")).to_have_attribute("data-value", str(len(about)))
    expect(page.locator("svg[data-chart=days]")).to_have_attribute("data-total", str(len(about)))
    # The themes panel holds the theme and its sub-themes only.
    rows = page.locator("#theme-table tbody tr")
    tagged = {x for row in about for x, *_ in THEMES[row[4]]}
    children = {t for t, p in parent.items() if p == "support" and t in tagged}
    assert {theme for (theme,) in data(rows, "theme")} == {"support"} | children
    note = page.locator("#slice-note")
    expect(note).to_contain_text("theme support")
    expect(note).to_contain_text("the channel chart, the scores, the latest negatives cover every item")
    expect(note).not_to_contain_text("do not narrow by theme")
