"""Comprehend throttling and failing under the analyze function: every item stored once after retries, or
in the DLQ with its payload when its analysis can never succeed."""

from __future__ import annotations

import random
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.analysis import language
from chalicelib.config import settings
from tests.faults.harness import (
    QueueDriver,
    check_exactly_once,
    form_feedback_id,
    form_responses,
    submit_forms,
)
from tests.faults.injection import COMPREHEND_INTERNAL, COMPREHEND_THROTTLING, Chooser, FaultInjector
from tools.bench.comprehend import pii_entities, sentiment_for

OPERATIONS = ("BatchDetectDominantLanguage", "BatchDetectSentiment", "DetectPiiEntities")
DOOMED = "doomed"


class ComprehendStandIn:
    """Comprehend's answers served over botocore's HTTP layer (moto has no Batch* operations): language
    "en", a keyword sentiment and the emails and phone numbers `tools.bench` finds, as the bench's
    `ComprehendResponder` answers; one document in twenty gets a retryable INTERNAL_SERVER_ERROR entry."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.document_errors = 0

    def __call__(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation == "DetectPiiEntities":
            return {"Entities": pii_entities(params["Text"])}
        results, errors = [], []
        for index, text in enumerate(params["TextList"]):
            if self.rng.random() < 0.05:
                self.document_errors += 1
                errors.append({"Index": index, "ErrorCode": "INTERNAL_SERVER_ERROR", "ErrorMessage": "retry"})
            elif operation == "BatchDetectDominantLanguage":
                results.append({"Index": index, "Languages": [{"LanguageCode": "en", "Score": 0.99}]})
            else:
                label = sentiment_for(text)
                scores = {"Positive": 0.02, "Negative": 0.02, "Neutral": 0.02, "Mixed": 0.02}
                scores[label.capitalize()] = 0.94
                results.append({"Index": index, "Sentiment": label, "SentimentScore": scores})
        return {"ResultList": results, "ErrorList": errors}


@pytest.fixture
def comprehend(stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The app configured for Comprehend (analysis and PII redaction), its shared client returned."""
    monkeypatch.setenv("ANALYZER", "comprehend")
    # Local detection unsure of every text: the unlabelled ones all meet BatchDetectDominantLanguage faults.
    monkeypatch.setattr(language, "detect", lambda text: language.LanguageGuess(None, False))
    settings.cache_clear()
    # Read now: chalice's test client swaps in .chalice/config.json's environment during each request,
    # and settings first read there would name that stage's table.
    assert settings().analyzer == "comprehend" and settings().table_name == "feedback-test"
    return aws.client("comprehend")


def test_throttling_and_5xx_on_a_fraction_of_calls(client, stack, tap, comprehend):
    from app import analyze

    responses = form_responses(150, seed=41)
    for index, response in enumerate(responses):
        if index % 2:
            response["language"] = "en"  # the others need BatchDetectDominantLanguage
        if index % 5 == 0:
            # A long digit run the patterns leave: sent to DetectPiiEntities (a masked phone would not be).
            response["comment"] += f", my account is 7946{index:04d}"
        if index in (7, 77, 147):
            response["comment"] = f"{DOOMED}: ask for me @ the front desk"  # an "@" is always sent
    submitted = submit_forms(client, responses)
    assert len(submitted.accepted) == 150
    stand_in = ComprehendStandIn(seed=42)
    doomed = {form_feedback_id(r) for r in responses if r["comment"].startswith(DOOMED)}

    with (
        # A text Comprehend's PII detection always fails on: its record can only end in the DLQ.
        FaultInjector(
            comprehend,
            "DetectPiiEntities",
            COMPREHEND_INTERNAL,
            chooser=Chooser(every=1),
            match=lambda operation, params: params["Text"].startswith(DOOMED),
        ) as always,
        # 10% of calls fail with a 5xx on every attempt: botocore gives up, the queue retries the records.
        FaultInjector(
            comprehend, OPERATIONS, COMPREHEND_INTERNAL, chooser=Chooser(rate=0.1, seed=43), per="call"
        ) as outage,
        # 25% of the remaining attempts are throttled: botocore's retries absorb them while its quota lasts.
        FaultInjector(
            comprehend,
            OPERATIONS,
            COMPREHEND_THROTTLING,
            chooser=Chooser(rate=0.25, seed=44),
            responder=stand_in,
        ) as throttle,
    ):
        result = QueueDriver(stack.queue_url, analyze, batch_size=10).drain()

    outcome = check_exactly_once(submitted.accepted, stack.resources.dlq_url, tap.events)
    assert (outcome.stored, outcome.in_dlq) == (147, 3)
    assert outcome.dlq_ids == doomed
    # The doomed records were received maxReceiveCount (5) times (their redaction reached in some of them:
    # the other faults failed the rest earlier), then redriven with their payload.
    assert 0 < always.stats.surfaced <= 5 * len(doomed)
    assert outage.stats.surfaced > 0 and throttle.stats.retries > 0 and stand_in.document_errors > 0
    assert result.failed_records > 5 * len(doomed)
    print(
        f"\nComprehend faults: {len(submitted.accepted)} accepted, {outcome.stored} stored once, "
        f"{outcome.in_dlq} in the DLQ with their payload; 5xx outage on 10% of {outage.stats.calls} calls:",
        f"{outage.stats.surfaced} calls failed after {outage.stats.injected} attempts; throttled",
        f"{throttle.stats.injected} of {throttle.stats.attempts} attempts ({throttle.stats.surfaced} calls",
        f"failed once botocore's retry quota ran out); {stand_in.document_errors} per-document",
        f"INTERNAL_SERVER_ERROR entries; {result.failed_records} records retried through the queue in",
        f"{result.invocations} invocations",
    )
