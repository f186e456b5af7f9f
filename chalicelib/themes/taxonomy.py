"""The taxonomy contract: a theme, a whole taxonomy, and the rules a document must meet to replace it.

A taxonomy is a list of themes two levels deep (a theme may name a parent that has none). Each theme has
keywords per language, which the keywords tagger matches and the Bedrock tagger reads as hints.
"""

# No `from __future__ import annotations`: pydantic would evaluate each field's string annotation when the
# class is defined, a cost every cold start pays (tests/test_cold_start_classes.py keeps them real objects).

from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from chalicelib.models import DeferredModel

THEME_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
# ISO 639-1 codes, as the analyzers name languages.
LANGUAGE_PATTERN = r"^[a-z]{2}$"
MAX_THEMES = 500
MAX_KEYWORDS_PER_LANGUAGE = 200
MAX_EXAMPLES = 10

ThemeId = Annotated[str, StringConstraints(pattern=THEME_ID_PATTERN)]
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Language = Annotated[str, StringConstraints(pattern=LANGUAGE_PATTERN)]


class Theme(DeferredModel):
    """One thing customers talk about: shipping, price, the app …"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ThemeId
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    parent: ThemeId | None = None
    keywords: dict[Language, Annotated[list[Keyword], Field(max_length=MAX_KEYWORDS_PER_LANGUAGE)]] = Field(
        default_factory=dict
    )
    examples: Annotated[
        list[Annotated[str, StringConstraints(max_length=500)]], Field(max_length=MAX_EXAMPLES)
    ] = Field(default_factory=list)
    # A retired theme tags nothing new; items already tagged with it keep the tag.
    retired: bool = False


class Taxonomy(DeferredModel):
    """A whole taxonomy, as `themes import` reads it and `themes export` writes it: {"themes": [...]}."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    themes: Annotated[list[Theme], Field(max_length=MAX_THEMES)]
    # Bumped by every change; each tagged item records the version it was tagged with.
    version: int = 0

    @model_validator(mode="after")
    def _consistent(self) -> "Taxonomy":
        ids = [theme.id for theme in self.themes]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"theme ids must be unique: {', '.join(duplicates)}")
        by_id = {theme.id: theme for theme in self.themes}
        for theme in self.themes:
            if theme.parent is None:
                continue
            parent = by_id.get(theme.parent)
            if parent is None:
                raise ValueError(f"{theme.id}: parent {theme.parent!r} is not a theme of this taxonomy")
            if parent.parent is not None:
                raise ValueError(
                    f"{theme.id}: parent {theme.parent!r} has a parent itself (two levels at most)"
                )
        return self

    def active(self) -> list[Theme]:
        """The themes that tag new items."""
        return [theme for theme in self.themes if not theme.retired]

    def parents(self) -> dict[str, str | None]:
        """Each theme's parent (None for a top-level theme): what the stats count a tag under."""
        return {theme.id: theme.parent for theme in self.themes}

    def get(self, theme_id: str) -> Theme | None:
        return next((theme for theme in self.themes if theme.id == theme_id), None)

    def with_children(self, theme_id: str) -> set[str]:
        """A theme's id and its children's: a filter on a parent includes its children."""
        return {theme_id} | {theme.id for theme in self.themes if theme.parent == theme_id}
