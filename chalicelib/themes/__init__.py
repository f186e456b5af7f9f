"""Themes: the taxonomy a team owns (what its customers talk about), its records, CLI and routes."""
