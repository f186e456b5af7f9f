"""What is deployed is what was tested: both lock files pin every package with its hashes, the dev lock pins
the runtime packages at the deployed versions, the locks satisfy the ranges they were resolved from, and this
environment (`make install`) runs exactly the dev lock."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from infra import package

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = ROOT / "requirements.txt"
DEV_LOCK = ROOT / "requirements-dev.txt"


def _pins(lock: Path) -> dict[str, str]:
    """name → version of the entries that apply to this interpreter (a universal lock may pin a package
    per Python version)."""
    return {r.name: r.version for r in package.locked_requirements(lock) if r.applies()}


def _ranges(source: Path) -> list[Requirement]:
    ranges = []
    for raw in source.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            ranges += _ranges(source.parent / line[3:].strip())
        elif line:
            ranges.append(Requirement(line))
    return ranges


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK], ids=lambda p: p.name)
def test_every_package_is_pinned_with_hashes(lock: Path):
    entries = package.locked_requirements(lock)  # raises on an unpinned or hash-less entry
    assert len(entries) >= 10
    assert all(entry.text.count("--hash=sha256:") >= 1 for entry in entries)


def test_the_lock_reader_refuses_what_is_not_locked(tmp_path: Path):
    unpinned = tmp_path / "ranges.txt"
    unpinned.write_text("pydantic>=2\n")
    with pytest.raises(ValueError, match="not a pinned requirement"):
        package.locked_requirements(unpinned)
    hashless = tmp_path / "pins.txt"
    hashless.write_text("pydantic==2.0.0\n")
    with pytest.raises(ValueError, match="no --hash"):
        package.locked_requirements(hashless)


def test_tests_run_the_versions_that_are_deployed():
    runtime, dev = _pins(RUNTIME_LOCK), _pins(DEV_LOCK)
    assert {name: dev.get(name) for name in runtime} == runtime


@pytest.mark.parametrize(
    ("source", "lock"),
    [(ROOT / "requirements.in", RUNTIME_LOCK), (ROOT / "requirements-dev.in", DEV_LOCK)],
    ids=["runtime", "dev"],
)
def test_the_locks_satisfy_their_ranges(source: Path, lock: Path):
    pins = _pins(lock)
    for requirement in _ranges(source):
        name = package.normalized(requirement.name)
        assert name in pins, f"{name} is in {source.name} but not in {lock.name}: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])


def test_this_environment_is_the_dev_lock():
    installed = {package.normalized(d.metadata["Name"]): d.version for d in metadata.distributions()}
    different = {
        name: (version, installed.get(name))
        for name, version in _pins(DEV_LOCK).items()
        if name in installed and installed[name] != version
    }
    missing = [name for name in _pins(DEV_LOCK) if name not in installed]
    assert not different, (
        f"installed versions differ from requirements-dev.txt (run `make install`): {different}"
    )
    assert not missing, f"not installed: {missing}"


def test_the_lambda_package_takes_the_entries_for_its_runtime(tmp_path: Path):
    lock = tmp_path / "requirements.txt"
    lock.write_text(
        "networkx==3.6.1 ; python_full_version < '3.12' \\\n    --hash=sha256:aa\n"
        "networkx==3.7 ; python_full_version >= '3.12' \\\n    --hash=sha256:bb\n"
        "pywin32==312 ; sys_platform == 'win32' \\\n    --hash=sha256:cc\n"
        "botocore==1.0 \\\n    --hash=sha256:dd\n"
    )
    chosen = {r.name: r.version for r in package.lambda_requirements(lock)}
    assert chosen == {"networkx": "3.7"}  # python3.13 on Linux; botocore comes from the runtime
