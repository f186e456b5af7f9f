"""A taxonomy document is checked whole: every problem reported at once, each naming the theme (position and
id) and the field; a valid document becomes a Taxonomy; the starter taxonomy is valid."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.themes import document
from chalicelib.themes.document import InvalidTaxonomy, Problem
from chalicelib.themes.records import STARTER_PATH
from chalicelib.themes.taxonomy import MAX_KEYWORDS_PER_LANGUAGE, MAX_THEMES


def theme(theme_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": theme_id, "name": theme_id.title(), **fields}


def problems_of(raw: Any) -> list[Problem]:
    with pytest.raises(InvalidTaxonomy) as refused:
        document.parse(raw)
    return refused.value.problems


def only_problem(raw: Any) -> Problem:
    problems = problems_of(raw)
    assert len(problems) == 1, problems
    return problems[0]


def test_a_valid_document_becomes_a_taxonomy():
    taxonomy = document.parse(
        {
            "themes": [
                theme("delivery", keywords={"en": ["courier", "arrived late"], "es": ["envío"]}),
                theme("delivery-speed", parent="delivery", description="How long it takes"),
                theme("price", examples=["too expensive for what it is"], retired=True),
            ]
        }
    )

    assert [t.id for t in taxonomy.themes] == ["delivery", "delivery-speed", "price"]
    assert taxonomy.get("delivery").keywords == {"en": ["courier", "arrived late"], "es": ["envío"]}
    assert taxonomy.with_children("delivery") == {"delivery", "delivery-speed"}
    assert [t.id for t in taxonomy.active()] == ["delivery", "delivery-speed"]
    assert taxonomy.version == 0


def test_duplicate_ids_name_the_second_theme_and_the_first():
    problem = only_problem({"themes": [theme("price"), theme("quality"), theme("price")]})

    assert (problem.index, problem.theme_id, problem.field) == (2, "price", "id")
    assert "themes[0]" in problem.message
    assert str(problem).startswith("themes[2] ('price'): id: duplicate id")


def test_an_unknown_parent_names_the_child():
    problem = only_problem({"themes": [theme("delivery"), theme("late", parent="shipping")]})

    assert (problem.index, problem.theme_id, problem.field) == (1, "late", "parent")
    assert "'shipping' is not a theme" in problem.message


def test_three_levels_are_refused_on_the_third():
    problem = only_problem(
        {"themes": [theme("a"), theme("b", parent="a"), theme("c", parent="b")]},
    )

    assert (problem.index, problem.theme_id, problem.field) == (2, "c", "parent")
    assert "two levels at most" in problem.message


def test_a_theme_that_tags_cannot_have_a_retired_parent():
    problem = only_problem({"themes": [theme("fax", retired=True), theme("fax-paper", parent="fax")]})

    assert (problem.index, problem.field) == (1, "parent")
    assert problem.message == "'fax' is retired: retire this theme too, or move it"
    document.parse({"themes": [theme("fax", retired=True), theme("fax-paper", parent="fax", retired=True)]})


def test_a_theme_cannot_be_its_own_parent():
    problem = only_problem({"themes": [theme("loop", parent="loop")]})

    assert (problem.theme_id, problem.field, problem.message) == (
        "loop",
        "parent",
        "a theme cannot be its own parent",
    )


@pytest.mark.parametrize("bad_id", ["Delivery", "has space", "-leading", "", "x" * 64, "ünicode"])
def test_an_id_that_is_not_a_slug_is_refused(bad_id):
    problem = only_problem({"themes": [theme("ok"), {"id": bad_id, "name": "Bad"}]})

    assert (problem.index, problem.field) == (1, "id")
    assert "slug" in problem.message


def test_too_many_keywords_in_one_language_are_refused():
    words = [f"word {n}" for n in range(MAX_KEYWORDS_PER_LANGUAGE + 1)]
    problem = only_problem({"themes": [theme("price", keywords={"en": words, "es": ["precio"]})]})

    assert (problem.index, problem.theme_id, problem.field) == (0, "price", "keywords.en")
    assert str(MAX_KEYWORDS_PER_LANGUAGE) in problem.message


def test_a_language_that_is_not_a_code_and_an_empty_keyword_are_refused():
    problems = problems_of({"themes": [theme("price", keywords={"English": ["cheap"], "fr": ["  "]})]})

    assert {p.field for p in problems} == {"keywords.English (language)", "keywords.fr[0]"}
    assert any("ISO 639-1" in p.message for p in problems)


def test_an_empty_keyword_says_so_in_plain_words():
    problem = only_problem({"themes": [theme("price", keywords={"en": ["cheap", ""]})]})

    assert (problem.field, problem.message) == ("keywords.en[1]", "cannot be empty")


def test_a_keyword_without_a_letter_or_digit_is_refused_as_never_matching():
    problems = problems_of({"themes": [theme("mood", keywords={"en": ["!!!", "happy", "😀"], "fr": ["…"]})]})

    assert [(p.field, p.message.split(" has ")[0]) for p in problems] == [
        ("keywords.en", "'!!!'"),
        ("keywords.en", "'😀'"),
        ("keywords.fr", "'…'"),
    ]
    assert all("the keywords tagger could never match it" in p.message for p in problems)


def test_notes_name_a_keyword_shared_by_themes_and_keywords_in_a_language_without_spaces():
    taxonomy = document.parse(
        {
            "themes": [
                theme("app", keywords={"en": ["slow", "app"]}),
                theme("delivery", keywords={"en": ["Slow", "courier"], "ja": ["配達"], "fr": ["envoi"]}),
                theme("late", parent="delivery", keywords={"fr": ["Envoi"], "zh": ["快递"]}),
                theme("old", keywords={"en": ["app"], "ja": ["古い"]}, retired=True),
            ]
        }
    )

    notes = document.notes(taxonomy)

    assert [note.split(":")[0] for note in notes] == [
        "keywords.en",
        "keywords.fr",
        "keywords.ja (delivery)",
        "keywords.zh (late)",
    ]
    assert "'slow' is a keyword of app, delivery" in notes[0]
    assert "'envoi' is a keyword of delivery, late" in notes[1]
    assert "Japanese is written without spaces" in notes[2]
    assert document.notes(document.parse({"themes": [theme("app", keywords={"en": ["app"]})]})) == []


def test_a_keyword_listed_twice_in_one_language_is_refused():
    problem = only_problem({"themes": [theme("price", keywords={"en": ["Cheap", "cheap"], "es": ["cheap"]})]})

    assert (problem.theme_id, problem.field) == ("price", "keywords.en")
    assert "'cheap' is listed twice" in problem.message


def test_unknown_fields_are_refused_in_a_theme_and_in_the_document():
    problems = problems_of({"themes": [theme("price", colour="red")], "owner": "marketing"})

    assert [(p.index, p.theme_id, p.field, p.message) for p in problems] == [
        (None, None, "owner", "unknown field"),
        (0, "price", "colour", "unknown field"),
    ]


def test_every_problem_is_reported_at_once_in_document_order():
    problems = problems_of(
        {
            "themes": [
                theme("price", parent="nowhere"),
                {"id": "Bad Id", "name": ""},
                "not a theme",
                theme("price"),
                {"name": "No id"},
            ]
        }
    )

    assert [(p.index, p.field) for p in problems] == [
        (0, "parent"),
        (1, "id"),
        (1, "name"),
        (2, ""),
        (3, "id"),
        (4, "id"),
    ]
    assert problems[-1].message == "required"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ([], ""),
        ({}, "themes"),
        ({"themes": {"price": {}}}, "themes"),
        ({"themes": [theme(f"t{n}") for n in range(MAX_THEMES + 1)]}, "themes"),
    ],
)
def test_a_document_of_the_wrong_shape_is_refused(raw, field):
    problem = only_problem(raw)

    assert (problem.index, problem.field) == (None, field)


def test_text_that_is_not_json_or_yaml_is_refused_with_its_position():
    with pytest.raises(InvalidTaxonomy, match=r"not valid JSON: .*line 1"):
        document.read_text('{"themes": [')
    with pytest.raises(InvalidTaxonomy, match="not valid YAML"):
        document.read_text("themes: [unclosed", yaml_format=True)


def test_yaml_reads_like_json():
    text = "themes:\n  - id: delivery\n    name: Delivery\n    keywords:\n      es: [envío, entrega]\n"

    taxonomy = document.read_text(text, yaml_format=True)

    assert taxonomy.get("delivery").keywords == {"es": ["envío", "entrega"]}


def test_yaml_keeps_norwegian_and_words_like_no_and_on_as_written():
    # YAML 1.1 reads a bare no/on/yes as a boolean, 2024 as a number: "the Norway problem".
    text = """themes:
  - id: delivery
    name: Delivery
    parent:
    retired: no
    keywords:
      no: [levering, pakke]
      en: [late, on time, no, on, 2024]
  - id: fax
    name: Fax
    retired: yes
