"""`python -m tools.bench --write BENCHMARKS.md`: what 1,000 items cost in AWS requests, measured in process.

Synthetic form responses go through the real code paths (ack → analyze → redact → resolve customers →
store → export) against moto (DynamoDB, SQS, S3, SSM) and a botocore `Stubber`-backed Comprehend client.
botocore event hooks count every API call and every HTTP request per phase, service and operation; the
Comprehend stand-in records the billed units of every document it is sent. The day export is measured
with a table holding ten times the previous history, and again on one day of 100,000 stored items (items
per minute, in a worker process running beside the main run). The app's import time is compared with bare
`import chalice, boto3` in fresh interpreters. The bench exits 1 when a target is missed, so a regression is
visible in CI. `--quick` (fewer history items, no 100,000-item run) is for development.

One module per part: `counting` and `capacity` (the botocore hooks), `comprehend` (the stand-in and the
redactor tally), `synthetic` (the input), `stack` (environment and moto resources), `moto_speedups`,
`pipeline` (the main run), `throughput`, `pii_quality`, `sentiment_quality` (the local analyzer per
language), `language_quality` (local language detection), `import_time`, `checks` (targets), `cost_inputs`
(what `tools.cost` prices), `report` (BENCHMARKS.md), `run` (the whole bench) and `cli`.
"""
