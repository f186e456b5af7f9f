"""The widget on host pages of another origin, in headless Chromium: keyboard-only use, the API's errors
beside their fields, CORS, dark mode and reduced motion, and the host page's CSS kept out."""

from __future__ import annotations

import io
import json
import os
import uuid
from urllib.parse import urlsplit

from PIL import Image, ImageDraw
from playwright.sync_api import Locator, expect

from tests.browser.conftest import BASELINES, save_screenshot
from tests.browser.imaging import compare

WIDGET = "[data-feedback-form], [data-feedback-widget]"
FOCUS_OUTLINE_JS = """element => {
    const target = element.type === 'radio' ? element.nextElementSibling : element;
    const style = getComputedStyle(target);
    return [style.outlineStyle, parseFloat(style.outlineWidth)];
}"""


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def focused(page):
    """The element focused inside the widget's shadow root (document.activeElement is its host)."""
    return page.evaluate_handle(
        "() => { const a = document.activeElement; "
        "return a && a.shadowRoot ? a.shadowRoot.activeElement : a; }"
    )


def test_floating_widget_keyboard_only_is_stored_with_language_and_page(page, host_site, local_stack):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    comment = f"Keyboard only works great {uuid.uuid4().hex[:8]}"
    url = host_site.url("floating.html")
    page.goto(url)
    fab = page.get_by_role("button", name="Feedback", exact=True)
    expect(fab).to_be_visible()

    page.keyboard.press("Tab")
    expect(fab).to_be_focused()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Demo NPS survey")
    expect(dialog).to_be_visible()
    expect(fab).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("radio", name="0 (Not at all likely)")).to_be_focused()
    assert focused(page).evaluate(FOCUS_OUTLINE_JS) == ["solid", 3.0]  # visible focus
    for _ in range(9):
        page.keyboard.press("ArrowRight")
    expect(page.get_by_role("radio", name="9", exact=True)).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Tell us more (optional)")).to_be_focused()
    page.keyboard.type(comment)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Email (optional)")).to_be_focused()
    page.keyboard.type("Keyboard.User@Example.com")
    page.keyboard.press("Tab")  # the honeypot is skipped (tabindex=-1)
    send = page.get_by_role("button", name="Send feedback")
    expect(send).to_be_focused()
    assert focused(page).evaluate(FOCUS_OUTLINE_JS) == ["solid", 3.0]
    page.keyboard.press("Enter")

    status = dialog.get_by_role("status")
    expect(status).to_have_text("Thank you! Your feedback was sent.")
    expect(status).to_have_attribute("aria-live", "polite")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(fab).to_be_focused()

    [item] = local_stack.wait_for_items(lambda item: item["text"] == comment)
    assert (item["rating"], item["rating_scale"], item["channel"]) == (9, "nps", "form")
    assert item["source_id"] == "demo"
    assert item["language"] == "en"  # navigator.language "en-US", stored as its ISO 639-1 code
    assert item["permalink"] == url
    assert item["author"]["email"] == "keyboard.user@example.com"
    assert item["external_id"].startswith("w-")  # the widget's own response id
    assert item["sentiment"] == "POSITIVE"
    # No request left the host page and the API.
    assert {origin_of(u) for u in requests} == {host_site.origin, local_stack.api}


def test_inline_widget_shows_the_apis_errors_beside_their_fields(page, host_site):
    page.goto(host_site.url("inline.html"))
    send = page.get_by_role("button", name="Send feedback")
    expect(send).to_be_visible()

    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        send.click()
    assert answer.value.status == 422
    rating_error = page.locator("[data-feedback-form] #e-rating")
    expect(rating_error).to_have_text(json.loads(answer.value.body())["error"]["fields"]["rating"])
    expect(page.get_by_role("radio", name="0 (Not at all likely)")).to_be_focused()

    page.get_by_role("radio", name="3", exact=True).check()
    email = page.get_by_label("Email (optional)")
    email.fill("not-an-email")
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        send.click()
    assert answer.value.status == 422
    expect(page.locator("[data-feedback-form] #e-email")).to_have_text(
        json.loads(answer.value.body())["error"]["fields"]["email"]
    )
    expect(rating_error).to_be_hidden()
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_attribute("aria-describedby", "e-email")
    expect(email).to_be_focused()
    assert page.evaluate(f"localStorage.getItem('{'feedback-widget:outbox'}')") is None  # answered: not kept


