"""The stored taxonomy: one THEMES config record holding every theme and the version counter.

Read cached like forms (`current()`: a change takes effect within CONFIG_CACHE_SECONDS); every change (an
import, add, update or retire) is one conditional put that claims the next version (config_records), so two
concurrent changes never share a version: the loser re-reads and applies its change again, or, when it was
told which version to replace, fails with VersionConflict.

The themes are stored as gzip-compressed JSON: a DynamoDB item holds at most 400 KB, which 500 themes with
descriptions and keywords in several languages can pass as plain attributes; compressed they fit easily.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.store import dynamo
from chalicelib.store.config_records import THEMES, VERSION, VersionConflict
from chalicelib.themes.taxonomy import Taxonomy, Theme

# The document parser (themes/document.py) is imported by the functions that change or check a taxonomy:
# the analyze and export functions only read it (current()), at their cold start.
if TYPE_CHECKING:
    from chalicelib.themes.document import Problem

TAXONOMY_RECORD = "taxonomy"
DOCUMENT_ATTRIBUTE = "document"
STARTER_PATH = Path(__file__).with_name("starter.json")
# Below DynamoDB's 400 KB item limit, leaving room for the key and version attributes.
MAX_STORED_BYTES = 350_000
MAX_ATTEMPTS = 5
# Theme fields `update` may change; `id` names the theme and never changes.
UPDATABLE_FIELDS = frozenset(Theme.model_fields) - {"id"}

_records = THEMES
# The cached record last decoded and its taxonomy: decoded again only when the cache returns another record.
_decoded: dict[str, tuple[Mapping[str, Any], Taxonomy]] = {}


class UnknownTheme(LookupError):
    """No theme has this id."""

    def __init__(self, theme_id: str) -> None:
        super().__init__(f"no theme {theme_id[:64]!r}")
        self.theme_id = theme_id


class Unchanged(Exception):
    """A change that leaves the taxonomy as it is: nothing is written, since a new version would make every
    tagged item look due for a re-tag (`backfill --themes`)."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        super().__init__(f"the taxonomy is unchanged (version {taxonomy.version})")
        self.taxonomy = taxonomy


def _decode(fields: Mapping[str, Any]) -> Taxonomy:
    if not fields:
        return Taxonomy(themes=[])
    stored = fields[DOCUMENT_ATTRIBUTE]
    themes = json.loads(gzip.decompress(getattr(stored, "value", stored)))
    return Taxonomy(themes=themes, version=int(fields[VERSION]))


def _encode(taxonomy: Taxonomy) -> dict[str, Any]:
    from chalicelib.themes.document import InvalidTaxonomy, Problem

    themes = [theme.model_dump(mode="json", exclude_defaults=True) for theme in taxonomy.themes]
    # mtime=0: the same taxonomy always compresses to the same bytes.
    compressed = gzip.compress(json.dumps(themes, ensure_ascii=False).encode("utf-8"), mtime=0)
    if len(compressed) > MAX_STORED_BYTES:
        message = f"too large to store: {len(compressed):,} bytes compressed, at most {MAX_STORED_BYTES:,}"
        raise InvalidTaxonomy([Problem(None, None, "themes", message)])
    return {DOCUMENT_ATTRIBUTE: compressed}


def current() -> Taxonomy:
    """The taxonomy in force, from memory (read again after CONFIG_CACHE_SECONDS); version 0 and no themes
    when none was ever stored."""
    fields = _records.get_cached(TAXONOMY_RECORD)
    decoded = _decoded.get(TAXONOMY_RECORD)
    if decoded is None or decoded[0] is not fields:
        decoded = _decoded[TAXONOMY_RECORD] = (fields, _decode(fields))
    return decoded[1]


def current_fresh() -> Taxonomy:
    """The taxonomy as stored now (a strongly consistent read), for changing it."""
    return _decode(_records.get_fresh(TAXONOMY_RECORD))


def clear_cache() -> None:
    """Forget the cached taxonomy (tests; every change here clears it too)."""
    _records.clear_cache()
    _decoded.clear()


