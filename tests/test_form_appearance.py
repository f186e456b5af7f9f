"""A form's branding, translations, follow-up questions, CSAT style and display rules: what the config
accepts (a bad value is refused naming its field, nothing stored), what `forms update` sets, what the public
config tells the widget and what the hosted page shows."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from chalicelib import cli
from chalicelib.forms import records as form_store
from chalicelib.forms.appearance import band_of, builtin_strings, readable_on, string_keys
from chalicelib.forms.config import FormConfig
from chalicelib.ingest.queue import decode_events
from chalicelib.models import RatingScale

SHIPPED_LANGUAGES = {"en", "es", "fr", "de", "pt", "it", "nl"}

# (config fields, the field the error names, the CLI option that sets it, its bad value)
BAD_VALUES = [
    ({"branding": {"accent_color": "red"}}, ("branding", "accent_color"), "--accent-color", "red"),
    ({"branding": {"accent_color": "#12345"}}, ("branding", "accent_color"), "--accent-color", "#12345"),
    (
        {"branding": {"accent_color": "#fff;background:url(x)"}},
        ("branding", "accent_color"),
        "--accent-color",
        "#fff;x",
    ),
    (
        {"branding": {"logo_url": "http://cdn.example.com/l.png"}},
        ("branding", "logo_url"),
        "--logo-url",
        "http://x.io/l.png",
    ),
    (
        {"branding": {"logo_url": "javascript:alert(1)"}},
        ("branding", "logo_url"),
        "--logo-url",
        "javascript:alert(1)",
    ),
    (
        {"branding": {"privacy_url": "http://x.example/p"}},
        ("branding", "privacy_url"),
        "--privacy-url",
        "http://x.io/p",
    ),
    ({"branding": {"position": "top"}}, ("branding", "position"), "--position", None),
    ({"branding": {"button_label": "b" * 41}}, ("branding", "button_label"), "--button-label", "b" * 41),
    ({"branding": {"intro": "i" * 501}}, ("branding", "intro"), "--intro", "i" * 501),
    ({"branding": {"privacy_note": "p" * 201}}, ("branding", "privacy_note"), "--privacy-note", "p" * 201),
    ({"csat_style": "emoji"}, ("csat_style",), "--csat-style", None),
    ({"display": {"sample_percent": 101}}, ("display", "sample_percent"), "--sample", "101"),
    ({"display": {"sample_percent": -1}}, ("display", "sample_percent"), "--sample", "-1"),
    ({"display": {"delay_seconds": -5}}, ("display", "delay_seconds"), "--delay", "-5"),
    ({"display": {"scroll_percent": 150}}, ("display", "scroll_percent"), "--scroll", "150"),
    ({"display": {"snooze_days": 400}}, ("display", "snooze_days"), "--snooze-days", "400"),
    ({"display": {"include_urls": ["/shop /cart"]}}, ("display", "include_urls"), "--include-url", "/a b"),
    ({"display": {"exclude_urls": ["x" * 201]}}, ("display", "exclude_urls"), "--exclude-url", "x" * 201),
    ({"strings": {"fr": {"no_such_key": "x"}}}, ("strings",), "--string", "fr.no_such_key=x"),
    ({"strings": {"french": {"send": "x"}}}, ("strings",), "--string", "french.send=x"),
    ({"strings": {"fr": {"send": "s" * 301}}}, ("strings",), "--string", "fr.send=" + "s" * 301),
    ({"follow_up": {"negative": "Why?"}}, ("follow_up",), "--follow-up", "negative=Why?"),  # an NPS form
    (
        {"follow_up": {"promoter": "q" * 301}},
        ("follow_up", "promoter"),
        "--follow-up",
        "promoter=" + "q" * 301,
    ),
]


@pytest.mark.parametrize(("fields", "loc", "option", "cli_value"), BAD_VALUES)
def test_a_bad_value_is_refused_naming_its_field(fields, loc, option, cli_value):
    with pytest.raises(ValidationError) as refused:
        FormConfig(form_id="shop", name="Shop", **fields)

    assert [tuple(issue["loc"][: len(loc)]) for issue in refused.value.errors()] == [loc]


@pytest.mark.parametrize(
    ("fields", "loc", "option", "cli_value"), [c for c in BAD_VALUES if c[3] is not None]
)
def test_forms_update_refuses_a_bad_value_naming_the_option_and_stores_nothing(
    stack, capsys, fields, loc, option, cli_value
):
    before = form_store.get_cached("demo").model_dump()

    assert cli.main(["forms", "update", "demo", f"{option}={cli_value}"]) == 2

    assert f"error: {option}:" in capsys.readouterr().err
    form_store.clear_cache()
    assert form_store.get_cached("demo").model_dump() == before


def test_forms_update_sets_every_option_and_the_public_config_tells_the_widget(stack, client, capsys):
    options = [
        *("--accent-color", "#E4572E", "--button-label", "Tell us", "--position", "bottom-left"),
        *("--logo-url", "https://cdn.example.com/logo.png", "--intro", "Two minutes, promise."),
        *(
            "--privacy-note",
            "We only use your email to reply.",
            "--privacy-url",
            "https://shop.example/privacy",
        ),
        *("--string", "fr.send=Envoyer !", "--string", "de.comment=Was noch?"),
        *("--follow-up", "detractor=What should we improve?", "--follow-up", "promoter=What do you love?"),
        *("--delay", "5", "--scroll", "40", "--exit-intent", "--include-url", "https://shop.example/*"),
        *("--exclude-url", "/checkout/*", "--sample", "12.5", "--snooze-days", "30"),
    ]
    assert cli.main(["forms", "update", "demo", *options]) == 0
    capsys.readouterr()
    form_store.clear_cache()

    config = client.http.get("/forms/demo").json_body
    assert config["branding"] == {
        "accent_color": "#e4572e",
        "on_accent": "#0b1220",
        "button_label": "Tell us",
        "position": "bottom-left",
        "logo_url": "https://cdn.example.com/logo.png",
        "intro": "Two minutes, promise.",
        "privacy_note": "We only use your email to reply.",
        "privacy_url": "https://shop.example/privacy",
    }
    assert config["strings"] == {"fr": {"send": "Envoyer !"}, "de": {"comment": "Was noch?"}}
    assert config["follow_up"] == {"detractor": "What should we improve?", "promoter": "What do you love?"}
    assert config["display"] == {
        "delay_seconds": 5,
        "scroll_percent": 40,
        "exit_intent": True,
        "include_urls": ["https://shop.example/*"],
        "exclude_urls": ["/checkout/*"],
        "sample_percent": 12.5,
        "snooze_days": 30,
    }
    assert "allowed_origins" not in config and "redact_pii" not in config

    # An empty value clears a text; a list option replaces the list; other settings stay.
    cleared = ["--intro", "", "--string", "fr.send=", "--follow-up", "promoter=", "--include-url", ""]
    assert cli.main(["forms", "update", "demo", *cleared, "--no-exit-intent"]) == 0
    form_store.clear_cache()
    form = form_store.get_cached("demo")
    assert form.branding.intro is None and form.branding.button_label == "Tell us"
    assert form.strings == {"de": {"comment": "Was noch?"}}
    assert form.follow_up == {"detractor": "What should we improve?"}
    assert (form.display.include_urls, form.display.exit_intent, form.display.delay_seconds) == ([], False, 5)


def test_every_shipped_language_has_every_string():
    strings = builtin_strings()

    assert set(strings) >= SHIPPED_LANGUAGES
    for language, texts in strings.items():
        assert set(texts) == set(strings["en"]), language
        assert all(text.strip() for text in texts.values()), language
    assert set(strings["en"]) <= set(string_keys())
    # Translated, not copied: every language words the button differently from English.
    assert len({strings[language]["send"] for language in SHIPPED_LANGUAGES}) == len(SHIPPED_LANGUAGES)


@pytest.mark.parametrize(
    ("scale", "ratings", "bands"),
    [
        (RatingScale.NPS, range(11), ["detractor"] * 7 + ["passive"] * 2 + ["promoter"] * 2),
        (RatingScale.CSAT, range(1, 6), ["negative", "negative", "neutral", "positive", "positive"]),
        (RatingScale.STARS, range(1, 6), ["negative", "negative", "neutral", "positive", "positive"]),
    ],
)
def test_score_bands(scale, ratings, bands):
    assert [band_of(scale, rating) for rating in ratings] == bands


@pytest.mark.parametrize(
    ("accent", "text"), [("#ffffff", "#0b1220"), ("#000", "#ffffff"), ("#2456c9", "#ffffff")]
)
def test_text_on_the_accent_is_the_more_readable(accent, text):
    assert readable_on(accent) == text


# --- the hosted page ---------------------------------------------------------------------------------------


@pytest.fixture
def branded(stack) -> FormConfig:
    form = FormConfig(
        form_id="branded",
        name="Checkout CSAT",
        rating_scale=RatingScale.CSAT,
        csat_style="faces",
        branding={
            "accent_color": "#0F7B3A",
            "logo_url": "https://cdn.example.com:8443/logo.png",
            "intro": "Tell us how checkout went.",
            "privacy_note": "We use your email only to reply.",
            "privacy_url": "https://shop.example/privacy",
        },
        strings={"fr": {"send": "Envoyer mon avis maintenant"}},
    )
    form_store.save(form)
    return form


def test_the_hosted_page_shows_the_brand_within_its_csp(client, branded):
    response = client.http.get("/f/branded")
    html = response.body.decode()
    csp = response.headers["Content-Security-Policy"]

    assert "img-src 'self' data: https://cdn.example.com:8443;" in csp
    assert '<img class="logo" src="https://cdn.example.com:8443/logo.png" alt="">' in html
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    style = re.search(rf'<style nonce="{nonce}">(.*?)</style>', html, re.S).group(1)
    assert ":root:root{--accent:#0f7b3a;--on-accent:#ffffff}" in style
    assert '<p class="intro">Tell us how checkout went.</p>' in html
    assert 'aria-describedby="privacy-note"' in html
    assert (
        '<p class="privacy" id="privacy-note">We use your email only to reply. '
        '<a href="https://shop.example/privacy">Privacy policy</a></p>'
    ) in html
    # Faces, each named in words for screen readers.
    assert html.count('<span class="sr">') == 5
    assert '<span class="sr">1: Very dissatisfied</span>' in html
    assert '<span class="sr">5: Very satisfied</span>' in html
    assert "rate csat faces" in html
    # A pale accent: dark text on it, and the focus ring in the text colour so it stays visible.
    pale = FormConfig(form_id="pale", name="Pale", branding={"accent_color": "#ffe066"})
    form_store.save(pale)
    assert (
        ":root:root{--accent:#ffe066;--on-accent:#0b1220;--ring:var(--fg)}"
        in client.http.get("/f/pale").body.decode()
    )
    # A form without a logo keeps the strict image policy.
    assert "img-src 'self' data:;" in client.http.get("/f/demo").headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("accept_language", "lang", "question", "send"),
    [
        (
            "fr-FR,fr;q=0.9,en;q=0.5",
            "fr",
            "Êtes-vous satisfait de votre expérience ?",
            "Envoyer mon avis maintenant",
        ),
        ("de-DE,de;q=0.9", "de", "Wie zufrieden sind Sie mit Ihrer Erfahrung?", "Feedback senden"),
        ("sv-SE,es;q=0.8", "es", "¿Qué tan satisfecho estás con tu experiencia?", "Enviar opinión"),
        ("sv-SE", "en", "How satisfied are you with your experience?", "Send feedback"),
    ],
)
def test_the_hosted_page_speaks_the_browsers_language(client, branded, accept_language, lang, question, send):
    html = client.http.get("/f/branded", headers={"Accept-Language": accept_language}).body.decode()

    assert f'<html lang="{lang}" dir="ltr">' in html
    assert f"<legend>{question}</legend>" in html
    assert f'<button type="submit">{send}</button>' in html
    assert f'data-lang="{lang}"' in html


def test_the_preview_shows_a_banner_and_takes_a_language(client, branded):
    html = client.http.get("/f/branded?preview=1&lang=nl").body.decode()

    assert '<p class="preview" role="note">Voorbeeld: antwoorden worden niet verstuurd.</p>' in html
    assert 'data-preview="1"' in html and '<html lang="nl" dir="ltr">' in html
    assert "data-preview" not in client.http.get("/f/branded?lang=xx").body.decode()


def test_a_right_to_left_language_lays_the_hosted_page_out_right_to_left(client, stack):
    """A form with Arabic texts was shown left to right (question mark first, end labels swapped), and its
    spam trap, moved 10,000 px "left", widened such a page by as much."""
    form_store.save(
        FormConfig(form_id="arabic", name="رأيك", strings={"ar": {"send": "أرسل", "question": "ما رأيك؟"}})
    )

    html = client.http.get("/f/arabic", headers={"Accept-Language": "ar-EG,ar;q=0.9"}).body.decode()

    assert '<html lang="ar" dir="rtl">' in html and "<legend>ما رأيك؟</legend>" in html
    assert "left:-10000px" not in html and ".hi{text-align:end}" in html


@pytest.mark.parametrize("follow_up", [{}, {"negative": "What went wrong?"}])  # one page, or the score first
def test_the_preview_sends_nothing_without_javascript(client, branded, follow_up):
    # The banner said "responses are not sent", but without JavaScript (or before widget.js mounted) the
    # plain form posted a real response, counted in the form's scores.
    form_store.save(branded.model_copy(update={"follow_up": follow_up}))
    preview = client.http.get("/f/branded?preview=1").body.decode()
    page = client.http.get("/f/branded").body.decode()

    assert re.findall(r"<button [^>]*>", preview) == ['<button type="submit" disabled>']
    assert re.findall(r"<button [^>]*>", page) == ['<button type="submit">']


def test_the_hosted_pages_texts_stay_escaped(client, stack):
    form = FormConfig(
        form_id="hostile-brand",
        name="Shop",
        branding={"intro": "<script>alert(1)</script>", "privacy_note": '"><img src=x>'},
        strings={"en": {"send": "</button><script>x()</script>"}},
    )
    form_store.save(form)
    html = client.http.get("/f/hostile-brand").body.decode()

    assert "<script>alert" not in html and "<img src=x>" not in html and "<script>x()" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- the follow-up answer in the stored item -------------------------------------------------------------


def test_the_follow_up_answer_is_the_text_and_its_question_rides_in_metadata(client, stack):
    follow_up = {"detractor": "What should we improve?", "passive": "What would make it a 10?"}
    form_store.save(FormConfig(form_id="nps-follow", name="NPS", follow_up=follow_up))
    answers = [
        {"rating": 3, "comment": "Checkout is slow"},
        {"rating": 8, "comment": "Faster delivery"},
        {"rating": 10, "comment": "All good"},  # no promoter question: the generic comment
        {"rating": 2},  # nothing answered: no question recorded
    ]
    for answer in answers:
        response = client.http.post(
            "/forms/nps-follow/responses",
            headers={"content-type": "application/json"},
            body=json.dumps(answer).encode(),
        )
        assert response.status_code == 202

    events = [event for body in stack.queued_bodies() for event in decode_events(body)]
    stored = [(event.rating, event.text, event.metadata.get("follow_up_question")) for event in events]
    assert stored == [
        (3, "Checkout is slow", "What should we improve?"),
        (8, "Faster delivery", "What would make it a 10?"),
        (10, "All good", None),
        (2, "", None),
    ]


def test_the_widget_bench_figures_hold_their_floors():
    """`make bench`'s widget section: the served widget with its seven languages stays in the 12 KB budget,
    the strings table it carries is in it, and a fully set-up form's config stays small."""
    from tools.bench.widget_size import WIDGET_BUDGET_BYTES, widget_size_figures, widget_size_section

    figures = widget_size_figures()

    assert figures["served_gzip"] <= WIDGET_BUDGET_BYTES
    assert figures["strings_gzip"] < figures["served_gzip"]
    assert figures["config_plain"] < figures["config_branded"] <= 2048
    assert f"| {figures['served_gzip']:,} |" in "\n".join(widget_size_section())


