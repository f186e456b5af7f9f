"""Settings read from the environment.

Lambda functions get these from `.chalice/config.json` (and the CDK stack in `infra/`); the local stack and
the tests set them before importing the app. Nothing here is a secret: secrets live in SSM Parameter Store.
"""

# No `from __future__ import annotations`: a NamedTuple compiles each string annotation as a ForwardRef when
# the class is defined (about 0.15 ms for Settings' 17 fields, in every function's cold start).
import os
from enum import StrEnum
from functools import cache
from typing import NamedTuple


class AnalyzerBackend(StrEnum):
    COMPREHEND = "comprehend"
    LEXICON = "lexicon"
    BEDROCK = "bedrock"


class ThemeTaggerBackend(StrEnum):
    NONE = "none"
    KEYWORDS = "keywords"
    BEDROCK = "bedrock"


# The cheapest Amazon Nova text model; Nova models support prompt caching on Bedrock.
DEFAULT_BEDROCK_MODEL_ID = "amazon.nova-micro-v1:0"


# A NamedTuple, not a frozen dataclass: immutable all the same, and about a millisecond less of every
# function's cold start (a dataclass with slots is built twice, its methods compiled from source at import).
class Settings(NamedTuple):
    stage: str
    table_name: str
    queue_url: str
    bucket_name: str
    # The export function an erasure invokes to rewrite export days (set on the API function by the stack).
    export_function_name: str
    analyzer: AnalyzerBackend
    theme_tagger: ThemeTaggerBackend
    bedrock_model_id: str
    parameter_prefix: str
    # Shards of the per-day index's old layout (`DAY#<day>#<n>`): what a table written before the channel
    # partitions holds, read until re-keyed (README, upgrading).
    day_shards: int
    config_cache_seconds: int
    max_form_body_bytes: int
    # Days a stored feedback item is kept before DynamoDB's TTL deletes it (0: kept forever, the default).
    retention_days: int = 0
    # A day with at least this many items (by its counters) is exported by one invocation per slice of the
    # day, then combined (export/fanout.py); 0 never fans out.
    export_fanout_items: int = 250_000
    # Alerts (chalicelib/alerts/): the SNS topic fired alerts are e-mailed through ("" for none), and the
    # dashboard's address their messages link to ("" for no link).
    alerts_topic_arn: str = ""
    dashboard_url: str = ""
    # Shards of each (day, channel) partition of the per-day index (store/feedback.py, "Per-day index
    # layout"); may be raised, never lowered (items in the shards dropped would no longer be read).
    channel_shards: int = 1

    @classmethod
    def from_environment(cls) -> "Settings":
        """Read the settings; every name has a default that matches the local stack."""
        stage = os.environ.get("STAGE", "local")
        return cls(
            stage=stage,
            table_name=os.environ.get("TABLE_NAME", f"feedback-{stage}"),
            queue_url=os.environ.get("INGEST_QUEUE_URL", ""),
            bucket_name=os.environ.get("EXPORT_BUCKET", f"feedback-exports-{stage}"),
            export_function_name=os.environ.get("EXPORT_FUNCTION_NAME", ""),
            analyzer=AnalyzerBackend(os.environ.get("ANALYZER", AnalyzerBackend.COMPREHEND)),
            theme_tagger=ThemeTaggerBackend(os.environ.get("THEME_TAGGER", ThemeTaggerBackend.NONE)),
            bedrock_model_id=os.environ.get("BEDROCK_MODEL_ID", "") or DEFAULT_BEDROCK_MODEL_ID,
            parameter_prefix=os.environ.get("PARAMETER_PREFIX", f"/feedback/{stage}"),
            day_shards=int(os.environ.get("DAY_SHARDS", "8")),
            config_cache_seconds=int(os.environ.get("CONFIG_CACHE_SECONDS", "60")),
            max_form_body_bytes=int(os.environ.get("MAX_FORM_BODY_BYTES", str(64 * 1024))),
            retention_days=max(0, int(os.environ.get("RETENTION_DAYS", "0") or "0")),
            export_fanout_items=max(0, int(os.environ.get("EXPORT_FANOUT_ITEMS", "250000") or "0")),
            alerts_topic_arn=os.environ.get("ALERTS_TOPIC_ARN", ""),
            dashboard_url=os.environ.get("DASHBOARD_URL", ""),
            channel_shards=max(1, int(os.environ.get("CHANNEL_SHARDS", "1") or "1")),
        )


@cache
def settings() -> Settings:
    """The process-wide settings, read once (tests call `settings.cache_clear()` after changing the env)."""
    return Settings.from_environment()
