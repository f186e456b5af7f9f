/* Feedback dashboard: reads GET /stats, GET /feedback?theme= and GET /customers/{id} with a read token kept
 * in sessionStorage, and draws its charts as inline SVG. Every plotted value is also on its element as a
 * data attribute (data-date, data-channel, data-sentiment, data-count, data-total, data-nps, data-csat,
 * data-stars; per theme
 * data-theme, data-negative-share, data-previous, data-change), so tests and scrapers can read the figures
 * back. All text from the API is set with textContent, never parsed as HTML.
 */
(() => {
  'use strict';
  const TOKEN_KEY = 'feedback-dashboard:token';
  const { el, SENTIMENTS, LABELS, spanOfData, dayChart, channelChart, npsChart, csatChart, starsChart, fmt,
    scoreCards } = window.FeedbackCharts;
  const { themesPanel, THEME_PAGE, THEME_REQUESTS } = window.FeedbackThemes;
  const DAY_MS = 86400000;
  const THEME_SENTIMENTS = ['POSITIVE', 'NEUTRAL', 'MIXED', 'NEGATIVE'];
  const $ = (id) => document.getElementById(id);

  const clear = (node) => { node.replaceChildren(); return node; };
  const isoDay = (date) => date.toISOString().slice(0, 10);
  // A time as the dashboard writes it: to the minute, in UTC, and saying so.
  const minute = (iso) => (iso ? iso.slice(0, 16).replace('T', ' ') + ' UTC' : '–');
  const ratingText = (item) => (item.rating !== undefined && item.rating !== null ?
    ` · ${item.rating_scale} ${item.rating}` : '');

  /* --- token ------------------------------------------------------------------------------------------- */
  const fromHash = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(fromHash[1]));
    // The token leaves the address bar; the rest of the hash (#form=…&token=…) stays, so the link opens it.
    const rest = location.hash.replace(/(?:^#|&)token=[^&]*/, '').replace(/^#?&?/, '');
    history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''));
  }
  const token = () => sessionStorage.getItem(TOKEN_KEY);

  class Unauthorized extends Error {}
  const UNREACHABLE = 'the API did not answer (no connection, or the API is down); try again in a moment.';
  /* The message of a refused answer: the API's own, else what the status means (a proxy's HTML error page). */
  function failure(response, body) {
    if (body && body.error && body.error.message) return body.error.message;
    return `the API answered HTTP ${response.status}` + (response.status >= 500 ? '; try again in a moment.' : '.');
  }
  /* GET a read API path as JSON. A token refused (401), or without the scope the dashboard reads with (403
   * insufficient_scope; `scopeRefusal` false where another scope is needed), is Unauthorized: sign in again. */
  async function api(path, scopeRefusal = true) {
    let response;
    try {
      response = await fetch(path, { headers: { Authorization: 'Bearer ' + token() }, cache: 'no-store' });
    } catch (e) {
      throw new Error(UNREACHABLE);
    }
    let body = null;
    try { body = await response.json(); } catch (e) { /* not JSON */ }
    const code = body && body.error && body.error.code;
    if (response.status === 401 || (scopeRefusal && code === 'insufficient_scope')) {
      throw new Unauthorized(failure(response, body));
    }
    if (!response.ok) throw new Error(failure(response, body));
    return body;
  }

  function showLogin(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    $('board').hidden = true;
    $('customer').hidden = true;
    $('signout').hidden = true;
    $('login').hidden = false;
    $('token-error').textContent = message || '';
    $('token').focus();
  }

  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const value = $('token').value.trim();
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    $('token').value = '';
    route();
  });
  $('signout').addEventListener('click', () => showLogin(''));

  /* --- filters: in the address (shareable), restored on load -------------------------------------------- */
  const FILTERS = ['source', 'channel', 'sentiment', 'theme', 'rating', 'language', 'q'];
  const CHANNELS = ['form', 'facebook', 'messenger', 'instagram', 'whatsapp', 'x', 'slack', 'typeform', 'zendesk',
    'intercom', 'telegram', 'trustpilot', 'webhook', 'email', 'google_play', 'app_store', 'google_business'];
  const RATINGS = [['nps:promoter', 'NPS promoters (9–10)'], ['nps:passive', 'NPS passives (7–8)'],
    ['nps:detractor', 'NPS detractors (0–6)'], ['csat:satisfied', 'CSAT satisfied (4–5)'],
    ...[1, 2, 3, 4, 5].map((n) => [`csat:${n}`, `CSAT ${n}`]), ...[1, 2, 3, 4, 5].map((n) => [`stars:${n}`, `${n} stars`])];
  // The analyzers' five first, then others feedback often arrives in (stored with the language detected).
  const LANGUAGES = [['en', 'English'], ['es', 'Spanish'], ['fr', 'French'], ['de', 'German'], ['pt', 'Portuguese'],
    ['it', 'Italian'], ['nl', 'Dutch'], ['ar', 'Arabic'], ['zh', 'Chinese'], ['he', 'Hebrew'], ['hi', 'Hindi'],
    ['ja', 'Japanese'], ['ko', 'Korean'], ['pl', 'Polish'], ['ru', 'Russian'], ['sv', 'Swedish'], ['tr', 'Turkish']];
  // /stats is cut by one of these at a time (its counters count each by sentiment and rating, not by each other).
  const SLICES = ['source', 'channel', 'sentiment', 'theme'];

  /* Adds options (value, label) to a select, keeping its current choice even when the list lacks it. */
  function fillSelect(select, options) {
    const chosen = select.value || select.dataset.wanted || '';
    select.replaceChildren(el('option', { value: '', text: 'All' }),
      ...options.map(([value, label]) => el('option', { value, text: label })));
    if (chosen && !options.some(([value]) => value === chosen)) select.append(el('option', { value: chosen, text: chosen }));
    select.value = chosen;
  }

  function filterValues() {
    const values = { from: $('from').value, to: $('to').value };
    for (const name of FILTERS) values[name] = $('f-' + name).value.trim();
    return values;
  }

  /* A YYYY-MM-DD day of the calendar, or null (a link cut or mangled in an e-mail falls back to the default). */
  function calendarDay(value) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(value || '')) return null;
    const time = Date.parse(value);
    return Number.isNaN(time) || isoDay(new Date(time)) !== value ? null : value;
  }

  /* Sets a filter's field; a select keeps its whole list, gaining an option for a value it lacks. */
  function setField(field, value) {
    if (field.tagName === 'SELECT' && value && ![...field.options].some((o) => o.value === value)) {
      field.append(el('option', { value, text: value }));
    }
    field.value = value;
    field.dataset.wanted = value;
  }

  /* The last 7, 30 or 90 days up to today: in the address as `period=7d`, so a shared link keeps its meaning. */
  const PERIODS = { '7d': 7, '30d': 30, '90d': 90 };
  let period = null;  // the preset chosen, null for a range of its own
  function periodRange(name) {
    const to = isoDay(new Date());
    return { from: isoDay(new Date(Date.parse(to) - (PERIODS[name] - 1) * DAY_MS)), to };
  }
  function showPeriod() {
    for (const button of document.querySelectorAll('[data-period]')) {
      button.setAttribute('aria-pressed', String(button.dataset.period === period));
    }
  }

  function restoreFilters() {
    const params = new URLSearchParams(location.search);
    const asked = params.get('period');
    // No range in the address is the last 30 days, the preset's.
    period = Object.hasOwn(PERIODS, asked || '') ? asked : params.get('from') || params.get('to') ? null : '30d';
    if (period) {
      $('from').value = periodRange(period).from;
      $('to').value = periodRange(period).to;
    } else {
      const to = calendarDay(params.get('to')) || isoDay(new Date());
      $('from').value = calendarDay(params.get('from')) || isoDay(new Date(Date.parse(to) - 29 * DAY_MS));
      $('to').value = to;
    }
    for (const name of FILTERS) setField($('f-' + name), params.get(name) || '');
    showPeriod();
  }

  /* The address the page shows: a change the page did not make itself (back, forward, a link) is a navigation. */
  const here = () => location.search + location.hash;
  let shownAddress = null;

  /* Writes the filters to the address and reloads the figures. A view the user chose is a new history entry
   * (the back button returns to the view before); `replace` rewrites the current one (a page opening). */
  function applyFilters(changes, replace = false) {
    const { period: preset, ...fields } = changes || {};
    if (preset) Object.assign(fields, periodRange(preset));
    for (const [name, value] of Object.entries(fields)) {
      setField(name === 'from' || name === 'to' ? $(name) : $('f-' + name), value);
    }
    const values = filterValues();
    // A preset stays while its days are the ones shown; a day drilled into or dates typed are a range of their own.
    if (preset) period = preset;
    else if (period && (values.from !== periodRange(period).from || values.to !== periodRange(period).to)) period = null;
    showPeriod();
    const shown = period ? [['period', period], ...Object.entries(values).filter(([name]) => name !== 'from' && name !== 'to')]
      : Object.entries(values);
    const query = new URLSearchParams(shown.filter(([, value]) => value));
    // A form's page (#form=…) is that form's: with another source or none, it is the board again.
    const form = /^#form=([^&]+)$/.exec(location.hash);
    const hash = form && decodeURIComponent(form[1]) !== values.source ? '' : location.hash;
    $('form-title').hidden = !hash.startsWith('#form=');
    const address = location.pathname + '?' + query + hash;
    if (replace || address === location.pathname + here()) history.replaceState(null, '', address);
    else history.pushState(null, '', address);
    shownAddress = here();
    return loadBoard();
  }
  $('filters').addEventListener('submit', (event) => { event.preventDefault(); applyFilters(); });
  $('f-clear').addEventListener('click', () => applyFilters(Object.fromEntries(FILTERS.map((n) => [n, '']))));
  for (const button of document.querySelectorAll('[data-period]')) {
    button.addEventListener('click', () => applyFilters({ period: button.dataset.period }));
  }
  fillSelect($('f-channel'), CHANNELS.map((c) => [c, c]));
  fillSelect($('f-sentiment'), THEME_SENTIMENTS.map((s) => [s, LABELS[s]]));
  fillSelect($('f-rating'), RATINGS);
  fillSelect($('f-language'), LANGUAGES);

  /* The one dimension the figures are cut by, and a sentence on what they leave out. */
  function statsSlice(values) {
    const asked = SLICES.filter((name) => values[name]);
    const itemOnly = ['rating', 'language', 'q'].filter((name) => values[name]);
    return { name: asked[0] || null, ignored: [...asked.slice(1), ...itemOnly] };
  }

  /* --- tables, cards, feed ---------------------------------------------------------------------------- */
  function table(node, head, rows) {
    clear(node).append(
      el('thead', {}, el('tr', {}, ...head.map((text) => el('th', { scope: 'col', text })))),
      el('tbody', {}, ...rows.map((cells) => el('tr', {}, ...cells.map((text, i) =>
        el(i ? 'td' : 'th', i ? { text: fmt(text) } : { scope: 'row', text: fmt(text) }))))));
    if (!rows.length) node.append(emptyRow(head.length));
  }
  /* The one row of a table with nothing to list, across all its columns. */
  const emptyRow = (columns) => el('tbody', {}, el('tr', {}, el('td', { class: 'empty', colspan: columns,
    text: 'No feedback in this period.' })));

  function card(label, value, name) {
    return el('div', { class: 'card', 'data-card': name, 'data-value': value },
      el('span', { class: 'value', text: fmt(value) }), el('span', { class: 'label', text: label }));
  }

  /* A comment as written: its own direction (Arabic or Hebrew right to left in this left-to-right page). */
  // A longer comment shows its first lines until asked (one in a list should not take the whole screen).
  const LONG_COMMENT = 600;
  function commentText(item) {
    const text = el('p', { class: 'text', dir: 'auto', text: item.text || '(no text)' });
    if ((item.text || '').length <= LONG_COMMENT) return text;
    text.classList.add('folded');
    const toggle = el('button', { type: 'button', class: 'link unfold', 'aria-expanded': 'false',
      text: 'Show the whole comment' });
    toggle.addEventListener('click', () => {
      const open = !text.classList.toggle('folded');
      toggle.setAttribute('aria-expanded', String(open));
      toggle.textContent = open ? 'Show less' : 'Show the whole comment';
    });
    return el('div', {}, text, toggle);
  }

  /* "<name> — customer profile", the name isolated so a right-to-left one keeps the words' order. */
  function profileLink(customerId, name, unnamed) {
    const link = el('a', { href: '#customer=' + encodeURIComponent(customerId) });
    if (name) link.append(el('bdi', { text: name }), ' — customer profile');
    else link.textContent = unnamed;
    return link;
  }

  function feed(items) {
    const list = clear($('negatives'));
    if (!items.length) {
      list.append(el('li', { class: 'empty', text: 'No negative feedback in this period.' }));
      return;
    }
    for (const item of items) {
      const who = item.customer_id
        ? profileLink(item.customer_id, item.author_name, 'Customer profile')
        : el('span', { class: 'hint', text: 'Anonymous' });
      // Where it came from: the channel, and the form or source by name (a form is the form channel's only clue).
      const meta = el('div', { class: 'meta' }, `${minute(item.stored_at)} · ${item.channel}`);
      if (item.source_id) meta.append(' · ', sourceSpan(item.source_id));
      meta.append(ratingText(item));
      list.append(el('li', { 'data-feedback-id': item.feedback_id }, meta, commentText(item), who));
    }
  }

  /* Forms and sources by name where /stats gives one (a source no longer configured keeps its id). */
  const sourceNames = {};
  const sourceLabel = (id) => sourceNames[id] || id;
  const sourceSpan = (id) => el('bdi', { class: 'source', 'data-source': id, text: sourceLabel(id) });
  function learnSourceNames(rows) {
    for (const row of rows) if (row.name) sourceNames[row.source_id] = row.name;
    // The list loads beside /stats: items shown before the names arrived get them now.
    for (const span of document.querySelectorAll('bdi.source[data-source]')) span.textContent = sourceLabel(span.dataset.source);
  }

  /* --- top themes (dashboard-themes.js) ------------------------------------------------------------- */
  const { showThemes } = themesPanel({ api, Unauthorized, showLogin, minute, commentText, sourceLabel });

  /* --- forms (the score cards: dashboard-charts.js) ------------------------------------------------- */
  function sourceTable(sources) {
    const node = clear($('source-table'));
    node.append(el('thead', {}, el('tr', {}, ...['Form or source', 'Feedback', 'Negative', 'NPS', 'CSAT % satisfied',
      'Stars'].map((text) => el('th', { scope: 'col', text })))));
    node.append(el('tbody', {}, ...sources.map((row) => {
      const open = el('button', { type: 'button', class: 'link', 'data-source': row.source_id,
        text: sourceLabel(row.source_id), title: row.name ? row.source_id : null });
      open.addEventListener('click', () => drill({ source: row.source_id }));
      return el('tr', { 'data-source': row.source_id, 'data-total': row.total },
        el('th', { scope: 'row' }, open), el('td', { text: fmt(row.total) }), el('td', { text: fmt(row.sentiment.NEGATIVE) }),
        el('td', { text: fmt(row.scores.nps.score) }), el('td', { text: fmt(row.scores.csat.satisfied_percent) }),
        el('td', { text: fmt(row.scores.stars.mean) }));
    })));
    if (!sources.length) node.append(emptyRow(6));
  }

  /* --- the items behind the figures ---------------------------------------------------------------- */
  const listState = { query: null, next: null, request: 0 };

  function listItem(item) {
    const who = item.customer_id
      ? profileLink(item.customer_id, item.author && (item.author.name || item.author.handle) || 'Customer')
      : el('span', { class: 'hint', text: 'Anonymous' });
    return el('li', { 'data-feedback-id': item.feedback_id, 'data-sentiment': item.sentiment || 'NONE' },
      el('div', { class: 'meta' }, `${minute(item.stored_at)} · ${item.channel} · `, sourceSpan(item.source_id),
        `${ratingText(item)} · ` +
        `${LABELS[item.sentiment] || 'Not analysed'}${item.language ? ' · ' + item.language : ''}`),
      commentText(item), who);
  }

  async function moreItems() {
    const request = ++listState.request;
    const status = $('items-status');
    status.textContent = 'Loading…';
    $('items-more').hidden = true;
    let added = 0;
    for (let calls = 0; calls < THEME_REQUESTS && added < THEME_PAGE; calls++) {
      const query = new URLSearchParams(listState.query);
      query.set('limit', String(THEME_PAGE - added));
      if (listState.next) query.set('next', listState.next);
      let page;
      try {
        page = await api('feedback?' + query);
      } catch (error) {
        if (error instanceof Unauthorized) return showLogin('That token was not accepted: ' + error.message);
        if (request === listState.request) status.textContent = 'Could not load the feedback: ' + error.message;
        return;
      }
      if (request !== listState.request) return;  // the filters changed meanwhile
      $('items-feed').append(...page.items.map(listItem));
      added += page.items.length;
      listState.next = page.next;
      if (!page.next) break;
    }
    const shown = $('items-feed').children.length;
    status.textContent = `${fmt(shown)} feedback item${shown === 1 ? '' : 's'}` + (listState.next ? ' so far.' : '.');
    $('items-more').hidden = !listState.next;
  }
  $('items-more').addEventListener('click', () => moreItems());

  function listItems(values) {
    // Newest first, as a reader of the latest feedback expects (the CSV download keeps the same order).
    listState.query = [...Object.entries(values).filter(([, value]) => value), ['order', 'newest']];
    listState.next = null;
    clear($('items-feed'));
    return moreItems();
  }

  /* --- downloads ----------------------------------------------------------------------------------- */
  const CSV_PARTS = 50;  // each part at most 5 MB (the API's cap): a download stops at 250 MB

  /* The current list as CSV, built by the API (GET /feedback.csv) in parts joined here, then saved. */
  async function downloadCsv() {
    const status = $('download-status');
    const query = new URLSearchParams(listState.query);
    const parts = [];
    let next = null;
    status.textContent = 'Preparing the CSV…';
    for (let part = 0; part < CSV_PARTS; part++) {
      if (next) query.set('next', next);
      let response;
      try {
        response = await fetch('feedback.csv?' + query, { headers: { Authorization: 'Bearer ' + token() },
          cache: 'no-store' });
      } catch (e) {
        status.textContent = 'Could not download the CSV: ' + UNREACHABLE;
        return;
      }
      if (!response.ok) {
        let body = null;
        try { body = await response.json(); } catch (e) { /* not JSON */ }
        status.textContent = 'Could not download the CSV: ' + failure(response, body);
        return;
      }
      parts.push(await response.blob());
      next = response.headers.get('X-Next');
      if (!next) break;
    }
    const link = el('a', { href: URL.createObjectURL(new Blob(parts, { type: 'text/csv' })),
      download: `feedback-${$('from').value}-${$('to').value}.csv`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    status.textContent = 'CSV downloaded' + (next ? ' (its first parts: narrow the filters for the rest).' : '.');
    $('download-status').setAttribute('data-downloaded', String(parts.length));
  }
  $('download-csv').addEventListener('click', () => downloadCsv());

  /* The nightly export of the last day of the range: its files, each a link valid for minutes. */
  async function exportFiles() {
    const list = clear($('export-links'));
    const day = $('to').value;
    try {
      const manifest = await api('exports/' + encodeURIComponent(day), false);
      list.append(...(manifest.files || []).map((file) => el('li', {},
        el('a', { href: file.url, text: `${file.key.split('/').pop()} (${day})`, rel: 'noopener' }))));
      $('download-status').textContent = `The export of ${day}.`;
    } catch (error) {
      if (error instanceof Unauthorized) return showLogin('That token was not accepted: ' + error.message);
      $('download-status').textContent = `No export files of ${day}: ${error.message}`;
    }
  }
  $('export-files').addEventListener('click', () => exportFiles());

  /* A click on a chart or a row: narrow the filters to it and show its items. */
  async function drill(changes) {
    await applyFilters(changes);
    $('items-title').focus();
  }

  /* --- views -------------------------------------------------------------------------------------------- */
  const boardState = { request: 0 };

  async function loadBoard() {
    const request = ++boardState.request;
    const status = $('status');
    status.textContent = 'Loading…';
    // The figures on screen are the previous view's until this one's arrive: dimmed, and gone on a failure.
    $('board').setAttribute('data-state', 'loading');
    const values = filterValues();
    const slice = statsSlice(values);
    const query = new URLSearchParams({ from: values.from, to: values.to });
    if (slice.name) query.set(slice.name, values[slice.name]);
    listItems(values);
    let stats;
    try {
      stats = await api('stats?' + query);
    } catch (error) {
      if (request !== boardState.request) return;
      if (error instanceof Unauthorized) return showLogin('That token was not accepted: ' + error.message);
      $('board').setAttribute('data-state', 'failed');
      status.textContent = 'Could not load the figures: ' + error.message;
      return;
    }
    if (request !== boardState.request) return;  // the filters changed meanwhile: a later answer is theirs
    $('board').setAttribute('data-state', 'ready');
    const note = [];
    learnSourceNames(stats.sources);
    const sliced = slice.name === 'source' ? sourceLabel(values.source) : values[slice.name];
    if (slice.name) note.push(`The figures are those of ${slice.name} ${sliced}`);
    if (slice.ignored.length) note.push(`the charts do not narrow by ${slice.ignored.join(', ')} (the list does)`);
    const parts = { channels: 'the channel chart', sources: 'the form table', scores: 'the scores',
      themes: 'the themes', latest_negative: 'the latest negatives' };
    if (stats.unfiltered.length) {
      note.push(`${stats.unfiltered.map((name) => parts[name] || name).join(', ')} cover every item`);
    }
    $('slice-note').hidden = !note.length;
    $('slice-note').textContent = note.join('; ') + (note.length ? '.' : '');
    const negative = stats.sentiment.NEGATIVE || 0;
    clear($('cards')).append(
      card('Feedback', stats.total, 'total'),
      card('NPS', stats.nps.score, 'nps'),
      card('NPS ratings', stats.nps.responses, 'nps-responses'),
      card('Negative', stats.total ? fmt(Math.round(100 * negative / stats.total)) + ' %' : '–', 'negative-share'),
      card('Channels', stats.channels.length, 'channels'));
    scoreCards(clear($('scores')), stats.scores);
    const shownDays = spanOfData(stats.days);
    // Each chart as wide as its box (at most its usual width): on a phone its words stay legible.
    const fit = (id, widest) => Math.max(240, Math.min(widest, $(id).clientWidth || widest));
    clear($('chart-days')).append(dayChart(shownDays, (date) => drill({ from: date, to: date }), fit('chart-days', 720)));
    clear($('chart-channels')).append(channelChart(stats.channels, (channel) => drill({ channel }),
      fit('chart-channels', 460)));
    clear($('chart-nps')).append(npsChart(shownDays, fit('chart-nps', 460)));
    clear($('chart-csat')).append(csatChart(shownDays, fit('chart-csat', 460)));
    clear($('chart-stars')).append(starsChart(shownDays, fit('chart-stars', 460)));
    table($('channel-table'), ['Channel', 'Total', ...SENTIMENTS.map((s) => LABELS[s])],
      stats.channels.map((c) => [c.channel, c.total, ...SENTIMENTS.map((s) => c.sentiment[s])]));
    table($('day-table'), ['Day', 'Total', ...SENTIMENTS.map((s) => LABELS[s]), 'NPS', 'CSAT % satisfied', 'Stars'],
      stats.days.map((d) => [d.date, d.total, ...SENTIMENTS.map((s) => d.sentiment[s]), d.nps.score,
        d.scores.csat.satisfied_percent, d.scores.stars.mean]));
    sourceTable(stats.sources);
    fillSelect($('f-source'), stats.sources.map((row) => [row.source_id, sourceLabel(row.source_id)]));
    if (!$('form-title').hidden && values.source) $('form-title').textContent = 'Form ' + sourceLabel(values.source);
    // Cut by a theme, the block holds its family only: the list of every theme stays as it was.
    if (!stats.filter.theme) fillSelect($('f-theme'), stats.themes.by_theme.map((t) => [t.id, (t.parent ? '— ' : '') + t.name]));
    feed(stats.latest_negative);
    showThemes(stats);
    status.textContent = `${fmt(stats.total)} feedback item${stats.total === 1 ? '' : 's'} from ${stats.from} to ` +
      `${stats.to}.`;
    $('board').setAttribute('data-loaded', `${stats.from}..${stats.to}`);
  }

  async function loadCustomer(customerId) {
    const body = clear($('customer-body'));
    $('customer-title').textContent = 'Customer';
    let customer;
    try {
      customer = await api('customers/' + encodeURIComponent(customerId));
    } catch (error) {
      if (error instanceof Unauthorized) return showLogin('That token was not accepted: ' + error.message);
      body.append(el('p', { class: 'alert', text: 'Could not load this customer: ' + error.message }));
      return;
    }
    $('customer-title').textContent = customer.display_name || customer.emails[0] || customer.customer_id;
    $('customer-title').setAttribute('dir', 'auto');
    const counts = (map) => Object.entries(map || {}).map(([k, v]) => `${LABELS[k] || k} ${v}`).join(', ') || '–';
    const latest = (score) => (score ? `${score.rating} (${minute(score.at)})` : '–');
    const facts = [
      ['Customer id', customer.customer_id], ['Emails', customer.emails.join(', ') || '–'],
      ['Handles', customer.handles.join(', ') || '–'], ['Feedback', customer.feedback_count],
      ['By channel', counts(customer.feedback_by_channel)], ['Sentiment', counts(customer.sentiment_counts)],
      ['Latest NPS', latest(customer.latest_nps)], ['Latest CSAT', latest(customer.latest_csat)],
      ['First seen', minute(customer.first_seen)], ['Last seen', minute(customer.last_seen)],
    ];
    body.append(el('dl', { class: 'profile' }, ...facts.flatMap(([k, v]) => [el('dt', { text: k }),
      el('dd', { text: fmt(v) })])));
    body.append(el('h3', { text: 'Recent feedback' }), el('ol', { class: 'feed' },
      // Each coloured by its own sentiment, as in the list of items (the feed's default colour is negative's).
      ...customer.recent_feedback.map((item) => el('li', { 'data-feedback-id': item.feedback_id,
        'data-sentiment': item.sentiment || 'NONE' },
      el('div', { class: 'meta' }, `${minute(item.occurred_at)} · ${item.channel} · `, sourceSpan(item.source_id),
        `${ratingText(item)} · ${LABELS[item.sentiment] || 'Not analysed'}`), commentText(item)))));
  }

  function route() {
    shownAddress = here();
    if (!token()) return showLogin('');
    $('login').hidden = true;
    $('signout').hidden = false;
    const customer = /^#customer=(.+)$/.exec(location.hash);
    $('customer').hidden = !customer;
    $('board').hidden = !!customer;
    const form = /^#form=([^&]+)$/.exec(location.hash);
    $('form-title').hidden = !form;
    if (customer) {
      $('customer-title').focus();
      loadCustomer(decodeURIComponent(customer[1]));
    } else if (form) {
      // A form's page: the board narrowed to its responses (scores, trend, list), under its own heading.
      const formId = decodeURIComponent(form[1]);
      $('form-title').textContent = 'Form ' + sourceLabel(formId);
      applyFilters({ source: formId }, true);
    } else {
      loadBoard();
    }
  }

  $('back').addEventListener('click', (event) => {
    event.preventDefault();
    history.pushState(null, '', location.pathname + location.search);
    route();
  });
  /* Back, forward, a link to a profile: the view of the address, its filters restored. */
  function navigate() {
    if (here() === shownAddress) return;  // both events of one navigation, or a change made here
    restoreFilters();
    route();
  }
  window.addEventListener('popstate', navigate);
  window.addEventListener('hashchange', navigate);
  $('legend').append(...SENTIMENTS.map((s) => el('li', { class: s, text: LABELS[s] })));
  restoreFilters();
  route();
})();
