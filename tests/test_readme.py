"""The README's first sections as an evaluator reads them: the figures it quotes, the map of the code it
draws, and `make help`, checked against what the project holds."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text under `## heading` up to the next heading of that level or above."""
    match = re.search(rf"^(#+) {re.escape(heading)}$", text, re.M)
    assert match, heading
    rest = text[match.end() :]
    following = re.search(rf"^#{{1,{len(match.group(1))}}} ", rest, re.M)
    return rest[: following.start()] if following else rest


def test_the_quoted_monthly_cost_is_the_one_benchmarks_md_measured():
    benchmarks = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    measured = re.search(
        r"\*\*\$([\d,.]+) a month for 1,000,000 items: \$([\d.]+) per 1,000 items\.\*\*", benchmarks
    )
    quoted = re.search(r"\*\*about \$([\d,]+) a month, \$([\d.]+) per 1,000 items\*\*", README)
    assert measured and quoted
    month, per_thousand = (float(value.replace(",", "")) for value in measured.groups())
    # "about": rounded, and a later `make bench` may move the measured counts a little.
    assert abs(float(quoted.group(1).replace(",", "")) - month) <= 0.05 * month
    assert abs(float(quoted.group(2)) - per_thousand) <= 0.05 * per_thousand + 0.005


def test_the_layout_names_every_package_of_chalicelib():
    layout = section(README, "Layout")
    packages = sorted(path.parent.name for path in (ROOT / "chalicelib").glob("*/__init__.py"))
    missing = [name for name in packages if not re.search(rf"^\s+{name}/ ", layout, re.M)]
    assert not missing, f"README's Layout lacks: {missing}"


MAKE = shutil.which("make")


@pytest.mark.skipif(MAKE is None, reason="no make on this machine")
def test_make_help_lists_every_target_with_what_it_does():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    phony = re.search(r"^\.PHONY: (.*)$", makefile, re.M).group(1).split()
    result = subprocess.run(
        [MAKE, "-s", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    listed = dict(re.findall(r"^  make (\S+)\s+(.+)$", result.stdout, re.M))
    assert sorted(listed) == sorted(phony)
    assert all(description.strip() for description in listed.values())
    # Shown as a shell would take it, not as make's escaping writes it.
    assert "127.0.0.1:$MOTO_PORT" in listed["run"]


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a document's headings: lower case, punctuation dropped, spaces as dashes,
    a repeated heading numbered."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", markdown, flags=re.S), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


@pytest.mark.parametrize("document", ["README.md", "ARCHITECTURE.md", "BENCHMARKS.md"])
def test_every_link_between_the_documents_reaches_a_file_and_a_heading(document):
    text = re.sub(r"```.*?```", "", (ROOT / document).read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = ROOT / path if path else ROOT / document
        if not linked.exists():
            broken.append(target)
            continue
        if anchor and linked.suffix == ".md" and anchor not in github_anchors(linked.read_text()):
            broken.append(target)
    assert not broken, broken
