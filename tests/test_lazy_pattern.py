"""LazyPattern: a regular expression compiled on first use, answering as the compiled pattern does."""

from __future__ import annotations

import re

from chalicelib.analysis.lazy_pattern import LazyPattern
from tests.cold_start_probe import run_probe


def test_it_compiles_on_first_use_and_answers_as_the_compiled_pattern():
    lazy = LazyPattern(r"(?<![\w-])([0-9]{3})-([0-9]{4})", re.IGNORECASE)
    assert lazy._compiled is None

    text = "call 555-0199 or 555-0142, not x555-0000"
    assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in re.finditer(lazy.pattern, text)]
    assert lazy.search(text).group(1) == "555"
    assert lazy.sub("[PHONE]", text) == "call [PHONE] or [PHONE], not x555-0000"
    assert lazy.flags & re.IGNORECASE
    assert lazy.compiled is lazy.compiled  # compiled once


def test_importing_the_redaction_patterns_compiles_none():
    found = run_probe(
        "import json\n"
        "from chalicelib.analysis.lazy_pattern import LazyPattern\n"
        "from chalicelib.analysis.redaction import identifiers, patterns, prefilter\n"
        "lazy = [v for m in (identifiers, patterns, prefilter) for v in vars(m).values() "
        "if isinstance(v, LazyPattern)]\n"
        "print(json.dumps({'lazy': len(lazy), 'compiled': sum(v._compiled is not None for v in lazy)}))\n"
    )

    assert found["lazy"] >= 30
    assert found["compiled"] == 0
