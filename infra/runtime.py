"""What runs on Lambda, named once: the Python runtime, the architecture, and the AWS SDK for pandas layer
built for exactly that pair.

`chalice package` picks the Lambda runtime from the interpreter that runs it (`Config.lambda_python_version`
matches `sys.version_info`, and Chalice offers no setting for it) and installs the dependencies for that
version. Deploying from Python 3.12 would then give functions on python3.12 beside a layer built for another
version, and an export that fails at 02:15 with an ImportError. Here the runtime is a constant: the stack
sets it on every function, and infra/package.py installs the dependencies for it (`cp313` wheels of the target
machine) whatever interpreter runs the synth; tests/test_infra_packaging.py checks every compiled module of
the package against this ABI and machine.

python3.13 is supported by Lambda until 2029-06-30 (python3.11, the previous runtime, is deprecated on
2027-06-30); arm64 (Graviton) costs 20% less per GB-second than x86_64 and every dependency has wheels for it.
"""

from __future__ import annotations

LAMBDA_RUNTIME = "python3.13"
LAMBDA_ARCHITECTURE = "arm64"
# The wheel tags the deployment package's compiled modules must carry (PEP 425 / PEP 600).
LAMBDA_ABI = "cp313"
LAMBDA_MACHINE = "aarch64"

# The AWS SDK for pandas managed layer (pyarrow for the Parquet export). Its publishers keep one layer per
# region, Python version and architecture, with account ids and layer versions that differ between regions,
# and publish the ARN of each as an SSM public parameter in the regions they publish it in:
# /aws/service/aws-sdk-pandas/<version>/py<python>/<architecture>/layer-arn (aws-sdk-pandas docs, "Install").
PANDAS_LAYER_VERSION = "3.16.0"
# Where that version is published for python3.13 on arm64: the aws-sdk-pandas docs' "AWS Lambda Managed
# Layers" table for 3.16.0 (docs/source/layers.rst). Not every commercial region: none in ca-west-1,
# me-south-1, mx-central-1, ap-southeast-5, ap-southeast-7 …, where the deploy would fail reading the
# parameter; the synth refuses those unless `pandas_layer_arn` names a layer (infra/regions.py).
PANDAS_LAYER_REGIONS = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ca-central-1",
        "cn-north-1",
        "cn-northwest-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
    }
)
# Its unzipped size: 167 MB for 3.16.0 on Python 3.13, as measured in aws/aws-sdk-pandas#3331 (3.16.1 grew to
# 204 MB). Lambda refuses a function whose code and layers exceed LAMBDA_UNZIPPED_LIMIT_BYTES unzipped.
PANDAS_LAYER_UNZIPPED_BYTES = 167 * 1024**2
LAMBDA_UNZIPPED_LIMIT_BYTES = 262_144_000


def pandas_layer_parameter(
    version: str = PANDAS_LAYER_VERSION,
    runtime: str = LAMBDA_RUNTIME,
    architecture: str = LAMBDA_ARCHITECTURE,
) -> str:
    """The SSM public parameter holding the layer's ARN in whichever region reads it."""
    python = runtime.removeprefix("python")
    return f"/aws/service/aws-sdk-pandas/{version}/py{python}/{architecture}/layer-arn"
