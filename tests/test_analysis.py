"""Analyzer backends: Comprehend batching, language grouping, truncation, per-document errors; the lexicon."""

from __future__ import annotations

import pytest
from botocore.stub import ANY

from chalicelib.analysis import lexicon
from chalicelib.analysis.base import AnalysisFailed, Document, primary_language, truncate_utf8
from chalicelib.analysis.comprehend import ComprehendAnalyzer
from chalicelib.analysis.lexicon import LexiconAnalyzer
from chalicelib.models import Sentiment


def sentiment_entry(index: int, label: str = "POSITIVE") -> dict:
    scores = {"Positive": 0.01, "Negative": 0.01, "Neutral": 0.01, "Mixed": 0.01}
    scores[label.capitalize()] = 0.97
    return {"Index": index, "Sentiment": label, "SentimentScore": scores}


def language_entry(index: int, code: str = "en") -> dict:
    return {"Index": index, "Languages": [{"LanguageCode": code, "Score": 0.99}]}


def test_unlabelled_texts_are_detected_then_scored_in_batches_of_25(comprehend):
    client, stubber = comprehend
    documents = [Document(key=f"d{i}", text=f"Great service number {i}") for i in range(30)]
    texts = [d.text for d in documents]
    stubber.add_response(
        "batch_detect_dominant_language",
        {"ResultList": [language_entry(i) for i in range(25)], "ErrorList": []},
        {"TextList": texts[:25]},
    )
    stubber.add_response(
        "batch_detect_dominant_language",
        {"ResultList": [language_entry(i) for i in range(5)], "ErrorList": []},
        {"TextList": texts[25:]},
    )
    stubber.add_response(
        "batch_detect_sentiment",
        {"ResultList": [sentiment_entry(i) for i in range(25)], "ErrorList": []},
        {"TextList": texts[:25], "LanguageCode": "en"},
    )
    stubber.add_response(
        "batch_detect_sentiment",
        {"ResultList": [sentiment_entry(i, "NEGATIVE") for i in range(5)], "ErrorList": []},
        {"TextList": texts[25:], "LanguageCode": "en"},
    )

    results = ComprehendAnalyzer(client).analyze(documents)

    assert {key for key, r in results.items() if r.sentiment == Sentiment.POSITIVE} == {
        f"d{i}" for i in range(25)
    }
    assert {key for key, r in results.items() if r.sentiment == Sentiment.NEGATIVE} == {
        f"d{i}" for i in range(25, 30)
    }
    assert all(r.language == "en" and r.analyzer == "comprehend" for r in results.values())
    assert results["d0"].scores.positive == pytest.approx(0.97)


def test_channel_languages_are_grouped_unsupported_skipped_and_empty_never_sent(comprehend):
    client, stubber = comprehend
    documents = [
        Document("en1", "Fantastic", "en-US"),
        Document("de1", "Schrecklich langsam", "de"),
        Document("en2", "Awful", "en"),
        Document("nl1", "Heel goed", "nl"),
        Document("empty", "   ", "en"),
    ]
    stubber.add_response(
        "batch_detect_sentiment",
        {"ResultList": [sentiment_entry(0, "NEGATIVE")], "ErrorList": []},
        {"TextList": ["Schrecklich langsam"], "LanguageCode": "de"},
    )
    stubber.add_response(
        "batch_detect_sentiment",
        {"ResultList": [sentiment_entry(0), sentiment_entry(1, "NEGATIVE")], "ErrorList": []},
        {"TextList": ["Fantastic", "Awful"], "LanguageCode": "en"},
    )

    results = ComprehendAnalyzer(client).analyze(documents)

    assert results["en1"].sentiment == Sentiment.POSITIVE
    assert results["en2"].sentiment == Sentiment.NEGATIVE
    assert (results["de1"].sentiment, results["de1"].language) == (Sentiment.NEGATIVE, "de")
    assert (results["nl1"].sentiment, results["nl1"].skipped_reason) == (None, "unsupported_language")
    assert (results["empty"].sentiment, results["empty"].skipped_reason) == (None, "empty_text")


def test_long_texts_are_truncated_to_5000_utf8_bytes_on_a_character_boundary(comprehend):
    client, stubber = comprehend
    text = "é" * 3000  # 6,000 bytes
    expected = "é" * 2500
    stubber.add_response(
        "batch_detect_sentiment",
        {"ResultList": [sentiment_entry(0)], "ErrorList": []},
        {"TextList": [expected], "LanguageCode": "fr"},
    )

    results = ComprehendAnalyzer(client).analyze([Document("long", text, "fr")])

    assert results["long"].sentiment == Sentiment.POSITIVE


