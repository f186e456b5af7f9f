"""Powertools Logger, Metrics and Tracer shared by every function."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "feedback-collector"

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace="FeedbackCollector")
tracer = Tracer(service=SERVICE)
