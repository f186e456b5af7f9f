"""The theme tagger contract, shared by every backend (keywords, bedrock)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal, Protocol, runtime_checkable

from chalicelib.analysis.base import AnalysisFailed, Document
from chalicelib.records import ValueRecord
from chalicelib.themes.taxonomy import Taxonomy

ThemeSentiment = Literal["POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"]


# A plain slotted class, not a NamedTuple: chalicelib/records.py says why.
class ThemeMatch(ValueRecord):  # compared by value: tests compare a tagger's matches
    """One theme an item talks about: the sentiment about that aspect, and the span of the text saying so."""

    __slots__ = ("evidence", "id", "sentiment")

    def __init__(self, id: str, sentiment: ThemeSentiment, evidence: str) -> None:
        self.id = id
        self.sentiment = sentiment
        self.evidence = evidence


# Per document key: its themes (a key left out: none), the AnalysisFailed (throttling, a service error) that
# sends the item back through the queue, or None when it could not be tagged (an answer that never made
# sense): the item is then stored without themes, for a backfill to tag later.
TagResults = dict[str, list[ThemeMatch] | AnalysisFailed | None]


class ThemeTagger(Protocol):
    """Tags many documents at once against one taxonomy."""

    name: str

    def tag(self, documents: Sequence[Document], taxonomy: Taxonomy) -> TagResults:
        """Per document key, its themes (each at most once; an empty list for none), in text order; a failure
        affects only the documents it touched."""
        ...


# Per document key: the overall sentiment a tagger's request scored for an item the analyzer could not score.
SentimentResults = dict[str, ThemeSentiment]


@runtime_checkable
class SentimentScoringTagger(ThemeTagger, Protocol):
    """A tagger whose request can also score the overall sentiment of some items (Bedrock), at no extra
    request: the analyze step asks it for the items whose language the sentiment analyzer cannot score."""

    def tag_and_score(
        self, documents: Sequence[Document], taxonomy: Taxonomy, unscored: Collection[str]
    ) -> tuple[TagResults, SentimentResults]:
        """`tag`, plus the overall sentiment of the documents whose keys are in `unscored`; a key left out
        of the sentiments was not scored (its answer never gave one)."""
        ...
