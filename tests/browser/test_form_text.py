"""The words the widget asks with: the form's own question and end labels from its public config (each
scale's defaults when the API sends none), shown as text; a CSAT or stars form has no NPS wording."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

NPS_WORDING = re.compile(r"likely|recommend", re.IGNORECASE)
DEFAULT_LABELS = {
    "nps": ("Not at all likely", "Extremely likely"),
    "csat": ("Very dissatisfied", "Very satisfied"),
    "stars": ("Poor", "Excellent"),
}
# Every text a person or a screen reader gets from the widget: its text and its controls' names.
WIDGET_WORDS_JS = """host => {
    const root = host.shadowRoot;
    const names = [...root.querySelectorAll('[aria-label]')].map((e) => e.getAttribute('aria-label'));
    return [root.textContent, ...names].join(' | ');
}"""


@pytest.fixture(scope="module")
def forms(local_stack) -> dict[str, str]:
    """A form of each scale: {scale: form id}."""
    ids = {"nps": "demo"}
    for scale in ("csat", "stars"):
        ids[scale] = f"text-{scale}"
        created = local_stack.cli(
            "forms", "create", "--id", ids[scale], "--name", f"Text {scale}", "--scale", scale
        )
        assert created.returncode == 0, created.stderr
    return ids


def rewrite_config(page, api: str, form_id: str, change) -> None:
    """Serves the API's real public config of `form_id`, changed by `change(config)`."""

    def handle(route) -> None:
        response = route.fetch()
        config = response.json()
        change(config)
        route.fulfill(response=response, body=json.dumps(config))

    page.route(f"{api}/forms/{form_id}", handle)


def test_a_csat_form_shows_no_nps_wording(page, host_site, local_stack, forms):
    config = page.request.get(f"{local_stack.api}/forms/{forms['csat']}").json()
    page.goto(host_site.url("inline.html", form=forms["csat"]))

    widget = page.locator("[data-feedback-form]")
    expect(widget.locator(".lo")).to_have_text("Very dissatisfied")
    expect(widget.locator(".hi")).to_have_text("Very satisfied")
    expect(page.get_by_role("radio", name="1 (Very dissatisfied)")).to_be_visible()
    expect(page.get_by_role("radio", name="5 (Very satisfied)")).to_be_visible()
    expect(widget.locator("legend")).to_have_text(config["question"])
    words = widget.evaluate(WIDGET_WORDS_JS)
    assert not NPS_WORDING.search(words), words


@pytest.mark.parametrize("scale", DEFAULT_LABELS)
def test_end_labels_fall_back_to_the_scales_defaults(page, host_site, local_stack, forms, scale):
    """An API without `low_label`/`high_label` (before they were added): the scale's own defaults."""

    def without_labels(config: dict) -> None:
        config.pop("low_label", None)
        config.pop("high_label", None)

    rewrite_config(page, local_stack.api, forms[scale], without_labels)
    page.goto(host_site.url("inline.html", form=forms[scale]))

    low, high = DEFAULT_LABELS[scale]
    widget = page.locator("[data-feedback-form]")
    expect(widget.locator(".lo")).to_have_text(low)
    expect(widget.locator(".hi")).to_have_text(high)
    radios = page.get_by_role("radio")
    expect(radios.first).to_have_accessible_name(re.compile(rf"\({re.escape(low)}\)$"))
    expect(radios.last).to_have_accessible_name(re.compile(rf"\({re.escape(high)}\)$"))


def test_the_forms_own_question_and_labels_are_shown_as_text(page, host_site, local_stack):
    question = "Was checkout <b>easy</b> today?"

    def own_words(config: dict) -> None:
        config.update(question=question, low_label="Hard & slow", high_label="<i>Easy</i>")

    rewrite_config(page, local_stack.api, "demo", own_words)
    page.goto(host_site.url("inline.html"))

    widget = page.locator("[data-feedback-form]")
    expect(widget.locator("legend")).to_have_text(question)
    expect(widget.locator(".lo")).to_have_text("Hard & slow")
    expect(widget.locator(".hi")).to_have_text("<i>Easy</i>")
    expect(page.get_by_role("radio", name="0 (Hard & slow)")).to_be_visible()
    expect(page.get_by_role("radio", name="10 (<i>Easy</i>)")).to_be_visible()
    expect(page.get_by_role("group", name=question)).to_be_visible()
    assert widget.evaluate("host => host.shadowRoot.querySelectorAll('b, i').length") == 0
    assert not re.search(r"Not at all likely|Extremely likely", widget.evaluate(WIDGET_WORDS_JS))
