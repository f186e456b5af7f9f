"""`themes import|export|list|add|update|retire|suggestions`: the taxonomy of what customers talk about, which
the team owns. An import replaces the whole taxonomy after checking all of it; every change is a new version.
`themes suggestions` lists phrases of recent items that no theme covers; only `themes add --from-suggestion`,
run by a person, turns one into a theme."""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from chalicelib.cli.common import bounded, clip, day_argument
from chalicelib.store.config_records import VersionConflict
from chalicelib.themes import document, records
from chalicelib.themes.document import InvalidTaxonomy
from chalicelib.themes.taxonomy import Taxonomy, Theme

Changed = TypeVar("Changed")


def _refuse(error: InvalidTaxonomy) -> int:
    for problem in error.problems:
        print(f"error: {problem}", file=sys.stderr)
    print("nothing was changed", file=sys.stderr)
    return 2


def _keywords(values: list[str] | None) -> dict[str, list[str]]:
    """`--keyword en=arrived late` options, grouped by language."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for value in values or []:
        language, separator, word = value.partition("=")
        if not separator or not language.strip() or not word.strip():
            raise SystemExit(f"error: a keyword is language=word (en=delivery), got {value!r}")
        grouped[language.strip()].append(word.strip())
    return dict(grouped)


def _changed(verb: str, taxonomy: Taxonomy, theme_id: str) -> None:
    print(f"{verb} {theme_id!r}: the taxonomy is now version {taxonomy.version}")
    _print_notes(taxonomy)


def _print_notes(taxonomy: Taxonomy) -> None:
    from chalicelib.analysis.themes.stemming import phrase_keys

    def stems(language: str, keyword: str) -> tuple[str, ...]:
        # As the keywords tagger compares them: "delivery" and "deliveries" are one keyword.
        return tuple(min(keys) for keys in phrase_keys(keyword, language))

    for note in document.notes(taxonomy, stems):
        print(f"note: {note}")


def _run_change(change: Callable[..., Changed], *args: Any, **kwargs: Any) -> Changed | int:
    """A records change, or the exit code for what refused it."""
    try:
        return change(*args, **kwargs)
    except InvalidTaxonomy as error:
        return _refuse(error)
    except records.UnknownTheme as error:
        print(f"error: {error} (themes list shows them)", file=sys.stderr)
        return 1
    except VersionConflict:
        print("error: the taxonomy kept changing meanwhile; try again", file=sys.stderr)
        return 1
    except records.Unchanged as unchanged:
        print(f"nothing to change: the taxonomy already says so (still version {unchanged.taxonomy.version})")
        return 0


def themes_import(args: argparse.Namespace) -> int:
    """Check a whole document, then make it the taxonomy (nothing changes when any theme is wrong)."""
    path = Path(args.file)
    if not path.is_file():
        print(f"error: no file {args.file!r}", file=sys.stderr)
        return 1
    try:
        taxonomy = document.read_file(path)
    except InvalidTaxonomy as error:
        return _refuse(error)
    except OSError as error:
        print(f"error: cannot read {args.file!r}: {error.strerror or error}", file=sys.stderr)
        return 1
    imported = _run_change(records.import_document, taxonomy, keep_left_out=not args.drop_left_out)
    if isinstance(imported, int):
        return imported
    stored, kept = imported
    retired = len(stored.themes) - len(stored.active())
    print(f"imported {len(stored.themes)} themes ({retired} retired) as version {stored.version}")
    if kept:
        print(
            f"kept, retired, {len(kept)} theme(s) the document leaves out, so the items tagged with them "
            f"keep their names and counts: {', '.join(kept)} (`backfill --themes` re-tags those items)"
        )
    _print_notes(stored)
    return 0


def themes_export(args: argparse.Namespace) -> int:
    """Write the taxonomy as a document `themes import` reads back (YAML for a .yaml/.yml file)."""
    taxonomy = records.current_fresh()
    if args.file is None:
        sys.stdout.write(document.write_text(taxonomy))
        return 0
    path = Path(args.file)
    try:
        path.write_text(
            document.write_text(taxonomy, yaml_format=path.suffix.lower() in document.YAML_SUFFIXES),
            encoding="utf-8",
        )
    except OSError as error:
        print(f"error: cannot write {args.file!r}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"exported {len(taxonomy.themes)} themes (version {taxonomy.version}) to {path}", file=sys.stderr)
    return 0


def _line(theme: Theme, indent: str) -> str:
    counts = ", ".join(f"{language} {len(words)}" for language, words in sorted(theme.keywords.items()))
    retired = "  [retired]" if theme.retired else ""
    return f"{indent}{theme.id:<{28 - len(indent)}} {theme.name:<28} {counts or 'no keywords'}{retired}"


def themes_list(args: argparse.Namespace) -> int:
    """The taxonomy as a tree: each top-level theme, then its themes indented, keywords per language."""
    taxonomy = records.current_fresh()
    if not taxonomy.themes:
        print("no taxonomy yet: `themes import FILE` (chalicelib/themes/starter.json is a start)")
        return 0
    retired = len(taxonomy.themes) - len(taxonomy.active())
    print(f"version {taxonomy.version}: {len(taxonomy.themes)} themes ({retired} retired)")
    for parent in (theme for theme in taxonomy.themes if theme.parent is None):
        print(_line(parent, ""))
        for child in (theme for theme in taxonomy.themes if theme.parent == parent.id):
            print(_line(child, "  "))
    return 0


def themes_add(args: argparse.Namespace) -> int:
    """Add one theme: from the options, or from a saved suggestion that the options may amend."""
    if args.from_suggestion is not None:
        values = _from_suggestion(args)
        if isinstance(values, int):
            return values
    elif not (args.theme_id and args.name):
        print("error: --id and --name are required (or --from-suggestion N)", file=sys.stderr)
        return 2
    else:
        values = {
            "id": args.theme_id,
            "name": args.name,
            "description": args.description or "",
            "parent": args.parent or None,
            "keywords": _keywords(args.keyword),
            "examples": args.example or [],
        }
    try:
        theme = document.parse_theme(values)
    except InvalidTaxonomy as error:
        return _refuse(error)
    stored = _run_change(records.add, theme)
    if isinstance(stored, int):
        return stored
    _changed("added", stored, theme.id)
    return 0


def themes_update(args: argparse.Namespace) -> int:
    """Change the fields the options name; keywords are added and removed one by one."""
    changes: dict[str, Any] = {}
    for field in ("name", "description"):
        if getattr(args, field) is not None:
            changes[field] = getattr(args, field)
    if args.parent is not None:
        changes["parent"] = args.parent.strip() or None  # --parent '': a top-level theme
    if args.example is not None:
        changes["examples"] = [example for example in args.example if example.strip()]
    if args.retired is not None:
        changes["retired"] = args.retired
    added, removed = _keywords(args.keyword), _keywords(args.remove_keyword)
    if not (changes or added or removed):
        print("error: nothing to change (see themes update --help)", file=sys.stderr)
        return 2
    stored = _run_change(records.update, args.theme_id, changes, added, removed)
    if isinstance(stored, int):
        return stored
    _changed("updated", stored, args.theme_id)
    return 0


def themes_retire(args: argparse.Namespace) -> int:
    """Retire a theme: it tags nothing new; items tagged with it keep the tag."""
    stored = _run_change(records.retire, args.theme_id)
    if isinstance(stored, int):
        return stored
    _changed("retired", stored, args.theme_id)
    return 0


SUGGESTIONS_FILE = "theme-suggestions.json"
DEFAULT_DAYS = 7


def _stored_items(from_day: date, to_day: date, max_items: int) -> Iterator[Any]:
    """The range's stored items, newest day first, at most `max_items`."""
    from chalicelib.store import feedback as feedback_store

    day, read = to_day, 0
    while day >= from_day and read < max_items:
        for item in feedback_store.list_day(day):
            yield item
            read += 1
            if read >= max_items:
                return
        day -= timedelta(days=1)


