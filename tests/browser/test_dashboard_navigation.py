"""The dashboard as a team reads it every morning, in Chromium: the back and forward buttons return to the
views chosen before, a shared link keeps its filters (whole lists, readable choices) and survives a mangled
date, the figures on screen are always those of the filters shown (a slow answer for an earlier choice never
replaces them, an API that fails hides them and says so), a token without the read scope is asked again, and
comments and names in right-to-left scripts keep their direction."""

from __future__ import annotations

import itertools
import json
import re
import time
from datetime import date, timedelta
from urllib.parse import parse_qs, quote, urlsplit

from playwright.sync_api import expect

from tests.browser.conftest import today
from tests.browser.seed import FROM, SEED, TO
from tests.browser.test_dashboard import dashboard_url, seeded  # noqa: F401  (the package's seeded stack)
from tests.browser.test_dashboard_filters import listed

ALL_CHANNELS = 17  # chalicelib.models.Channel
SLOW_SECONDS = 6  # how long the answer for the first of two quick choices is held back


def loaded(page, start, end) -> None:
    """Until the board shows the figures of start..end."""
    expect(page.locator("#board")).to_have_attribute("data-loaded", f"{start}..{end}")


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_back_and_forward_return_to_the_views_chosen_before(new_context, local_stack, seeded):  # noqa: F811
    page = new_context().new_page()
    page.goto(local_stack.api + "/forms/demo")  # where the user came from
    page.goto(dashboard_url(local_stack, token=local_stack.read_token))
    loaded(page, FROM, TO)
    day = max(row[0] for row in SEED)

    page.locator(f"svg[data-chart=days] g.day[data-date='{day}']").click()  # drill into a day
    loaded(page, day, day)
    page.get_by_label("Channel", exact=True).select_option("form")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#slice-note")).to_contain_text("channel form")

    page.go_back()  # the day, every channel
    loaded(page, day, day)
    expect(page.get_by_label("Channel", exact=True)).to_have_value("")
    expect(page.locator("#slice-note")).to_be_hidden()
    page.go_back()  # the week it was opened on, not the page before the dashboard
    loaded(page, FROM, TO)
    assert urlsplit(page.url).path == "/dashboard"
    expect(page.get_by_label("From", exact=True)).to_have_value(FROM.isoformat())
    listed(page, len(SEED))
    page.go_forward()
    loaded(page, day, day)
    assert query(page)["from"] == [day.isoformat()]

    # A profile and back: the view it was opened from.
    page.go_forward()
    expect(page.locator("#slice-note")).to_contain_text("channel form")
    page.locator("#items-feed a").first.click()
    expect(page.locator("#customer")).to_be_visible()
    page.go_back()
    expect(page.locator("#customer")).to_be_hidden()
    expect(page.get_by_label("Channel", exact=True)).to_have_value("form")


def test_leaving_a_forms_page_by_its_filters_leaves_its_heading(page, local_stack, seeded):  # noqa: F811
    page.goto(dashboard_url(local_stack, token=local_stack.read_token).replace("#", "#form=seed-form&"))
    expect(page.get_by_role("heading", name="Form seed-form")).to_be_visible()
    loaded(page, FROM, TO)

    page.get_by_role("button", name="Clear filters").click()
    loaded(page, FROM, TO)
    expect(page.get_by_role("heading", name="Form seed-form")).to_be_hidden()
    assert urlsplit(page.url).fragment == ""
    page.reload()  # the board of every source, not the form's page again
    loaded(page, FROM, TO)
    expect(page.get_by_label("Form or source", exact=True)).to_have_value("")


def test_a_shared_link_keeps_whole_lists_and_readable_choices(page, local_stack, seeded):  # noqa: F811
    filters = "&channel=x&sentiment=NEGATIVE&rating=nps:promoter"
    page.goto(dashboard_url(local_stack, token=local_stack.read_token).replace("#", filters + "#"))
    loaded(page, FROM, TO)

    channel = page.get_by_label("Channel", exact=True)
    expect(channel).to_have_value("x")
    expect(channel.locator("option")).to_have_count(1 + ALL_CHANNELS)  # another channel is one choice away
    expect(page.get_by_label("Sentiment", exact=True).locator("option:checked")).to_have_text("Negative")
    expect(page.get_by_label("Rating", exact=True).locator("option:checked")).to_have_text(
        "NPS promoters (9\u201310)"
    )
    page.get_by_label("Channel", exact=True).select_option("slack")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#slice-note")).to_contain_text("channel slack")


