"""Suggested themes: phrases of stored items that no theme covers (by stem, without stop words, the longest
phrase kept), listed by `themes suggestions` with counts and samples, named by Bedrock when asked, and turned
into a theme only by `themes add --from-suggestion`."""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.stub import Stubber

from chalicelib import aws, cli
from chalicelib.analysis.lexicon import LexiconAnalyzer
from chalicelib.analysis.redaction import PatternRedactor
from chalicelib.analysis.themes.proposals import propose
from chalicelib.analysis.themes.suggestions import Item, Suggestion, suggest
from chalicelib.ingest import processing
from chalicelib.ingest.queue import encode_events
from chalicelib.themes import records
from chalicelib.themes.taxonomy import THEME_ID_PATTERN, Taxonomy, Theme
from tests.factories import form_event

TAXONOMY = Taxonomy(
    themes=[
        Theme(id="delivery", name="Delivery", keywords={"en": ["delivery", "courier"], "es": ["envío"]}),
        Theme(id="price", name="Price", keywords={"en": ["gift card"]}),
    ]
)
TEXTS = [
    ("en", "The gift wrapping was torn and ugly."),
    ("en", "Please offer gift wrapping for birthdays!"),
    ("en", "Gift wrapping looked cheap, but the delivery was fast"),
    ("en", "No gift-wrapping option at all, call me on [PHONE]"),
    ("en", "The courier was rude. Gift card worked."),
    ("en", "Rude courier again"),
    ("en", "Lovely loyalty scheme"),
    ("en", "The loyalty scheme is lovely"),
    ("es", "El envoltorio de regalo llegó roto"),
    ("es", "No hay envoltorios de regalo"),
    ("es", "Envío rápido, envoltorio de regalo precioso"),
]


def items(tagged: set[int] = frozenset()) -> list[Item]:
    return [Item(f"f{i}", text, language, i in tagged) for i, (language, text) in enumerate(TEXTS)]


def test_phrases_no_theme_covers_are_counted_once_per_item_longest_first():
    found = {(s.phrase, s.language): s for s in suggest(items(tagged={2}), TAXONOMY, min_count=2)}

    wrapping = found[("gift wrapping", "en")]
    # "gift-wrapping" is the same phrase; "gift" and "wrapping" alone are folded into it.
    assert (wrapping.count, wrapping.untagged, wrapping.feedback_ids) == (4, 3, ["f0", "f1", "f2"])
    assert ("gift", "en") not in found and ("wrapping", "en") not in found
    # By stem: "envoltorios" is "envoltorio"; "envío" is a keyword, and never part of a phrase.
    assert found[("envoltorio de regalo", "es")].count == 3
    assert found[("loyalty scheme", "en")].count == 2
    # Covered by a keyword (the courier), a stop word at either end, a redaction label: never a phrase.
    phrases = {phrase for phrase, _ in found}
    assert not {"courier", "rude courier", "phone", "the gift", "gift card", "card"} & phrases
    assert "rude" in phrases  # "the courier was rude", "rude courier": rude is not covered
    assert all(not phrase.startswith(("the ", "de ")) for phrase in phrases)


def test_min_count_and_limit_bound_the_list():
    assert [s.phrase for s in suggest(items(), TAXONOMY, min_count=4)] == ["gift wrapping"]
    assert len(suggest(items(), TAXONOMY, min_count=2, limit=2)) == 2
    assert suggest([], TAXONOMY) == []


def test_a_suggestion_proposes_an_id_and_a_name_from_its_phrase():
    suggestion = Suggestion(phrase="envoltorio de regalo", language="es", count=3, untagged=3)
    assert suggestion.proposed_id() == "envoltorio-de-regalo"
    assert suggestion.proposed_name() == "Envoltorio de regalo"
    assert Suggestion(phrase="ñandú", language="es", count=1, untagged=1).proposed_id() == "nandu"


def test_phrases_without_a_latin_letter_propose_ids_of_their_own():
    phrases = ["配達が遅い", "梱包"]
    ids = [Suggestion(phrase=p, language="ja", count=3, untagged=3).proposed_id() for p in phrases]

    assert len(set(ids)) == 2 and all(re.match(THEME_ID_PATTERN, i) and i.startswith("ja-") for i in ids)


def _store_texts(texts: list[tuple[str, str]]) -> list[str]:
    events = [form_event(f"s{i}", text, language) for i, (language, text) in enumerate(texts)]
    bodies = [body for event in events for body in encode_events([event])]
    report = processing.analyze_and_store(bodies, LexiconAnalyzer(), PatternRedactor(), tagger=None)
    assert report.errors == [None] * len(events)
    return [event.feedback_id for event in events]


