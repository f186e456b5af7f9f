"""feedback.parquet: typed columns read back with pyarrow, the manifest entry, the Parquet-only prefix, the
Glue/Athena DDL in infra/athena/feedback.sql kept in step with the schema, and pyarrow kept out of the API."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from string import Template

import pyarrow as pa
import pyarrow.parquet as pq

from chalicelib.config import settings
from chalicelib.export import day as export
from chalicelib.export.base import FEEDBACK_COLUMNS
from chalicelib.export.parquet_writer import ParquetWriter, parquet_schema
from tests import test_export
from tests.test_export import DAY, s3_object, save, stored

day_items = test_export.day_items  # the same fixture: three items on DAY, two on the days around it

ROOT = Path(__file__).resolve().parent.parent
DDL = ROOT / "infra" / "athena" / "feedback.sql"
PARQUET_KEY = "exports/parquet/dt=2026-11-21/feedback.parquet"

UTC_MICROS = pa.timestamp("us", tz="UTC")
SCORES = ("sentiment_positive", "sentiment_negative", "sentiment_neutral", "sentiment_mixed")
# What each Parquet (Arrow) type is called in Athena DDL.
ATHENA_TYPES = {
    UTC_MICROS: "timestamp",
    pa.float64(): "double",
    pa.int16(): "smallint",
    pa.bool_(): "boolean",
    pa.date32(): "date",
    pa.int32(): "int",
}


def read_parquet(key: str) -> pa.Table:
    return pq.read_table(io.BytesIO(s3_object(key)))


def parquet_entry(manifest: dict) -> dict:
    [entry] = [f for f in manifest["files"] if f["key"].endswith("/feedback.parquet")]
    return entry


def test_parquet_has_typed_columns_and_the_stored_values(day_items):
    manifest = export.export_day(DAY)

    table = read_parquet(PARQUET_KEY)
    assert table.schema.names == list(FEEDBACK_COLUMNS)
    assert table.schema.equals(parquet_schema())
    types = {field.name: field.type for field in table.schema}
    for column in ("occurred_at", "received_at", "stored_at", "analyzed_at"):
        assert types[column] == UTC_MICROS
        assert types[column].tz == "UTC"
    for column in SCORES:
        assert types[column] == pa.float64()
    assert types["rating"] == pa.int16()
    assert table.schema.field("rating").nullable
    assert types["pii_redacted"] == pa.bool_()
    assert types["text"] == types["feedback_id"] == pa.string()
    assert not table.schema.field("feedback_id").nullable

    rows = table.to_pylist()
    assert table.num_rows == manifest["counts"]["feedback"] == 3
    assert [row["external_id"] for row in rows] == ["a", "b", "c"]
    for row, item in zip(rows, day_items, strict=True):
        assert row["feedback_id"] == item.feedback_id
        assert row["occurred_at"] == item.occurred_at
        assert row["stored_at"] == item.stored_at
        assert row["analyzed_at"] == item.analyzed_at
        assert row["sentiment_positive"] == 0.9
        assert isinstance(row["sentiment_negative"], float)
        assert (row["rating"], row["rating_scale"], row["sentiment"]) == (9, "nps", "POSITIVE")
        assert row["pii_redacted"] is False
        assert row["thread_id"] is None
    # Parquet is typed storage, not a spreadsheet: customer text is kept exactly as written.
    assert rows[1]["text"] == '=HYPERLINK("http://evil")'
    assert rows[0]["text"] == 'Comma, "quotes" and\nnewline'


def test_microseconds_and_nulls_survive(stack):
    at = datetime(2026, 11, 21, 23, 59, 59, 123456, tzinfo=UTC)
    save([stored("micro", at, rating=None)])

    export.export_day(DAY)

    [row] = read_parquet(PARQUET_KEY).to_pylist()
    assert row["occurred_at"] == at
    assert row["occurred_at"].microsecond == 123456
    assert row["rating"] is None
    assert row["author_name"] is None


def test_manifest_lists_the_parquet_file_with_its_sha256(day_items):
    manifest = export.export_day(DAY)

    entry = parquet_entry(manifest)
    assert entry["key"] == PARQUET_KEY
    assert entry["content_type"] == "application/vnd.apache.parquet"
    assert entry["rows"] == manifest["counts"]["feedback"] == 3
    body = s3_object(PARQUET_KEY)
    assert entry["sha256"] == hashlib.sha256(body).hexdigest()
    assert entry["bytes"] == len(body)
    assert body[:4] == body[-4:] == b"PAR1"


def test_the_parquet_prefix_holds_only_parquet(day_items):
    export.export_day(DAY)

    s3 = export.aws.client("s3")
    listed = s3.list_objects_v2(Bucket=settings().bucket_name, Prefix="exports/parquet/")["Contents"]
    assert [o["Key"] for o in listed] == [PARQUET_KEY]
    # And nothing Parquet sits beside the flat files Athena must never read.
    beside = s3.list_objects_v2(Bucket=settings().bucket_name, Prefix="exports/dt=2026-11-21/")["Contents"]
    assert not [o["Key"] for o in beside if o["Key"].endswith(".parquet")]


def test_an_empty_day_writes_a_valid_parquet_with_the_schema_and_no_rows(stack):
    manifest = export.export_day(date(2020, 1, 1))

    key = "exports/parquet/dt=2020-01-01/feedback.parquet"
    table = read_parquet(key)
    assert table.num_rows == 0
    assert table.schema.equals(parquet_schema())
    assert parquet_entry(manifest)["rows"] == 0


def test_rows_stream_out_in_row_groups(tmp_path):
    at = datetime(2026, 11, 21, tzinfo=UTC)
    writer = ParquetWriter(tmp_path, row_group_rows=2)
    for n in range(5):
        writer.write(stored(f"item-{n}", at + timedelta(minutes=n)))

    path = writer.close().path

    metadata = pq.read_metadata(path)
    assert (metadata.num_rows, metadata.num_row_groups, writer.rows) == (5, 3, 5)
    assert [metadata.row_group(i).num_rows for i in range(3)] == [2, 2, 1]
    assert metadata.row_group(0).column(0).compression == "SNAPPY"
    assert pq.read_table(path).column("external_id").to_pylist() == [f"item-{n}" for n in range(5)]


def test_identical_rows_give_identical_bytes(tmp_path):
    at = datetime(2026, 11, 21, 8, 30, tzinfo=UTC)
    digests = []
    for run in ("one", "two"):
        directory = tmp_path / run
        directory.mkdir()
        writer = ParquetWriter(directory)
        writer.write(stored("a", at, "Same"))
        digests.append(hashlib.sha256(writer.close().path.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    # The footer names the writing library but carries no time of writing.
    assert pq.read_metadata(tmp_path / "one" / "feedback.parquet").created_by.startswith("parquet-cpp-arrow")


# --- infra/athena/feedback.sql ------------------------------------------------------------------------------


def parse_ddl(sql: str) -> dict:
    """A small reader for the one CREATE EXTERNAL TABLE statement: columns, partition keys, format,
    location and table properties."""
    body = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    create = re.search(r"CREATE\s+EXTERNAL\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\S+)\s*\(", body, re.I)
    assert create, "no CREATE EXTERNAL TABLE"
    columns_end = re.search(r"\)\s*(?:COMMENT\s+'[^']*'\s*)?PARTITIONED\s+BY", body[create.end() :], re.I)
    assert columns_end, "no PARTITIONED BY after the column list"
    column_list = body[create.end() : create.end() + columns_end.start()]
    partitioned = re.search(r"PARTITIONED\s+BY\s*\(([^)]*)\)", body, re.I)
    tblproperties = re.search(r"TBLPROPERTIES\s*\((.*)\)\s*;?\s*$", body, re.I | re.S)
    # One column a line: a name and a type, which may be nested (array<struct<…>>).
    column = r"^\s*`?(\w+)`?\s+([\w<>:,()]+?),?\s*$"
    return {
        "table": create.group(1).replace("`", ""),
        "columns": re.findall(column, column_list, re.M),
        "partitions": re.findall(r"`?(\w+)`?\s+(\w+)", partitioned.group(1)) if partitioned else [],
        "stored_as": re.search(r"STORED\s+AS\s+(\w+)", body, re.I).group(1).upper(),
        "location": re.search(r"LOCATION\s+'([^']+)'", body, re.I).group(1),
        "properties": dict(re.findall(r"'([^']+)'\s*=\s*'([^']*)'", tblproperties.group(1)))
        if tblproperties
        else {},
    }


def athena_type(arrow_type: pa.DataType) -> str:
    """What Athena DDL calls an Arrow type, nested types spelled out as Glue writes them."""
    if pa.types.is_list(arrow_type):
        return f"array<{athena_type(arrow_type.value_type)}>"
    if pa.types.is_struct(arrow_type):
        fields = ",".join(f"{field.name}:{athena_type(field.type)}" for field in arrow_type)
        return f"struct<{fields}>"
    return ATHENA_TYPES.get(arrow_type, "string" if arrow_type == pa.string() else f"unmapped {arrow_type}")


def test_ddl_columns_match_the_parquet_schema_exactly():
    ddl = parse_ddl(DDL.read_text())

    expected = [(field.name, athena_type(field.type)) for field in parquet_schema()]
    assert [(name, kind.lower()) for name, kind in ddl["columns"]] == expected
    assert ddl["partitions"] == [("dt", "string")]
    assert "dt" not in FEEDBACK_COLUMNS  # a partition key must not repeat a data column
    assert ddl["stored_as"] == "PARQUET"
    assert ddl["table"] == "${database}.feedback"


def test_ddl_projects_dt_and_points_at_where_the_export_writes_parquet(day_items):
    properties = parse_ddl(DDL.read_text())["properties"]
    assert properties["projection.enabled"] == "true"
    assert properties["projection.dt.type"] == "date"
    assert properties["projection.dt.format"] == "yyyy-MM-dd"
    assert properties["projection.dt.range"] == "2024-01-01,NOW"
    assert properties["projection.dt.interval"] == "1"
    assert properties["projection.dt.interval.unit"] == "DAYS"

    # Substitute the way infra will: ${database} and ${bucket} only; ${dt} is Athena's and must survive.
    bucket = settings().bucket_name
    rendered = parse_ddl(Template(DDL.read_text()).safe_substitute(database="analytics", bucket=bucket))
    template = rendered["properties"]["storage.location.template"]
    assert "${dt}" in template
    assert template.startswith(rendered["location"])

    entry = parquet_entry(export.export_day(DAY))
    partition = template.replace("${dt}", DAY.isoformat())
    assert f"s3://{bucket}/{entry['key']}" == partition + "feedback.parquet"
    # The partition holds the Parquet file and nothing else.
    listed = export.aws.client("s3").list_objects_v2(
        Bucket=bucket, Prefix=partition.removeprefix(f"s3://{bucket}/")
    )["Contents"]
    assert [o["Key"] for o in listed] == [entry["key"]]


def test_the_ddl_has_no_placeholders_but_database_bucket_and_dt():
    assert set(re.findall(r"\$\{(\w+)\}", DDL.read_text())) == {"database", "bucket", "dt"}


# --- pyarrow stays out of the API Lambda --------------------------------------------------------------------


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_importing_the_writer_and_the_export_does_not_import_pyarrow():
    result = run_python(
        "import sys\n"
        "import chalicelib.export.parquet_writer, chalicelib.export.day\n"
        "loaded = sorted(m for m in sys.modules if m == 'pyarrow' or m.startswith('pyarrow.'))\n"
        "assert not loaded, loaded\n"
        "print('ok')\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_without_pyarrow_the_writer_says_where_pyarrow_comes_from(tmp_path):
    result = run_python(
        "import sys\n"
        "sys.modules['pyarrow'] = None  # as on the API Lambda: no pyarrow at all\n"
        "from pathlib import Path\n"
        "from chalicelib.export.parquet_writer import ParquetWriter\n"
        "try:\n"
        f"    ParquetWriter(Path({str(tmp_path)!r}))\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "AWS SDK for pandas layer" in result.stdout
