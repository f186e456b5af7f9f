"""`themes import|export|list|add|update|retire`: the taxonomy of what customers talk about, which the team
owns. An import replaces the whole taxonomy after checking all of it; every change is a new version."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from chalicelib.store.config_records import VersionConflict
from chalicelib.themes import document, records
from chalicelib.themes.document import InvalidTaxonomy
from chalicelib.themes.taxonomy import Taxonomy, Theme


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


def _run_change(change: Any, *args: Any, **kwargs: Any) -> Taxonomy | int:
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
    stored = _run_change(records.replace, taxonomy)
    if isinstance(stored, int):
        return stored
    retired = len(stored.themes) - len(stored.active())
    print(f"imported {len(stored.themes)} themes ({retired} retired) as version {stored.version}")
    return 0


def themes_export(args: argparse.Namespace) -> int:
    """Write the taxonomy as a document `themes import` reads back (YAML for a .yaml/.yml file)."""
    taxonomy = records.current_fresh()
    if args.file is None:
        sys.stdout.write(document.write_text(taxonomy))
        return 0
    path = Path(args.file)
    path.write_text(
        document.write_text(taxonomy, yaml_format=path.suffix.lower() in document.YAML_SUFFIXES),
        encoding="utf-8",
    )
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
    """Add one theme."""
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
    importing.set_defaults(run=themes_import)

    exporting = themes.add_parser("export", parents=[common], help="write the taxonomy as a document")
    exporting.add_argument("file", nargs="?", help="where (YAML for .yaml/.yml; default: standard output)")
    exporting.set_defaults(run=themes_export)

    themes.add_parser("list", parents=[common], help="the taxonomy as a tree").set_defaults(run=themes_list)

    adding = themes.add_parser("add", parents=[common], help="add a theme")
    adding.add_argument("--id", dest="theme_id", required=True, help="a slug: lower-case, digits, - and _")
    adding.add_argument("--name", required=True)
    adding.add_argument("--parent", help="the id of the theme it belongs under")
    _add_theme_options(adding, "an example of what customers write (repeat)")
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
