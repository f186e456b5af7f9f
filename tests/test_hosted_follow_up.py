"""The follow-up question on the hosted page without JavaScript: a form that asks one per score band shows the
score first (a post that queues nothing and calls no AWS service), then the chosen band's question with the
email (the one post that is queued, with the same origin check, honeypot and one-time response id)."""

from __future__ import annotations

import re
from collections import Counter
from html import unescape
from urllib.parse import urljoin

import pytest

from chalicelib import aws
from chalicelib.forms import records as form_store
from chalicelib.forms.config import FormConfig
from chalicelib.ingest.queue import decode_events
from chalicelib.models import RatingScale
from tests.test_web import HOST, post_hosted

FOLLOW_UP = {"detractor": "What should we improve?", "passive": "What would make it a 10?"}


@pytest.fixture
def follow_up_form(stack) -> FormConfig:
    form = FormConfig(
        form_id="nps-follow",
        name="Checkout NPS",
        follow_up=FOLLOW_UP,
        strings={"fr": {"follow_up_detractor": "Que devrions-nous améliorer ?"}},
    )
    form_store.save(form)
    return form


def page(client, path: str, headers: dict | None = None) -> str:
    response = client.http.get(path, headers={"host": HOST, **(headers or {})})
    assert response.status_code == 200
    return response.body.decode()


