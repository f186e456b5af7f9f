"""Cold start: the classes each function's import set defines (plain slotted records rather than dataclasses,
NamedTuples or Protocols; pydantic models without string annotations) and the patterns it compiles. Why:
chalicelib/records.py; the times are in `make bench`."""

from __future__ import annotations

import pytest

from tests.cold_start_probe import PROJECT, run_probe
from tools.bench.cold_start import FUNCTION_HANDLERS, FUNCTION_IMPORTS, import_statements

# Records every function (or the API) defines at its cold start, NamedTuples (immutable ones) or plain classes
# with __slots__ and a written __init__ (mutable ones, or ones a NamedTuple cannot express) rather than
# dataclasses: a dataclass compiles its methods from source when defined (twice with slots), about 0.4 ms to
# 1.4 ms each against 0.1 ms for a NamedTuple and 0.01 ms for a plain class.
COLD_START_RECORDS = (
    "chalicelib.auth.tokens:TokenInfo",
    "chalicelib.auth.tokens:Principal",
    "chalicelib.channels.base:WebhookRequest",
    "chalicelib.channels.base:SignedRequest",  # the API's
    "chalicelib.channels.base:Skipped",
    "chalicelib.channels.base:Delivery",
    "chalicelib.read.routes:ThemeFilter",
    "chalicelib.read.routes:FieldFilters",
    "chalicelib.read.routes:Listing",
    "chalicelib.export.streams:WrittenFile",  # the export's
    "chalicelib.store.customers:CustomerView",
    "chalicelib.analysis.redaction.base:Redaction",  # analyze's
    "chalicelib.ingest.processing:BatchReport",
    "chalicelib.ingest.tagging:Tagged",
    "chalicelib.store.dynamo:PutOutcome",
    "chalicelib.store.feedback_write:_Transaction",
    "chalicelib.store.feedback_write:_Unit",
    "chalicelib.store.feedback_write:_Writes",
    "chalicelib.store.identities:Resolution",
    "chalicelib.store.profiles:_Update",
)


@pytest.mark.parametrize("record", COLD_START_RECORDS)
def test_the_cold_start_records_are_named_tuples_or_slotted_classes_not_dataclasses(record):
    import dataclasses
    import importlib

    module, name = record.split(":")
    cls = getattr(importlib.import_module(module), name)
    named_tuple = issubclass(cls, tuple) and hasattr(cls, "_fields")
    slotted = "__slots__" in vars(cls) and cls.__dictoffset__ == 0  # no __dict__ in the class or its bases
    assert named_tuple or slotted
    assert not dataclasses.is_dataclass(cls)


# The pydantic models a function's import set defines: their modules have no `from __future__ import
# annotations`, so pydantic takes each field's type as an object instead of evaluating it from a string.
MODEL_ANNOTATIONS = """
import json, sys
from pydantic import BaseModel
fields, strings = 0, []
for name, module in list(sys.modules.items()):
    if not name.startswith("chalicelib.") or module is None:
        continue
    for model in vars(module).values():
        if isinstance(model, type) and issubclass(model, BaseModel) and model.__module__ == name:
            for field, annotation in model.__dict__.get("__annotations__", {}).items():
                fields += 1
                if isinstance(annotation, str):
                    strings.append(f"{name}.{model.__qualname__}.{field}")
print(json.dumps({"fields": fields, "strings": sorted(strings)}))
"""


@pytest.mark.parametrize("function", sorted(FUNCTION_IMPORTS))
def test_the_models_a_function_defines_at_its_cold_start_have_no_string_annotations(function):
    imports = import_statements(FUNCTION_IMPORTS[function])
    found = run_probe(f"{imports}\n{MODEL_ANNOTATIONS}", _HANDLER=FUNCTION_HANDLERS[function])

    assert found["fields"] >= 20  # FeedbackEvent's and StoredFeedback's among them
    assert found["strings"] == []


