"""infra/package.py's bytecode for the Lambda runtime: which interpreter compiles it, what it writes, and the
synth's warning when there is none (the synthesized package: tests/test_infra_packaging.py)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from infra import package

PYENV_PYTHON = Path("/root/.pyenv/versions/3.13.0/bin/python3.13")


def _fake_interpreter(path: Path, version: str) -> Path:
    """An executable that answers the version probe as an interpreter of `version` would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def no_interpreter_around(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv(package.LAMBDA_PYTHON_VARIABLE, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    return tmp_path


def test_without_an_interpreter_of_the_runtimes_version_there_is_none(no_interpreter_around: Path):
    _fake_interpreter(no_interpreter_around / "bin" / "python3.13", "3.12")  # a shim of another version
    assert package.lambda_interpreter() is None


def test_python313_on_path_or_pyenvs_is_found(no_interpreter_around: Path):
    found = _fake_interpreter(
        no_interpreter_around / "pyenv" / "versions" / "3.13.9" / "bin" / "python3.13", "3.13"
    )
    assert package.lambda_interpreter() == found
    on_path = _fake_interpreter(no_interpreter_around / "bin" / "python3.13", "3.13")
    assert package.lambda_interpreter() == on_path


def test_lambda_python_must_name_the_runtimes_version(
    no_interpreter_around: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(package.LAMBDA_PYTHON_VARIABLE, sys.executable)
    if sys.version_info[:2] != (3, 13):
        with pytest.raises(ValueError, match=r"is not a Python 3\.13"):
            package.lambda_interpreter()
    named = _fake_interpreter(no_interpreter_around / "elsewhere" / "python", "3.13")
    monkeypatch.setenv(package.LAMBDA_PYTHON_VARIABLE, str(named))
    assert package.lambda_interpreter() == named


def test_the_synth_warns_when_the_package_ships_no_bytecode(monkeypatch: pytest.MonkeyPatch):
    import aws_cdk as cdk
    from aws_cdk.assertions import Annotations, Match

    from infra import stack

    monkeypatch.setattr(package, "lambda_interpreter", lambda: None)
    without = cdk.Stack(cdk.App(), "Without")
    assert stack.bytecode_interpreter(without) is None
    Annotations.from_stack(without).has_warning("*", Match.string_like_regexp("ships no bytecode"))

    monkeypatch.setattr(package, "lambda_interpreter", lambda: PYENV_PYTHON)
    with_interpreter = cdk.Stack(cdk.App(), "With")
    assert stack.bytecode_interpreter(with_interpreter) == PYENV_PYTHON
    Annotations.from_stack(with_interpreter).has_no_warning("*", Match.any_value())


@pytest.mark.skipif(not PYENV_PYTHON.exists(), reason="no CPython 3.13 on this machine")
def test_the_compiled_package_is_used_as_is_by_the_runtimes_python(tmp_path: Path):
    project = tmp_path / "project"
    (project / "chalicelib").mkdir(parents=True)
    (project / "vendor" / "lib").mkdir(parents=True)
    (project / "app.py").write_text("VALUE = 'compiled'\n")
    (project / "chalicelib" / "__init__.py").write_text("VALUE = 'compiled'\n")
    (project / "vendor" / "lib" / "__init__.py").write_text("VALUE = 'compiled'\n")

    package.compile_bytecode(project, PYENV_PYTHON)

    pycs = sorted(str(p.relative_to(project)) for p in project.rglob("*.pyc"))
    assert pycs == [
        "chalicelib/__pycache__/__init__.cpython-313.pyc",
        "vendor/__pycache__/app.cpython-313.pyc",  # app.py lands at the zip's root, beside vendor's contents
        "vendor/chalice/__pycache__/__init__.cpython-313.pyc",
        "vendor/chalice/__pycache__/app.cpython-313.pyc",
        "vendor/lib/__pycache__/__init__.cpython-313.pyc",
    ]
    # The Lambda layout (vendor's contents at the root), read-only: the sources changed after compiling are
    # not read, so the bytecode is used unchecked, whatever the sources' mtimes.
    root = project / "vendor"
    (root / "app.py").write_text("VALUE = 'source'\n")
    (root / "lib" / "__init__.py").write_text("VALUE = 'source'\n")
    probe = "import app, lib, chalicelib; print(app.VALUE, lib.VALUE, chalicelib.VALUE)"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": f"{root}{os.pathsep}{project}"}
    env.pop("PYTHONPYCACHEPREFIX", None)
    completed = subprocess.run(
        [str(PYENV_PYTHON), "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert completed.stdout.split() == ["compiled"] * 3
