"""The keywords theme tagger: a taxonomy's keywords found by stem in each item, with the sentiment about each.

Matching (matching.py, stemming.py): each keyword of the document's language (every language's keywords when
the document has none, or one the taxonomy has no keywords in) is stemmed with Snowball, case and accents
folded on both sides, phrases matched as word sequences. Where phrases overlap, the longest wins ("customer
service" over "service").

Which themes an item gets:
- each active theme at most once, in the order of its first mention; retired themes never tag;
- only the most specific theme: a child theme's match means the item is about its parent too, and the parent
  is not repeated (a filter on the parent includes its children, `Taxonomy.with_children`);
- negation does not remove a theme: "the parcel did not arrive late" is about delivery time all the same.
  Negation acts on the sentiment instead (below).

The sentiment about a theme (clauses.py, cues.py): the piece of text around the match (its clause cut at
commas and "and") is scored by the configured sentiment Analyzer, with the theme's own keywords taken out of
it ("support" and "help" are positive words to a general lexicon), and read for aspect cues ("late", "on
hold", "pas cher"); a negator before a cue flips it, a negated expected event ("never answered") is negative.
A cue decides against a disagreeing analyzer, since it is domain vocabulary; MIXED from the analyzer stays
MIXED. When the piece says nothing either way, the piece with the theme-less pieces after it in its clause
is read ("the courier left it outside, careless"), then its clause, then the clause on the other side of a
contrast with its opinion reversed ("great screen, but the battery lasts no day"), then its sentence, then the
whole text if that names no other theme; when none speaks, the theme is NEUTRAL. In a question only complaint
cues speak ("will it be available again?" is NEUTRAL). A clause that names no theme but contrasts (not
concedes: "although") with the one before ("support was friendly, but they fixed nothing") is read for that
clause's themes too. A theme read in several places is MIXED when they disagree. `evidence` is the span the
sentiment was read from (the piece when nothing spoke), as it stands in the text. Every span of every document
goes to the analyzer in one `analyze` call; a span it fails on is read from its cues alone.

Cost: near-linear in the text's length. A span is read (cues found, theme words masked) once per theme,
however many mentions fall in it, and every lookup by position (token, clause, piece, mention, sentence end)
is a bisection, so one long comment repeating a keyword costs no more than a long comment.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import cached_property

from chalicelib.analysis.base import Analyzer, Document, primary_language
from chalicelib.analysis.themes.base import ThemeMatch, ThemeSentiment
from chalicelib.analysis.themes.clauses import Segmentation, Span, is_negated, segment
from chalicelib.analysis.themes.cues import CUES, THEME_CUES
from chalicelib.analysis.themes.matching import Hit, PhraseIndex
from chalicelib.analysis.themes.stemming import SNOWBALL_LANGUAGES, Token, tokenize
from chalicelib.models import Analysis
from chalicelib.themes.taxonomy import Taxonomy

NAME = "keywords"
POSITIVE, NEGATIVE, NEUTRAL, MIXED = "POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"
# German puts "nicht" after the verb it negates ("funktioniert nicht"): words after a cue it still reaches.
TRAILING_NEGATORS = {"de": frozenset({"nicht", "nie", "niemals"})}
TRAILING_REACH = 2
# "never": a child theme's mention anywhere hides its parent (the labelled set's rule, and the default);
# "other-clause": a parent mentioned in a clause of its own is kept beside the child ("shipping is too dear.
# It came next day."), which keeps that clause's sentiment but tags the item with both.
PARENT_WITH_CHILD = "never"
_CUE_POLARITY = {"positive": 1, "negative": -1, "expected": 0}
_OPPOSITE = {POSITIVE: NEGATIVE, NEGATIVE: POSITIVE}
# The end of a sentence (a point between digits is a number): what a question mark is looked for up to.
# "…" stands outside the character class: a class holding it costs re a 64K-entry table (~0.2 ms at import).
_SENTENCE_END = re.compile(r"[!?;\n]|…|(?<!\d)\.|\.(?!\d)")


# The tagger's own records below are plain slotted classes, not NamedTuples: chalicelib/records.py
# says why.
class _Languages:
    """The indexes of one taxonomy in one language: theme keywords, general cues, theme-scoped cues."""

    __slots__ = ("cues", "scoped_cues", "themes")

    def __init__(self, themes: PhraseIndex, cues: PhraseIndex, scoped_cues: dict[str, PhraseIndex]) -> None:
        self.themes = themes
        self.cues = cues
        self.scoped_cues = scoped_cues


class _Mention:
    __slots__ = ("hit", "language", "theme")

    def __init__(self, theme: str, language: str | None, hit: Hit) -> None:
        self.theme = theme
        self.language = language
        self.hit = hit


class _Reading:
    """One span to read a theme's sentiment from, and what was read."""

    __slots__ = ("cue_score", "inverted", "question", "shown", "span", "text_for_analyzer")

    def __init__(
        self, span: Span, text_for_analyzer: str, cue_score: int = 0, question: bool = False
    ) -> None:
        self.span = span
        self.text_for_analyzer = text_for_analyzer
        self.cue_score = cue_score
        # A question asks rather than judges ("will it be available again?"): only complaint cues speak in it.
        self.question = question
        # Read from the other side of a contrast: its opinion, reversed, is this theme's.
        self.inverted = False
        # The span shown as evidence when it is not the span read (an inverted reading shows its own clause).
        self.shown: Span | None = None


