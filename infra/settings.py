"""What can differ between deployments of the stack, read from CDK context (`-c key=value`) and checked
before anything is built: a bad value fails the synth here rather than a deploy later.

The stage's own settings (timeouts, the API stage name) come from .chalice/config.json, the same file
`chalice package` reads, so the stack and the packaged app cannot disagree about them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from chalicelib.config import DEFAULT_BEDROCK_MODEL_ID, AnalyzerBackend, ThemeTaggerBackend
from infra import regions

REPO_ROOT = Path(__file__).resolve().parent.parent
CHALICE_CONFIG = REPO_ROOT / ".chalice" / "config.json"

APP_NAME = "feedback-collector"
DEFAULT_WAF_RATE_LIMIT = 300  # form submissions per client IP per 5 minutes
DEFAULT_REGION = "us-east-1"  # an offline synth without credentials or context
DEFAULT_MONTHLY_BUDGET_USD = 100
DEFAULT_MAX_ITEMS_PER_HOUR = 10_000
# A failed nightly export must be re-runnable before the items of its day can expire (the ExportNotRun alarm
# fires the next morning): a week leaves room for a weekend.
MIN_RETENTION_DAYS = 7
# A day with at least this many items is exported by one invocation per slice (chalicelib/export/fanout.py);
# below a thousand items a fan-out's extra invocations and copies cost more than they save.
DEFAULT_EXPORT_FANOUT_ITEMS = 250_000
MIN_EXPORT_FANOUT_ITEMS = 1_000
# The log retentions the stack offers (infra/stack.py maps each to CloudWatch's RetentionDays).
LOG_RETENTION_DAYS = (7, 14, 30, 90, 180, 365)
Backend = TypeVar("Backend", AnalyzerBackend, ThemeTaggerBackend)
DEFAULT_ANALYZER = AnalyzerBackend.COMPREHEND
# Free and deterministic; it tags nothing until a taxonomy is imported (`cli themes import`).
DEFAULT_THEME_TAGGER = ThemeTaggerBackend.KEYWORDS
# A Bedrock model id (`amazon.nova-micro-v1:0`) or a cross-Region inference profile id (`eu.amazon.…`): no
# ARN, no wildcard, so the IAM statement names exactly what is called.
MODEL_ID_PATTERN = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9_-]+)+(:[A-Za-z0-9-]+)*")


def _flag(name: str, value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


def environment_region() -> str:
    """The region deployed to when the context names none: the CDK CLI's, the environment's, else the
    profile's."""
    for name in ("CDK_DEFAULT_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(name):
            return os.environ[name]
    # `make synth` runs without the CDK CLI, which would pass the region of AWS_PROFILE's configuration: read
    # it the same way, so the offline template is the one `make deploy` deploys.
    import boto3

    return boto3.session.Session().region_name or DEFAULT_REGION


def _logs_role_choice(value: Any) -> bool:
    choice = str(value or "create").strip().lower()
    if choice not in {"create", "existing"}:
        raise ValueError(f"api_gateway_logs_role must be create or existing, got {value!r}")
    return choice == "create"


def _choice(name: str, value: Any, backends: type[Backend], default: Backend) -> Backend:
    text = str(value or default).strip().lower()
    allowed = [backend.value for backend in backends]
    if text not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return backends(text)


def _model_id(value: Any) -> str:
    model_id = str(value or DEFAULT_BEDROCK_MODEL_ID).strip()
    if not MODEL_ID_PATTERN.fullmatch(model_id):
        raise ValueError(
            f"bedrock_model_id must be a Bedrock model id (amazon.nova-micro-v1:0) or a cross-Region "
            f"inference profile id (eu.amazon.nova-micro-v1:0), got {value!r}"
        )
    return model_id


def _whole_number(value: Any, default: int) -> int | None:
    """A non-negative whole number from context (`default` when unset), or None when it is not one."""
    text = str(value if value is not None else default).strip() or str(default)
    return int(text) if re.fullmatch(r"[0-9]+", text) else None


def _number(name: str, value: Any, default: int, minimum: int = 0, why: str = "") -> int:
    """A whole-number setting (`default` when unset), refused naming the setting rather than with int()'s
    `invalid literal` (or a silently different number); `why` says what the minimum is for."""
    number = _whole_number(value, default)
    if number is None or number < minimum:
        least = f" of at least {minimum}{why}" if minimum else ""
        raise ValueError(f"{name} must be a whole number{least}, got {value!r}")
    return number


def _log_retention_days(value: Any, default: int) -> int:
    """Days CloudWatch keeps the functions' and the API's logs: one of LOG_RETENTION_DAYS."""
    days = _whole_number(value, default)
    if days not in LOG_RETENTION_DAYS:
        raise ValueError(
            f"log_retention_days must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}, got {value!r}"
        )
    return days


def _days_kept(value: Any, name: str, kept: str, keeps: str, why: str) -> int:
    """Whole days, 0 meaning kept forever, else at least MIN_RETENTION_DAYS (`why` says why if not)."""
    days = _whole_number(value, 0)
    if days is None:
        raise ValueError(f"{name} must be a whole number of days (0 {keeps}), got {value!r}")
    if 0 < days < MIN_RETENTION_DAYS:
        raise ValueError(f"{name} must be 0 ({kept}) or at least {MIN_RETENTION_DAYS}, so {why}; got {days}")
    return days


def _retention_days(value: Any) -> int:
    """Whole days before a stored item may expire; 0 (the default) keeps items forever."""
    return _days_kept(
        value,
        "retention_days",
        "keep forever",
        "keeps items forever",
        "a failed nightly export can be re-run before its day's items expire",
    )


def _export_retention_days(value: Any) -> int:
    """Whole days the nightly export files are kept; 0 (the default) keeps them, as the archive."""
    return _days_kept(
        value,
        "export_retention_days",
        "keep the exports",
        "keeps the exports",
        "a BI tool that missed a weekend can still fetch a day's files",
    )


def _export_fanout_items(value: Any) -> int:
    """Items from which a day's export is fanned out over slice invocations; 0 never fans out."""
    items = _whole_number(value, DEFAULT_EXPORT_FANOUT_ITEMS)
    if items is None or 0 < items < MIN_EXPORT_FANOUT_ITEMS:
        raise ValueError(
            f"export_fanout_items must be 0 (never fan out) or a whole number of items of at least "
            f"{MIN_EXPORT_FANOUT_ITEMS}, got {value!r}"
        )
    return items


# An address (`feedback@example.com`), a domain (`example.com`) or all its subdomains (`.example.com`), as a
# receipt rule's Recipients take them.
_RECIPIENT = re.compile(r"([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@)?\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def _email_recipients(value: Any) -> tuple[str, ...]:
    recipients = tuple(entry.strip().lower() for entry in str(value or "").split(",") if entry.strip())
    for recipient in recipients:
        if not _RECIPIENT.fullmatch(recipient):
            raise ValueError(f"email_recipients: {recipient!r} is no address or domain (a@example.com)")
    if len(recipients) > 100:
        raise ValueError("email_recipients: a receipt rule takes at most 100 recipients")
    return recipients


def chalice_config() -> dict[str, Any]:
    return json.loads(CHALICE_CONFIG.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class StageSettings:
    """What can differ between deployments, from CDK context (`-c key=value`):

    stage                    a stage of .chalice/config.json (dev, prod); default dev
    waf                      attach the web ACL; default true in prod, false elsewhere
    waf_rate_limit           form submissions per IP per 5 minutes before 429; default 300 (min 10)
    alarm_email              subscribe this address to the alarm topic (confirm the e-mail AWS sends)
    retain_data              keep table and export bucket when the stack is deleted; default true in prod
    log_retention_days       Lambda log retention; default 90 in prod, 14 elsewhere
    analyze_max_concurrency  concurrent analyze invocations (SQS ScalingConfig), keeps Comprehend calls
                             under its default throughput quota; default 5 (min 2)
    pandas_layer_arn         the AWS SDK for pandas layer for nightly_export; default: the ARN its
                             publishers keep in an SSM public parameter of the deploy region
                             (infra/runtime.py), resolved by CloudFormation at deploy time
    region                   the region deployed to; default CDK_DEFAULT_REGION (the CDK CLI sets it
                             from your credentials), AWS_REGION or AWS_DEFAULT_REGION
    comprehend_region        where Amazon Comprehend is called when the deploy region has none (e.g.
                             eu-central-1 for eu-south-1); without it the synth refuses such a region
    monthly_budget_usd       an AWS Budget over the services the stack uses, alerting the alarm topic
                             at 80% of actual and 100% of forecast spend; default 100, 0 turns it off
    max_items_per_hour       alarm when more items than this are stored in an hour (spam, a runaway
                             sender; `cli analysis pause` stops the bill, nothing is lost); default 10000
    api_gateway_logs_role    API Gateway writes access logs with one account-wide role per region:
                             `create` (default) sets it up; `existing` when the account already has one
                             (its API Gateway settings show a CloudWatch log role ARN)
    analyzer                 language and sentiment: comprehend (default), lexicon or bedrock
    theme_tagger             themes against the team's taxonomy: keywords (default), bedrock or none
    bedrock_model_id         the Converse model of the Bedrock backends: a model id or a cross-Region
                             inference profile id (us., eu., apac., ca., jp., au., global.); default
                             amazon.nova-micro-v1:0
    bedrock_region           where Bedrock is called when the deploy region has none; without it the
                             synth refuses such a region when analyzer or theme_tagger is bedrock
    retention_days           days a stored feedback item is kept before DynamoDB's TTL may delete it
                             (RETENTION_DAYS on every function); default 0, kept forever; else at least 7
    export_retention_days    days the nightly export files (exports/ in the export bucket) are kept
                             before a lifecycle rule expires them; default 0, kept (the archive); else
                             at least 7
    export_fanout_items      a day with at least this many items is exported by one invocation per slice,
                             then combined (EXPORT_FANOUT_ITEMS on the export function); default 250000,
                             0 never fans out; else at least 1000
    email_recipients         receive feedback by e-mail: the addresses and domains (comma-separated,
                             `feedback@example.com,mail.example.com`) SES's receipt rule accepts; unset,
                             no rule set is created. Which recipients are feedback is then each `email`
                             source's `recipients` setting (README, E-mail)
    email_region_checked     true when the deploy region receives mail although infra/regions.py does not
                             list it yet (the AWS General Reference names an inbound-smtp endpoint)
    """

    stage: str = "dev"
    waf: bool = False
    waf_rate_limit: int = DEFAULT_WAF_RATE_LIMIT
    alarm_email: str | None = None
    retain_data: bool = False
    log_retention_days: int = 14
    analyze_max_concurrency: int = 5
    pandas_layer_arn: str | None = None
    region: str = DEFAULT_REGION
    comprehend_region: str | None = None
    monthly_budget_usd: int = DEFAULT_MONTHLY_BUDGET_USD
    max_items_per_hour: int = DEFAULT_MAX_ITEMS_PER_HOUR
    create_api_gateway_logs_role: bool = True
    analyzer: AnalyzerBackend = DEFAULT_ANALYZER
    theme_tagger: ThemeTaggerBackend = DEFAULT_THEME_TAGGER
    bedrock_model_id: str = DEFAULT_BEDROCK_MODEL_ID
    bedrock_region: str | None = None
    retention_days: int = 0
    export_retention_days: int = 0
    export_fanout_items: int = DEFAULT_EXPORT_FANOUT_ITEMS
    email_recipients: tuple[str, ...] = ()

    @classmethod
    def from_context(cls, get: Any) -> StageSettings:
        """Settings from a context getter (`node.try_get_context` or `dict.get`)."""
        stage = str(get("stage") or "dev")
        stages = chalice_config().get("stages", {})
        if stage not in stages:
            raise ValueError(f"unknown stage {stage!r}: .chalice/config.json has {', '.join(sorted(stages))}")
        prod = stage == "prod"
        settings = cls(
            stage=stage,
            waf=_flag("waf", get("waf"), default=prod),
            waf_rate_limit=_number(
                "waf_rate_limit", get("waf_rate_limit"), DEFAULT_WAF_RATE_LIMIT, 10, " (the WAF minimum)"
            ),
            alarm_email=get("alarm_email") or None,
            retain_data=_flag("retain_data", get("retain_data"), default=prod),
            log_retention_days=_log_retention_days(get("log_retention_days"), 90 if prod else 14),
            analyze_max_concurrency=_number(
                "analyze_max_concurrency",
                get("analyze_max_concurrency"),
                5,
                2,
                " (the SQS event source minimum)",
            ),
            pandas_layer_arn=get("pandas_layer_arn") or None,
            region=str(get("region") or environment_region()),
            comprehend_region=get("comprehend_region") or None,
            monthly_budget_usd=_number(
                "monthly_budget_usd", get("monthly_budget_usd"), DEFAULT_MONTHLY_BUDGET_USD
            ),
            max_items_per_hour=_number(
                "max_items_per_hour", get("max_items_per_hour"), DEFAULT_MAX_ITEMS_PER_HOUR, 1
            ),
            create_api_gateway_logs_role=_logs_role_choice(get("api_gateway_logs_role")),
            analyzer=_choice("analyzer", get("analyzer"), AnalyzerBackend, DEFAULT_ANALYZER),
            theme_tagger=_choice(
                "theme_tagger", get("theme_tagger"), ThemeTaggerBackend, DEFAULT_THEME_TAGGER
            ),
            bedrock_model_id=_model_id(get("bedrock_model_id")),
            bedrock_region=get("bedrock_region") or None,
            retention_days=_retention_days(get("retention_days")),
            export_retention_days=_export_retention_days(get("export_retention_days")),
            export_fanout_items=_export_fanout_items(get("export_fanout_items")),
            email_recipients=_email_recipients(get("email_recipients")),
        )
        if settings.email_recipients:
            regions.check_email_receiving(
                settings.region, _flag("email_region_checked", get("email_region_checked"), default=False)
            )
        regions.check_comprehend(settings.region, settings.comprehend_region)
        if settings.uses_bedrock or settings.bedrock_region:
            regions.check_bedrock(settings.region, settings.bedrock_region, settings.bedrock_model_id)
        regions.check_pandas_layer(settings.region, settings.pandas_layer_arn)
        regions.check_budget(settings.region, settings.monthly_budget_usd)
        return settings

    @property
    def uses_bedrock(self) -> bool:
        """Whether the analyze function calls Bedrock (and so needs its IAM grant)."""
        return self.analyzer is AnalyzerBackend.BEDROCK or self.theme_tagger is ThemeTaggerBackend.BEDROCK

    @property
    def bedrock_source_region(self) -> str:
        """The region the Bedrock client calls: bedrock_region, else the deploy region."""
        return self.bedrock_region or self.region

    @property
    def stack_name(self) -> str:
        return f"{APP_NAME}-{self.stage}"

    @property
    def queue_name(self) -> str:
        return f"feedback-ingest-{self.stage}"

    @property
    def parameter_prefix(self) -> str:
        return f"/feedback/{self.stage}"

    @property
    def chalice_stage(self) -> dict[str, Any]:
        return chalice_config()["stages"][self.stage]

    @property
    def api_stage(self) -> str:
        """The REST API's stage name (the first path segment of every URL on the execute-api host)."""
        return str(self.chalice_stage.get("api_gateway_stage", "api"))

    def function_timeout(self, function: str) -> int:
        stage = self.chalice_stage
        own = stage.get("lambda_functions", {}).get(function, {})
        return int(own.get("lambda_timeout", stage.get("lambda_timeout", 60)))
