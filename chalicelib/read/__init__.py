"""The read API: feedback listings, customers, /stats, signed cursors, strict parameters."""
