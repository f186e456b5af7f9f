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