class _TaxonomyIndex:
    """Everything the tagger derives from one taxonomy version, built once and reused while it lasts."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        active = taxonomy.active()
        self.parent_of = {theme.id: theme.parent for theme in taxonomy.themes}
        self.keyword_languages = sorted({language for theme in active for language in theme.keywords})
        self.by_language: dict[str, _Languages] = {}
        for language in self.keyword_languages:
            phrases = [
                (keyword, theme.id) for theme in active for keyword in theme.keywords.get(language, [])
            ]
            stem_language = language if language in SNOWBALL_LANGUAGES else None
            cue_phrases = [(cue, kind) for kind, cues in CUES.get(language, {}).items() for cue in cues]
            scoped = {
                theme_id: PhraseIndex(
                    [(cue, kind) for kind, cues in by_language.get(language, {}).items() for cue in cues],
                    stem_language,
                )
                for theme_id, by_language in THEME_CUES.items()
            }
            self.by_language[language] = _Languages(
                PhraseIndex(phrases, stem_language), PhraseIndex(cue_phrases, stem_language), scoped
            )

    def languages_for(self, document: Document) -> list[str]:
        language = primary_language(document.language)
        if language in self.by_language:
            return [language]
        return self.keyword_languages


class KeywordTagger:
    """ThemeTagger matching the taxonomy's keywords; aspect sentiment from `analyzer` on the clauses."""

    name = NAME

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self._index_cache: tuple[Taxonomy, _TaxonomyIndex] | None = None

    def _index(self, taxonomy: Taxonomy) -> _TaxonomyIndex:
        if self._index_cache is None or self._index_cache[0] is not taxonomy:
            self._index_cache = (taxonomy, _TaxonomyIndex(taxonomy))
        return self._index_cache[1]

    def tag(self, documents: Sequence[Document], taxonomy: Taxonomy) -> dict[str, list[ThemeMatch]]:
        """Per document key, its themes in text order (an empty list for none)."""
        index = self._index(taxonomy)
        plans = {document.key: _DocumentPlan(document, index) for document in documents}
        labels = self._score(plan for plan in plans.values())
        return {key: plan.matches(labels) for key, plan in plans.items()}

    def _score(self, plans: Iterable[_DocumentPlan]) -> dict[str, str | None]:
        """One analyzer call for every span of every document: span id → label (None: no verdict)."""
        requests = [
            Document(key=span_id, text=text, language=language)
            for plan in plans
            for span_id, text, language in plan.spans_to_score()
        ]
        if not requests:
            return {}
        results = self.analyzer.analyze(requests)
        return {request.key: _label(results.get(request.key)) for request in requests}


