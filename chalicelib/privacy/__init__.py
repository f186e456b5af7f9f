"""Privacy: erasure everywhere (table, exports) and its route."""
