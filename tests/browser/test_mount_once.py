"""widget.js on a page twice (a tag manager and a theme both add it): each form mounts once, whatever the
order, sync or async, and query string of the two script tags; two different forms on one page both mount.
The host pages are tests/browser/pages/twice-*.html and two-forms*.html."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import OUTBOX_KEY

SHADOW_HOSTS_JS = "() => [...document.querySelectorAll('*')].filter((e) => e.shadowRoot).length"
OUTBOX_EMPTY = f"() => localStorage.getItem('{OUTBOX_KEY}') === null"
# The two tags as sites have them: the same URL twice; a sync tag in <head> and an async one in <body> with
# another query string; an async one then a sync one; a tag manager's inserted tag plus the theme's.
TWICE = ["twice-same-url", "twice-sync-head", "twice-async-then-sync", "twice-tag-manager"]


@pytest.fixture(scope="module")
def csat_form(local_stack) -> str:
    created = local_stack.cli(
        "forms", "create", "--id", "mount-csat", "--name", "Mount CSAT", "--scale", "csat"
    )
    assert created.returncode == 0, created.stderr
    return "mount-csat"


def open_page(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("name", TWICE)
def test_two_tags_mount_one_floating_widget(page, host_site, name):
    open_page(page, host_site.url(f"{name}.html"))

    fab = page.get_by_role("button", name="Feedback", exact=True)
    expect(fab).to_have_count(1)
    assert page.locator("[data-feedback-widget]").count() == 1
    assert page.evaluate(SHADOW_HOSTS_JS) == 1

    # One tab stop, one dialog.
    page.keyboard.press("Tab")
    expect(fab).to_be_focused()
    page.keyboard.press("Tab")
    expect(fab).not_to_be_focused()
    fab.click()
    expect(page.get_by_role("dialog")).to_have_count(1)
    expect(page.get_by_role("radio", name="0 (Not at all likely)")).to_have_count(1)


def test_two_tags_mount_an_inline_form_once(page, host_site):
    open_page(page, host_site.url("twice-inline.html"))

    expect(page.get_by_role("button", name="Send feedback")).to_have_count(1)
    assert page.evaluate(SHADOW_HOSTS_JS) == 1
    assert page.locator("[data-feedback-widget]").count() == 0  # inline: no floating button as well


def test_two_tags_send_a_saved_response_once(page, host_site, local_stack):
    """Both copies would flush the outbox on load: the saved response is sent once, not once per tag."""
    comment = f"Saved while offline, sent once {uuid.uuid4().hex[:8]}"
    response_id = "w-" + uuid.uuid4().hex
    entry = {
        "id": response_id,
        "url": f"{local_stack.api}/forms/demo/responses",
        "body": {"response_id": response_id, "rating": 6, "comment": comment, "_hp": ""},
    }
    page.add_init_script(
        f"if (!sessionStorage.getItem('seeded')) {{ sessionStorage.setItem('seeded', '1');"
        f" localStorage.setItem('{OUTBOX_KEY}', {json.dumps(json.dumps([entry]))}); }}"
    )
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    open_page(page, host_site.url("twice-sync-head.html"))

    page.wait_for_function(OUTBOX_EMPTY)
    page.wait_for_load_state("networkidle")
    assert posts == [entry["url"]]
    [item] = local_stack.wait_for_items(lambda item: item["text"] == comment)
    assert item["external_id"] == response_id


def test_two_different_floating_forms_both_mount_side_by_side(page, host_site, csat_form):
    open_page(page, host_site.url("two-forms.html", form=csat_form))

    fabs = page.get_by_role("button", name="Feedback", exact=True)
    expect(fabs).to_have_count(2)
    assert page.evaluate(SHADOW_HOSTS_JS) == 2
    first, second = fabs.nth(0).bounding_box(), fabs.nth(1).bounding_box()
    assert first["y"] + first["height"] <= second["y"] or second["y"] + second["height"] <= first["y"], (
        "the two floating buttons are on top of each other"
    )
    for index, name in ((0, "Demo NPS survey"), (1, "Mount CSAT")):
        fabs.nth(index).click()
        dialog = page.get_by_role("dialog", name=name)
        expect(dialog).to_be_visible()
        panel, button = dialog.bounding_box(), fabs.nth(index).bounding_box()
        assert panel["y"] + panel["height"] <= button["y"], "the panel covers its own button"
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_two_different_inline_forms_both_mount_once(page, host_site, csat_form):
    open_page(page, host_site.url("two-forms-inline.html", form=csat_form))

    expect(page.get_by_role("button", name="Send feedback")).to_have_count(2)
    expect(page.get_by_role("radio", name="0 (Not at all likely)")).to_have_count(1)
    expect(page.get_by_role("radio", name="5 (Very satisfied)")).to_have_count(1)
    assert page.evaluate(SHADOW_HOSTS_JS) == 2