def test_suggestions_are_listed_saved_and_accepted_only_by_a_person(stack, tmp_path, capsys):
    records.replace(TAXONOMY)
    ids = _store_texts(TEXTS)
    saved = tmp_path / "suggestions.json"

    assert cli.main(["themes", "suggestions", "--min-count", "3", "--no-propose", "--save", str(saved)]) == 0

    out = capsys.readouterr().out
    assert f"{len(TEXTS)} items stored" in out
    assert "1. 'gift wrapping' (en): 4 items, 4 without any theme → gift-wrapping \"Gift wrapping\"" in out
    # Three of the four items using it, each with its text as stored.
    samples = [f"{ids[i]}: {TEXTS[i][1]}" for i in range(4)]
    assert sum(sample in out for sample in samples) == 3
    document = json.loads(saved.read_text(encoding="utf-8"))
    assert [s["phrase"] for s in document["suggestions"]] == ["gift wrapping", "envoltorio de regalo"]
    assert "torn and ugly" not in saved.read_text(encoding="utf-8")  # texts are printed, never saved
    assert records.current_fresh().version == 1  # listing changed nothing

    assert (
        cli.main(["themes", "add", "--from-suggestion", "2", "--suggestions", str(saved), "--name", "Regalo"])
        == 0
    )

    added = records.current_fresh().get("envoltorio-de-regalo")
    assert (added.name, added.keywords) == ("Regalo", {"es": ["envoltorio de regalo"]})
    assert records.current_fresh().version == 2
    capsys.readouterr()
    cli.main(["themes", "suggestions", "--min-count", "3", "--no-propose", "--save", str(saved)])
    assert "envoltorio de regalo" not in capsys.readouterr().out  # covered now

    assert cli.main(["themes", "add", "--from-suggestion", "9", "--suggestions", str(saved)]) == 1
    assert "no suggestion 9" in capsys.readouterr().err
    assert cli.main(["themes", "add", "--name", "No id"]) == 2


def _proposal_reply(themes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": json.dumps({"themes": themes})}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 500, "outputTokens": 120, "totalTokens": 620},
        "metrics": {"latencyMs": 900},
    }


def test_bedrock_proposes_a_name_and_keywords_and_a_person_accepts_them(stack, tmp_path, capsys):
    records.replace(TAXONOMY)
    _store_texts(TEXTS)
    saved = tmp_path / "suggestions.json"
    reply = _proposal_reply(
        [
            {
                "suggestion": 1,
                "id": "gift-wrap",
                "name": "Gift wrapping",
                "description": "Wrapping orders as presents.",
                "keywords": {"en": ["gift wrap", "wrapping paper"], "es": ["envoltorio"]},
            },
            {"suggestion": 2, "id": "delivery", "name": "Taken"},  # an existing id: dropped
        ]
    )

    with Stubber(aws.client("bedrock-runtime")) as stubber:
        stubber.add_response("converse", reply)
        code = cli.main(["themes", "suggestions", "--min-count", "3", "--propose", "--save", str(saved)])
        stubber.assert_no_pending_responses()

    assert code == 0
    out = capsys.readouterr().out
    assert '→ gift-wrap "Gift wrapping"' in out and "keywords en: gift wrap, wrapping paper" in out
    assert '→ envoltorio-de-regalo "Envoltorio de regalo"' in out  # no usable proposal: from the phrase
    assert records.current_fresh().get("gift-wrap") is None

    assert cli.main(["themes", "add", "--from-suggestion", "1", "--suggestions", str(saved)]) == 0
    theme = records.current_fresh().get("gift-wrap")
    assert theme.description == "Wrapping orders as presents."
    assert theme.keywords == {"en": ["gift wrapping", "gift wrap", "wrapping paper"], "es": ["envoltorio"]}


def test_a_failed_proposal_request_proposes_nothing():
    client = aws.client("bedrock-runtime")
    suggestion = Suggestion(phrase="gift wrapping", language="en", count=3, untagged=3, feedback_ids=["f0"])
    with Stubber(client) as stubber:
        stubber.add_client_error("converse", "ThrottlingException", http_status_code=429)
        assert propose(client, "amazon.nova-micro-v1:0", [suggestion], {"f0": "text"}, TAXONOMY) == {}
        stubber.add_response(
            "converse", _proposal_reply([{"suggestion": 1, "id": "Not A Slug", "name": "x"}])
        )
        assert propose(client, "amazon.nova-micro-v1:0", [suggestion], {"f0": "text"}, TAXONOMY) == {}


def test_a_proposal_request_bedrock_refuses_says_why_and_the_list_still_comes(stack, tmp_path, capsys):
    # --propose on an account without access to the model: the person is told, not left guessing.
    records.replace(TAXONOMY)
    _store_texts(TEXTS)
    message = "You don't have access to the model with the specified model ID."

    with Stubber(aws.client("bedrock-runtime")) as stubber:
        stubber.add_client_error("converse", "AccessDeniedException", message, http_status_code=403)
        code = cli.main(
            ["themes", "suggestions", "--min-count", "3", "--propose", "--save", str(tmp_path / "s")]
        )

    assert code == 0
    out = capsys.readouterr().out.splitlines()
    note = f"note: Bedrock proposed nothing (AccessDeniedException: {message}); ids and names are made of"
    assert out[1] == f"{note} the phrases"
    assert any('→ envoltorio-de-regalo "Envoltorio de regalo"' in line for line in out)


def test_a_save_file_that_cannot_be_written_is_an_error_not_a_traceback(stack, tmp_path, capsys):
    records.replace(TAXONOMY)
    _store_texts(TEXTS)
    target = tmp_path / "no-such-folder" / "suggestions.json"

    assert cli.main(["themes", "suggestions", "--min-count", "3", "--save", str(target)]) == 1

    assert f"error: cannot write '{target}': No such file or directory" in capsys.readouterr().err
