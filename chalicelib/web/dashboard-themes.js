/* The dashboard's "Top themes" panel: the ten top-level themes of the period with their sub-themes (items,
 * the sentiments about the theme, the negative share, the change against the period before; each row with
 * data-theme, data-total, data-negative-share, data-previous and data-change), and the feedback about a
 * chosen theme, paged by "Show more". dashboard.js hands it the reader of the API and the page's helpers;
 * all text from the API is set with textContent.
 */
window.FeedbackThemes = (() => {
  'use strict';
  const { el, LABELS, mixBar, fmt } = window.FeedbackCharts;
  const TOP_THEMES = 10;  // top-level themes in the panel, each with its sub-themes
  const THEME_PAGE = 25;  // items listed per "Show more"
  const THEME_REQUESTS = 5;  // a themed page may be short (the API bounds its reads): fetch on up to this often
  const $ = (id) => document.getElementById(id);
  const clear = (node) => { node.replaceChildren(); return node; };

  /* The panel, given the dashboard's `api` (GET as JSON), its `Unauthorized` error, `showLogin`, and how it
   * writes a time (`minute`), a comment (`commentText`) and a form or source (`sourceLabel`). Returns
   * `showThemes(stats)`. */
  function themesPanel({ api, Unauthorized, showLogin, minute, commentText, sourceLabel }) {
    const themeState = { range: null, source: null, names: {}, theme: null, ids: [], next: null, request: 0 };

    function percent(share) { return share === null ? '–' : fmt(Math.round(100 * share)) + ' %'; }

    /* "+3 (+50 %)", "−2 (−100 %)", "+4 (new)", "±0". */
    function changeText(theme) {
      if (!theme.change) return '±0';
      const sign = theme.change > 0 ? '+' : '−';
      const relative = theme.change_percent === null ? 'new' : `${sign}${fmt(Math.abs(theme.change_percent))} %`;
      return `${sign}${fmt(Math.abs(theme.change))} (${relative})`;
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
        el('td', { text: fmt(theme.total) }),
        el('td', {}, mixBar(theme)),
        el('td', { text: percent(theme.negative_share) }),
        el('td', { class: trend, text: changeText(theme), title: `${fmt(theme.previous_total)} in ${previous}` }));
      })));
    }

    /* An item about the chosen theme: when and where, its text, and what it says about the theme. */
    function themeItem(item, ids) {
      const tags = (item.themes || []).filter((tag) => ids.includes(tag.id));
      // The words quoted in their own direction (<bdi>), the sentence around them in the page's.
      const about = (tag) => [`${themeState.names[tag.id] || tag.id} · ${LABELS[tag.sentiment] || tag.sentiment}`,
        ...(tag.evidence ? [' — “', el('bdi', { text: tag.evidence }), '”'] : [])];
      return el('li', { 'data-feedback-id': item.feedback_id, 'data-sentiment': tags.length ? tags[0].sentiment : null },
        el('div', { class: 'meta', text: `${minute(item.stored_at)} · ${item.channel}` }), commentText(item),
        ...tags.map((tag) => el('p', { class: 'evidence', 'data-theme': tag.id }, ...about(tag))));
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
        // On a form's page the themes are the form's own: so are the items behind them.
        if (themeState.source) query.set('source', themeState.source);
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
      status.textContent = `${fmt(shown)} feedback item${shown === 1 ? '' : 's'} about ${themeState.theme.name}` +
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
      themeState.source = stats.unfiltered.includes('themes') ? null : stats.filter.source || null;
      $('themes-title').textContent = themeState.source ? `Top themes of ${sourceLabel(themeState.source)}` : 'Top themes';
      themeState.names = Object.fromEntries(stats.themes.by_theme.map((t) => [t.id, t.name]));
      themeState.request++;  // a listing still loading belongs to the previous range
      $('theme-items').hidden = true;
      clear($('theme-feed'));
      themeTable(stats.themes);
    }

    return { showThemes };
  }

  return { themesPanel, TOP_THEMES, THEME_PAGE, THEME_REQUESTS };
})();
