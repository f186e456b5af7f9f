"""Where the product can run: Amazon Comprehend is offered in fewer regions than Lambda and API Gateway.

A deploy to a region without Comprehend would succeed and then send every item to the DLQ (the endpoint does
not exist). The synth refuses it instead, unless `comprehend_region` names a region where Comprehend is
called from the deploy region (the functions' COMPREHEND_REGION); the texts then leave the deploy region for
analysis, which the README's deploy section explains (data residency, the AI-services opt-out).

The list comes from botocore's endpoint data (the same as the AWS General Reference, "Amazon Comprehend
endpoints and quotas"), so it grows with boto3 rather than by hand.
"""

from __future__ import annotations

import functools

import boto3


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
