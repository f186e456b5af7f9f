/* Feedback dashboard: reads GET /stats, GET /feedback?theme= and GET /customers/{id} with a read token kept
 * in sessionStorage, and draws its charts as inline SVG. Every plotted value is also on its element as a
 * data attribute (data-date, data-channel, data-sentiment, data-count, data-total, data-nps; per theme
 * data-theme, data-negative-share, data-previous, data-change), so tests and scrapers can read the figures
 * back. All text from the API is set with textContent, never parsed as HTML.
 */
(() => {
  'use strict';
  const TOKEN_KEY = 'feedback-dashboard:token';
  const SVG = 'http://www.w3.org/2000/svg';
  const SENTIMENTS = ['POSITIVE', 'NEUTRAL', 'MIXED', 'NEGATIVE', 'NONE'];
  const LABELS = { POSITIVE: 'Positive', NEUTRAL: 'Neutral', MIXED: 'Mixed', NEGATIVE: 'Negative',
    NONE: 'Not analysed' };
  const DAY_MS = 86400000;
  const THEME_SENTIMENTS = ['POSITIVE', 'NEUTRAL', 'MIXED', 'NEGATIVE'];
  const TOP_THEMES = 10;  // top-level themes in the panel, each with its sub-themes
  const THEME_PAGE = 25;  // items listed per "Show more"
  const THEME_REQUESTS = 5;  // a themed page may be short (the API bounds its reads): fetch on up to this often
  const $ = (id) => document.getElementById(id);

  /* Creates an element (HTML or SVG): el('p', {class: 'x', text: 'hi'}, child…). */
  function el(tag, attributes, ...children) {
    const element = ['svg', 'g', 'rect', 'line', 'text', 'title', 'circle', 'polyline'].includes(tag)
      ? document.createElementNS(SVG, tag) : document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === 'text') element.textContent = value;
      else element.setAttribute(name, value === true ? '' : String(value));
    }
    element.append(...children.filter((child) => child !== null && child !== undefined));
    return element;
  }
  const clear = (node) => { node.replaceChildren(); return node; };
  const isoDay = (date) => date.toISOString().slice(0, 10);
  const fmt = (n) => (n === null || n === undefined ? '–' : String(n));

  /* --- token ------------------------------------------------------------------------------------------- */
  const fromHash = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(fromHash[1]));
    history.replaceState(null, '', location.pathname + location.search);  // the token leaves the address bar
  }
  const token = () => sessionStorage.getItem(TOKEN_KEY);

  class Unauthorized extends Error {}
  async function api(path) {
    const response = await fetch(path, { headers: { Authorization: 'Bearer ' + token() }, cache: 'no-store' });
    let body = null;
    try { body = await response.json(); } catch (e) { /* not JSON */ }
    if (response.status === 401) throw new Unauthorized((body && body.error && body.error.message) || '');
    if (!response.ok) throw new Error((body && body.error && body.error.message) || 'HTTP ' + response.status);
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

  /* --- date range ------------------------------------------------------------------------------------- */
  function initialRange() {
    const params = new URLSearchParams(location.search);
    const to = params.get('to') || isoDay(new Date());
    const from = params.get('from') || isoDay(new Date(Date.parse(to) - 29 * DAY_MS));
    $('from').value = from;
    $('to').value = to;
  }
  $('range').addEventListener('submit', (event) => {
    event.preventDefault();
    const query = new URLSearchParams({ from: $('from').value, to: $('to').value });
    history.replaceState(null, '', location.pathname + '?' + query + location.hash);
    loadBoard();
  });

  /* --- charts ------------------------------------------------------------------------------------------- */
  /* A round axis maximum that halves into a whole number: 4, 6, 8, 10, 20, 30 … 100, 200 … */
  function niceMax(value) {
    if (value <= 4) return 4;
    const step = Math.pow(10, Math.floor(Math.log10(value)));
    const top = Math.ceil(value / step) * step;
    return top % 2 ? top + step : top;
  }

  /* Stacked columns: one per day, one segment per sentiment. */
  function dayChart(days) {
    const width = 720, height = 240, left = 36, bottom = 22, top = 14;
    const max = niceMax(Math.max(1, ...days.map((d) => d.total)));
    const band = (width - left) / days.length;
    const bar = Math.max(2, Math.min(40, band * 0.7));
    const y = (value) => top + (height - top - bottom) * (1 - value / max);
    const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'days-title',
      'data-chart': 'days', 'data-total': days.reduce((sum, d) => sum + d.total, 0) });
    for (const tick of [0, max / 2, max]) {
      svg.append(el('line', { class: 'axis', x1: left, x2: width, y1: y(tick), y2: y(tick) }),
        el('text', { x: left - 6, y: y(tick) + 4, 'text-anchor': 'end', text: tick }));
    }
    const every = Math.ceil(days.length / 10);
    days.forEach((day, index) => {
      const x = left + band * index + (band - bar) / 2;
      const group = el('g', { class: 'day', 'data-date': day.date, 'data-total': day.total });
      let base = 0;
      for (const sentiment of SENTIMENTS) {
        const count = day.sentiment[sentiment] || 0;
        if (!count) continue;
        group.append(el('rect', { class: sentiment, x, width: bar, y: y(base + count),
          height: y(base) - y(base + count), 'data-sentiment': sentiment, 'data-count': count },
        el('title', { text: `${day.date} · ${LABELS[sentiment]}: ${count}` })));
        base += count;
      }
      if (index % every === 0) {
        group.append(el('text', { x: x + bar / 2, y: height - 6, 'text-anchor': 'middle', text: day.date.slice(5) }));
      }
      svg.append(group);
    });
    return svg;
  }

  /* Stacked horizontal bars: one per channel, with its total at the end. */
  function channelChart(channels) {
    if (!channels.length) return el('p', { class: 'empty', text: 'No feedback in this period.' });
    const row = 28, left = 90, width = 460, right = 40;
    const height = row * channels.length + 4;
    const max = Math.max(1, ...channels.map((c) => c.total));
    const scale = (value) => (width - left - right) * value / max;
    const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'channels-title',
      'data-chart': 'channels' });
    channels.forEach((channel, index) => {
      const y = index * row + 4;
      const group = el('g', { class: 'channel', 'data-channel': channel.channel, 'data-total': channel.total },
        el('text', { class: 'label', x: left - 8, y: y + 15, 'text-anchor': 'end', text: channel.channel }));
      let x = left;
      for (const sentiment of SENTIMENTS) {
        const count = channel.sentiment[sentiment] || 0;
        if (!count) continue;
        group.append(el('rect', { class: sentiment, x, y, height: row - 8, width: scale(count),
          'data-sentiment': sentiment, 'data-count': count },
        el('title', { text: `${channel.channel} · ${LABELS[sentiment]}: ${count}` })));
        x += scale(count);
      }
      group.append(el('text', { class: 'total', x: x + 6, y: y + 15, text: channel.total }));
      svg.append(group);
    });
    return svg;
  }

  /* NPS per day on a −100…100 axis; days without NPS ratings leave a gap in the line. */
  function npsChart(days) {
    const scored = days.filter((d) => d.nps.score !== null);
    if (!scored.length) return el('p', { class: 'empty', text: 'No NPS ratings in this period.' });
    const width = 460, height = 200, left = 36, top = 10, bottom = 22;
    const band = (width - left) / days.length;
    const x = (index) => left + band * index + band / 2;
    const y = (score) => top + (height - top - bottom) * (100 - score) / 200;
    const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'nps-title',
      'data-chart': 'nps' });
    for (const tick of [-100, 0, 100]) {
      svg.append(el('line', { class: tick ? 'axis' : 'zero', x1: left, x2: width, y1: y(tick), y2: y(tick) }),
        el('text', { x: left - 6, y: y(tick) + 4, 'text-anchor': 'end', text: tick }));
    }
    let run = [];
    const flushRun = () => {
      if (run.length > 1) svg.append(el('polyline', { class: 'line', points: run.join(' ') }));
      run = [];
    };
    days.forEach((day, index) => {
      if (day.nps.score === null) { flushRun(); return; }
      run.push(`${x(index)},${y(day.nps.score)}`);
    });
    flushRun();
    days.forEach((day, index) => {
      if (day.nps.score === null) return;
      svg.append(el('circle', { class: 'point', cx: x(index), cy: y(day.nps.score), r: 4,
        'data-date': day.date, 'data-nps': day.nps.score, 'data-responses': day.nps.responses },
      el('title', { text: `${day.date} · NPS ${day.nps.score} (${day.nps.responses} ratings)` })));
    });
    const every = Math.ceil(days.length / 6);
    days.forEach((day, index) => {
      if (index % every === 0) {
        svg.append(el('text', { x: x(index), y: height - 6, 'text-anchor': 'middle', text: day.date.slice(5) }));
      }
    });
    return svg;
  }

  /* --- tables, cards, feed ---------------------------------------------------------------------------- */
  function table(node, head, rows) {
    clear(node).append(
      el('thead', {}, el('tr', {}, ...head.map((text) => el('th', { scope: 'col', text })))),
      el('tbody', {}, ...rows.map((cells) => el('tr', {}, ...cells.map((text, i) =>
        el(i ? 'td' : 'th', i ? { text: fmt(text) } : { scope: 'row', text: fmt(text) }))))));
  }

  function card(label, value, name) {
    return el('div', { class: 'card', 'data-card': name, 'data-value': value },
      el('span', { class: 'value', text: fmt(value) }), el('span', { class: 'label', text: label }));
  }

  function feed(items) {
    const list = clear($('negatives'));
    if (!items.length) {
      list.append(el('li', { class: 'empty', text: 'No negative feedback in this period.' }));
      return;
    }
    for (const item of items) {
      const when = (item.stored_at || '').slice(0, 16).replace('T', ' ');
      const rating = item.rating !== undefined && item.rating !== null ? ` · ${item.rating_scale} ${item.rating}` : '';
      const who = item.customer_id
        ? el('a', { href: '#customer=' + encodeURIComponent(item.customer_id),
          text: item.author_name ? `${item.author_name} — customer profile` : 'Customer profile' })
        : el('span', { class: 'hint', text: 'Anonymous' });
      list.append(el('li', { 'data-feedback-id': item.feedback_id },
        el('div', { class: 'meta', text: `${when} UTC · ${item.channel}${rating}` }),
        el('p', { class: 'text', text: item.text || '(no text)' }), who));
    }
  }

  /* --- top themes ------------------------------------------------------------------------------------- */
  const themeState = { range: null, names: {}, theme: null, ids: [], next: null, request: 0 };

  function percent(share) { return share === null ? '–' : Math.round(100 * share) + ' %'; }

  /* "+3 (+50 %)", "−2 (−100 %)", "+4 (new)", "±0". */
  function changeText(theme) {
    if (!theme.change) return '±0';
    const sign = theme.change > 0 ? '+' : '−';
    const relative = theme.change_percent === null ? 'new' : `${sign}${Math.abs(theme.change_percent)} %`;
    return `${sign}${Math.abs(theme.change)} (${relative})`;
  }

  /* One stacked bar of the sentiments about a theme. */
  function mixBar(theme) {
    const width = 120, height = 12;
    const counted = THEME_SENTIMENTS.reduce((sum, s) => sum + (theme.sentiment[s] || 0), 0);
    const svg = el('svg', { class: 'mix', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img',
      'aria-label': THEME_SENTIMENTS.map((s) => `${LABELS[s]} ${theme.sentiment[s] || 0}`).join(', ') });
    let x = 0;
    for (const sentiment of THEME_SENTIMENTS) {
      const count = theme.sentiment[sentiment] || 0;
      if (!count) continue;
      const part = width * count / counted;
      svg.append(el('rect', { class: sentiment, x, y: 0, width: part, height, 'data-sentiment': sentiment,
        'data-count': count }));
      x += part;
    }
    return svg;
  }

  /* Top-level themes by volume, each followed by its sub-themes. */
  function themeRows(themes) {
    const listed = new Set(themes.map((t) => t.id));
    const top = themes.filter((t) => !t.parent || !listed.has(t.parent)).slice(0, TOP_THEMES);
    return top.flatMap((parent) => [parent, ...themes.filter((t) => t.parent === parent.id)]);
  }

  function themeTable(block) {
    const node = clear($('theme-table'));
    const rows = themeRows(block.by_theme);
    if (!rows.length) {
      node.append(el('tbody', {}, el('tr', {}, el('td', { class: 'empty',
        text: 'No feedback with a theme in this period.' }))));
      return;
    }
    const previous = `${block.previous.from} – ${block.previous.to}`;
    node.append(el('thead', {}, el('tr', {},
      ...['Theme', 'Feedback', 'Sentiment about it', 'Negative', 'Change'].map((text) =>
        el('th', { scope: 'col', text, title: text === 'Change' ? 'Against ' + previous : null })))));
    node.append(el('tbody', {}, ...rows.map((theme) => {
      const family = [theme.id, ...block.by_theme.filter((t) => t.parent === theme.id).map((t) => t.id)];
      const open = el('button', { type: 'button', class: 'link', 'data-theme': theme.id, text: theme.name });
      open.addEventListener('click', () => openTheme(theme, family));
      const trend = theme.change > 0 ? 'up' : theme.change < 0 ? 'down' : 'flat';
      return el('tr', { class: theme.parent ? 'child' : null, 'data-theme': theme.id, 'data-total': theme.total,
        'data-negative-share': theme.negative_share, 'data-previous': theme.previous_total,
        'data-change': theme.change },
      el('th', { scope: 'row' }, open),
      el('td', { text: theme.total }),
      el('td', {}, mixBar(theme)),
      el('td', { text: percent(theme.negative_share) }),
      el('td', { class: trend, text: changeText(theme), title: `${theme.previous_total} in ${previous}` }));
    })));
  }

  /* An item about the chosen theme: when and where, its text, and what it says about the theme. */
  function themeItem(item, ids) {
    const when = (item.stored_at || '').slice(0, 16).replace('T', ' ');
    const tags = (item.themes || []).filter((tag) => ids.includes(tag.id));
    const about = (tag) => `${themeState.names[tag.id] || tag.id} · ${LABELS[tag.sentiment] || tag.sentiment}` +
      (tag.evidence ? ` — “${tag.evidence}”` : '');
    return el('li', { 'data-feedback-id': item.feedback_id, 'data-sentiment': tags.length ? tags[0].sentiment : null },
      el('div', { class: 'meta', text: `${when} UTC · ${item.channel}` }),
      el('p', { class: 'text', text: item.text || '(no text)' }),
      ...tags.map((tag) => el('p', { class: 'evidence', 'data-theme': tag.id, text: about(tag) })));
  }

  async function moreThemeItems() {
    const request = ++themeState.request;
    const status = $('theme-status');
    status.textContent = 'Loading…';
    $('theme-more').hidden = true;
    let added = 0;
    for (let calls = 0; calls < THEME_REQUESTS && added < THEME_PAGE; calls++) {
      const query = new URLSearchParams({ from: themeState.range.from, to: themeState.range.to,
        theme: themeState.theme.id, limit: String(THEME_PAGE - added) });
      if (themeState.next) query.set('next', themeState.next);
      let page;
      try {
        page = await api('feedback?' + query);
      } catch (error) {
        if (error instanceof Unauthorized) return showLogin('That token was not accepted: ' + error.message);
        if (request === themeState.request) status.textContent = 'Could not load the feedback: ' + error.message;
        return;
      }
      if (request !== themeState.request) return;  // another theme was chosen meanwhile
      $('theme-feed').append(...page.items.map((item) => themeItem(item, themeState.ids)));
      added += page.items.length;
      themeState.next = page.next;
      if (!page.next) break;
    }
    const shown = $('theme-feed').children.length;
    status.textContent = `${shown} feedback item${shown === 1 ? '' : 's'} about ${themeState.theme.name}` +
      (themeState.next ? ' so far.' : '.');
    $('theme-more').hidden = !themeState.next;
  }

  function openTheme(theme, ids) {
    Object.assign(themeState, { theme, ids, next: null });
    clear($('theme-feed'));
    $('theme-items').hidden = false;
    $('theme-items').setAttribute('data-theme', theme.id);
    $('theme-items-title').textContent = `Feedback about ${theme.name}, ${themeState.range.from} to ` +
      themeState.range.to;
    $('theme-items-title').focus();
    return moreThemeItems();
  }
  $('theme-more').addEventListener('click', () => moreThemeItems());

  function showThemes(stats) {
    themeState.range = { from: stats.from, to: stats.to };
    themeState.names = Object.fromEntries(stats.themes.by_theme.map((t) => [t.id, t.name]));
    themeState.request++;  // a listing still loading belongs to the previous range
    $('theme-items').hidden = true;
    clear($('theme-feed'));
    themeTable(stats.themes);
  }

  /* --- views -------------------------------------------------------------------------------------------- */
  async function loadBoard() {
    const status = $('status');
    status.textContent = 'Loading…';
    const query = new URLSearchParams({ from: $('from').value, to: $('to').value });
    let stats;
    try {
      stats = await api('stats?' + query);
    } catch (error) {
      if (error instanceof Unauthorized) return showLogin('That token was not accepted: ' + error.message);
      status.textContent = 'Could not load the figures: ' + error.message;
      return;
    }
    const negative = stats.sentiment.NEGATIVE || 0;
    clear($('cards')).append(
      card('Feedback', stats.total, 'total'),
      card('NPS', stats.nps.score, 'nps'),
      card('NPS ratings', stats.nps.responses, 'nps-responses'),
      card('Negative', stats.total ? Math.round(100 * negative / stats.total) + ' %' : '–', 'negative-share'),
      card('Channels', stats.channels.length, 'channels'));
    clear($('chart-days')).append(dayChart(stats.days));
    clear($('chart-channels')).append(channelChart(stats.channels));
    clear($('chart-nps')).append(npsChart(stats.days));
    table($('channel-table'), ['Channel', 'Total', ...SENTIMENTS.map((s) => LABELS[s])],
      stats.channels.map((c) => [c.channel, c.total, ...SENTIMENTS.map((s) => c.sentiment[s])]));
    table($('day-table'), ['Day', 'Total', ...SENTIMENTS.map((s) => LABELS[s]), 'NPS'],
      stats.days.map((d) => [d.date, d.total, ...SENTIMENTS.map((s) => d.sentiment[s]), d.nps.score]));
    feed(stats.latest_negative);
    showThemes(stats);
    status.textContent = `${stats.total} feedback item${stats.total === 1 ? '' : 's'} from ${stats.from} to ${stats.to}.`;
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
    const counts = (map) => Object.entries(map || {}).map(([k, v]) => `${LABELS[k] || k} ${v}`).join(', ') || '–';
    const facts = [
      ['Customer id', customer.customer_id], ['Emails', customer.emails.join(', ') || '–'],
      ['Handles', customer.handles.join(', ') || '–'], ['Feedback', customer.feedback_count],
      ['By channel', counts(customer.feedback_by_channel)], ['Sentiment', counts(customer.sentiment_counts)],
      ['Latest NPS', customer.latest_nps ? customer.latest_nps.rating : '–'],
      ['First seen', customer.first_seen || '–'], ['Last seen', customer.last_seen || '–'],
    ];
    body.append(el('dl', { class: 'profile' }, ...facts.flatMap(([k, v]) => [el('dt', { text: k }),
      el('dd', { text: fmt(v) })])));
    body.append(el('h3', { text: 'Recent feedback' }), el('ol', { class: 'feed' },
      ...customer.recent_feedback.map((item) => el('li', {},
        el('div', { class: 'meta', text: `${(item.occurred_at || '').slice(0, 16).replace('T', ' ')} · ` +
          `${item.channel} · ${LABELS[item.sentiment] || 'Not analysed'}` }),
        el('p', { class: 'text', text: item.text || '(no text)' })))));
  }

  function route() {
    if (!token()) return showLogin('');
    $('login').hidden = true;
    $('signout').hidden = false;
    const customer = /^#customer=(.+)$/.exec(location.hash);
    $('customer').hidden = !customer;
    $('board').hidden = !!customer;
    if (customer) {
      $('customer-title').focus();
      loadCustomer(decodeURIComponent(customer[1]));
    } else {
      loadBoard();
    }
  }

  $('back').addEventListener('click', (event) => {
    event.preventDefault();
    history.pushState(null, '', location.pathname + location.search);
    route();
  });
  window.addEventListener('hashchange', route);
  $('legend').append(...SENTIMENTS.map((s) => el('li', { class: s, text: LABELS[s] })));
  initialRange();
  route();
})();
