"""Lexicons and rules for scoring sentiment locally beyond English (`vader.py` applies them; SOURCE.md says
where each lexicon comes from and under which licence).

Kept free of imports so that naming the languages does not load vaderSentiment, a local-stack dependency.
"""

# Languages scored with a lexicon of their own here; English is VADER as published.
LANGUAGES = ("es", "fr", "de", "pt")
