"""PII beside the text: an e-mail's subject and attachment names, a review's title and the page URL a form
was sent from are redacted before storage like the text (chalicelib/analysis/redaction/fields.py), so they
reach no listing, export, CRM note or outbound event; ids in metadata are left alone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.analysis.redaction import PatternRedactor
from chalicelib.analysis.redaction.fields import redact_url
from chalicelib.forms import records as form_records
from chalicelib.forms.config import FormConfig
from chalicelib.models import Author, Channel, FeedbackEvent, Kind
from chalicelib.store import feedback as feedback_store
from tests.test_customers import process

NOW = datetime(2026, 12, 5, 14, 0, tzinfo=UTC)
SUBJECT = "Refund to card 5555 5555 5555 4444 please, call +33 6 12 34 56 78"
PAGE_URL = (
    "https://shop.example.com/checkout?email=priya.patel%40example.com&phone=%2B14155550132&utm_source=news"
)

# (label, url, expected url, expected types)
URL_CASES = [
    (
        "email and phone in the query",
        PAGE_URL,
        "https://shop.example.com/checkout?email=[EMAIL]&phone=[PHONE]&utm_source=news",
        {"EMAIL", "PHONE"},
    ),
    (
        "a credential-named parameter loses its value",
        "https://shop.example.com/account/reset?reset_password_token=abc123XYZ&lang=en",
        "https://shop.example.com/account/reset?reset_password_token=[PASSWORD]&lang=en",
        {"PASSWORD"},
    ),
    (
        "email and card in the path",
        "https://shop.example.com/u/priya@example.com/orders/4111111111111111",
        "https://shop.example.com/u/[EMAIL]/orders/[CARD]",
        {"EMAIL", "CREDIT_DEBIT_NUMBER"},
    ),
    (
        "campaign parameters stay byte for byte",
        "https://shop.example.com/p/iphone-15?utm_campaign=black-friday-2024&gclid=Cj0KCQiA5&q=caf%C3%A9+latte",
        "https://shop.example.com/p/iphone-15?utm_campaign=black-friday-2024&gclid=Cj0KCQiA5&q=caf%C3%A9+latte",
        set(),
    ),
    ("an order number is no phone", "https://example.com/order/48213?ref=123456", None, set()),
]


@pytest.mark.parametrize(
    ("url", "expected", "types"), [case[1:] for case in URL_CASES], ids=[case[0] for case in URL_CASES]
)
def test_redact_url(url, expected, types):
    assert redact_url(url, PatternRedactor()) == (expected or url, types)


def email_event(subject: str, attachments: str | None = None) -> FeedbackEvent:
    metadata = {"subject": subject, "recipient": "feedback@example.com", "attachment_count": 1}
    if attachments:
        metadata["attachments"] = attachments
    return FeedbackEvent.create(
        source_id="src_mail",
        external_id="mail-1@example.net",
        channel=Channel.EMAIL,
        kind=Kind.MESSAGE,
        text="My order never came",
        author=Author(email="mallory@example.net"),
        occurred_at=NOW,
        received_at=NOW,
        metadata=metadata,
    )


def form_event(form_id: str = "demo") -> FeedbackEvent:
    return FeedbackEvent.create(
        source_id=form_id,
        external_id="resp-1",
        channel=Channel.FORM,
        kind=Kind.FORM_RESPONSE,
        text="Checkout failed",
        occurred_at=NOW,
        received_at=NOW,
        permalink=PAGE_URL,
        metadata={"form_name": "Demo", "page_url": PAGE_URL},
    )


def test_an_email_subject_and_attachment_names_are_stored_redacted(stack):
    mail = email_event(SUBJECT, attachments="DNI 12345678Z.pdf, receipt.png")
    process(mail)
    stored = feedback_store.get(mail.feedback_id)
    assert stored.metadata["subject"] == "Refund to card [CARD] please, call [PHONE]"
    assert stored.metadata["attachments"] == "DNI [NATIONAL_ID].pdf, receipt.png"
    assert stored.metadata["recipient"] == "feedback@example.com"  # ours, left alone
    assert stored.text == "My order never came"
    assert stored.pii_redacted is True
    assert stored.pii_types == ["CREDIT_DEBIT_NUMBER", "NATIONAL_ID", "PHONE"]


def test_a_forms_page_url_and_permalink_are_stored_redacted(stack):
    response = form_event()
    process(response)
    stored = feedback_store.get(response.feedback_id)
    expected = "https://shop.example.com/checkout?email=[EMAIL]&phone=[PHONE]&utm_source=news"
    assert stored.metadata["page_url"] == expected
    assert stored.permalink == expected
    assert stored.pii_types == ["EMAIL", "PHONE"]


def test_a_form_with_redaction_off_keeps_its_page_url(stack):
    form_records.save(FormConfig(form_id="raw", name="Raw", redact_pii=False))
    response = form_event("raw")
    process(response)
    stored = feedback_store.get(response.feedback_id)
    assert stored.metadata["page_url"] == PAGE_URL
    assert stored.permalink == PAGE_URL
    assert stored.pii_redacted is False


def test_metadata_without_pii_is_stored_as_sent(stack):
    mail = email_event("App crashes on login, version 2.4.1")
    process(mail)
    stored = feedback_store.get(mail.feedback_id)
    assert stored.metadata == {
        "subject": "App crashes on login, version 2.4.1",
        "recipient": "feedback@example.com",
        "attachment_count": 1,
    }
    assert stored.pii_redacted is False
