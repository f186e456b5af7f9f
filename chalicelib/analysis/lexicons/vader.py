"""VADER for Spanish, French, German and Portuguese: the language's lexicon, its function words rewritten.

VADER's rules (negation within three words, boosters and dampeners, the contrastive "but", capitals,
exclamation marks) are written against English words held in module constants (`NEGATE`, `BOOSTER_DICT`, the
literal "but" and "no"). Rather than copy and edit those rules, each text is rewritten token by token before
VADER scores it: the language's negations become "not", its boosters "very", its dampeners "slightly", its
contrastive conjunctions "but", and its words are looked up in the language's lexicon, which replaces the
instance's `lexicon` dictionary (the extension point vaderSentiment documents). Nothing of VADER is changed;
`LanguageSentimentAnalyzer` only overrides `polarity_scores` to rewrite the text first.

Data files, one set per language (SOURCE.md says where each lexicon comes from and under which licence):
- `<lang>.tsv`: `word<TAB>valence[<TAB>note]` on VADER's -4..4 scale; the note `adj` marks a German adjective
  whose inflected forms (`adjective_endings`) get the same valence.
- `<lang>.feedback.tsv`: customer-feedback words the published lexicon lacks or scores for another sense
  ("slow", "late", "expensive"), written for this product, applied over `<lang>.tsv`.
- `<lang>.rules.json`: negations, boosters, dampeners, contrasts, French elisions and `ne … pas`, renames of
  words that would read as one of VADER's English rule words, and whether accents are folded.
"""

from __future__ import annotations

import json
import math
import re
import string
import unicodedata
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import snowballstemmer
from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE, SPECIAL_CASES, SentimentIntensityAnalyzer

HERE = Path(__file__).parent

NEGATION, BOOSTER, DAMPENER, CONTRAST = "not", "very", "slightly", "but"
# Words VADER's rules react to by spelling: a foreign word spelled the same is escaped, never read as English.
ENGLISH_RULE_WORDS = (
    {word.lower() for word in NEGATE}
    | set(BOOSTER_DICT)
    | {word for case in SPECIAL_CASES for word in case.split()}
    | {
        "no",
        "but",
        "least",
        "kind",
        "of",
        "so",
        "this",
        "never",
        "without",
        "doubt",
        "at",
        "very",
        "or",
        "nor",
    }
)
# Appended to an escaped word: not ASCII punctuation, so VADER's tokenizer keeps it and the word is unknown.
ESCAPE = "\u00b7"
# Punctuation around a word that VADER's ASCII-only stripping would leave on it.
# (inverted marks, guillemets, typographic quotes, ellipsis, dashes)
EXTRA_PUNCTUATION = "\u00a1\u00bf\u00ab\u00bb\u201c\u201d\u201e\u2018\u2019\u2026\u2013\u2014"
TYPOGRAPHIC_APOSTROPHE = "\u2019"
TRIM_KEEPING_APOSTROPHE = (string.punctuation + EXTRA_PUNCTUATION).replace("'", "")
# Ends a stem's lexicon entry so that it never equals a word: "pesim" + STEM_MARK.
STEM_MARK = "·stem"
# Shorter stems stand for too many unrelated words ("ändern" and "andere" both stem to "and").
MIN_STEM = 5
STEM_CACHE = 50_000
# How many words after `ne`/`n'` its second half (`pas`, `jamais` …) may come: it completes that one negation.
NEGATION_PAIR_WINDOW = 3


def fold(word: str) -> str:
    """`word` without accents (NFKD minus combining marks), case kept: "PÉSIMO" → "PESIMO"."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


# A plain slotted class, not a NamedTuple: chalicelib/records.py says why.
class LanguageRules:
    """A language's function words, by the English rule word VADER knows them as."""

    __slots__ = (
        "adjective_endings",
        "elisions",
        "fold_accents",
        "longest_phrase",
        "negation_completers",
        "negation_particles",
        "replacements",
        "stemmer",
    )

    def __init__(
        self,
        *,
        replacements: dict[str, str],
        negation_particles: frozenset[str],
        negation_completers: frozenset[str],
        elisions: tuple[str, ...],
        adjective_endings: tuple[str, ...],
        fold_accents: bool,
        longest_phrase: int,
        stemmer: str | None,
    ) -> None:
        # A word or phrase (lower case, folded if the language folds) → English rule word.
        self.replacements = replacements
        # French `ne`, `n'`: a negation whose second half is dropped.
        self.negation_particles = negation_particles
        # `pas`, `jamais` …: dropped within the window after a particle.
        self.negation_completers = negation_completers
        self.elisions = elisions  # French `l'`, `n'` …: split from the word they are glued to
        self.adjective_endings = adjective_endings  # German inflections added to lexicon adjectives
        self.fold_accents = fold_accents
        self.longest_phrase = longest_phrase
        # The Snowball algorithm's name ("spanish" …), or None: German stems fold umlauts ("schön" → "schon"),
        # so German lists its adjectives' inflections instead (`adjective_endings`).
        self.stemmer = stemmer

    def key(self, word: str) -> str:
        lowered = word.lower()
        return fold(lowered) if self.fold_accents else lowered


