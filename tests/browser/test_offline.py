"""A response the network lost is kept in localStorage, sent again on the next page load, and stored once."""

from __future__ import annotations

import json
import uuid

from playwright.sync_api import expect

from tests.browser.conftest import OUTBOX_KEY

OFFLINE_MESSAGE = "saved on this device"
OUTBOX_EMPTY = f"() => localStorage.getItem('{OUTBOX_KEY}') === null"


def outbox(page) -> list[dict]:
    return json.loads(page.evaluate(f"localStorage.getItem('{OUTBOX_KEY}') || '[]'"))


def fill_and_send(page, comment: str) -> None:
    page.get_by_role("radio", name="2", exact=True).check()
    page.get_by_label("Tell us more (optional)").fill(comment)
    page.get_by_role("button", name="Send feedback").click()


def posts_to_the_api(page, api: str) -> list[str]:
    """Records the response POSTs this page sends from now on (preflights excluded)."""
    sent: list[str] = []
    page.on(
        "request",
        lambda r: sent.append(r.url) if r.method == "POST" and r.url.startswith(api) else None,
    )
    return sent


def test_offline_response_is_sent_on_the_next_page_load_and_stored_once(page, host_site, local_stack):
    comment = f"Sent while offline, the app was slow {uuid.uuid4().hex[:8]}"
    page.goto(host_site.url("inline.html"))
    expect(page.get_by_role("button", name="Send feedback")).to_be_visible()

    page.context.set_offline(True)
    fill_and_send(page, comment)
    expect(page.locator("[data-feedback-form] .status")).to_contain_text(OFFLINE_MESSAGE)
    [pending] = outbox(page)
    assert pending["body"]["comment"] == comment
    page.context.set_offline(False)

    sent = posts_to_the_api(page, local_stack.api)
    page.reload()
    page.wait_for_function(OUTBOX_EMPTY)
    assert len(sent) == 1
    [item] = local_stack.wait_for_items(lambda item: item["text"] == comment)
    assert item["external_id"] == pending["id"]
    assert item["rating"] == 2

    # Nothing is left to send: another visit sends nothing.
    page.reload()
    expect(page.get_by_role("button", name="Send feedback")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert len(sent) == 1
    local_stack.wait_until_queue_drained()
    assert [i["text"] for i in local_stack.stored()].count(comment) == 1


def test_answer_lost_after_the_api_accepted_is_resent_and_still_stored_once(page, host_site, local_stack):
    """The API queued the response but the browser never saw the 202 (connection reset): the widget keeps
    it and resends it next time with the same response id, and the store keeps one item."""
    comment = f"Accepted but the answer was lost, annoying {uuid.uuid4().hex[:8]}"
    accepted: list[int] = []

    def accept_then_drop(route) -> None:
        if route.request.method != "POST":
            route.continue_()  # the CORS preflight
            return
        accepted.append(route.fetch().status)  # the API receives it …
        route.abort("connectionreset")  # … and the browser sees a network failure

    page.route(f"{local_stack.api}/forms/demo/responses", accept_then_drop)
    page.goto(host_site.url("inline.html"))
    expect(page.get_by_role("button", name="Send feedback")).to_be_visible()
    fill_and_send(page, comment)
    expect(page.locator("[data-feedback-form] .status")).to_contain_text(OFFLINE_MESSAGE)
    assert accepted == [202]
    [pending] = outbox(page)
    [first] = local_stack.wait_for_items(lambda item: item["text"] == comment)

    page.unroute_all()
    sent = posts_to_the_api(page, local_stack.api)
    page.reload()
    page.wait_for_function(OUTBOX_EMPTY)
    assert len(sent) == 1  # sent a second time …
    local_stack.wait_until_queue_drained()
    items = [item for item in local_stack.stored() if item["text"] == comment]
    assert [item["feedback_id"] for item in items] == [first["feedback_id"]]  # … stored once
    assert first["external_id"] == pending["id"]
