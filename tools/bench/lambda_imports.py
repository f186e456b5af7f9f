"""Each function's import set on the Lambda layout, with the runtime's Python, before and after bytecode.

Lambda's /var/task is read-only: a module without a `.pyc` of the running Python is compiled at every cold
start. The layout here is the deployment package's (infra/package.py: the locked dependencies, the app, and
chalice/app.py), installed for this machine, with Python 3.13 and no bytecode writes; the Lambda runtime's
own boto3 & co. and the export's pyarrow (its layer) sit in another directory, compiled, on both sides.
"Before" is the package as it shipped without usable bytecode (every module compiled at import); "after" is
the package compiled by infra/package.py (`unchecked-hash`). Times are CPU seconds of the import (process
time), medians of fresh interpreters, each run beside a bare `import chalice, boto3` in the same layout.
Skipped when no Python 3.13 is found (infra/package.py's lambda_interpreter). Alone, with its Targets rows:
`PYTHONPATH=. .venv/bin/python -m tools.bench.lambda_imports [runs]` (7 by default, as `make bench`).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from infra import package
from tools.bench.cold_start import BARE, FUNCTION_HANDLERS, FUNCTION_IMPORTS, import_statements
from tools.bench.stack import BENCH_ENVIRONMENT, PROJECT_DIR

if TYPE_CHECKING:
    from tools.bench.checks import Check

# Installed once per lock (dependencies for this machine), reused by later runs.
CACHE_DIR = Path(tempfile.gettempdir()) / "feedback-bench-lambda-layout"
DEV_LOCK = PROJECT_DIR / "requirements-dev.txt"
# The export's pyarrow comes from the AWS SDK for pandas layer; the bench uses the dev lock's version.
LAYER_PACKAGES = frozenset({"pyarrow"})
PROBE = (
    "import time; c = time.process_time(); w = time.perf_counter()\n{imports}\n"
    "print('BENCH', time.process_time() - c, time.perf_counter() - w)"
)


@dataclass(frozen=True)
class LayoutImports:
    function: str
    before_cpu_ms: float
    before_bare_cpu_ms: float
    after_cpu_ms: float
    after_bare_cpu_ms: float

    @property
    def before_ratio(self) -> float:
        return self.before_cpu_ms / self.before_bare_cpu_ms

    @property
    def after_ratio(self) -> float:
        return self.after_cpu_ms / self.after_bare_cpu_ms


@dataclass(frozen=True)
class LambdaLayout:
    interpreter: str | None  # None: skipped, no Python 3.13 found
    runs: int = 0
    functions: tuple[LayoutImports, ...] = ()
    compiled_modules: int = 0


def _dependencies(interpreter: Path) -> tuple[Path, Path]:
    """The package's dependencies and the runtime's (with pyarrow), for this machine, cached per lock."""
    key = hashlib.sha256(package.LOCK_FILE.read_bytes() + DEV_LOCK.read_bytes()).hexdigest()[:16]
    root = CACHE_DIR / f"{key}-{platform.machine()}"
    vendor, provided = root / "vendor", root / "runtime"
    if not (root / "complete").exists():
        shutil.rmtree(root, ignore_errors=True)
        machine = platform.machine()
        package.install_dependencies(vendor, machine=machine)
        runtime_entries = [r for r in package.locked_requirements() if r.name in package.RUNTIME_PROVIDED]
        layer_entries = [r for r in package.locked_requirements(DEV_LOCK) if r.name in LAYER_PACKAGES]
        package.install_dependencies(provided, machine=machine, chosen=runtime_entries + layer_entries)
        # The runtime's and the layer's modules are compiled on both sides (they are not this package's).
        subprocess.run([str(interpreter), "-m", "compileall", "-q", "-j0", str(provided)], check=True)  # noqa: S603
        (root / "complete").touch()
    return vendor, provided


def _stage(workdir: Path, vendor: Path) -> Path:
    """The staged project (infra/package.py's shape) with what `chalice package` adds put where the zip has
    it: app.py and chalice/{app,__init__}.py at the root, beside vendor's contents."""
    project = workdir / "project"
    for name in package.PROJECT_FILES:
        source, destination = package.REPO_ROOT / name, project / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, destination)
    shutil.copytree(vendor, project / "vendor")
    shutil.copy2(project / "app.py", project / "vendor" / "app.py")
    import chalice

    chalice_dir = Path(chalice.__file__).parent
    (project / "vendor" / "chalice").mkdir()
    for name in ("app.py", "__init__.py"):
        shutil.copy2(chalice_dir / name, project / "vendor" / "chalice" / name)
    return project


