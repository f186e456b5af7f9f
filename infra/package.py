"""The Lambda deployment package: the app, and exactly the locked dependencies built for the target runtime.

`chalice package` would install requirements.txt with the interpreter that runs it: its dependency builder
asks pip for wheels of the local Python version, so a synth from Python 3.11 ships 3.11 wheels (pydantic-core
is compiled) whatever runtime the functions declare. Instead the synth packages a staged copy of the project
whose `vendor/` folder (Chalice puts its contents at the root of the zip, as documented) holds the
dependencies pip installed for the target, from the hash-locked requirements.txt, with pip's own
cross-platform options (`--platform`, `--python-version`, `--implementation`, `--abi`, binary wheels
only): what is deployed is what the lock says, for the runtime infra/runtime.py names, from any machine.

boto3 and botocore (and their own dependencies) are left out: every Python runtime of Lambda includes them,
and they are 21 MiB of the 37 MiB package. The tests run against the locked versions; the runtime's copy is
the one AWS keeps patched.

Bytecode: Lambda's /var/task is read-only, so a module without a usable `.pyc` is compiled from source at
every cold start (pip's own `.pyc` are for the interpreter running pip, which Lambda ignores). When an
interpreter of the runtime's version is found (LAMBDA_PYTHON, `python3.13` on PATH, or pyenv's), it compiles
the package with `--invalidation-mode unchecked-hash`: a zip's mtimes mean nothing, and an unchecked-hash
`.pyc` is used as is. Without one the package ships sources only and the synth warns (infra/stack.py).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from infra import runtime

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCK_FILE = REPO_ROOT / "requirements.txt"
# In every Lambda Python runtime (the AWS SDK for Python and what it depends on).
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)
# What `chalice package` needs of the project: the app, its package, its stage configuration.
PROJECT_FILES = ("app.py", "chalicelib", ".chalice/config.json")
_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==")
# Lambda's Python 3.12+ runtimes run on Amazon Linux 2023 (glibc 2.34): manylinux tags up to 2_34 load.
GLIBC_MINORS = range(17, 35)


# The environment markers of the Lambda runtime (PEP 508), to pick the lock's entries that apply there.
LAMBDA_ENVIRONMENT = {
    "python_version": runtime.LAMBDA_RUNTIME.removeprefix("python"),
    "python_full_version": runtime.LAMBDA_RUNTIME.removeprefix("python") + ".0",
    "platform_machine": runtime.LAMBDA_MACHINE,
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


@dataclass(frozen=True)
class LockedRequirement:
    name: str  # normalized (PEP 503)
    text: str  # the whole entry: `name==version ; marker --hash=… --hash=…`

    @property
    def version(self) -> str:
        return self.text.split("==", 1)[1].split()[0]

    @property
    def marker(self) -> str | None:
        """The entry's environment marker (uv's universal lock pins some packages per Python version)."""
        if " ; " not in self.text:
            return None
        return self.text.split(" ; ", 1)[1].split(" --hash", 1)[0].strip()

    def applies(self, environment: dict[str, str] | None = None) -> bool:
        """Whether the entry is for `environment` (this interpreter's when None)."""
        from packaging.markers import Marker

        return self.marker is None or Marker(self.marker).evaluate(environment)


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_requirements(lock: Path = LOCK_FILE) -> list[LockedRequirement]:
    """The lock's entries, each joined from its continuation lines, comments dropped."""
    entries: list[str] = []
    for raw in lock.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].rstrip() if not raw.lstrip().startswith("--hash") else raw.rstrip()
        if not line.strip():
            continue
        if raw[:1].isspace() and entries:
            entries[-1] += " " + line.strip().removesuffix("\\").strip()
        else:
            entries.append(line.strip().removesuffix("\\").strip())
    requirements = []
    for entry in entries:
        match = _REQUIREMENT.match(entry)
        if match is None:
            raise ValueError(f"{lock.name}: not a pinned requirement: {entry[:80]!r}")
        if "--hash=" not in entry:
            raise ValueError(f"{lock.name}: {match.group(1)} has no --hash (regenerate with `make lock`)")
        requirements.append(LockedRequirement(normalized(match.group(1)), entry))
    return requirements


def lambda_requirements(lock: Path = LOCK_FILE) -> list[LockedRequirement]:
    """The locked requirements the deployment package ships (the runtime brings the rest)."""
    return [
        requirement
        for requirement in locked_requirements(lock)
        if requirement.name not in RUNTIME_PROVIDED and requirement.applies(LAMBDA_ENVIRONMENT)
    ]


def platforms(machine: str = runtime.LAMBDA_MACHINE) -> list[str]:
    return [f"manylinux_2_{minor}_{machine}" for minor in GLIBC_MINORS] + [f"manylinux2014_{machine}"]


# Files of the locked dependencies that no function reads, left out of the package so that it stays lean and
# well under Lambda's size limit beside the export's layer: the Swagger UI assets Powertools' own API resolver
# serves (`enable_swagger`); the app routes with Chalice and never builds that resolver.
UNUSED_DEPENDENCY_FILES = (
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js",
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui.min.css",
)