def themes_suggestions(args: argparse.Namespace) -> int:
    """List the phrases no theme covers, with counts and samples, and save them for `add --from-suggestion`.

    Sample texts are printed, never saved: the file keeps ids, phrases, counts and proposals only.
    """
    from chalicelib.analysis.themes.suggestions import Item, suggest
    from chalicelib.config import ThemeTaggerBackend, settings

    if args.from_day > args.to_day:
        print("error: --from is after --to", file=sys.stderr)
        return 2
    taxonomy = records.current_fresh()
    texts: dict[str, str] = {}
    items = []
    for stored in _stored_items(args.from_day, args.to_day, args.max_items):
        texts[stored.feedback_id] = stored.text
        items.append(Item(stored.feedback_id, stored.text, stored.language, bool(stored.themes)))
    found = suggest(items, taxonomy, min_count=args.min_count, limit=args.limit)
    propose = (
        args.propose if args.propose is not None else settings().theme_tagger is ThemeTaggerBackend.BEDROCK
    )
    proposals, failure = _proposals(found, texts, taxonomy) if propose and found else ({}, None)
    print(
        f"{len(items):,} items stored {args.from_day} to {args.to_day}; taxonomy version {taxonomy.version}"
    )
    if failure:
        print(f"note: Bedrock proposed nothing ({clip(failure, 160)}); ids and names are made of the phrases")
    if not found:
        print(f"no phrase outside the taxonomy is used by {args.min_count} items or more")
        return 0
    saved = []
    for number, suggestion in enumerate(found, start=1):
        proposal = proposals.get(number)
        theme = {
            "id": proposal.id if proposal else suggestion.proposed_id(),
            "name": proposal.name if proposal else suggestion.proposed_name(),
            "description": proposal.description if proposal else "",
            "keywords": proposal.keywords if proposal else {},
        }
        language = suggestion.language or "?"
        print(
            f"{number:>3}. {suggestion.phrase!r} ({language}): {suggestion.count} items, "
            f'{suggestion.untagged} without any theme → {theme["id"]} "{theme["name"]}"'
        )
        for language_code, words in sorted(theme["keywords"].items()):
            print(f"       keywords {language_code}: {', '.join(words)}")
        for feedback_id in suggestion.feedback_ids:
            print(f"       {feedback_id}: {clip(texts[feedback_id], 100)}")
        saved.append(
            {
                "n": number,
                "phrase": suggestion.phrase,
                "language": suggestion.language,
                "count": suggestion.count,
                "untagged": suggestion.untagged,
                "feedback_ids": suggestion.feedback_ids,
                "theme": theme,
            }
        )
    document = {
        "from": args.from_day.isoformat(),
        "to": args.to_day.isoformat(),
        "taxonomy_version": taxonomy.version,
        "suggestions": saved,
    }
    try:
        args.save.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        print(f"error: cannot write {str(args.save)!r}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"saved to {args.save}; a person accepts one with `themes add --from-suggestion N`")
    return 0


def _proposals(
    found: list[Any], texts: dict[str, str], taxonomy: Taxonomy
) -> tuple[dict[int, Any], str | None]:
    from chalicelib import aws
    from chalicelib.analysis.themes.proposals import propose_or_why_not
    from chalicelib.config import settings

    client = aws.client("bedrock-runtime")
    return propose_or_why_not(client, settings().bedrock_model_id, found, texts, taxonomy)


def _from_suggestion(args: argparse.Namespace) -> dict[str, Any] | int:
    """The theme a saved suggestion proposes, amended by the options given."""
    try:
        document = json.loads(args.suggestions.read_text(encoding="utf-8"))
        chosen = next(s for s in document["suggestions"] if s["n"] == args.from_suggestion)
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        print(
            f"error: no suggestion {args.from_suggestion} in {args.suggestions} (run `themes suggestions`)",
            file=sys.stderr,
        )
        return 1
    theme = chosen["theme"]
    keywords: dict[str, list[str]] = {language: list(words) for language, words in theme["keywords"].items()}
    if chosen.get("language") and len(chosen["language"]) == 2:
        phrases = keywords.setdefault(chosen["language"], [])
        if chosen["phrase"] not in phrases:
            phrases.insert(0, chosen["phrase"])
    for language, words in _keywords(args.keyword).items():
        keywords.setdefault(language, []).extend(w for w in words if w not in keywords.get(language, []))
    description = theme.get("description") or f"Suggested from the phrase {chosen['phrase']!r}."
    return {
        "id": args.theme_id or theme["id"],
        "name": args.name or theme["name"],
        "description": args.description or description,
        "parent": args.parent or None,
        "keywords": keywords,
        "examples": args.example or [],
    }


def _add_theme_options(parser: argparse.ArgumentParser, examples_help: str) -> None:
    parser.add_argument("--description")
    parser.add_argument(
        "--keyword",
        action="append",
        metavar="LANG=WORD",
        help="add a keyword or phrase (repeat): en=arrived late",
    )
    parser.add_argument("--example", action="append", help=examples_help)


def add_themes_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    """`themes import | export | list | add | update | retire`."""
    themes = groups.add_parser("themes", help="the theme taxonomy").add_subparsers(
        dest="command", required=True
    )

    importing = themes.add_parser(
        "import", parents=[common], help="replace the whole taxonomy with a JSON or YAML document"
    )
    importing.add_argument("file", help='{"themes": [...]} as JSON, or YAML (.yaml, .yml)')
    importing.add_argument(
        "--drop-left-out",
        action="store_true",
        help="drop the stored themes the document leaves out instead of keeping them retired (items "
        "tagged with one keep a tag no theme names: for a theme that never tagged anything)",
    )
    importing.set_defaults(run=themes_import)

    exporting = themes.add_parser("export", parents=[common], help="write the taxonomy as a document")
    exporting.add_argument("file", nargs="?", help="where (YAML for .yaml/.yml; default: standard output)")
    exporting.set_defaults(run=themes_export)

    themes.add_parser("list", parents=[common], help="the taxonomy as a tree").set_defaults(run=themes_list)

    adding = themes.add_parser("add", parents=[common], help="add a theme")
    adding.add_argument("--id", dest="theme_id", help="a slug: lower-case, digits, - and _")
    adding.add_argument("--name")
    adding.add_argument("--parent", help="the id of the theme it belongs under")
    _add_theme_options(adding, "an example of what customers write (repeat)")
    adding.add_argument(
        "--from-suggestion",
        type=int,
        metavar="N",
        help="accept suggestion N of the last `themes suggestions` (the options above amend it)",
    )
    adding.add_argument(
        "--suggestions", type=Path, default=SUGGESTIONS_FILE, help=f"(default {SUGGESTIONS_FILE})"
    )
    adding.set_defaults(run=themes_add)

    updating = themes.add_parser("update", parents=[common], help="change a theme")
    updating.add_argument("theme_id")
    updating.add_argument("--name")
    updating.add_argument("--parent", help="move it under this theme ('' for the top level)")
    _add_theme_options(updating, "the examples, replacing them (repeat; --example '' for none)")
    updating.add_argument("--remove-keyword", action="append", metavar="LANG=WORD", help="(repeat)")
    updating.add_argument(
        "--retired", action=argparse.BooleanOptionalAction, default=None, help="--no-retired brings it back"
    )
    updating.set_defaults(run=themes_update)

    retiring = themes.add_parser("retire", parents=[common], help="retire a theme (items keep its tag)")
    retiring.add_argument("theme_id")
    retiring.set_defaults(run=themes_retire)

    suggesting = themes.add_parser(
        "suggestions", parents=[common], help="phrases of recent items that no theme covers"
    )
    today = datetime.now(UTC).date()
    for flag, dest, default, help_text in (
        ("--from", "from_day", today - timedelta(days=DEFAULT_DAYS - 1), "first UTC day stored"),
        ("--to", "to_day", today, "last UTC day (inclusive)"),
    ):
        suggesting.add_argument(
            flag, dest=dest, type=day_argument, default=default, metavar="YYYY-MM-DD",
            help=f"{help_text} (default {default})",
        )  # fmt: skip
    suggesting.add_argument("--min-count", type=int, default=3, help="items a phrase needs (default 3)")
    suggesting.add_argument("--limit", type=bounded(1), default=20, help="suggestions listed (default 20)")
    suggesting.add_argument(
        "--max-items", type=int, default=50_000, help="items read, newest days first (default 50,000)"
    )
    suggesting.add_argument(
        "--propose",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="ask Bedrock for a name and keywords (default: when THEME_TAGGER=bedrock)",
    )
    suggesting.add_argument(
        "--save",
        type=Path,
        default=SUGGESTIONS_FILE,
        help=f"where they are kept (default {SUGGESTIONS_FILE})",
    )
    suggesting.set_defaults(run=themes_suggestions)
