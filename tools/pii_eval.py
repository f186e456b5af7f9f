"""Recall and false positives of the PII redactors, per entity type, on the labelled corpus of
tests/fixtures/pii (`python -m tools.pii_eval` prints them; `make bench` writes them into BENCHMARKS.md).

The corpus is hand-written feedback in English, Spanish, French, German, Italian, Portuguese and Dutch: one
JSON object per line, `{"id", "language", "text", "entities": [{"type", "start", "end", "text"}]}`, with the
exact code-point span of every personal datum (addresses, phones, emails, cards, IBANs, national ids, dates
of birth, names …) and many texts with none but plenty of digits and capitalised words ("order 12345",
"iPhone 15", "Sitzplatz 12", "via PayPal 2 volte").

How a redactor is scored, per entity type of the gold labels (and per type it masks):
- caught: every letter and digit of the labelled span is masked (by a mask of any type: hidden is hidden);
  partly: some of them are; recall = caught / labelled.
- a false positive is a masked span that touches no labelled span; the false-positive rate of a type is the
  share of all texts in which the redactor masked, as that type, something that is no personal data.

Backends:
- patterns: `PatternRedactor()` as the local stack and the non-English/Spanish languages use it.
- comprehend: `ComprehendPiiRedactor()` with its defaults, on a Comprehend client behind a botocore `Stubber`
  that answers DetectPiiEntities with the corpus's own labels (score 0.99; a date of birth as DATE_TIME; no
  answer for NATIONAL_ID, which Comprehend has no type for). That is a perfect model: what is measured is
  everything around it (which languages are sent, the pre-filter that sends only what the patterns leave
  suspicious, the types masked by default, the pattern backstop), not Comprehend's own accuracy, which
  only a run against AWS could measure.
"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CORPUS_DIR = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "pii"
ORACLE_SCORE = 0.99
# What Comprehend would call a type the corpus labels with a name of ours (None: it has no such type).
COMPREHEND_TYPE_OF = {"DATE_OF_BIRTH": "DATE_TIME", "NATIONAL_ID": None}


@dataclass(frozen=True)
class Labelled:
    start: int
    end: int
    type: str


@dataclass(frozen=True)
class Sample:
    id: str
    language: str
    text: str
    entities: tuple[Labelled, ...]


def load_corpus(directory: Path = CORPUS_DIR) -> list[Sample]:
    """Every sample of every *.jsonl file; a span that does not hold its stated text is a ValueError."""
    samples = []
    for path in sorted(directory.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            raw = json.loads(line)
            entities = []
            for entity in raw["entities"]:
                if raw["text"][entity["start"] : entity["end"]] != entity["text"]:
                    raise ValueError(f"{path.name}:{number}: span {entity} does not hold its text")
                entities.append(Labelled(entity["start"], entity["end"], entity["type"]))
            samples.append(Sample(raw["id"], raw["language"], raw["text"], tuple(entities)))
    return samples


@dataclass
class TypeFigures:
    """One entity type's counts over the corpus."""

    type: str
    labelled: int = 0
    caught: int = 0
    partly: int = 0
    masked: int = 0  # spans masked as this type
    false_spans: int = 0  # of those, touching no labelled span
    false_texts: int = 0  # texts with at least one such span
    texts: int = 0  # texts in the corpus

    @property
    def recall(self) -> float | None:
        return self.caught / self.labelled if self.labelled else None

    @property
    def false_positive_rate(self) -> float:
        return self.false_texts / self.texts if self.texts else 0.0


@dataclass
class Scores:
    """A backend's figures per type, and over all types."""

    backend: str
    texts: int
    by_type: dict[str, TypeFigures] = field(default_factory=dict)

    def figures(self, entity_type: str) -> TypeFigures:
        return self.by_type.setdefault(entity_type, TypeFigures(entity_type, texts=self.texts))

    @property
    def total(self) -> TypeFigures:
        total = TypeFigures("all types", texts=self.texts)
        for figures in self.by_type.values():
            total.labelled += figures.labelled
            total.caught += figures.caught
            total.partly += figures.partly
            total.masked += figures.masked
            total.false_spans += figures.false_spans
        return total


def _significant(text: str, start: int, end: int) -> set[int]:
    return {i for i in range(start, end) if text[i].isalnum()}


def score(backend: str, samples: Sequence[Sample], spans_of: Callable[[Sample], Iterable[Any]]) -> Scores:
    """Score the spans a backend masks (objects with start, end, type) against the labels."""
    scores = Scores(backend, len(samples))
    false_text_types: dict[str, int] = {}
    for sample in samples:
        spans = list(spans_of(sample))
        masked = set().union(*(range(span.start, span.end) for span in spans)) if spans else set()
        for entity in sample.entities:
            figures = scores.figures(entity.type)
            figures.labelled += 1
            wanted = _significant(sample.text, entity.start, entity.end)
            hidden = wanted & masked
            if hidden == wanted:
                figures.caught += 1
            elif hidden:
                figures.partly += 1
        false_types = set()
        for span in spans:
            figures = scores.figures(span.type)
            figures.masked += 1
            if not any(span.start < e.end and e.start < span.end for e in sample.entities):
                figures.false_spans += 1
                false_types.add(span.type)
        for entity_type in false_types:
            false_text_types[entity_type] = false_text_types.get(entity_type, 0) + 1
    for entity_type, count in false_text_types.items():
        scores.figures(entity_type).false_texts = count
    return scores