def test_the_apis_field_messages_are_shown_as_it_words_them(page, host_site, local_stack):
    """Each message beside its field; one for a field the page does not show (page_url) above the button,
    without the field's name; markup in a message stays text."""
    fields = {
        "email": "Enter a valid email address, like name@example.com.",
        "comment": "Keep it under 10,000 characters <b>please</b>.",
        "page_url": "Use a web address that starts with http:// or https://.",
    }
    body = {
        "error": {
            "code": "validation_error",
            "message": "Some fields need a second look.",
            "fields": fields,
            "field_codes": {"email": "invalid_email", "comment": "too_long", "page_url": "invalid_url"},
        }
    }

    def refuse(route) -> None:
        if route.request.method != "POST":
            route.continue_()  # the CORS preflight
            return
        headers = {"Access-Control-Allow-Origin": "*", "Content-Type": "application/json"}
        route.fulfill(status=422, headers=headers, body=json.dumps(body))

    page.route(f"{local_stack.api}/forms/demo/responses", refuse)
    page.goto(host_site.url("inline.html"))
    page.get_by_role("radio", name="7", exact=True).check()
    email = page.get_by_label("Email (optional)")
    email.fill("someone@example.com")
    page.get_by_role("button", name="Send feedback").click()

    widget = page.locator("[data-feedback-form]")
    expect(widget.locator("#e-email")).to_have_text(fields["email"])
    expect(widget.locator("#e-comment")).to_have_text(fields["comment"])
    expect(widget.locator("#e-form")).to_have_text(fields["page_url"])
    expect(widget.locator(".status")).to_have_text("Please check the highlighted fields.")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Tell us more (optional)")).to_have_attribute("aria-invalid", "true")
    assert widget.evaluate("host => host.shadowRoot.querySelectorAll('.err b').length") == 0


def test_form_for_one_site_works_there_and_nowhere_else(new_context, host_site, local_stack):
    created = local_stack.cli(
        "forms",
        "create",
        "--id",
        "shop-csat",
        "--name",
        "Shop CSAT",
        "--scale",
        "csat",
        "--origin",
        host_site.origin,
        "--require-email",
    )
    assert created.returncode == 0, created.stderr
    page = new_context().new_page()
    page.goto(host_site.url("inline.html", form="shop-csat"))
    expect(page.get_by_role("radio", name="5 (Very satisfied)")).to_be_visible()
    expect(page.get_by_label("Email", exact=True)).to_have_attribute("required", "")
    page.get_by_role("radio", name="4", exact=True).check()
    page.get_by_label("Email", exact=True).fill("shopper@example.com")
    page.get_by_role("button", name="Send feedback").click()
    expect(page.locator("[data-feedback-form] .status")).to_have_text("Thank you! Your feedback was sent.")

    # The same page served as http://localhost:<port>: another origin, which the form does not allow.
    other = new_context().new_page()
    with other.expect_console_message(lambda message: "unavailable" in message.text) as warned:
        other.goto(host_site.url("inline.html", form="shop-csat", host="localhost"))
    # It said "(Failed to fetch)" only, beside the browser's CORS error: now it names the site and the fix.
    origin = f"http://localhost:{host_site.port}"
    assert f"this site ({origin}) is not among the form's allowed origins" in warned.value.text
    assert other.evaluate("document.querySelector('[data-feedback-form]').shadowRoot") is None
    outcome = other.evaluate(
        """api => fetch(api + '/forms/shop-csat/responses', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, body: '{"rating": 4}'})
            .then(() => 'answered', () => 'blocked')""",
        local_stack.api,
    )
    assert outcome == "blocked"  # the preflight names no origin for this site


def test_dark_mode_and_reduced_motion(new_context, host_site):
    def opened_panel(color_scheme: str, reduced_motion: str) -> Locator:
        page = new_context(color_scheme=color_scheme, reduced_motion=reduced_motion).new_page()
        page.goto(host_site.url("floating.html"))
        page.get_by_role("button", name="Feedback", exact=True).click()
        panel = page.get_by_role("dialog")
        expect(panel).to_be_visible()
        return panel

    dark = opened_panel("dark", "no-preference")
    assert dark.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(27, 32, 39)"
    assert dark.evaluate("e => getComputedStyle(e).animationName") == "in"

    calm = opened_panel("light", "reduce")
    assert calm.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 255, 255)"
    assert calm.evaluate("e => getComputedStyle(e).animationName") == "none"


def _widget_png(page, url: str) -> bytes:
    page.goto(url)
    card = page.locator("[data-feedback-form] .card")
    expect(card).to_be_visible()
    page.evaluate("document.fonts.ready")
    return card.screenshot(animations="disabled", caret="hide")


