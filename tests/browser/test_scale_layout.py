"""The rating scale's geometry on phones and desktops, in the widget (inline and floating) and on the hosted
page without JavaScript: every option on its intended row in order, nothing overflowing, the end labels
aligned with the first and last option, and every target at least 24 by 24 CSS px (WCAG 2.5.8)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect

MIN_TARGET_PX = 24  # WCAG 2.2 SC 2.5.8 Target Size (Minimum)
ALIGN_TOLERANCE_PX = 2
LABEL_DISTANCE_PX = 12  # an end label sits right next to its option's row
NPS_LABELS = ("Not at all likely", "Extremely likely")
CSAT_LABELS = ("Very dissatisfied", "Very satisfied")
STARS_LABELS = ("Poor", "Excellent")
NARROW_NPS_ROWS = [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
WIDE_NPS_ROWS = [list(range(11))]
FIVE_ROWS = [[1, 2, 3, 4, 5]]

# Measures the scale inside `element` (a widget host: its shadow root; the hosted page: its form). An end
# label is measured by its text (a Range), not its box: the text is what must sit under 0 or 10.
GEOMETRY_JS = """(element, [lowText, highText]) => {
    const scope = element.shadowRoot || element;
    const box = (thing) => {
        const r = thing.getBoundingClientRect();
        return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height};
    };
    const textBox = (text) => {
        const leaf = [...scope.querySelectorAll('*')].find((e) => e.children.length === 0 &&
            e.textContent.trim() === text && e.getClientRects().length);
        if (!leaf) return null;
        const range = document.createRange();
        range.selectNodeContents(leaf);
        return box(range);
    };
    const radios = [...scope.querySelectorAll('input[name=rating]')];
    return {
        options: radios.map((radio) => ({value: Number(radio.value), target: box(radio.closest('label')),
                                         input: box(radio)})),
        container: box(scope.querySelector('fieldset')),
        low: textBox(lowText),
        high: textBox(highText),
        viewport: window.innerWidth,
        page_width: document.documentElement.scrollWidth,
    };
}"""


@dataclass(frozen=True)
class Case:
    surface: str  # "inline" or "floating" widget on a host page; "hosted": /f/{id} without JavaScript
    form: str
    width: int
    rows: list[list[int]]
    labels: tuple[str, str]

    def __str__(self) -> str:
        return f"{self.surface}-{self.form}-{self.width}px"


SURFACES = ("inline", "floating", "hosted")
CASES = [
    *(
        Case(surface, "demo", width, NARROW_NPS_ROWS, NPS_LABELS)
        for surface in SURFACES
        for width in (320, 360)
    ),
    Case("inline", "demo", 1000, WIDE_NPS_ROWS, NPS_LABELS),
    Case("floating", "demo", 1000, WIDE_NPS_ROWS, NPS_LABELS),
    Case("hosted", "demo", 1000, WIDE_NPS_ROWS, NPS_LABELS),
    *(
        Case(surface, form, 320, FIVE_ROWS, labels)
        for surface in SURFACES
        for form, labels in (("layout-csat", CSAT_LABELS), ("layout-stars", STARS_LABELS))
    ),
]


@pytest.fixture(scope="module")
def layout_forms(local_stack) -> None:
    for form_id, scale in (("layout-csat", "csat"), ("layout-stars", "stars")):
        name = f"Layout {scale}"
        created = local_stack.cli("forms", "create", "--id", form_id, "--name", name, "--scale", scale)
        assert created.returncode == 0, created.stderr


def measure(new_context, host_site, local_stack, case: Case) -> dict[str, Any]:
    viewport = {"width": case.width, "height": 800}
    if case.surface == "hosted":
        page = new_context(viewport=viewport, java_script_enabled=False).new_page()
        page.goto(f"{local_stack.api}/f/{case.form}")
        scope = page.locator("form.card")
    else:
        page = new_context(viewport=viewport).new_page()
        page.goto(host_site.url(f"{case.surface}.html", form=case.form))
        if case.surface == "floating":
            page.get_by_role("button", name="Feedback", exact=True).click()
            expect(page.get_by_role("dialog")).to_be_visible()
            scope = page.locator("[data-feedback-widget]")
        else:
            scope = page.locator("[data-feedback-form]")
    expect(page.get_by_role("radio").first).to_be_visible()
    return scope.evaluate(GEOMETRY_JS, list(case.labels))


def rows_of(options: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The options grouped by the row they are on (top to bottom), each row left to right."""
    rows: list[list[dict[str, Any]]] = []
    for option in sorted(options, key=lambda o: (o["target"]["top"], o["target"]["left"])):
        if rows and abs(rows[-1][0]["target"]["top"] - option["target"]["top"]) <= ALIGN_TOLERANCE_PX:
            rows[-1].append(option)
        else:
            rows.append([option])
    return [sorted(row, key=lambda o: o["target"]["left"]) for row in rows]


