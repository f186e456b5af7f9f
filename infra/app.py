#!/usr/bin/env python3
"""CDK entry point: one stack for the stage named in the context (default dev).

    python infra/app.py -c stage=prod [-c waf=false …] [--outdir DIR]   # synth without the CDK CLI
    cd infra && npx cdk deploy -c stage=prod                            # the CLI runs this file (cdk.json)

Synthesis is offline: jsii runs aws-cdk-lib on the local `node`, and chalice.cdk.Chalice packages the app
in-process (`chalice package` of a staged copy whose dependencies infra/package.py pip-installs from the
lock for the Lambda runtime; synthesis needs PyPI, or pip's cache, for them). The AwsSolutions cdk-nag
pack runs on every synth and fails it on any finding that is not acknowledged (infra/nag.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

INFRA_DIR = Path(__file__).resolve().parent
REPO_ROOT = INFRA_DIR.parent
# `chalice package` imports the Chalice app as the module `app`: that must be REPO_ROOT/app.py, never this
# file, so infra/ comes off the path and the repository goes first.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != INFRA_DIR]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra.settings import StageSettings  # noqa: E402
from infra.settings import environment_region as settings_region  # noqa: E402
from infra.stack import FeedbackStack  # noqa: E402

# CDK feature flags, set here rather than in cdk.json so `python infra/app.py` and the CDK CLI agree.
FEATURE_FLAGS = {
    # Server access logs are delivered under a bucket policy, not the legacy LogDeliveryWrite ACL (which
    # would need ACLs enabled on the log bucket).
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
}


class SettingRefused(ValueError):
    """A context value (`-c key=value`) the stack cannot be built with; its message says what to pass."""


@contextlib.contextmanager
def packaging_directory() -> Iterator[None]:
    """Run `chalice package` in a scratch directory: chalice.cdk.Chalice writes `./chalice.out/<uuid>/` under
    the current directory on every synth. Its outputs are copied into the cloud assembly (asset staging)
    and read (the SAM template) while the construct is built, so the directory can go right after."""
    previous = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="chalice-package-") as workdir:
        os.chdir(workdir)
        try:
            yield
        finally:
            os.chdir(previous)


def build(
    context: dict[str, Any] | None = None, outdir: str | None = None, nag: bool = True
) -> FeedbackStack:
    """The app with its one stack (not synthesized yet). `context` adds to what the CDK CLI passes."""
    # chalice package resolves service principals for a region; offline there may be none configured.
    if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        os.environ["AWS_DEFAULT_REGION"] = settings_region()
    app = cdk.App(context={**FEATURE_FLAGS, **(context or {})}, outdir=outdir)
    try:
        settings = StageSettings.from_context(app.node.try_get_context)
    except ValueError as error:  # RegionRefused included: each message names the setting and the way out
        raise SettingRefused(str(error)) from error
    with packaging_directory():
        stack = FeedbackStack(app, settings)
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack


def _context_pairs(pairs: Sequence[str]) -> dict[str, str]:
    context = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise SystemExit(f"context must be key=value, got {pair!r}")
        context[key] = value
    return context


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python infra/app.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--outdir", help="cloud assembly directory (default infra/cdk.out)")
    args = parser.parse_args(argv)
    outdir = None if "CDK_OUTDIR" in os.environ else (args.outdir or str(INFRA_DIR / "cdk.out"))
    try:
        stack = build(_context_pairs(args.context), outdir=outdir)
    except SettingRefused as error:
        # A deployer's mistake, said plainly (a traceback would bury it), before anything is packaged.
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        assembly = stack.node.root.synth()  # type: ignore[attr-defined]
    except RuntimeError as error:
        if "Validation failed" not in str(error):
            raise
        print(f"cdk-nag found unacknowledged findings (see above): {error}", file=sys.stderr)
        return 1
    template = Path(assembly.directory) / stack.template_file
    print(f"{stack.stack_name}: {template}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
