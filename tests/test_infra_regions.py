"""The stack deploys in any region a customer picks: nothing is pinned to us-east-1, each setting reaches its
functions wherever the stack goes, and a region without Comprehend is refused unless the deployer names where
Comprehend is called.

A synth takes a while, so one region of each family is synthesized: us-east-1 (the session's synth, which
the other tests/test_infra*.py suites share), eu-south-1 (Milan, which has no Comprehend and calls
Frankfurt's, with every region-wide setting changed from its default) and ap-southeast-2 (Sydney), those two
in one subprocess. What lets three synths stand for every region is checked too
(`test_a_template_differs_between_regions_only_in_its_region_and_its_settings`): with the region's name, the
settings and the code asset's hash (a new zip each synth) taken out, the three templates are the same.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.store import schema
from infra import permissions, regions, runtime
from infra.settings import StageSettings
from tests.infra_synth import Synth, run_synth_script

# region → extra context. eu-south-1 (Milan) has no Comprehend: it calls the one in Frankfurt; it also keeps
# items 400 days (a retention set) and fans out days from 50,000 items; CloudFormation has no AWS Budgets
# there, so its budget is off. The session's synth is us-east-1's.
SYNTHESIZED: dict[str, dict[str, str]] = {
    "eu-south-1": {
        "comprehend_region": "eu-central-1",
        "retention_days": "400",
        "export_fanout_items": "50000",
        "monthly_budget_usd": "0",
    },
    "ap-southeast-2": {},
}
REGIONS: dict[str, dict[str, str]] = {"us-east-1": {}, **SYNTHESIZED}
# Any region's name (us-east-1, eu-south-1, us-gov-west-1 …): a template names its own region only, and
# the one it calls Comprehend in.
REGION_NAME = re.compile(r"\b(?:af|ap|ca|cn|eu|il|me|mx|sa|us)(?:-[a-z]+)+-[0-9]\b")
# What a region's context sets (the tests below check each), left out when templates are compared.
SETTING_VARIABLES = {"RETENTION_DAYS", "EXPORT_FANOUT_ITEMS", "COMPREHEND_REGION"}
SETTING_OUTPUTS = {"RetentionDays", "ComprehendRegion"}
SETTING_RESOURCE_TYPES = {regions.BUDGET_TYPE}  # monthly_budget_usd=0 leaves it out
BUDGETS_PRINCIPAL = "budgets.amazonaws.com"
ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")

SYNTH_ALL = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from infra.app import build

    outdir, regions = Path(sys.argv[1]), json.loads(sys.argv[2])
    for region, extra in regions.items():
        stack = build({"stage": "prod", "region": region, **extra}, outdir=str(outdir / region))
        stack.node.root.synth()
        print(region, "ok", file=sys.stderr)
    """
)


