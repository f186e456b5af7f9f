"""Language hints: the Accept-Language parser, the form's and source's default language (ISO 639-1), the
hint on the queued event, and the order the analyzers weigh them in (explicit > channel > confident
local detection > default language > Accept-Language > Comprehend detection)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from chalicelib import cli
from chalicelib.analysis.base import Document
from chalicelib.analysis.comprehend import ComprehendAnalyzer
from chalicelib.analysis.language import LanguageGuess
from chalicelib.analysis.lexicon import LexiconAnalyzer
from chalicelib.channels import sources
from chalicelib.channels.base import language_code
from chalicelib.channels.webhook import StandardWebhooksChannel
from chalicelib.forms import records as form_store
from chalicelib.forms.config import FormConfig
from chalicelib.http import accept_language_hint
from chalicelib.ingest.queue import decode_events
from chalicelib.models import SENTIMENT_LANGUAGES, FeedbackEvent, StoredFeedback

ACCEPT_LANGUAGE_CASES = [
    # (header, expected hint)
    ("en-US,en;q=0.9", "en"),
    ("es-MX", "es"),
    ("PT-br", "pt"),
    ("fr;q=0.5, es;q=0.7", "es"),  # by q-value, not by position
    ("de, fr", "de"),  # equal q: the order written
    ("nl-NL,nl;q=0.9,de;q=0.8", "de"),  # Dutch is not scored: the next one that is
    ("en;q=0, fr", "fr"),  # q=0: "not this one"
    ("en;q=0.000", None),
    ("zh-TW,zh;q=0.9", "zh-TW"),
    ("zh-Hant-HK", "zh-TW"),
    ("zh-CN", "zh"),
    ("*", None),
    ("*;q=0.5, ja;q=0.4", "ja"),
    ("", None),
    (None, None),
    ("nl, sv", None),
    ("de;q=1.5, fr", "fr"),  # a q above 1 is malformed: skipped
    ("de;q=abc, it", "it"),
    ("en_US", None),  # not a language range
    ("x-klingon, ko", "ko"),  # 'x' is no language the analyzers score
    (" es ; q = 0.8 , en ; q=0.3 ", "es"),
    ("a" * 2_000, None),
]


@pytest.mark.parametrize(("header", "expected"), ACCEPT_LANGUAGE_CASES)
def test_accept_language_hint(header, expected):
    assert accept_language_hint(header, SENTIMENT_LANGUAGES) == expected


@pytest.mark.parametrize(
    ("tag", "stored"),
    [
        ("en-US", "en"),
        ("pt_BR", "pt"),
        (" DE ", "de"),
        ("zh-CN", "zh"),
        ("zh-Hant", "zh-TW"),
        ("zh-Hant-MO", "zh-TW"),
        ("zh_hk", "zh-TW"),
        ("english", None),
        ("und", None),
        ("", None),
        (None, None),
    ],
)
def test_a_platforms_language_tag_is_stored_as_the_browsers_would_be(tag, stored):
    """A channel's tag and a browser's Accept-Language range name a language one way (http.primary_language):
    the read API's `language` filter finds both."""
    assert language_code(tag) == stored
    if stored and "_" not in tag:  # a header's ranges take hyphens only (RFC 9110)
        assert accept_language_hint(tag.strip(), [stored]) == stored


def test_accept_language_reads_a_bounded_number_of_entries():
    header = ", ".join(["nl"] * 50 + ["en"])

    assert accept_language_hint(header, SENTIMENT_LANGUAGES) is None


# --- the configured default language ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"), [("en", "en"), ("ES", "es"), (" pt ", "pt"), ("", None), (None, None)]
)
def test_default_language_is_stored_as_iso_639_1(given, stored):
    form = FormConfig(form_id="hinted", name="Hinted", default_language=given)
    source = sources.SourceConfig(source_id="src_hint", type="webhook", name="S", default_language=given)

    assert form.default_language == source.default_language == stored


@pytest.mark.parametrize("bad", ["english", "en-US", "xx", "e", "123", "es_ES"])
def test_a_default_language_that_is_no_iso_639_1_code_is_refused(bad):
    with pytest.raises(ValidationError, match="ISO 639-1"):
        FormConfig(form_id="hinted", name="Hinted", default_language=bad)
    with pytest.raises(ValidationError, match="ISO 639-1"):
        sources.SourceConfig(source_id="src_hint", type="webhook", name="S", default_language=bad)


def stored_form(form_id: str) -> FormConfig:
    [form] = [form for form in form_store.list_all() if form.form_id == form_id]
    return form


def test_cli_sets_checks_and_clears_a_forms_default_language(stack, capsys):
    assert cli.main(["forms", "create", "--name", "Shop", "--id", "shop", "--default-language", "ES"]) == 0
    assert stored_form("shop").default_language == "es"

    assert cli.main(["forms", "update", "shop", "--default-language", "spanish"]) == 2
    assert "--default-language" in capsys.readouterr().err
    assert stored_form("shop").default_language == "es"  # a refused change changes nothing

    assert cli.main(["forms", "update", "shop", "--default-language", ""]) == 0
    assert stored_form("shop").default_language is None


def test_cli_refuses_a_source_with_a_bad_default_language(stack, capsys):
    args = ["sources", "add", "--type", "webhook", "--name", "Zapier", "--id", "src_zap"]

    assert cli.main([*args, "--default-language", "Deutsch"]) == 2
    assert "--default-language" in capsys.readouterr().err
    assert "src_zap" not in {source.source_id for source in sources.list_all()}

    assert cli.main([*args, "--default-language", "de"]) == 0
    [source] = [source for source in sources.list_all() if source.source_id == "src_zap"]
    assert source.default_language == "de"


