"""The hosted form page: a plain HTML form without JavaScript (errors beside fields, a thank-you page), and
the widget in its place when scripts run."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.browser.conftest import save_screenshot


def test_hosted_page_without_javascript_shows_errors_then_thanks(new_context, local_stack):
    page = new_context(java_script_enabled=False).new_page()
    marker = uuid.uuid4().hex[:8]
    hostile = f'</textarea><script>document.title="owned"</script> slow checkout {marker}'
    page.goto(f"{local_stack.api}/f/demo")
    expect(page.get_by_role("heading", name="Demo NPS survey")).to_be_visible()

    page.get_by_label("Tell us more (optional)").fill(hostile)
    email = page.get_by_label("Email (optional)")
    email.fill("not-an-email")
    email.press("Enter")  # implicit submission: a plain form post

    # The message the JSON API gives for the same address, beside the field.
    refused = page.request.post(f"{local_stack.api}/forms/demo/responses", data={"email": "not-an-email"})
    expect(page.locator("#email-error")).to_have_text(refused.json()["error"]["fields"]["email"])
    assert page.url == f"{local_stack.api}/forms/demo/responses"
    expect(page.get_by_role("alert")).to_contain_text("Please check the highlighted fields.")
    expect(page.get_by_label("Tell us more (optional)")).to_have_value(hostile)  # kept, as text
    expect(email).to_have_attribute("aria-invalid", "true")
    assert page.title() == "Demo NPS survey"
    assert page.locator("script").count() == 1  # widget.js only: nothing the visitor typed
    save_screenshot(page, "hosted-errors.png", full_page=True)

    page.get_by_role("radio", name="7", exact=True).check()
    email.fill("no-js@example.com")
    page.get_by_role("button", name="Send feedback").click()

    expect(page).to_have_url(f"{local_stack.api}/f/demo/thanks")
    expect(page.get_by_role("status")).to_have_text("Thank you! Your feedback was received.")
    [item] = local_stack.wait_for_items(lambda item: marker in item["text"])
    assert item["text"] == hostile
    assert (item["rating"], item["author"]["email"]) == (7, "no-js@example.com")


def test_hosted_page_with_javascript_is_the_widget(page, local_stack):
    comment = f"Hosted page with scripts, nice {uuid.uuid4().hex[:8]}"
    page.goto(f"{local_stack.api}/f/demo")
    status = page.locator("[data-feedback-form] .status")
    expect(status).to_be_attached()  # the widget replaced the plain form
    assert page.evaluate("!!document.querySelector('[data-feedback-form]').shadowRoot")

    page.get_by_role("radio", name="10 (Extremely likely)").check()
    # By role: the plain form is still in the light DOM (not rendered); the widget's textarea is shown.
    page.get_by_role("textbox", name="Tell us more (optional)").fill(comment)
    page.get_by_role("button", name="Send feedback").click()

    expect(status).to_have_text("Thank you! Your feedback was sent.")
    assert page.url == f"{local_stack.api}/f/demo"
    [item] = local_stack.wait_for_items(lambda item: item["text"] == comment)
    assert item["rating"] == 10
    assert item["permalink"] == f"{local_stack.api}/f/demo"
