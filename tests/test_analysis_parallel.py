"""A batch's analyzer requests are in flight together: four Comprehend batches of 25, or four Bedrock Converse
requests, cost about one request's latency. Each fake client below waits at a barrier that only as many
concurrent requests as the batch needs can pass: made one after the other, the first would wait in vain."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from chalicelib.analysis import parallel
from chalicelib.analysis.base import Document
from chalicelib.analysis.comprehend import ComprehendAnalyzer
from chalicelib.analysis.language import LanguageGuess
from chalicelib.analysis.redaction import ComprehendPiiRedactor
from chalicelib.analysis.themes.bedrock import BedrockTagger
from chalicelib.models import Sentiment
from chalicelib.themes.taxonomy import Taxonomy, Theme

BATCH = 100
REQUESTS = 4  # of 25 texts each
BARRIER_SECONDS = 5
TAXONOMY = Taxonomy(version=1, themes=[Theme(id="battery", name="Battery", keywords={"en": ["battery"]})])


class ConcurrentComprehend:
    """Comprehend's Batch* calls, each answering only once `parties` calls are in flight together."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=BARRIER_SECONDS)
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def _arrive(self) -> None:
        with self.lock:
            self.threads.add(threading.current_thread().name)
        self.barrier.wait()

    def batch_detect_dominant_language(self, TextList: list[str]) -> dict[str, Any]:
        self._arrive()
        languages = [{"LanguageCode": "en", "Score": 0.99}]
        return {
            "ResultList": [{"Index": i, "Languages": languages} for i in range(len(TextList))],
            "ErrorList": [],
        }

    def batch_detect_sentiment(self, TextList: list[str], LanguageCode: str) -> dict[str, Any]:
        self._arrive()
        sentiment = "NEGATIVE" if LanguageCode == "de" else "POSITIVE"
        score = {"Positive": 0.9, "Negative": 0.05, "Neutral": 0.05, "Mixed": 0.0}
        results = [
            {"Index": i, "Sentiment": sentiment, "SentimentScore": score} for i in range(len(TextList))
        ]
        return {"ResultList": results, "ErrorList": []}


