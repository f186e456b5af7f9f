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
"""

from __future__ import annotations

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


def install_dependencies(target: Path, lock: Path = LOCK_FILE) -> None:
    """pip-install the locked Lambda dependencies for the target runtime into `target`."""
    target.mkdir(parents=True, exist_ok=True)
    requirements = target.parent / "lambda-requirements.txt"
    # Markers are dropped: the entries were chosen for the Lambda runtime, not for this interpreter.
    entries = [
        f"{r.name}=={r.version} {' '.join(h for h in r.text.split() if h.startswith('--hash='))}"
        for r in lambda_requirements(lock)
    ]
    requirements.write_text("\n".join(entries) + "\n", encoding="utf-8")
    python = runtime.LAMBDA_RUNTIME.removeprefix("python")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--target", str(target), "--no-deps", "--require-hashes", "--only-binary=:all:"]
    for platform in platforms():
        command += ["--platform", platform]
    command += ["--implementation", "cp", "--python-version", python, "--abi", runtime.LAMBDA_ABI]
    command += ["-r", str(requirements)]
    subprocess.run(command, check=True)  # noqa: S603 - our own interpreter, arguments built here
    requirements.unlink()


def staged_project(workdir: Path) -> Path:
    """A copy of the project for `chalice package`: the app, vendor/ with the dependencies, no requirements
    (so Chalice's own dependency builder has nothing to do)."""
    project = workdir / "project"
    for name in PROJECT_FILES:
        source, destination = REPO_ROOT / name, project / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, destination)
    (project / "requirements.txt").write_text("", encoding="utf-8")
    install_dependencies(project / "vendor")
    return project
