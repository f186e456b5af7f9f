"""Reads infra/athena/feedback.sql, the one definition of the Athena table over the Parquet exports, into
what a Glue `TableInput` needs, so the deployed Glue table is derived from the DDL instead of copied.

The reader understands exactly the statement shape feedback.sql uses (CREATE EXTERNAL TABLE with a column
list, COMMENT, PARTITIONED BY, STORED AS, LOCATION, TBLPROPERTIES) and fails loudly on anything else, so a
change to the DDL that it cannot represent breaks the synth instead of deploying a different table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

DDL_PATH = Path(__file__).resolve().parent / "athena" / "feedback.sql"

# What Athena's `STORED AS <format>` means in Glue terms (the same classes Athena writes itself).
STORAGE_FORMATS = {
    "PARQUET": {
        "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "output_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "serde": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    },
}

_COLUMN = re.compile(r"`(\w+)`\s+(\w+(?:\([\d,\s]+\))?)")


class DdlError(ValueError):
    """feedback.sql has a shape this reader does not understand."""


@dataclass(frozen=True)
class TableDefinition:
    """The table as the DDL declares it; `${database}`/`${bucket}` still unsubstituted."""

    name: str
    comment: str
    columns: tuple[tuple[str, str], ...]
    partition_keys: tuple[tuple[str, str], ...]
    stored_as: str
    location: str
    properties: dict[str, str]

    def render(self, bucket: str) -> TableDefinition:
        """The definition for one stage's bucket. Only `${bucket}` is substituted: `${dt}` in
        storage.location.template is Athena's own placeholder and must reach Glue as written."""

        def substitute(value: str) -> str:
            return Template(value).safe_substitute(bucket=bucket)

        return TableDefinition(
            name=self.name,
            comment=self.comment,
            columns=self.columns,
            partition_keys=self.partition_keys,
            stored_as=self.stored_as,
            location=substitute(self.location),
            properties={key: substitute(value) for key, value in self.properties.items()},
        )

    @property
    def storage(self) -> dict[str, str]:
        """Input/output format and SerDe classes for `stored_as`."""
        return STORAGE_FORMATS[self.stored_as]


def _strip_comments(sql: str) -> str:
    # `--` never occurs inside a quoted value in feedback.sql; a line comment runs to the end of its line.
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def _required(pattern: str, text: str, what: str, flags: int = re.I | re.S) -> re.Match[str]:
    match = re.search(pattern, text, flags)
    if match is None:
        raise DdlError(f"feedback.sql: no {what}")
    return match


def parse(sql: str) -> TableDefinition:
    """The table a CREATE EXTERNAL TABLE statement declares."""
    body = _strip_comments(sql)
    create = _required(
        r"CREATE\s+EXTERNAL\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`\$\{database\}`\.`(\w+)`\s*\(", body, "CREATE"
    )
    rest = body[create.end() :]
    end_of_columns = _required(r"\)\s*COMMENT\s+'([^']*)'\s*PARTITIONED\s+BY\s*\(([^)]*)\)", rest, "columns")
    columns = tuple(_COLUMN.findall(rest[: end_of_columns.start()]))
    declared = [part for part in rest[: end_of_columns.start()].split(",") if part.strip()]
    if not columns or len(columns) != len(declared):
        raise DdlError("feedback.sql: a column is not of the form `name` type")
    partition_keys = tuple(_COLUMN.findall(end_of_columns.group(2)))
    tail = rest[end_of_columns.end() :]
    stored_as = _required(r"STORED\s+AS\s+(\w+)", tail, "STORED AS").group(1).upper()
    if stored_as not in STORAGE_FORMATS:
        raise DdlError(f"feedback.sql: STORED AS {stored_as} is not supported by infra/athena.py")
    location = _required(r"LOCATION\s+'([^']+)'", tail, "LOCATION").group(1)
    properties_text = _required(r"TBLPROPERTIES\s*\((.*)\)\s*;?\s*$", tail, "TBLPROPERTIES").group(1)
    pair = r"'([^']+)'\s*=\s*'([^']*)'"
    properties = dict(re.findall(pair, properties_text))
    if re.sub(pair, "", properties_text).replace(",", "").strip():
        raise DdlError("feedback.sql: a table property is not of the form 'key' = 'value'")
    return TableDefinition(
        name=create.group(1),
        comment=end_of_columns.group(1),
        columns=columns,
        partition_keys=partition_keys,
        stored_as=stored_as,
        location=location,
        properties=properties,
    )


def load(path: Path = DDL_PATH) -> TableDefinition:
    """The table feedback.sql declares."""
    return parse(path.read_text(encoding="utf-8"))
