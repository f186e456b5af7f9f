/*! Feedback widget, served by the feedback collector as /widget.js.
 *
 * Embed: <script src="https://<api>/widget.js" data-form="<form_id>" async></script>
 * It renders the form inline in every <div data-feedback-form> (the attribute may name another form id), or
 * as a floating button when the page has none. Everything lives in a Shadow DOM, so the page's CSS cannot
 * reach it. It talks only to the API it was loaded from (derived from this script's own src).
 *
 * The script may be on a page twice (a tag manager and a theme, in any order, sync or async, with different
 * query strings): its copies share one registry on `window`, so each placeholder and each form's floating
 * button mounts once and the outbox is sent once.
 *
 * Every response gets a client-generated id (the API's external id, so a resend is stored once) and is
 * written to localStorage before it is sent; it leaves that outbox once the API has answered. A response
 * that could not be sent (offline, 5xx, 429) is sent again on the next page load (only then: a page that
 * is going away and a new one must not both resend it).
 *
 * Texts come from one table per language (chalicelib/web/strings.json, put in below when the API serves this
 * file), picked from the browser's languages, with the form's own texts and per-language overrides on top.
 * The form's display rules (URL patterns, sampling, "not again for N days", delay, scroll depth, exit intent)
 * decide when the widget the script places itself shows; a <div data-feedback-form> the page holds, and the
 * hosted page, always show the form.
 */