# Records of analyze's first batch that nothing unpacks, indexes or sorts: plain classes with `__slots__` and
# an `__init__` (`__eq__` where they are compared), about 0.01 ms each to define against 0.13 ms to 0.3 ms for
# a NamedTuple (its `__new__` compiled from source, each string annotation compiled as a ForwardRef).
ANALYSIS_PLAIN_RECORDS = (
    "chalicelib.analysis.base:Document",
    "chalicelib.analysis.comprehend:_Batch",
    "chalicelib.analysis.language:LanguageGuess",
    "chalicelib.analysis.lexicons.vader:LanguageRules",
    "chalicelib.analysis.themes.base:ThemeMatch",
    "chalicelib.analysis.themes.clauses:Segmentation",
    "chalicelib.analysis.themes.keywords:_Languages",
    "chalicelib.analysis.themes.keywords:_Mention",
    "chalicelib.analysis.themes.keywords:_Reading",
    "chalicelib.analysis.themes.matching:Hit",
    "chalicelib.analysis.themes.matching:_Phrase",
    "chalicelib.analysis.themes.stemming:Token",
    "chalicelib.ingest.batch:QueueRecord",
    "chalicelib.ingest.deadline:Deadline",
    "chalicelib.config:Settings",  # every function's (its __init__ reads the environment)
    "chalicelib.store.day_layout:DayPartition",
    "chalicelib.store.day_layout:DayCounts",
    "chalicelib.store.profiles:Ordered",  # module-level singletons, dictionary keys by identity
    "chalicelib.store.profiles:Candidate",
)


@pytest.mark.parametrize("record", ANALYSIS_PLAIN_RECORDS)
def test_analyzes_uncompared_records_are_plain_slotted_classes(record):
    import dataclasses
    import importlib

    module, name = record.split(":")
    cls = getattr(importlib.import_module(module), name)
    assert not issubclass(cls, tuple) and not dataclasses.is_dataclass(cls)
    assert "__slots__" in vars(cls)


def test_settings_reads_every_field_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    from chalicelib.config import AnalyzerBackend, settings

    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.delenv("TABLE_NAME", raising=False)  # the defaults follow the stage
    monkeypatch.delenv("PARAMETER_PREFIX", raising=False)
    monkeypatch.setenv("CHANNEL_SHARDS", "0")
    monkeypatch.setenv("ANALYZER", "lexicon")
    monkeypatch.delenv("INBOUND_MAIL_BUCKET", raising=False)  # raw mail lands in the export bucket
    settings.cache_clear()
    try:
        read = {name: getattr(settings(), name) for name in type(settings()).__slots__}
    finally:
        settings.cache_clear()
    assert len(read) == 18
    assert read["inbound_mail_bucket"] == read["bucket_name"]
    assert read["table_name"] == "feedback-prod" and read["parameter_prefix"] == "/feedback/prod"
    assert read["analyzer"] is AnalyzerBackend.LEXICON and read["channel_shards"] == 1


