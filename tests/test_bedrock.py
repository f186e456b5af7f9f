"""The Bedrock backend against botocore's Stubber for `bedrock-runtime` (which validates every Converse
request and response against the API model): one request per batch with the taxonomy in a cached prefix,
answers checked item by item, a bad answer asked again alone, throttling as a per-item failure, and the
analyzer's single request answering sentiment, language and themes, and the tagging request scoring the items
whose language Comprehend cannot score."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.analysis.base import AnalysisFailed, Document
from chalicelib.analysis.bedrock import INVALID_ANSWER, BedrockAnalyzer
from chalicelib.analysis.themes import bedrock
from chalicelib.analysis.themes.base import ThemeMatch
from chalicelib.analysis.themes.bedrock import BedrockTagger, locate, taxonomy_prompt
from chalicelib.themes.taxonomy import Taxonomy, Theme

MODEL = "amazon.nova-micro-v1:0"
TAXONOMY = Taxonomy(
    version=3,
    themes=[
        Theme(id="phone", name="Phone", description="The handset itself.", keywords={"en": ["phone"]}),
        Theme(id="battery", name="Battery", parent="phone", keywords={"en": ["battery", "charge"]}),
        Theme(id="support", name="Support", keywords={"en": ["support", "help"], "es": ["soporte"]}),
        Theme(id="old", name="Old", retired=True),
    ],
)


def converse_response(items: list[dict[str, Any]] | str, cache_read: int = 0) -> dict[str, Any]:
    """A Converse response whose reply is `{"items": items}` (or the text given)."""
    text = items if isinstance(items, str) else json.dumps({"items": items})
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": 120,
            "outputTokens": 40,
            "totalTokens": 160 + cache_read,
            "cacheReadInputTokens": cache_read,
            "cacheWriteInputTokens": 0,
        },
        "metrics": {"latencyMs": 300},
    }


@pytest.fixture
def converse() -> Iterator[tuple[Any, Stubber, list[dict[str, Any]]]]:
    """A bedrock-runtime client under the Stubber, and the parameters of every Converse call made."""
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.bedrock-runtime.Converse", lambda params, **_: sent.append(params)
    )
    with Stubber(client) as stubber:
        yield client, stubber, sent
        stubber.assert_no_pending_responses()


def items_of(params: dict[str, Any]) -> list[dict[str, Any]]:
    text = params["messages"][0]["content"][0]["text"]
    return json.loads(text.split("\n", 1)[1])["items"]


def test_one_request_tags_the_batch_with_the_taxonomy_in_a_cached_prefix(converse):
    client, stubber, sent = converse
    documents = [
        Document("a", "Great phone, but the battery is awful and support never answered", "en"),
        Document("b", "Nothing to say"),
    ]
    stubber.add_response(
        "converse",
        converse_response(
            [
                {
                    "item": 0,
                    "themes": [
                        {"id": "support", "sentiment": "NEGATIVE", "evidence": "support never answered"},
                        {"id": "battery", "sentiment": "NEGATIVE", "evidence": "The battery is  awful"},
                        {"id": "phone", "sentiment": "POSITIVE", "evidence": "Great phone"},
                    ],
                },
                {"item": 1, "themes": []},
            ]
        ),
    )

    results = BedrockTagger(client, MODEL, workers=1).tag(documents, TAXONOMY)

    # Text order; evidence as written in the text; the parent dropped beside its child.
    assert results == {
        "a": [
            ThemeMatch("battery", "NEGATIVE", "the battery is awful"),
            ThemeMatch("support", "NEGATIVE", "support never answered"),
        ],
        "b": [],
    }
    [params] = sent
    assert params["modelId"] == MODEL
    prompt, cache_point = params["system"]
    assert cache_point == {"cachePoint": {"type": "default"}}
    assert "battery: Battery." in prompt["text"] and "Hints: battery, charge." in prompt["text"]
    assert "old:" not in prompt["text"]  # retired themes are not offered
    assert items_of(params) == [
        {"item": 0, "text": documents[0].text, "language": "en"},
        {"item": 1, "text": "Nothing to say"},
    ]
    assert params["inferenceConfig"]["temperature"] == 0.0


def test_the_prefix_is_the_same_for_every_request_of_a_taxonomy():
    assert taxonomy_prompt(TAXONOMY) == taxonomy_prompt(TAXONOMY.model_copy())
    changed = TAXONOMY.model_copy(update={"themes": [*TAXONOMY.themes, Theme(id="price", name="Price")]})
    assert taxonomy_prompt(changed) != taxonomy_prompt(TAXONOMY)
    # The child sits under its parent.
    lines = taxonomy_prompt(TAXONOMY).splitlines()
    assert (
        lines.index("  - battery: Battery. Hints: battery, charge.")
        == lines.index("- phone: Phone. The handset itself. Hints: phone.") + 1
    )


@pytest.mark.parametrize(
    "bad_answer",
    [
        {"item": 1, "themes": [{"id": "shipping", "sentiment": "NEGATIVE", "evidence": "late"}]},  # no theme
        {
            "item": 1,
            "themes": [{"id": "support", "sentiment": "NEGATIVE", "evidence": "rude staff"}],
        },  # not said
        {"item": 1, "themes": [{"id": "support", "sentiment": "ANGRY", "evidence": "support"}]},  # no label
        {"item": 1, "themes": [{"id": "old", "sentiment": "NEGATIVE", "evidence": "support"}]},  # retired
        {
            "item": 1,
            "themes": [
                {"id": "support", "sentiment": "NEGATIVE", "evidence": "support"},
                {"id": "support", "sentiment": "POSITIVE", "evidence": "slow"},
            ],
        },  # twice
        {"item": "one", "themes": []},  # missing: no answer for item 1
    ],
)
def test_an_item_whose_answer_does_not_validate_is_asked_again_alone(converse, bad_answer):
    client, stubber, sent = converse
    documents = [Document("a", "Love the phone"), Document("b", "The support is slow")]
    good = {"item": 0, "themes": [{"id": "phone", "sentiment": "POSITIVE", "evidence": "the phone"}]}
    stubber.add_response("converse", converse_response([good, bad_answer]))
    alone = {"item": 0, "themes": [{"id": "support", "sentiment": "NEGATIVE", "evidence": "support is slow"}]}
    stubber.add_response("converse", converse_response([alone]))

    results = BedrockTagger(client, MODEL, workers=1).tag(documents, TAXONOMY)

    assert results == {
        "a": [ThemeMatch("phone", "POSITIVE", "the phone")],
        "b": [ThemeMatch("support", "NEGATIVE", "support is slow")],
    }
    assert [len(items_of(params)) for params in sent] == [2, 1]
    assert items_of(sent[1]) == [{"item": 0, "text": "The support is slow"}]


def test_a_reply_that_is_not_json_sends_every_item_alone_and_one_never_valid_is_untagged(converse):
    client, stubber, sent = converse
    documents = [Document("a", "Battery died"), Document("b", "Support was great")]
    stubber.add_response("converse", converse_response("Sure! Here are the themes: battery"))
    fenced = '```json\n{"items": [{"item": 0, "themes": [{"id": "battery", "sentiment": "NEGATIVE", '
    fenced += '"evidence": "Battery died"}]}]}\n```'
    stubber.add_response("converse", converse_response(fenced))
    stubber.add_response("converse", converse_response([{"item": 0, "themes": [{"id": "support"}]}]))

    results = BedrockTagger(client, MODEL, workers=1).tag(documents, TAXONOMY)

    assert results == {"a": [ThemeMatch("battery", "NEGATIVE", "Battery died")], "b": None}
    assert len(sent) == 3


def test_throttling_fails_the_items_of_that_request_for_the_queue_to_retry(converse):
    client, stubber, _ = converse
    stubber.add_client_error("converse", "ThrottlingException", http_status_code=429)

    results = BedrockTagger(client, MODEL, workers=1).tag(
        [Document("a", "Battery died"), Document("b", "ok")], TAXONOMY
    )

    assert set(results) == {"a", "b"}
    assert all(isinstance(result, AnalysisFailed) for result in results.values())
    assert "ThrottlingException" in str(results["a"])


def test_the_analyzer_answers_sentiment_language_and_themes_in_one_request(converse):
    client, stubber, sent = converse
    tagger = BedrockTagger(client, MODEL, workers=1)
    analyzer = BedrockAnalyzer(tagger, taxonomy=lambda: TAXONOMY)
    documents = [
        Document("a", "La batería dura poco, llamadme al 600 123 456"),
        Document("b", "Great support", "en-GB"),
        Document("c", "   "),
        Document("d", "???"),
    ]
    stubber.add_response(
        "converse",
        converse_response(
            [
                {
                    "item": 0,
                    "language": "es",
                    "sentiment": "NEGATIVE",
                    "themes": [
                        {
                            "id": "battery",
                            "sentiment": "NEGATIVE",
                            "evidence": "batería dura poco, llamadme al 600 123 456",
                        }
                    ],
                },
                {
                    "item": 1,
                    "language": "en",
                    "sentiment": "POSITIVE",
                    "themes": [{"id": "support", "sentiment": "POSITIVE", "evidence": "Great support"}],
                },
                {"item": 2, "language": "en", "themes": []},  # no sentiment
            ]
        ),
    )
    # Item "d" answered without a sentiment: asked alone, and again it does not hold (no language).
    stubber.add_response(
        "converse", converse_response([{"item": 0, "language": "??", "sentiment": "NEUTRAL"}])
    )

    results = analyzer.analyze(documents)

    assert [params["messages"][0]["content"][0]["text"].splitlines()[0] for params in sent] == [
        "Task: the themes, language and overall sentiment of each item."
    ] * 2
    assert (results["a"].sentiment.value, results["a"].language, results["a"].analyzer) == (
        "NEGATIVE",
        "es",
        "bedrock",
    )
    assert (results["b"].sentiment.value, results["b"].language) == ("POSITIVE", "en")  # as given
    assert results["c"].skipped_reason == "empty_text"  # never sent
    assert results["d"].sentiment is None and results["d"].skipped_reason == INVALID_ANSWER
    assert len(items_of(sent[0])) == 3

    # The themes step: "b" as answered, without another request; "a" was redacted since, and its evidence
    # quoted the phone number, so it is asked again with the redacted text.
    stubber.add_response(
        "converse",
        converse_response(
            [
                {
                    "item": 0,
                    "themes": [{"id": "battery", "sentiment": "NEGATIVE", "evidence": "batería dura poco"}],
                }
            ]
        ),
    )
    redacted = [
        Document("a", "La batería dura poco, llamadme al [PHONE]", "es"),
        Document("b", "Great support"),
    ]
    themes = tagger.tag(redacted, TAXONOMY)

    assert themes == {
        "a": [ThemeMatch("battery", "NEGATIVE", "batería dura poco")],
        "b": [ThemeMatch("support", "POSITIVE", "Great support")],
    }
    assert items_of(sent[2]) == [{"item": 0, "text": redacted[0].text, "language": "es"}]
    assert sent[2]["messages"][0]["content"][0]["text"].startswith("Task: the themes of each item.")


def test_prefetched_themes_of_another_taxonomy_version_are_not_reused(converse):
    client, stubber, sent = converse
    tagger = BedrockTagger(client, MODEL, workers=1)
    answer = [{"item": 0, "language": "en", "sentiment": "NEGATIVE", "themes": []}]
    stubber.add_response("converse", converse_response(answer))
    BedrockAnalyzer(tagger, taxonomy=lambda: TAXONOMY).analyze([Document("a", "Battery died")])
    stubber.add_response("converse", converse_response([{"item": 0, "themes": []}]))

    newer = TAXONOMY.model_copy(update={"version": 4})
    assert tagger.tag([Document("a", "Battery died")], newer) == {"a": []}
    assert len(sent) == 2


def test_sentiment_only_has_no_taxonomy_and_no_cache_point(converse):
    client, stubber, sent = converse
    stubber.add_response(
        "converse", converse_response([{"item": 0, "language": "fr", "sentiment": "POSITIVE", "themes": []}])
    )

    results = BedrockAnalyzer(BedrockTagger(client, MODEL, workers=1)).analyze([Document("a", "Très bien")])

    assert results["a"].sentiment.value == "POSITIVE" and results["a"].language == "fr"
    [params] = sent
    assert len(params["system"]) == 1 and "There is no taxonomy" in params["system"][0]["text"]


def test_throttled_analysis_is_a_per_document_failure(converse):
    client, stubber, _ = converse
    stubber.add_client_error("converse", "ThrottlingException", http_status_code=429)

    results = BedrockAnalyzer(BedrockTagger(client, MODEL, workers=1)).analyze(
        [Document("a", "ok"), Document("b", "")]
    )

    assert isinstance(results["a"], AnalysisFailed)
    assert results["b"].skipped_reason == "empty_text"


def test_a_batch_larger_than_a_request_is_split(converse):
    client, stubber, sent = converse
    documents = [Document(f"d{i}", f"text {i}") for i in range(bedrock.MAX_ITEMS_PER_REQUEST + 2)]
    for size in (bedrock.MAX_ITEMS_PER_REQUEST, 2):
        stubber.add_response("converse", converse_response([{"item": i, "themes": []} for i in range(size)]))

    results = BedrockTagger(client, MODEL, workers=1).tag(documents, TAXONOMY)

    assert results == {document.key: [] for document in documents}
    assert [len(items_of(params)) for params in sent] == [bedrock.MAX_ITEMS_PER_REQUEST, 2]


def test_the_tagging_request_scores_only_the_items_flagged_for_their_sentiment(converse):
    client, stubber, sent = converse
    documents = [
        Document("en", "The support is slow", "en"),
        Document("nl", "De batterij is slecht", "nl"),
        Document("pl", "Bateria jest świetna", "pl"),
    ]
    stubber.add_response(
        "converse",
        converse_response(
            [
                # A sentiment nobody asked for is not taken: Comprehend scored this one.
                {
                    "item": 0,
                    "sentiment": "POSITIVE",
                    "themes": [{"id": "support", "sentiment": "NEGATIVE", "evidence": "support is slow"}],
                },
                {
                    "item": 1,
                    "sentiment": "NEGATIVE",
                    "themes": [{"id": "battery", "sentiment": "NEGATIVE", "evidence": "batterij is slecht"}],
                },
                {"item": 2, "sentiment": "POSITIVE", "themes": []},
            ]
        ),
    )

    themes, sentiments = BedrockTagger(client, MODEL, workers=1).tag_and_score(
        documents, TAXONOMY, {"nl", "pl"}
    )

    assert themes == {
        "en": [ThemeMatch("support", "NEGATIVE", "support is slow")],
        "nl": [ThemeMatch("battery", "NEGATIVE", "batterij is slecht")],
        "pl": [],
    }
    assert sentiments == {"nl": "NEGATIVE", "pl": "POSITIVE"}
    [params] = sent
    assert params["messages"][0]["content"][0]["text"].splitlines()[0] == bedrock.TASK_THEMES_AND_SCORE
    assert [item.get("score", False) for item in items_of(params)] == [False, True, True]
    assert 'An item marked "score": true' in params["system"][0]["text"]


@pytest.mark.parametrize(("lone_sentiment", "scored"), [("MIXED", {"nl": "MIXED"}), (None, {})])
def test_a_flagged_item_answered_without_its_sentiment_is_asked_alone_and_never_fails(
    converse, lone_sentiment, scored
):
    client, stubber, sent = converse
    documents = [Document("en", "Love the phone", "en"), Document("nl", "De batterij is slecht", "nl")]
    battery = {"id": "battery", "sentiment": "NEGATIVE", "evidence": "batterij is slecht"}
    stubber.add_response(
        "converse",
        converse_response(
            [
                {"item": 0, "themes": [{"id": "phone", "sentiment": "POSITIVE", "evidence": "the phone"}]},
                {"item": 1, "themes": [battery]},  # no sentiment
            ]
        ),
    )
    alone: dict[str, Any] = {"item": 0, "themes": [battery]}
    if lone_sentiment:
        alone["sentiment"] = lone_sentiment
    stubber.add_response("converse", converse_response([alone]))

    themes, sentiments = BedrockTagger(client, MODEL, workers=1).tag_and_score(documents, TAXONOMY, {"nl"})

    # Alone and still without a sentiment, the item keeps its themes and stays unscored.
    assert themes == {
        "en": [ThemeMatch("phone", "POSITIVE", "the phone")],
        "nl": [ThemeMatch("battery", "NEGATIVE", "batterij is slecht")],
    }
    assert sentiments == scored
    assert items_of(sent[1]) == [{"item": 0, "text": documents[1].text, "language": "nl", "score": True}]


def test_tag_asks_no_sentiment():
    params = bedrock.request(MODEL, [Document("nl", "Heel goed", "nl")], TAXONOMY, with_analysis=False)
    assert params["messages"][0]["content"][0]["text"].splitlines()[0] == bedrock.TASK_THEMES
    assert items_of(params) == [{"item": 0, "text": "Heel goed", "language": "nl"}]


@pytest.mark.parametrize(
    ("evidence", "text", "found"),
    [
        ("the battery", "Oh, the battery!", "the battery"),
        ("THE  Battery", "Oh, the battery!", "the battery"),
        ("the battery is bad", "Oh, the battery!", None),
        ("   ", "anything", None),
    ],
)
def test_locate_finds_the_passage_as_written(evidence, text, found):
    assert locate(evidence, text) == found
