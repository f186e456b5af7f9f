"""What a CRM sync raises: the consumer alerts on credentials, retries the rest later."""

from __future__ import annotations

import re

# A CRM's refusal may quote what it refused: an email address ("Email address … is invalid"), a unique
# value ('… "email" = "…" already exists'). Reasons go to logs and the CLI without them.
_EMAIL = re.compile(r"[^\s\"'<>()\[\],;:@]+@[^\s\"'<>()\[\],;:@]+\.[A-Za-z]{2,}")
_QUOTED_VALUE = re.compile(r"""(=\s*)(["'])[^"']*\2""")


def without_values(reason: str) -> str:
    """A failure's reason without the email addresses and the quoted values it names."""
    return _QUOTED_VALUE.sub(r"\1\2…\2", _EMAIL.sub("[email]", reason))


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
