"""Operator tasks behind the CLI: DLQ inspection and replay, analyzer backfill. Kept out of the Lambda
handlers' import path; the CLI prints, these modules do the work."""
