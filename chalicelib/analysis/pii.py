"""PII redaction: the `chalicelib.analysis.redaction` package under its first name, for existing imports."""

from chalicelib.analysis.redaction import *  # noqa: F403
from chalicelib.analysis.redaction import __all__  # noqa: F401
