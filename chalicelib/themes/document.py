"""A taxonomy document as people write it (`{"themes": [...]}`, JSON or YAML): read, checked whole, written.

`parse` checks every theme and reports every problem at once, each naming the theme (its position in the
list and its id) and the field, so a person can fix a file in one pass; the Taxonomy model alone would stop
at the first cross-theme problem and name no position.
"""

from __future__ import annotations

import codecs
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chalicelib.themes.taxonomy import MAX_THEMES, Taxonomy, Theme

YAML_SUFFIXES = (".yaml", ".yml")
DOCUMENT_FIELDS = {"themes", "version"}
# Pydantic's wording for the cases people meet most, in the words of the format.
_FRIENDLIER = {
    "extra_forbidden": "unknown field",
    "missing": "required",
    "string_too_short": "cannot be empty",
}
# What the keywords tagger reads as a word (stemming.py's tokens): a keyword with none never matches.
_WORD_CHARACTER = re.compile(r"[^\W_]")
# Languages written without spaces between words, where the keywords tagger (whole words) rarely matches.
UNSPACED_LANGUAGES = {
    "ja": "Japanese",
    "zh": "Chinese",
    "th": "Thai",
    "lo": "Lao",
    "km": "Khmer",
    "my": "Burmese",
}
_SLUG_RULE = "must be a slug: lower-case letters, digits, '-' and '_', starting with a letter or digit, ≤ 63"
_LANGUAGE_RULE = "languages are two-letter ISO 639-1 codes in lower case (en, es, fr …)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document: which theme (position and id, when known), which field, what."""

    index: int | None
    theme_id: str | None
    field: str
    message: str

    def __str__(self) -> str:
        where = "document" if self.theme_id is None else f"theme {self.theme_id!r}"
        if self.index is not None:
            where = f"themes[{self.index}]" + (f" ({self.theme_id!r})" if self.theme_id else "")
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class InvalidTaxonomy(ValueError):
    """A document or a change that cannot become the taxonomy; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


def _field_path(location: tuple[Any, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]":
            path += " (language)"
        else:
            path += f".{part}" if path else str(part)
    return path


def _message(error: dict[str, Any]) -> str:
    if error["type"] == "string_pattern_mismatch":
        return _LANGUAGE_RULE if error["loc"][-1] == "[key]" else _SLUG_RULE
    return _FRIENDLIER.get(error["type"], error["msg"])


def parse_theme(raw: dict[str, Any]) -> Theme:
    """One theme on its own (its fields; where it fits in the taxonomy is checked when it is added)."""
    theme, problems = _theme_problems(None, raw)
    if theme is not None:
        problems += _keyword_problems(None, theme)
    if problems or theme is None:
        raise InvalidTaxonomy(problems)
    return theme


def _theme_problems(index: int | None, raw: Any) -> tuple[Theme | None, list[Problem]]:
    if not isinstance(raw, dict):
        return None, [Problem(index, None, "", "a theme must be an object with id, name, …")]
    theme_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    try:
        return Theme.model_validate(raw), []
    except ValidationError as error:
        return None, [
            Problem(index, theme_id, _field_path(issue["loc"]), _message(issue)) for issue in error.errors()
        ]


def _keyword_problems(index: int | None, theme: Theme) -> list[Problem]:
    problems = []
    for language, keywords in theme.keywords.items():
        counts = Counter(keyword.casefold() for keyword in keywords)
        for keyword in sorted(word for word, count in counts.items() if count > 1):
            problems.append(Problem(index, theme.id, f"keywords.{language}", f"{keyword!r} is listed twice"))
        for keyword in keywords:
            if not _WORD_CHARACTER.search(keyword):
                message = f"{keyword!r} has no letter or digit: the keywords tagger could never match it"
                problems.append(Problem(index, theme.id, f"keywords.{language}", message))
    return problems


def _folded(keyword: str) -> str:
    decomposed = unicodedata.normalize("NFKD", " ".join(keyword.casefold().split()))
    return "".join(character for character in decomposed if not unicodedata.combining(character))


def notes(taxonomy: Taxonomy, same_words: Callable[[str, str], Hashable] | None = None) -> list[str]:
    """What a valid taxonomy's owner should know about how its active themes will tag: a keyword shared by
    themes (each item saying it gets all of them), keywords in languages written without spaces.
    `same_words(language, keyword)` is what keywords are compared by (the tagger's stems, from the CLI;
    by default case and accents folded)."""
    compared = same_words or (lambda language, keyword: _folded(keyword))
    found = []
    owners: dict[tuple[str, Hashable], list[tuple[Theme, str]]] = {}
    for theme in taxonomy.active():
        for language, keywords in theme.keywords.items():
            for keyword in keywords:
                owners.setdefault((language, compared(language, keyword)), []).append((theme, keyword))
    for (language, _), owned in owners.items():
        themes = list(dict.fromkeys(theme.id for theme, _ in owned))
        if len(themes) > 1:
            spellings: dict[str, str] = {}  # the first spelling of each keyword, in order
            for _, keyword in owned:
                spellings.setdefault(keyword.casefold(), keyword)
            words = " / ".join(repr(keyword) for keyword in spellings.values())
            found.append(
                f"keywords.{language}: {words} is a keyword of {', '.join(themes)}: an item saying it is "
                "tagged with each (with the child only, of a parent and its child)"
            )
    for language, language_name in UNSPACED_LANGUAGES.items():
        ids = [theme.id for theme in taxonomy.active() if theme.keywords.get(language)]
        if ids:
            found.append(
                f"keywords.{language} ({', '.join(ids)}): {language_name} is written without spaces and the "
                "keywords tagger matches whole words, so these match only where set apart by spaces or "
                "punctuation (THEME_TAGGER=bedrock tags by the theme's name and description in any language)"
            )
    return found


def _structure_problems(raw_ids: dict[int, str], themes: dict[int, Theme]) -> list[Problem]:
    """Ids unique, parents known, two levels at most: across themes, so after each theme is checked."""
    problems: list[Problem] = []
    first_at: dict[str, int] = {}
    for index, theme_id in raw_ids.items():
        if theme_id in first_at:
            problems.append(
                Problem(index, theme_id, "id", f"duplicate id (also themes[{first_at[theme_id]}])")
            )
        else:
            first_at[theme_id] = index
    by_id = {theme.id: theme for index, theme in themes.items() if first_at.get(theme.id) == index}
    for index, theme in themes.items():
        if theme.parent is None:
            continue
        parent = by_id.get(theme.parent)
        if theme.parent == theme.id:
            message = "a theme cannot be its own parent"
        elif theme.parent not in first_at:
            message = f"{theme.parent!r} is not a theme of this taxonomy"
        elif parent is not None and parent.parent is not None:
            message = f"{theme.parent!r} has a parent itself (two levels at most)"
        elif parent is not None and parent.retired and not theme.retired:
            # As `themes retire` and `themes add` have it: a retired parent has no theme that still tags.
            message = f"{theme.parent!r} is retired: retire this theme too, or move it"
        else:
            continue
        problems.append(Problem(index, theme.id, "parent", message))
    return problems


def parse(document: Any) -> Taxonomy:
    """The taxonomy a document describes, or InvalidTaxonomy listing every problem. A `version` in the
    document is ignored: the stored taxonomy counts its own versions."""
    if not isinstance(document, dict):
        raise InvalidTaxonomy([Problem(None, None, "", 'expected an object: {"themes": [...]}')])
    problems = [
        Problem(None, None, str(name), "unknown field") for name in document if name not in DOCUMENT_FIELDS
    ]
    raw_themes = document.get("themes")
    if not isinstance(raw_themes, list):
        problems.append(Problem(None, None, "themes", "required: a list of themes"))
        raise InvalidTaxonomy(problems)
    if len(raw_themes) > MAX_THEMES:
        problems.append(Problem(None, None, "themes", f"at most {MAX_THEMES} themes, not {len(raw_themes)}"))
        raise InvalidTaxonomy(problems)
    themes: dict[int, Theme] = {}
    raw_ids: dict[int, str] = {}
    for index, raw in enumerate(raw_themes):
        theme, found = _theme_problems(index, raw)
        problems += found
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            raw_ids[index] = raw["id"]
        if theme is not None:
            themes[index] = theme
            problems += _keyword_problems(index, theme)
    problems += _structure_problems(raw_ids, themes)
    if problems:
        raise InvalidTaxonomy(sorted(problems, key=lambda p: (-1 if p.index is None else p.index, p.field)))
    return Taxonomy(themes=list(themes.values()))


def to_document(taxonomy: Taxonomy) -> dict[str, Any]:
    """The document `parse` reads back to the same themes (fields left at their defaults omitted)."""
    return {
        "version": taxonomy.version,
        "themes": [theme.model_dump(mode="json", exclude_defaults=True) for theme in taxonomy.themes],
    }


def _load_yaml(text: str) -> Any:
    try:
        import yaml  # PyYAML: installed with the dev tools; the CLI reads YAML only where it is
    except ImportError as error:
        raise InvalidTaxonomy(
            [Problem(None, None, "", "reading YAML needs PyYAML; give JSON instead")]
        ) from error
    try:
        return yaml.load(text, Loader=_words_loader(yaml))  # noqa: S506 (a SafeLoader: _words_loader)
    except yaml.YAMLError as error:
        raise InvalidTaxonomy([Problem(None, None, "", f"not valid YAML: {error}")]) from error


# YAML 1.1 reads a bare `no`, `on`, `yes`, `off` as booleans and `2024` as a number: Norwegian keywords
# (`no: [levering]`) and keywords such as "no" or "on" were refused as "Input should be a valid string".
_TYPED_TAGS = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}


@cache
def _words_loader(yaml: Any) -> Any:
    """PyYAML's SafeLoader reading every unquoted scalar but null as the text written (pydantic then reads
    `retired: true` as the boolean it stands for). Written by hand: PyYAML has no option for it, only the
    resolver table this copies without the boolean and number rules."""

    class WordsLoader(yaml.SafeLoader):
        pass

    WordsLoader.yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag not in _TYPED_TAGS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return WordsLoader


def read_text(text: str, yaml_format: bool = False) -> Taxonomy:
    """Parse a document's text (JSON, or YAML when `yaml_format`)."""
    try:
        if yaml_format:
            return parse(_load_yaml(text))
        return parse(json.loads(text))
    except json.JSONDecodeError as error:
        message = f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        raise InvalidTaxonomy([Problem(None, None, "", message)]) from error
    except RecursionError as error:  # the parsers recurse per level: "[[[[…" thousands deep
        message = "nested too deeply to be a taxonomy (a theme's fields are one level down)"
        raise InvalidTaxonomy([Problem(None, None, "", message)]) from error


def _decode(content: bytes) -> str:
    """A file's text: UTF-8, with or without the byte order mark some editors write."""
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InvalidTaxonomy([Problem(None, None, "", "the file is UTF-16: save it as UTF-8")])
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        message = (
            f"not UTF-8 text (byte 0x{content[error.start]:02x} on line {line}): save the file as UTF-8 "
            "(it may be Latin-1 or Windows-1252)"
        )
        raise InvalidTaxonomy([Problem(None, None, "", message)]) from error


def read_file(path: Path) -> Taxonomy:
    """Parse a document file (UTF-8); YAML by its suffix (.yaml, .yml), JSON otherwise."""
    return read_text(_decode(path.read_bytes()), yaml_format=path.suffix.lower() in YAML_SUFFIXES)


def write_text(taxonomy: Taxonomy, yaml_format: bool = False) -> str:
    """A document's text, JSON (or YAML when `yaml_format`), non-ASCII keywords kept as they are written."""
    document = to_document(taxonomy)
    if yaml_format:
        import yaml

        return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=110)
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