def _cpu_ms(
    interpreter: Path, project: Path, provided: Path, modules: tuple[str, ...], handler: str = "app.app"
) -> float:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update(BENCH_ENVIRONMENT, _HANDLER=handler)
    # /var/task first, then the runtime's directory; nothing written (read-only, as on Lambda).
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (project / "vendor", project, provided))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    completed = subprocess.run(  # noqa: S603 - the runtime's interpreter, fixed arguments
        [str(interpreter), "-c", PROBE.format(imports=import_statements(modules))],
        cwd=project / "vendor",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(line for line in completed.stdout.splitlines() if line.startswith("BENCH "))
    return float(line.split()[1]) * 1000


def _medians(interpreter: Path, project: Path, provided: Path, runs: int) -> dict[str, tuple[float, float]]:
    """function → (median CPU ms of its import set, median CPU ms of the bare imports beside it)."""
    found = {}
    for function, modules in FUNCTION_IMPORTS.items():
        loaded, bare = [], []
        for _ in range(runs):
            bare.append(_cpu_ms(interpreter, project, provided, BARE))
            loaded.append(_cpu_ms(interpreter, project, provided, modules, FUNCTION_HANDLERS[function]))
        found[function] = (statistics.median(loaded), statistics.median(bare))
    return found


def measure_lambda_layout(runs: int) -> LambdaLayout:
    interpreter = package.lambda_interpreter()
    if interpreter is None:
        return LambdaLayout(interpreter=None)
    vendor, provided = _dependencies(interpreter)
    with tempfile.TemporaryDirectory(prefix="lambda-layout-") as workdir:
        project = _stage(Path(workdir), vendor)
        before = _medians(interpreter, project, provided, runs)
        package.compile_bytecode(project, interpreter)
        compiled = sum(1 for _ in project.rglob("*.pyc"))
        after = _medians(interpreter, project, provided, runs)
    return LambdaLayout(
        interpreter=str(interpreter),
        runs=runs,
        functions=tuple(
            LayoutImports(function, *before[function], *after[function]) for function in FUNCTION_IMPORTS
        ),
        compiled_modules=compiled,
    )


def lambda_layout_section(layout: LambdaLayout | None) -> list[str]:
    if layout is None:
        return []
    if layout.interpreter is None:
        return ["", f"Lambda layout with Python 3.13: skipped ({package.NO_BYTECODE_WARNING})"]
    rows = [
        f"| {found.function} | {found.before_cpu_ms:.0f} ms / {found.before_bare_cpu_ms:.0f} ms | "
        f"{found.before_ratio:.2f} | {found.after_cpu_ms:.0f} ms / {found.after_bare_cpu_ms:.0f} ms | "
        f"**{found.after_ratio:.2f}** |"
        for found in layout.functions
    ]
    return [
        "",
        "On the Lambda layout with the runtime's Python (tools/bench/lambda_imports.py, "
        f"`{Path(layout.interpreter).name}`): the deployment package's files, read-only, the runtime's boto3 "
        "and the layer's pyarrow compiled on both sides. Before: no usable bytecode (compiled at every cold "
        f"start); after: the package's {layout.compiled_modules} modules compiled by infra/package.py "
        f"(`unchecked-hash`). CPU time of the import, medians of {layout.runs} fresh interpreters.",
        "",
        "| function | before: import set / bare (CPU) | ratio before | after: import set / bare (CPU) | "
        "ratio after |",
        "|---|---|---|---|---|",
        *rows,
    ]


def lambda_layout_checks(layout: LambdaLayout | None, target: float) -> list[Check]:
    """The Targets rows: each function's CPU ratio on the Lambda layout with the package's bytecode."""
    from tools.bench.checks import Check

    if layout is None or layout.interpreter is None:
        return []
    return [
        Check(
            f"cold start: {found.function} import set / bare, Python 3.13 on the Lambda layout (CPU)",
            f"{found.after_ratio:.2f}",
            f"≤ {target}",
            found.after_ratio <= target,
        )
        for found in layout.functions
    ]


if __name__ == "__main__":
    from tools.bench.cold_start import TARGET_IMPORT_RATIO

    found = measure_lambda_layout(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
    print("\n".join(lambda_layout_section(found)))
    for check in lambda_layout_checks(found, TARGET_IMPORT_RATIO):
        print(f"{'ok ' if check.ok else 'MISS'} {check.name}: {check.measured} (target {check.target})")
