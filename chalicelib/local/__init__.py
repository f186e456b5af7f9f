"""The embedded local stack for `make run`: moto server, provisioning, SQS poller and nightly scheduler."""
