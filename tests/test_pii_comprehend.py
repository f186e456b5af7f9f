"""PII redaction with Amazon Comprehend: ComprehendPiiRedactor through a botocore Stubber (offsets, scores,
types, errors, the prefilter and the pattern backstop), and the ANALYZER setting that chooses it."""

from __future__ import annotations

import pytest

from chalicelib.analysis.base import AnalysisFailed, Document, truncate_utf8
from chalicelib.analysis.redaction import (
    MAX_TEXT_BYTES,
    ComprehendPiiRedactor,
    PatternRedactor,
    Redaction,
    configured_redactor,
)
from chalicelib.config import settings
from tests.test_pii import CARD


def entity(entity_type: str, text: str, part: str, score: float = 0.99) -> dict:
    """A PiiEntity for the first occurrence of `part` in `text`, with code-point offsets (End exclusive)."""
    begin = text.index(part)
    return {"Type": entity_type, "Score": score, "BeginOffset": begin, "EndOffset": begin + len(part)}


def test_entities_are_masked_right_to_left(comprehend):
    client, stubber = comprehend
    text = "I'm at 12 Elm Street, Springfield; mail ana@example.com or call 555 0100 x7"
    stubber.add_response(
        "detect_pii_entities",
        {
            "Entities": [
                entity("PHONE", text, "555 0100 x7"),
                entity("ADDRESS", text, "12 Elm Street, Springfield"),
                entity("EMAIL", text, "ana@example.com"),
            ]
        },
        {"Text": text, "LanguageCode": "en"},
    )

    result = ComprehendPiiRedactor(client).redact([Document("k", text, "en-US")])["k"]

    assert result == Redaction(
        "I'm at [ADDRESS]; mail [EMAIL] or call [PHONE]", ["ADDRESS", "EMAIL", "PHONE"]
    )


def test_offsets_count_code_points_not_bytes(comprehend):
    client, stubber = comprehend
    text = "¡Genial! 😀 Ñandú envió todo a Calle Mayor 5, Madrid 🎉 gracias"
    address = entity("ADDRESS", text, "Calle Mayor 5, Madrid")
    # Counted in UTF-8 bytes the address would start 7 later, in UTF-16 units (the emoji) 1 later.
    assert text.encode().index(b"Calle") - address["BeginOffset"] == 7
    assert text.encode("utf-16-le").index("Calle".encode("utf-16-le")) // 2 - address["BeginOffset"] == 1
    stubber.add_response("detect_pii_entities", {"Entities": [address]}, {"Text": text, "LanguageCode": "es"})

    result = ComprehendPiiRedactor(client).redact([Document("k", text, "es")])["k"]

    assert result.text == "¡Genial! 😀 Ñandú envió todo a [ADDRESS] 🎉 gracias"


def test_score_threshold(comprehend):
    client, stubber = comprehend
    text = "Visit 12 Elm Street or 34 Oak Road"
    entities = [entity("ADDRESS", text, "12 Elm Street", 0.95), entity("ADDRESS", text, "34 Oak Road", 0.4)]
    for _ in range(2):
        stubber.add_response(
            "detect_pii_entities", {"Entities": entities}, {"Text": text, "LanguageCode": "en"}
        )
    document = Document("k", text, "en")

    # Without the pattern backstop, which would mask both street addresses whatever their score.
    default = ComprehendPiiRedactor(client, pattern_backstop=False).redact([document])["k"]
    strict = ComprehendPiiRedactor(client, min_score=0.99, pattern_backstop=False).redact([document])["k"]

    assert default.text == "Visit [ADDRESS] or 34 Oak Road"
    assert (strict.text, strict.types) == (text, [])