def test_a_mangled_date_in_a_link_falls_back_to_the_last_30_days(new_context, local_stack, seeded):  # noqa: F811
    page = new_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{local_stack.api}/dashboard?from=yesterday&to=2026-13-45#token={local_stack.read_token}")

    end = today()
    start = (date.fromisoformat(end) - timedelta(days=29)).isoformat()
    loaded(page, start, end)
    expect(page.get_by_label("From", exact=True)).to_have_value(start)
    assert not errors, errors


def test_a_slow_answer_for_an_earlier_choice_never_replaces_the_latest(new_context, local_stack, seeded):  # noqa: F811
    page = new_context().new_page()
    # The answers for channel x are held back: the user has chosen slack by the time they arrive.
    page.add_init_script(
        "(() => { const real = window.fetch; window.fetch = async (url, options) => {"
        "  if (String(url).includes('channel=x')) {"
        f"    await new Promise((resolve) => setTimeout(resolve, {SLOW_SECONDS * 1000})); }}"
        "  return real(url, options); }; })();"
    )
    page.goto(dashboard_url(local_stack, token=local_stack.read_token))
    loaded(page, FROM, TO)
    channel = page.get_by_label("Channel", exact=True)
    channel.select_option("x")
    page.get_by_role("button", name="Apply").click()
    channel.select_option("slack")
    page.get_by_role("button", name="Apply").click()

    slack = sum(1 for row in SEED if row[1].value == "slack")
    expect(page.locator("[data-card=total]")).to_have_attribute("data-value", str(slack))
    time.sleep(SLOW_SECONDS + 2)  # x's answers have arrived
    expect(page.locator("#slice-note")).to_contain_text("channel slack")
    expect(page.locator("[data-card=total]")).to_have_attribute("data-value", str(slack))
    expect(page.locator("#board")).to_have_attribute("data-state", "ready")


def test_when_the_api_fails_no_figures_of_another_view_are_shown(page, local_stack, seeded):  # noqa: F811
    page.goto(dashboard_url(local_stack, token=local_stack.read_token))
    loaded(page, FROM, TO)
    expect(page.locator("#cards")).to_be_visible()
    reads = re.compile(r".*/(stats|feedback)\?.*")

    page.route(reads, lambda route: route.abort("connectionrefused"))  # the API is down
    page.get_by_label("Channel", exact=True).select_option("x")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#status")).to_have_text(
        "Could not load the figures: the API did not answer (no connection, or the API is down); "
        "try again in a moment."
    )
    expect(page.locator("#cards")).to_be_hidden()  # the week's figures of every channel are not x's
    expect(page.locator("svg[data-chart=days]")).to_be_hidden()
    expect(page.locator("#items-status")).to_contain_text("the API did not answer")

    page.unroute(reads)
    page.route(
        reads, lambda route: route.fulfill(status=502, body="<h1>Bad gateway</h1>", content_type="text/html")
    )
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#status")).to_have_text(
        "Could not load the figures: the API answered HTTP 502; try again in a moment."
    )

    page.unroute(reads)
    page.get_by_role("button", name="Apply").click()  # back up: the figures return
    expect(page.locator("#slice-note")).to_contain_text("channel x")
    expect(page.locator("#cards")).to_be_visible()


def test_a_token_without_the_read_scope_is_asked_again(new_context, local_stack, seeded):  # noqa: F811
    created = local_stack.cli("tokens", "create", "--scope", "export", "--name", "BI nightly pull")
    assert created.returncode == 0, created.stderr
    export_token = re.search(r"token:\s+(fbk_\S+)", created.stdout).group(1)
    page = new_context().new_page()
    page.goto(dashboard_url(local_stack, token=export_token))

    expect(page.get_by_label("Read token")).to_be_visible()
    expect(page.locator("#token-error")).to_contain_text("does not have the 'read' scope")
    page.get_by_label("Read token").fill(local_stack.read_token)
    page.get_by_role("button", name="Open dashboard").click()
    loaded(page, FROM, TO)


