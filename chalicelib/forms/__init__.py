"""Feedback forms: configuration, validation of responses, and their routes."""
