"""What a customer meets when a response is refused: the API's messages in the language the form is shown
in, focus on the first field to fix, and a refusal no field can fix said in the visitor's language (never
"check the highlighted fields" with none highlighted), and a slow network that never leaves the form stuck
on "Sending…"."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import OUTBOX_KEY


@pytest.fixture(scope="module")
def email_form(local_stack) -> str:
    """An NPS form that requires an email (its own id: the stack caches forms)."""
    form_id = f"a-{uuid.uuid4().hex[:10]}"
    created = local_stack.cli("forms", "create", "--id", form_id, "--name", "Spring NPS", "--require-email")
    assert created.returncode == 0, created.stderr
    return form_id


def test_a_link_naming_a_language_gets_the_apis_messages_in_it(new_context, local_stack, email_form):
    """An English browser on the hosted page's French link: the form is French, so are its errors."""
    page = new_context(locale="en-US").new_page()
    page.goto(f"{local_stack.api}/f/{email_form}?lang=fr")
    widget = page.locator("[data-feedback-form]")
    send = page.get_by_role("button", name="Envoyer mon avis")
    expect(send).to_be_visible()

    with page.expect_request(lambda request: request.method == "POST") as posted:
        send.click()
    assert posted.value.post_data_json["language"] == "fr"
    expect(widget.locator("#e-rating")).to_have_text("Choisissez une note ou écrivez un commentaire.")
    required = "Saisissez votre adresse e-mail : ce formulaire en a besoin."
    expect(widget.locator("#e-email")).to_have_text(required)
    expect(widget.get_by_role("status")).to_have_text("Veuillez vérifier les champs signalés.")


def test_the_browsers_own_tag_is_sent_when_the_form_speaks_its_language(new_context, host_site, email_form):
    """A Canadian French browser: the form is French, and the response keeps the browser's whole tag."""
    page = new_context(locale="fr-CA").new_page()
    page.goto(host_site.url("inline.html", form=email_form))
    with page.expect_request(lambda request: request.method == "POST") as posted:
        page.get_by_role("button", name="Envoyer mon avis").click()
    assert posted.value.post_data_json["language"] == "fr-CA"


def test_focus_goes_to_the_first_field_to_fix_in_the_forms_order(page, host_site, email_form):
    """The API names the email before the rating; a keyboard or screen-reader user still starts at the
    rating, the first field of the form, and goes on down."""
    page.goto(host_site.url("inline.html", form=email_form))
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.get_by_role("button", name="Send feedback").click()
    assert list(json.loads(answer.value.body())["error"]["fields"]) == ["email", "rating"]

    expect(page.get_by_role("radio", name="0 (Not at all likely)")).to_be_focused()
    expect(page.get_by_label("Email", exact=True)).to_have_attribute("aria-invalid", "true")


def refuse_with(page, api: str, form_id: str, status: int, error: dict) -> None:
    """The API answers the response POST with `status` and `error`, readable by the widget (CORS)."""

    def answer(route) -> None:
        if route.request.method != "POST":
            route.continue_()  # the CORS preflight
            return
        headers = {"Access-Control-Allow-Origin": "*", "Content-Type": "application/json"}
        route.fulfill(status=status, headers=headers, body=json.dumps({"error": error}))

    page.route(f"{api}/forms/{form_id}/responses", answer)


def test_a_form_deleted_after_the_page_loaded_says_sorry_in_the_visitors_language(
    new_context, host_site, local_stack
):
    page = new_context(locale="de-DE").new_page()
    warnings: list[str] = []
    page.on("console", lambda message: warnings.append(message.text) if message.type == "warning" else None)
    gone = {"code": "unknown_form", "message": "This feedback form does not exist."}
    refuse_with(page, local_stack.api, "demo", 404, gone)
    page.goto(host_site.url("inline.html"))
    page.get_by_role("radio", name="9", exact=True).check()
    page.get_by_role("button", name="Feedback senden").click()

    widget = page.locator("[data-feedback-form]")
    sorry = "Leider konnte Ihr Feedback nicht gesendet werden."
    expect(widget.get_by_role("status")).to_have_text(sorry)
    expect(widget.locator("#e-form")).to_be_hidden()
    assert "does not exist" not in widget.evaluate("host => host.shadowRoot.textContent")
    assert widget.evaluate("host => host.shadowRoot.querySelectorAll('[aria-invalid]').length") == 0
    # The site's developer learns why, in the console.
    assert any("unknown_form" in warning and "does not exist" in warning for warning in warnings), warnings