# The classes a function's import set defines that are dataclasses, NamedTuples or Protocols: each costs
# 0.05 ms to 1.4 ms to define at a cold start (a dataclass's or a NamedTuple's methods compiled from source)
# against about 0.01 ms for a plain class with __slots__, so only those listed here with their reason may be.
CLASS_KINDS = """
import dataclasses, json, sys
found = {"dataclass": [], "NamedTuple": [], "Protocol": []}
for name, module in list(sys.modules.items()):
    if not name.startswith("chalicelib.") or module is None:
        continue
    for cls in vars(module).values():
        if not isinstance(cls, type) or cls.__module__ != name:
            continue
        path = f"{name}:{cls.__qualname__}"
        if dataclasses.is_dataclass(cls):
            found["dataclass"].append(path)
        if issubclass(cls, tuple) and hasattr(cls, "_fields"):
            found["NamedTuple"].append(path)
        if getattr(cls, "_is_protocol", False):
            found["Protocol"].append(path)
print(json.dumps({kind: sorted(set(paths)) for kind, paths in found.items()}))
"""
# The backends' contracts: the backends implement them without subclassing (type checkers read them).
ANALYSIS_CONTRACTS = (
    "chalicelib.analysis.base:Analyzer",
    "chalicelib.analysis.redaction.base:Redactor",
    "chalicelib.analysis.themes.base:SentimentScoringTagger",  # checked with isinstance (runtime_checkable)
    "chalicelib.analysis.themes.base:ThemeTagger",
)
ALLOWED_CLASS_KINDS = {
    "analyze": {
        "dataclass": [],
        "NamedTuple": [
            "chalicelib.analysis.redaction.base:Span",  # hashed, compared as tuples on the hot path
            "chalicelib.analysis.themes.clauses:Span",  # the same
        ],
        "Protocol": sorted(ANALYSIS_CONTRACTS),
    },
    "API handler": {
        "dataclass": [],
        "NamedTuple": [
            # The API's immutable records (COLD_START_RECORDS), 0.1 ms to 0.2 ms each; not on analyze's set.
            "chalicelib.auth.tokens:Principal",
            "chalicelib.auth.tokens:TokenInfo",
            "chalicelib.channels.base:Skipped",
            "chalicelib.channels.base:WebhookRequest",
            "chalicelib.forms.config:FormTexts",  # `_asdict` shows a form's texts (cli/forms.py)
            "chalicelib.forms.records:StoredForm",
            "chalicelib.read.routes:FieldFilters",
            "chalicelib.read.routes:Listing",
            "chalicelib.read.routes:ThemeFilter",
        ],
        "Protocol": [],
    },
    "export": {
        "dataclass": [],
        "NamedTuple": [
            # The export's immutable records (COLD_START_RECORDS); the export sits at its target.
            "chalicelib.export.streams:WrittenFile",
            "chalicelib.store.customers:CustomerView",
        ],
        "Protocol": [
            "chalicelib.export.base:ExportWriter",  # the writers' contracts (type checkers read them)
            "chalicelib.export.streams:FileTarget",
        ],
    },
}


@pytest.mark.parametrize("function", sorted(FUNCTION_IMPORTS))
def test_a_functions_import_set_defines_no_dataclass_namedtuple_or_protocol_but_the_allowed_ones(function):
    imports = import_statements(FUNCTION_IMPORTS[function])
    found = run_probe(f"{imports}\n{CLASS_KINDS}", _HANDLER=FUNCTION_HANDLERS[function])

    assert found == ALLOWED_CLASS_KINDS[function]


def test_the_class_kind_probe_finds_each_kind():
    # The guard above can fail: a module defining one of each is found under each kind.
    script = """
import dataclasses, sys, types, typing
probe = types.ModuleType("chalicelib._probe")
@dataclasses.dataclass
class Record:
    x: int
class Pair(typing.NamedTuple):
    x: int
class Contract(typing.Protocol):
    def run(self) -> None: ...
for cls in (Record, Pair, Contract):
    cls.__module__ = probe.__name__
    setattr(probe, cls.__name__, cls)
sys.modules[probe.__name__] = probe
"""
    found = run_probe(script + CLASS_KINDS)

    assert found == {
        "dataclass": ["chalicelib._probe:Record"],
        "NamedTuple": ["chalicelib._probe:Pair"],
        "Protocol": ["chalicelib._probe:Contract"],
    }


def test_analyzes_import_set_compiles_no_pattern_with_a_big_character_class():
    # A character class with a character beyond Latin-1 ("…") and more than two runs makes `re` build a table
    # of the 64K code points (BIGCHARSET), ~0.25 ms per pattern: chalicelib's patterns compiled at import keep
    # such characters out of classes (or test characters with a set). Found through re's charset optimizer.
    script = f"""
import json, sys
import os, re._compiler as compiler
RE_PACKAGE = os.path.dirname(compiler.__file__)
found = []
optimize = compiler._optimize_charset
def recording(*args, **kwargs):
    out, cased = optimize(*args, **kwargs)
    if any(op is compiler.BIGCHARSET for op, _ in out):
        frame = sys._getframe(1)
        while frame.f_code.co_filename.startswith(RE_PACKAGE):
            frame = frame.f_back
        found.append(frame.f_code.co_filename)  # the module that compiled the pattern
    return out, cased
compiler._optimize_charset = recording
import {", ".join(FUNCTION_IMPORTS["analyze"])}
print(json.dumps(sorted(set(found))))
"""
    compiled_by = run_probe(script, _HANDLER=FUNCTION_HANDLERS["analyze"])
    assert [path for path in compiled_by if path.startswith(str(PROJECT / "chalicelib"))] == []