def install_dependencies(
    target: Path,
    lock: Path = LOCK_FILE,
    machine: str = runtime.LAMBDA_MACHINE,
    chosen: list[LockedRequirement] | None = None,
) -> None:
    """pip-install the locked Lambda dependencies (or the `chosen` entries) for the target runtime into
    `target`."""
    target.mkdir(parents=True, exist_ok=True)
    requirements = target.parent / "lambda-requirements.txt"
    # Markers are dropped: the entries were chosen for the Lambda runtime, not for this interpreter.
    entries = [
        f"{r.name}=={r.version} {' '.join(h for h in r.text.split() if h.startswith('--hash='))}"
        for r in (lambda_requirements(lock) if chosen is None else chosen)
    ]
    requirements.write_text("\n".join(entries) + "\n", encoding="utf-8")
    python = runtime.LAMBDA_RUNTIME.removeprefix("python")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # --no-compile: pip would compile for this interpreter, whose `.pyc` the runtime cannot use.
    command += ["--target", str(target), "--no-deps", "--require-hashes", "--only-binary=:all:"]
    command += ["--no-compile"]
    for platform in platforms(machine):
        command += ["--platform", platform]
    command += ["--implementation", "cp", "--python-version", python, "--abi", runtime.LAMBDA_ABI]
    command += ["-r", str(requirements)]
    subprocess.run(command, check=True)  # noqa: S603 - our own interpreter, arguments built here
    requirements.unlink()
    for name in UNUSED_DEPENDENCY_FILES:
        (target / name).unlink(missing_ok=True)


def staged_project(
    workdir: Path, interpreter: Path | None = None, machine: str = runtime.LAMBDA_MACHINE
) -> Path:
    """A copy of the project for `chalice package`: the app, vendor/ with the dependencies (for `machine`), no
    requirements (so Chalice's own dependency builder has nothing to do); compiled by `interpreter` if any."""
    project = workdir / "project"
    for name in PROJECT_FILES:
        source, destination = REPO_ROOT / name, project / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, destination)
    (project / "requirements.txt").write_text("", encoding="utf-8")
    install_dependencies(project / "vendor", machine=machine)
    if interpreter is not None:
        compile_bytecode(project, interpreter)
    return project


LAMBDA_PYTHON_VERSION = runtime.LAMBDA_RUNTIME.removeprefix("python")
# Names the interpreter that compiles the package (it must be the runtime's version: bytecode is per version).
LAMBDA_PYTHON_VARIABLE = "LAMBDA_PYTHON"
NO_BYTECODE_WARNING = (
    f"No Python {LAMBDA_PYTHON_VERSION} found ({LAMBDA_PYTHON_VARIABLE}, python{LAMBDA_PYTHON_VERSION} "
    "on PATH or pyenv): the Lambda package ships no bytecode, so every cold start compiles the modules "
    "it imports."
)
# Run by the runtime's interpreter: the package's sources, plus those `chalice package` adds itself (app.py,
# chalice/app.py, chalice/__init__.py) compiled into vendor/, whose contents land at the root of the zip.
_COMPILE = """
import compileall, importlib.util, py_compile, sys
from pathlib import Path
mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
project = Path(sys.argv[1])
compiled = [compileall.compile_dir(project / d, quiet=1, workers=0, invalidation_mode=mode)
            for d in ("chalicelib", "vendor")]
for source, placed in zip(sys.argv[2::2], sys.argv[3::2]):
    target = importlib.util.cache_from_source(str(project / "vendor" / placed))
    py_compile.compile(source, cfile=target, doraise=True, invalidation_mode=mode)
sys.exit(0 if all(compiled) else 1)
"""


def _python_version(interpreter: str | Path) -> str | None:
    """`major.minor` of the interpreter, or None when it does not run (a pyenv shim of another version)."""
    try:
        completed = subprocess.run(  # noqa: S603 - an interpreter path, fixed arguments
            [str(interpreter), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def lambda_interpreter() -> Path | None:
    """An interpreter of the runtime's Python version: LAMBDA_PYTHON (which must be one), else
    `python3.13` on PATH, else pyenv's newest 3.13; None when there is none."""
    named = os.environ.get(LAMBDA_PYTHON_VARIABLE)
    if named:
        if _python_version(named) != LAMBDA_PYTHON_VERSION:
            raise ValueError(f"{LAMBDA_PYTHON_VARIABLE}={named} is not a Python {LAMBDA_PYTHON_VERSION}")
        return Path(named)
    pyenv_versions = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    candidates = [shutil.which(f"python{LAMBDA_PYTHON_VERSION}")]
    pattern = f"{LAMBDA_PYTHON_VERSION}.*/bin/python{LAMBDA_PYTHON_VERSION}"
    candidates += sorted(pyenv_versions.glob(pattern), reverse=True)
    for candidate in candidates:
        if candidate and _python_version(candidate) == LAMBDA_PYTHON_VERSION:
            return Path(candidate)
    return None


def compile_bytecode(project: Path, interpreter: Path) -> None:
    """Compile the staged project's sources into `__pycache__/*.cpython-313.pyc`, unchecked-hash."""
    chalice_dir = Path(importlib.util.find_spec("chalice").origin).parent  # type: ignore[union-attr, arg-type]
    # What `chalice package` adds from outside the staged project, compiled to where the zip will put it.
    added = {
        project / "app.py": "app.py",
        chalice_dir / "app.py": "chalice/app.py",
        chalice_dir / "__init__.py": "chalice/__init__.py",
    }
    arguments = [str(item) for source, placed in added.items() for item in (source, placed)]
    subprocess.run(  # noqa: S603 - the runtime's interpreter, arguments built here
        [str(interpreter), "-c", _COMPILE, str(project), *arguments], check=True, capture_output=True
    )