def test_type_filter_keeps_names_and_dates_by_default(comprehend):
    client, stubber = comprehend
    text = "Maria at desk 4 helped me on Tuesday, my account 12345678"
    entities = [
        entity("NAME", text, "Maria"),
        entity("DATE_TIME", text, "Tuesday"),
        entity("BANK_ACCOUNT_NUMBER", text, "12345678"),
    ]
    for _ in range(2):
        stubber.add_response(
            "detect_pii_entities", {"Entities": entities}, {"Text": text, "LanguageCode": "en"}
        )
    document = Document("k", text, "en")

    default = ComprehendPiiRedactor(client).redact([document])["k"]
    names_only = ComprehendPiiRedactor(client, entity_types={"NAME"}).redact([document])["k"]

    assert default == Redaction(
        "Maria at desk 4 helped me on Tuesday, my account [BANK_ACCOUNT]", ["BANK_ACCOUNT_NUMBER"]
    )
    assert names_only == Redaction("[NAME] at desk 4 helped me on Tuesday, my account 12345678", ["NAME"])


def test_overlapping_entities_merge_and_offsets_are_clamped(comprehend):
    client, stubber = comprehend
    text = "Send it to Ana Ruiz, 12 Elm Street"
    address = entity("ADDRESS", text, "Ana Ruiz, 12 Elm Street")
    name = entity("NAME", text, "Ana Ruiz")
    beyond = {"Type": "ADDRESS", "Score": 0.9, "BeginOffset": len(text) - 6, "EndOffset": len(text) + 40}
    stubber.add_response(
        "detect_pii_entities", {"Entities": [name, address, beyond]}, {"Text": text, "LanguageCode": "en"}
    )

    result = ComprehendPiiRedactor(client, entity_types={"NAME", "ADDRESS"}).redact(
        [Document("k", text, "en")]
    )

    assert result["k"] == Redaction("Send it to [ADDRESS]", ["ADDRESS"])


def test_spanish_goes_to_comprehend_french_and_unlabelled_to_patterns(comprehend):
    client, stubber = comprehend
    spanish = "Llámenme al 612 34 56 78, soy Ana"
    stubber.add_response(
        "detect_pii_entities",
        {"Entities": [entity("PHONE", spanish, "612 34 56 78")]},
        {"Text": spanish, "LanguageCode": "es"},
    )
    documents = [
        Document("es", spanish, "es-MX"),
        Document("fr", "Appelez-moi au 06 12 34 56 78, Ana", "fr"),
        Document("none", "write to bob@example.com", None),
    ]

    results = ComprehendPiiRedactor(client, prefilter=False).redact(documents)

    assert results["es"] == Redaction("Llámenme al [PHONE], soy Ana", ["PHONE"])
    assert results["fr"] == Redaction("Appelez-moi au [PHONE], Ana", ["PHONE"])
    assert results["none"] == Redaction("write to [EMAIL]", ["EMAIL"])


def test_throttling_fails_only_its_document(comprehend):
    client, stubber = comprehend
    stubber.add_client_error(
        "detect_pii_entities",
        service_error_code="ThrottlingException",
        http_status_code=400,
        expected_params={"Text": "call 555 0100", "LanguageCode": "en"},
    )
    stubber.add_response(
        "detect_pii_entities",
        {"Entities": [entity("EMAIL", "mail a@example.com", "a@example.com")]},
        {"Text": "mail a@example.com", "LanguageCode": "en"},
    )

    results = ComprehendPiiRedactor(client, prefilter=False).redact(
        [Document("throttled", "call 555 0100", "en"), Document("ok", "mail a@example.com", "en")]
    )

    assert isinstance(results["throttled"], AnalysisFailed)
    assert "ThrottlingException" in str(results["throttled"])
    assert results["ok"] == Redaction("mail [EMAIL]", ["EMAIL"])


def test_errors_about_the_text_fall_back_to_patterns(comprehend):
    client, stubber = comprehend
    text = "card 4111 1111 1111 1111, thanks"
    stubber.add_client_error(
        "detect_pii_entities",
        service_error_code="TextSizeLimitExceededException",
        http_status_code=400,
        expected_params={"Text": text, "LanguageCode": "en"},
    )

    result = ComprehendPiiRedactor(client, prefilter=False).redact([Document("k", text, "en")])["k"]

    assert result == Redaction("card [CARD], thanks", [CARD])


