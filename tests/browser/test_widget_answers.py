"""What a customer meets when a response is refused: the API's messages in the language the form is shown
in, and focus on the first field to fix."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import expect


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
