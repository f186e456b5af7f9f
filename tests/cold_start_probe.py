"""Fresh interpreters for the cold-start tests: a script run with the app's environment, and the modules an
import set loads (tests/test_cold_start.py, tests/test_cold_start_classes.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
BASE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "ANALYZER": "comprehend",
    "THEME_TAGGER": "keywords",
}


def run_probe(script: str, **environment: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("POWERTOOLS_", "AWS_"))}
    env.pop("LAMBDA_TASK_ROOT", None)
    env.update(BASE_ENVIRONMENT, **environment)
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT, env=env, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def loaded_after(imports: str, handler: str | None = None) -> list[str]:
    """The modules loaded after `imports`, in the function that runs `handler` (Lambda's _HANDLER)."""
    script = f"import json, sys\n{imports}\nprint(json.dumps({{'modules': sorted(sys.modules)}}))\n"
    return run_probe(script, **({"_HANDLER": handler} if handler else {}))["modules"]
