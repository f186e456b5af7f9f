"""Alerts: rules on the per-hour counters and on each stored item, and the notifications they send."""
