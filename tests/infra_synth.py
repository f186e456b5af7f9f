"""The synthesized stack the tests/test_infra*.py suites share, and the lookups they make on it.

`python infra/app.py -c stage=prod` runs once per test session (the session fixtures `synth`, `template`
and `transformed` in tests/conftest.py), in a subprocess so `chalice package` cannot touch this process's
environment or imported modules. The suites then assert on the template, on the SAM transform of it run
offline, on cfn-lint's and cdk-nag's findings, and on the deployment package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra import permissions

ROOT = Path(__file__).resolve().parent.parent
STAGE = "prod"
FUNCTIONS = permissions.FUNCTIONS


@dataclass
class Synth:
    outdir: Path
    returncode: int
    stderr: str
    template: dict[str, Any]
    report: dict[str, Any]
    metadata: dict[str, Any]

    @property
    def template_path(self) -> Path:
        return self.outdir / f"{STAGE}.template.json"

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def only(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        found = self.of_type(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))

    def logical_id(self, resource_type: str, prefix: str) -> str:
        found = [k for k in self.of_type(resource_type) if k.startswith(prefix)]
        assert len(found) == 1, f"expected one {resource_type} named {prefix}*, found {found}"
        return found[0]


def synthesize(outdir: Path) -> Synth:
    """The prod stage synthesized into `outdir`, as `make synth STAGE=prod` does it."""
    assert shutil.which("node"), "the CDK synth needs node (jsii runs aws-cdk-lib on it)"
    result = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "app.py"), "-c", f"stage={STAGE}", "--outdir", str(outdir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,  # a cold `chalice package` downloads the Lambda wheels of requirements.txt once
        check=False,
        env={key: value for key, value in os.environ.items() if key != "CDK_OUTDIR"},
    )
    # cdk-nag findings fail the synth after the template is written: the nag test reports them, the other
    # tests still check the template.
    written = (outdir / f"{STAGE}.template.json").exists() and (outdir / "validation-report.json").exists()
    assert written, f"synth failed:\n{result.stdout[-5000:]}\n{result.stderr[-10000:]}"
    return Synth(
        outdir=outdir,
        returncode=result.returncode,
        stderr=result.stderr,
        template=json.loads((outdir / f"{STAGE}.template.json").read_text()),
        report=json.loads((outdir / "validation-report.json").read_text()),
        metadata=json.loads((outdir / f"{STAGE}.metadata.json").read_text()),
    )


# Synthesizes the prod stage once per context in `variants`, in one subprocess (one node process for all);
# a cdk-nag finding raises out of synth() and fails the run.
SYNTH_VARIANTS = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from infra.app import build

    outdir, variants = Path(sys.argv[1]), json.loads(sys.argv[2])
    for name, context in variants.items():
        build({"stage": "prod", **context}, outdir=str(outdir / name)).node.root.synth()
    """
)


def run_synth_script(script: str, *args: str) -> subprocess.CompletedProcess:
    """Run a Python script that synthesizes several stacks in one process (one node for all); it must pass."""
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
        env={key: value for key, value in os.environ.items() if key != "CDK_OUTDIR"},
    )
    assert result.returncode == 0, f"synth failed:\n{result.stderr[-8000:]}"
    return result


def synthesize_variants(outdir: Path, variants: dict[str, dict[str, str]]) -> dict[str, Synth]:
    """The prod stage synthesized with each variant's extra context (`-c key=value`), by variant name."""
    result = run_synth_script(SYNTH_VARIANTS, str(outdir), json.dumps(variants))
    synths = {}
    for name in variants:
        directory = outdir / name
        synths[name] = Synth(
            outdir=directory,
            returncode=result.returncode,
            stderr=result.stderr,
            template=json.loads((directory / f"{STAGE}.template.json").read_text()),
            report=json.loads((directory / "validation-report.json").read_text()),
            metadata=json.loads((directory / f"{STAGE}.metadata.json").read_text()),
        )
    return synths


def sam_transform(template: dict[str, Any], directory: Path) -> dict[str, Any]:
    """The plain CloudFormation the AWS::Serverless-2016-10-31 transform makes of the template, and the
    path of a copy of it in `directory` (for cfn-lint)."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    parameters = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
    result = transform(json.loads(json.dumps(template)), parameters, NoManagedPolicies())
    path = directory / "template.json"
    path.write_text(json.dumps(result))
    return {"template": result, "path": path}


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def arn(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}
