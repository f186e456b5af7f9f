"""Where the product can run: Amazon Comprehend is offered in fewer regions than Lambda and API Gateway.

A deploy to a region without Comprehend would succeed and then send every item to the DLQ (the endpoint does
not exist). The synth refuses it instead, unless `comprehend_region` names a region where Comprehend is
called from the deploy region (the functions' COMPREHEND_REGION); the texts then leave the deploy region for
analysis, which the README's deploy section explains (data residency, the AI-services opt-out).

The list comes from botocore's endpoint data (the same as the AWS General Reference, "Amazon Comprehend
endpoints and quotas"), so it grows with boto3 rather than by hand.

Amazon Bedrock (analyzer or theme_tagger `bedrock`) is checked the same way, with `bedrock_region` (the
functions' BEDROCK_REGION) as the way out; a cross-Region inference profile id must be called from a region
of its geography.
"""

from __future__ import annotations

import functools

import boto3

from infra import runtime


@functools.cache
def comprehend_regions() -> frozenset[str]:
    """The commercial regions with a Comprehend endpoint (detect sentiment, language and PII)."""
    return frozenset(boto3.session.Session().get_available_regions("comprehend"))


class RegionRefused(ValueError):
    """The stack cannot run as configured in this region."""


def check_comprehend(region: str, comprehend_region: str | None) -> None:
    """Refuse a deploy region without Comprehend unless a Comprehend region is named (and offers it)."""
    offered = comprehend_regions()
    if comprehend_region is not None:
        if comprehend_region not in offered:
            raise RegionRefused(
                f"comprehend_region={comprehend_region} does not offer Amazon Comprehend; "
                f"choose one of {', '.join(sorted(offered))}."
            )
        return
    if region not in offered:
        nearest = ", ".join(sorted(r for r in offered if r.split("-")[0] == region.split("-", maxsplit=1)[0]))
        raise RegionRefused(
            f"Amazon Comprehend is not offered in {region}, so every feedback item would fail analysis. "
            f"Deploy to a region that offers it ({', '.join(sorted(offered))}), or keep {region} and call "
            f"Comprehend elsewhere with -c comprehend_region=<region>"
            + (f" (nearby: {nearest})" if nearest else "")
            + ": the texts are then analyzed outside "
            f"{region} (see README, Deploy: data residency)."
        )


@functools.cache
def bedrock_regions() -> frozenset[str]:
    """The commercial regions with Amazon Bedrock (botocore lists its runtime under the `bedrock` service)."""
    return frozenset(boto3.session.Session().get_available_regions("bedrock"))


# The geographies of Bedrock's cross-Region (system-defined) inference profiles: the id's prefix (`eu.` in
# `eu.amazon.nova-micro-v1:0`) → the regions it is called from and routes to. `global.` profiles route to
# every commercial region and are authorized against the region-less model ARN instead.
PROFILE_GEOGRAPHIES: dict[str, tuple[str, ...]] = {
    "us": ("us-",),
    "eu": ("eu-",),
    "apac": ("ap-",),
    "ca": ("ca-",),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
}
GLOBAL_PROFILE = "global"


def profile_geography(model_id: str) -> str | None:
    """The geography of a cross-Region inference profile id (`global` included); None for a model id."""
    prefix = model_id.split(".", maxsplit=1)[0]
    return prefix if prefix in PROFILE_GEOGRAPHIES or prefix == GLOBAL_PROFILE else None


def geography_regions(geography: str) -> list[str]:
    """The Bedrock regions of a geographic profile (its possible sources and destinations), sorted."""
    starts = PROFILE_GEOGRAPHIES[geography]
    return sorted(region for region in bedrock_regions() if region.startswith(starts))


def check_bedrock(region: str, bedrock_region: str | None, model_id: str) -> str:
    """The region Bedrock is called in; refuse one without Bedrock, or a profile of another geography."""
    offered = bedrock_regions()
    if bedrock_region is not None and bedrock_region not in offered:
        raise RegionRefused(
            f"bedrock_region={bedrock_region} does not offer Amazon Bedrock; "
            f"choose one of {', '.join(sorted(offered))}."
        )
    if bedrock_region is None and region not in offered:
        raise RegionRefused(
            f"Amazon Bedrock is not offered in {region}, so the Bedrock analyzer or theme tagger would fail "
            f"every item. Keep {region} and call Bedrock elsewhere with -c bedrock_region=<region> (one of "
            f"{', '.join(sorted(offered))}): the texts are then analyzed outside {region} (see README, "
            "Deploy: data residency), or choose analyzer and theme_tagger without Bedrock."
        )
    source = bedrock_region or region
    geography = profile_geography(model_id)
    if geography in PROFILE_GEOGRAPHIES and source not in geography_regions(geography):
        raise RegionRefused(
            f"bedrock_model_id={model_id} is a cross-Region inference profile of the {geography!r} "
            f"geography, which {source} cannot call; use one from {source}'s geography or the model id "
            f"without the {geography}. prefix."
        )
    return source


