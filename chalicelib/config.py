"""Settings read from the environment.

Lambda functions get these from `.chalice/config.json` (and the CDK stack in `infra/`); the local stack and
the tests set them before importing the app. Nothing here is a secret: secrets live in SSM Parameter Store.
"""

import os
from enum import StrEnum
from functools import cache
from typing import TypeVar


class AnalyzerBackend(StrEnum):
    COMPREHEND = "comprehend"
    LEXICON = "lexicon"
    BEDROCK = "bedrock"


class ThemeTaggerBackend(StrEnum):
    NONE = "none"
    KEYWORDS = "keywords"
    BEDROCK = "bedrock"


Backend = TypeVar("Backend", bound=StrEnum)


def _choice(backend: type[Backend], variable: str, default: Backend) -> Backend:
    """A variable naming one of a backend's values; a typo says which values there are."""
    value = os.environ.get(variable, default)
    try:
        return backend(value)
    except ValueError:
        known = ", ".join(member.value for member in backend)
        raise ValueError(f"{variable}={value!r} is not one of: {known}") from None


# The cheapest Amazon Nova text model; Nova models support prompt caching on Bedrock.
DEFAULT_BEDROCK_MODEL_ID = "amazon.nova-micro-v1:0"


# A plain class with __slots__ whose __init__ reads the environment: about 0.01 ms to define at every
# function's cold start, against 0.25 ms for a 17-field NamedTuple (its __new__ compiled from source) and more
# for a dataclass. Read-only by convention: nothing assigns to it, and `settings()` hands out one per process.
class Settings:
    """The settings read from the environment; every name has a default that matches the local stack."""

    __slots__ = (
        "alerts_topic_arn",
        "analyzer",
        "bedrock_model_id",
        "bucket_name",
        "channel_shards",
        "config_cache_seconds",
        "dashboard_url",
        "day_shards",
        "export_fanout_items",
        "export_function_name",
        "inbound_mail_bucket",
        "max_form_body_bytes",
        "parameter_prefix",
        "queue_url",
        "retention_days",
        "stage",
        "table_name",
        "theme_tagger",
    )

    def __init__(self) -> None:
        environ = os.environ
        self.stage: str = environ.get("STAGE", "local")
        self.table_name: str = environ.get("TABLE_NAME", f"feedback-{self.stage}")
        self.queue_url: str = environ.get("INGEST_QUEUE_URL", "")
        self.bucket_name: str = environ.get("EXPORT_BUCKET", f"feedback-exports-{self.stage}")
        # Where SES's receipt rule writes raw mail (the export bucket unless told): read by the mail function,
        # deleted from by an erasure.
        self.inbound_mail_bucket: str = environ.get("INBOUND_MAIL_BUCKET") or self.bucket_name
        # The export function an erasure invokes to rewrite export days (set on the API function by the stack)
        self.export_function_name: str = environ.get("EXPORT_FUNCTION_NAME", "")
        self.analyzer = _choice(AnalyzerBackend, "ANALYZER", AnalyzerBackend.COMPREHEND)
        self.theme_tagger = _choice(ThemeTaggerBackend, "THEME_TAGGER", ThemeTaggerBackend.NONE)
        self.bedrock_model_id: str = environ.get("BEDROCK_MODEL_ID", "") or DEFAULT_BEDROCK_MODEL_ID
        self.parameter_prefix: str = environ.get("PARAMETER_PREFIX", f"/feedback/{self.stage}")
        # Shards of the per-day index's old layout (`DAY#<day>#<n>`): what a table written before the channel
        # partitions holds, read until re-keyed (README, upgrading).
        self.day_shards = int(environ.get("DAY_SHARDS", "8"))
        self.config_cache_seconds = int(environ.get("CONFIG_CACHE_SECONDS", "60"))
        # Every field at its bound in either encoding: a 10,000-character comment is up to 120,000 bytes once
        # percent-encoded (a hosted page's post) or \u-escaped (emoji): 64 KiB refused long non-Latin ones.
        self.max_form_body_bytes = int(environ.get("MAX_FORM_BODY_BYTES", str(160 * 1024)))
        # Days a stored feedback item is kept before DynamoDB's TTL deletes it (0: kept forever, the default).
        self.retention_days = max(0, int(environ.get("RETENTION_DAYS", "0") or "0"))
        # A day with at least this many items (by its counters) is exported by one invocation per slice of
        # the day, then combined (export/fanout.py); 0 never fans out.
        self.export_fanout_items = max(0, int(environ.get("EXPORT_FANOUT_ITEMS", "250000") or "0"))
        # Alerts (chalicelib/alerts/): the SNS topic fired alerts are e-mailed through ("" for none), and the
        # dashboard's address their messages link to ("" for no link).
        self.alerts_topic_arn: str = environ.get("ALERTS_TOPIC_ARN", "")
        self.dashboard_url: str = environ.get("DASHBOARD_URL", "")
        # Shards of each (day, channel) partition of the per-day index (store/day_layout.py says why); may be
        # raised, never lowered (items in the shards dropped would no longer be read).
        self.channel_shards = max(1, int(environ.get("CHANNEL_SHARDS", "1") or "1"))


@cache
def settings() -> Settings:
    """The process-wide settings, read once (tests call `settings.cache_clear()` after changing the env)."""
    return Settings()
