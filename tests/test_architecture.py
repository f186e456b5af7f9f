"""ARCHITECTURE.md stays true: every room it names exists, every package of chalicelib/ is one it names, and
no module imports against the dependency direction it states."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "chalicelib"
FOUNDATION = {"config", "models", "aws", "observability", "http", "jws", "records"}
# room → the rooms it may import (besides itself and the foundation). Wiring rooms (cli, local) may import
# anything; `ingest.queue` (the queue envelope the ack paths send) is its own room so that channels and forms
# can send to the queue while the analyze step reads the channels' and forms' configuration; likewise
# `themes.taxonomy` (the taxonomy contract), so the analyzers read a taxonomy without its records or routes.
ALLOWED: dict[str, set[str]] = {
    "foundation": set(),
    "store": set(),
    "analysis": {"themes.taxonomy"},
    "ingest.queue": set(),
    "themes.taxonomy": set(),
    "web": set(),
    "auth": {"store"},
    "themes": {"store", "auth", "themes.taxonomy"},
    "channels": {"store", "ingest.queue"},
    "forms": {"store", "auth", "ingest.queue", "web"},
    "ingest": {"store", "analysis", "channels", "forms", "ingest.queue", "themes", "themes.taxonomy"},
    "read": {"store", "auth", "themes", "themes.taxonomy"},
    "export": {"store", "auth", "read", "themes", "themes.taxonomy"},
    # privacy: an erasure takes items off the theme counters under the taxonomy's parents.
    "privacy": {"store", "auth", "export", "themes", "themes.taxonomy"},
    # crm: the sync reads profiles as the export's CRM layouts resolve them (merges followed, same subjects).
    "crm": {"store", "export"},
    "operations": {
        "store",
        "analysis",
        "channels",
        "forms",
        "ingest",
        "ingest.queue",
        "export",
        "themes",
        "themes.taxonomy",
    },
    # outbound: subscriptions and delivery logs are in the store; its route checks a token (auth).
    "outbound": {"store", "auth"},
    # alerts: rules and cool-downs are config records, the hour counters are the store's; the
    # `alert.triggered` event and the guarded POST are outbound's.
    "alerts": {"store", "outbound"},
    "cli": {"*"},
    "local": {"*"},
}


def room_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "chalicelib" or len(parts) < 2:
        return None
    if parts[1] in FOUNDATION:
        return "foundation"
    if parts[1:3] in (["ingest", "queue"], ["themes", "taxonomy"]):
        return ".".join(parts[1:3])
    return parts[1]


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imports_of(path: Path) -> set[str]:
    """The chalicelib modules a file imports (`from pkg import module` counts as the module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if _is_module(submodule) else node.module)
    return {name for name in found if name.startswith("chalicelib.")}


def edges() -> dict[tuple[str, str], list[str]]:
    """(from room, to room) → the files that import that way."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        source = room_of(module)
        for imported in imports_of(path):
            target = room_of(imported)
            if source and target and target != source:
                found[(source, target)].append(str(path.relative_to(ROOT)))
    return found


def test_no_module_imports_against_the_stated_direction():
    wrong = {
        f"{source} -> {target}": files
        for (source, target), files in edges().items()
        if target != "foundation" and "*" not in ALLOWED[source] and target not in ALLOWED[source]
    }
    assert not wrong, f"imports against ARCHITECTURE.md's direction: {wrong}"


def test_the_foundation_imports_only_itself():
    for name in FOUNDATION:
        rooms = {room_of(m) for m in imports_of(PACKAGE / f"{name}.py")}
        assert rooms <= {"foundation"}, (name, rooms)


def test_every_room_is_in_the_map_and_the_map_names_every_room():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert modules == FOUNDATION, "only the foundation sits at the top of chalicelib/"
    assert packages | {"foundation", "ingest.queue", "themes.taxonomy"} == set(ALLOWED)
    architecture = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for package in packages:
        assert re.search(rf"`{package}/`", architecture), f"ARCHITECTURE.md does not describe {package}/"


def test_the_check_sees_an_import_against_the_direction(tmp_path: Path):
    """A store module reaching up into the read API would be caught (module and package imports alike)."""
    offender = tmp_path / "offender.py"
    offender.write_text("from chalicelib.read import routes\nimport chalicelib.privacy.erasure\n")
    imported = imports_of(offender)
    assert imported == {"chalicelib.read.routes", "chalicelib.privacy.erasure"}
    assert {room_of(name) for name in imported} == {"read", "privacy"}
    assert not {"read", "privacy"} & ALLOWED["store"]


def test_the_taxonomy_contract_is_its_own_room():
    """An analyzer may read the taxonomy's models, never its records or routes."""
    assert room_of("chalicelib.themes.taxonomy") == "themes.taxonomy"
    assert room_of("chalicelib.themes.records") == "themes"
    assert "themes.taxonomy" in ALLOWED["analysis"] and "themes" not in ALLOWED["analysis"]
