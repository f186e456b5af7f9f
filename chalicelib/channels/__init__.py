"""Webhook channels: one module per platform (handshake, verify, normalize); registry.py maps types."""