class ConcurrentConverse:
    """Bedrock's Converse: every item has the battery theme, once `parties` requests are in flight."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=BARRIER_SECONDS)
        self.requests = 0
        self.lock = threading.Lock()

    def converse(self, **params: Any) -> dict[str, Any]:
        with self.lock:
            self.requests += 1
        self.barrier.wait()
        items = json.loads(params["messages"][0]["content"][0]["text"].split("\n", 1)[1])["items"]
        answer = [
            {
                "item": item["item"],
                "themes": [{"id": "battery", "sentiment": "NEGATIVE", "evidence": "battery"}],
            }
            for item in items
        ]
        text = json.dumps({"items": answer})
        return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}}}


def test_run_all_runs_the_calls_together_and_returns_their_results_in_order():
    barrier = threading.Barrier(3, timeout=BARRIER_SECONDS)

    def call(number: int) -> int:
        barrier.wait()
        return number

    assert parallel.run_all([lambda n=n: call(n) for n in range(3)], workers=3) == [0, 1, 2]


def test_run_all_with_one_worker_or_one_call_runs_in_the_callers_thread():
    here = threading.current_thread()

    assert parallel.run_all([threading.current_thread] * 3, workers=1) == [here] * 3
    assert parallel.run_all([threading.current_thread]) == [here]


def test_run_all_bounds_the_threads_in_flight():
    in_flight, most = 0, 0
    lock = threading.Lock()
    release = threading.Event()

    def call() -> None:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
            if in_flight == 2:
                release.set()
        release.wait(BARRIER_SECONDS)
        with lock:
            in_flight -= 1

    parallel.run_all([call] * 8, workers=2)

    assert most == 2


def test_comprehend_sends_a_batch_of_100_as_four_concurrent_sentiment_requests():
    client = ConcurrentComprehend(REQUESTS)
    documents = [Document(f"d{i}", f"I love it {i}", "en") for i in range(BATCH)]

    results = ComprehendAnalyzer(client).analyze(documents)

    assert {key: result.sentiment for key, result in results.items()} == {
        f"d{i}": Sentiment.POSITIVE for i in range(BATCH)
    }
    assert len(client.threads) == REQUESTS


def test_comprehend_detects_languages_concurrently_and_scores_every_language_together():
    # Four detection batches together, then English (3 batches) and German (1) sentiment together.
    unsure = ComprehendAnalyzer(ConcurrentComprehend(REQUESTS), lambda text: LanguageGuess(None, False))
    detected = unsure.analyze([Document(f"d{i}", f"text {i}") for i in range(BATCH)])
    mixed = ComprehendAnalyzer(ConcurrentComprehend(REQUESTS)).analyze(
        [Document(f"en{i}", "good", "en") for i in range(75)]
        + [Document(f"de{i}", "schlecht", "de") for i in range(25)]
    )

    assert {result.language for result in detected.values()} == {"en"}
    assert {key: (result.language, result.sentiment) for key, result in mixed.items()} == {
        **{f"en{i}": ("en", Sentiment.POSITIVE) for i in range(75)},
        **{f"de{i}": ("de", Sentiment.NEGATIVE) for i in range(25)},
    }


def test_bedrock_tags_a_batch_of_100_in_four_concurrent_requests():
    client = ConcurrentConverse(REQUESTS)
    documents = [Document(f"d{i}", f"the battery died {i}", "en") for i in range(BATCH)]

    results = BedrockTagger(client, "model").tag(documents, TAXONOMY)

    assert client.requests == REQUESTS
    assert {key: [match.id for match in matches] for key, matches in results.items()} == {
        f"d{i}": ["battery"] for i in range(BATCH)
    }


def test_one_request_at_a_time_would_never_pass_the_barrier():
    # The fakes above prove concurrency: the same batch sent one request at a time breaks the barrier.
    client = ConcurrentConverse(REQUESTS)
    client.barrier = threading.Barrier(REQUESTS, timeout=0.2)
    documents = [Document(f"d{i}", f"the battery died {i}", "en") for i in range(BATCH)]

    with pytest.raises(threading.BrokenBarrierError):
        BedrockTagger(client, "model", workers=1).tag(documents, TAXONOMY)
    assert client.requests == 1


class ConcurrentPii:
    """DetectPiiEntities (one text a request), answering only once `parties` requests are in flight; it
    finds the e-mail address each text holds."""

    def __init__(self, parties: int, timeout: float = BARRIER_SECONDS) -> None:
        self.barrier = threading.Barrier(parties, timeout=timeout)
        self.texts: list[str] = []
        self.lock = threading.Lock()

    def detect_pii_entities(self, Text: str, LanguageCode: str) -> dict[str, Any]:
        with self.lock:
            self.texts.append(Text)
        self.barrier.wait()
        start = Text.index("ana")
        end = Text.index(" ", start)
        return {"Entities": [{"Type": "EMAIL", "Score": 0.99, "BeginOffset": start, "EndOffset": end}]}


def test_the_comprehend_redactor_sends_a_batchs_suspicious_texts_concurrently():
    # Four suspicious texts (an '@' the patterns leave: an address they do not know) among harmless ones;
    # only the four are sent, together, and each comes back masked in its place.
    suspicious = [Document(f"s{i}", f"write to ana{i}@intra at noon", "en") for i in range(REQUESTS)]
    harmless = [Document(f"h{i}", f"arrived in {i} days", "en") for i in range(6)]
    client = ConcurrentPii(REQUESTS)

    results = ComprehendPiiRedactor(client).redact([*harmless, *suspicious])

    assert sorted(client.texts) == sorted(document.text for document in suspicious)
    assert list(results) == [document.key for document in [*harmless, *suspicious]]
    assert {key: results[key].text for key in (d.key for d in suspicious)} == {
        f"s{i}": "write to [EMAIL] at noon" for i in range(REQUESTS)
    }
    assert {key: results[key].text for key in (d.key for d in harmless)} == {
        f"h{i}": f"arrived in {i} days" for i in range(6)
    }


def test_the_comprehend_redactor_one_at_a_time_would_never_pass_the_barrier():
    # The fake proves concurrency: the same texts sent one request at a time break the barrier.
    client = ConcurrentPii(REQUESTS, timeout=0.2)
    suspicious = [Document(f"s{i}", f"write to ana{i}@intra at noon", "en") for i in range(REQUESTS)]

    with pytest.raises(threading.BrokenBarrierError):
        ComprehendPiiRedactor(client, workers=1).redact(suspicious)
    assert client.texts == [suspicious[0].text]
