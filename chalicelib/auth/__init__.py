"""Bearer tokens (tokens.py) and the authorizer that checks them (authorizer.py)."""
