"""Each Lambda function's import set against bare `import chalice, boto3`: time, peak RSS, fresh interpreters.

Every function runs `app.py`, so each pays `import app` at INIT (the analyze and export functions without the
route modules: app.py reads the handler from _HANDLER, set here as Lambda sets it); their handlers then import
what they need on their first invocation. A function's import set is `app` plus those modules, as deployed
(ANALYZER=comprehend, THEME_TAGGER=keywords; the Parquet writers' pyarrow). Tracing is off here (not in
Lambda): where X-Ray is active, the first invocation also builds the Tracer, reported on its own line.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from tools.bench.import_time import _run_python

# The Targets row: each function's import time at most this multiple of bare `import chalice, boto3`.
TARGET_IMPORT_RATIO = 1.8

# function → the modules its cold start imports (app at INIT, then what its handler imports on first use).
FUNCTION_IMPORTS: dict[str, tuple[str, ...]] = {
    "API handler": ("app",),
    "analyze": (
        "app",
        "chalicelib.ingest.processing",
        "chalicelib.analysis.comprehend",
        "chalicelib.analysis.themes.keywords",
        "chalicelib.analysis.lexicon",
        "chalicelib.analysis.lexicons.vader",
        "fasttext",
        "snowballstemmer",
    ),
    "export": ("app", "chalicelib.export.rewrite", "pyarrow", "pyarrow.parquet"),
}
# function → the handler Lambda names in _HANDLER there (app.py registers no route for an event handler).
FUNCTION_HANDLERS = {"API handler": "app.app", "analyze": "app.analyze", "export": "app.nightly_export"}
# The modules app.py's event handlers import inside `cold_start_imports()` on their first invocation.
HANDLER_MODULES = frozenset(
    {
        "chalicelib.ingest.processing",
        "chalicelib.export.rewrite",
        "chalicelib.outbound.fanout",
        "chalicelib.alerts.detractors",  # the stream function's, with the fan-out and the CRM queue
        "chalicelib.crm.queue",
        "chalicelib.outbound.delivery",
        "chalicelib.channels.email.receiving",
    }
)
BARE = ("chalice", "boto3")
# What the first traced invocation adds where X-Ray is active: the Tracer and the X-Ray SDK's recorder.
TRACER = ("aws_lambda_powertools.tracing", "aws_xray_sdk.core")
# The app's models build their validators on first use (DeferredModel): a cold start's first form response
# builds the response's and the event's (and loads email-validator). Reported on its own line.
FIRST_FORM_RESPONSE = (
    "from chalicelib.forms.validation import FormResponse; from chalicelib.models import FeedbackEvent; "
    "FormResponse.model_rebuild(); FeedbackEvent.model_rebuild()"
)

PROBE = (
    "import os; os.environ['_HANDLER'] = {handler!r}; import resource, time; t = time.perf_counter()\n"
    "{imports}\n{then}\n"
    "print('BENCH', time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)


def import_statements(modules: tuple[str, ...]) -> str:
    """The import set as the function runs it: `app` at INIT, then its handler's first import inside
    `cold_start_imports()` (as app.py's handlers make it), then what the first invocation imports after."""
    first, *handler = modules
    if first != "app" or not handler or handler[0] not in HANDLER_MODULES:
        return f"import {', '.join(modules)}"
    module, *after = handler
    lines = [
        "import app",
        "from chalicelib.observability import cold_start_imports",
        f"with cold_start_imports(): import {module}",
    ]
    return "\n".join(lines + ([f"import {', '.join(after)}"] if after else []))


@dataclass(frozen=True)
class Probe:
    seconds: float
    peak_rss_kib: int


@dataclass(frozen=True)
class FunctionImports:
    function: str
    modules: tuple[str, ...]
    ms: float
    bare_ms: float
    rss_mib: float
    bare_rss_mib: float

    @property
    def ratio(self) -> float:
        return self.ms / self.bare_ms


def probe(modules: tuple[str, ...], then: str = "pass", handler: str = "app.app") -> Probe:
    """Seconds `import <modules>` (and the statement `then`) take in a fresh interpreter of the function
    running `handler`, and the interpreter's peak RSS after."""
    script = PROBE.format(imports=import_statements(modules), then=then, handler=handler)
    output = _run_python(["-c", script]).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    _, seconds, rss = line.split()
    return Probe(float(seconds), int(rss))


def measure_functions(runs: int) -> list[FunctionImports]:
    """Medians of `runs` fresh interpreters per function, each run interleaved with a bare one."""
    api = FUNCTION_IMPORTS["API handler"]
    sets: dict[str, tuple[tuple[str, ...], str, str]] = {
        **{f: (modules, "pass", FUNCTION_HANDLERS[f]) for f, modules in FUNCTION_IMPORTS.items()},
        "API handler + X-Ray Tracer (first traced invocation)": ((*api, *TRACER), "pass", "app.app"),
        "API handler + its first form response's validators": (api, FIRST_FORM_RESPONSE, "app.app"),
    }
    for modules, then, handler in sets.values():
        probe(modules, then, handler)  # warm the bytecode caches once
    found = []
    for function, (modules, then, handler) in sets.items():
        bare, loaded = [], []
        for _ in range(runs):
            bare.append(probe(BARE))
            loaded.append(probe(modules, then, handler))
        found.append(
            FunctionImports(
                function=function,
                modules=modules,
                ms=statistics.median(p.seconds for p in loaded) * 1000,
                bare_ms=statistics.median(p.seconds for p in bare) * 1000,
                rss_mib=statistics.median(p.peak_rss_kib for p in loaded) / 1024,
                bare_rss_mib=statistics.median(p.peak_rss_kib for p in bare) / 1024,
            )
        )
    return found
