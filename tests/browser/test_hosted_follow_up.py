"""The follow-up question on the hosted page with JavaScript disabled, for a form configured over HTTP (PUT
/forms/{id} with an `admin` token the tokens CLI minted): the score first, then the chosen band's question,
stored once with its question; at 320 px, 768 px and desktop widths, every control named."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import save_screenshot
from tests.browser.test_widget import FOCUS_OUTLINE_JS

WIDTHS = [320, 768, 1280]
QUESTION = "What should we improve?"


@pytest.fixture(scope="module")
def admin_token(local_stack) -> str:
    created = local_stack.cli("tokens", "create", "--scope", "admin", "--name", "browser tests")
    assert created.returncode == 0, created.stderr
    return next(line.split()[-1] for line in created.stdout.splitlines() if line.startswith("token:"))


def put_form(page, local_stack, admin_token: str, config: dict) -> str:
    """A new form (its own id: the stack caches forms) created over HTTP; its id."""
    form_id = f"t-{uuid.uuid4().hex[:10]}"
    created = page.request.put(
        f"{local_stack.api}/forms/{form_id}",
        data=config,
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"},
    )
    assert created.status == 201, created.text()
    assert created.headers["etag"] == '"1"'
    return form_id


@pytest.mark.parametrize("width", WIDTHS)
def test_without_javascript_the_score_then_its_follow_up_question(
    new_context, local_stack, admin_token, width
):
    page = new_context(java_script_enabled=False, viewport={"width": width, "height": 900}).new_page()
    config = {"name": "Checkout NPS", "follow_up": {"detractor": QUESTION, "promoter": "What do you love?"}}
    form_id = put_form(page, local_stack, admin_token, config)
    marker = uuid.uuid4().hex[:8]

    page.goto(f"{local_stack.api}/f/{form_id}")
    expect(page.get_by_role("textbox")).to_have_count(0)  # the score alone first
    expect(page.get_by_role("radio")).to_have_count(11)
    page.get_by_role("radio", name="3", exact=True).check()
    page.get_by_role("button", name="Next").click()

    expect(page).to_have_url(f"{local_stack.api}/forms/{form_id}/responses")
    answer = page.get_by_role("textbox", name=QUESTION)
    expect(answer).to_be_visible()
    expect(page.get_by_text("Your rating: 3/10")).to_be_visible()
    expect(page.get_by_role("link", name="Change")).to_have_attribute("href", f"../../f/{form_id}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing overflows the width
    if width == 320:
        save_screenshot(page, "hosted-follow-up-no-js.png", full_page=True)
    answer.fill(f"Checkout is slow {marker}")
    page.get_by_role("textbox", name="Email (optional)").fill("no-js@example.com")
    page.get_by_role("button", name="Send feedback").click()

    expect(page).to_have_url(f"{local_stack.api}/f/{form_id}/thanks")
    [item] = local_stack.wait_for_items(lambda item: marker in item["text"])
    assert item["rating"] == 3
    assert item["metadata"]["follow_up_question"] == QUESTION


def test_change_goes_back_to_the_score_and_a_promoter_gets_its_question(
    new_context, local_stack, admin_token
):
    page = new_context(java_script_enabled=False).new_page()
    config = {"name": "Checkout NPS", "follow_up": {"detractor": QUESTION, "promoter": "What do you love?"}}
    form_id = put_form(page, local_stack, admin_token, config)
    page.goto(f"{local_stack.api}/f/{form_id}")
    page.get_by_role("radio", name="2", exact=True).check()
    page.get_by_role("button", name="Next").click()
    change = page.get_by_role("link", name="Change")
    # The no-JS step is a page navigation: a Tab pressed before it has loaded lands on the old page.
    expect(change).to_be_visible()
    page.wait_for_load_state("load")

    page.keyboard.press("Tab")  # the first control of the answer step: the way back, visibly focused
    expect(change).to_be_focused()
    assert change.evaluate(FOCUS_OUTLINE_JS) == ["solid", 3.0]
    page.keyboard.press("Enter")
    page.get_by_role("radio", name=re.compile(r"^10 ")).check()
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_role("textbox", name="What do you love?")).to_be_visible()
    expect(page.get_by_role("textbox", name=QUESTION)).to_have_count(0)
