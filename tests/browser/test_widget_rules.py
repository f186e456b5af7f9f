"""The follow-up question after a score, CSAT as faces, and the display rules (delay and scroll with
Playwright's fake clock and real scrolling, exit intent on desktop only, URL patterns, sampling, "not again
for N days"), at 320 px, 768 px and desktop widths."""

from __future__ import annotations

import time
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import save_screenshot
from tests.browser.test_widget import FOCUS_OUTLINE_JS, focused
from tests.browser.test_widget_brand import WIDTHS, create_form

FAB = "Feedback"
SNOOZE_KEY = "feedback-widget:snooze:"


def fab_of(page):
    return page.get_by_role("button", name=FAB, exact=True)


# --- follow-up questions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_the_follow_up_question_follows_the_score_and_is_stored_with_the_answer(
    new_context, host_site, local_stack, width
):
    form_id = create_form(
        local_stack,
        *("--follow-up", "detractor=What should we improve?", "--follow-up", "promoter=What do you love?"),
        "--string",
        "fr.follow_up_detractor=Que devrions-nous améliorer ?",
    )
    page = new_context(viewport={"width": width, "height": 800}).new_page()
    page.goto(host_site.url("inline.html", form=form_id))

    expect(page.get_by_role("textbox", name="Tell us more (optional)")).to_be_visible()  # no score yet
    page.get_by_role("radio", name="10 (Extremely likely)").check()
    expect(page.get_by_role("textbox", name="What do you love?")).to_be_visible()
    page.get_by_role("radio", name="8", exact=True).check()  # a passive: no question set, the generic one
    expect(page.get_by_role("textbox", name="Tell us more (optional)")).to_be_visible()
    page.get_by_role("radio", name="3", exact=True).focus()
    page.keyboard.press("Space")
    answer = page.get_by_role("textbox", name="What should we improve?")
    expect(answer).to_be_visible()
    if width == 768:
        save_screenshot(page.locator("[data-feedback-form]"), "widget-follow-up.png")
    page.keyboard.press("Tab")
    expect(answer).to_be_focused()
    assert focused(page).evaluate(FOCUS_OUTLINE_JS) == ["solid", 3.0]
    marker = f"Checkout is far too slow {uuid.uuid4().hex[:8]}"
    page.keyboard.type(marker)
    page.get_by_role("button", name="Send feedback").click()
    expect(page.locator("[data-feedback-form]").get_by_role("status")).to_have_text(
        "Thank you! Your feedback was sent."
    )

    [item] = local_stack.wait_for_items(lambda item: item["text"] == marker)
    assert item["rating"] == 3
    assert item["metadata"]["follow_up_question"] == "What should we improve?"

    french = new_context(locale="fr-FR", viewport={"width": width, "height": 800}).new_page()
    french.goto(host_site.url("inline.html", form=form_id))
    french.get_by_role("radio", name="2", exact=True).check()
    expect(french.get_by_role("textbox", name="Que devrions-nous améliorer ?")).to_be_visible()


# --- CSAT as faces ------------------------------------------------------------------------------------------

FACE_NAMES = ["1: Very dissatisfied", "2: Dissatisfied", "3: Neutral", "4: Satisfied", "5: Very satisfied"]


@pytest.fixture(scope="module")
def faces_form(local_stack) -> str:
    return create_form(local_stack, "--csat-style", "faces", scale="csat")


