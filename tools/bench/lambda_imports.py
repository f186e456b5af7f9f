"""Each function's import set on the Lambda layout, with the runtime's Python, before and after bytecode.

Lambda's /var/task is read-only: a module without a `.pyc` of the running Python is compiled at every cold
start. The layout here is the deployment package's (infra/package.py: the locked dependencies, the app, and
chalice/app.py), installed for this machine, with Python 3.13 and no bytecode writes; the Lambda runtime's
own boto3 & co. and the export's pyarrow (its layer) sit in another directory, compiled, on both sides.
"Before" is the package as it shipped without usable bytecode (every module compiled at import); "after" is
the package compiled by infra/package.py (`unchecked-hash`). Times are CPU seconds of the import (process
time) in fresh interpreters. The machine's load moves both sides of a ratio by as much as the gap to the
target, so the ratio is taken pair by pair: each import-set interpreter runs right beside a bare
`import chalice, boto3` one in the same layout (ABAB…, which of the two goes first alternating, the functions'
order rotating every round), the ratio is the median of the pairs' ratios, and their interquartile range is
reported beside it; when that range is wide, more rounds are run (up to MAX_ROUNDS_FACTOR x runs).
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


# A pair's ratio spread (interquartile range) wider than this asks for more rounds, up to MAX_ROUNDS_FACTOR x
# the runs asked for: a noisy machine gets more pairs rather than a looser figure.
WIDE_SPREAD = 0.08
MAX_ROUNDS_FACTOR = 2


@dataclass(frozen=True)
class Pairs:
    """One side (before or after bytecode) of a function: CPU ms of each import-set interpreter and of the
    bare one run beside it, pair by pair."""

    loaded_ms: tuple[float, ...]
    bare_ms: tuple[float, ...]

    @property
    def ratios(self) -> list[float]:
        return [loaded / bare for loaded, bare in zip(self.loaded_ms, self.bare_ms, strict=True)]

    @property
    def ratio(self) -> float:
        """The median of the pairs' ratios: a drift in the machine's load moves both sides of a pair alike."""
        return statistics.median(self.ratios)

    @property
    def spread(self) -> tuple[float, float]:
        """The pairs' ratios' interquartile range (their extremes under four pairs)."""
        ratios = self.ratios
        if len(ratios) < 4:
            return min(ratios), max(ratios)
        q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
        return q1, q3

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.loaded_ms)

    @property
    def bare_cpu_ms(self) -> float:
        return statistics.median(self.bare_ms)


@dataclass(frozen=True)
class LayoutImports:
    function: str
    before: Pairs
    after: Pairs

    @property
    def before_ratio(self) -> float:
        return self.before.ratio

    @property
    def after_ratio(self) -> float:
        return self.after.ratio


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


def _paired_rounds(
    interpreter: Path,
    project: Path,
    provided: Path,
    rounds: range,
    found: dict[str, list[tuple[float, float]]],
) -> None:
    """Adds to `found` (function → [(import set CPU ms, bare CPU ms)]) one pair per function and round: the
    two interpreters back to back, which goes first alternating, the functions' order rotating."""
    functions = list(FUNCTION_IMPORTS)
    for round_number in rounds:
        shift = round_number % len(functions)
        for function in functions[shift:] + functions[:shift]:
            modules, handler = FUNCTION_IMPORTS[function], FUNCTION_HANDLERS[function]
            if round_number % 2:
                loaded = _cpu_ms(interpreter, project, provided, modules, handler)
                bare = _cpu_ms(interpreter, project, provided, BARE)
            else:
                bare = _cpu_ms(interpreter, project, provided, BARE)
                loaded = _cpu_ms(interpreter, project, provided, modules, handler)
            found.setdefault(function, []).append((loaded, bare))