def hidden(html: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', html)
    assert match, f"no hidden {name}"
    return unescape(match.group(1))


def comment_label(html: str) -> str:
    match = re.search(r'<label class="field" for="comment">([^<]*)</label>', html)
    assert match, "no comment field"
    return unescape(match.group(1))


def test_a_form_with_follow_ups_opens_on_the_score_alone(client, follow_up_form):
    html = page(client, "/f/nps-follow")

    assert hidden(html, "_step") == "score"
    assert html.count('name="rating"') == 11
    assert 'name="comment"' not in html and 'name="email"' not in html
    assert ">Next</button>" in html
    assert 'name="_hp"' in html  # the honeypot is on every step


def test_a_form_without_follow_ups_stays_one_page(client, stack):
    html = page(client, "/f/demo")

    assert 'name="_step"' not in html
    assert comment_label(html) == "Tell us more (optional)"
    assert ">Send feedback</button>" in html


@pytest.mark.parametrize(
    ("rating", "label"),
    [("3", "What should we improve?"), ("8", "What would make it a 10?"), ("10", "Tell us more (optional)")],
)
def test_the_score_step_asks_the_bands_question_and_queues_nothing(
    client, follow_up_form, stack, rating, label
):
    first = page(client, "/f/nps-follow")
    response_id = hidden(first, "response_id")

    second = post_hosted(
        client, "nps-follow", {"_step": "score", "rating": rating, "response_id": response_id}
    )

    html = second.body.decode()
    assert second.status_code == 200
    assert comment_label(html) == label
    assert hidden(html, "rating") == rating and hidden(html, "response_id") == response_id
    assert 'name="_step"' not in html and 'type="radio"' not in html
    assert f"Your rating: {rating}/10" in html and 'href="../../f/nps-follow"' in html
    assert ">Send feedback</button>" in html
    assert stack.queued_bodies() == []


def test_the_answer_step_stores_the_score_and_the_answer_once_with_its_question(
    client, follow_up_form, stack
):
    response_id = hidden(page(client, "/f/nps-follow"), "response_id")
    second = post_hosted(client, "nps-follow", {"_step": "score", "rating": "4", "response_id": response_id})
    carried = {name: hidden(second.body.decode(), name) for name in ("rating", "response_id")}
    answer = {**carried, "comment": "Checkout is slow", "email": "ann@example.com", "_hp": ""}

    stored = post_hosted(client, "nps-follow", answer)
    again = post_hosted(client, "nps-follow", answer)  # a double click on the second step

    assert (stored.status_code, stored.headers["Location"]) == (303, "../../f/nps-follow/thanks")
    assert again.status_code == 303
    events = [event for body in stack.queued_bodies() for event in decode_events(body)]
    assert len({event.feedback_id for event in events}) == 1
    event = events[0]
    assert (event.rating, event.text, event.author.email) == (4, "Checkout is slow", "ann@example.com")
    assert event.metadata["follow_up_question"] == "What should we improve?"
    assert event.external_id == response_id


def test_the_score_step_makes_no_aws_call_and_the_answer_step_one(client, follow_up_form):
    response_id = hidden(page(client, "/f/nps-follow"), "response_id")  # warms the form cache
    calls: Counter[str] = Counter()

    def count(event_name: str, **kwargs) -> None:
        calls[event_name.split(".", 1)[1]] += 1

    for service in ("sqs", "dynamodb", "s3", "ssm"):
        aws.client(service).meta.events.register("before-call", count)
    post_hosted(client, "nps-follow", {"_step": "score", "rating": "2", "response_id": response_id})
    assert calls == Counter()

    post_hosted(client, "nps-follow", {"rating": "2", "comment": "Slow", "response_id": response_id})
    assert calls == Counter({"sqs.SendMessage": 1})


def test_a_bad_score_is_shown_again_on_the_score_step(client, follow_up_form, stack):
    response = post_hosted(client, "nps-follow", {"_step": "score", "rating": "11"})

    html = response.body.decode()
    assert response.status_code == 422
    assert hidden(html, "_step") == "score"
    assert 'id="rating-error"' in html and "Choose a rating from 0 to 10." in html
    assert stack.queued_bodies() == []


def test_no_score_goes_on_to_the_generic_comment(client, follow_up_form, stack):
    response = post_hosted(client, "nps-follow", {"_step": "score", "rating": ""})

    html = response.body.decode()
    assert response.status_code == 200
    assert comment_label(html) == "Tell us more (optional)"
    assert 'name="rating"' not in html


def test_a_refused_answer_is_shown_again_on_the_answer_step(client, stack):
    form = FormConfig(
        form_id="csat-follow",
        name="Shop CSAT",
        rating_scale=RatingScale.CSAT,
        require_email=True,
        follow_up={"negative": "What went wrong?"},
    )
    form_store.save(form)

    response = post_hosted(client, "csat-follow", {"rating": "2", "comment": "Late", "email": "nope"})

    html = response.body.decode()
    assert response.status_code == 422
    assert comment_label(html) == "What went wrong?"
    assert hidden(html, "rating") == "2" and ">Late</textarea>" in html
    assert 'id="email-error"' in html
    assert stack.queued_bodies() == []


def test_the_steps_speak_the_visitors_language(client, follow_up_form):
    french = {"accept-language": "fr-FR,fr;q=0.9"}
    first = page(client, "/f/nps-follow", french)

    second = post_hosted(client, "nps-follow", {"_step": "score", "rating": "1"}, french)

    assert ">Suivant</button>" in first
    assert comment_label(second.body.decode()) == "Que devrions-nous améliorer ?"
    assert "Votre note : 1/10" in second.body.decode()


def test_a_language_chosen_with_lang_is_kept_through_every_step_and_the_thank_you_page(
    client, follow_up_form, stack
):
    """`/f/nps-follow?lang=fr` in an English browser: the score step was French, the follow-up question, its
    errors and the thank-you page came back English (each post read only Accept-Language)."""
    english = {"accept-language": "en-GB,en;q=0.9"}
    first = page(client, "/f/nps-follow?lang=fr", english)
    score = {"_step": "score", "rating": "1", "_lang": hidden(first, "_lang")}

    second = post_hosted(client, "nps-follow", score, english).body.decode()
    answer = {name: hidden(second, name) for name in ("rating", "response_id", "_lang")}
    refused = post_hosted(client, "nps-follow", {**answer, "email": "nope"}, english)
    stored = post_hosted(client, "nps-follow", {**answer, "comment": "Trop lent"}, english)
    thanks = client.http.get(f"/f/nps-follow/{stored.headers['Location'].rsplit('/', 1)[1]}", headers=english)

    assert (hidden(first, "_lang"), answer["_lang"]) == ("fr", "fr")
    assert comment_label(second) == "Que devrions-nous améliorer ?"
    assert refused.status_code == 422 and 'lang="fr"' in refused.body.decode()
    assert comment_label(refused.body.decode()) == "Que devrions-nous améliorer ?"
    assert stored.headers["Location"] == "../../f/nps-follow/thanks?lang=fr"
    assert 'lang="fr"' in thanks.body.decode()
    # In the browser's own language the address stays as it was.
    fresh = hidden(page(client, "/f/nps-follow", english), "response_id")
    plain = post_hosted(client, "nps-follow", {**answer, "_lang": "en", "response_id": fresh}, english)
    assert plain.headers["Location"] == "../../f/nps-follow/thanks"


def test_the_score_step_keeps_the_origin_check_and_the_honeypot(client, stack):
    guarded = FormConfig(
        form_id="guarded-follow",
        name="Guarded",
        allowed_origins=["https://shop.example.com"],
        follow_up={"detractor": "Why?"},
    )
    form_store.save(guarded)

    elsewhere = post_hosted(
        client, "guarded-follow", {"_step": "score", "rating": "3"}, {"origin": "https://evil.example"}
    )
    bot = post_hosted(client, "guarded-follow", {"_step": "score", "rating": "3", "_hp": "http://spam"})

    assert elsewhere.status_code == 403 and "Why?" not in elsewhere.body.decode()
    assert (bot.status_code, bot.headers["Location"]) == (303, "../../f/guarded-follow/thanks")
    assert stack.queued_bodies() == []


def test_the_links_back_to_the_form_keep_a_language_chosen_with_lang(client, follow_up_form, stack):
    """A French link's reader in an English browser: "Modifier" (choose the score again) and "Envoyer une
    autre réponse" led back to the form in English."""
    english = {"accept-language": "en-GB,en;q=0.9"}
    score = {"_step": "score", "rating": "1", "_lang": "fr"}
    step = post_hosted(client, "nps-follow", score, english).body.decode()
    change = re.search(r'<a href="([^"]+)">Modifier</a>', step)
    thanks = page(client, "/f/nps-follow/thanks?lang=fr", english)
    another = re.search(r'<a href="([^"]+)">Envoyer une autre réponse</a>', thanks)
    assert change and another

    for here, link in (("/forms/nps-follow/responses", change), ("/f/nps-follow/thanks", another)):
        target = urljoin(f"https://{HOST}{here}", unescape(link.group(1)))
        assert target == f"https://{HOST}/f/nps-follow?lang=fr"
        assert '<html lang="fr"' in page(client, target.removeprefix(f"https://{HOST}"), english)