def load_rules(language: str) -> LanguageRules:
    raw: dict[str, Any] = json.loads((HERE / f"{language}.rules.json").read_text(encoding="utf-8"))
    fold_accents = bool(raw.get("fold_accents", False))

    def norm(word: str) -> str:
        return fold(word.lower()) if fold_accents else word.lower()

    replacements: dict[str, str] = {}
    for field, english in (
        ("negations", NEGATION),
        ("boosters", BOOSTER),
        ("dampeners", DAMPENER),
        ("contrasts", CONTRAST),
    ):
        replacements.update({norm(word): english for word in raw.get(field, [])})
    replacements.update({norm(word): target for word, target in raw.get("renames", {}).items()})
    return LanguageRules(
        replacements=replacements,
        negation_particles=frozenset(norm(word) for word in raw.get("negation_particles", [])),
        negation_completers=frozenset(norm(word) for word in raw.get("negation_completers", [])),
        elisions=tuple(norm(word) for word in raw.get("elisions", [])),
        adjective_endings=tuple(raw.get("adjective_endings", [])),
        fold_accents=fold_accents,
        stemmer=raw.get("stemmer"),
        longest_phrase=max((len(phrase.split()) for phrase in replacements), default=1),
    )


def load_lexicon(language: str, rules: LanguageRules) -> dict[str, float]:
    """The language's lexicon, then its feedback words over it, keyed as `rules.key` spells a word."""
    lexicon: dict[str, float] = {}
    for name in (f"{language}.tsv", f"{language}.feedback.tsv"):
        path = HERE / name
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            fields = line.split("\t")
            if len(fields) < 2 or not fields[0] or line.startswith("#"):
                continue
            word, valence = rules.key(fields[0]), float(fields[1])
            lexicon[word] = valence
            if "adj" in fields[2:]:
                for ending in rules.adjective_endings:
                    lexicon.setdefault(word + ending, valence)
    # A lexicon word spelled like one of VADER's rule words would be scored as sentiment and as the rule.
    return {word: valence for word, valence in lexicon.items() if word not in ENGLISH_RULE_WORDS | {DAMPENER}}


def english_feedback_words() -> dict[str, float]:
    """`en.feedback.tsv`: the customer-feedback words VADER's English lexicon lacks ("slow", "late")."""
    rules = LanguageRules(
        replacements={},
        negation_particles=frozenset(),
        negation_completers=frozenset(),
        elisions=(),
        adjective_endings=(),
        fold_accents=False,
        longest_phrase=1,
        stemmer=None,
    )
    return load_lexicon("en", rules)