def test_a_hint_outside_iso_639_1_never_reaches_the_queue():
    with pytest.raises(ValidationError):
        FeedbackEvent.create(
            source_id="demo",
            external_id="x",
            channel="form",
            kind="form_response",
            language_hint="klingon",
            occurred_at=datetime.now(UTC),
            received_at=datetime.now(UTC),
        )


# --- the hint on the ack paths ----------------------------------------------------------------------------


def post_form(client, form_id: str, body: dict, accept_language: str | None = None):
    headers = {"content-type": "application/json"}
    if accept_language is not None:
        headers["accept-language"] = accept_language
    return client.http.post(f"/forms/{form_id}/responses", headers=headers, body=json.dumps(body).encode())


def test_form_hint_is_the_default_language_else_the_browsers(client, stack):
    form_store.save(FormConfig(form_id="hinted", name="Hinted", default_language="pt"))
    post_form(client, "demo", {"comment": "ok"}, accept_language="fr-CA,fr;q=0.9,en;q=0.5")
    post_form(client, "hinted", {"comment": "ok"}, accept_language="fr-CA")
    post_form(client, "demo", {"comment": "ok", "language": "de"}, accept_language="fr-CA")
    post_form(client, "demo", {"comment": "ok"})

    hints = [(e.language, e.language_hint) for body in stack.queued_bodies() for e in decode_events(body)]
    assert sorted(hints, key=str) == sorted([(None, "fr"), (None, "pt"), ("de", None), (None, None)], key=str)


def test_webhook_events_without_a_language_carry_the_sources_default(client, stack):
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    sources.save(
        sources.SourceConfig(source_id="src_es", type="webhook", name="ES", default_language="es"),
        {"signing_secret": secret},
    )
    objects = [{"id": "a", "text": "Genial"}, {"id": "b", "text": "Great", "language": "en"}]
    body = json.dumps({"type": "feedback.created", "data": objects}).encode()
    signed = StandardWebhooksChannel().sign(
        body, {"signing_secret": secret}, datetime.now(UTC), message_id="d1"
    )
    response = client.http.post(
        "/webhooks/src_es", headers={"content-type": "application/json", **signed.headers}, body=body
    )

    assert response.status_code == 200, response.body
    events = {e.external_id: e for body in stack.queued_bodies() for e in decode_events(body)}
    assert (events["a"].language, events["a"].language_hint) == (None, "es")
    assert (events["b"].language, events["b"].language_hint) == ("en", None)


def test_the_stored_item_keeps_the_settled_language_not_the_hint():
    event = FeedbackEvent.create(
        source_id="demo",
        external_id="x",
        channel="form",
        kind="form_response",
        text="ok",
        language_hint="es",
        occurred_at=datetime.now(UTC),
        received_at=datetime.now(UTC),
    )
    from chalicelib.analysis.base import skipped

    stored = StoredFeedback.from_event(event, skipped("comprehend", "x", "es"), datetime.now(UTC))

    assert stored.language == "es"
    assert "language_hint" not in stored.model_dump(mode="json")


# --- precedence in the analyzers --------------------------------------------------------------------------

CONFIDENT_SPANISH = LanguageGuess("es", confident=True, probability=0.97)
UNSURE_ENGLISH = LanguageGuess("en", confident=False, probability=0.4)


def sentiment_response(count: int) -> dict:
    scores = {"Positive": 0.9, "Negative": 0.03, "Neutral": 0.05, "Mixed": 0.02}
    return {
        "ResultList": [{"Index": i, "Sentiment": "POSITIVE", "SentimentScore": scores} for i in range(count)],
        "ErrorList": [],
    }


@pytest.mark.parametrize(
    ("document", "guess", "settled", "detected_by_comprehend"),
    [
        # the item's own language beats everything
        (Document("k", "Me encanta", "fr", hint="de"), CONFIDENT_SPANISH, "fr", False),
        # a detector confident on the text beats a default (a Spanish comment on an English-default form)
        (Document("k", "Me encanta la aplicación nueva", None, hint="en"), CONFIDENT_SPANISH, "es", False),
        # an unsure detector: the hint decides, and Comprehend is not paid to detect
        (Document("k", "Genial", None, hint="pt"), UNSURE_ENGLISH, "pt", False),
        # neither: Comprehend detects
        (Document("k", "Genial", None), UNSURE_ENGLISH, "de", True),
    ],
)
def test_comprehend_analyzer_weighs_language_in_order(
    comprehend, document, guess, settled, detected_by_comprehend
):
    client, stubber = comprehend
    if detected_by_comprehend:
        stubber.add_response(
            "batch_detect_dominant_language",
            {
                "ResultList": [{"Index": 0, "Languages": [{"LanguageCode": "de", "Score": 0.9}]}],
                "ErrorList": [],
            },
            {"TextList": [document.text]},
        )
    stubber.add_response(
        "batch_detect_sentiment",
        sentiment_response(1),
        {"TextList": [document.text], "LanguageCode": settled},
    )

    result = ComprehendAnalyzer(client, detect_language=lambda text: guess).analyze([document])["k"]

    assert result.language == settled


def test_lexicon_analyzer_uses_the_hint_only_where_detection_is_unsure(monkeypatch):
    from chalicelib.analysis import language

    guesses = {"Genial": UNSURE_ENGLISH, "Me encanta la aplicación nueva": CONFIDENT_SPANISH}
    monkeypatch.setattr(language, "detect", lambda text: guesses[text])

    results = LexiconAnalyzer().analyze(
        [
            Document("short", "Genial", None, hint="es"),
            Document("long", "Me encanta la aplicación nueva", None, hint="de"),
            Document("none", "Genial", None),
        ]
    )

    assert {key: r.language for key, r in results.items()} == {"short": "es", "long": "es", "none": "en"}
