"""The little SOQL the fake org answers: `SELECT f, … FROM <sObject>` with an optional `WHERE f IN ('a', …)`
or `WHERE f = 'a'` (quotes escaped with a backslash; Email compared case-insensitively, as Salesforce does).
Errors are Salesforce's: MALFORMED_QUERY, INVALID_FIELD ("No such column …")."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any

QUERY = re.compile(
    r"\s*SELECT\s+(?P<fields>[\w\s,]+?)\s+FROM\s+(?P<sobject>\w+)"
    r"(?:\s+WHERE\s+(?P<field>\w+)\s*(?:=\s*'(?P<value>(?:[^'\\]|\\.)*)'"
    r"|IN\s*\((?P<values>[^)]*)\)))?\s*",
    re.IGNORECASE | re.DOTALL,
)
QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def select(
    soql: str,
    sobjects: Collection[str],
    fields_of: Callable[[str], dict[str, str]],
    records: dict[str, dict[str, dict[str, Any]]],
) -> tuple[str, list[tuple[str, dict[str, Any]]]] | tuple[str, str]:
    """(sObject, [(record id, the selected fields)] of the matching records), or (errorCode, message)."""
    match = QUERY.fullmatch(soql)
    if not match or match["sobject"] not in sobjects:
        return "MALFORMED_QUERY", f"unexpected token in: {soql[:80]}"
    sobject = match["sobject"]
    known = {name.lower(): name for name in fields_of(sobject)}
    wanted = [f.strip() for f in match["fields"].split(",")]
    for name in [*wanted, *([match["field"]] if match["field"] else [])]:
        if name.lower() not in known:
            return "INVALID_FIELD", f"No such column '{name}' on entity '{sobject}'"
    rows = list(records[sobject].values())
    if match["field"]:
        column = known[match["field"].lower()]
        raw = QUOTED.findall(match["values"]) if match["values"] is not None else [match["value"]]
        values = {v.replace("\\'", "'") for v in raw}
        if column == "Email":
            lowered = {v.lower() for v in values}
            rows = [r for r in rows if (r.get(column) or "").lower() in lowered]
        else:
            rows = [r for r in rows if r.get(column) in values]
    columns = [known[f.lower()] for f in wanted]
    return sobject, [(r["Id"], {c: r.get(c) for c in columns}) for r in rows]