def _store(taxonomy: Taxonomy, expected_version: int) -> Taxonomy:
    version = _records.save_versioned(TAXONOMY_RECORD, _encode(taxonomy), expected_version)
    return taxonomy.model_copy(update={"version": version})


Edit = Callable[[Taxonomy], list[dict[str, Any]]]


def _change(edit: Edit, unless_unchanged: bool = False) -> Taxonomy:
    """Apply `edit` (stored taxonomy → the themes it becomes) and store the result as the next version; on
    a concurrent change, read again and apply it again, so its checks run on what is stored then. With
    `unless_unchanged`, an edit that changes nothing raises Unchanged instead of storing a new version."""
    from chalicelib.themes.document import parse

    for attempt in range(MAX_ATTEMPTS):
        stored = current_fresh()
        edited = parse({"themes": edit(stored)})
        if unless_unchanged and stored.version and edited.themes == stored.themes:
            raise Unchanged(stored)
        try:
            return _store(edited, stored.version)
        except VersionConflict:
            if attempt == MAX_ATTEMPTS - 1:
                raise
            dynamo.backoff(attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


def _raw(themes: Sequence[Theme]) -> list[dict[str, Any]]:
    return [theme.model_dump() for theme in themes]


def replace(taxonomy: Taxonomy, expected_version: int | None = None) -> Taxonomy:
    """Make `taxonomy` the whole taxonomy (an import); returns it with its new version. With
    `expected_version`, only if the stored one is still that version (0: none stored), else
    VersionConflict."""
    from chalicelib.themes.document import parse

    checked = parse({"themes": _raw(taxonomy.themes)})
    if expected_version is not None:
        return _store(checked, expected_version)
    return _change(lambda stored: _raw(checked.themes))


def import_document(taxonomy: Taxonomy, keep_left_out: bool = True) -> tuple[Taxonomy, list[str]]:
    """An import: `taxonomy` becomes the taxonomy, and every stored theme it leaves out stays, retired, so the
    items tagged with it keep its name and parent (GET /themes, /stats, the exports' theme names), a `theme=`
    filter still lists them, and a re-tag moves their counts off the right parent (`keep_left_out=False`
    drops them: for themes that never tagged anything). Returns the stored taxonomy and the ids of the themes
    it retired that way."""
    from chalicelib.themes.document import parse

    checked = parse({"themes": _raw(taxonomy.themes)})
    kept: list[str] = []

    def edit(stored: Taxonomy) -> list[dict[str, Any]]:
        new_parents = {theme.id: theme.parent for theme in checked.themes}
        left_out = [theme for theme in stored.themes if theme.id not in new_parents and keep_left_out]
        kept[:] = [theme.id for theme in left_out if not theme.retired]  # the ones it retires
        carried = []
        for theme in left_out:
            parent = theme.parent
            # A parent the document made a child itself cannot be one: the left-out theme goes top-level.
            if parent in new_parents and new_parents[parent] is not None:
                parent = None
            carried.append(theme.model_copy(update={"retired": True, "parent": parent}))
        return _raw([*checked.themes, *carried])

    stored = _change(edit, unless_unchanged=True)
    return stored, kept


def _parent_problem(theme_id: str, parent_id: str | None, stored: Taxonomy) -> Problem | None:
    from chalicelib.themes.document import Problem

    parent = stored.get(parent_id) if parent_id else None
    if parent is not None and parent.retired:
        return Problem(None, theme_id, "parent", f"{parent.id!r} is retired")
    return None


def add(theme: Theme) -> Taxonomy:
    """Add a theme (its id must be new, its parent a theme that is not retired)."""
    from chalicelib.themes.document import InvalidTaxonomy, Problem

    def edit(stored: Taxonomy) -> list[dict[str, Any]]:
        if stored.get(theme.id) is not None:
            raise InvalidTaxonomy([Problem(None, theme.id, "id", "already a theme (change it with update)")])
        problem = None if theme.retired else _parent_problem(theme.id, theme.parent, stored)
        if problem:
            raise InvalidTaxonomy([problem])
        return _raw([*stored.themes, theme])

    return _change(edit)


def _edited_keywords(
    theme_id: str,
    keywords: Mapping[str, list[str]],
    add: Mapping[str, Sequence[str]],
    remove: Mapping[str, Sequence[str]],
) -> dict[str, list[str]]:
    from chalicelib.themes.document import InvalidTaxonomy, Problem

    edited = {language: list(words) for language, words in keywords.items()}
    for language, words in add.items():
        listed = edited.setdefault(language, [])
        for word in words:
            if word.strip().casefold() not in {known.casefold() for known in listed}:
                listed.append(word.strip())
    missing = []
    for language, words in remove.items():
        dropped = {word.strip().casefold() for word in words}
        known = {word.casefold() for word in edited.get(language, [])}
        # A misspelt removal would otherwise change nothing and still claim a version.
        missing += [
            Problem(None, theme_id, f"keywords.{language}", f"{word.strip()!r} is not a keyword of the theme")
            for word in words
            if word.strip().casefold() not in known
        ]
        edited[language] = [w for w in edited.get(language, []) if w.casefold() not in dropped]
    if missing:
        raise InvalidTaxonomy(missing)
    return {language: words for language, words in edited.items() if words}


def update(
    theme_id: str,
    changes: Mapping[str, Any] | None = None,
    add_keywords: Mapping[str, Sequence[str]] | None = None,
    remove_keywords: Mapping[str, Sequence[str]] | None = None,
) -> Taxonomy:
    """Change a theme: `changes` sets fields (name, description, parent, keywords, examples, retired);
    `add_keywords` / `remove_keywords` add and remove keywords per language (case-insensitively)."""
    from chalicelib.themes.document import InvalidTaxonomy, Problem

    changes = dict(changes or {})
    unknown = sorted(set(changes) - UPDATABLE_FIELDS)
    if unknown:
        raise InvalidTaxonomy(
            [Problem(None, theme_id, name, "not a field update changes") for name in unknown]
        )

    def edit(stored: Taxonomy) -> list[dict[str, Any]]:
        theme = stored.get(theme_id)
        if theme is None:
            raise UnknownTheme(theme_id)
        values = {**theme.model_dump(), **changes}
        if add_keywords or remove_keywords:
            values["keywords"] = _edited_keywords(
                theme_id, values["keywords"], add_keywords or {}, remove_keywords or {}
            )
        retiring = values.get("retired") is True and not theme.retired
        problem = (
            None if values.get("retired") is True else _parent_problem(theme_id, values.get("parent"), stored)
        )
        if problem:
            raise InvalidTaxonomy([problem])
        if retiring:
            _refuse_retiring_a_parent(theme_id, stored)
        # Invalid values are reported by parse, with the theme's position and the field.
        return [values if t.id == theme_id else t.model_dump() for t in stored.themes]

    return _change(edit, unless_unchanged=True)


def _refuse_retiring_a_parent(theme_id: str, stored: Taxonomy) -> None:
    from chalicelib.themes.document import InvalidTaxonomy, Problem

    children = sorted(t.id for t in stored.active() if t.parent == theme_id)
    if children:
        message = f"retire or move its themes first: {', '.join(children)}"
        raise InvalidTaxonomy([Problem(None, theme_id, "retired", message)])


def retire(theme_id: str) -> Taxonomy:
    """Retire a theme: it tags nothing new, items tagged with it keep the tag. A parent with themes that
    are not retired stays (retire or move them first)."""
    return update(theme_id, {"retired": True})


def starter() -> Taxonomy:
    """The starter taxonomy that ships with the product."""
    from chalicelib.themes.document import parse

    return parse(json.loads(STARTER_PATH.read_text(encoding="utf-8")))


def load_starter_if_none() -> Taxonomy | None:
    """Store the starter taxonomy when none was ever stored (the local stack); None when one exists."""
    if current_fresh().version:
        return None
    try:
        return replace(starter(), expected_version=0)
    except VersionConflict:  # another process stored one meanwhile: that one stays
        return None