"""

    taxonomy = document.read_text(text, yaml_format=True)

    delivery = taxonomy.get("delivery")
    assert delivery.keywords == {"no": ["levering", "pakke"], "en": ["late", "on time", "no", "on", "2024"]}
    assert (delivery.parent, delivery.retired, taxonomy.get("fax").retired) == (None, False, True)
    assert document.read_text(document.write_text(taxonomy, yaml_format=True), yaml_format=True) == taxonomy


def test_a_document_round_trips_through_text_in_both_formats():
    original = document.parse(
        {"themes": [theme("delivery", keywords={"de": ["Lieferung"]}), theme("late", parent="delivery")]}
    )
    for yaml_format in (False, True):
        text = document.write_text(original, yaml_format=yaml_format)

        assert document.read_text(text, yaml_format=yaml_format).themes == original.themes
    # Defaults are left out, so an exported file reads like a hand-written one.
    assert json.loads(document.write_text(original))["themes"][1] == {
        "id": "late",
        "name": "Late",
        "parent": "delivery",
    }


def test_the_starter_taxonomy_is_valid_and_two_levels_deep():
    starter = document.read_file(STARTER_PATH)

    ids = {t.id for t in starter.themes}
    assert {
        "delivery",
        "price",
        "quality",
        "support",
        "checkout",
        "app",
        "billing",
        "returns",
        "staff",
    } <= ids
    assert all(t.parent is None or starter.get(t.parent).parent is None for t in starter.themes)
    assert not any(t.retired for t in starter.themes)


def test_the_readme_names_the_starter_taxonomys_top_level_ids_and_its_size():
    # It named "availability", the name of the theme whose id is "stock": ?theme=availability is unknown.
    readme = " ".join((STARTER_PATH.parents[2] / "README.md").read_text(encoding="utf-8").split())
    starter = document.read_file(STARTER_PATH)
    top_level = [t.id for t in starter.themes if t.parent is None]
    children = len(starter.themes) - len(top_level)

    listed = f"top-level ids {', '.join(top_level)}, and four sub-themes: {len(starter.themes)} in all"
    assert (len(top_level), children) == (10, 4) and listed in readme


def test_the_readmes_worked_example_is_a_valid_document():
    readme = (STARTER_PATH.parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Themes", 1)[1]
    example = section.split("```json", 1)[1].split("```", 1)[0]

    taxonomy = document.read_text(example)

    assert taxonomy.with_children("delivery") == {"delivery", "delivery-speed"}
    assert [t.id for t in taxonomy.active()] == ["delivery", "delivery-speed"]