@pytest.mark.parametrize(
    ("headers", "body", "rating_message", "email_message"),
    [
        ({}, {}, "Choose a rating or write a comment.", "Enter your email address: this form needs it."),
        (
            {"accept-language": "fr-CH,fr;q=0.9"},
            {},
            "Choisissez une note ou écrivez un commentaire.",
            "Saisissez votre adresse e-mail : ce formulaire en a besoin.",
        ),
        (  # the language the widget sends wins over the header
            {"accept-language": "fr"},
            {"language": "de-AT", "rating": 9, "email": "nope"},
            "Wählen Sie eine Bewertung von 1 bis 5.",
            "Das ist keine gültige E-Mail-Adresse (z. B. name@example.com).",
        ),
        ({"accept-language": "sv"}, {"rating": 0}, "Choose a rating from 1 to 5.", None),
    ],
)
def test_refused_responses_are_explained_in_the_visitors_language(
    client, stack, csat_form, headers, body, rating_message, email_message
):
    response = client.http.post(
        f"/forms/{csat_form.form_id}/responses",
        headers={"content-type": "application/json", "origin": "https://shop.example.com", **headers},
        body=json.dumps(body).encode(),
    )

    assert response.status_code == 422
    fields = json.loads(response.body)["error"]["fields"]
    assert fields["rating"] == rating_message
    assert fields.get("email") == (email_message or fields.get("email"))
    assert stack.queued_bodies() == []