def test_right_to_left_comments_keep_their_direction(page, local_stack, seeded):  # noqa: F811
    comment = "التوصيل تأخر أسبوعين، لكن الدعم كان ممتازًا!"
    body = {"rating": 6, "comment": comment, "email": "rtl@example.com", "response_id": "rtl-direction-1"}
    sent = page.request.post(
        f"{local_stack.api}/forms/demo/responses",
        data=json.dumps(body),
        headers={"content-type": "application/json"},
    )
    assert sent.status == 202, sent.text()
    local_stack.wait_for_items(lambda item: item.get("text") == comment)

    page.goto(
        f"{local_stack.api}/dashboard?from={today()}&to={today()}&q={quote('التوصيل')}"
        f"#token={local_stack.read_token}"
    )
    assert listed(page, 1) == [comment]
    text = page.locator("#items-feed li .text")
    assert text.evaluate("e => getComputedStyle(e).direction") == "rtl"
    meta = page.locator("#items-feed li .meta")  # the page's own words stay left to right
    assert meta.evaluate("e => getComputedStyle(e).direction") == "ltr"
    # Its language (detected and stored) is one the Language filter offers.
    page.get_by_label("Search comments", exact=True).fill("")
    page.get_by_label("Language", exact=True).select_option(label="Arabic")
    page.get_by_role("button", name="Apply").click()
    assert comment in listed(page, len(local_stack.wait_for_items(lambda item: item.get("language") == "ar")))


def test_a_customers_profile_colours_each_item_by_its_own_sentiment(page, local_stack, seeded):  # noqa: F811
    answer = page.request.get(
        f"{local_stack.api}/customers/{seeded}", headers={"Authorization": f"Bearer {local_stack.read_token}"}
    )
    profile = answer.json()
    sentiments = [item.get("sentiment") or "NONE" for item in profile["recent_feedback"]]
    assert "NEGATIVE" in sentiments and set(sentiments) - {"NEGATIVE"}, "the case needs both kinds"

    page.goto(dashboard_url(local_stack, token=local_stack.read_token).replace("#", f"#customer={seeded}&"))
    items = page.locator("#customer-body ol.feed li")
    expect(items).to_have_count(len(sentiments))
    assert [item.get_attribute("data-sentiment") for item in items.all()] == sentiments
    colours = [item.evaluate("e => getComputedStyle(e).borderLeftColor") for item in items.all()]
    negative = colours[sentiments.index("NEGATIVE")]
    assert all(
        (colour == negative) == (s == "NEGATIVE") for colour, s in zip(colours, sentiments, strict=True)
    )
    # Times say their zone, as everywhere else on the dashboard.
    expect(page.locator("#customer-body dl")).to_contain_text(" UTC")
    expect(items.first.locator(".meta")).to_contain_text(" UTC · ")


def test_on_a_phone_the_charts_words_are_drawn_at_their_size(new_context, local_stack, seeded):  # noqa: F811
    """A chart drawn 720 units wide and shrunk into a 320 px screen wrote its 11 px labels at 5 px."""
    page = new_context(viewport={"width": 320, "height": 700}).new_page()
    page.goto(dashboard_url(local_stack, token=local_stack.read_token))
    loaded(page, FROM, TO)

    for chart in ("days", "channels", "nps"):
        svg = page.locator(f"svg[data-chart={chart}]")
        scale = svg.evaluate("s => s.getBoundingClientRect().width / s.viewBox.baseVal.width")
        assert scale >= 0.95, (chart, scale)
    labels = page.locator("svg[data-chart=days] g.day text").all()
    boxes = [label.bounding_box() for label in labels]
    assert len(boxes) > 1
    for left, right in itertools.pairwise(boxes):
        assert left["x"] + left["width"] <= right["x"], "the day labels overlap"


def test_an_empty_period_says_so_in_every_table(page, local_stack, seeded):  # noqa: F811
    start, end = FROM - timedelta(days=60), FROM - timedelta(days=54)  # nothing was stored then
    page.goto(dashboard_url(local_stack, start, end, token=local_stack.read_token))
    loaded(page, start, end)

    for table in ("#channel-table", "#source-table"):
        empty = page.locator(f"{table} td.empty")
        expect(empty).to_have_text("No feedback in this period.")
        columns = page.locator(f"{table} thead th").count()
        assert empty.get_attribute("colspan") == str(columns), table  # the row spans the table