def _label(result: object) -> str | None:
    if isinstance(result, Analysis) and result.sentiment is not None:
        return result.sentiment.value
    return None


class _DocumentPlan:
    """One document's mentions and the spans their sentiment is read from."""

    def __init__(self, document: Document, index: _TaxonomyIndex) -> None:
        self.document = document
        self.index = index
        self.language = primary_language(document.language)
        self.tokens: list[Token] = tokenize(document.text)
        self.segmentation: Segmentation = segment(document.text, self.language)
        # Positions in text order, bisected rather than scanned: a long text has thousands of each.
        self._token_starts = [token.start for token in self.tokens]
        self._clause_starts = [clause.start for clause in self.segmentation.clauses]
        self._piece_starts = [piece.start for piece, _ in self.segmentation.pieces]
        # A span's cue score and masked text, per (span, language, scope): shared by the mentions inside it.
        self._span_reads: dict[tuple[Span, str | None, str | None], tuple[int, str]] = {}
        self._orphans: dict[tuple[Span, Span], Span] = {}
        self._sentences: dict[int, Span] = {}  # clause index → its sentence
        self.mentions = self._mentions()
        # Per theme, its mentions' readings, narrowest first: (piece, clause, sentence, text) per mention.
        self.readings: dict[str, list[tuple[_Reading, ...]]] = defaultdict(list)
        for mention in self.mentions:
            self.readings[mention.theme].append(self._readings_for(mention))
        self._read_contrasts()

    @cached_property
    def _theme_hits(self) -> list[_Mention]:
        mentions = []
        for language in self.index.languages_for(self.document):
            found = self.index.by_language[language].themes.find(self.tokens, self.segmentation.clauses)
            mentions += [_Mention(hit.label, language, hit) for hit in found]
        # The same word may be a keyword in several languages ("app"): one mention per theme and place.
        unique = {(m.theme, m.hit.first, m.hit.last): m for m in reversed(mentions)}
        return _longest_first(list(unique.values()))

    @cached_property
    def _theme_hit_starts(self) -> list[int]:
        """Where each of `_theme_hits` starts in the text, in their (text) order."""
        return [self.tokens[mention.hit.first].start for mention in self._theme_hits]

    @cached_property
    def _sentence_ends(self) -> list[int]:
        """The positions of every sentence-end character (each `_SENTENCE_END` match is one character)."""
        return [found.start() for found in _SENTENCE_END.finditer(self.document.text)]

    def _clause_number(self, position: int) -> int | None:
        """The index of the clause holding `position` (None between clauses)."""
        index = bisect_right(self._clause_starts, position) - 1
        if index >= 0 and position < self.segmentation.clauses[index].end:
            return index
        return None

    def _piece_at(self, position: int) -> tuple[Span, Span] | None:
        """`Segmentation.piece_at` by bisection: the piece holding `position` and its clause."""
        index = bisect_right(self._piece_starts, position) - 1
        if index >= 0:
            piece, clause_index = self.segmentation.pieces[index]
            if position < piece.end:
                return piece, self.segmentation.clauses[clause_index]
        return None

    def _sentence_at(self, position: int) -> Span | None:
        """`Segmentation.sentence_at` from the clause found by bisection."""
        index = self._clause_number(position)
        if index is None:
            return None
        return self._sentence_of_clause(index)

    def _sentence_of_clause(self, index: int) -> Span:
        """The clauses around clause `index` that no sentence end separates (a contrast joins them)."""
        if index not in self._sentences:
            clauses, contrast = self.segmentation.clauses, self.segmentation.after_contrast
            first = last = index
            while first > 0 and contrast[first]:
                first -= 1
            while last + 1 < len(clauses) and contrast[last + 1]:
                last += 1
            # Every clause of the sentence has the same one: one walk per sentence.
            for member in range(first, last + 1):
                self._sentences[member] = Span(clauses[first].start, clauses[last].end)
        return self._sentences[index]

    def _mentions(self) -> list[_Mention]:
        """The mentions of the themes to emit, in text order: a parent's mention gives way to its child's."""
        if PARENT_WITH_CHILD == "never":
            mentioned = {mention.theme for mention in self._theme_hits}
            parents = {self.index.parent_of[theme] for theme in mentioned} - {None}
            kept = [m for m in self._theme_hits if m.theme not in parents]
        else:
            clause_of = self._clause_index
            specified = {(self.index.parent_of[m.theme], clause_of(m)) for m in self._theme_hits}
            kept = [m for m in self._theme_hits if (m.theme, clause_of(m)) not in specified]
        return sorted(kept, key=lambda m: (m.hit.first, m.hit.last))

    def _clause_index(self, mention: _Mention) -> int:
        index = self._clause_number(self.tokens[mention.hit.first].start)
        return -1 if index is None else index

    def _read_contrasts(self) -> None:
        """A clause that names no theme but contrasts with the one before it is about that clause's themes:
        "support was friendly, but in the end they fixed nothing" says good and bad about support."""
        clauses = self.segmentation.clauses
        named = {self._clause_index(mention) for mention in self._theme_hits}
        for mention in self.mentions:
            following = self._clause_index(mention) + 1
            contrasting = 0 < following < len(clauses) and self.segmentation.after_contrast[following]
            conceding = contrasting and self.segmentation.after_concession[following]
            if contrasting and not conceding and following not in named:
                self.readings[mention.theme].append((self._read(clauses[following], mention),))

    def _readings_for(self, mention: _Mention) -> tuple[_Reading, ...]:
        start = self.tokens[mention.hit.first].start
        whole = Span(0, len(self.document.text))
        piece, clause = self._piece_at(start) or (whole, whole)
        sentence = self._sentence_at(start) or whole
        # Other sentences speak for the theme only when they name no other theme.
        text = [whole] if self._only_theme_in(whole, mention.theme) else []
        spans = [piece, self._with_orphans(piece, clause), clause]
        question = self._is_question(start)
        readings = [self._read(span, mention, question) for span in dict.fromkeys(spans)]
        opposite = self._contrasting_clause(start)
        if opposite is not None:
            # "Great screen, but the battery lasts no day": a silent side of a contrast says the opposite.
            other_side = self._read(opposite, mention, question, scoped=False)
            other_side.inverted, other_side.shown = True, clause
            readings.append(other_side)
        later = [span for span in dict.fromkeys([sentence, *text]) if span not in spans]
        return (*readings, *(self._read(span, mention, question) for span in later))

    def _contrasting_clause(self, position: int) -> Span | None:
        """The clause on the other side of a contrastive conjunction from the clause at `position`."""
        clauses, contrast = self.segmentation.clauses, self.segmentation.after_contrast
        index = self._clause_number(position)
        if index is None:
            return None
        if contrast[index]:
            return clauses[index - 1]
        if index + 1 < len(clauses) and contrast[index + 1]:
            return clauses[index + 1]
        return None

    def _with_orphans(self, piece: Span, clause: Span) -> Span:
        """The piece and the pieces after it in its clause that name no theme: "the courier left it outside,
        didn't even ring" is all about the courier."""
        known = self._orphans.get((piece, clause))
        if known is not None:
            return known
        end = piece.end
        pieces = self.segmentation.pieces
        # Pieces are in text order: the ones after `piece` in its clause follow it in the list.
        for index in range(bisect_left(self._piece_starts, piece.end), len(pieces)):
            other = pieces[index][0]
            if not other.start < clause.end or not self._names_no_theme(other):
                break
            end = other.end
        self._orphans[(piece, clause)] = Span(piece.start, end)
        return self._orphans[(piece, clause)]

    def _names_no_theme(self, span: Span) -> bool:
        starts = self._theme_hit_starts
        first = bisect_left(starts, span.start)
        return first == len(starts) or starts[first] >= span.end

    def _is_question(self, position: int) -> bool:
        """Whether the sentence holding `position` ends with a question mark (or opens with Spanish "¿")."""
        text, ends = self.document.text, self._sentence_ends
        following = bisect_left(ends, position)
        if following < len(ends) and text[ends[following]] == "?":
            return True
        start = ends[following - 1] + 1 if following else 0
        # Cut at `position`, a point just before it ends a sentence whatever follows (as `finditer` saw it).
        if position > 0 and text[position - 1] == ".":
            start = position
        return "¿" in text[start:position]

    def _only_theme_in(self, span: Span, theme: str) -> bool:
        starts = self._theme_hit_starts
        first, end = bisect_left(starts, span.start), bisect_left(starts, span.end)
        return all(mention.theme == theme for mention in self._theme_hits[first:end])

    def _read(self, span: Span, mention: _Mention, question: bool = False, scoped: bool = True) -> _Reading:
        """A span's cue score for the mentioned theme, and its text for the analyzer without theme words."""
        scope = mention.theme if scoped else None
        key = (span, mention.language, scope)
        if key not in self._span_reads:
            starts = self._token_starts
            first, end = bisect_left(starts, span.start), bisect_left(starts, span.end)
            score = 0
            if first < end:
                tokens = self.tokens[first:end]
                languages = [mention.language] if mention.language else self.index.keyword_languages
                for language in languages:
                    score += self._cue_score(tokens, language, scope, span)
            self._span_reads[key] = (score, self._masked(span))
        score, masked = self._span_reads[key]
        return _Reading(span, masked, score, question=question)

    def _cue_score(self, tokens: list[Token], language: str, theme: str | None, span: Span) -> int:
        indexes = self.index.by_language[language]
        # Theme-scoped cues read for their theme only ("cheap" is bad news about quality, good about price).
        scopes = [theme, self.index.parent_of.get(theme)] if theme else []
        hits = indexes.cues.find(tokens, [span])
        for scope in scopes:
            if scope in indexes.scoped_cues:
                hits += indexes.scoped_cues[scope].find(tokens, [span])
        hits = _longest_first_hits(hits)
        # "did not arrive late": the negator reaches the polar word, not the expected event before it.
        polar = [hit for hit in hits if _CUE_POLARITY[hit.label] != 0]
        # Of two one-word polar cues side by side, the first qualifies the second ("bien augmenté").
        one_word_starts = {hit.first for hit in polar if hit.first == hit.last}
        polar = [hit for hit in polar if not (hit.first == hit.last and hit.last + 1 in one_word_starts)]
        score = 0
        for hit in polar or hits:
            negated = is_negated(tokens, hit.first, span, language)
            negated = negated or _trailing_negator(tokens, hit, language)
            polarity = _CUE_POLARITY[hit.label]
            if polarity == 0:
                score -= 1 if negated else 0
            else:
                score += -polarity if negated else polarity
        return score

    def _masked(self, span: Span) -> str:
        """The span's text without the words of any theme mention (kept: everything else, in order)."""
        text = self.document.text
        pieces, cursor = [], span.start
        starts = self._theme_hit_starts
        inside = self._theme_hits[bisect_left(starts, span.start) : bisect_left(starts, span.end)]
        for mention in inside:
            start, end = self.tokens[mention.hit.first].start, self.tokens[mention.hit.last].end
            if end <= span.end and start >= cursor:
                pieces.append(text[cursor:start])
                cursor = end
        pieces.append(text[cursor : span.end])
        return " ".join("".join(pieces).split())

    def _span_id(self, span: Span) -> str:
        return f"{self.document.key}\x1f{span.start}:{span.end}"

    def spans_to_score(self) -> list[tuple[str, str, str | None]]:
        seen: dict[str, tuple[str, str, str | None]] = {}
        for readings in self.readings.values():
            for narrowest_first in readings:
                for reading in narrowest_first:
                    if reading.text_for_analyzer.strip():
                        span_id = self._span_id(reading.span)
                        seen[span_id] = (span_id, reading.text_for_analyzer, self.language)
        return list(seen.values())

    def matches(self, labels: dict[str, str | None]) -> list[ThemeMatch]:
        matches = []
        for theme, readings in self.readings.items():
            verdicts: list[tuple[str, Span]] = []
            for narrowest_first in readings:
                for reading in narrowest_first:
                    if reading.question:
                        sentiment = NEGATIVE if reading.cue_score < 0 else None
                    else:
                        sentiment = _decide(labels.get(self._span_id(reading.span)), reading.cue_score)
                    if sentiment is not None and reading.inverted:
                        sentiment = _OPPOSITE.get(sentiment)
                    if sentiment is not None:
                        verdicts.append((sentiment, reading.shown or reading.span))
                        break
            sentiment, span = _combine(verdicts, default_span=readings[0][0].span)
            evidence = self.document.text[span.start : span.end]
            matches.append(ThemeMatch(id=theme, sentiment=sentiment, evidence=evidence))
        return matches


