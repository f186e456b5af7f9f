"""What a CRM sync raises: the consumer alerts on credentials, retries the rest later."""

from __future__ import annotations


class CrmError(Exception):
    """A CRM request failed; the items stay unsynced and are retried by the caller."""


class CredentialsRejected(CrmError):
    """The CRM refused the connection's credentials (401): the connection is paused until they are fixed,
    and this is raised so the failure is alerted on, not retried."""

    def __init__(self, connection_id: str, reason: str) -> None:
        super().__init__(
            f"CRM connection {connection_id} was paused: its credentials were refused ({reason})"
        )
        self.connection_id = connection_id
        self.reason = reason


class RateLimited(CrmError):
    """The CRM kept answering 429 after every backoff the sync allows."""


class RequestFailed(CrmError):
    """The CRM answered an error that retrying will not fix (a 4xx other than 401 and 429)."""

    def __init__(self, status: int, category: str, message: str) -> None:
        super().__init__(f"CRM answered {status} {category}: {message}")
        self.status = status
        self.category = category