(() => {
  'use strict';
  const WIDGET = /\/widget\.js(?:[?#].*)?$/;
  const script = document.currentScript ||
    [...document.querySelectorAll('script[src][data-form]')].find((s) => WIDGET.test(s.src));
  if (!script || !WIDGET.test(script.src)) return;
  const API = script.src.replace(WIDGET, '');
  const FORM = script.getAttribute('data-form') || '';
  const NONCE = script.nonce || script.getAttribute('nonce') || '';
  const OUTBOX = 'feedback-widget:outbox';
  const SEND_TIMEOUT_MS = 20000;
  const STRINGS = /*STRINGS*/{ en: {} };
  // CSAT as faces, 1 (very dissatisfied) to 5 (very satisfied); each named by its face_N string.
  const FACES = ['\u{1F620}', '\u{1F61E}', '\u{1F610}', '\u{1F60A}', '\u{1F604}'];
  const KEY = Symbol.for('feedback-widget');
  // Shared by every copy of this script on the page: hosts claimed, floating forms, APIs flushed, sends.
  const shared = window[KEY] ||
    (window[KEY] = { hosts: new WeakSet(), floating: new Set(), flushed: new Set(), inflight: new Set() });
  const inflight = shared.inflight;

  /* --- outbox: responses not yet answered by the API ------------------------------------------------- */
  const read = () => {
    try { return JSON.parse(localStorage.getItem(OUTBOX) || '[]'); } catch (e) { return []; }
  };
  const write = (list) => {
    try {
      if (list.length) localStorage.setItem(OUTBOX, JSON.stringify(list));
      else localStorage.removeItem(OUTBOX);
      return true;
    } catch (e) { return false; }
  };
  const drop = (id) => write(read().filter((entry) => entry.id !== id));

  const newId = () => 'w-' + Array.from(crypto.getRandomValues(new Uint8Array(16)),
    (byte) => byte.toString(16).padStart(2, '0')).join('');

  /* Sends one outbox entry. {retry: true} when it must be tried again later; otherwise the API answered
     for good (accepted, or refused with a reason) and the entry leaves the outbox. */
  async function send(entry) {
    inflight.add(entry.id);
    // A network that never answers (a train, a captive portal) must not leave the form on "Sending…":
    // after SEND_TIMEOUT_MS the response stays in the outbox for the next page load.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), SEND_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(entry.url, {
        method: 'POST', mode: 'cors', credentials: 'omit', signal: abort.signal,
        headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(entry.body),
      });
    } catch (e) {
      return { retry: true };
    } finally {
      clearTimeout(timer);
      inflight.delete(entry.id);
    }
    const status = response.status;
    if (status >= 500 || status === 408 || status === 429) return { retry: true, status };
    drop(entry.id);
    let data = {};
    try { data = await response.json(); } catch (e) { /* an empty or non-JSON body */ }
    return { ok: response.ok, status, data };
  }

  let flushing = false;
  async function flush() {
    if (flushing) return;
    flushing = true;
    try {
      for (const entry of read()) {
        if (entry.url.indexOf(API + '/') === 0 && !inflight.has(entry.id)) await send(entry);
      }
    } finally {
      flushing = false;
    }
  }

  /* --- texts: the visitor's language, the form's own words, its overrides ---------------------------------- */
  const languageOf = (host, config) => {
    const has = (code) => STRINGS[code] || (config.strings || {})[code];
    const wanted = [host.getAttribute('data-lang'), ...(navigator.languages || [navigator.language])];
    for (const tag of wanted) {
      const code = String(tag || '').toLowerCase().split('-')[0];
      if (code && has(code)) return code;
    }
    return 'en';
  };
  const textsOf = (config, language) => {
    const t = Object.assign({}, STRINGS.en, STRINGS[language]);
    const kind = config.rating_scale;
    // The form's own words where it sets them; its scale's English wording is translated.
    const pick = (field, key) => (config[field] && config[field] !== STRINGS.en[kind + key] && config[field]) ||
      t[kind + key] || config[field] || '';
    t.question = pick('question', '_question');
    t.low_label = pick('low_label', '_low');
    t.high_label = pick('high_label', '_high');
    const brand = config.branding || {};
    t.button_label = brand.button_label || t.feedback;
    if (brand.intro) t.intro = brand.intro;
    if (brand.privacy_note) t.privacy_note = brand.privacy_note;
    for (const [band, question] of Object.entries(config.follow_up || {})) t['follow_up_' + band] = question;
    return Object.assign(t, (config.strings || {})[language]);
  };
  const bandOf = (kind, value) => (kind === 'nps'
    ? (value <= 6 ? 'detractor' : value <= 8 ? 'passive' : 'promoter')
    : (value <= 2 ? 'negative' : value === 3 ? 'neutral' : 'positive'));

  /* --- rendering ----------------------------------------------------------------------------------------- */
  // Each text runs in its own words' direction (English the form does not translate, in an Arabic form,
  // keeps "(optional)" and its full stop at the end), aligned as the form is.
  const CSS = `
:host{all:initial!important;display:block!important}
[hidden]{display:none!important}
*{box-sizing:border-box}
.w{--bg:#fff;--fg:#1b1f24;--muted:#5b6470;--line:#b9c0ca;--accent:#2456c9;--on:#fff;--err:#b3261e;
color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;text-align:start}
p,legend,label.f{unicode-bidi:plaintext;text-align:left}
[dir=rtl] :is(p,legend,label.f){text-align:right}
@media (prefers-color-scheme:dark){.w{--bg:#1b2027;--fg:#e8eaed;--muted:#aab2bd;--line:#4a5360;
--accent:#8ab4ff;--on:#0b1220;--err:#ffb4ab}.deep{--ring:var(--fg)}}
.card{background:var(--bg);border:1px solid var(--line);border-radius:12px;padding:16px;max-width:544px}
.title{font-size:17px;font-weight:700;margin:0 0 8px}
fieldset{border:0;margin:0 0 10px;padding:0;min-width:0}
legend{font-weight:600;margin:0 0 8px;padding:0}
.rate{display:flex;flex-wrap:wrap;gap:4px 8px}
.scale{flex:1 1 100%;order:-1;display:grid;grid-template-columns:repeat(5,minmax(0,1fr));gap:4px}
.lo,.hi{flex:1 1 40%;contain:inline-size;color:var(--muted);font-size:13px}
.hi{text-align:end}
.nps{container-type:inline-size}
.nps .scale{order:0;grid-template-columns:repeat(30,minmax(0,1fr));gap:6px}
.nps .opt{grid-column:span 5}
.nps .opt:nth-child(n+7){grid-column:span 6}
.nps .lo,.nps .hi{flex-basis:100%}
@container (min-width:340px){.nps .scale{order:-1;grid-template-columns:repeat(11,minmax(0,1fr));gap:3px}
.nps .scale .opt{grid-column:auto}.nps .lo,.nps .hi{flex-basis:40%}}
.stars{display:inline-flex;column-gap:0}
.stars .scale{display:flex;gap:2px}
.opt{position:relative;display:block;margin:0}
.opt input{position:absolute;inset:0;width:100%;height:100%;margin:0;opacity:0;cursor:pointer}
.opt span{display:block;padding:6px 0;text-align:center;border:1px solid var(--line);
border-radius:8px;background:var(--bg);color:var(--fg)}
.opt input:checked+span{background:var(--accent);border-color:var(--accent);color:var(--on)}
.stars .opt span{font-size:22px;line-height:1;padding:6px;border-color:transparent;color:var(--muted)}
.stars .opt.on span,.stars .opt input:checked+span{background:transparent;color:#e0a100}
label.f{display:block;font-weight:600;margin:10px 0 4px}
textarea,input.t{display:block;width:100%;margin:0;font:inherit;color:var(--fg);background:var(--bg);
padding:7px 9px;border:1px solid var(--line);border-radius:8px}
textarea{min-height:72px;resize:vertical}
button{font:inherit;font-weight:600;cursor:pointer;border-radius:8px}
.send{margin-top:12px;padding:8px 16px;border:0;background:var(--accent);color:var(--on)}
.send[disabled]{opacity:.6;cursor:progress}
:focus-visible,.opt input:focus-visible+span{outline:3px solid var(--ring,var(--accent));outline-offset:2px}
.opt input:focus-visible{outline:0}
[aria-invalid=true]{border-color:var(--err)}
.err{color:var(--err);font-size:13px;margin:4px 0 0}
.status{margin:8px 0 0;font-weight:600}
.status:empty{margin:0}
/* The spam trap is clipped in place: moved far left, it widened a right-to-left host page by as much. */
.hp{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
.fab{position:fixed;right:20px;bottom:20px;z-index:2147483000;padding:10px 18px;border:0;
background:var(--accent);color:var(--on);box-shadow:0 4px 14px rgba(0,0,0,.25)}
.panel{position:fixed;right:20px;bottom:72px;z-index:2147483000;width:min(380px,calc(100vw - 40px));
max-height:calc(100vh - 100px);overflow:auto;box-shadow:0 8px 30px rgba(0,0,0,.3);
animation:in .18s ease-out}
.x{float:right;margin:-6px -6px 0 0;padding:2px 9px;border:0;background:transparent;color:var(--muted);
font-size:20px}
.left .fab,.left .panel{right:auto;left:20px}
.intro{margin:0 0 10px}
.privacy{color:var(--muted);font-size:13px;margin:4px 0 0}
.privacy a{color:inherit}
.faces .opt span{font-size:24px;line-height:1;padding:5px 0}
@keyframes in{from{opacity:0;transform:translateY(10px)}}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}}
`;

  /* Creates an element: h('p', {class: 'x', text: 'hi'}, child…); attribute values are never parsed as HTML. */
  const h = (tag, attributes, ...children) => {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === 'text') element.textContent = value;
      else element.setAttribute(name, value === true ? '' : value);
    }
    element.append(...children.filter(Boolean));
    return element;
  };

  function addStyle(root) {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      root.append(h('style', { nonce: NONCE || null, text: CSS }));
    }
  }

  /* Mounts a form in `host`: inline, or floating (slot >= 0: the page's first, second … floating form). */
  function mount(host, formId, config, slot, hooks) {
    const floating = slot >= 0;
    const titled = host.getAttribute('data-title') !== 'none';  // the hosted page has its own heading
    const preview = host.hasAttribute('data-preview');  // the hosted page's preview: nothing is sent
    const root = host.attachShadow({ mode: 'open' });
    addStyle(root);
    const language = languageOf(host, config);
    const t = textsOf(config, language);
    const brand = config.branding || {};
    const kind = config.rating_scale;
    const stars = kind === 'stars';
    const faces = kind === 'csat' && config.csat_style === 'faces';
    const hints = [t.low_label, t.high_label];
    const min = config.rating_min;
    const max = config.rating_max;
    const errors = {};
    const errorFor = (name) => (errors[name] = h('p', { class: 'err', id: 'e-' + name, hidden: true }));
    const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite', tabindex: '-1' });

    const options = [];
    for (let value = min; value <= max; value++) {
      const hint = value === min ? hints[0] : value === max ? hints[1] : '';
      const label = stars ? t[value > 1 ? 'stars' : 'star'].replace('{n}', value) : String(value);
      const name = faces ? value + ': ' + t['face_' + value] : label + (hint ? ' (' + hint + ')' : '');
      options.push(h('label', { class: 'opt' },
        h('input', { type: 'radio', name: 'rating', value: String(value), 'aria-label': name }),
        h('span', { 'aria-hidden': 'true', text: stars ? '★' : faces ? FACES[value - 1] : String(value) })));
    }
    const scale = h('div', { class: 'scale' }, ...options);
    // The end labels around the options (CSS places them: under both ends, or above 0 and under 10 when
    // the 0–10 scale takes two rows); screen readers hear them in the first and last option's name.
    const rate = h('div', { class: 'rate ' + kind + (faces ? ' faces' : '') },
      h('span', { class: 'lo', 'aria-hidden': 'true', text: hints[0] }), scale,
      h('span', { class: 'hi', 'aria-hidden': 'true', text: hints[1] }));
    const radios = options.map((option) => option.firstChild);
    // The comment's label is the follow-up question of the chosen score's band, when the form asks one.
    const commentLabel = h('label', { class: 'f', for: 'c', id: 'cl', text: t.comment });
    scale.addEventListener('change', () => {
      const chosen = Number((radios.find((radio) => radio.checked) || {}).value);
      options.forEach((option, index) => option.classList.toggle('on', min + index <= chosen));
      const followUp = Number.isNaN(chosen) ? '' : t['follow_up_' + bandOf(kind, chosen)];
      commentLabel.textContent = followUp || t.comment;
    });
    const comment = h('textarea', { id: 'c', name: 'comment', rows: '3', maxlength: '10000',
      'aria-describedby': 'e-comment' });
    const privacyLink = /^https:\/\//.test(brand.privacy_url || '') ?
      h('a', { href: brand.privacy_url, target: '_blank', rel: 'noopener', text: t.privacy_link }) : null;
    const privacy = t.privacy_note ? h('p', { class: 'privacy', id: 'pn' }, t.privacy_note + ' ', privacyLink) : null;
    const email = h('input', { id: 'm', class: 't', name: 'email', type: 'email', autocomplete: 'email',
      required: !!config.require_email, 'aria-describedby': 'e-email' + (privacy ? ' pn' : '') });
    const honeypot = h('input', { name: '_hp', type: 'text', tabindex: '-1', autocomplete: 'off' });
    const button = h('button', { class: 'send', type: 'submit', text: t.send });
    const general = errorFor('form');
    const form = h('form', { novalidate: true, 'aria-label': config.name },
      titled || floating ? h('p', { class: 'title', id: 't', text: config.name }) : null,
      t.intro && titled ? h('p', { class: 'intro', text: t.intro }) : null,
      h('fieldset', { 'aria-describedby': 'e-rating' },
        h('legend', { text: t.question }), rate, errorFor('rating')),
      commentLabel, comment, errorFor('comment'),
      h('label', { class: 'f', for: 'm', text: config.require_email ? t.email_required : t.email }), email,
      privacy, errorFor('email'),
      h('div', { class: 'hp', 'aria-hidden': 'true' }, h('label', { text: t.honeypot }, honeypot)),
      general, button);
    const controls = { rating: radios, comment: [comment], email: [email] };

    const say = (text) => { status.textContent = text; };
    const clearErrors = () => {
      for (const element of Object.values(errors)) { element.hidden = true; element.textContent = ''; }
      for (const list of Object.values(controls)) list.forEach((c) => c.removeAttribute('aria-invalid'));
    };
    const showErrors = (error, code) => {
      const fields = (error && error.fields) || {};
      if (!Object.keys(fields).length) {
        // A refusal no field can fix (the form deleted, this site no longer allowed): the visitor is told
        // in their language; the site's developer reads the API's reason in the console.
        console.warn('feedback widget: form ' + formId + ' refused the response (' +
          ((error && error.code) || code) + ': ' + ((error && error.message) || '') + ')');
        say(t.failed);
        return;
      }
      for (const [name, message] of Object.entries(fields)) {
        // The API's message, as text: short and plain, and meant for people (never a field name).
        const target = errors[name] || general;
        target.textContent = (target.textContent ? target.textContent + ' ' : '') + message;
        target.hidden = false;
        for (const control of controls[name] || []) control.setAttribute('aria-invalid', 'true');
      }
      // Focus goes to the form's first field to fix, whatever order the API names them in.
      const name = Object.keys(controls).find((key) => fields[key]);
      const first = name && (controls[name].find((c) => c.checked) || controls[name][0]);
      say(t.check);
      if (first) first.focus();
    };
    const finish = (text) => {
      form.reset();
      scale.dispatchEvent(new Event('change'));
      form.hidden = true;
      say(text);
      status.focus();
      if (hooks) hooks.answered();
    };

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (button.disabled) return;
      clearErrors();
      const data = new FormData(form);
      // The API keeps only http(s) page addresses (a file: or about: page would be refused).
      const page = /^https?:$/.test(location.protocol) ? location.href.slice(0, 2048) : undefined;
      // The language the form is shown in (the API words its messages in it), as the browser tags it
      // when that is the browser's own (fr-CA), else as shown (a link's ?lang=fr in an English browser).
      const tag = navigator.language || '';
      const shown = tag.toLowerCase().split('-')[0] === language ? tag : language;
      const body = { response_id: newId(), language: shown, page_url: page, _hp: data.get('_hp') || '' };
      if (data.get('rating') !== null) body.rating = Number(data.get('rating'));
      const text = String(data.get('comment') || '').trim();
      const address = String(data.get('email') || '').trim();
      if (text) body.comment = text;
      if (address) body.email = address;
      if (preview) {  // the team's preview: shown as sent, nothing leaves the page
        finish(t.thanks);
        return;
      }
      const entry = { id: body.response_id, url: API + '/forms/' + encodeURIComponent(formId) + '/responses', body };
      // In the outbox before it is sent: a network failure or a closed tab loses nothing.
      const saved = write(read().concat(entry));
      button.disabled = true;
      say(t.sending);
      const result = await send(entry);
      button.disabled = false;
      if (result.retry && saved) {
        // "You seem to be offline" only when the browser says so: the API answered (busy, down), or the
        // request failed on a live network (a site the form no longer allows, a request cut off), is "not
        // sent just now".
        finish(result.status || navigator.onLine !== false ? t.saved : t.offline);
      } else if (result.retry) {
        say(t.retry);
      } else if (result.ok) {
        finish(t.thanks);
      } else {
        showErrors(result.data && result.data.error, result.status);
      }
    });

    const card = h('div', { class: 'card' }, form, status);
    // Written in its own language and direction, whatever the page's (a Hebrew page around English words
    // put the question mark first and the scale's end labels together in the middle).
    const widget = h('div', { class: 'w' + (brand.position === 'bottom-left' ? ' left' : ''), lang: language,
      dir: /^(ar|he|fa|ur)$/.test(language) ? 'rtl' : 'ltr' });
    if (/^#[0-9a-f]{3,6}$/i.test(brand.accent_color || '')) {  // CSSOM, so a strict host CSP allows it
      widget.style.setProperty('--accent', brand.accent_color);
      widget.style.setProperty('--on', brand.on_accent || '#fff');
      // A pale accent would make a faint focus ring: the ring takes the text colour then; a dark one
      // does in dark mode (.deep).
      if (brand.on_accent && brand.on_accent !== '#ffffff') widget.style.setProperty('--ring', 'var(--fg)');
      else widget.classList.add('deep');
    }
    root.append(widget);
    if (!floating) {
      widget.append(card);
      return;
    }
    card.classList.add('panel');
    card.id = 'p';
    card.setAttribute('role', 'dialog');
    card.setAttribute('aria-labelledby', 't');
    card.hidden = true;
    const fab = h('button', { class: 'fab', type: 'button', 'aria-expanded': 'false', 'aria-controls': 'p',
      text: t.button_label });
    const close = h('button', { class: 'x', type: 'button', 'aria-label': t.close, text: '×' });
    card.prepend(close);
    if (slot) {  // another form's floating button is already in the corner: stack above it
      fab.style.bottom = 20 + 52 * slot + 'px';
      card.style.bottom = 72 + 52 * slot + 'px';
      card.style.maxHeight = 'calc(100vh - ' + (100 + 52 * slot) + 'px)';
    }
    const toggle = (open) => {
      card.hidden = !open;
      fab.setAttribute('aria-expanded', String(open));
      if (!open && hooks) hooks.closed();
      if (!open) fab.focus();
      else if (form.hidden) status.focus();
      else (radios.find((radio) => radio.checked) || radios[0]).focus();
    };
    fab.addEventListener('click', () => toggle(card.hidden));
    close.addEventListener('click', () => toggle(false));
    card.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') toggle(false);
    });
    widget.append(fab, card);
    if (hooks) hooks.open = () => { if (card.hidden) toggle(true); };
  }

  /* --- start -------------------------------------------------------------------------------------------- */
  const configs = {};
  const config = (formId) => configs[formId] || (configs[formId] =
    fetch(API + '/forms/' + encodeURIComponent(formId), { credentials: 'omit' })
      .then((response) => (response.ok ? response.json() : Promise.reject(new Error('HTTP ' + response.status)))));

  // A page whose Content-Security-Policy leaves this API out blocks every request: that is the fix to name.
  let blockedBy = '';
  document.addEventListener('securitypolicyviolation', (event) => {
    if (String(event.blockedURI).startsWith(API)) blockedBy = event.effectiveDirective;
  });
  // A fetch the browser blocks (CORS: a site the form does not allow) is only a TypeError: name the likely fix.
  // Said a moment later, once the browser has reported a policy violation (a task of its own).
  const unavailable = (formId) => (error) => setTimeout(() =>
    console.warn('feedback widget: form ' + formId + ' unavailable (' + error.message + ')' + (blockedBy
      ? ": this page's Content-Security-Policy (" + blockedBy + ') does not allow ' + API + ': add it there'
      : error instanceof TypeError ? ': offline, or this site (' + location.origin +
        ") is not among the form's allowed origins" : '')), 100);

  function render(host, formId, slot) {
    // Claimed at once (not when mounted): another copy of this script starting meanwhile leaves it alone.
    if (!formId || shared.hosts.has(host) || host.shadowRoot) return;
    shared.hosts.add(host);
    // Attached only once the form is known: until then (or if that fails) the page shows what it had,
    // e.g. the hosted page's plain HTML form. Its preview shows the form where a site would have it.
    config(formId).then((cfg) => {
      const corner = (cfg.branding || {}).position !== 'inline';
      if (!host.shadowRoot) mount(host, formId, cfg, host.hasAttribute('data-preview') && corner ? 0 : slot);
    }, unavailable(formId));
  }

  /* --- display rules: whether and when the widget the script places shows itself ---------------------- */
  const store = {
    get: (key) => { try { return localStorage.getItem(key); } catch (e) { return null; } },
    set: (key, value) => { try { localStorage.setItem(key, value); } catch (e) { /* private mode */ } },
  };
  // A glob (* any characters, ? one) against the page's address without query or fragment; a pattern
  // starting with / is matched against the path alone.
  const globMatches = (pattern, href, path) => new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*').replace(/\?/g, '.') + '$').test(pattern[0] === '/' ? path : href);

  function allowedHere(formId, rules) {
    const href = location.origin + location.pathname;
    const matches = (patterns) => patterns.some((pattern) => globMatches(pattern, href, location.pathname));
    if ((rules.include_urls || []).length && !matches(rules.include_urls)) return false;
    if (matches(rules.exclude_urls || [])) return false;
    if (Number(store.get('feedback-widget:snooze:' + formId) || 0) > Date.now()) return false;
    // One draw per visitor and form, kept: a sampled-out visitor stays out on every page.
    const key = 'feedback-widget:sample:' + formId;
    let draw = parseFloat(store.get(key));
    if (!(draw >= 0 && draw < 100)) store.set(key, String(draw = Math.random() * 100));
    return draw < (rules.sample_percent ?? 100);
  }

  /* Calls `show` once the delay has passed and the page is scrolled deep enough; `exit` once the pointer
     leaves through the top of the window (desktop: a fine pointer that hovers), if the form asks for it. */
  function whenRulesMet(rules, show, exit) {
    let waiting = (rules.delay_seconds > 0 ? 1 : 0) + (rules.scroll_percent > 0 ? 1 : 0);
    const met = () => { if (--waiting === 0) show(); };
    if (!waiting) show();
    if (rules.delay_seconds > 0) setTimeout(met, rules.delay_seconds * 1000);
    if (rules.scroll_percent > 0) {
      const depth = () => {
        const scrollable = document.documentElement.scrollHeight - innerHeight;
        return scrollable <= 0 ? 100 : (scrollY / scrollable) * 100;
      };
      const onScroll = () => {
        if (depth() < rules.scroll_percent) return;
        removeEventListener('scroll', onScroll);
        met();
      };
      addEventListener('scroll', onScroll, { passive: true });
      onScroll();
    }
    if (rules.exit_intent && matchMedia('(hover: hover) and (pointer: fine)').matches) {
      const onLeave = (event) => {
        if (event.relatedTarget || event.clientY > 0) return;
        document.removeEventListener('mouseout', onLeave);
        exit();
      };
      document.addEventListener('mouseout', onLeave);
    }
  }

  /* The widget the script places itself: floating in the form's corner, or inline after the script tag. */
  function place(formId, slot) {
    config(formId).then((cfg) => {
      const rules = cfg.display || {};
      if (!allowedHere(formId, rules)) return;
      const snooze = () => {
        if (rules.snooze_days > 0) store.set('feedback-widget:snooze:' + formId, String(Date.now() + rules.snooze_days * 864e5));
      };
      const hooks = { answered: snooze, closed: snooze, open: null };
      const host = document.createElement('div');
      host.setAttribute('data-feedback-widget', '');
      const inline = (cfg.branding || {}).position === 'inline';
      let shown = false;
      const show = () => {
        if (shown) return;
        shown = true;
        if (inline && script.isConnected && document.body.contains(script)) script.after(host);
        else document.body.append(host);
        mount(host, formId, cfg, inline ? -1 : slot, hooks);
      };
      whenRulesMet(rules, show, () => { show(); if (hooks.open) hooks.open(); });
    }, unavailable(formId));
  }

  function start() {
    if (!shared.flushed.has(API)) {
      shared.flushed.add(API);
      flush();
    }
    const targets = [...document.querySelectorAll('[data-feedback-form]')];
    if (targets.length) {
      targets.forEach((target) => render(target, target.getAttribute('data-feedback-form') || FORM, -1));
    } else if (FORM && !shared.floating.has(API + ' ' + FORM)) {
      shared.floating.add(API + ' ' + FORM);
      place(FORM, shared.floating.size - 1);
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