# Amazon SES receives mail in fewer regions than it sends from, and botocore's endpoint data does not tell the
# two apart. These are the regions with an `inbound-smtp.<region>.amazonaws.com` endpoint in the AWS General
# Reference ("Amazon SES endpoints and quotas", email receiving endpoints) when this list was written; AWS
# adds regions, so a deployer whose region is listed there now passes -c email_region_checked=true.
EMAIL_RECEIVING_REGIONS = frozenset({"us-east-1", "us-west-2", "eu-west-1"})


def check_email_receiving(region: str, checked: bool) -> None:
    """Refuse receipt rules in a region where SES does not receive mail (the rule set would never run)."""
    if checked or region in EMAIL_RECEIVING_REGIONS:
        return
    raise RegionRefused(
        f"Amazon SES does not receive mail in {region} as far as this stack knows (it does in "
        f"{', '.join(sorted(EMAIL_RECEIVING_REGIONS))}). Deploy the stack to one of those regions to receive "
        f"feedback by e-mail, leave email_recipients unset, or, if the AWS General Reference now lists an "
        f"inbound-smtp endpoint for {region}, add -c email_region_checked=true."
    )


def check_pandas_layer(region: str, layer_arn: str | None) -> None:
    """Refuse a region where the AWS SDK for pandas layer the export needs is not published (the deploy would
    fail reading its SSM parameter), unless `pandas_layer_arn` names one."""
    if layer_arn is not None or region in runtime.PANDAS_LAYER_REGIONS:
        return
    raise RegionRefused(
        f"The AWS SDK for pandas layer {runtime.PANDAS_LAYER_VERSION} (pyarrow for the nightly Parquet "
        f"export, {runtime.LAMBDA_RUNTIME} on {runtime.LAMBDA_ARCHITECTURE}) is not published in {region}, "
        f"so the deploy would fail reading {runtime.pandas_layer_parameter()}. Deploy to a region that has "
        f"it ({', '.join(sorted(runtime.PANDAS_LAYER_REGIONS))}), or publish the layer in {region} yourself "
        "(the aws-sdk-pandas docs, Install: Lambda layer, build your own) and pass its ARN: "
        "-c pandas_layer_arn=arn:aws:lambda:… (see README, Deploy to AWS)."
    )


# The CloudFormation resource type of the stack's monthly budget: AWS Budgets is a global service whose
# resource CloudFormation offers in fewer regions than the rest of the stack.
BUDGET_TYPE = "AWS::Budgets::Budget"


@functools.cache
def cloudformation_types(region: str) -> frozenset[str]:
    """The resource types CloudFormation offers in `region`: cfn-lint's copy of each region's CloudFormation
    registry (its provider schemas, refreshed with cfn-lint; a region it does not know reads as us-east-1)."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER  # imported here: only the synth checks

    return frozenset(PROVIDER_SCHEMA_MANAGER.get_resource_types(region))


def check_budget(region: str, monthly_budget_usd: int) -> None:
    """Refuse a budget CloudFormation cannot create in `region` (the deploy would fail with `Unrecognized
    resource types: [AWS::Budgets::Budget]`): the deployer turns it off and sets the budget up by hand."""
    if monthly_budget_usd <= 0 or BUDGET_TYPE in cloudformation_types(region):
        return
    raise RegionRefused(
        f"CloudFormation cannot create an AWS Budget ({BUDGET_TYPE}) in {region}, so the deploy would fail. "
        "Add -c monthly_budget_usd=0 and create the budget once in the Billing console (Budgets, a monthly "
        f"cost budget of ${monthly_budget_usd} alerting the stack's alarm topic at 80% actual and 100% "
        "forecast; see README, Cost and the kill switch)."
    )
