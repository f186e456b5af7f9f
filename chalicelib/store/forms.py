"""Form configurations in DynamoDB, read through a Powertools parameters provider for in-memory caching.

The ack path must not call DynamoDB per request: the provider keeps each form (and each unknown form id,
so probing random ids costs nothing either) for `CONFIG_CACHE_SECONDS`. All forms share one partition
(`pk = FORM`), so listing them is a Query, never a Scan; forms number in the dozens, not millions.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parameters import BaseProvider

from chalicelib.config import settings
from chalicelib.forms.config import FormConfig
from chalicelib.store import dynamo
from chalicelib.store.schema import PK, SK

ITEM_TYPE = "FORM"


def form_key(form_id: str) -> dict[str, str]:
    """Primary key of a form's configuration item."""
    return {PK: ITEM_TYPE, SK: form_id}


def _config_fields(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in {PK, SK, "type"}}


class FormProvider(BaseProvider):
    """Powertools provider whose values are form configurations ({} for an unknown form)."""

    def _get(self, name: str, **sdk_options: Any) -> dict[str, Any]:
        item = dynamo.get_item(settings().table_name, form_key(name))
        return _config_fields(item) if item else {}

    def _get_multiple(self, path: str, **sdk_options: Any) -> dict[str, Any]:
        items = dynamo.query_pages(
            TableName=settings().table_name,
            KeyConditionExpression="#pk = :forms",
            ExpressionAttributeNames={"#pk": PK},
            ExpressionAttributeValues={":forms": {"S": ITEM_TYPE}},
        )
        return {item[SK]: _config_fields(item) for item in items}


_provider = FormProvider()


def get_cached(form_id: str) -> FormConfig | None:
    """The form's configuration from the in-memory cache (DynamoDB on a miss), or None if unknown."""
    value = _provider.get(form_id, max_age=settings().config_cache_seconds)
    return FormConfig.model_validate(value) if value else None


def list_all() -> list[FormConfig]:
    """Every configured form, read fresh (admin use)."""
    values = _provider.get_multiple(ITEM_TYPE, force_fetch=True)
    return [FormConfig.model_validate(value) for value in values.values()]


def save(form: FormConfig) -> None:
    """Create or replace a form configuration."""
    item = {**form_key(form.form_id), "type": ITEM_TYPE, **form.model_dump(mode="json")}
    dynamo.batch_write(settings().table_name, [dynamo.put_request(item)])
    clear_cache()


def clear_cache() -> None:
    """Forget cached forms (tests, and the admin CLI after a change)."""
    _provider.clear_cache()