@pytest.mark.parametrize("width", WIDTHS)
def test_csat_faces_are_named_in_words_in_one_row(new_context, host_site, local_stack, faces_form, width):
    page = new_context(viewport={"width": width, "height": 800}).new_page()
    page.goto(host_site.url("inline.html", form=faces_form))

    radios = page.get_by_role("radio")
    expect(radios).to_have_count(5)
    for index, name in enumerate(FACE_NAMES):
        expect(radios.nth(index)).to_have_accessible_name(name)
    boxes = [face.bounding_box() for face in page.locator("[data-feedback-form] .opt").all()]
    assert len({round(box["y"]) for box in boxes}) == 1  # one row, at every width
    assert all(box["width"] >= 24 and box["height"] >= 24 for box in boxes)  # WCAG 2.5.8 target size
    assert boxes[-1]["x"] + boxes[-1]["width"] <= width

    radios.first.focus()
    assert focused(page).evaluate(FOCUS_OUTLINE_JS) == ["solid", 3.0]
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("radio", name="3: Neutral")).to_be_checked()
    if width == 320:
        save_screenshot(page.locator("[data-feedback-form]"), "widget-faces-phone.png")
    shown = page.locator("[data-feedback-form]").evaluate(
        "host => [...host.shadowRoot.querySelectorAll('.opt span')].map((s) => s.textContent)"
    )
    assert shown == ["\U0001f620", "\U0001f61e", "\U0001f610", "\U0001f60a", "\U0001f604"]


def test_faces_in_german_on_the_hosted_page_without_javascript(new_context, local_stack, faces_form):
    page = new_context(locale="de-DE", java_script_enabled=False).new_page()
    page.goto(f"{local_stack.api}/f/{faces_form}")

    expect(page.get_by_role("radio", name="1: Sehr unzufrieden")).to_be_attached()
    expect(page.get_by_role("radio", name="5: Sehr zufrieden")).to_be_attached()


# --- display rules ----------------------------------------------------------------------------------------


def test_the_widget_waits_for_its_delay(page, host_site, local_stack):
    form_id = create_form(local_stack, "--delay", "30")
    page.clock.install()
    page.goto(host_site.url("floating.html", form=form_id))
    page.wait_for_load_state("networkidle")  # the config has arrived: only the delay holds the widget back

    page.clock.run_for(29_000)
    expect(fab_of(page)).to_have_count(0)
    page.clock.run_for(2_000)
    expect(fab_of(page)).to_be_visible()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_widget_waits_for_the_scroll_depth(new_context, host_site, local_stack, width):
    form_id = create_form(local_stack, "--scroll", "50")
    page = new_context(viewport={"width": width, "height": 700}).new_page()
    page.goto(host_site.url("tall.html", form=form_id))
    page.wait_for_load_state("networkidle")

    page.mouse.wheel(0, 800)  # about a quarter of the way down
    page.wait_for_function("scrollY > 0")
    expect(fab_of(page)).to_have_count(0)
    page.evaluate("scrollTo(0, (document.documentElement.scrollHeight - innerHeight) * 0.6)")
    expect(fab_of(page)).to_be_visible()


def test_delay_and_scroll_both_hold(page, host_site, local_stack):
    form_id = create_form(local_stack, "--delay", "10", "--scroll", "50")
    page.clock.install()
    page.goto(host_site.url("tall.html", form=form_id))
    page.wait_for_load_state("networkidle")

    page.evaluate("scrollTo(0, document.documentElement.scrollHeight)")
    page.clock.run_for(5_000)
    expect(fab_of(page)).to_have_count(0)  # scrolled, but too early
    page.clock.run_for(6_000)
    expect(fab_of(page)).to_be_visible()


def test_exit_intent_opens_the_form_on_desktop_only(new_context, host_site, local_stack):
    form_id = create_form(local_stack, "--exit-intent")
    desktop = new_context().new_page()
    desktop.goto(host_site.url("floating.html", form=form_id))
    expect(fab_of(desktop)).to_be_visible()
    dialog = desktop.get_by_role("dialog", name="Shop survey")
    expect(dialog).to_be_hidden()
    desktop.mouse.move(500, 300)
    desktop.mouse.move(500, 200)  # moving about the page is no exit
    expect(dialog).to_be_hidden()
    # The pointer leaves through the top of the window (toward the tabs and the address bar).
    desktop.evaluate("document.dispatchEvent(new MouseEvent('mouseout', {clientY: -2, bubbles: true}))")
    expect(dialog).to_be_visible()
    expect(desktop.get_by_role("radio", name="0 (Not at all likely)")).to_be_focused()

    phone = new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True).new_page()
    phone.goto(host_site.url("floating.html", form=form_id))
    expect(fab_of(phone)).to_be_visible()
    phone.evaluate("document.dispatchEvent(new MouseEvent('mouseout', {clientY: -2, bubbles: true}))")
    phone.wait_for_timeout(300)
    expect(phone.get_by_role("dialog", name="Shop survey")).to_be_hidden()


