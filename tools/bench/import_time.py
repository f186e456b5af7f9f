"""The app's import time against bare `import chalice, boto3`, in fresh interpreters (a cold-start proxy)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tools.bench.stack import BENCH_ENVIRONMENT, PROJECT_DIR

if TYPE_CHECKING:
    from tools.bench.cold_start import FunctionImports
    from tools.bench.lambda_imports import LambdaLayout


@dataclass
class ImportResult:
    app_ms: float
    bare_ms: float
    runs: int
    heaviest: list[tuple[str, float]]
    functions: list[FunctionImports] = field(default_factory=list)
    lambda_layout: LambdaLayout | None = None  # the runtime's Python on the package's layout

    @property
    def ratio(self) -> float:
        return self.app_ms / self.bare_ms


IMPORT_PROBE = (
    "import time; t = time.perf_counter(); import {modules}; print('BENCH', time.perf_counter() - t)"
)


# Where the probes keep the bytecode they compile: both sides of a ratio then read compiled modules, as the
# installed packages (pip compiles them) do, even where the environment says not to write bytecode.
BYTECODE_CACHE = Path(tempfile.gettempdir()) / "feedback-bench-bytecode"


def _run_python(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **BENCH_ENVIRONMENT, "PYTHONPYCACHEPREFIX": str(BYTECODE_CACHE)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return subprocess.run(  # noqa: S603 - our own interpreter with fixed arguments
        [sys.executable, *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=True
    )


def time_import(modules: str) -> float:
    """Seconds `import <modules>` takes in a fresh interpreter (interpreter start-up excluded)."""
    output = _run_python(["-c", IMPORT_PROBE.format(modules=modules)]).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    return float(line.split()[1])


def heaviest_app_imports(limit: int = 6) -> list[tuple[str, float]]:
    """Top-level packages `import app` adds after chalice and boto3, by self time (ms, `-X importtime`)."""
    stderr = _run_python(["-X", "importtime", "-c", "import chalice, boto3; import app"]).stderr
    totals: Counter[str] = Counter()
    in_app = False
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        module = name.strip()
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        if depth == 0 and module == "boto3":
            in_app = True
            continue
        if in_app:
            totals[module.split(".")[0]] += int(self_us)
    return [(package, us / 1000) for package, us in totals.most_common(limit)]


def measure_imports(runs: int) -> ImportResult:
    """Median of `runs` fresh-interpreter imports each of `app` and of bare `chalice, boto3`, interleaved."""
    from tools.bench.cold_start import measure_functions
    from tools.bench.lambda_imports import measure_lambda_layout

    time_import("app")  # warm the bytecode caches once
    app_times, bare_times = [], []
    for _ in range(runs):
        bare_times.append(time_import("chalice, boto3"))
        app_times.append(time_import("app"))
    return ImportResult(
        app_ms=statistics.median(app_times) * 1000,
        bare_ms=statistics.median(bare_times) * 1000,
        runs=runs,
        heaviest=heaviest_app_imports(),
        functions=measure_functions(runs),
        lambda_layout=measure_lambda_layout(runs),
    )


def imports_section(imports: ImportResult) -> list[str]:
    from tools.bench.lambda_imports import lambda_layout_section

    heaviest = ", ".join(f"{name} {ms:.0f} ms" for name, ms in imports.heaviest)
    return [
        f"- `import app`: {imports.app_ms:.0f} ms; bare `import chalice, boto3`: {imports.bare_ms:.0f} ms "
        f"(medians of {imports.runs} fresh interpreters each) → **ratio {imports.ratio:.2f}**.",
        f"- Largest self-time contributors `import app` adds on top of chalice and boto3 (`-X importtime`, "
        f"one run): {heaviest}.",
        *function_imports_table(imports.functions),
        *lambda_layout_section(imports.lambda_layout),
    ]


def function_imports_table(functions: list[FunctionImports]) -> list[str]:
    """Per Lambda function: its import set's time and peak RSS beside bare `import chalice, boto3`'s."""
    if not functions:
        return []
    rows = [
        f"| {found.function} | {found.ms:.0f} ms | {found.bare_ms:.0f} ms | **{found.ratio:.2f}** | "
        f"{found.rss_mib:.0f} MiB (+{found.rss_mib - found.bare_rss_mib:.0f}) | "
        f"{', '.join(f'`{module}`' for module in found.modules)} |"
        for found in functions
    ]
    return [
        "",
        "Per function (tools/bench/cold_start.py): `import app` (every function's INIT) plus what its "
        "handler imports on its first invocation, as deployed (ANALYZER=comprehend, THEME_TAGGER=keywords), "
        "in fresh interpreters, each run beside a bare `import chalice, boto3`; medians, both sides from "
        "compiled bytecode. The app's models build their validators on first use, in the request that "
        "validates them (the last row: what a first form response builds). Tracing is off outside Lambda; "
        "the row with the Tracer is what the first traced invocation adds where X-Ray is active.",
        "",
        "| function | import set | bare | ratio | peak RSS (vs bare) | modules |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
