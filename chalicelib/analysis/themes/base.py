"""The theme tagger contract, shared by every backend (keywords, bedrock)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from chalicelib.analysis.base import Document
from chalicelib.themes.taxonomy import Taxonomy

ThemeSentiment = Literal["POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"]


@dataclass(frozen=True, slots=True)
class ThemeMatch:
    """One theme an item talks about: the sentiment about that aspect, and the span of the text saying so."""

    id: str
    sentiment: ThemeSentiment
    evidence: str


class ThemeTagger(Protocol):
    """Tags many documents at once against one taxonomy."""

    name: str

    def tag(self, documents: Sequence[Document], taxonomy: Taxonomy) -> dict[str, list[ThemeMatch]]:
        """Per document key, its themes (each at most once; an empty list for none), in text order."""
        ...