def test_a_request_that_hangs_is_saved_and_the_form_is_not_stuck(page, host_site, local_stack):
    """A network that never answers: after a while the visitor is told it is saved for the next visit,
    and the next page load sends it."""
    comment = f"Sent on a dead train connection {uuid.uuid4().hex[:8]}"
    hung: list = []
    page.route(
        f"{local_stack.api}/forms/demo/responses",
        lambda route: hung.append(route) if route.request.method == "POST" else route.continue_(),
    )
    page.clock.install()
    page.goto(host_site.url("inline.html"))
    page.get_by_role("radio", name="4", exact=True).check()
    page.get_by_label("Tell us more (optional)").fill(comment)
    send = page.get_by_role("button", name="Send feedback")
    send.click()
    widget = page.locator("[data-feedback-form]")
    expect(widget.get_by_role("status")).to_have_text("Sending…")
    expect(send).to_be_disabled()

    page.clock.run_for(60_000)
    expect(widget.get_by_role("status")).to_contain_text("saved on this device")
    saved = json.loads(page.evaluate(f"localStorage.getItem('{OUTBOX_KEY}')"))
    assert [entry["body"]["comment"] for entry in saved] == [comment]

    page.unroute(f"{local_stack.api}/forms/demo/responses")
    page.reload()
    page.wait_for_function(f"() => localStorage.getItem('{OUTBOX_KEY}') === null")
    [item] = local_stack.wait_for_items(lambda item: item["text"] == comment)
    assert item["rating"] == 4


@pytest.mark.parametrize("status", [429, 503])
def test_a_busy_api_is_not_called_the_visitors_network(new_context, host_site, local_stack, status):
    """A campaign's burst: the API throttles (429) or is down (503). The visitor, online all along, is not
    told they are offline; the response is saved for their next visit, in their language."""
    page = new_context(locale="fr-FR").new_page()
    busy = {"code": "too_many_requests", "message": "Too many requests."}
    refuse_with(page, local_stack.api, "demo", status, busy)
    page.goto(host_site.url("inline.html"))
    page.get_by_role("radio", name="8", exact=True).check()
    page.get_by_role("button", name="Envoyer mon avis").click()

    widget = page.locator("[data-feedback-form]")
    expect(widget.get_by_role("status")).to_have_text(
        "Désolé, votre avis n\u2019a pas pu être envoyé pour le moment. Il est enregistré sur cet "
        "appareil et sera envoyé lors de votre prochaine visite."
    )
    assert "hors ligne" not in widget.evaluate("host => host.shadowRoot.textContent")
    saved = json.loads(page.evaluate(f"localStorage.getItem('{OUTBOX_KEY}')"))
    assert [entry["body"]["rating"] for entry in saved] == [8]


# Where a text's first and last characters are drawn, and its block's right edge against the card's.
TEXT_ORDER_JS = """element => {
    const node = element.firstChild;
    const at = (index) => { const range = document.createRange(); range.setStart(node, index);
        range.setEnd(node, index + 1); return range.getBoundingClientRect().left; };
    const card = (element.closest('.card') || element.closest('main')).getBoundingClientRect();
    const box = document.createRange(); box.selectNodeContents(element);
    return {first: at(0), last: at(node.length - 1),
            gap: card.right - box.getBoundingClientRect().right};
}"""


