"""Local stand-ins for the CRMs the sync writes to, built from the vendors' API references (no CRM is
reachable from tests or `make run`)."""
