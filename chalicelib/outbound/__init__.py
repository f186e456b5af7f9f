"""Outbound webhooks: the product as a sender (subscriptions, signed events, delivery with retries)."""
