"""Ingest: the queue envelope and the analyze step that stores what was queued."""

# Records per analyze invocation (SQS hands over more than 10 only with a batching window; up to 10,000).
# app.py's event source, the local stack's poller and the bench's pipeline all read this one number. A batch
# of 100 writes its day counters once per transaction of 100 items and fills four Comprehend batches of 25;
# `ingest/deadline.py` returns what a short invocation cannot finish, so a batch never times out whole.
ANALYZE_BATCH_SIZE = 100
