"""Ingest: the queue envelope and the analyze step that stores what was queued."""
