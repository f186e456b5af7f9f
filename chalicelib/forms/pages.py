"""Server-rendered HTML: the hosted form page, its thank-you and error pages, and the headers every page gets.

Every value that comes from a form's configuration or a visitor's input goes through `html.escape`. Links are
relative (`../widget.js` from `/f/{id}`), so the pages work under an API Gateway stage prefix (`/api/…`) and
in the local stack alike. Each page has a Content-Security-Policy that allows only this API's own scripts,
styles (plus the page's inline style, by nonce) and requests. Pages are never cached: each render has its
own nonce and the hosted form its own one-time `response_id` (a double click or a resubmit of that page is
stored once).
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable, Mapping
from html import escape
from typing import Any

from chalice import Response
from chalice.app import Request

from chalicelib.forms.appearance import (
    DEFAULT_LANGUAGE,
    RIGHT_TO_LEFT_LANGUAGES,
    band_of,
    bands_of,
    builtin_strings,
    languages_of,
    strings_for,
)
from chalicelib.forms.config import FormConfig
from chalicelib.forms.validation import RESPONSE_ID_PATTERN
from chalicelib.http import accept_language_hint, as_api_error
from chalicelib.models import RatingScale
from chalicelib.web.html import html_response

# Relative path from a page to the API's root: /f/{id} → "../", /f/{id}/thanks and /forms/{id}/responses
# (where a failed hosted-page post is answered) → "../../".
FORM_PREFIX = "../"
POST_PREFIX = "../../"

# Fields shown on the page; errors on any other field (response_id, language …) go above the form.
PAGE_FIELDS = ("rating", "comment", "email")


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def prefers_html(accept: str | None) -> bool:
    """Whether an Accept header asks for text/html at least as much as for JSON (a browser navigation does;
    `fetch` with its default `*/*` and API clients do not: only an explicit text/html counts)."""
    html_q = json_q = 0.0
    for media_range in (accept or "").split(","):
        media, *parameters = media_range.split(";")
        media, q = media.strip().lower(), _quality(parameters)
        if media == "text/html":
            html_q = max(html_q, q)
        elif media in {"application/json", "application/*", "*/*"}:
            json_q = max(json_q, q)
    return html_q > 0 and html_q >= json_q


# Each text runs in its own words' direction (English a form does not translate, on an Arabic page, keeps
# "(optional)" and its full stop at the end), aligned as the page is.
PAGE_STYLE = """
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--fg:#1b1f24;--muted:#5b6470;--line:#c9ced6;
--accent:#2456c9;--on-accent:#fff;--err:#b3261e}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--card:#1b2027;--fg:#e8eaed;--muted:#aab2bd;
--line:#3a424d;--accent:#8ab4ff;--on-accent:#0b1220;--err:#ffb4ab}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",
Roboto,sans-serif}
main{max-width:36rem;margin:2rem auto;padding:0 1rem}
.card{padding:1.25rem;background:var(--card);border-radius:12px;border:1px solid var(--line)}
h1{font-size:1.4rem;margin:0 0 1rem}
fieldset{border:0;margin:0 0 1rem;padding:0}
legend{font-weight:600;margin-bottom:.5rem}
h1,p,legend,label.field{unicode-bidi:plaintext;text-align:left}
[dir=rtl] :is(h1,p,legend,label.field){text-align:right}
.rate{display:flex;flex-wrap:wrap;gap:.25rem .5rem}
.scale{flex:1 1 100%;order:-1;display:grid;grid-template-columns:repeat(5,minmax(0,1fr));gap:.35rem}
.lo,.hi{flex:1 1 40%;contain:inline-size;color:var(--muted);font-size:.85rem}
.hi{text-align:end}
.nps{container-type:inline-size}
.nps .scale{order:0;grid-template-columns:repeat(30,minmax(0,1fr))}
.nps .opt{grid-column:span 5}
.nps .opt:nth-child(n+7){grid-column:span 6}
.nps .lo,.nps .hi{flex-basis:100%}
@container (min-width:21.25rem){.nps .scale{order:-1;grid-template-columns:repeat(11,minmax(0,1fr));gap:.2rem}
.nps .scale .opt{grid-column:auto}.nps .lo,.nps .hi{flex-basis:40%}}
.stars{display:inline-flex;column-gap:0}
.stars .scale{display:flex;gap:.15rem}
.opt{position:relative}
.opt input{position:absolute;opacity:0;inset:0;width:100%;height:100%;margin:0;cursor:pointer}
.opt>span{display:block;padding:.45rem 0;text-align:center;border-radius:8px;border:1px solid var(--line)}
.opt input:checked+span{background:var(--accent);color:var(--on-accent);border-color:var(--accent)}
.stars .opt>span{font-size:1.5rem;line-height:1;padding:.4rem;border-color:transparent;color:var(--muted)}
.stars .opt:has(~.opt input:checked)>span,.stars .opt input:checked+span{background:none;color:#e0a100}
.opt input:focus-visible+span,textarea:focus-visible,input:focus-visible,button:focus-visible,a:focus-visible{
outline:3px solid var(--ring,var(--accent));outline-offset:2px}
label.field{display:block;font-weight:600;margin:.75rem 0 .25rem}
textarea,input[type=email]{width:100%;font:inherit;color:inherit;background:var(--card);padding:.5rem;
border:1px solid var(--line);border-radius:8px}
textarea{min-height:6rem}
button{margin-top:1rem;font:inherit;font-weight:600;padding:.6rem 1.2rem;border:0;border-radius:8px;
background:var(--accent);color:var(--on-accent);cursor:pointer}
.err{color:var(--err);margin:.25rem 0 0;font-size:.9rem}
[aria-invalid=true]{border-color:var(--err)}
.alert{border:1px solid var(--err);color:var(--err);padding:.25rem .75rem;border-radius:8px;
margin-bottom:1rem}
.alert p{margin:.25rem 0}
.hp{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.brand{display:flex;align-items:center;gap:.75rem;margin:0 0 1rem}.brand h1{margin:0}
.logo{max-height:3rem;max-width:10rem;object-fit:contain}
.intro{margin:0 0 1rem}
.privacy{color:var(--muted);font-size:.85rem;margin:.35rem 0 0}
.privacy a{color:inherit}
.preview{border:1px dashed var(--muted);padding:.25rem .75rem;border-radius:8px;color:var(--muted)}
.faces .opt>span{font-size:1.6rem;line-height:1;padding:.35rem 0}
.chosen{margin:0 0 .5rem;color:var(--muted)}.chosen a{color:inherit}
"""

# The faces of a CSAT form drawn as faces, 1 (very dissatisfied) to 5 (very satisfied); their names are
# the strings face_1 … face_5, so screen readers hear words, not emoji names.
FACES = ("😠", "😞", "😐", "😊", "😄")


def _accent_style(form: FormConfig | None) -> str:
    # A validated hex colour (never free text), in both colour schemes: the brand's colour wins.
    if form is None or not form.branding.accent_color:
        return ""
    accent, on_accent = form.branding.accent_color, form.branding.on_accent
    # A pale accent (dark text on it) would make a faint focus ring: the ring takes the text colour then;
    # a dark one (white text on it) does in dark mode, on the dark card.
    if on_accent != "#ffffff":
        return f":root:root{{--accent:{accent};--on-accent:{on_accent};--ring:var(--fg)}}"
    dark_ring = "@media (prefers-color-scheme:dark){:root:root{--ring:var(--fg)}}"
    return f":root:root{{--accent:{accent};--on-accent:{on_accent}}}{dark_ring}"


def _page(
    title: str,
    content: str,
    nonce: str,
    script: str = "",
    *,
    language: str = "en",
    form: FormConfig | None = None,
) -> str:
    # A right-to-left language sets the page's direction; the spam trap (.hp) is clipped in place, since
    # moved 10,000 px "left" it would widen such a page by as much.
    direction = "rtl" if language.split("-", maxsplit=1)[0] in RIGHT_TO_LEFT_LANGUAGES else "ltr"
    return (
        f'<!doctype html>\n<html lang="{escape(language)}" dir="{direction}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title>"
        f'<style nonce="{nonce}">{PAGE_STYLE}{_accent_style(form)}</style></head>'
        f"<body><main>{content}</main>{script}</body></html>\n"
    )


def _error_text(errors: Mapping[str, str], field: str) -> str:
    message = errors.get(field)
    return f'<p class="err" id="{field}-error">{escape(message)}</p>' if message else ""


def _rating_options(form: FormConfig, checked: str | None, texts: Mapping[str, str]) -> str:
    """The rating's radio buttons between its end labels. PAGE_STYLE lays them out: one row with the labels
    under both ends, or (0 to 10 in a narrow column) 0-5 over 6-10 with the low label above 0, the high one
    under 10. Screen readers hear an end label in its option's name."""
    low, high = form.rating_scale.bounds
    low_label, high_label = texts["low_label"], texts["high_label"]
    faces = form.rating_scale is RatingScale.CSAT and form.csat_style == "faces"
    options = []
    for value in range(low, high + 1):
        hint = low_label if value == low else high_label if value == high else ""
        named = f" ({escape(hint)})" if hint else ""
        if form.rating_scale is RatingScale.STARS:
            stars = texts["stars" if value > 1 else "star"].replace("{n}", str(value))
            text = f'<span aria-hidden="true">★</span><span class="sr">{escape(stars)}{named}</span>'
        elif faces:
            name = f"{value}: {texts[f'face_{value}']}"
            text = f'<span aria-hidden="true">{FACES[value - 1]}</span><span class="sr">{escape(name)}</span>'
        else:
            text = f"{value}" + (f'<span class="sr">{named}</span>' if hint else "")
        mark = " checked" if checked == str(value) else ""
        options.append(
            f'<label class="opt"><input type="radio" name="rating" value="{value}"{mark}>'
            f"<span>{text}</span></label>"
        )
    return (
        f'<div class="rate {form.rating_scale.value}{" faces" if faces else ""}">'
        f'<span class="lo" aria-hidden="true">{escape(low_label)}</span>'
        f'<div class="scale">{"".join(options)}</div>'
        f'<span class="hi" aria-hidden="true">{escape(high_label)}</span></div>'
    )


def new_response_id() -> str:
    """A one-time id for one render of the hosted form: every post of that page is the same response."""
    return f"h-{secrets.token_urlsafe(18)}"


def _page_response_id(values: Mapping[str, Any], errors: Mapping[str, str]) -> str:
    # A refused post keeps its id (nothing was stored under it), so a double click on the corrected page
    # still stores once; a missing or malformed one gets a fresh id.
    kept = values.get("response_id")
    if isinstance(kept, str) and "response_id" not in errors and re.fullmatch(RESPONSE_ID_PATTERN, kept):
        return kept
    return new_response_id()


def _privacy_note(form: FormConfig, texts: Mapping[str, str]) -> str:
    note = texts.get("privacy_note")
    if not note:
        return ""
    link = form.branding.privacy_url
    anchor = f' <a href="{escape(str(link))}">{escape(texts["privacy_link"])}</a>' if link else ""
    return f'<p class="privacy" id="privacy-note">{escape(note)}{anchor}</p>'


def _heading(form: FormConfig) -> str:
    logo = form.branding.logo_url
    # The heading names the brand's form; the logo beside it adds nothing a screen reader needs.
    image = f'<img class="logo" src="{escape(str(logo))}" alt="">' if logo else ""
    heading = f"<h1>{escape(form.name)}</h1>"
    return f'<div class="brand">{image}{heading}</div>' if image else heading


# The hosted page's steps without JavaScript. A form that asks a follow-up question per score band shows the
# score first (SCORE_STEP: nothing is sent), then the chosen band's question with the email (ANSWER_STEP: the
# one post that is stored); any other form is one page (WHOLE_FORM).
STEP_FIELD = "_step"
WHOLE_FORM, SCORE_STEP, ANSWER_STEP = "form", "score", "answer"
# The page's language travels with each post, so the next step (and the thank-you page) keep a `?lang=` the
# visitor opened the page with rather than fall back to the browser's.
LANGUAGE_FIELD = "_lang"


def follow_up_label(form: FormConfig, texts: Mapping[str, str], rating: Any) -> str | None:
    """The follow-up question the page asks after `rating` (in the page's language), if the form asks one."""
    try:
        score = int(str(rating).strip())
    except ValueError:
        return None
    low, high = form.rating_scale.bounds
    if not low <= score <= high:
        return None
    return texts.get(f"follow_up_{band_of(form.rating_scale, score)}") or None


def asks_follow_up(form: FormConfig, language: str) -> bool:
    """Whether the form asks a follow-up question for some score band in `language`."""
    texts = strings_for(form, language)
    return any(texts.get(f"follow_up_{band}") for band in bands_of(form.rating_scale))


def first_step(form: FormConfig, language: str) -> str:
    """The step the hosted page opens on without JavaScript."""
    return SCORE_STEP if asks_follow_up(form, language) else WHOLE_FORM


def step_after_refusal(form: FormConfig, language: str, errors: Mapping[str, str]) -> str:
    """The step a refused post is shown again on: the score when the score is what is wrong."""
    if not asks_follow_up(form, language):
        return WHOLE_FORM
    return SCORE_STEP if "rating" in errors else ANSWER_STEP


def hosted_form(
    form: FormConfig,
    prefix: str,
    nonce: str,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    *,
    language: str = DEFAULT_LANGUAGE,
    preview: bool = False,
    step: str = WHOLE_FORM,
    keep_language: bool = False,
) -> str:
    """The hosted page in `language`: a plain HTML form posting urlencoded to the response endpoint (works
    without JavaScript); widget.js replaces it with the widget when scripts run. `values` and `errors`
    re-render a refused post with what the visitor typed and each error beside its field. `preview` shows
    the form as a site would (its position, nothing sent). `step` is the page's part of the form (see
    STEP_FIELD): all of it, the score only, or the chosen score's follow-up question and the email."""
    values, errors = values or {}, errors or {}
    texts = strings_for(form, language)
    form_id = escape(form.form_id)

    def value(name: str) -> str:
        raw = values.get(name)
        return escape(str(raw)) if raw is not None else ""

    def described(name: str, *ids: str) -> str:
        names = [f"{name}-error"] if name in errors else []
        names += [i for i in ids if i]
        invalid = ' aria-invalid="true"' if name in errors else ""
        return invalid + (f' aria-describedby="{" ".join(names)}"' if names else "")

    other = [escape(message) for field, message in errors.items() if field not in PAGE_FIELDS]
    summary = ""
    if errors:
        summary = (
            f'<div class="alert" role="alert"><p>{escape(texts["check"])}</p>'
            + "".join(f"<p>{line}</p>" for line in other)
            + "</div>"
        )
    checked = values.get("rating")
    chosen = str(checked).strip() if checked is not None else None
    response_id = escape(_page_response_id(values, errors))
    intro = f'<p class="intro">{escape(texts["intro"])}</p>' if texts.get("intro") else ""
    banner = f'<p class="preview" role="note">{escape(texts["preview"])}</p>' if preview else ""
    widget_options = f' data-lang="{escape(language)}"' + (' data-preview="1"' if preview else "")
    hidden = (
        f'<input type="hidden" name="_hosted" value="1">'
        f'<input type="hidden" name="response_id" value="{response_id}">'
        f'<input type="hidden" name="{LANGUAGE_FIELD}" value="{escape(language)}">'
    )
    rating_error = ' aria-describedby="rating-error"' if "rating" in errors else ""
    rating = (
        f"<fieldset{rating_error}><legend>{escape(texts['question'])}</legend>"
        f"{_rating_options(form, chosen, texts)}{_error_text(errors, 'rating')}</fieldset>"
    )
    honeypot = (
        f'<div class="hp" aria-hidden="true"><label for="hp">{escape(texts["honeypot"])}</label>'
        '<input type="text" id="hp" name="_hp" tabindex="-1" autocomplete="off"></div>'
    )
    if step == SCORE_STEP:
        fields = f'<input type="hidden" name="{STEP_FIELD}" value="{SCORE_STEP}">{rating}{honeypot}'
        button = texts["next"]
    else:
        comment_label = texts["comment"]
        if step == ANSWER_STEP:
            comment_label = follow_up_label(form, texts, chosen) or comment_label
            rating = _chosen_rating(form, prefix, chosen, texts, language if keep_language else None)
        email_label = texts["email_required"] if form.require_email else texts["email"]
        required = " required" if form.require_email else ""
        privacy = _privacy_note(form, texts)
        fields = (
            f"{rating}"
            f'<label class="field" for="comment">{escape(comment_label)}</label>'
            f'<textarea id="comment" name="comment" maxlength="10000"{described("comment")}>'
            f"{value('comment')}</textarea>{_error_text(errors, 'comment')}"
            f'<label class="field" for="email">{escape(email_label)}</label>'
            f'<input type="email" id="email" name="email" autocomplete="email" value="{value("email")}"'
            f"{required}{described('email', 'privacy-note' if privacy else '')}>{privacy}"
            f"{_error_text(errors, 'email')}{honeypot}"
        )
        button = texts["send"]
    # A preview sends nothing: without JavaScript (or before widget.js replaces the form) its button is off.
    disabled = " disabled" if preview else ""
    content = (
        f"{banner}{_heading(form)}{intro}{summary}"
        f'<div data-feedback-form="{form_id}" data-title="none"{widget_options}>'
        f'<form class="card" method="post" action="{prefix}forms/{form_id}/responses" novalidate>'
        f"{hidden}{fields}"
        f'<button type="submit"{disabled}>{escape(button)}</button></form></div>'
    )
    script = f'<script src="{prefix}widget.js" data-form="{form_id}" nonce="{nonce}" async></script>'
    return _page(form.name, content, nonce, script, language=language, form=form)


def _chosen_rating(
    form: FormConfig, prefix: str, chosen: str | None, texts: Mapping[str, str], language: str | None
) -> str:
    """The score chosen on the first step, carried as a hidden field and said in words, with a link back to
    choose again (in `language`: one a link's ?lang= chose over the browser's); nothing when the visitor
    chose none (the comment alone is a response)."""
    if chosen is None or not chosen:
        return ""
    high = form.rating_scale.bounds[1]
    said = texts["your_rating"].replace("{rating}", f"{chosen}/{high}")
    query = f"?lang={escape(language)}" if language else ""
    again = f'<a href="{prefix}f/{escape(form.form_id)}{query}">{escape(texts["change"])}</a>'
    return (
        f'<input type="hidden" name="rating" value="{escape(chosen)}">'
        f'<p class="chosen" id="chosen-rating">{escape(said)} {again}</p>'
    )


def new_nonce() -> str:
    """A fresh CSP nonce for one page."""
    return secrets.token_urlsafe(16)


def page_language(form: FormConfig, accept_language: str | None, chosen: str | None = None) -> str:
    """The language of a page: `chosen` (a preview's ?lang=) if the form has it, else the browser's most
    preferred one the form has, else English."""
    languages = languages_of(form)
    if chosen and chosen.strip().lower() in languages:
        return chosen.strip().lower()
    return accept_language_hint(accept_language, languages) or DEFAULT_LANGUAGE


def _logo_origins(form: FormConfig) -> tuple[str, ...]:
    logo = form.branding.logo_url
    return (f"https://{logo.host}" + (f":{logo.port}" if logo.port != 443 else ""),) if logo else ()


def hosted_form_response(
    form: FormConfig,
    prefix: str,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
    *,
    language: str = DEFAULT_LANGUAGE,
    preview: bool = False,
    step: str = WHOLE_FORM,
    keep_language: bool = False,
) -> Response:
    """The hosted page as a response (422 when it shows a refused post's errors); the CSP lets in the
    form's logo from its own https origin."""
    nonce = new_nonce()
    body = hosted_form(
        form,
        prefix,
        nonce,
        values,
        errors,
        language=language,
        preview=preview,
        step=step,
        keep_language=keep_language,
    )
    return html_response(body, status, nonce, image_origins=_logo_origins(form))


def thanks_response(form: FormConfig, language: str = DEFAULT_LANGUAGE, chosen: bool = False) -> Response:
    """The thank-you page a hosted-page post without JavaScript lands on (303 from the endpoint); `chosen`:
    its language was a link's (?lang=), which "Send another response" keeps."""
    nonce = new_nonce()
    texts = strings_for(form, language)
    query = f"?lang={escape(language)}" if chosen else ""
    content = (
        f'<div class="card"><h1>{escape(form.name)}</h1>'
        f'<p role="status">{escape(texts["thanks_page"])}</p>'
        f'<p><a href="../{escape(form.form_id)}{query}">{escape(texts["another"])}</a></p></div>'
    )
    page = _page(f"{texts['thanks_page']} — {form.name}", content, nonce, language=language, form=form)
    return html_response(page, 200, nonce)


# The errors a visitor of a page can meet whose message the strings table words (the others stay English).
_PAGE_ERRORS = {"unknown_form": "msg_unknown_form"}


def error_response(status: int, message: str, code: str = "", language: str = DEFAULT_LANGUAGE) -> Response:
    """An HTML error page (unknown form, a site the form does not allow, …): in `language` where the
    strings table words its error (a link that outlived its form reaches readers of every language)."""
    nonce = new_nonce()
    texts = {**builtin_strings()[DEFAULT_LANGUAGE], **builtin_strings().get(language, {})}
    title = texts["msg_sorry"]
    if code in _PAGE_ERRORS:
        message = texts[_PAGE_ERRORS[code]]
    content = f'<div class="card"><h1>{escape(title)}</h1><p role="alert">{escape(message)}</p></div>'
    return html_response(_page(title, content, nonce, language=language), status, nonce)


PageView = Callable[..., Response]


def html_errors(request_of: Callable[[], Request]) -> Callable[[PageView], PageView]:
    """Decorate a page route so ApiErrors (unknown form …) and unexpected failures answer as HTML error
    pages, never Chalice's own JSON 500; in the language a link names (`?lang=`) or the browser's."""

    def decorate(view: PageView) -> PageView:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            try:
                return view(*args, **kwargs)
            except Exception as error:  # every failure becomes a page
                api_error = as_api_error(error)
                request = request_of()
                chosen = str((request.query_params or {}).get("lang") or "").strip().lower()
                shipped = tuple(builtin_strings())
                language = (chosen if chosen in shipped else None) or accept_language_hint(
                    request.headers.get("accept-language"), shipped
                )
                return error_response(
                    api_error.status, api_error.message, api_error.code, language or DEFAULT_LANGUAGE
                )

        return wrapper

    return decorate
