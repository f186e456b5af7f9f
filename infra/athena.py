"""Reads infra/athena/*.sql, the one definition of each Athena table over the Parquet exports (feedback.sql,
feedback_themes.sql), into what a Glue `TableInput` needs, so the deployed Glue tables are derived from the
DDL instead of copied; and the saved queries of infra/athena/queries/.

The reader understands exactly the statement shape those files use (CREATE EXTERNAL TABLE with a column
list, COMMENT, PARTITIONED BY, STORED AS, LOCATION, TBLPROPERTIES) and fails loudly on anything else, so a
change to the DDL that it cannot represent breaks the synth instead of deploying a different table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

DDL_DIRECTORY = Path(__file__).resolve().parent / "athena"
DDL_PATH = DDL_DIRECTORY / "feedback.sql"
THEMES_DDL_PATH = DDL_DIRECTORY / "feedback_themes.sql"
QUERIES_DIRECTORY = DDL_DIRECTORY / "queries"

# What Athena's `STORED AS <format>` means in Glue terms (the same classes Athena writes itself).
STORAGE_FORMATS = {
    "PARQUET": {
        "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "output_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "serde": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    },
}

_COLUMN = re.compile(r"`(\w+)`\s+(\w+(?:\([\d,\s]+\))?)")
# A column type: a primitive (`string`, `decimal(10,2)`) or a nested one (`array<struct<id:string,…>>`).
_TYPE = re.compile(r"^(?:\w+(?:\(\d+(?:,\d+)?\))?|(?:array|struct|map)<[\w:,<>()]+>)$", re.I)


class DdlError(ValueError):
    """A DDL file has a shape this reader does not understand."""


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
    # `--` never occurs inside a quoted value in the DDL files; a line comment runs to the end of its line.
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def _required(pattern: str, text: str, what: str, flags: int = re.I | re.S) -> re.Match[str]:
    match = re.search(pattern, text, flags)
    if match is None:
        raise DdlError(f"DDL: no {what}")
    return match


def _top_level_parts(text: str) -> list[str]:
    """`text` split at the commas outside <…> and (…), the non-empty parts stripped."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += char in "<("
        depth -= char in ">)"
        if char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def _columns(text: str) -> tuple[tuple[str, str], ...]:
    """Each `name` type of a column list; a nested type loses its whitespace (Glue's spelling)."""
    columns = []
    for part in _top_level_parts(text):
        match = re.fullmatch(r"`(\w+)`\s+(.+)", part, re.S)
        kind = match.group(2).strip() if match else ""
        if "<" in kind:
            kind = re.sub(r"\s+", "", kind)
        if not _TYPE.match(kind):
            raise DdlError("DDL: a column is not of the form `name` type")
        columns.append((match.group(1), kind))
    return tuple(columns)


def parse(sql: str) -> TableDefinition:
    """The table a CREATE EXTERNAL TABLE statement declares."""
    body = _strip_comments(sql)
    create = _required(
        r"CREATE\s+EXTERNAL\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`\$\{database\}`\.`(\w+)`\s*\(", body, "CREATE"
    )
    rest = body[create.end() :]
    end_of_columns = _required(r"\)\s*COMMENT\s+'([^']*)'\s*PARTITIONED\s+BY\s*\(([^)]*)\)", rest, "columns")
    columns = _columns(rest[: end_of_columns.start()])
    if not columns:
        raise DdlError("DDL: no columns")
    partition_keys = tuple(_COLUMN.findall(end_of_columns.group(2)))
    tail = rest[end_of_columns.end() :]
    stored_as = _required(r"STORED\s+AS\s+(\w+)", tail, "STORED AS").group(1).upper()
    if stored_as not in STORAGE_FORMATS:
        raise DdlError(f"DDL: STORED AS {stored_as} is not supported by infra/athena.py")
    location = _required(r"LOCATION\s+'([^']+)'", tail, "LOCATION").group(1)
    properties_text = _required(r"TBLPROPERTIES\s*\((.*)\)\s*;?\s*$", tail, "TBLPROPERTIES").group(1)
    pair = r"'([^']+)'\s*=\s*'([^']*)'"
    properties = dict(re.findall(pair, properties_text))
    if re.sub(pair, "", properties_text).replace(",", "").strip():
        raise DdlError("DDL: a table property is not of the form 'key' = 'value'")
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
    """The table a DDL file declares (feedback.sql by default)."""
    return parse(path.read_text(encoding="utf-8"))


def saved_queries() -> dict[str, str]:
    """The saved queries, by file name without `.sql` → the statement (their leading comment included)."""
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(QUERIES_DIRECTORY.glob("*.sql"))}
