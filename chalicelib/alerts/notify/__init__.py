"""Where fired alerts go: one module per channel behind notify/base.py's contract."""
