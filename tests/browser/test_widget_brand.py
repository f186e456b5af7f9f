"""A brand's widget: its colour, button label, corner or inline position, intro and privacy note on host pages
at 320 px, 768 px and desktop widths; the hosted page's logo and preview; the texts in the visitor's
language (the shipped tables and a form's own overrides); every new control named and visibly focused."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import save_screenshot
from tests.browser.test_widget import FOCUS_OUTLINE_JS, focused

WIDTHS = [320, 768, 1280]
ACCENT = "#0f7b3a"
ACCENT_RGB = "rgb(15, 123, 58)"
PRIVACY_URL = "https://shop.example/privacy"


def create_form(local_stack, *options: str, scale: str = "nps") -> str:
    """A new form (its own id: the stack caches forms) with `options`; its id."""
    form_id = f"t-{uuid.uuid4().hex[:10]}"
    created = local_stack.cli(
        "forms", "create", "--id", form_id, "--name", "Shop survey", "--scale", scale, *options
    )
    assert created.returncode == 0, created.stderr
    return form_id


def background(locator) -> str:
    return locator.evaluate("element => getComputedStyle(element).backgroundColor")


def assert_focus_visible(page, locator) -> None:
    """Keyboard focus on `locator` shows the 3-px outline every control of the widget has."""
    locator.focus()
    expect(locator).to_be_focused()
    assert focused(page).evaluate(FOCUS_OUTLINE_JS) == ["solid", 3.0]


@pytest.mark.parametrize("width", WIDTHS)
def test_branded_floating_widget_in_the_left_corner(new_context, host_site, local_stack, width):
    form_id = create_form(
        local_stack,
        *("--accent-color", ACCENT, "--button-label", "Tell us", "--position", "bottom-left"),
        *("--intro", "Two minutes, promise.", "--privacy-note", "We only use your email to reply."),
        *("--privacy-url", PRIVACY_URL),
    )
    page = new_context(viewport={"width": width, "height": 720}).new_page()
    page.goto(host_site.url("floating.html", form=form_id))

    fab = page.get_by_role("button", name="Tell us", exact=True)
    expect(fab).to_be_visible()
    assert background(fab) == ACCENT_RGB
    box = fab.bounding_box()
    assert box["x"] == pytest.approx(20, abs=1)  # the left corner
    assert_focus_visible(page, fab)
    page.keyboard.press("Enter")

    dialog = page.get_by_role("dialog", name="Shop survey")
    expect(dialog).to_be_visible()
    panel = dialog.bounding_box()
    assert panel["x"] == pytest.approx(20, abs=1) and panel["x"] + panel["width"] <= width
    expect(dialog.get_by_text("Two minutes, promise.")).to_be_visible()
    email = dialog.get_by_role("textbox", name="Email (optional)")
    expect(email).to_have_accessible_description(re.compile("We only use your email to reply"))
    link = dialog.get_by_role("link", name="Privacy policy")
    expect(link).to_have_attribute("href", PRIVACY_URL)
    assert_focus_visible(page, link)
    send = dialog.get_by_role("button", name="Send feedback")
    assert background(send) == ACCENT_RGB
    page.get_by_role("radio", name="9", exact=True).check()
    checked = dialog.locator(".opt input:checked + span")
    assert background(checked) == ACCENT_RGB
    if width == 1280:
        save_screenshot(page, "widget-branded.png")


def test_inline_position_puts_the_form_where_the_script_is(page, host_site, local_stack):
    form_id = create_form(local_stack, "--position", "inline", "--accent-color", "#c2185b")
    page.goto(host_site.url("article.html", form=form_id))

    host = page.locator("[data-feedback-widget]")
    expect(page.get_by_role("group", name=re.compile("recommend us"))).to_be_visible()
    expect(page.get_by_role("button", name="Feedback", exact=True)).to_have_count(0)  # no floating button
    order = page.evaluate(
        "() => [...document.body.children].map((e) => e.id || e.tagName.toLowerCase())"
        ".filter((name) => name !== 'script')"
    )
    assert order == ["h1", "before", "div", "after"]
    assert host.evaluate("h => getComputedStyle(h.shadowRoot.querySelector('.card')).position") == "static"


def test_hosted_page_logo_intro_and_preview(page, local_stack):
    form_id = create_form(
        local_stack,
        *("--logo-url", "https://cdn.example.com/logo.svg", "--intro", "How did checkout go?"),
        *("--accent-color", ACCENT, "--position", "bottom-right", "--scale", "csat", "--csat-style", "faces"),
    )
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.route(
        "https://cdn.example.com/**", lambda route: route.fulfill(content_type="image/svg+xml", body=LOGO)
    )
    page.goto(f"{local_stack.api}/f/{form_id}?preview=1")

    expect(page.get_by_role("note")).to_have_text("Preview: responses are not sent.")
    logo = page.locator("img.logo")
    expect(logo).to_be_visible()
    assert logo.evaluate("img => img.naturalWidth") > 0  # the CSP lets the logo's origin in
    expect(page.get_by_text("How did checkout go?")).to_be_visible()
    fab = page.get_by_role("button", name="Feedback", exact=True)  # the preview: as a site shows it
    expect(fab).to_be_visible()
    fab.click()
    page.get_by_role("radio", name="4: Satisfied").check()
    save_screenshot(page, "hosted-preview.png")
    page.get_by_role("button", name="Send feedback").click()
    expect(page.get_by_role("status")).to_have_text("Thank you! Your feedback was sent.")
    assert posts == []  # nothing sent from a preview


LOGO = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect width="120" height="40" rx="8" '
    'fill="#0f7b3a"/><text x="60" y="26" font-size="16" text-anchor="middle" fill="#fff">SHOP</text></svg>'
)


# --- translations -------------------------------------------------------------------------------------------

LANGUAGES = [
    (
        "fr-FR",
        "Êtes-vous satisfait de votre expérience ?",
        "Envoyer maintenant",
        "Merci ! Votre avis a été envoyé.",
    ),
    (
        "de-DE",
        "Wie zufrieden sind Sie mit Ihrer Erfahrung?",
        "Feedback senden",
        "Danke! Ihr Feedback wurde gesendet.",
    ),
    (
        "es-ES",
        "¿Qué tan satisfecho estás con tu experiencia?",
        "Enviar opinión",
        "¡Gracias! Tu opinión se ha enviado.",
    ),
    (
        "nl-NL",
        "Hoe tevreden ben je met je ervaring?",
        "Feedback versturen",
        "Bedankt! Je feedback is verstuurd.",
    ),
]


@pytest.fixture(scope="module")
def translated_form(local_stack) -> str:
    """A CSAT form with a French override of the send button."""
    return create_form(local_stack, "--string", "fr.send=Envoyer maintenant", scale="csat")


@pytest.mark.parametrize(("locale", "question", "send", "thanks"), LANGUAGES)
def test_the_widget_speaks_the_visitors_language(
    new_context, host_site, local_stack, translated_form, locale, question, send, thanks
):
    page = new_context(locale=locale).new_page()
    page.goto(host_site.url("inline.html", form=translated_form))

    widget = page.locator("[data-feedback-form]")
    expect(page.get_by_role("group", name=question)).to_be_visible()
    button = page.get_by_role("button", name=send, exact=True)
    expect(button).to_be_visible()
    if locale == "fr-FR":
        save_screenshot(widget, "widget-french.png")
    assert "Send feedback" not in widget.evaluate("host => host.shadowRoot.textContent")
    page.get_by_role("radio").nth(3).check()
    button.click()
    expect(widget.get_by_role("status")).to_have_text(thanks)


def test_the_hosted_page_and_its_widget_speak_german(new_context, local_stack, translated_form):
    page = new_context(locale="de-DE").new_page()
    page.goto(f"{local_stack.api}/f/{translated_form}")

    assert page.evaluate("document.documentElement.lang") == "de"
    expect(page.locator("[data-feedback-form] .status")).to_be_attached()  # the widget took over
    expect(page.get_by_role("group", name="Wie zufrieden sind Sie mit Ihrer Erfahrung?")).to_be_visible()
    expect(page.get_by_role("radio", name="1 (Sehr unzufrieden)")).to_be_visible()
    expect(page.get_by_role("textbox", name="Erzählen Sie uns mehr (optional)")).to_be_visible()


def test_an_unshipped_language_falls_back_to_english_unless_the_form_has_it(
    new_context, host_site, local_stack
):
    form_id = create_form(
        local_stack, "--string", "sv.send=Skicka", "--string", "sv.question=Hur nöjd är du?"
    )
    swedish = new_context(locale="sv-SE").new_page()
    swedish.goto(host_site.url("inline.html", form=form_id))
    expect(swedish.get_by_role("button", name="Skicka", exact=True)).to_be_visible()
    expect(swedish.get_by_role("group", name="Hur nöjd är du?")).to_be_visible()
    # Everything the form does not override in Swedish is English.
    expect(swedish.get_by_role("textbox", name="Tell us more (optional)")).to_be_visible()

    japanese = new_context(locale="ja-JP").new_page()
    japanese.goto(host_site.url("inline.html", form=form_id))
    expect(japanese.get_by_role("button", name="Send feedback", exact=True)).to_be_visible()


def test_a_pale_accent_keeps_text_and_focus_ring_readable(page, host_site, local_stack):
    form_id = create_form(local_stack, "--accent-color", "#ffe066")
    page.goto(host_site.url("inline.html", form=form_id))

    send = page.get_by_role("button", name="Send feedback")
    assert background(send) == "rgb(255, 224, 102)"
    assert send.evaluate("element => getComputedStyle(element).color") == "rgb(11, 18, 32)"
    assert_focus_visible(page, send)
    ring = focused(page).evaluate("element => getComputedStyle(element).outlineColor")
    assert ring == "rgb(27, 31, 36)"  # the text colour, not the pale accent


def test_the_apis_messages_come_in_the_visitors_language(
    new_context, host_site, local_stack, translated_form
):
    page = new_context(locale="es-ES").new_page()
    page.goto(host_site.url("inline.html", form=translated_form))
    page.get_by_role("textbox", name="Correo electrónico (opcional)").fill("no-es-un-correo")
    page.get_by_role("radio").nth(2).check()
    page.get_by_role("button", name="Enviar opinión").click()

    widget = page.locator("[data-feedback-form]")
    expect(widget.locator("#e-email")).to_have_text(
        "Esta no es una dirección de correo válida (como nombre@example.com)."
    )
    expect(widget.get_by_role("status")).to_have_text("Revisa los campos marcados.")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("locale", ["de-DE", "pt-BR"])
def test_long_translations_fit_every_width(new_context, host_site, local_stack, width, locale):
    """German and Portuguese run longest: at 320 px the NPS scale and its end labels still fit, nothing
    scrolls sideways and every option keeps a 24-px target."""
    page = new_context(locale=locale, viewport={"width": width, "height": 800}).new_page()
    page.goto(host_site.url("inline.html", form="demo"))

    expect(page.get_by_role("radio")).to_have_count(11)
    expect(page.get_by_role("radio").first).to_have_accessible_name(re.compile(r"^0 \((Überhaupt|Nada)"))
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    widget = page.locator("[data-feedback-form]")
    assert widget.evaluate(
        "h => { const card = h.shadowRoot.querySelector('.card'); "
        "return card.scrollWidth <= card.clientWidth; }"
    )
    boxes = [option.bounding_box() for option in widget.locator(".opt").all()]
    assert all(box["width"] >= 24 and box["height"] >= 24 for box in boxes)
    assert all(box["x"] + box["width"] <= width for box in boxes)