def _decide(label: str | None, cue_score: int) -> str | None:
    """A span's sentiment about the theme from the analyzer's label and the cues; None when neither speaks."""
    cue = POSITIVE if cue_score > 0 else NEGATIVE if cue_score < 0 else None
    if cue is None:
        return label if label in (POSITIVE, NEGATIVE, MIXED) else None
    return MIXED if label == MIXED else cue


def _combine(verdicts: list[tuple[str, Span]], default_span: Span) -> tuple[ThemeSentiment, Span]:
    """One sentiment for a theme mentioned several times: MIXED when mentions disagree."""
    if not verdicts:
        return NEUTRAL, default_span
    labels = {label for label, _ in verdicts}
    first_label, first_span = verdicts[0]
    if MIXED in labels or {POSITIVE, NEGATIVE} <= labels:
        return MIXED, first_span
    return first_label, first_span  # type: ignore[return-value]


def _trailing_negator(tokens: Sequence[Token], hit: Hit, language: str) -> bool:
    words = TRAILING_NEGATORS.get(language)
    if not words:
        return False
    following = tokens[hit.last + 1 : hit.last + 1 + TRAILING_REACH]
    return any(token.lower in words for token in following)


def _longest_first_hits(hits: list[Hit]) -> list[Hit]:
    """The hits no longer hit covers: "on hold" counts once, not also as "hold". Longer means more words, so
    a phrase matched across a gap ("en … stock") hides no phrase matched whole inside it ("rupture de stock").
    """
    # A hit covering another starts at most `reach` words before it: only those starts are looked at.
    reach = max((hit.last - hit.first for hit in hits), default=0)
    furthest_from: dict[int, int] = {}  # a kept hit's first word → the furthest last word kept from there
    kept: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (-h.words, -(h.last - h.first), h.first)):
        starts = range(hit.last - reach, hit.first + 1)
        if not any(furthest_from.get(start, -1) >= hit.last for start in starts):
            kept.append(hit)
            furthest_from[hit.first] = max(furthest_from.get(hit.first, -1), hit.last)
    return sorted(kept, key=lambda h: h.first)


def _longest_first(mentions: list[_Mention]) -> list[_Mention]:
    """Theme mentions no longer mention of another theme covers ("customer service" over "service"). The same
    words as keywords of two themes mention both, whatever their order in the taxonomy: of a parent and its
    child, the child then stands for the parent (`_mentions`)."""
    ordered = sorted(mentions, key=lambda m: (-(m.hit.last - m.hit.first), -m.hit.words, m.hit.first))
    # A mention covering another starts at most `reach` words before it: only those starts are looked at.
    reach = max((m.hit.last - m.hit.first for m in mentions), default=0)
    kept_from: dict[int, list[_Mention]] = defaultdict(list)  # kept mentions by their first word
    kept: list[_Mention] = []
    for mention in ordered:
        hit = mention.hit
        covered = any(
            hit.last <= k.hit.last
            and (k.hit.first, k.hit.last, k.hit.words) != (hit.first, hit.last, hit.words)
            and k.theme != mention.theme
            for start in range(hit.last - reach, hit.first + 1)
            for k in kept_from.get(start, ())
        )
        if not covered:
            kept.append(mention)
            kept_from[hit.first].append(mention)
    return sorted(kept, key=lambda m: (m.hit.first, m.hit.last))