def _paired(
    interpreter: Path, project: Path, provided: Path, runs: int, widen: bool = False
) -> dict[str, Pairs]:
    """function → its pairs over `runs` rounds; with `widen`, more rounds while a function's pair ratios
    spread wider than WIDE_SPREAD (at most MAX_ROUNDS_FACTOR x runs in all)."""
    for function, modules in FUNCTION_IMPORTS.items():  # warm the file cache once (not counted)
        _cpu_ms(interpreter, project, provided, modules, FUNCTION_HANDLERS[function])
    _cpu_ms(interpreter, project, provided, BARE)
    found: dict[str, list[tuple[float, float]]] = {}
    _paired_rounds(interpreter, project, provided, range(runs), found)

    def pairs() -> dict[str, Pairs]:
        return {f: Pairs(*(tuple(side) for side in zip(*found[f], strict=True))) for f in FUNCTION_IMPORTS}

    done = runs
    while widen and done < MAX_ROUNDS_FACTOR * runs:
        if all(high - low <= WIDE_SPREAD for low, high in (p.spread for p in pairs().values())):
            break
        more = min(2, MAX_ROUNDS_FACTOR * runs - done)
        _paired_rounds(interpreter, project, provided, range(done, done + more), found)
        done += more
    return pairs()


def measure_lambda_layout(runs: int) -> LambdaLayout:
    interpreter = package.lambda_interpreter()
    if interpreter is None:
        return LambdaLayout(interpreter=None)
    vendor, provided = _dependencies(interpreter)
    with tempfile.TemporaryDirectory(prefix="lambda-layout-") as workdir:
        project = _stage(Path(workdir), vendor)
        before = _paired(interpreter, project, provided, runs)
        package.compile_bytecode(project, interpreter)
        compiled = sum(1 for _ in project.rglob("*.pyc"))
        # The Targets rows judge this side: more rounds when the machine is noisy.
        after = _paired(interpreter, project, provided, runs, widen=True)
    return LambdaLayout(
        interpreter=str(interpreter),
        runs=runs,
        functions=tuple(
            LayoutImports(function, before[function], after[function]) for function in FUNCTION_IMPORTS
        ),
        compiled_modules=compiled,
    )


def lambda_layout_section(layout: LambdaLayout | None) -> list[str]:
    if layout is None:
        return []
    if layout.interpreter is None:
        return ["", f"Lambda layout with Python 3.13: skipped ({package.NO_BYTECODE_WARNING})"]
    rows = [
        f"| {found.function} | {found.before.cpu_ms:.0f} ms / {found.before.bare_cpu_ms:.0f} ms | "
        f"{found.before_ratio:.2f} | {found.after.cpu_ms:.0f} ms / {found.after.bare_cpu_ms:.0f} ms | "
        f"**{found.after_ratio:.2f}** | {_spread(found.after)} | {len(found.after.ratios)} |"
        for found in layout.functions
    ]
    return [
        "",
        "On the Lambda layout with the runtime's Python (tools/bench/lambda_imports.py, "
        f"`{Path(layout.interpreter).name}`): the deployment package's files, read-only, the runtime's boto3 "
        "and the layer's pyarrow compiled on both sides. Before: no usable bytecode (compiled at every cold "
        f"start); after: the package's {layout.compiled_modules} modules compiled by infra/package.py "
        "(`unchecked-hash`). CPU time of the import in fresh interpreters, each beside a bare "
        "`import chalice, boto3` one (ABAB…, which goes first alternating): the ratio is the median of the "
        f"pairs' ratios, their interquartile range beside it; {layout.runs} rounds, more after bytecode "
        f"while a function's range is wider than {WIDE_SPREAD} (at most {MAX_ROUNDS_FACTOR * layout.runs}). "
        "The times are the medians of each side.",
        "",
        "| function | before: import set / bare (CPU) | ratio before | after: import set / bare (CPU) | "
        "ratio after | pairs' IQR after | pairs after |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]


def _spread(pairs: Pairs) -> str:
    low, high = pairs.spread
    return f"{low:.2f} to {high:.2f}"


def lambda_layout_checks(layout: LambdaLayout | None, target: float) -> list[Check]:
    """The Targets rows: each function's CPU ratio on the Lambda layout with the package's bytecode."""
    from tools.bench.checks import Check

    if layout is None or layout.interpreter is None:
        return []
    return [
        Check(
            f"cold start: {found.function} import set / bare, Python 3.13 on the Lambda layout (CPU)",
            f"{found.after_ratio:.2f} (pairs' IQR {_spread(found.after)})",
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
