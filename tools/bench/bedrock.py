"""The Bedrock stand-in (a botocore `Stubber` that answers every Converse request with a plausible reply and
its `usage`), and the run of the Bedrock backend over the bench's comments, batch by batch.

Bedrock bills input tokens, output tokens, and prompt-cache reads and writes apart; the stand-in reports them
in the response's `usage` as Bedrock does (`inputTokens` the tokens neither read from nor written to the
cache) and the bench sums those fields. Tokens are estimated at CHARS_PER_TOKEN characters a token: the
stand-in cannot run Nova's tokenizer. The prefix before the request's `cachePoint` is cached when it is at
least CACHE_MIN_TOKENS long (Amazon Nova's minimum per checkpoint): its first request writes it, the next
ones within CACHE_TTL_SECONDS read it. The reply tags each item as the keywords tagger does (its themes and
their evidence, so the answer has a realistic length), with a keyword-based overall sentiment for every item
when the request is the analyzer's, and for the items flagged `"score": true` (a language Comprehend cannot
score) otherwise. The bench's comments are all in languages Comprehend scores, so its themes mode flags none.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.stub import Stubber

from tools.bench.comprehend import sentiment_for

CHARS_PER_TOKEN = 4
CACHE_MIN_TOKENS = 1000
CACHE_TTL_SECONDS = 300
MAX_ITEMS_PER_REQUEST = 25  # the backend's own bound, checked from outside
# The two ways the product calls Bedrock: themes only (Comprehend scores sentiment), or everything.
MODES = ("themes", "analysis")


def tokens(text: str) -> int:
    """Estimated tokens of a text."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


@dataclass
class BedrockUsage:
    """What the stand-in was asked and answered, summed from the usage it reported."""

    requests: int = 0
    items: int = 0  # items the requests carried (an item asked again alone counts again)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    violations: list[str] = field(default_factory=list)

    def add(self, usage: dict[str, int], items: int) -> None:
        self.requests += 1
        self.items += items
        self.input_tokens += usage["inputTokens"]
        self.output_tokens += usage["outputTokens"]
        self.cache_read_tokens += usage.get("cacheReadInputTokens", 0)
        self.cache_write_tokens += usage.get("cacheWriteInputTokens", 0)


class BedrockResponder:
    """Answers every Converse request of a bedrock-runtime client through a botocore `Stubber`.

    On `provide-client-params.bedrock-runtime` it reads the request, builds the reply and its usage, and
    queues them with `expected_params` equal to the call's parameters; the Stubber then validates the request
    and the response against the API model.
    """

    def __init__(self, client: Any) -> None:
        from chalicelib.analysis.lexicon import LexiconAnalyzer
        from chalicelib.analysis.themes.keywords import KeywordTagger

        self.client = client
        self.stubber = Stubber(client)
        self.usage = BedrockUsage()
        self.tagger = KeywordTagger(LexiconAnalyzer())
        self.taxonomy: Any = None
        self._cached: dict[str, float] = {}  # prefix digest → when last used
        self._unique_id = f"bench-bedrock-{id(self)}"

    def __enter__(self) -> BedrockResponder:
        self.client.meta.events.register(
            "provide-client-params.bedrock-runtime.Converse", self._provide, unique_id=self._unique_id
        )
        self.stubber.activate()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stubber.deactivate()
        self.client.meta.events.unregister(
            "provide-client-params.bedrock-runtime.Converse", unique_id=self._unique_id
        )

    def _provide(self, params: dict[str, Any], **kwargs: Any) -> None:
        system = params.get("system", [])
        prefix = "".join(block.get("text", "") for block in system)
        message = "".join(block.get("text", "") for block in params["messages"][0]["content"])
        task, _, payload = message.partition("\n")
        items = json.loads(payload)["items"]
        if len(items) > MAX_ITEMS_PER_REQUEST:
            self.usage.violations.append(f"Converse: {len(items)} items in one request")
        from chalicelib.analysis.themes.bedrock import TASK_ANALYSIS

        reply = json.dumps({"items": self._answers(items, with_analysis=task == TASK_ANALYSIS)})
        usage = self._usage(prefix, any("cachePoint" in block for block in system), message, reply)
        self.usage.add(usage, len(items))
        response = {
            "output": {"message": {"role": "assistant", "content": [{"text": reply}]}},
            "stopReason": "end_turn",
            "usage": usage,
            "metrics": {"latencyMs": 1000},
        }
        self.stubber.add_response("converse", response, expected_params=copy.deepcopy(params))

    def _answers(self, items: Sequence[dict[str, Any]], with_analysis: bool) -> list[dict[str, Any]]:
        from chalicelib.analysis.base import Document

        documents = [Document(str(item["item"]), item["text"], item.get("language")) for item in items]
        tagged = self.tagger.tag(documents, self.taxonomy) if self.taxonomy else {}
        answers = []
        for item, document in zip(items, documents, strict=True):
            themes = [
                {"id": match.id, "sentiment": match.sentiment, "evidence": match.evidence}
                for match in tagged.get(document.key) or []
            ]
            answer: dict[str, Any] = {"item": item["item"], "themes": themes}
            if with_analysis:
                answer |= {"language": item.get("language", "en"), "sentiment": sentiment_for(item["text"])}
            elif item.get("score"):
                answer["sentiment"] = sentiment_for(item["text"])
            answers.append(answer)
        return answers

    def _usage(self, prefix: str, cache_point: bool, message: str, reply: str) -> dict[str, int]:
        prefix_tokens, rest = tokens(prefix), tokens(message)
        read = written = 0
        if cache_point and prefix_tokens >= CACHE_MIN_TOKENS:
            digest, now = hashlib.sha256(prefix.encode()).hexdigest(), time.monotonic()
            if now - self._cached.get(digest, -math.inf) <= CACHE_TTL_SECONDS:
                read = prefix_tokens
            else:
                written = prefix_tokens
            self._cached[digest] = now
        else:
            rest += prefix_tokens
        output = tokens(reply)
        return {
            "inputTokens": rest,
            "outputTokens": output,
            "totalTokens": rest + output + read + written,
            "cacheReadInputTokens": read,
            "cacheWriteInputTokens": written,
        }


def run_bedrock(batches: Sequence[Sequence[tuple[str, str, str | None]]]) -> dict[str, BedrockUsage]:
    """Each batch (key, text, language) through the Bedrock backend against the starter taxonomy, once per
    mode: the themes step alone, and the analyzer answering everything (whose themes step asks nothing)."""
    import boto3

    from chalicelib.analysis.base import Document
    from chalicelib.analysis.bedrock import BedrockAnalyzer
    from chalicelib.analysis.themes.bedrock import BedrockTagger
    from chalicelib.themes import records

    taxonomy = records.starter()
    usage: dict[str, BedrockUsage] = {}
    for mode in MODES:
        client = boto3.client("bedrock-runtime", region_name="us-east-1")
        # One request at a time: the responder queues each answer in a Stubber, which answers in call order.
        tagger = BedrockTagger(client, "amazon.nova-micro-v1:0", workers=1)
        with BedrockResponder(client) as responder:
            responder.taxonomy = taxonomy
            for batch in batches:
                documents = [Document(key, text, language) for key, text, language in batch]
                if mode == "analysis":
                    BedrockAnalyzer(tagger, taxonomy=lambda: taxonomy).analyze(documents)
                tagger.tag([document for document in documents if document.text.strip()], taxonomy)
            responder.stubber.assert_no_pending_responses()
        usage[mode] = responder.usage
    return usage