def test_per_document_errors_retry_transient_and_record_permanent(comprehend):
    client, stubber = comprehend
    stubber.add_response(
        "batch_detect_sentiment",
        {
            "ResultList": [sentiment_entry(1)],
            "ErrorList": [
                {"Index": 0, "ErrorCode": "INTERNAL_SERVER_ERROR", "ErrorMessage": "try again"},
                {"Index": 2, "ErrorCode": "UNSUPPORTED_LANGUAGE", "ErrorMessage": "no"},
            ],
        },
        {"TextList": ["a b", "c d", "e f"], "LanguageCode": "en"},
    )

    results = ComprehendAnalyzer(client).analyze(
        [Document("x", "a b", "en"), Document("y", "c d", "en"), Document("z", "e f", "en")]
    )

    assert isinstance(results["x"], AnalysisFailed)
    assert results["y"].sentiment == Sentiment.POSITIVE
    assert (results["z"].sentiment, results["z"].skipped_reason) == (None, "comprehend:UNSUPPORTED_LANGUAGE")


def test_throttling_fails_only_the_documents_of_that_call(comprehend):
    client, stubber = comprehend
    stubber.add_response(
        "batch_detect_sentiment",
        {"ResultList": [sentiment_entry(0)], "ErrorList": []},
        {"TextList": ["Gut"], "LanguageCode": "de"},
    )
    stubber.add_client_error(
        "batch_detect_sentiment",
        service_error_code="ThrottlingException",
        http_status_code=400,
        expected_params={"TextList": ANY, "LanguageCode": "en"},
    )

    results = ComprehendAnalyzer(client).analyze([Document("en", "Good", "en"), Document("de", "Gut", "de")])

    assert isinstance(results["en"], AnalysisFailed)
    assert "ThrottlingException" in str(results["en"])
    assert results["de"].sentiment == Sentiment.POSITIVE


def test_undetectable_language_is_recorded(comprehend):
    client, stubber = comprehend
    stubber.add_response(
        "batch_detect_dominant_language",
        {"ResultList": [{"Index": 0, "Languages": []}], "ErrorList": []},
        {"TextList": ["???"]},
    )

    results = ComprehendAnalyzer(client).analyze([Document("q", "???")])

    assert results["q"].skipped_reason == "language_not_detected"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [("abc", 5, "abc"), ("abcdef", 3, "abc"), ("aé", 2, "a"), ("😀😀", 5, "😀"), ("", 10, "")],
)
def test_truncate_utf8(text, limit, expected):
    assert truncate_utf8(text, limit) == expected
    assert len(truncate_utf8(text, limit).encode()) <= limit


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("en-US", "en"),
        ("EN", "en"),
        ("pt_BR", "pt"),
        ("zh-TW", "zh-TW"),
        ("zh-Hant", "zh-TW"),
        ("zh", "zh"),
        ("", None),
        (None, None),
    ],
)
def test_primary_language(tag, code):
    assert primary_language(tag) == code


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Love the new app!", Sentiment.POSITIVE),
        ("I hate this, worst purchase ever", Sentiment.NEGATIVE),
        ("It arrived on Tuesday.", Sentiment.NEUTRAL),
        ("Good product but terrible delivery", Sentiment.MIXED),
    ],
)
def test_lexicon_labels_like_comprehend(text, label):
    result = LexiconAnalyzer().analyze([Document("k", text)])["k"]

    assert result.sentiment == label
    scores = result.scores
    assert scores.positive + scores.negative + scores.neutral + scores.mixed == pytest.approx(1.0, abs=0.001)
    assert (result.analyzer, result.language) == ("lexicon", "en")


def test_lexicon_skips_languages_without_a_lexicon_and_empty_text():
    results = LexiconAnalyzer().analyze([Document("it", "Molto bene", "it"), Document("e", "")])

    assert results["it"].skipped_reason == "unsupported_language"
    assert results["e"].skipped_reason == "empty_text"


def test_lexicon_scores_the_leading_5000_bytes_like_comprehend(monkeypatch):
    """VADER takes minutes on 20,000 emoji: an acknowledged item must not time its batch out."""
    analyzer = LexiconAnalyzer()
    seen: list[str] = []
    real = lexicon.score
    monkeypatch.setattr(lexicon, "score", lambda text, lang: seen.append(text) or real(text[:50], lang))

    result = analyzer.analyze([Document("k", "😡" * 20_000 + " terrible")])["k"]

    assert result.sentiment is not None
    (text,) = seen
    assert len(text.encode()) <= 5000 and text == "😡" * 1250
