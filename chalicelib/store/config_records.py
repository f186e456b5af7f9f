"""Small configuration records (forms, sources, tokens, the theme taxonomy) kept in one DynamoDB partition
per kind and read through a Powertools parameters provider, so the ack path serves them from memory.

Each kind lives in its own partition (`pk = FORM`, `pk = SOURCE`, sort key = the record id): listing them
is a Query, never a Scan. An unknown id is cached too (as {}), so probing random ids costs nothing. Records
several people change (forms, the taxonomy) keep a version: `save_versioned`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.utilities.parameters import BaseProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.observability import logger
from chalicelib.store import dynamo
from chalicelib.store.schema import PK, RECORD_TYPE, SK

VERSION = "version"
# The version a stored record without a version attribute has (see `version_of`).
UNVERSIONED_VERSION = 1


def version_of(fields: dict[str, Any]) -> int:
    """A stored record's version: 0 when absent, 1 when it was saved without one (`save`)."""
    if not fields:
        return 0
    return int(fields.get(VERSION, UNVERSIONED_VERSION))


class VersionConflict(Exception):
    """A versioned record changed since it was read: another writer claimed the version first."""


class ConfigRecords(BaseProvider):
    """Records of one kind: get (cached), list, save, delete."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def key(self, record_id: str) -> dict[str, str]:
        """Primary key of one record."""
        return {PK: self.kind, SK: record_id}

    def _fields(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in item.items() if k not in {PK, SK, RECORD_TYPE}}

    def _get(self, name: str, **sdk_options: Any) -> dict[str, Any]:
        item = dynamo.get_item(settings().table_name, self.key(name))
        return self._fields(item) if item else {}

    def _get_multiple(self, path: str, **sdk_options: Any) -> dict[str, Any]:
        items = dynamo.query_pages(
            TableName=settings().table_name,
            KeyConditionExpression="#pk = :kind",
            ExpressionAttributeNames={"#pk": PK},
            ExpressionAttributeValues={":kind": {"S": self.kind}},
        )
        return {item[SK]: self._fields(item) for item in items}

    def get_cached(self, record_id: str) -> dict[str, Any]:
        """The record's fields from memory (DynamoDB on a miss or when stale); {} if unknown."""
        return self.get(record_id, max_age=settings().config_cache_seconds) or {}

    def list_fresh(self) -> dict[str, dict[str, Any]]:
        """Every record of this kind, read now."""
        return self.get_multiple(self.kind, force_fetch=True)

    def get_fresh(self, record_id: str) -> dict[str, Any]:
        """The record's fields read now, strongly consistent (to change it); {} if unknown."""
        item = dynamo.get_item(settings().table_name, self.key(record_id), consistent=True)
        return self._fields(item) if item else {}

    def save_versioned(self, record_id: str, fields: dict[str, Any], expected_version: int) -> int:
        """Write the record as version `expected_version + 1` if it is still at `expected_version` (0:
        absent), in one conditional put, so two writers that read the same version cannot both succeed;
        returns the new version or raises VersionConflict."""
        version = expected_version + 1
        item = {**self.key(record_id), RECORD_TYPE: self.kind, **fields, VERSION: version}
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(#pk)", "ExpressionAttributeNames": {"#pk": PK}}
            if expected_version == 0
            else {
                "ConditionExpression": "#version = :expected",
                "ExpressionAttributeNames": {"#version": VERSION},
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        )
        if expected_version == UNVERSIONED_VERSION:
            # A record stored without a version (a plain `save`, or before its kind kept one) is version 1.
            unversioned = "attribute_exists(#pk) AND attribute_not_exists(#version)"
            condition["ConditionExpression"] += f" OR ({unversioned})"
            condition["ExpressionAttributeNames"]["#pk"] = PK
        try:
            aws.client("dynamodb").put_item(
                TableName=settings().table_name, Item=dynamo.serialize(item), **condition
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise VersionConflict(
                    f"{self.kind} {record_id} is no longer at version {expected_version}"
                ) from error
            raise
        finally:
            self.clear_cache()
        return version

    def save(self, record_id: str, fields: dict[str, Any]) -> None:
        """Create or replace a record."""
        item = {**self.key(record_id), RECORD_TYPE: self.kind, **fields}
        dynamo.batch_write(settings().table_name, [dynamo.put_request(item)])
        self.clear_cache()

    def stamp(self, record_id: str, attribute: str, value: str, unless_since: str) -> bool:
        """Set `attribute` to `value` (an ISO time) on an existing record unless it already holds one at or
        after `unless_since`, in one conditional update: several processes stamping within that time write
        once. True when written. The cache is left as it is: a stamp is bookkeeping, not configuration."""
        try:
            aws.client("dynamodb").update_item(
                TableName=settings().table_name,
                Key=dynamo.serialize(self.key(record_id)),
                UpdateExpression="SET #stamp = :value",
                ConditionExpression=(
                    "attribute_exists(#pk) AND (attribute_not_exists(#stamp) OR #stamp < :since)"
                ),
                ExpressionAttributeNames={"#pk": PK, "#stamp": attribute},
                ExpressionAttributeValues={":value": {"S": value}, ":since": {"S": unless_since}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def delete(self, record_id: str) -> None:
        """Remove a record."""
        dynamo.batch_write(
            settings().table_name, [{"DeleteRequest": {"Key": dynamo.serialize(self.key(record_id))}}]
        )
        self.clear_cache()


# What DynamoDB and SSM answer when they cannot serve a request just now (throttling, their own errors).
TRANSIENT_ERRORS = dynamo.RETRYABLE_ERRORS | {"ServiceUnavailable", "InternalServerError", "TooManyUpdates"}


def _transient(cause: BaseException | None) -> bool:
    """Whether AWS refused for now (throttled, failed on its side, unreachable) rather than for good."""
    if isinstance(cause, BotoCoreError):
        return True  # no answer: a timeout, a connection refused
    if not isinstance(cause, ClientError):
        return False
    status = cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return cause.response.get("Error", {}).get("Code") in TRANSIENT_ERRORS or status >= 500


@contextmanager
def unavailable_when_unreadable(what: str) -> Iterator[None]:
    """A request's read of cached configuration (a record here, a source's secrets in SSM) that AWS refused
    or did not answer (throttling on a cold cache, a network error) answers 503 with Retry-After: platforms
    retry a 503 (Zendesk retries 409, 429 and 503 only), and the delivery is not lost as on a 500."""
    try:
        yield
    except GetParameterError as error:
        cause = error.__cause__ or error.__context__
        if not _transient(cause):
            raise  # a defect of ours (a malformed request, a missing permission), not a passing one: 500
        code = cause.response.get("Error", {}).get("Code") if isinstance(cause, ClientError) else None
        logger.warning(
            "configuration unreadable",
            extra={"what": what, "error_type": type(cause).__name__, "aws_error_code": code},
        )
        # Imported here: the analyze step reads records through this module and answers no HTTP request.
        from chalicelib.http import ServiceUnavailable

        raise ServiceUnavailable(f"The {what} cannot be read right now; try again shortly.") from error


# Every kind of configuration record, one partition each; their modules (forms/records.py,
# channels/sources.py, auth/tokens.py, themes/records.py, crm/connections.py) add what the records mean.
FORMS = ConfigRecords("FORM")
SOURCES = ConfigRecords("SOURCE")
TOKENS = ConfigRecords("TOKEN")
THEMES = ConfigRecords("THEMES")
SUBSCRIPTIONS = ConfigRecords("SUBSCRIPTION")  # outbound/subscriptions.py: where outbound webhooks go
CRM_CONNECTIONS = ConfigRecords("CRM")  # crm/connections.py: CRM sync targets
PULL_STATES = ConfigRecords("PULL")  # channels/pull/state.py: each pull source's checkpoint and pause
ALERT_RULES = ConfigRecords("ALERT_RULE")  # alerts/rules.py: spike, detractor and silence rules
ALERT_STATE = ConfigRecords("ALERT_STATE")  # alerts/cooldown.py: when each rule (and slice) last fired
