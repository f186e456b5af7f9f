"""`themes import|export|list|add|update|retire` against the moto stack."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from chalicelib import cli
from chalicelib.themes import records
from chalicelib.themes.records import STARTER_PATH

DOCUMENT: dict[str, Any] = {
    "themes": [
        {"id": "delivery", "name": "Delivery", "keywords": {"en": ["courier", "parcel"], "es": ["envío"]}},
        {"id": "late", "name": "Late delivery", "parent": "delivery", "keywords": {"en": ["arrived late"]}},
        {"id": "price", "name": "Price", "description": "Value for money", "examples": ["too dear"]},
        {"id": "fax", "name": "Fax orders", "retired": True},
    ]
}


def write(tmp_path: Path, content: Any, name: str = "themes.json") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def themes(*args: str) -> int:
    return cli.main(["themes", *args])


def test_import_replaces_the_taxonomy_and_says_what_it_stored(stack, tmp_path, capsys):
    assert themes("import", str(write(tmp_path, DOCUMENT))) == 0

    assert capsys.readouterr().out.strip() == "imported 4 themes (1 retired) as version 1"
    stored = records.current_fresh()
    assert [theme.id for theme in stored.themes] == ["delivery", "late", "price", "fax"]
    assert stored.get("delivery").keywords["es"] == ["envío"]

    assert themes("import", str(write(tmp_path, {"themes": DOCUMENT["themes"][2:]}))) == 0
    assert [theme.id for theme in records.current_fresh().active()] == ["price"]
    assert records.current_fresh().version == 2


def test_an_import_keeps_the_themes_it_leaves_out_retired_so_tagged_items_keep_their_names(
    stack, tmp_path, capsys
):
    themes("import", str(write(tmp_path, DOCUMENT)))
    capsys.readouterr()
    # "late" renamed "delivery-time", "price" dropped; "delivery" becomes a child of a new "shipping".
    renamed = {
        "themes": [
            {"id": "shipping", "name": "Shipping"},
            {"id": "delivery", "name": "Delivery", "parent": "shipping", "keywords": {"en": ["courier"]}},
            {"id": "delivery-time", "name": "Delivery time", "keywords": {"en": ["arrived late"]}},
        ]
    }

    assert themes("import", str(write(tmp_path, renamed))) == 0

    out = capsys.readouterr().out
    assert "imported 6 themes (3 retired) as version 2" in out
    # "fax" was retired already: kept as it is, not listed.
    assert "kept, retired, 2 theme(s) the document leaves out" in out and ": late, price (" in out
    stored = records.current_fresh()
    assert [theme.id for theme in stored.active()] == ["shipping", "delivery", "delivery-time"]
    late = stored.get("late")
    # Its parent is now a child itself: the kept theme goes top-level, with its name and keywords.
    assert (late.name, late.retired, late.parent) == ("Late delivery", True, None)
    assert late.keywords == {"en": ["arrived late"]}
    assert stored.get("price").description == "Value for money" and stored.get("price").retired
    # Importing the same document again keeps them, once, and claims no version for the same taxonomy.
    assert themes("import", str(write(tmp_path, renamed))) == 0
    assert capsys.readouterr().out == "nothing to change: the taxonomy already says so (still version 2)\n"
    assert records.current_fresh() == stored
    # A theme added by mistake, which never tagged anything, can still go for good.
    assert themes("import", "--drop-left-out", str(write(tmp_path, renamed))) == 0
    assert [theme.id for theme in records.current_fresh().themes] == ["shipping", "delivery", "delivery-time"]


def test_an_invalid_import_reports_every_theme_and_changes_nothing(stack, tmp_path, capsys):
    themes("import", str(write(tmp_path, DOCUMENT)))
    before = records.current_fresh()
    capsys.readouterr()
    broken = {
        "themes": [
            {"id": "delivery", "name": "Delivery"},
            {"id": "late", "name": "Late", "parent": "shipping"},
            {"id": "Price Tag", "name": "Price"},
            {"id": "delivery", "name": "Again", "colour": "red"},
        ]
    }

    assert themes("import", str(write(tmp_path, broken))) == 2

    errors = capsys.readouterr().err.splitlines()
    assert errors == [
        "error: themes[1] ('late'): parent: 'shipping' is not a theme of this taxonomy",
        "error: themes[2] ('Price Tag'): id: must be a slug: lower-case letters, digits, '-' and '_', "
        "starting with a letter or digit, ≤ 63",
        "error: themes[3] ('delivery'): colour: unknown field",
        "error: themes[3] ('delivery'): id: duplicate id (also themes[0])",
        "nothing was changed",
    ]
    assert records.current_fresh() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not valid JSON"), ('{"themes": "all of them"}', "themes: required: a list of themes")],
)
def test_an_unreadable_document_changes_nothing(stack, tmp_path, capsys, content, message):
    assert themes("import", str(write(tmp_path, content))) == 2

    assert message in capsys.readouterr().err
    assert records.current_fresh().version == 0


LATIN_1 = json.dumps({"themes": [{"id": "price", "name": "Précio"}]}, ensure_ascii=False)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "latin1.json",
            LATIN_1.encode("latin-1"),
            "not UTF-8 text (byte 0xe9 on line 1): save the file as UTF-8",
        ),
        (
            "latin1.yaml",
            b"themes:\n  - id: price\n    name: Pr\xe9cio\n",
            "not UTF-8 text (byte 0xe9 on line 3)",
        ),
        ("utf16.json", LATIN_1.encode("utf-16"), "the file is UTF-16: save it as UTF-8"),
        ("deep.json", b"[" * 100_000 + b"]" * 100_000, "nested too deeply to be a taxonomy"),
    ],
)
def test_a_file_in_another_encoding_or_nested_too_deeply_is_refused_with_how_to_fix_it(
    stack, tmp_path, capsys, name, content, message
):
    path = tmp_path / name
    path.write_bytes(content)

    assert themes("import", str(path)) == 2

    assert message in capsys.readouterr().err
    assert records.current_fresh().version == 0


def test_a_file_saved_with_a_byte_order_mark_imports(stack, tmp_path):
    path = tmp_path / "themes.json"
    path.write_bytes(b"\xef\xbb\xbf" + LATIN_1.encode("utf-8"))

    assert themes("import", str(path)) == 0

    assert records.current_fresh().get("price").name == "Précio"


def test_import_add_and_update_print_notes_on_how_the_taxonomy_will_tag(stack, tmp_path, capsys):
    shared = {
        "themes": [
            {"id": "app", "name": "App", "keywords": {"en": ["delay"]}},
            {"id": "delivery", "name": "Delivery", "keywords": {"en": ["courier"]}},
        ]
    }
    assert themes("import", str(write(tmp_path, shared))) == 0
    assert "note:" not in capsys.readouterr().out

    assert themes("update", "delivery", "--keyword", "en=Delays") == 0
    # Compared as the tagger compares them, by stem: "delays" finds what "delay" finds.
    assert "note: keywords.en: 'delay' / 'Delays' is a keyword of app, delivery" in capsys.readouterr().out
    assert themes("add", "--id", "ja-delivery", "--name", "Haitatsu", "--keyword", "ja=配達") == 0
    assert "note: keywords.ja (ja-delivery): Japanese is written without spaces" in capsys.readouterr().out


def test_a_missing_file_is_an_error(stack, tmp_path, capsys):
    assert themes("import", str(tmp_path / "nope.json")) == 1
    assert "no file" in capsys.readouterr().err


def test_a_file_that_cannot_be_read_or_written_is_an_error_not_a_traceback(stack, tmp_path, capsys):
    unreadable = write(tmp_path, DOCUMENT)
    unreadable.chmod(0)
    if os.access(unreadable, os.R_OK):  # root reads anything: the write case below still runs
        unreadable.chmod(0o600)
    else:
        assert themes("import", str(unreadable)) == 1
        assert f"error: cannot read '{unreadable}': Permission denied" in capsys.readouterr().err

    target = tmp_path / "no-such-folder" / "themes.json"
    assert themes("export", str(target)) == 1
    assert f"error: cannot write '{target}': No such file or directory" in capsys.readouterr().err


def test_yaml_imports_like_json(stack, tmp_path):
    text = "themes:\n  - id: returns\n    name: Returns\n    keywords:\n      fr: [retour, remboursement]\n"

    assert themes("import", str(write(tmp_path, text, "themes.yaml"))) == 0

    assert records.current_fresh().get("returns").keywords == {"fr": ["retour", "remboursement"]}


@pytest.mark.parametrize("name", ["exported.json", "exported.yaml"])
def test_export_writes_what_import_reads_back(stack, tmp_path, capsys, name):
    themes("import", str(write(tmp_path, DOCUMENT)))
    original = records.current_fresh()

    assert themes("export", str(tmp_path / name)) == 0
    assert themes("import", str(tmp_path / name)) == 0

    # The same themes read back: nothing to change, no new version.
    assert "nothing to change" in capsys.readouterr().out
    assert records.current_fresh() == original


def test_export_to_standard_output_is_the_document_with_its_version(stack, tmp_path, capsys):
    themes("import", str(write(tmp_path, DOCUMENT)))
    capsys.readouterr()

    assert themes("export") == 0

    assert json.loads(capsys.readouterr().out) == {"version": 1, **DOCUMENT}


def test_the_starter_taxonomy_imports(stack, capsys):
    assert themes("import", str(STARTER_PATH)) == 0
    assert records.current_fresh().version == 1


def test_list_is_a_tree_with_keyword_counts_and_retired_marked(stack, tmp_path, capsys):
    assert themes("list") == 0
    assert "no taxonomy yet" in capsys.readouterr().out
    themes("import", str(write(tmp_path, DOCUMENT)))
    capsys.readouterr()

    assert themes("list") == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "version 1: 4 themes (1 retired)"
    assert [line.split()[0] for line in lines[1:]] == ["delivery", "late", "price", "fax"]
    assert lines[1].startswith("delivery ") and lines[1].endswith("en 2, es 1")
    assert lines[2].startswith("  late ") and lines[2].endswith("en 1")
    assert lines[3].endswith("no keywords")
    assert lines[4].endswith("[retired]")


def test_add_update_and_retire(stack, tmp_path, capsys):
    themes("import", str(write(tmp_path, DOCUMENT)))
    capsys.readouterr()

    assert (
        themes(
            "add",
            "--id",
            "lost",
            "--name",
            "Lost parcel",
            "--parent",
            "delivery",
            "--keyword",
            "en=never arrived",
            "--keyword",
            "de=nie angekommen",
            "--example",
            "My parcel never came",
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == "added 'lost': the taxonomy is now version 2"
    lost = records.current_fresh().get("lost")
    assert (lost.parent, lost.keywords, lost.examples) == (
        "delivery",
        {"en": ["never arrived"], "de": ["nie angekommen"]},
        ["My parcel never came"],
    )

    assert (
        themes(
            "update",
            "lost",
            "--name",
            "Lost",
            "--keyword",
            "en=missing",
            "--remove-keyword",
            "de=NIE ANGEKOMMEN",
        )
        == 0
    )
    assert themes("update", "lost", "--parent", "") == 0
    lost = records.current_fresh().get("lost")
    assert (lost.name, lost.parent, lost.keywords) == ("Lost", None, {"en": ["never arrived", "missing"]})

    assert themes("retire", "lost") == 0
    assert records.current_fresh().get("lost").retired
    assert themes("update", "lost", "--no-retired") == 0
    assert not records.current_fresh().get("lost").retired
    assert records.current_fresh().version == 6


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["add", "--id", "price", "--name", "Price again"], 2, "theme 'price': id: already a theme"),
        (["add", "--id", "Bad", "--name", "Bad"], 2, "theme 'Bad': id: must be a slug"),
        (["add", "--id", "x", "--name", "X", "--parent", "late"], 2, "two levels at most"),
        (["add", "--id", "x", "--name", "X", "--keyword", "english"], 2, "a keyword is language=word"),
        (["update", "nowhere", "--name", "X"], 1, "no theme 'nowhere'"),
        (["update", "price"], 2, "nothing to change"),
        (["update", "price", "--name", " "], 2, "name: cannot be empty"),
        (["retire", "delivery"], 2, "retire or move its themes first: late"),
        (["retire", "nowhere"], 1, "no theme 'nowhere'"),
    ],
)
def test_a_refused_change_says_why_and_changes_nothing(stack, tmp_path, capsys, args, code, message):
    themes("import", str(write(tmp_path, DOCUMENT)))
    before = records.current_fresh()
    capsys.readouterr()

    try:
        assert themes(*args) == code
        error = capsys.readouterr().err
    except SystemExit as exit_:  # argument errors exit from argparse or the option parser
        assert code == 2
        error = str(exit_.code) + capsys.readouterr().err
    assert message in error
    assert records.current_fresh() == before
