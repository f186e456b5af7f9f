"""The stored taxonomy (moto): replace and read back, one version per change, conditional writes under
concurrent changes, the cache window, refused changes that change nothing, the starter taxonomy loaded
once."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta

import pytest
from aws_lambda_powertools.utilities.parameters import base as powertools_parameters

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.local.provision import load_starter_taxonomy
from chalicelib.store import dynamo
from chalicelib.store.config_records import THEMES, VersionConflict
from chalicelib.themes import document, records
from chalicelib.themes.document import InvalidTaxonomy
from chalicelib.themes.taxonomy import Taxonomy, Theme

DELIVERY = Theme(id="delivery", name="Delivery", keywords={"en": ["courier"], "es": ["envío"]})
LATE = Theme(id="late", name="Late delivery", parent="delivery", keywords={"en": ["arrived late"]})
PRICE = Theme(id="price", name="Price", description="Value for money")


def small() -> Taxonomy:
    return Taxonomy(themes=[DELIVERY, LATE, PRICE])


def stored_item() -> dict:
    return dynamo.get_item(settings().table_name, THEMES.key(records.TAXONOMY_RECORD), consistent=True)


def test_nothing_imported_is_an_empty_taxonomy_at_version_0(stack):
    assert records.current() == Taxonomy(themes=[], version=0)
    assert records.current_fresh() == Taxonomy(themes=[], version=0)
    assert stored_item() is None


def test_replace_then_current_round_trips(stack):
    stored = records.replace(small())
    records.clear_cache()

    assert stored.version == 1
    assert records.current() == small().model_copy(update={"version": 1})
    assert records.current().get("delivery").keywords == {"en": ["courier"], "es": ["envío"]}


def test_the_record_is_one_themes_item_compressed_json(stack):
    records.replace(small())

    item = stored_item()
    assert (item["pk"], item["sk"], item["record_type"], item["version"]) == (
        "THEMES",
        "taxonomy",
        "THEMES",
        1,
    )
    themes = json.loads(gzip.decompress(item["document"].value))
    assert [theme["id"] for theme in themes] == ["delivery", "late", "price"]


def test_every_change_bumps_the_version_by_one(stack):
    versions = [
        records.replace(small()).version,
        records.add(Theme(id="battery", name="Battery")).version,
        records.update("battery", {"name": "Battery life"}, add_keywords={"en": ["charge"]}).version,
        records.retire("battery").version,
        records.replace(small()).version,
    ]

    assert versions == [1, 2, 3, 4, 5]
    assert records.current_fresh().version == 5
    assert records.current_fresh().get("battery") is None  # the last import replaced everything


def test_add_update_and_retire_change_what_they_say(stack):
    records.replace(small())

    records.add(Theme(id="slow-courier", name="Slow courier", parent="delivery"))
    records.update(
        "price", {"description": "", "examples": ["too dear"]}, add_keywords={"fr": ["prix", "Prix"]}
    )
    records.update(
        "delivery", add_keywords={"en": ["parcel"]}, remove_keywords={"en": ["COURIER"], "es": ["envío"]}
    )
    records.retire("late")
    taxonomy = records.current_fresh()

    assert taxonomy.get("slow-courier").parent == "delivery"
    assert taxonomy.get("price").model_dump(include={"description", "examples", "keywords"}) == {
        "description": "",
        "examples": ["too dear"],
        "keywords": {"fr": ["prix"]},
    }
    assert taxonomy.get("delivery").keywords == {"en": ["parcel"]}
    assert taxonomy.get("late").retired and [t.id for t in taxonomy.active()] == [
        "delivery",
        "price",
        "slow-courier",
    ]
    assert records.update("late", {"retired": False}).get("late").retired is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda: records.add(Theme(id="price", name="Again")), "id"),
        (lambda: records.add(Theme(id="x", name="X", parent="nowhere")), "parent"),
        (lambda: records.add(Theme(id="x", name="X", parent="late")), "parent"),  # a third level
        (lambda: records.update("price", {"name": ""}), "name"),
        (lambda: records.update("price", {"parent": "late"}), "parent"),
        (lambda: records.update("price", {"id": "cost"}), "id"),
        (lambda: records.update("price", add_keywords={"EN": ["cheap"]}), "keywords.EN (language)"),
        (lambda: records.retire("delivery"), "retired"),  # it has a theme that is not retired
        # A misspelt removal is refused rather than claiming a version for nothing.
        (lambda: records.update("delivery", remove_keywords={"en": ["curier"]}), "keywords.en"),
    ],
)
def test_a_refused_change_changes_nothing(stack, change, field):
    before = records.replace(small())

    with pytest.raises(InvalidTaxonomy) as refused:
        change()

    assert [problem.field for problem in refused.value.problems] == [field]
    assert records.current_fresh() == before


@pytest.mark.parametrize(
    "change",
    [
        lambda: records.update("price", {"name": " Price ", "description": "Value for money"}),
        lambda: records.update("delivery", add_keywords={"en": ["Courier"]}),
        lambda: records.update("late", {"parent": "delivery"}),
        lambda: records.retire("price") and records.retire("price"),
        lambda: records.import_document(records.current_fresh()),
    ],
)
def test_a_change_that_changes_nothing_claims_no_version(stack, change):
    # A new version would make every tagged item look due for a re-tag (backfill --themes re-tags them all).
    records.replace(small())

    with pytest.raises(records.Unchanged) as unchanged:
        change()

    assert records.current_fresh() == unchanged.value.taxonomy
    assert records.current_fresh().version in (1, 2)  # 2: the first retire of price


def test_a_change_to_an_unknown_theme_is_refused(stack):
    records.replace(small())

    with pytest.raises(records.UnknownTheme):
        records.update("nowhere", {"name": "X"})
    with pytest.raises(records.UnknownTheme):
        records.retire("nowhere")
    assert records.current_fresh().version == 1


def test_a_retired_parent_takes_no_new_themes(stack):
    records.replace(small())
    records.retire("late")
    records.update("delivery", {"retired": True})

    with pytest.raises(InvalidTaxonomy, match="'delivery' is retired"):
        records.add(Theme(id="lost", name="Lost parcel", parent="delivery"))
    with pytest.raises(InvalidTaxonomy, match="'delivery' is retired"):
        records.update("late", {"retired": False})


def test_two_writers_of_the_same_version_cannot_both_succeed(stack):
    records.replace(small())

    first = records.replace(Taxonomy(themes=[PRICE]), expected_version=1)
    with pytest.raises(VersionConflict):
        records.replace(Taxonomy(themes=[DELIVERY]), expected_version=1)
    with pytest.raises(VersionConflict):
        THEMES.save_versioned(records.TAXONOMY_RECORD, {"document": b""}, expected_version=0)

    assert first.version == 2
    assert records.current_fresh() == Taxonomy(themes=[PRICE], version=2)


def test_a_change_that_loses_the_race_reads_again_and_applies_itself(stack, monkeypatch):
    """Another writer adds a theme between this add's read and its write: the conditional put fails, the
    add reads again and lands on the next version, and neither change is lost."""
    records.replace(small())
    read = records.current_fresh
    reads = []

    def read_then_someone_else_writes() -> Taxonomy:
        taxonomy = read()
        reads.append(taxonomy.version)
        if len(reads) == 1:
            # The other writer read the same version 1 and wins the race.
            other = Taxonomy(themes=[*taxonomy.themes, Theme(id="staff", name="Staff")])
            THEMES.save_versioned(records.TAXONOMY_RECORD, records._encode(other), taxonomy.version)
        return taxonomy

    monkeypatch.setattr(records, "current_fresh", read_then_someone_else_writes)
    result = records.add(Theme(id="battery", name="Battery"))

    assert reads == [1, 2]
    assert result.version == 3
    assert {"staff", "battery"} <= {theme.id for theme in read().themes}


def test_a_change_that_keeps_losing_gives_up(stack, monkeypatch):
    records.replace(small())
    monkeypatch.setattr(records, "current_fresh", small)  # always version 0: always stale

    with pytest.raises(VersionConflict):
        records.add(Theme(id="battery", name="Battery"))
    assert read_version() == 1


def read_version() -> int:
    return int(stored_item()["version"])


def test_current_is_cached_for_the_config_cache_window(stack, monkeypatch):
    """Another process (the CLI) changes the taxonomy: a warm Lambda sees it after CONFIG_CACHE_SECONDS."""
    records.replace(small())
    cached = records.current()
    # The other process's write, which this process's cache is not told about.
    changed = {**THEMES.key(records.TAXONOMY_RECORD), "record_type": "THEMES", "version": 2}
    changed |= records._encode(Taxonomy(themes=[PRICE]))
    aws.client("dynamodb").put_item(TableName=settings().table_name, Item=dynamo.serialize(changed))
    read = dynamo.get_item
    reads = []
    monkeypatch.setattr(
        dynamo, "get_item", lambda *args, **kwargs: reads.append(args) or read(*args, **kwargs)
    )

    assert records.current() is cached  # the same object: no read, no decoding
    assert reads == []

    window = settings().config_cache_seconds

    class Later(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + timedelta(seconds=window + 1)

    monkeypatch.setattr(powertools_parameters, "datetime", Later)  # the cache window has passed
    assert records.current() == Taxonomy(themes=[PRICE], version=2)
    assert records.current() is records.current()
    assert len(reads) == 1


def test_a_taxonomy_too_large_for_one_item_is_refused_before_writing(stack, monkeypatch):
    monkeypatch.setattr(records, "MAX_STORED_BYTES", 100)

    with pytest.raises(InvalidTaxonomy, match="too large to store"):
        records.replace(small())
    assert stored_item() is None


def test_make_run_loads_the_starter_taxonomy_once_and_never_over_one_that_exists(stack):
    loaded = load_starter_taxonomy()

    assert loaded.version == 1
    assert loaded.themes == document.read_file(records.STARTER_PATH).themes
    records.replace(small())
    assert load_starter_taxonomy() == small().model_copy(update={"version": 2})
    assert records.current_fresh().get("staff") is None