@pytest.mark.parametrize(
    ("override", "shown"),
    [
        ("Une note de {low} à {high}, svp.", "Une note de 1 à 5, svp."),
        ("Entre {low} et {high} {", "Entre 1 et 5 {"),  # a lone brace: str.format raised, a 500
        ("Note {0} ou {note} ?", "Note {0} ou {note} ?"),  # unknown fields: KeyError/IndexError, a 500
        ("{low.__class__} à {high}", "{low.__class__} à 5"),  # never parsed as a format field
    ],
)
def test_a_teams_own_wording_of_a_message_is_shown_as_written(client, stack, csat_form, override, shown):
    form_store.save(csat_form.model_copy(update={"strings": {"fr": {"msg_rating_range": override}}}))

    response = client.http.post(
        f"/forms/{csat_form.form_id}/responses",
        headers={"content-type": "application/json", "origin": "https://shop.example.com"},
        body=json.dumps({"rating": 9, "language": "fr", "email": "a@example.com"}).encode(),
    )

    assert response.status_code == 422
    assert json.loads(response.body)["error"]["fields"] == {"rating": shown}
    assert stack.queued_bodies() == []


@pytest.mark.parametrize(
    ("path", "headers", "lang", "title", "message"),
    [
        (
            "/f/spring-2025",
            {"accept-language": "fr-CH,fr;q=0.9"},
            "fr",
            "Désolé",
            "Ce formulaire est introuvable.",
        ),
        ("/f/spring-2025?lang=de", {}, "de", "Entschuldigung", "Dieses Feedback-Formular gibt es nicht."),
        (
            "/f/spring-2025/thanks",
            {"accept-language": "es"},
            "es",
            "Lo sentimos",
            "Este formulario no existe.",
        ),
        ("/f/spring-2025", {"accept-language": "ja"}, "en", "Sorry", "This feedback form does not exist."),
    ],
)
def test_a_link_to_a_form_that_is_gone_says_so_in_the_visitors_language(
    client, stack, path, headers, lang, title, message
):
    """A newsletter's link outlives its form (or has a typo): the page says so in the reader's language."""
    response = client.http.get(path, headers=headers)

    page = response.body.decode()
    assert response.status_code == 404
    assert f'<html lang="{lang}"' in page
    assert f"<h1>{title}</h1>" in page and f"<title>{title}</title>" in page
    assert message in page