@pytest.mark.parametrize(
    ("options", "page_name", "shown"),
    [
        (("--include-url", "*/tall.html"), "floating.html", False),
        (("--include-url", "*/tall.html"), "tall.html", True),
        (("--include-url", "/floating.*"), "floating.html", True),
        (("--exclude-url", "/floating.html"), "floating.html", False),
        (("--exclude-url", "/floating.html"), "tall.html", True),
        (("--include-url", "http://127.0.0.1:*/*", "--exclude-url", "*/tall.*"), "tall.html", False),
        (("--sample", "0"), "floating.html", False),
        (("--sample", "100"), "floating.html", True),
    ],
)
def test_url_patterns_and_sampling(page, host_site, local_stack, options, page_name, shown):
    form_id = create_form(local_stack, *options)
    page.goto(host_site.url(page_name, form=form_id))
    page.wait_for_load_state("networkidle")

    if shown:
        expect(fab_of(page)).to_be_visible()
    else:
        page.wait_for_timeout(300)
        expect(fab_of(page)).to_have_count(0)


def test_sampling_keeps_each_visitor_in_or_out(new_context, host_site, local_stack):
    form_id = create_form(local_stack, "--sample", "50")
    seen = []
    for _ in range(12):
        page = new_context().new_page()
        page.goto(host_site.url("floating.html", form=form_id))
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(100)
        first = fab_of(page).count()
        page.reload()
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(100)
        assert fab_of(page).count() == first  # the same visitor decides the same way
        seen.append(first)
    assert 0 < sum(seen) < len(seen)  # about half: 12 draws all alike is 1 in 2,048


@pytest.mark.parametrize("how", ["closed", "answered"])
def test_not_again_for_n_days_after_closing_or_answering(page, host_site, local_stack, how):
    form_id = create_form(local_stack, "--snooze-days", "7")
    url = host_site.url("floating.html", form=form_id)
    page.goto(url)
    fab_of(page).click()
    if how == "closed":
        page.get_by_role("button", name="Close").click()
    else:
        page.get_by_role("radio", name="9", exact=True).check()
        page.get_by_role("button", name="Send feedback").click()
        expect(page.get_by_role("status")).to_have_text("Thank you! Your feedback was sent.")
    until = float(page.evaluate(f"localStorage.getItem('{SNOOZE_KEY}{form_id}')"))
    assert until / 1000 == pytest.approx(time.time() + 7 * 86400, abs=120)

    page.reload()
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    expect(fab_of(page)).to_have_count(0)

    # Seven days later (the stored time has passed) it shows again.
    page.evaluate(f"localStorage.setItem('{SNOOZE_KEY}{form_id}', String(Date.now() - 1000))")
    page.reload()
    expect(fab_of(page)).to_be_visible()


def test_a_placeholder_and_the_hosted_page_ignore_the_display_rules(page, host_site, local_stack):
    form_id = create_form(local_stack, "--delay", "600", "--sample", "0")
    page.goto(host_site.url("inline.html", form=form_id))
    expect(page.get_by_role("button", name="Send feedback")).to_be_visible()
    page.goto(f"{local_stack.api}/f/{form_id}")
    expect(page.locator("[data-feedback-form] .status")).to_be_attached()