def test_english_words_in_an_arabic_form_keep_their_order(new_context, host_site, local_stack):
    """A team translated its question and button into Arabic, not the rest: the English texts left in the
    right-to-left form read left to right ("(optional)", the full stop at the end), still on the right; in
    the widget and on the hosted page without JavaScript."""
    form_id = f"a-{uuid.uuid4().hex[:10]}"
    created = local_stack.cli(
        "forms", "create", "--id", form_id, "--name", "Spring NPS", "--require-email",
        "--string", "ar.question=هل توصي بمتجرنا لصديق؟", "--string", "ar.send=إرسال",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    page = new_context(locale="ar").new_page()
    page.goto(host_site.url("inline.html", form=form_id))
    page.get_by_role("button", name="إرسال").click()

    widget = page.locator("[data-feedback-form]")
    expect(widget.locator("#e-rating")).to_have_text("Choose a rating or write a comment.")
    for text in [widget.locator("#cl"), widget.locator("#e-rating"), widget.get_by_role("status")]:
        drawn = text.evaluate(TEXT_ORDER_JS)
        assert drawn["first"] < drawn["last"], (text, drawn)  # left to right
        assert drawn["gap"] < 40, (text, drawn)  # aligned with the form's right-hand side
    arabic = widget.locator("legend").evaluate(TEXT_ORDER_JS)
    assert arabic["first"] > arabic["last"] and arabic["gap"] < 40

    # The hosted page without JavaScript, refused the same way: its English texts read the same.
    hosted = new_context(locale="ar", java_script_enabled=False).new_page()
    hosted.goto(f"{local_stack.api}/f/{form_id}")
    hosted.get_by_role("button", name="إرسال").click()
    expect(hosted.locator("#rating-error")).to_have_text("Choose a rating or write a comment.")
    for text in [
        hosted.locator("label[for=comment]"),
        hosted.locator("#rating-error"),
        hosted.locator(".alert p"),
    ]:
        drawn = text.evaluate(TEXT_ORDER_JS)
        assert drawn["first"] < drawn["last"], (text, drawn)
        assert drawn["gap"] < 60, (text, drawn)


# The WCAG contrast ratio of an element's focus outline against the widget card's (or page card's) background.
RING_CONTRAST_JS = """element => {
    const target = element.type === 'radio' ? element.nextElementSibling : element;
    const rgb = (text) => text.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const luminance = (text) => { const [r, g, b] = rgb(text).map((v) => v / 255)
        .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
        return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
    const ring = luminance(getComputedStyle(target).outlineColor);
    const card = luminance(getComputedStyle(element.closest('.card')).backgroundColor);
    return (Math.max(ring, card) + 0.05) / (Math.min(ring, card) + 0.05);
}"""


def test_a_dark_brand_colour_keeps_a_visible_focus_ring_in_dark_mode(new_context, host_site, local_stack):
    """A navy brand colour on a visitor's dark mode: the focus ring, drawn in the brand colour, vanished
    into the dark card (1.3:1). It takes the text colour there, as a pale accent's does in light mode."""
    form_id = f"a-{uuid.uuid4().hex[:10]}"
    created = local_stack.cli(
        "forms", "create", "--id", form_id, "--name", "Navy", "--accent-color", "#1a237e"
    )
    assert created.returncode == 0, created.stderr

    page = new_context(color_scheme="dark").new_page()
    page.goto(host_site.url("inline.html", form=form_id))
    send = page.get_by_role("button", name="Send feedback")
    expect(send).to_be_visible()
    radio = page.get_by_role("radio", name="5", exact=True)
    for control in (radio, send):
        control.focus()
        assert control.evaluate(RING_CONTRAST_JS) >= 3, control

    hosted = new_context(color_scheme="dark", java_script_enabled=False).new_page()
    hosted.goto(f"{local_stack.api}/f/{form_id}")
    for control in (hosted.get_by_role("radio", name="5", exact=True), hosted.get_by_role("button")):
        control.focus()
        assert control.evaluate(RING_CONTRAST_JS) >= 3, control

    light = new_context(color_scheme="light").new_page()  # where the brand colour itself is the ring
    light.goto(host_site.url("inline.html", form=form_id))
    light.get_by_role("button", name="Send feedback").focus()
    assert light.get_by_role("button", name="Send feedback").evaluate(RING_CONTRAST_JS) >= 3


def test_a_site_taken_off_the_forms_origins_meanwhile_is_not_called_offline(
    new_context, host_site, local_stack
):
    """The team moved the form to its new shop's origin while a visitor had the old page open: the API
    refuses the site without CORS headers, so the browser reports only a failed fetch. The visitor,
    online, is told it could not be sent just now, never that they are offline."""
    page = new_context(locale="de-DE").new_page()
    page.goto(host_site.url("inline.html"))
    page.get_by_role("radio", name="6", exact=True).check()
    # A CORS refusal reaches the page as a failed fetch only, as a network error does (Playwright's own
    # answers skip the CORS check, so the failure is made directly).
    page.route(f"{local_stack.api}/forms/demo/responses", lambda route: route.abort("failed"))
    page.get_by_role("button", name="Feedback senden").click()

    status = page.locator("[data-feedback-form]").get_by_role("status")
    expect(status).to_contain_text("Leider konnte Ihr Feedback gerade nicht gesendet werden.")
    assert "offline" not in status.inner_text()

    offline = new_context(locale="de-DE").new_page()  # the browser itself offline: that is said
    offline.goto(host_site.url("inline.html"))
    offline.get_by_role("radio", name="6", exact=True).check()
    offline.context.set_offline(True)
    offline.get_by_role("button", name="Feedback senden").click()
    expect(offline.locator("[data-feedback-form]").get_by_role("status")).to_contain_text(
        "Sie scheinen offline zu sein."
    )
