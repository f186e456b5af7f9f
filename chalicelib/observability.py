"""Powertools Logger, Metrics and Tracer shared by every function."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "feedback-collector"

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace="FeedbackCollector")
# Every metric also names its stage, so dev and prod in one account alarm on their own figures.
metrics.set_default_dimensions(stage=os.environ.get("STAGE", "local"))
tracer = Tracer(service=SERVICE)
