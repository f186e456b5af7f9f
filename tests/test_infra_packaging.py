"""infra/: what runs on Lambda. Every function on the pinned runtime and architecture, the region's own
pandas layer, a deployment package holding exactly the locked dependencies built for that runtime, and a
function size well under Lambda's limit.
"""

from __future__ import annotations

import json
from pathlib import Path

from infra import permissions
from tests.infra_synth import FUNCTIONS, ROOT, Synth


def test_functions_run_the_pinned_runtime_and_architecture_with_the_regions_layer(synth: Synth):
    from infra import runtime

    for function in FUNCTIONS:
        properties = synth.resources[function]["Properties"]
        assert properties["Runtime"] == runtime.LAMBDA_RUNTIME == "python3.13"
        assert properties["Architectures"] == [runtime.LAMBDA_ARCHITECTURE] == ["arm64"]
    (layer,) = synth.resources[permissions.NIGHTLY_EXPORT]["Properties"]["Layers"]
    parameter = synth.template["Parameters"][layer["Ref"]]
    assert parameter == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": f"/aws/service/aws-sdk-pandas/{runtime.PANDAS_LAYER_VERSION}/py3.13/arm64/layer-arn",
    }
    config = (ROOT / ".chalice" / "config.json").read_text()
    assert "layer" not in config.replace('"automatic_layer"', "")  # nothing pinned to one region any more


def _deployment_package(synth: Synth) -> Path:
    code = synth.resources[permissions.API_HANDLER]["Properties"]["CodeUri"]
    (package,) = [p for p in synth.outdir.glob("asset.*.zip") if code["Key"].startswith(p.name[6:-4])]
    return package


def test_the_package_holds_the_locked_dependencies_built_for_the_runtime(synth: Synth):
    import zipfile

    from infra import package, runtime

    with zipfile.ZipFile(_deployment_package(synth)) as archive:
        names = archive.namelist()
        compiled = [name for name in names if name.endswith(".so") or ".so." in name]
        assert compiled, "pydantic-core and wrapt ship compiled modules"
        for name in compiled:
            # PEP 3149 tag, and the ELF header's machine (183: AArch64) of the file itself.
            assert f"cpython-313-{runtime.LAMBDA_MACHINE}-linux-gnu" in name or ".abi3." in name, name
            header = archive.read(name)[:20]
            assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183, name
        installed = {
            package.normalized(name.split("-")[0]): name.removesuffix(".dist-info").split("-")[1]
            for name in {n.split("/")[0] for n in names}
            if name.endswith(".dist-info")
        }
    locked = {r.name: r.version for r in package.lambda_requirements()}
    assert installed == locked  # exactly the lock, nothing more or less
    assert not package.RUNTIME_PROVIDED & set(installed)  # boto3 & co. come from the Lambda runtime


def test_every_function_with_its_layers_stays_well_under_lambdas_size_limit(synth: Synth):
    import zipfile

    from infra import package, runtime

    with zipfile.ZipFile(_deployment_package(synth)) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    for function in FUNCTIONS:
        layers = len(synth.resources[function]["Properties"].get("Layers", []))
        assert layers <= (1 if function == permissions.NIGHTLY_EXPORT else 0)
        total = unzipped + layers * runtime.PANDAS_LAYER_UNZIPPED_BYTES
        # "Well under": 80% of the limit leaves room for a larger layer release.
        assert total < 0.8 * runtime.LAMBDA_UNZIPPED_LIMIT_BYTES, (function, total)
    # Left out: files no function reads (the Swagger UI of Powertools' own API resolver, which the app,
    # routed by Chalice, never builds).
    names = set(zipfile.ZipFile(_deployment_package(synth)).namelist())
    assert package.UNUSED_DEPENDENCY_FILES and not names & set(package.UNUSED_DEPENDENCY_FILES)
    assert {name.rsplit("/", 1)[0] + "/html.py" for name in package.UNUSED_DEPENDENCY_FILES} <= names
    app_sources = [path.read_text() for path in (ROOT / "chalicelib").rglob("*.py")]
    assert not [text for text in app_sources if "event_handler" in text]
    # boto3/botocore (21 MiB) stay out: the runtime has them. In: the bytecode for the runtime
    # (infra/package.py, 1.7 MiB) and PyStemmer's C stemmers (2.8 MiB), both for the cold start.
    assert unzipped < 34 * 1024**2


def test_the_package_holds_unchecked_bytecode_for_the_runtime_or_the_synth_says_it_has_none(synth: Synth):
    import zipfile

    from infra import package

    with zipfile.ZipFile(_deployment_package(synth)) as archive:
        names = archive.namelist()
        compiled = [name for name in names if name.endswith(".pyc")]
        warned = package.NO_BYTECODE_WARNING in json.dumps(synth.metadata)
        if package.lambda_interpreter() is None:
            assert compiled == [] and warned  # sources only, as the warning says
            return
        assert not warned
        sources = [name for name in names if name.endswith(".py")]
        expected = {
            f"{name.rsplit('/', 1)[0] + '/' if '/' in name else ''}__pycache__/"
            f"{name.rsplit('/', 1)[-1][:-3]}.cpython-313.pyc"
            for name in sources
        }
        assert set(compiled) == expected  # one per source, none for another version
        assert {"__pycache__/app.cpython-313.pyc", "chalice/__pycache__/app.cpython-313.pyc"} <= set(compiled)
        for name in compiled:
            # PEP 552 flags 0b01: hash-based, unchecked: Lambda uses it whatever the zip's mtimes.
            assert int.from_bytes(archive.read(name)[4:8], "little") == 0b01, name


def test_the_event_handlers_app_py_serves_without_routes_are_the_event_functions(synth: Synth):
    # app.py registers no route where Lambda's _HANDLER names one of these (the function's Handler property).
    from app import EVENT_HANDLERS

    handlers = {function: synth.resources[function]["Properties"]["Handler"] for function in FUNCTIONS}
    event_functions = (
        permissions.ANALYZE,
        permissions.NIGHTLY_EXPORT,
        permissions.FAN_OUT_WEBHOOKS,
        permissions.DELIVER_WEBHOOKS,
        permissions.RECEIVE_EMAIL,
        permissions.ON_DEPLOY,
        permissions.PULL_REVIEWS,
        permissions.EVALUATE_ALERTS,
        permissions.SYNC_CRM,
    )
    assert {handlers[function] for function in event_functions} == EVENT_HANDLERS
    assert handlers[permissions.API_HANDLER] == "app.app"
    assert handlers[permissions.BEARER] not in EVENT_HANDLERS