def assert_scale_reads_correctly(geometry: dict[str, Any], case: Case) -> None:
    rows = rows_of(geometry["options"])
    assert [[o["value"] for o in row] for row in rows] == case.rows

    container = geometry["container"]
    assert geometry["page_width"] <= geometry["viewport"], "the page scrolls sideways"
    for row in rows:
        widths = [o["target"]["width"] for o in row]
        assert max(widths) - min(widths) <= 1, f"cells of one row differ in width: {widths}"
        for left, right in itertools.pairwise(row):
            assert left["target"]["right"] <= right["target"]["left"], "options overlap"
        for option in row:
            target, control = option["target"], option["input"]
            assert container["left"] - 0.5 <= target["left"] and target["right"] <= container["right"] + 0.5
            assert target["left"] >= 0 and target["right"] <= geometry["viewport"]
            for name, measured in (("label", target), ("radio", control)):
                size = f"{measured['width']:.0f} x {measured['height']:.0f} px"
                assert min(measured["width"], measured["height"]) >= MIN_TARGET_PX, (
                    f"option {option['value']}'s {name} is {size}"
                )

    low, high = geometry["low"], geometry["high"]
    assert low is not None and high is not None, f"end labels {case.labels} are not shown"
    first, last = rows[0][0]["target"], rows[-1][-1]["target"]
    assert abs(low["left"] - first["left"]) <= ALIGN_TOLERANCE_PX, (low, first)
    assert abs(high["right"] - last["right"]) <= ALIGN_TOLERANCE_PX, (high, last)
    assert low["right"] <= container["right"] + 0.5 and high["left"] >= container["left"] - 0.5
    if len(rows) > 1:
        # Two rows: the low label opens the scale above its first option, the high label closes it below.
        assert 0 <= first["top"] - low["bottom"] <= LABEL_DISTANCE_PX, (low, first)
    else:
        assert 0 <= low["top"] - first["bottom"] <= LABEL_DISTANCE_PX, (low, first)
        assert low["right"] < high["left"], "the end labels overlap"
    assert 0 <= high["top"] - last["bottom"] <= LABEL_DISTANCE_PX, (high, last)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_scale_reads_correctly(new_context, host_site, local_stack, layout_forms, case):
    assert_scale_reads_correctly(measure(new_context, host_site, local_stack, case), case)


def test_the_layout_check_catches_a_wrapped_scale():
    """The 360-px defect as reported: 9 and 10 wrapped under 8, "Extremely likely" at the far right."""
    cell, gap = 26, 4

    def option(value: int, column: int, row: int) -> dict[str, Any]:
        left, top = column * (cell + gap), row * 40
        height = 34
        target = {
            "left": left,
            "right": left + cell,
            "top": top,
            "bottom": top + height,
            "width": cell,
            "height": height,
        }
        return {"value": value, "target": target, "input": target}

    options = [option(v, v % 9, v // 9) for v in range(11)]
    wrapped = {
        "options": options,
        "container": {"left": 0, "right": 278, "top": 0, "bottom": 120},
        "low": {"left": 0, "right": 100, "top": 78, "bottom": 92},
        "high": {"left": 178, "right": 278, "top": 78, "bottom": 92},
        "viewport": 360,
        "page_width": 360,
    }
    with pytest.raises(AssertionError):  # not the intended rows
        assert_scale_reads_correctly(wrapped, Case("inline", "demo", 360, NARROW_NPS_ROWS, NPS_LABELS))
    # Even taken as the intended rows, "Extremely likely" is not under 10.
    as_wrapped = Case("inline", "demo", 360, [list(range(9)), [9, 10]], NPS_LABELS)
    with pytest.raises(AssertionError, match="'right': 278"):
        assert_scale_reads_correctly(wrapped, as_wrapped)
