"""Themes in the day export: the `themes` column of feedback.csv (through escape_cell), the list in JSON Lines
and in feedback.parquet, feedback_themes.parquet (one row per item and theme) with its Athena table and the
saved query, names from the taxonomy at export time, items stored before tagging, and erasure rewrites."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chalicelib import aws
from chalicelib.analysis.lexicon import LexiconAnalyzer
from chalicelib.config import settings
from chalicelib.export import csv_writer, rewrite
from chalicelib.export import day as export
from chalicelib.export.base import ThemeNames
from chalicelib.export.themes_writer import FeedbackThemesWriter, themes_schema
from chalicelib.ingest import processing
from chalicelib.ingest.queue import encode_events
from chalicelib.models import Sentiment, StoredFeedback, ThemeTag
from chalicelib.privacy import erasure
from chalicelib.store import feedback as feedback_store
from chalicelib.themes import records as taxonomy_records
from chalicelib.themes.taxonomy import Taxonomy, Theme
from infra import athena
from tests.test_export import s3_object, save, stored
from tests.test_parquet_export import athena_type, parse_ddl

DAY = date(2026, 11, 21)
PREFIX = "exports/dt=2026-11-21/"
THEMES_KEY = "exports/feedback_themes/dt=2026-11-21/feedback_themes.parquet"
FEEDBACK_PARQUET_KEY = "exports/parquet/dt=2026-11-21/feedback.parquet"
ROOT = Path(__file__).resolve().parent.parent

TAXONOMY = Taxonomy(
    themes=[
        Theme(id="quality", name="Product quality"),
        Theme(id="battery", name="Battery life", parent="quality"),
        Theme(id="phone", name="Phone"),
        Theme(id="cmd", name="=cmd"),  # a name a spreadsheet would run as a formula
        Theme(id="fax", name="Fax orders", retired=True),
    ]
)


def tagged(external_id: str, at: datetime, themes: list[tuple[str, str, str]] | None) -> StoredFeedback:
    item = stored(external_id, at, "Great phone, but the battery is awful")
    tags = (
        None if themes is None else [ThemeTag(id=i, sentiment=Sentiment(s), evidence=e) for i, s, e in themes]
    )
    return item.model_copy(update={"themes": tags, "taxonomy_version": None if themes is None else 3})


@pytest.fixture
def themed_day(stack):
    """Five items on DAY: two themes, a formula-named theme, a retired and an unknown theme, tagged with
    none, and stored before tagging (themes None); one tagged item the day after."""
    taxonomy_records.replace(TAXONOMY)
    at = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    items = [
        tagged(
            "two",
            at,
            [("battery", "NEGATIVE", "the battery is awful"), ("phone", "POSITIVE", "Great phone")],
        ),
        tagged("formula", at + timedelta(minutes=1), [("cmd", "NEGATIVE", "cmd")]),
        tagged(
            "old-ids",
            at + timedelta(minutes=2),
            [("fax", "NEUTRAL", "fax"), ("dropped", "NEGATIVE", "battery")],
        ),
        tagged("none", at + timedelta(minutes=3), []),
        tagged("before-tagging", at + timedelta(minutes=4), None),
    ]
    assert len(
        save([*items, tagged("next-day", at + timedelta(days=1), [("phone", "MIXED", "phone")])]).created
    )
    return {item.external_id: item for item in items}


def read_parquet(key: str) -> pa.Table:
    return pq.read_table(io.BytesIO(s3_object(key)))


def test_feedback_csv_has_a_themes_column_of_ids_and_sentiments(themed_day):
    export.export_day(DAY)

    rows = list(csv.DictReader(io.StringIO(s3_object(PREFIX + "feedback.csv").decode("utf-8"), newline="")))
    assert list(rows[0])[-1] == "themes"
    assert {row["external_id"]: row["themes"] for row in rows} == {
        "two": "battery:NEGATIVE;phone:POSITIVE",
        "formula": "cmd:NEGATIVE",
        "old-ids": "fax:NEUTRAL;dropped:NEGATIVE",
        "none": "",
        "before-tagging": "",
    }
    # The CSV carries ids only: the formula-looking name never reaches a spreadsheet.
    assert b"=cmd" not in s3_object(PREFIX + "feedback.csv")


def test_a_theme_cell_that_looks_like_a_formula_is_escaped(tmp_path):
    """Ids the taxonomy accepts cannot start with = + - @, but a stored tag is any string (an item written by
    another tagger or an older version): the cell goes through escape_cell like every other."""
    item = stored("a", datetime(2026, 11, 21, 10, tzinfo=UTC)).model_copy(
        update={"themes": [ThemeTag(id="=cmd", sentiment=Sentiment.NEGATIVE, evidence="x")]}
    )
    writer = csv_writer.CsvWriter(tmp_path)
    writer.write(item)
    [row] = list(csv.DictReader(io.StringIO(writer.close().path.read_text("utf-8"), newline="")))

    assert row["themes"] == "'=cmd:NEGATIVE"
    assert csv_writer.escape_cell(csv_writer.themes_cell([{"id": "@x", "sentiment": "MIXED"}])) == "'@x:MIXED"


def test_json_lines_carry_themes_with_names_and_evidence(themed_day):
    export.export_day(DAY)

    lines = gzip.decompress(s3_object(PREFIX + "feedback.jsonl.gz")).decode("utf-8").splitlines()
    themes = {json.loads(line)["external_id"]: json.loads(line)["themes"] for line in lines}
    assert themes["two"] == [
        {
            "id": "battery",
            "name": "Battery life",
            "sentiment": "NEGATIVE",
            "evidence": "the battery is awful",
        },
        {"id": "phone", "name": "Phone", "sentiment": "POSITIVE", "evidence": "Great phone"},
    ]
    # Typed storage, not a spreadsheet: the name is kept as the team wrote it.
    assert themes["formula"] == [{"id": "cmd", "name": "=cmd", "sentiment": "NEGATIVE", "evidence": "cmd"}]
    # A retired theme is still in the taxonomy and keeps its name; an id it no longer has is its own name.
    assert [(t["id"], t["name"]) for t in themes["old-ids"]] == [
        ("fax", "Fax orders"),
        ("dropped", "dropped"),
    ]
    assert themes["none"] == themes["before-tagging"] == []
    first = json.loads(lines[0])
    assert first["taxonomy_version"] == 3
    assert "taxonomy_version" not in json.loads(lines[-1])  # stored before tagging
    # Compact UTF-8 JSON, as pydantic wrote the lines before themes existed.
    assert all(
        json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":")) == line for line in lines
    )


def test_feedback_parquet_types_themes_as_a_list_of_structs(themed_day):
    export.export_day(DAY)

    table = read_parquet(FEEDBACK_PARQUET_KEY)
    field = table.schema.field("themes")
    assert pa.types.is_list(field.type) and not field.nullable
    assert [(f.name, f.type) for f in field.type.value_type] == [
        ("id", pa.string()),
        ("name", pa.string()),
        ("sentiment", pa.string()),
    ]
    themes = dict(
        zip(table.column("external_id").to_pylist(), table.column("themes").to_pylist(), strict=True)
    )
    assert themes["two"] == [
        {"id": "battery", "name": "Battery life", "sentiment": "NEGATIVE"},
        {"id": "phone", "name": "Phone", "sentiment": "POSITIVE"},
    ]
    assert themes["formula"] == [{"id": "cmd", "name": "=cmd", "sentiment": "NEGATIVE"}]
    assert themes["old-ids"][1] == {"id": "dropped", "name": "dropped", "sentiment": "NEGATIVE"}
    assert themes["none"] == themes["before-tagging"] == []


def test_feedback_themes_parquet_has_one_row_per_item_and_theme(themed_day):
    manifest = export.export_day(DAY)

    table = read_parquet(THEMES_KEY)
    assert table.schema.equals(themes_schema())
    rows = table.to_pylist()
    two = themed_day["two"]
    assert rows[:2] == [
        {
            "feedback_id": two.feedback_id,
            "day": DAY,
            "occurred_at": two.occurred_at,
            "channel": "form",
            "source_id": "demo",
            "theme_id": theme_id,
            "theme_name": name,
            "parent_id": parent,
            "sentiment": sentiment,
            "taxonomy_version": 3,
        }
        for theme_id, name, parent, sentiment in (
            ("battery", "Battery life", "quality", "NEGATIVE"),
            ("phone", "Phone", None, "POSITIVE"),
        )
    ]
    assert [(r["theme_id"], r["theme_name"], r["parent_id"]) for r in rows[2:]] == [
        ("cmd", "=cmd", None),
        ("fax", "Fax orders", None),
        ("dropped", "dropped", None),
    ]
    # Items without themes, or stored before tagging, have no row; the next day's item is not in this day.
    ids = {row["feedback_id"] for row in rows}
    assert ids == {themed_day[name].feedback_id for name in ("two", "formula", "old-ids")}
    assert manifest["counts"]["feedback_themes"] == len(rows) == 5
    [entry] = [f for f in manifest["files"] if f["key"] == THEMES_KEY]
    assert (entry["rows"], entry["content_type"]) == (5, "application/vnd.apache.parquet")


def test_an_empty_day_writes_a_themes_file_with_the_schema_and_no_rows(stack):
    manifest = export.export_day(date(2020, 1, 1))

    table = read_parquet("exports/feedback_themes/dt=2020-01-01/feedback_themes.parquet")
    assert table.num_rows == 0 and table.schema.equals(themes_schema())
    assert manifest["counts"]["feedback_themes"] == 0


def test_a_day_without_tagged_items_reads_no_taxonomy(tmp_path):
    """No stack here: a taxonomy read would fail, so the names are read only when a theme needs one."""
    writer = FeedbackThemesWriter(tmp_path, names=ThemeNames())
    writer.write(tagged("a", datetime(2026, 11, 21, tzinfo=UTC), None))
    writer.write(tagged("b", datetime(2026, 11, 21, tzinfo=UTC), []))
    assert pq.read_table(writer.close().path).num_rows == 0


def test_rows_stream_out_in_row_groups(tmp_path):
    names = ThemeNames(TAXONOMY)
    writer = FeedbackThemesWriter(tmp_path, row_group_rows=2, names=names)
    at = datetime(2026, 11, 21, tzinfo=UTC)
    for n in range(3):
        writer.write(tagged(f"i{n}", at, [("battery", "NEGATIVE", "b"), ("phone", "POSITIVE", "p")]))
    metadata = pq.read_metadata(writer.close().path)
    assert (metadata.num_rows, metadata.num_row_groups) == (6, 3)


# --- erasure ----------------------------------------------------------------------------------------------


class BatteryTagger:
    name = "battery"

    def tag(self, documents, taxonomy):
        from chalicelib.analysis.themes.base import ThemeMatch

        return {
            d.key: [ThemeMatch("battery", "NEGATIVE", "battery")] for d in documents if "battery" in d.text
        }


def test_an_erasure_rewrite_removes_the_customers_theme_rows(stack):
    from tests.test_customers import event

    taxonomy_records.replace(TAXONOMY)
    erin = event("e1", email="erin@example.com", text="The battery died after a day")
    olga = event("o1", email="olga@example.com", text="My battery is fine")
    bodies = [body for e in (erin, olga) for body in encode_events([e])]
    report = processing.analyze_and_store(bodies, LexiconAnalyzer(), tagger=BatteryTagger())
    assert report.errors == [None, None]
    day = feedback_store.get(erin.feedback_id).stored_at.date()
    export.export_day(day)
    key = f"exports/feedback_themes/dt={day.isoformat()}/feedback_themes.parquet"
    assert set(read_parquet(key).column("feedback_id").to_pylist()) == {erin.feedback_id, olga.feedback_id}

    erasure.erase_customer(feedback_store.get(erin.feedback_id).customer_id)
    assert rewrite.rewrite_pending() == [day.isoformat()]

    assert read_parquet(key).column("feedback_id").to_pylist() == [olga.feedback_id]


# --- the Athena table and the saved query -------------------------------------------------------------------


def test_the_themes_ddl_matches_the_parquet_schema_and_where_the_export_writes(themed_day):
    ddl = parse_ddl(athena.THEMES_DDL_PATH.read_text())
    assert [(name, kind.lower()) for name, kind in ddl["columns"]] == [
        (field.name, athena_type(field.type)) for field in themes_schema()
    ]
    assert ddl["table"] == "${database}.feedback_themes"
    assert ddl["partitions"] == [("dt", "string")]
    # Partition projection exactly as on the feedback table.
    feedback_properties = parse_ddl(athena.DDL_PATH.read_text())["properties"]
    projection = {k: v for k, v in ddl["properties"].items() if k.startswith("projection.")}
    assert projection == {k: v for k, v in feedback_properties.items() if k.startswith("projection.")}

    entry = next(f for f in export.export_day(DAY)["files"] if f["key"].endswith("feedback_themes.parquet"))
    bucket = settings().bucket_name
    template = ddl["properties"]["storage.location.template"].replace("${bucket}", bucket)
    assert template.startswith(ddl["location"].replace("${bucket}", bucket))
    partition = template.replace("${dt}", DAY.isoformat())
    assert f"s3://{bucket}/{entry['key']}" == partition + "feedback_themes.parquet"
    listed = aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=partition.removeprefix(f"s3://{bucket}/"))
    assert [o["Key"] for o in listed["Contents"]] == [entry["key"]]  # nothing else for Athena to misread


def sql_body(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--")).strip()


def test_the_saved_query_reads_the_themes_table_by_partition_and_the_readme_shows_it():
    query = sql_body(athena.saved_queries()["negative_share_per_theme_per_week"])
    columns = {name for name, _ in athena.load(athena.THEMES_DDL_PATH).columns} | {"dt", "feedback_themes"}
    assert re.search(r"\bFROM feedback_themes\b", query)
    assert re.search(r"WHERE dt BETWEEN '\d{4}-\d\d-\d\d' AND '\d{4}-\d\d-\d\d'", query)  # partition pruning
    # Every name the query reads is a column of the table (functions and aliases aside).
    words = set(re.findall(r"\b[a-z_]+\b", re.sub(r"'[^']*'", "", query)))
    functions = {"date_trunc", "max_by", "count", "count_if", "round"}
    keywords = {"select", "as", "from", "where", "between", "and", "group", "by", "order", "desc"}
    aliases = {"week", "items", "negative", "negative_share"}
    assert words - functions - keywords - aliases <= columns
    assert {"day", "theme_id", "theme_name", "sentiment"} <= words
    assert query in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_names_the_columns_of_feedback_themes_parquet_as_the_file_has_them():
    """An analyst writes their query from the README's list: it names every column, in the file's order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = readme.split("feedback_themes.parquet` has one row per item and theme:", 1)[1].split(";", 1)[0]
    assert re.findall(r"`(\w+)`", listed) == themes_schema().names
