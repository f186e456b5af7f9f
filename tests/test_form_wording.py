"""What a form asks: each scale's own question and end labels (or the form's), in the public config the
widget renders from and on the hosted page, for new forms and for forms stored before scales had wording."""

from __future__ import annotations

import re

import pytest

from chalicelib.forms import records as form_store
from chalicelib.forms.config import FormConfig
from chalicelib.models import RatingScale

SCALE_WORDING = [
    (
        RatingScale.NPS,
        "How likely are you to recommend us to a friend or colleague?",
        "Not at all likely",
        "Extremely likely",
    ),
    (RatingScale.CSAT, "How satisfied are you with your experience?", "Very dissatisfied", "Very satisfied"),
    (RatingScale.STARS, "How would you rate your experience?", "Poor", "Excellent"),
]


def wording_of(client, form_id: str) -> tuple[tuple[str, str, str], str]:
    """(question, low label, high label) of the public config, and the hosted page's HTML."""
    config = client.http.get(f"/forms/{form_id}").json_body
    return (config["question"], config["low_label"], config["high_label"]), client.http.get(
        f"/f/{form_id}"
    ).body.decode()


def assert_page_shows(html: str, question: str, low: str, high: str) -> None:
    assert f"<legend>{question}</legend>" in html
    assert f'<span class="lo" aria-hidden="true">{low}</span>' in html
    assert f'<span class="hi" aria-hidden="true">{high}</span>' in html


@pytest.mark.parametrize(("scale", "question", "low", "high"), SCALE_WORDING)
def test_each_scale_asks_its_own_question_with_its_own_end_labels(client, stack, scale, question, low, high):
    form_store.save(FormConfig(form_id=f"scale-{scale}", name="Survey", rating_scale=scale))

    shown, html = wording_of(client, f"scale-{scale}")

    assert shown == (question, low, high)
    assert_page_shows(html, question, low, high)
    first, last = scale.bounds
    assert re.search(rf'value="{first}">.*?\({low}\)</span>', html)  # each end's label, for screen readers
    assert re.search(rf'value="{last}">.*?\({high}\)</span>', html)


@pytest.mark.parametrize(("scale", "question", "low", "high"), SCALE_WORDING[1:])
def test_a_stored_form_with_the_nps_question_asks_its_own_scales(client, stack, scale, question, low, high):
    """Forms stored before each scale had its wording carry the NPS question: they show their scale's."""
    from chalicelib.store.config_records import ConfigRecords

    ConfigRecords("FORM").save(
        "legacy",
        {
            "form_id": "legacy",
            "name": "Old survey",
            "rating_scale": scale.value,
            "allowed_origins": [],
            "require_email": False,
            "redact_pii": True,
            "question": "How likely are you to recommend us to a friend or colleague?",
        },
    )
    form_store.clear_cache()

    shown, html = wording_of(client, "legacy")

    assert shown == (question, low, high)
    assert_page_shows(html, question, low, high)
    assert "recommend" not in html


def test_a_form_may_set_its_own_question_and_labels(client, stack):
    form_store.save(
        FormConfig(
            form_id="checkout",
            name="Checkout",
            rating_scale=RatingScale.STARS,
            question="  How was checkout today?  ",
            low_label="Painful",
            high_label="Smooth",
        )
    )

    shown, html = wording_of(client, "checkout")

    assert shown == ("How was checkout today?", "Painful", "Smooth")
    assert_page_shows(html, "How was checkout today?", "Painful", "Smooth")
    assert '<span class="sr">5 stars (Smooth)</span>' in html


@pytest.mark.parametrize(
    ("field", "value"),
    [("question", ""), ("question", "q" * 301), ("low_label", " "), ("high_label", "h" * 41)],
)
def test_form_texts_are_bounded(field, value):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as refused:
        FormConfig(form_id="bounded", name="Bounded", **{field: value})
    [issue] = refused.value.errors()
    expected = "string_too_long" if value.strip() else "string_too_short"
    assert (issue["loc"], issue["type"]) == ((field,), expected)
