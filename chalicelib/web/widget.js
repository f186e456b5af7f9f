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
  // End labels of a scale, for an API that does not send the form's own (`low_label`, `high_label`).
  const LABELS = {
    nps: ['Not at all likely', 'Extremely likely'],
    csat: ['Very dissatisfied', 'Very satisfied'],
    stars: ['Poor', 'Excellent'],
  };
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
    let response;
    try {
      response = await fetch(entry.url, {
        method: 'POST', mode: 'cors', credentials: 'omit',
        headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(entry.body),
      });
    } catch (e) {
      return { retry: true };
    } finally {
      inflight.delete(entry.id);
    }
    const status = response.status;
    if (status >= 500 || status === 408 || status === 429) return { retry: true };
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

  /* --- rendering ----------------------------------------------------------------------------------------- */
  const CSS = `
:host{all:initial!important;display:block!important}
[hidden]{display:none!important}
*{box-sizing:border-box}
.w{--bg:#fff;--fg:#1b1f24;--muted:#5b6470;--line:#b9c0ca;--accent:#2456c9;--on:#fff;--err:#b3261e;
color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;text-align:left}
@media (prefers-color-scheme:dark){.w{--bg:#1b2027;--fg:#e8eaed;--muted:#aab2bd;--line:#4a5360;
--accent:#8ab4ff;--on:#0b1220;--err:#ffb4ab}}
.card{background:var(--bg);border:1px solid var(--line);border-radius:12px;padding:16px;max-width:544px}
.title{font-size:17px;font-weight:700;margin:0 0 8px}
fieldset{border:0;margin:0 0 10px;padding:0;min-width:0}
legend{font-weight:600;margin:0 0 8px;padding:0}
.rate{display:flex;flex-wrap:wrap;gap:4px 8px}
.scale{flex:1 1 100%;order:-1;display:grid;grid-template-columns:repeat(5,minmax(0,1fr));gap:4px}
.lo,.hi{flex:1 1 40%;contain:inline-size;color:var(--muted);font-size:13px}
.hi{text-align:right}
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
:focus-visible,.opt input:focus-visible+span{outline:3px solid var(--accent);outline-offset:2px}
.opt input:focus-visible{outline:0}
[aria-invalid=true]{border-color:var(--err)}
.err{color:var(--err);font-size:13px;margin:4px 0 0}
.status{margin:8px 0 0;font-weight:600}
.status:empty{margin:0}
.hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
.fab{position:fixed;right:20px;bottom:20px;z-index:2147483000;padding:10px 18px;border:0;
background:var(--accent);color:var(--on);box-shadow:0 4px 14px rgba(0,0,0,.25)}
.panel{position:fixed;right:20px;bottom:72px;z-index:2147483000;width:min(380px,calc(100vw - 40px));
max-height:calc(100vh - 100px);overflow:auto;box-shadow:0 8px 30px rgba(0,0,0,.3);
animation:in .18s ease-out}
.x{float:right;margin:-6px -6px 0 0;padding:2px 9px;border:0;background:transparent;color:var(--muted);
font-size:20px}
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
  function mount(host, formId, config, slot) {
    const floating = slot >= 0;
    const titled = host.getAttribute('data-title') !== 'none';  // the hosted page has its own heading
    const root = host.attachShadow({ mode: 'open' });
    addStyle(root);
    const kind = config.rating_scale;
    const stars = kind === 'stars';
    const defaults = LABELS[kind] || ['', ''];
    const hints = [config.low_label ?? defaults[0], config.high_label ?? defaults[1]];
    const min = config.rating_min;
    const max = config.rating_max;
    const errors = {};
    const errorFor = (name) => (errors[name] = h('p', { class: 'err', id: 'e-' + name, hidden: true }));
    const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite', tabindex: '-1' });

    const options = [];
    for (let value = min; value <= max; value++) {
      const hint = value === min ? hints[0] : value === max ? hints[1] : '';
      const label = stars ? value + (value > 1 ? ' stars' : ' star') : String(value);
      const name = label + (hint ? ' (' + hint + ')' : '');
      options.push(h('label', { class: 'opt' },
        h('input', { type: 'radio', name: 'rating', value: String(value), 'aria-label': name }),
        h('span', { 'aria-hidden': 'true', text: stars ? '★' : String(value) })));
    }
    const scale = h('div', { class: 'scale' }, ...options);
    // The end labels around the options (CSS places them: under both ends, or above 0 and under 10 when
    // the 0–10 scale takes two rows); screen readers hear them in the first and last option's name.
    const rate = h('div', { class: 'rate ' + kind },
      h('span', { class: 'lo', 'aria-hidden': 'true', text: hints[0] }), scale,
      h('span', { class: 'hi', 'aria-hidden': 'true', text: hints[1] }));
    const radios = options.map((option) => option.firstChild);
    scale.addEventListener('change', () => {
      const chosen = Number((radios.find((radio) => radio.checked) || {}).value);
      options.forEach((option, index) => option.classList.toggle('on', min + index <= chosen));
    });
    const comment = h('textarea', { id: 'c', name: 'comment', rows: '3', maxlength: '10000',
      'aria-describedby': 'e-comment' });
    const email = h('input', { id: 'm', class: 't', name: 'email', type: 'email', autocomplete: 'email',
      required: !!config.require_email, 'aria-describedby': 'e-email' });
    const honeypot = h('input', { name: '_hp', type: 'text', tabindex: '-1', autocomplete: 'off' });
    const button = h('button', { class: 'send', type: 'submit', text: 'Send feedback' });
    const general = errorFor('form');
    const form = h('form', { novalidate: true, 'aria-label': config.name },
      titled || floating ? h('p', { class: 'title', id: 't', text: config.name }) : null,
      h('fieldset', { 'aria-describedby': 'e-rating' },
        h('legend', { text: config.question }), rate, errorFor('rating')),
      h('label', { class: 'f', for: 'c', text: 'Tell us more (optional)' }), comment, errorFor('comment'),
      h('label', { class: 'f', for: 'm', text: config.require_email ? 'Email' : 'Email (optional)' }), email,
      errorFor('email'),
      h('div', { class: 'hp', 'aria-hidden': 'true' }, h('label', { text: 'Leave this field empty' }, honeypot)),
      general, button);
    const controls = { rating: radios, comment: [comment], email: [email] };

    const say = (text) => { status.textContent = text; };
    const clearErrors = () => {
      for (const element of Object.values(errors)) { element.hidden = true; element.textContent = ''; }
      for (const list of Object.values(controls)) list.forEach((c) => c.removeAttribute('aria-invalid'));
    };
    const showErrors = (error) => {
      const fields = (error && error.fields) || {};
      let first = null;
      for (const [name, message] of Object.entries(fields)) {
        // The API's message, as text: short and plain, and meant for people (never a field name).
        const target = errors[name] || general;
        target.textContent = (target.textContent ? target.textContent + ' ' : '') + message;
        target.hidden = false;
        for (const control of controls[name] || []) control.setAttribute('aria-invalid', 'true');
        if (!first && controls[name]) first = controls[name].find((c) => c.checked) || controls[name][0];
      }
      if (!Object.keys(fields).length) {
        general.textContent = (error && error.message) || 'Sorry, your feedback could not be sent.';
        general.hidden = false;
      }
      say('Please check the highlighted fields.');
      if (first) first.focus();
    };
    const finish = (text) => {
      form.reset();
      scale.dispatchEvent(new Event('change'));
      form.hidden = true;
      say(text);
      status.focus();
    };

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (button.disabled) return;
      clearErrors();
      const data = new FormData(form);
      // The API keeps only http(s) page addresses (a file: or about: page would be refused).
      const page = /^https?:$/.test(location.protocol) ? location.href.slice(0, 2048) : undefined;
      const body = { response_id: newId(), language: navigator.language || undefined,
        page_url: page, _hp: data.get('_hp') || '' };
      if (data.get('rating') !== null) body.rating = Number(data.get('rating'));
      const text = String(data.get('comment') || '').trim();
      const address = String(data.get('email') || '').trim();
      if (text) body.comment = text;
      if (address) body.email = address;
      const entry = { id: body.response_id, url: API + '/forms/' + encodeURIComponent(formId) + '/responses', body };
      // In the outbox before it is sent: a network failure or a closed tab loses nothing.
      const saved = write(read().concat(entry));
      button.disabled = true;
      say('Sending…');
      const result = await send(entry);
      button.disabled = false;
      if (result.retry && saved) {
        finish('You seem to be offline. Your feedback is saved on this device and will be sent on your next visit.');
      } else if (result.retry) {
        say('Sorry, your feedback could not be sent. Please try again.');
      } else if (result.ok) {
        finish('Thank you! Your feedback was sent.');
      } else {
        showErrors(result.data && result.data.error);
      }
    });

    const card = h('div', { class: 'card' }, form, status);
    const widget = h('div', { class: 'w' });
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
      text: 'Feedback' });
    const close = h('button', { class: 'x', type: 'button', 'aria-label': 'Close', text: '×' });
    card.prepend(close);
    if (slot) {  // another form's floating button is already in the corner: stack above it
      fab.style.bottom = 20 + 52 * slot + 'px';
      card.style.bottom = 72 + 52 * slot + 'px';
      card.style.maxHeight = 'calc(100vh - ' + (100 + 52 * slot) + 'px)';
    }
    const toggle = (open) => {
      card.hidden = !open;
      fab.setAttribute('aria-expanded', String(open));
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
  }

  /* --- start -------------------------------------------------------------------------------------------- */
  const configs = {};
  const config = (formId) => configs[formId] || (configs[formId] =
    fetch(API + '/forms/' + encodeURIComponent(formId), { credentials: 'omit' })
      .then((response) => (response.ok ? response.json() : Promise.reject(new Error('HTTP ' + response.status)))));

  function render(host, formId, slot) {
    // Claimed at once (not when mounted): another copy of this script starting meanwhile leaves it alone.
    if (!formId || shared.hosts.has(host) || host.shadowRoot) return;
    shared.hosts.add(host);
    // Attached only once the form is known: until then (or if that fails) the page shows what it had,
    // e.g. the hosted page's plain HTML form.
    config(formId).then((cfg) => {
      if (!host.shadowRoot) mount(host, formId, cfg, slot);
    }, (error) => console.warn('feedback widget: form ' + formId + ' unavailable (' + error.message + ')'));
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
      const host = document.createElement('div');
      host.setAttribute('data-feedback-widget', '');
      document.body.append(host);
      render(host, FORM, shared.floating.size - 1);
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