def pattern_scores(samples: Sequence[Sample]) -> Scores:
    from chalicelib.analysis.redaction import PatternRedactor

    redactor = PatternRedactor()
    return score("patterns", samples, lambda sample: redactor.redact_text(sample.text).spans)


def oracle_entities(sample: Sample) -> list[dict[str, Any]]:
    """DetectPiiEntities' answer if Comprehend found exactly the corpus's labels (its own type names)."""
    entities = []
    for entity in sample.entities:
        entity_type = COMPREHEND_TYPE_OF.get(entity.type, entity.type)
        if entity_type is not None:
            entities.append(
                {
                    "Type": entity_type,
                    "Score": ORACLE_SCORE,
                    "BeginOffset": entity.start,
                    "EndOffset": entity.end,
                }
            )
    return entities


class OracleComprehend:
    """A Comprehend client behind a `Stubber` that answers each DetectPiiEntities call from the corpus labels.

    Each call's response is queued from a `provide-client-params` hook with `expected_params` equal to the
    call's parameters, so the Stubber still validates requests and responses against the API model.
    """

    def __init__(self, samples: Sequence[Sample]) -> None:
        import boto3
        from botocore.stub import Stubber

        # A session of its own, so that no hook on the default session (the bench's counters) sees the calls.
        self.client = boto3.session.Session().client(
            "comprehend",
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",  # noqa: S106 (no AWS call: the Stubber answers)
        )
        self.stubber = Stubber(self.client)
        self.answers = {sample.text: oracle_entities(sample) for sample in samples}
        self.requests = 0

    def _provide(self, params: dict[str, Any], **kwargs: Any) -> None:
        self.requests += 1
        response = {"Entities": self.answers.get(params["Text"], [])}
        self.stubber.add_response("detect_pii_entities", response, expected_params=copy.deepcopy(params))

    def __enter__(self) -> OracleComprehend:
        self.client.meta.events.register("provide-client-params.comprehend.DetectPiiEntities", self._provide)
        self.stubber.activate()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stubber.deactivate()


def comprehend_scores(samples: Sequence[Sample], *, prefilter: bool = True) -> tuple[Scores, int]:
    """The Comprehend backend's figures with a perfect model, and how many texts it sent to Comprehend
    (`prefilter=False`: every English and Spanish text, the recall the pre-filter must keep)."""
    from chalicelib.analysis.base import Document
    from chalicelib.analysis.redaction import ComprehendPiiRedactor

    with OracleComprehend(samples) as oracle:
        redactor = ComprehendPiiRedactor(oracle.client, prefilter=prefilter)

        def spans_of(sample: Sample) -> Iterable[Any]:
            result = redactor.redact([Document(sample.id, sample.text, sample.language)])[sample.id]
            if isinstance(result, Exception):
                raise result
            return result.spans

        scores = score("comprehend", samples, spans_of)
    return scores, oracle.requests


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def table(scores: Scores) -> list[str]:
    """A markdown table of one backend's figures, a row per type."""
    lines = [
        "| entity type | labelled | caught | partly | recall | masked | false positives "
        "| FP rate (of texts) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for figures in [*sorted(scores.by_type.values(), key=lambda f: f.type), scores.total]:
        fp_rate = f"{figures.false_positive_rate:.1%}" if figures.type != "all types" else ""
        lines.append(
            f"| {figures.type} | {figures.labelled} | {figures.caught} | {figures.partly} "
            f"| {_percent(figures.recall)} | {figures.masked} | {figures.false_spans} | {fp_rate} |"
        )
    return lines


def mistakes(samples: Sequence[Sample]) -> list[str]:
    """The corpus texts the pattern redactor gets wrong (a label not wholly masked, or a false positive)."""
    from chalicelib.analysis.redaction import PatternRedactor

    lines = []
    for sample in samples:
        redaction = PatternRedactor().redact_text(sample.text)
        one = score("patterns", [sample], lambda _, spans=redaction.spans: spans).total
        if one.caught < one.labelled or one.false_spans:
            lines.append(f"{sample.id}: {redaction.text}")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.pii_eval", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mistakes", action="store_true", help="list the texts the pattern redactor gets wrong"
    )
    args = parser.parse_args(argv)
    samples = load_corpus()
    if args.mistakes:
        print("\n".join(mistakes(samples)))
        return
    print(f"{len(samples)} texts, {sum(len(s.entities) for s in samples)} labelled spans")
    for scores in (pattern_scores(samples), comprehend_scores(samples)[0]):
        print(f"\n{scores.backend}")
        print("\n".join(table(scores)))


if __name__ == "__main__":
    main()