def test_empty_texts_are_never_sent(comprehend):
    client, _ = comprehend  # no response queued: any call would fail its document

    results = ComprehendPiiRedactor(client, prefilter=False).redact(
        [Document("empty", "", "en"), Document("blank", " \n\t ", "es")]
    )

    assert results == {"empty": Redaction("", []), "blank": Redaction(" \n\t ", [])}


def test_prefilter_skips_texts_without_digits_or_at_sign(comprehend):
    client, stubber = comprehend
    clean = "Maria was wonderful, thank you!"
    stubber.add_response("detect_pii_entities", {"Entities": []}, {"Text": clean, "LanguageCode": "en"})

    skipped = ComprehendPiiRedactor(client).redact([Document("k", clean, "en")])["k"]
    sent = ComprehendPiiRedactor(client, prefilter=False).redact([Document("k", clean, "en")])["k"]

    assert skipped == sent == Redaction(clean, [])


# What the patterns leave suspicious is still sent (prefilter.py), one case per reason.
SENT_BY_THE_PREFILTER = [
    ("an @ the email pattern refused", "write to ana(at)mail or ana@localhost"),
    ("a long digit run", "Customer ID 48213991 was charged twice"),
    ("an address the patterns found", "Deliver to 12 Elm Street, Springfield thanks"),
    ("digits beside a street word", "Mandadlo a calle mayor 5, madrid por favor"),
    ("digits beside a mask", "IBAN GB82 WEST 1234 5698 7654 33 was rejected"),
    ("a word only Comprehend has a type for", "my PIN is 4821 and it still fails"),
    ("a Spanish one", "La clave 7731 no funciona"),
]
# Harmless digits and what the patterns already masked are not.
KEPT_FROM_COMPREHEND = [
    ("a count", "I waited 5 days for an answer."),
    ("an order number", "Order #48213 still shows as pending."),
    ("an amount", "Paid $25 for express shipping."),
    ("a masked email", "You can reach me at anna.k7@mail.example.org if you need the details."),
    ("a masked phone", "Call me back on +1 415 555 0134, any time after 5pm."),
    ("a masked card", "my card 4111 1111 1111 1111 was charged twice"),
    ("a product", "The iPhone 15 app crashes on launch"),
]


@pytest.mark.parametrize(("reason", "text"), SENT_BY_THE_PREFILTER)
def test_prefilter_sends_what_the_patterns_leave_suspicious(comprehend, reason, text):
    client, stubber = comprehend
    stubber.add_response("detect_pii_entities", {"Entities": []}, {"Text": text, "LanguageCode": "en"})

    ComprehendPiiRedactor(client).redact([Document("k", text, "en")])

    stubber.assert_no_pending_responses()  # the one response was asked for: the text was sent


@pytest.mark.parametrize(("reason", "text"), KEPT_FROM_COMPREHEND)
def test_prefilter_keeps_harmless_digits_and_masked_pii_from_comprehend(comprehend, reason, text):
    client, _ = comprehend  # no response queued: a call would fail the document

    result = ComprehendPiiRedactor(client).redact([Document("k", text, "en")])["k"]

    assert result == PatternRedactor().redact_text(text)


def test_prefilter_sends_name_like_words_only_where_names_are_masked(comprehend):
    client, stubber = comprehend
    text = "The agent, Maria, was wonderful"
    stubber.add_response(
        "detect_pii_entities",
        {"Entities": [entity("NAME", text, "Maria")]},
        {"Text": text, "LanguageCode": "en"},
    )

    by_default = ComprehendPiiRedactor(client).redact([Document("k", text, "en")])["k"]
    with_names = ComprehendPiiRedactor(client, entity_types={"NAME"}).redact([Document("k", text, "en")])["k"]

    assert by_default == Redaction(text, [])
    assert with_names == Redaction("The agent, [NAME], was wonderful", ["NAME"])


