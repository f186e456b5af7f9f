"""How long a pull waits after a quota answer: the platforms' documented hints, read exactly."""

from __future__ import annotations

import pytest

from chalicelib.channels.pull.app_store import _raise_for_apple
from chalicelib.channels.pull.base import google_retry_delay, raise_for_google
from chalicelib.channels.pull.exceptions import QuotaExceeded
from chalicelib.channels.pull.http import JsonResponse

RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        ([{"@type": RETRY_INFO, "retryDelay": "30s"}], 30.0),
        ([{"@type": RETRY_INFO, "retryDelay": "1.500s"}], 1.5),
        (
            [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo"},
                {"@type": RETRY_INFO, "retryDelay": "7s"},
            ],
            7,
        ),
        ([{"@type": RETRY_INFO, "retryDelay": "-3s"}], None),
        ([{"@type": RETRY_INFO, "retryDelay": "3"}], None),
        ([{"@type": RETRY_INFO}], None),
        ([{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "retryDelay": "9s"}], None),
        ("not a list", None),
        (None, None),
    ],
)
def test_google_retry_info_is_read_as_documented(details: object, expected: float | None):
    assert google_retry_delay({"code": 429, "status": "RESOURCE_EXHAUSTED", "details": details}) == expected


def _quota(raise_for, response: JsonResponse) -> float | None:
    with pytest.raises(QuotaExceeded) as caught:
        raise_for(response)
    return caught.value.retry_after


def test_retry_info_wins_over_a_retry_after_header_and_the_header_is_the_fallback():
    retry_info = {"@type": RETRY_INFO, "retryDelay": "60s"}
    error = {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [retry_info]}
    assert _quota(raise_for_google, JsonResponse(429, {"error": error}, retry_after=5.0)) == 60.0
    assert _quota(raise_for_google, JsonResponse(429, {"error": {"code": 429}}, retry_after=5.0)) == 5.0
    assert _quota(raise_for_google, JsonResponse(429, None)) is None
    apple = {"errors": [{"status": "429", "code": "RATE_LIMIT_EXCEEDED"}]}
    assert _quota(_raise_for_apple, JsonResponse(429, apple, retry_after=90.0)) == 90.0
    assert _quota(_raise_for_apple, JsonResponse(429, apple)) is None