class LanguageSentimentAnalyzer(SentimentIntensityAnalyzer):
    """VADER scoring one language: its lexicon in `self.lexicon`, its function words rewritten in English."""

    def __init__(self, language: str) -> None:
        super().__init__()  # reads VADER's English lexicon and emoji descriptions, used below
        english = self.lexicon
        self.language = language
        self.rules = load_rules(language)
        lexicon = load_lexicon(language, self.rules)
        # Emoticons (":)", ":-(") are the same in every language; VADER's English lexicon has them.
        lexicon.update(
            {token: value for token, value in english.items() if not any(c.isalpha() for c in token)}
        )
        # An emoji becomes one token whose valence is what VADER gives its English description's words.
        self.emoji_tokens: dict[str, str] = {}
        for emoji, description in self.emojis.items():
            valence = sum(english.get(word, 0.0) for word in description.lower().split())
            if len(emoji) == 1 and valence:
                token = f"emoji{ord(emoji):x}"
                self.emoji_tokens[emoji] = token
                lexicon[token] = max(-4.0, min(4.0, valence))
        # A word the lexicon lacks in this inflection ("pésimas", "schlechten") is read as its Snowball stem,
        # scored as the mean of the lexicon words with that stem.
        stemmer = snowballstemmer.stemmer(self.rules.stemmer) if self.rules.stemmer else None
        # A text's words are stemmed once per process (PyStemmer's C stemmers: a few µs a word).
        self.stem = lru_cache(maxsize=STEM_CACHE)(stemmer.stemWord) if stemmer else None
        by_stem: dict[str, list[float]] = {}
        for word, valence in lexicon.items():
            if stemmer and word.isalpha():
                by_stem.setdefault(stemmer.stemWord(word), []).append(valence)
        self.stems = {stem: f"{stem}{STEM_MARK}" for stem in by_stem}
        # The mean of each stem's valences (statistics.fmean's own formula, without importing statistics).
        lexicon.update(
            {f"{stem}{STEM_MARK}": math.fsum(valences) / len(valences) for stem, valences in by_stem.items()}
        )
        self.lexicon = lexicon
        self._marks_to_spaces = str.maketrans(
            dict.fromkeys(EXTRA_PUNCTUATION.replace(TYPOGRAPHIC_APOSTROPHE, ""), " ")
        )
        self._elision = (
            re.compile(
                r"(?i)\b("
                + "|".join(re.escape(e[:-1]) for e in self.rules.elisions)
                + r")['"
                + TYPOGRAPHIC_APOSTROPHE
                + r"](?=\w)"
            )
            if self.rules.elisions
            else None
        )

    def polarity_scores(self, text: str) -> dict[str, float]:
        return super().polarity_scores(self.rewrite(text))

    def rewrite(self, text: str) -> str:
        """The text as VADER should read it: English rule words for the language's function words."""
        text = "".join(f" {self.emoji_tokens[char]} " if char in self.emoji_tokens else char for char in text)
        text = text.replace(TYPOGRAPHIC_APOSTROPHE, "'")
        if self._elision:
            text = self._elision.sub(r"\1' ", text)
        text = text.translate(self._marks_to_spaces)
        tokens = text.split()
        keys = [self._key_of(token) for token in tokens]
        out: list[str] = []
        pair_open_until = -1
        index = 0
        while index < len(tokens):
            phrase, width = self._phrase_at(keys, index)
            if phrase is not None:
                out.append(phrase)
                index += width
                continue
            key = keys[index]
            if key in self.rules.negation_particles:
                out.append(NEGATION)
                pair_open_until = index + NEGATION_PAIR_WINDOW
            elif key in self.rules.negation_completers and index <= pair_open_until:
                pair_open_until = -1  # "ne … pas" is one negation: its second half is dropped
                out.append(_punctuation_of(tokens[index]))
            elif key in self.rules.replacements:
                out.append(self.rules.replacements[key] + _punctuation_of(tokens[index]))
            elif key in ENGLISH_RULE_WORDS:
                out.append(tokens[index] + ESCAPE)
            else:
                out.append(self._word(tokens[index], key))
            index += 1
        return " ".join(word for word in out if word)

    def _word(self, token: str, key: str) -> str:
        """A word as the lexicon spells it, or as its stem's entry when the lexicon lacks this form."""
        if key in self.lexicon or not key.isalpha() or self.stem is None:
            return fold(token) if self.rules.fold_accents else token
        stem = self.stem(key)
        stem_token = self.stems.get(stem) if len(stem) >= MIN_STEM else None
        if stem_token is None:
            return token
        # Kept in capitals when the word was, for VADER's emphasis rule.
        word = stem_token.upper() if token.isupper() else stem_token
        return word + _punctuation_of(token)

    def _key_of(self, token: str) -> str:
        """How the rules and the lexicon spell a token: no punctuation around it; an elision keeps its "'"."""
        core = token.strip(TRIM_KEEPING_APOSTROPHE).lstrip("'")
        key = self.rules.key(core)
        return key if key in self.rules.elisions else key.rstrip("'")

    def _phrase_at(self, keys: list[str], index: int) -> tuple[str | None, int]:
        """A multi-word function phrase ("sin embargo", "un peu") starting at `index`, longest first."""
        for width in range(min(self.rules.longest_phrase, len(keys) - index), 1, -1):
            phrase = " ".join(keys[index : index + width])
            if phrase in self.rules.replacements:
                return self.rules.replacements[phrase], width
        return None, 1


def _punctuation_of(token: str) -> str:
    """The exclamation and question marks a rewritten word carried: VADER counts them over the whole text."""
    return "".join(char for char in token if char in "!?")


@cache
def analyzer_for(language: str) -> LanguageSentimentAnalyzer:
    """One analyzer per language, built on first use (reading its lexicon takes a few milliseconds)."""
    return LanguageSentimentAnalyzer(language)