def test_pattern_backstop_masks_what_comprehend_missed(comprehend):
    client, stubber = comprehend
    text = "my card 4111 1111 1111 1111 was charged twice"
    for _ in range(3):
        stubber.add_response(
            "detect_pii_entities",
            {"Entities": [entity(CARD, text, "4111 1111 1111 1111", score=0.3)]},
            {"Text": text, "LanguageCode": "en"},
        )
    document = Document("k", text, "en")

    backstop = ComprehendPiiRedactor(client, prefilter=False).redact([document])["k"]
    without = ComprehendPiiRedactor(client, prefilter=False, pattern_backstop=False).redact([document])["k"]
    cards_allowed_off = ComprehendPiiRedactor(client, prefilter=False, entity_types={"EMAIL"}).redact(
        [document]
    )["k"]

    assert backstop == Redaction("my card [CARD] was charged twice", [CARD])
    assert without == Redaction(text, [])
    assert cards_allowed_off == Redaction(text, [])


def test_long_texts_are_cut_at_100kb_and_the_rest_redacted_by_patterns(comprehend):
    client, stubber = comprehend
    head = "é" * 50_000  # exactly 100,000 UTF-8 bytes
    text = head + "é tail: bob@example.com"
    assert truncate_utf8(text, MAX_TEXT_BYTES) == head
    stubber.add_response("detect_pii_entities", {"Entities": []}, {"Text": head, "LanguageCode": "en"})

    result = ComprehendPiiRedactor(client, prefilter=False, pattern_backstop=False).redact(
        [Document("k", text, "en")]
    )["k"]

    assert result == Redaction(head + "é tail: [EMAIL]", ["EMAIL"])


def test_comprehend_path_masks_addresses_comprehend_reports_or_misses(comprehend):
    client, stubber = comprehend
    reported = "Ship to 1600 Amphitheatre Parkway, Mountain View, CA 94043 please"
    missed = "Mandadlo a Calle Mayor 5, 28013 Madrid, gracias"
    stubber.add_response(
        "detect_pii_entities",
        {"Entities": [entity("ADDRESS", reported, "1600 Amphitheatre Parkway, Mountain View, CA 94043")]},
        {"Text": reported, "LanguageCode": "en"},
    )
    stubber.add_response("detect_pii_entities", {"Entities": []}, {"Text": missed, "LanguageCode": "es"})
    documents = [
        Document("en", reported, "en"),
        Document("es", missed, "es"),
        Document("fr", "Livrez au 12 rue de la Paix, 75002 Paris", "fr"),
    ]

    results = ComprehendPiiRedactor(client).redact(documents)

    assert results["en"] == Redaction("Ship to [ADDRESS] please", ["ADDRESS"])
    assert results["es"] == Redaction("Mandadlo a [ADDRESS], gracias", ["ADDRESS"])
    assert results["fr"] == Redaction("Livrez au [ADDRESS]", ["ADDRESS"])
    assert [(s.start, s.type) for s in results["en"].spans] == [(8, "ADDRESS")]


def test_comprehend_path_masks_the_types_comprehend_has_no_name_for(comprehend):
    client, stubber = comprehend
    text = "Mi DNI es 48392017V, nací el 03/07/1988"
    dob = entity("DATE_TIME", text, "03/07/1988")
    stubber.add_response("detect_pii_entities", {"Entities": [dob]}, {"Text": text, "LanguageCode": "es"})

    result = ComprehendPiiRedactor(client, prefilter=False).redact([Document("k", text, "es")])["k"]

    assert result == Redaction(
        "Mi DNI es [NATIONAL_ID], nací el [DATE_OF_BIRTH]", ["DATE_OF_BIRTH", "NATIONAL_ID"]
    )


def test_configured_redactor_follows_the_analyzer_setting(monkeypatch):
    try:
        monkeypatch.setenv("ANALYZER", "lexicon")
        settings.cache_clear()
        assert isinstance(configured_redactor(), PatternRedactor)

        monkeypatch.setenv("ANALYZER", "comprehend")
        settings.cache_clear()
        redactor = configured_redactor(entity_types={"EMAIL"})
        assert isinstance(redactor, ComprehendPiiRedactor)
        assert redactor.entity_types == {"EMAIL"}
        assert (redactor.prefilter, redactor.min_score) == (True, 0.5)
    finally:
        settings.cache_clear()