def test_host_page_css_does_not_reach_the_widget(page, host_site):
    """The garish page styles every button, input, div …; the widget looks as it does on a plain page."""
    baseline = BASELINES / "widget-inline.png"
    plain = _widget_png(page, host_site.url("inline.html"))
    if os.environ.get("UPDATE_BASELINES") or not baseline.exists():
        baseline.write_bytes(plain)
    garish = _widget_png(page, host_site.url("garish.html"))
    # The page's own controls are garish indeed.
    host_button = page.locator("#host-button")
    assert host_button.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 0, 255)"
    save_screenshot(page, "widget-garish-host.png", full_page=True)

    assert compare(plain, baseline).within_tolerance, compare(plain, baseline)
    difference = compare(garish, baseline)
    assert difference.within_tolerance, difference


def test_a_right_to_left_page_with_a_strict_csp_a_reset_and_a_fixed_header(page, host_site, local_stack):
    """A Hebrew shop page: dir=rtl, a CSP allowing only the API's script and requests (no inline style), a
    global reset and a header above everything. The widget works there and leaves the page's width alone
    (its spam trap was placed 10,000 px to the left, which a right-to-left page scrolls to)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    comment = f"Works on a strict right-to-left page {uuid.uuid4().hex[:8]}"
    page.goto(host_site.url("hostile-rtl.html"))
    expect(page.locator("header.top")).to_have_css("z-index", "2147483647")  # the page's styles applied
    form = page.get_by_role("form", name="Demo NPS survey")
    expect(form).to_be_visible()

    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("innerWidth")
    # English words keep their direction: the scale reads 0 to 10 left to right, the "?" ends the question.
    options = page.locator("[data-feedback-form] .opt")
    zero, ten = options.first.bounding_box(), options.last.bounding_box()
    assert zero["x"] < ten["x"], (zero, ten)
    assert form.locator("legend").evaluate("e => getComputedStyle(e).direction") == "ltr"
    assert page.locator("[data-feedback-form] .w").get_attribute("lang") == "en"  # read in an English voice
    page.get_by_role("radio", name="8", exact=True).check()
    page.get_by_label("Tell us more (optional)").fill(comment)
    page.get_by_role("button", name="Send feedback").click()
    expect(page.locator("[data-feedback-form] .status")).to_have_text("Thank you! Your feedback was sent.")
    [item] = local_stack.wait_for_items(lambda item: item["text"] == comment)
    assert item["rating"] == 8
    assert not errors, errors


def test_a_page_whose_csp_blocks_the_api_is_told_so(page, host_site, local_stack):
    """The script is allowed, its requests are not (connect-src 'self'): nothing can show, and the console
    names the page's policy and the origin to add, not the form's allowed origins."""
    with page.expect_console_message(lambda m: m.text.startswith("feedback widget:")) as message:
        page.goto(host_site.url("csp-no-connect.html"))
    warning = message.value.text
    assert message.value.type == "warning"
    assert "Content-Security-Policy (connect-src) does not allow " + local_stack.api in warning, warning
    assert "allowed origins" not in warning
    expect(page.locator("[data-feedback-form]")).to_be_empty()


def test_the_screenshot_comparison_catches_a_broken_widget():
    """The tolerance is for antialiasing: a block of host colour over a tenth of the widget fails it."""
    baseline = Image.open(BASELINES / "widget-inline.png").convert("RGB")
    broken = baseline.copy()
    ImageDraw.Draw(broken).rectangle((0, 0, baseline.width, baseline.height // 10), fill=(255, 0, 255))
    shifted = Image.new("RGB", (baseline.width, baseline.height + 40), "white")
    shifted.paste(baseline, (0, 40))

    def png(image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        return buffer.getvalue()

    assert compare(png(baseline), baseline).ratio == 0
    assert not compare(png(broken), baseline).within_tolerance
    assert not compare(png(shifted), baseline).within_tolerance


def test_readme_screenshots_of_the_widget(new_context, host_site, local_stack):
    """Writes docs/widget*.png with UPDATE_SCREENSHOTS=1; otherwise only checks both modes render."""
    page = new_context(reduced_motion="reduce").new_page()
    page.goto(host_site.url("inline.html"))
    card = page.locator("[data-feedback-form] .card")
    expect(card).to_be_visible()
    page.get_by_role("radio", name="9", exact=True).check()
    page.get_by_label("Tell us more (optional)").fill("Setup took two minutes. Love it!")
    save_screenshot(card, "widget.png")

    phone = new_context(viewport={"width": 360, "height": 620}).new_page()
    phone.goto(host_site.url("inline.html"))
    card = phone.locator("[data-feedback-form] .card")
    expect(card).to_be_visible()
    phone.get_by_role("radio", name="9", exact=True).check()
    save_screenshot(phone, "widget-phone.png")

    dark = new_context(color_scheme="dark").new_page()
    dark.goto(host_site.url("floating.html"))
    dark.get_by_role("button", name="Feedback", exact=True).click()
    expect(dark.get_by_role("dialog")).to_be_visible()
    save_screenshot(dark, "widget-floating-dark.png")