@pytest.fixture(scope="module")
def templates(synth: Synth, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    assert synth.template["Outputs"]["Region"]["Value"] == "us-east-1", "the session synth is us-east-1's"
    outdir = tmp_path_factory.mktemp("regions")
    run_synth_script(SYNTH_ALL, str(outdir), json.dumps(SYNTHESIZED))
    synthesized = {
        region: json.loads((outdir / region / "prod.template.json").read_text()) for region in SYNTHESIZED
    }
    return {"us-east-1": synth.template, **synthesized}


def _function_variables(template: dict[str, Any], function: str) -> dict[str, Any]:
    return template["Resources"][function]["Properties"]["Environment"]["Variables"]


def _region_neutral(template: dict[str, Any], region: str) -> dict[str, Any]:
    """The template with its region's name, its settings and its code asset's hash taken out."""
    neutral = json.loads(ASSET_HASH.sub("<asset hash>", json.dumps(template).replace(region, "<region>")))
    for resource in neutral["Resources"].values():
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        for name in SETTING_VARIABLES & set(variables):
            del variables[name]
    for name in SETTING_OUTPUTS:
        del neutral["Outputs"][name]
    neutral["Resources"] = {
        name: resource
        for name, resource in neutral["Resources"].items()
        if resource["Type"] not in SETTING_RESOURCE_TYPES
    }
    for resource in neutral["Resources"].values():  # and the budget's right to publish to the alarm topic
        if resource["Type"] == "AWS::SNS::TopicPolicy":
            statements = resource["Properties"]["PolicyDocument"]["Statement"]
            statements[:] = [s for s in statements if s.get("Principal") != {"Service": BUDGETS_PRINCIPAL}]
    return neutral


@pytest.mark.parametrize("region", sorted(REGIONS))
def test_each_region_synthesizes_with_nothing_pinned_elsewhere(templates: dict[str, Any], region: str):
    template = templates[region]
    text = json.dumps(template)
    assert template["Outputs"]["Region"]["Value"] == region
    named = set(REGION_NAME.findall(text))
    assert region in named
    assert named <= {region, REGIONS[region].get("comprehend_region")}, f"the {region} template names {named}"
    # The layer is the region's own: CloudFormation reads its ARN from the SSM public parameter on deploy.
    layers = template["Resources"]["NightlyExport"]["Properties"]["Layers"]
    assert len(layers) == 1 and "Ref" in layers[0], layers
    parameter = template["Parameters"][layers[0]["Ref"]]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameter["Default"] == runtime.pandas_layer_parameter()
    assert "arn:aws:lambda" not in text  # no layer ARN of any region written into the template


@pytest.mark.parametrize("region", sorted(REGIONS))
def test_cloudformation_offers_every_resource_type_of_the_template_in_its_region(
    templates: dict[str, Any], region: str
):
    """A type CloudFormation lacks in the region fails the deploy (`Unrecognized resource types`), not the
    synth: AWS::Budgets::Budget in eu-south-1, eu-central-2, me-central-1 … (cfn-lint's copy of each
    region's CloudFormation registry). The SAM transform's types become Lambda and API Gateway ones."""
    used = {resource["Type"] for resource in templates[region]["Resources"].values()}
    ours = {kind for kind in used if not kind.startswith(("Custom::", "AWS::Serverless::"))}
    assert ours - regions.cloudformation_types(region) == set(), region
    budgets = REGIONS[region].get("monthly_budget_usd") != "0"
    assert (regions.BUDGET_TYPE in used) is budgets, region


def test_a_template_differs_between_regions_only_in_its_region_and_its_settings(templates: dict[str, Any]):
    # What lets one synth per region family stand for the rest: a region is its name and its settings.
    expected = _region_neutral(templates["us-east-1"], "us-east-1")
    assert "<asset hash>" in json.dumps(expected) and "<region>" in json.dumps(expected)
    for region in SYNTHESIZED:
        neutral = _region_neutral(templates[region], region)
        differing = sorted(
            key
            for key in {*expected["Resources"], *neutral["Resources"]}
            if expected["Resources"].get(key) != neutral["Resources"].get(key)
        )
        assert not differing, f"{region} differs from us-east-1 in {differing[:10]}"
        assert neutral == expected, region


def test_a_retention_reaches_every_function_and_the_cli_and_the_table_expires_on_its_attribute(
    templates: dict[str, Any],
):
    for region, template in templates.items():
        expected = REGIONS[region].get("retention_days", "0")
        # Every function the app packages (the authorizer too): none may disagree about the retention.
        functions = {
            name: resource
            for name, resource in template["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function"
        }
        assert set(permissions.FUNCTIONS) <= set(functions)
        for function in functions:
            assert _function_variables(template, function)["RETENTION_DAYS"] == expected, (region, function)
        assert template["Outputs"]["RetentionDays"]["Value"] == expected
        (table,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
        ttl = {"AttributeName": schema.TTL_ATTRIBUTE, "Enabled": True}
        assert table["Properties"]["TimeToLiveSpecification"] == ttl


def test_the_fanout_threshold_reaches_the_export_function_only(templates: dict[str, Any]):
    for region, template in templates.items():
        expected = REGIONS[region].get("export_fanout_items", "250000")
        assert _function_variables(template, permissions.NIGHTLY_EXPORT)["EXPORT_FANOUT_ITEMS"] == expected
        for function in set(permissions.FUNCTIONS) - {permissions.NIGHTLY_EXPORT}:
            assert "EXPORT_FANOUT_ITEMS" not in _function_variables(template, function), (region, function)


def test_comprehend_is_called_where_it_is_offered(templates: dict[str, Any]):
    for region, template in templates.items():
        variables = _function_variables(template, "Analyze")
        expected = REGIONS[region].get("comprehend_region")
        assert variables.get("COMPREHEND_REGION") == expected, region


def test_a_region_without_comprehend_is_refused_with_the_way_out():
    milan = {"stage": "prod", "region": "eu-south-1", "monthly_budget_usd": "0"}  # no AWS Budgets there
    assert "eu-south-1" not in regions.comprehend_regions()
    assert {"eu-west-1", "eu-central-1", "us-east-1"} <= regions.comprehend_regions()
    with pytest.raises(regions.RegionRefused) as refused:
        StageSettings.from_context(milan.get)
    message = str(refused.value)
    assert "eu-south-1" in message and "comprehend_region" in message and "eu-central-1" in message
    with pytest.raises(regions.RegionRefused):
        StageSettings.from_context({**milan, "comprehend_region": "eu-south-1"}.get)
    settings = StageSettings.from_context({**milan, "comprehend_region": "eu-central-1"}.get)
    assert settings.comprehend_region == "eu-central-1"


def test_the_region_comes_from_context_or_the_cdk_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    for name in ("CDK_DEFAULT_REGION", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    assert StageSettings.from_context({"stage": "dev"}.get).region == "us-east-1"
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    assert StageSettings.from_context({"stage": "dev"}.get).region == "eu-west-1"
    assert StageSettings.from_context({"stage": "dev", "region": "eu-central-1"}.get).region == "eu-central-1"
    # `make synth` with only a profile (its region in ~/.aws/config), as the CDK CLI reads it on deploy.
    monkeypatch.delenv("CDK_DEFAULT_REGION")
    config = tmp_path / "config"
    config.write_text("[profile team]\nregion = eu-west-2\n", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "team")
    assert StageSettings.from_context({"stage": "dev"}.get).region == "eu-west-2"


def test_a_region_without_bedrock_is_refused_only_when_bedrock_is_used():
    assert "ap-east-1" not in regions.bedrock_regions()  # Hong Kong: neither Bedrock nor Comprehend
    assert {"us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-1"} <= regions.bedrock_regions()
    hong_kong = {
        "stage": "prod",
        "region": "ap-east-1",
        "comprehend_region": "ap-southeast-1",
        "monthly_budget_usd": "0",  # CloudFormation has no AWS Budgets there
    }
    assert StageSettings.from_context(hong_kong.get).bedrock_region is None  # keywords and Comprehend
    for backend in ({"analyzer": "bedrock"}, {"theme_tagger": "bedrock"}):
        with pytest.raises(regions.RegionRefused) as refused:
            StageSettings.from_context({**hong_kong, **backend}.get)
        assert "ap-east-1" in str(refused.value) and "bedrock_region" in str(refused.value)
    chosen = StageSettings.from_context(
        {**hong_kong, "analyzer": "bedrock", "bedrock_region": "ap-southeast-1"}.get
    )
    assert chosen.bedrock_source_region == "ap-southeast-1"
    # A geographic profile is called from its geography: the APAC one from Singapore, not the EU one.
    StageSettings.from_context(
        {
            **hong_kong,
            "theme_tagger": "bedrock",
            "bedrock_region": "ap-southeast-1",
            "bedrock_model_id": "apac.amazon.nova-micro-v1:0",
        }.get
    )
    with pytest.raises(regions.RegionRefused, match="'eu' geography, which ap-southeast-1 cannot call"):
        StageSettings.from_context(
            {
                **hong_kong,
                "theme_tagger": "bedrock",
                "bedrock_region": "ap-southeast-1",
                "bedrock_model_id": "eu.amazon.nova-micro-v1:0",
            }.get
        )


def test_bedrock_is_called_in_its_own_region_and_the_rest_in_the_stage_region(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-east-1")
    monkeypatch.setenv("BEDROCK_REGION", "ap-southeast-1")
    monkeypatch.delenv("COMPREHEND_REGION", raising=False)
    aws.reset_clients()
    try:
        assert aws.client("bedrock-runtime").meta.region_name == "ap-southeast-1"
        assert aws.client("comprehend").meta.region_name == "ap-east-1"
        monkeypatch.delenv("BEDROCK_REGION")
        aws.reset_clients()
        assert aws.client("bedrock-runtime").meta.region_name == "ap-east-1"
    finally:
        aws.reset_clients()


# The newer opt-in regions a deployer may pick, with a region where Comprehend is offered.
OPT_IN_REGIONS = {
    "ap-east-1": "ap-southeast-1",
    "me-central-1": "eu-central-1",
    "il-central-1": "eu-central-1",
    "eu-central-2": "eu-central-1",
    "ap-southeast-5": "ap-southeast-1",
    "mx-central-1": "us-east-2",
}
LAYER_ARN = "arn:aws:lambda:mx-central-1:111122223333:layer:AWSSDKPandas-Python313-Arm64:1"


@pytest.mark.parametrize("region", sorted(OPT_IN_REGIONS))
def test_an_opt_in_region_is_refused_until_what_it_lacks_is_named(region: str):
    """What CloudFormation or the layer's publishers do not offer there is refused at synth with the way
    out, rather than failing the deploy: the budget (off, set up by hand) and the pandas layer (an ARN)."""
    context = {"stage": "prod", "region": region, "comprehend_region": OPT_IN_REGIONS[region]}
    lacks_layer = region not in runtime.PANDAS_LAYER_REGIONS
    assert lacks_layer is (region in {"ap-southeast-5", "mx-central-1"})
    if lacks_layer:
        with pytest.raises(regions.RegionRefused) as refused:
            StageSettings.from_context(context.get)
        assert region in str(refused.value) and "-c pandas_layer_arn=" in str(refused.value)
        context["pandas_layer_arn"] = LAYER_ARN
    with pytest.raises(regions.RegionRefused) as refused:
        StageSettings.from_context(context.get)
    assert "AWS::Budgets::Budget" in str(refused.value) and "-c monthly_budget_usd=0" in str(refused.value)
    settings = StageSettings.from_context({**context, "monthly_budget_usd": "0"}.get)
    assert (settings.region, settings.monthly_budget_usd) == (region, 0)


def test_a_refused_setting_is_one_error_line_without_a_traceback(capsys: pytest.CaptureFixture[str]):
    from infra import app

    assert (
        app.main(["-c", "stage=prod", "-c", "region=eu-central-2", "-c", "comprehend_region=eu-central-1"])
        == 2
    )
    err = capsys.readouterr().err
    assert "error: CloudFormation cannot create an AWS Budget" in err and "Traceback" not in err
    assert app.main(["-c", "stage=prod", "-c", "waf_rate_limit=abc"]) == 2
    assert "error: waf_rate_limit must be a whole number of at least 10" in capsys.readouterr().err
